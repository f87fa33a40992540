// Live lists: list a collection, then watch it (SSE over fetch(), with the
// session's credentials), keeping the items current. No polling: after a
// dropped stream it resumes from the last event id (Last-Event-ID and
// resourceVersion), after a 410 Gone it lists again. One watch per path is
// shared by every component showing it and stopped (fetch aborted) when the
// last one unmounts. useList(path) is the hook the views use.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, authorize, get } from './api.js';
import { sseParser } from './sse.js';

const watches = new Map();

// keyOf identifies an object within a (possibly wide) collection.
export const keyOf = (o) => `${o.meta.group || ''}/${o.meta.namespace || ''}/${o.meta.id}`;

const byPlace = (a, b) => keyOf(a).localeCompare(keyOf(b));

function sleep(ms, signal) {
  return new Promise((res) => {
    const t = setTimeout(res, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
  });
}

function emit(w) {
  w.snapshot = { items: [...w.items.values()].sort(byPlace), loaded: w.loaded, error: w.error };
  w.listeners.forEach((f) => f(w.snapshot));
}

// fatal errors end the watch: the caller may not (or no longer) see it.
const fatal = (err) => err instanceof ApiError && [400, 401, 403, 404, 405].includes(err.status);

async function stream(w, rv, signal) {
  const headers = { Accept: 'text/event-stream' };
  if (rv) headers['Last-Event-ID'] = rv;
  const path = w.path + (w.path.includes('?') ? '&' : '?') + 'watch=true&resourceVersion=' + encodeURIComponent(rv || '0');
  const resp = await fetch(authorize(path, headers), { headers, signal, credentials: 'omit', cache: 'no-store' });
  if (!resp.ok) {
    let env = null;
    try { env = await resp.json(); } catch { /* not JSON */ }
    throw new ApiError(resp.status, env?.reason, env?.error || resp.statusText, env?.fields);
  }
  w.error = null;
  emit(w);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const feed = sseParser((ev) => {
    if (ev.id) rv = ev.id;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (!msg?.object?.meta) return;
    if (msg.type === 'DELETED') w.items.delete(keyOf(msg.object));
    else w.items.set(keyOf(msg.object), msg.object);
  });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return rv;
    const before = rv;
    feed(value);
    if (rv !== before) emit(w);
  }
}

async function run(w) {
  const { signal } = w.ctrl;
  let rv = null, backoff = 1000;
  while (!signal.aborted) {
    try {
      if (rv === null) {
        const env = await get(w.path, { signal });
        const list = Object.values(env.data || {})[0] || [];
        w.items = new Map(list.map((o) => [keyOf(o), o]));
        rv = env.resourceVersion || '0';
        w.loaded = true; w.error = null;
        emit(w);
      }
      rv = await stream(w, rv, signal);
      backoff = 1000;
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 410) { rv = null; continue; }
      w.error = err;
      emit(w);
      if (fatal(err)) return;
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 15000);
  }
}

// subscribe calls f with {items, loaded, error} now and on every change of
// the collection at path; it returns the unsubscribe function.
export function subscribe(path, f) {
  let w = watches.get(path);
  if (!w) {
    w = { path, items: new Map(), loaded: false, error: null, listeners: new Set(), ctrl: new AbortController() };
    w.snapshot = { items: [], loaded: false, error: null };
    watches.set(path, w);
    run(w);
  }
  w.listeners.add(f);
  f(w.snapshot);
  return () => {
    w.listeners.delete(f);
    if (w.listeners.size === 0) {
      w.ctrl.abort();
      watches.delete(path);
    }
  };
}

const empty = { items: [], loaded: false, error: null };

// useList returns the live {items, loaded, error} of the collection at
// path (an API path); a null path lists nothing.
export function useList(path) {
  const [state, setState] = useState(empty);
  useEffect(() => {
    if (!path) { setState(empty); return undefined; }
    return subscribe(path, setState);
  }, [path]);
  return state;
}
