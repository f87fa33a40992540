// Sign-in with a bearer token (humcli's token: `hst_...`, or an OIDC ID
// token).
import { useState } from 'preact/hooks';
import { session } from '../lib/session.js';

export function Login() {
  const [tok, setTok] = useState('');
  const submit = (e) => { e.preventDefault(); if (tok.trim()) session.signIn(tok); };
  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-h">
        <h1 id="login-h">Sign in to humstack</h1>
        {session.reason() && <p role="alert" class="error">{session.reason()}</p>}
        <label for="token">Token</label>
        <input id="token" data-testid="token-input" type="password" autocomplete="off"
          value={tok} onInput={(e) => setTok(e.currentTarget.value)} />
        <button type="submit" data-testid="token-signin">Sign in</button>
      </form>
    </main>
  );
}
