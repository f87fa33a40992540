// Who the caller is and what it may do (GET /api/v0/whoami): name, scopes
// with the verbs per kind. Loaded once per credential; views derive every
// request from it (lib/access.js).
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { loadKinds } from './kinds.js';
import { session } from './session.js';

let cache = { cred: null, promise: null };

export function loadWhoami() {
  const cred = session.link() || session.token();
  if (cache.cred !== cred || !cache.promise) {
    const promise = get('/api/v0/whoami').then((env) => env.data.whoami);
    cache = { cred, promise };
    // A failure forgets this answer only: a late failure of an old
    // credential must not wipe the new one's.
    promise.catch(() => { if (cache.promise === promise) cache = { cred: null, promise: null }; });
  }
  return cache.promise;
}

// useAccess returns {who, kinds, error}: both loaded (null until then).
export function useAccess() {
  const [st, setSt] = useState({ who: null, kinds: null, error: null });
  useEffect(() => {
    let live = true;
    Promise.all([loadWhoami(), loadKinds()]).then(
      ([who, kinds]) => live && setSt({ who, kinds, error: null }),
      (error) => live && setSt({ who: null, kinds: null, error }));
    return () => { live = false; };
  }, [session.link() || session.token()]);
  return st;
}

// Access is what the shell loaded ({who, kinds}), for the pages inside it.
export const Access = createContext({ who: null, kinds: null, error: null });
export const useAccessCtx = () => useContext(Access);
