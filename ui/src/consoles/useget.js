// useGet reads one API path once (again when it changes): {data, error}.
// data is the envelope's data; error an ApiError with the server's message.
// Both belong to the current path only: while a new path loads, neither is
// set, so nothing renders for the old answer (a console would otherwise
// open, and at once close, a websocket for the new VM).
import { useEffect, useState } from 'preact/hooks';
import { get } from '../lib/api.js';

export function useGet(path) {
  const [s, set] = useState({ path: null, data: null, error: null });
  useEffect(() => {
    if (!path) return undefined;
    const ctl = new AbortController();
    get(path, { signal: ctl.signal }).then(
      (env) => set({ path, data: env.data, error: null }),
      (error) => { if (!ctl.signal.aborted) set({ path, data: null, error }); });
    return () => ctl.abort();
  }, [path]);
  return s.path === path ? s : { data: null, error: null };
}
