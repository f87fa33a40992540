// Live lists: list a collection, then watch it (SSE over fetch(), with the
// session's credentials), keeping the items current. No polling: after a
// dropped stream it resumes from the last event id (Last-Event-ID and
// resourceVersion), after a 410 Gone it lists again. One watch per path is
// shared by every component showing it and stopped (fetch aborted) when the
// last one unmounts. useList(path, prio) is the hook the views use.
//
// Stream budget: over HTTP/1.1 a browser keeps at most 6 connections to
// one server, and each open stream holds one; past that every request
// (lists, writes) would queue behind the streams for ever. So when the page
// came over HTTP/1.1 at most STREAMS_H1 streams run at once: the watches
// with the highest priority (then the oldest); the others keep their list
// and are marked not live (live: false) until a slot frees, then resume
// from their last event id (the server replays what they missed). Over
// HTTP/2 every watch streams.
//
// Stall detection: the server sends ": heartbeat" every 10 s so that a
// client can tell a dead stream (a half-open connection after a suspend, a
// NAT or proxy that dropped it) from a quiet one; reader.read() alone would
// wait for ever. A stream that brings no byte for timing.stallMs is
// aborted and resumed from its last event; meanwhile the table says it is
// reconnecting. timing is exported for the unit tests.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, apiErrorOf, authorize, get } from './api.js';
import { sseParser } from './sse.js';

export const timing = { stallMs: 30000, backoffMs: 1000, maxBackoffMs: 15000, healthyMs: 30000 };
const watches = new Map();
const STREAMS_H1 = 4;
let seq = 0;

// streamBudget is how many watches may stream at once on this page.
function streamBudget() {
  const nav = globalThis.performance?.getEntriesByType?.('navigation')?.[0];
  const proto = nav?.nextHopProtocol || '';
  return proto === '' || proto.startsWith('http/1') ? STREAMS_H1 : Infinity;
}

// schedule lets the watches with the highest priority stream, and pauses
// the others.
function schedule() {
  const all = [...watches.values()].sort((a, b) => b.prio - a.prio || a.seq - b.seq);
  const budget = streamBudget();
  all.forEach((w, i) => {
    const active = i < budget;
    if (active === w.active) return;
    w.active = active;
    if (active) w.wake?.();
    else w.streamCtrl?.abort();
    emit(w);
  });
}

// waitActive resolves when a slot frees for w (or the watch ends); its
// abort listener goes with it, so pauses leave nothing behind.
function waitActive(w, signal) {
  return new Promise((res) => {
    const done = () => { signal.removeEventListener('abort', done); w.wake = null; res(); };
    w.wake = done;
    signal.addEventListener('abort', done, { once: true });
  });
}

// keyOf identifies an object within a (possibly wide) collection.
export const keyOf = (o) => `${o.meta.group || ''}/${o.meta.namespace || ''}/${o.meta.id}`;

const byPlace = (a, b) => keyOf(a).localeCompare(keyOf(b));

function sleep(ms, signal) {
  return new Promise((res) => {
    const wake = () => { clearTimeout(t); res(); };
    const t = setTimeout(() => { signal.removeEventListener('abort', wake); res(); }, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}

function emit(w) {
  w.snapshot = { items: [...w.items.values()].sort(byPlace), loaded: w.loaded, error: w.error,
    live: w.active && w.loaded && !w.reconnecting, reconnecting: w.active && w.loaded && w.reconnecting };
  w.listeners.forEach((_, f) => f(w.snapshot));
}

// fatal errors end the watch: the caller may not (or no longer) see it.
// olderThan says whether obj's resourceVersion is below cur's (false when
// either has none).
const olderThan = (obj, cur) => Number(obj?.meta?.resourceVersion) < Number(cur?.meta?.resourceVersion);

const fatal = (err) => err instanceof ApiError && [400, 401, 403, 404, 405].includes(err.status);

// stream follows the collection from w.rv, keeping w.rv at the last event.
// It returns how it ended: 'closed' (the server ended it), 'stalled' (no
// byte for timing.stallMs) or 'bad' (an event that does not parse: the
// caller lists again); it throws on a refused or broken request.
async function stream(w, ctrl) {
  const headers = { Accept: 'text/event-stream' };
  if (w.rv) headers['Last-Event-ID'] = w.rv;
  const path = w.path + (w.path.includes('?') ? '&' : '?') + 'watch=true&resourceVersion=' + encodeURIComponent(w.rv || '0');
  let ended = '', timer = null;
  const stop = (why) => { ended = ended || why; ctrl.abort(); };
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => stop('stalled'), timing.stallMs); };
  arm(); // the answer's headers count too
  try {
    const resp = await fetch(authorize(path, headers), { headers, signal: ctrl.signal, credentials: 'omit', cache: 'no-store' });
    if (!resp.ok) throw await apiErrorOf(resp);
    w.error = null; w.reconnecting = false;
    emit(w);
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    const feed = sseParser((ev) => {
      if (ended) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { msg = null; }
      if (!msg?.object?.meta) {
        // Its id is past it: resuming would never replay it. List again.
        w.error = new Error('a watch event could not be read; listing again');
        stop('bad');
        return;
      }
      if (ev.id) w.rv = ev.id;
      w.events++;
      const k = keyOf(msg.object);
      // A long list on bolt may hold an object newer than the list's
      // version, whose older changes the watch then replays (docs/api.md,
      // "Lists and pages"): never take an item back to an older version.
      if (olderThan(msg.object, w.items.get(k))) return;
      if (msg.type === 'DELETED') w.items.delete(k);
      else w.items.set(k, msg.object);
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return ended || 'closed';
      arm(); // any byte, a heartbeat comment included
      const before = w.events;
      feed(value);
      if (w.events !== before || ended) emit(w);
      if (ended) return ended;
    }
  } catch (err) {
    if (ended) return ended;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function run(w) {
  const { signal } = w.ctrl;
  let backoff = timing.backoffMs;
  w.rv = null;
  while (!signal.aborted) {
    let healthy = false;
    try {
      if (w.rv === null) {
        const env = await get(w.path, { signal });
        const list = Object.values(env.data || {})[0] || [];
        w.items = new Map(list.map((o) => [keyOf(o), o]));
        w.rv = env.resourceVersion || '0';
        w.loaded = true; w.error = null;
        emit(w);
      }
      if (!w.active) { await waitActive(w, signal); continue; }
      w.streamCtrl = new AbortController();
      const ctrl = w.streamCtrl;
      const stop = () => ctrl.abort();
      signal.addEventListener('abort', stop, { once: true });
      const began = Date.now(), events = w.events;
      let how;
      try { how = await stream(w, ctrl); } finally { signal.removeEventListener('abort', stop); }
      if (signal.aborted) return;
      if (!w.active) continue; // paused by the budget: wait for a slot
      if (how === 'bad') w.rv = null;
      // A stream that lived or brought events resets the backoff; one
      // that a server or proxy closes at once does not (no reconnect storm).
      healthy = how !== 'bad' && (w.events > events || Date.now() - began >= timing.healthyMs);
      w.reconnecting = true;
      emit(w);
    } catch (err) {
      if (signal.aborted) return;
      if (!w.active) continue; // paused by the budget: wait for a slot
      if (err instanceof ApiError && err.status === 410) { w.rv = null; continue; }
      w.error = err;
      w.reconnecting = !fatal(err) && w.loaded;
      emit(w);
      if (fatal(err)) return;
    }
    if (healthy) backoff = timing.backoffMs;
    await sleep(backoff, signal);
    backoff = healthy ? timing.backoffMs : Math.min(backoff * 2, timing.maxBackoffMs);
  }
}

// subscribe calls f with {items, loaded, error, live, reconnecting} now and on every
// change of the collection at path; prio orders the watches for the
// stream budget (higher first). It returns the unsubscribe function.
export function subscribe(path, f, prio = 1) {
  let w = watches.get(path);
  if (!w) {
    w = { path, items: new Map(), loaded: false, error: null, listeners: new Map(), ctrl: new AbortController(),
      active: false, reconnecting: false, events: 0, prio, seq: seq++ };
    w.snapshot = { items: [], loaded: false, error: null, live: false, reconnecting: false };
    watches.set(path, w);
    run(w);
  }
  w.listeners.set(f, prio);
  w.prio = Math.max(...w.listeners.values());
  schedule();
  f(w.snapshot);
  return () => {
    w.listeners.delete(f);
    if (w.listeners.size === 0) {
      w.ctrl.abort();
      watches.delete(path);
    } else w.prio = Math.max(...w.listeners.values());
    schedule();
  };
}

const empty = { items: [], loaded: false, error: null, live: false, reconnecting: false };

// useList returns the live {items, loaded, error, live} of the collection
// at path (an API path); a null path lists nothing. prio: see subscribe
// (0: background, like the navigation's tree; 1: a table among others;
// 2 and up: what the page is about).
export function useList(path, prio = 1) {
  const [state, setState] = useState(empty);
  useEffect(() => {
    if (!path) { setState(empty); return undefined; }
    return subscribe(path, setState, prio);
  }, [path, prio]);
  return state;
}
