// Hash routing: #/path?query. Routes are registered by the views
// (src/routes.js); a route is a pattern with :params, matched in order.
import { useEffect, useState } from 'preact/hooks';

export function currentRoute() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, q = ''] = h.split('?');
  return { path, query: new URLSearchParams(q) };
}

export function navigate(path) { location.hash = '#' + path; }

export function useRoute() {
  const [r, setR] = useState(currentRoute());
  useEffect(() => {
    const f = () => setR(currentRoute());
    addEventListener('hashchange', f);
    f(); // a change between the first render and now (a child's effect replaced the URL)
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

// match returns the params of pattern ('/g/:group/ns/:namespace') for path, or null.
export function match(pattern, path) {
  const p = pattern.split('/'), s = path.split('/');
  if (p.length !== s.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}
