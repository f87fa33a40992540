// Kind discovery: the kinds the server has (GET /api/v0/kinds: apiType,
// name, plural, scope, aliases, rank). Every list, page and path is built
// from them, so a new kind needs no new page. Paths and routes of objects
// are here too.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { session } from './session.js';

let cache = { cred: null, promise: null };

// loadKinds returns the kinds, fetched once per credential.
export function loadKinds() {
  const cred = session.link() || session.token();
  if (cache.cred !== cred || !cache.promise) {
    const promise = get('/api/v0/kinds').then((env) => env.data.kinds);
    cache = { cred, promise };
    // A failure forgets this answer only: a late failure of an old
    // credential must not wipe the new one's.
    promise.catch(() => { if (cache.promise === promise) cache = { cred: null, promise: null }; });
  }
  return cache.promise;
}

// useKinds returns {kinds, error}; kinds is null until loaded.
export function useKinds() {
  const [st, setSt] = useState({ kinds: null, error: null });
  useEffect(() => {
    let live = true;
    loadKinds().then((kinds) => live && setSt({ kinds, error: null }), (error) => live && setSt({ kinds: null, error }));
    return () => { live = false; };
  }, []);
  return st;
}

export const kindByPlural = (kinds, plural) => kinds?.find((k) => k.plural === plural) || null;
export const kindByName = (kinds, name) => kinds?.find((k) => k.name === name) || null;
export const kindByType = (kinds, apiType) => kinds?.find((k) => k.apiType === apiType) || null;

const enc = encodeURIComponent;

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
