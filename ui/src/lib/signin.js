// The OIDC sign-in's binding to the tab that started it. Without it, any
// page could send a browser to #/signin?id_token=<someone else's token>
// and sign its user in as someone else (login CSRF). The tab draws a
// random value before it goes to the issuer, keeps it in sessionStorage
// (this tab only), and passes it as ?bind= to /ui/oidc/login; the server
// seals it in the sign-in's cookie and echoes it next to the ID token.
// The token is taken only when the echo equals the value kept.
export const BIND_KEY = 'humstack.signin.bind';

const BIND_RE = /^[A-Za-z0-9_-]{16,64}$/;

// newBind returns a fresh binding value: 32 base64url characters (192 bits).
export function newBind(random = (n) => crypto.getRandomValues(new Uint8Array(n))) {
  const bytes = random(24);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// acceptSignin says whether a returned sign-in (echoed) is the one this
// tab started (stored): both well formed and equal.
export function acceptSignin(stored, echoed) {
  return typeof stored === 'string' && typeof echoed === 'string' &&
    BIND_RE.test(stored) && stored === echoed;
}

// loginURL is the server's sign-in URL for a return path and a binding.
export function loginURL(base, ret, bind) {
  return base + '?return=' + encodeURIComponent(ret) + '&bind=' + encodeURIComponent(bind);
}

// loginErrorText is how the login page shows a #/login?error= message: the
// URL is anyone's to write, so the text is framed as a failed sign-in,
// stripped of control characters and cut short, never taken as the page's
// own words (it is rendered as text, never as HTML).
export function loginErrorText(raw) {
  const s = String(raw || '').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (!s) return '';
  return 'Sign-in failed: ' + (s.length > 200 ? s.slice(0, 200) + '…' : s);
}
