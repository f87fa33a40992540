// Sign-in: a bearer token (humcli's token: `hst_...`, or an OIDC ID token),
// or, when /ui/config.json names an OIDC issuer, the issuer's sign-in
// (the server's /ui/oidc/login, which comes back to #/signin). An OIDC
// failure comes back as #/login?error=...
import { useEffect, useState } from 'preact/hooks';
import { session } from '../lib/session.js';
import { currentRoute, navigate } from '../lib/router.js';
import { loadConfig } from '../lib/config.js';
import { BIND_KEY, acceptSignin, loginErrorText, loginURL, newBind } from '../lib/signin.js';


// returnPath is the app path to come back to after signing in.
function returnPath() {
  const r = currentRoute();
  if (r.path === '/login' || r.path === '/signin') {
    const ret = r.query.get('return') || '/';
    return ret.startsWith('/') ? ret : '/';
  }
  const q = r.query.toString();
  return r.path + (q ? '?' + q : '');
}

export function Login() {
  const [tok, setTok] = useState('');
  const [oidc, setOidc] = useState(null);
  useEffect(() => { loadConfig().then((c) => setOidc(c?.oidc || null)); }, []);
  const route = currentRoute();
  const error = route.path === '/login' ? loginErrorText(route.query.get('error')) : '';
  const submit = (e) => {
    e.preventDefault();
    if (!tok.trim()) return;
    const ret = returnPath();
    session.signIn(tok);
    if (route.path === '/login' || route.path === '/signin') navigate(ret);
  };
  return (
    <main class="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-h">
        <h1 id="login-h">Sign in to humstack</h1>
        {error && <p role="alert" class="error" data-testid="login-error">{error}</p>}
        {!error && session.reason() && <p role="alert" class="error" data-testid="login-error">{session.reason()}</p>}
        <label for="token">Token</label>
        <input id="token" data-testid="token-input" type="password" autocomplete="off"
          value={tok} onInput={(e) => setTok(e.currentTarget.value)} />
        <button type="submit" data-testid="token-signin">Sign in</button>
        {oidc?.loginURL && (
          <a class="button" data-testid="oidc-signin" href={oidc.loginURL}
            onClick={(e) => { e.preventDefault(); startSignin(oidc.loginURL, returnPath()); }}>Sign in with single sign-on</a>
        )}
      </form>
    </main>
  );
}

// startSignin goes to the server's OIDC sign-in, bound to this tab
// (lib/signin.js).
function startSignin(url, ret) {
  const bind = newBind();
  sessionStorage.setItem(BIND_KEY, bind);
  location.assign(loginURL(url, ret, bind));
}

// Signin is the OIDC return (#/signin?id_token=...&return=...&bind=...):
// when the sign-in is the one this tab started (the echoed bind), it keeps
// the ID token as the session's bearer token; either way it scrubs the
// token from the URL and the history entry, then goes on to the return
// path, or to the login page with the reason.
export function Signin({ query }) {
  useEffect(() => {
    const tok = query.get('id_token');
    const ret = (query.get('return') || '/').startsWith('/') ? query.get('return') || '/' : '/';
    const stored = sessionStorage.getItem(BIND_KEY);
    sessionStorage.removeItem(BIND_KEY);
    let to = ret;
    if (tok && acceptSignin(stored, query.get('bind'))) {
      session.signIn(tok);
    } else {
      to = '/login?error=' + encodeURIComponent('This sign-in was not started from this tab: sign in again.');
    }
    history.replaceState(null, '', location.pathname + location.search + '#' + to);
    dispatchEvent(new HashChangeEvent('hashchange'));
  }, []);
  return <main class="login" id="main"><p aria-live="polite">Signing in…</p></main>;
}
