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
import { useEffect, useState } from 'preact/hooks';
import { ApiError, authorize, get } from './api.js';
import { sseParser } from './sse.js';
import { session } from './session.js';

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

function waitActive(w, signal) {
  return new Promise((res) => {
    w.wake = res;
    signal.addEventListener('abort', res, { once: true });
  });
}

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
  w.snapshot = { items: [...w.items.values()].sort(byPlace), loaded: w.loaded, error: w.error, live: w.active && w.loaded };
  w.listeners.forEach((_, f) => f(w.snapshot));
}

// fatal errors end the watch: the caller may not (or no longer) see it.
const fatal = (err) => err instanceof ApiError && [400, 401, 403, 404, 405].includes(err.status);

// stream follows the collection from w.rv, keeping w.rv at the last event.
async function stream(w, signal) {
  const headers = { Accept: 'text/event-stream' };
  if (w.rv) headers['Last-Event-ID'] = w.rv;
  const path = w.path + (w.path.includes('?') ? '&' : '?') + 'watch=true&resourceVersion=' + encodeURIComponent(w.rv || '0');
  const resp = await fetch(authorize(path, headers), { headers, signal, credentials: 'omit', cache: 'no-store' });
  if (!resp.ok) {
    let env = null;
    try { env = await resp.json(); } catch { /* not JSON */ }
    if (resp.status === 401) session.expired(env?.error || 'signed out');
    throw new ApiError(resp.status, env?.reason, env?.error || resp.statusText, env?.fields);
  }
  w.error = null;
  emit(w);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const feed = sseParser((ev) => {
    if (ev.id) w.rv = ev.id;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (!msg?.object?.meta) return;
    if (msg.type === 'DELETED') w.items.delete(keyOf(msg.object));
    else w.items.set(keyOf(msg.object), msg.object);
  });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const before = w.rv;
    feed(value);
    if (w.rv !== before) emit(w);
  }
}

async function run(w) {
  const { signal } = w.ctrl;
  let backoff = 1000;
  w.rv = null;
  while (!signal.aborted) {
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
      const stop = () => w.streamCtrl.abort();
      signal.addEventListener('abort', stop, { once: true });
      try { await stream(w, w.streamCtrl.signal); } finally { signal.removeEventListener('abort', stop); }
      backoff = 1000;
    } catch (err) {
      if (signal.aborted) return;
      if (!w.active) continue; // paused by the budget: wait for a slot
      if (err instanceof ApiError && err.status === 410) { w.rv = null; continue; }
      w.error = err;
      emit(w);
      if (fatal(err)) return;
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 15000);
  }
}

// subscribe calls f with {items, loaded, error, live} now and on every
// change of the collection at path; prio orders the watches for the
// stream budget (higher first). It returns the unsubscribe function.
export function subscribe(path, f, prio = 1) {
  let w = watches.get(path);
  if (!w) {
    w = { path, items: new Map(), loaded: false, error: null, listeners: new Map(), ctrl: new AbortController(),
      active: false, prio, seq: seq++ };
    w.snapshot = { items: [], loaded: false, error: null, live: false };
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

const empty = { items: [], loaded: false, error: null, live: false };

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
