// Live lists for the panels and the console-link page: list a collection,
// then follow its watch (Server-Sent Events read from fetch(), since
// EventSource cannot carry the Authorization header) and apply each
// ADDED / MODIFIED / DELETED to the list. A 410 Gone, or the stream
// ending, lists again. A stand-in with the shape of lib/watch.js's useList
// (uicore) until it lands; the panels import useList from here only.
import { useEffect, useState } from 'preact/hooks';
import { authorize, get } from '../lib/api.js';

const keyOf = (o) => `${o.meta.group || ''}/${o.meta.namespace || ''}/${o.meta.id}`;

// parseSSE splits SSE text into complete events; it returns the events and
// the unfinished rest. Pure (unit-tested).
export function parseSSE(text) {
  const events = [];
  const blocks = text.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const b of blocks) {
    const ev = { id: '', event: '', data: '' };
    for (const line of b.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const f = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (f === 'data') ev.data += (ev.data ? '\n' : '') + v;
      else if (f === 'id' || f === 'event') ev[f] = v;
    }
    if (ev.data) events.push(ev);
  }
  return { events, rest };
}

// applyEvent returns the items (a Map key -> object) after one watch event.
export function applyEvent(items, { type, object }) {
  const m = new Map(items);
  if (type === 'DELETED') m.delete(keyOf(object));
  else m.set(keyOf(object), object);
  return m;
}

async function follow(path, rv, items, set, signal) {
  const headers = { Accept: 'text/event-stream' };
  const url = authorize(path + (path.includes('?') ? '&' : '?') + 'watch=true&resourceVersion=' + rv, headers);
  const resp = await fetch(url, { headers, signal, credentials: 'omit' });
  if (!resp.ok) return; // 410 Gone and the like: list again
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const { events, rest } = parseSSE(buf + value);
    buf = rest;
    for (const ev of events) {
      items = applyEvent(items, JSON.parse(ev.data));
      set(items);
    }
  }
}

// useList returns {items (array), error, loaded} for a collection path,
// kept current by its watch. A null path lists nothing.
export function useList(path) {
  const [state, setState] = useState({ items: [], error: null, loaded: false });
  useEffect(() => {
    if (!path) return undefined;
    const ctl = new AbortController();
    const set = (m) => setState({ items: [...m.values()], error: null, loaded: true });
    (async () => {
      while (!ctl.signal.aborted) {
        try {
          const env = await get(path, { signal: ctl.signal });
          const list = Object.values(env.data || {}).find(Array.isArray) || [];
          const items = new Map(list.map((o) => [keyOf(o), o]));
          set(items);
          await follow(path, env.resourceVersion || '0', items, set, ctl.signal);
        } catch (err) {
          if (ctl.signal.aborted) return;
          setState((s) => ({ ...s, error: err, loaded: true }));
          if (err.status === 401 || err.status === 403 || err.status === 404) return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => ctl.abort();
  }, [path]);
  return state;
}
