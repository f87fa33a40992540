// The web console's entry: the route table is filled by the views
// (views/index.js: the cloud's pages; consoles/index.js: consoles and the
// console-link page; panels/index.js: kind-specific panels), then the
// app renders the page of the current route.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import './views/index.js';
import './consoles/index.js';
import './panels/index.js';
import { allRoutes } from './routes.js';
import { match, useRoute } from './lib/router.js';
import { session } from './lib/session.js';
import { loadConfig } from './lib/config.js';
import { Shell } from './views/shell.jsx';
import { Login } from './views/login.jsx';

function App() {
  const route = useRoute();
  const [, setTick] = useState(0);
  useEffect(() => session.subscribe(() => setTick((t) => t + 1)), []);
  for (const r of allRoutes()) {
    const params = match(r.pattern, route.path);
    if (!params) continue;
    const Page = r.component;
    if (r.auth && !session.signedIn()) return <Login />;
    // keyed by path: another page (or object) starts with fresh state
    const page = <Page key={route.path} {...params} query={route.query} />;
    return r.chrome ? <Shell route={route}>{page}</Shell> : page;
  }
  if (!session.signedIn()) return <Login />;
  return <Shell route={route}><p role="alert">No page at {route.path}.</p></Shell>;
}

// The config says whether the server asks for credentials at all; the
// first render waits for it (one small request) so that a server without
// authorization never shows a sign-in form.
loadConfig().then((c) => {
  session.setOpen(c?.authorization === 'off');
  render(<App />, document.getElementById('app'));
});
