// Kind discovery: the kinds the server has (GET /api/v0/kinds: apiType,
// name, plural, scope, aliases, rank). Every list, page and path is built
// from them, so a new kind needs no new page. Paths and routes of objects
// are in paths.js (re-exported here).
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

// The paths and routes live in paths.js (pure); kinds.js hands them on.
export { collectionPath, objectPath, listRoute, objectRoute, placeRoute } from './paths.js';
