// The page frame: a skip link, the header (who is signed in, sign-out, and
// at tablet width the navigation's toggle), the navigation (overview,
// apply, nodes, the groups/namespaces tree, the cluster kinds the caller
// may list) and the page. It loads whoami and the kinds once and hands
// them to the pages (Access context): pages render only once both are in.
import { useEffect, useRef, useState } from 'preact/hooks';
import { session } from '../lib/session.js';
import { Access, useAccess } from '../lib/whoami.js';
import { canWatch, kindsAt } from '../lib/access.js';
import { listRoute } from '../lib/kinds.js';
import { titleOf } from '../lib/title.js';
import { Tree } from './tree.jsx';

function skipToMain(e) {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

function Nav({ who, kinds, current }) {
  const cluster = kindsAt(who, kinds, 'cluster').filter((k) => k.name !== 'group');
  const link = (href, text, testid) => (
    <a href={href} data-testid={testid} aria-current={current === href ? 'page' : undefined}>{text}</a>
  );
  return (
    <>
      <ul class="nav-links">
        <li>{link('#/', 'Overview')}</li>
        <li>{link('#/apply', 'Apply YAML', 'nav-apply')}</li>
        {canWatch(who, 'nodes') && <li>{link('#/nodes', 'Nodes', 'nav-nodes')}</li>}
      </ul>
      <h2 class="nav-h">Groups</h2>
      <Tree who={who} current={current} />
      {cluster.length > 0 && <>
        <h2 class="nav-h">Cluster</h2>
        <ul class="nav-links">
          {cluster.map((k) => <li key={k.plural}>{link(listRoute(k), k.plural)}</li>)}
        </ul>
      </>}
    </>
  );
}

export function Shell({ route, children }) {
  const acc = useAccess();
  const [open, setOpen] = useState(false);
  const first = useRef(true);
  useEffect(() => {
    setOpen(false);
    // A new page: say so (title) and move the keyboard focus to it, as a
    // page load would; not on the first load, where nothing moved.
    document.title = titleOf(route?.path);
    if (first.current) { first.current = false; return; }
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [route?.path]);
  const toggle = () => {
    setOpen(!open);
    if (!open) setTimeout(() => document.querySelector('#nav a')?.focus()); // after it shows
  };
  const current = '#' + (route?.path || '/');
  return (
    <div class={'shell' + (open ? ' nav-open' : '')}>
      <a href="#main" class="skip" onClick={skipToMain}>Skip to content</a>
      <header class="top">
        <button type="button" class="nav-toggle" aria-controls="nav" aria-expanded={open ? 'true' : 'false'}
          onClick={toggle}>Menu</button>
        <a href="#/" class="brand">humstack</a>
        <span class="who">
          {acc.who && <span data-testid="whoami" title={acc.who.kind}>{acc.who.name}</span>}
          {!session.open() && <button type="button" data-testid="signout" onClick={() => session.signOut()}>Sign out</button>}
        </span>
      </header>
      <div class="body">
        <nav id="nav" data-testid="nav" aria-label="Main" class="nav"
          onKeyDown={(e) => { if (e.key === 'Escape' && open) { setOpen(false); document.querySelector('.nav-toggle')?.focus(); } }}>
          {acc.who && acc.kinds && <Nav who={acc.who} kinds={acc.kinds} current={current} />}
        </nav>
        <main id="main" class="page" tabIndex={-1}>
          {acc.error && <p role="alert" class="error">{acc.error.message}</p>}
          {!acc.error && !(acc.who && acc.kinds) && <p aria-live="polite">Loading…</p>}
          {acc.who && acc.kinds && <Access.Provider value={acc}>{children}</Access.Provider>}
        </main>
      </div>
    </div>
  );
}
