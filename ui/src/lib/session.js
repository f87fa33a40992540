// The signed-in session: a bearer token (a humstack token or an OIDC ID
// token) kept in sessionStorage, so it ends with the tab and is never sent
// to any other origin. Listeners hear sign-in and sign-out.
const KEY = 'humstack.token';
const listeners = new Set();
let lastReason = '';

export const session = {
  token: () => sessionStorage.getItem(KEY) || '',
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
  // expired is a 401 from the server: sign out and say why.
  expired(reason) { if (session.token()) session.signOut(reason); },
  reason: () => lastReason,
  subscribe(f) { listeners.add(f); return () => listeners.delete(f); },
};
