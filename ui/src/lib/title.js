// The document's title for a route path, so that a screen reader (and the
// tab strip) tells pages apart. Pure (unit-tested).
const fixed = { '/': 'Overview', '/apply': 'Apply YAML', '/nodes': 'Nodes', '/login': 'Sign in' };

// titleOf returns "<what> — humstack" for a path such as
// /g/g1/ns/ns1/virtualmachines/vm1 ("g1 / ns1 / virtualmachines / vm1").
export function titleOf(path = '/') {
  if (fixed[path]) return `${fixed[path]} — humstack`;
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts[0] === 'link') return 'Console link — humstack'; // the token stays out of the title
  const shown = parts.filter((p, i) => !(i === 0 && ['c', 'g', 'console'].includes(p)) && !(p === 'ns' && parts[0] === 'g'));
  return shown.length ? `${shown.join(' / ')} — humstack` : 'humstack';
}
