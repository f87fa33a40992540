// The page frame: header with the signed-in identity and sign-out, the
// navigation, and the page.
import { session } from '../lib/session.js';

export function Shell({ children }) {
  return (
    <div class="shell">
      <header class="top">
        <a href="#/" class="brand">humstack</a>
        <button type="button" data-testid="signout" onClick={() => session.signOut()}>Sign out</button>
      </header>
      <main id="main" class="page">{children}</main>
    </div>
  );
}
