// The signed-in session. Two modes:
//  - token: a bearer token (a humstack token or an OIDC ID token) kept in
//    sessionStorage, so it ends with the tab and is never sent to any other
//    origin; requests carry it in the Authorization header.
//  - link: a console link (#/link/<token>/...). The link token is the URL's
//    own, so the mode follows the page: it is read from location.hash each
//    time, and requests carry it as ?link=<token> instead of the header.
//  - open: the server runs without authorization (/ui/config.json says
//    "authorization": "off"); requests carry no credential and no sign-in
//    is asked for.
// Listeners hear sign-in and sign-out.
const KEY = 'humstack.token';
const listeners = new Set();
let lastReason = '';
let open = false;

// linkOf returns the console-link token of a hash (#/link/<token>...), or ''.
export function linkOf(hash) {
  const m = /^#?\/link\/([^/?]+)/.exec(hash || '');
  return m ? decodeURIComponent(m[1]) : '';
}

export const session = {
  token: () => sessionStorage.getItem(KEY) || '',
  // signedIn: a token, or a server that asks for none.
  signedIn: () => open || !!session.token(),
  open: () => open,
  setOpen(v) { open = !!v; listeners.forEach((f) => f()); },
  // link is the console-link token when the page is a console-link page.
  link: () => (typeof location === 'undefined' ? '' : linkOf(location.hash)),
  signIn(token) {
    sessionStorage.setItem(KEY, token.trim());
    lastReason = '';
    listeners.forEach((f) => f());
  },
  signOut(reason = '') {
    sessionStorage.removeItem(KEY);
    lastReason = reason;
    listeners.forEach((f) => f());
  },
  // expired is a 401 from the server: sign out and say why. A console
  // link's 401 (expired or deleted link) leaves the signed-in token alone:
  // the link page shows the error.
  expired(reason) { if (!session.link() && session.token()) session.signOut(reason); },
  reason: () => lastReason,
  subscribe(f) { listeners.add(f); return () => listeners.delete(f); },
};
