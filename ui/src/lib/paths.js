// API paths and console routes of objects, from a kind's scope and plural
// ({scope, plural}: a kind of GET /api/v0/kinds, or a literal one where a
// panel knows its kind). The one place paths are built. Pure (unit-tested).
export const enc = encodeURIComponent;

// collectionPath is the API collection of kind at the place (g, ns); for
// a namespaced kind with no ns (or a group kind with no g) it is the wide
// collection, filtered by the server to what the caller may see.
export function collectionPath(kind, g = '', ns = '') {
  if (kind.scope === 'cluster' || !g) return `/api/v0/${kind.plural}`;
  if (kind.scope === 'group' || !ns) return `/api/v0/groups/${enc(g)}/${kind.plural}`;
  return `/api/v0/groups/${enc(g)}/namespaces/${enc(ns)}/${kind.plural}`;
}

// objectPath is the API path of an object of kind.
export const objectPath = (kind, m) => `${collectionPath(kind, m.group, m.namespace)}/${enc(m.id)}`;

// listRoute and objectRoute are the console's pages (hash routes).
export function listRoute(kind, g = '', ns = '') {
  if (kind.scope === 'cluster') return `#/c/${kind.plural}`;
  if (kind.scope === 'group' || !ns) return `#/g/${enc(g)}/${kind.plural}`;
  return `#/g/${enc(g)}/ns/${enc(ns)}/${kind.plural}`;
}

export function objectRoute(kind, m) {
  if (kind.scope === 'cluster') return `#/c/${kind.plural}/${enc(m.id)}`;
  if (kind.scope === 'group') return `#/g/${enc(m.group)}/${kind.plural}/${enc(m.id)}`;
  return `#/g/${enc(m.group)}/ns/${enc(m.namespace)}/${kind.plural}/${enc(m.id)}`;
}

// A group or namespace page stands for the object of that kind.
export function placeRoute(g, ns) {
  return ns ? `#/g/${enc(g)}/ns/${enc(ns)}` : `#/g/${enc(g)}`;
}

// The kinds the panels and consoles know by name.
export const VM = { scope: 'namespace', plural: 'virtualmachines' };
export const RESET = { scope: 'namespace', plural: 'resets' };
export const ENV = { scope: 'group', plural: 'environments' };
export const NAMESPACE = { scope: 'group', plural: 'namespaces' };
