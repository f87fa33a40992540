// The live lists (lib/watch.js) against a faked API whose watch answers
// are streams the test writes to: list then watch from the list's
// version, resume after a drop with Last-Event-ID, 410 -> list again, a
// refused watch stops, a stalled stream is aborted and resumed, an
// unreadable event lists again, and the HTTP/1.1 stream budget.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fakeBrowser, fakeFetch, envelope } from './fakes.js';
import { subscribe, timing } from '../../src/lib/watch.js';

timing.backoffMs = 5; timing.maxBackoffMs = 20; timing.stallMs = 80;

const vm = (id, state) => ({ meta: { id, group: 'g', namespace: 'n' }, status: { state } });

// server fakes the API: lists answer items at version rv; each watch gets
// a stream pushed to server.streams ({req, send(text), close()}).
function fakeServer({ watchStatus = () => 200, list = () => [] } = {}) {
  const srv = { streams: [], lists: 0, rv: '10' };
  srv.calls = fakeFetch((req) => {
    if (req.query.get('watch') !== 'true') {
      srv.lists++;
      return envelope(200, { virtualmachines: list(srv) }, { resourceVersion: srv.rv });
    }
    const st = watchStatus(req, srv);
    if (st !== 200) return envelope(st, null, { error: `watch refused ${st}` });
    let ctl;
    const body = new ReadableStream({ start(c) { ctl = c; } });
    const s = { req, closed: false,
      send: (t) => { if (!s.closed) ctl.enqueue(new TextEncoder().encode(t)); },
      close: () => { if (!s.closed) { s.closed = true; ctl.close(); } } };
    // as a browser does: aborting the fetch errors its body
    req.signal?.addEventListener('abort', () => { if (!s.closed) { s.closed = true; ctl.error(new DOMException('aborted', 'AbortError')); } });
    srv.streams.push(s);
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  });
  return srv;
}

const ev = (id, type, obj) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, object: obj })}\n\n`;

async function until(cond, what, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function watchOf(path, prio = 1) {
  const seen = [];
  const stop = subscribe(path, (s) => seen.push(s), prio);
  return { seen, stop, last: () => seen[seen.length - 1] };
}

beforeEach(() => fakeBrowser({ token: 't' })); // node has no navigation entry: the HTTP/1.1 budget

test('lists, watches from the list version, resumes with Last-Event-ID after a drop', async () => {
  const srv = fakeServer({ list: () => [vm('a', 'Stopped')] });
  const path = '/api/v0/groups/g/namespaces/n/virtualmachines';
  const w = watchOf(path);
  await until(() => srv.streams.length === 1, 'the first stream');
  const q = srv.streams[0].req;
  assert.equal(q.query.get('resourceVersion'), '10');
  assert.equal(q.headers.Authorization, 'Bearer t');
  assert.equal(w.last().items[0].status.state, 'Stopped');
  srv.streams[0].send(ev('11', 'MODIFIED', vm('a', 'Running')) + ev('12', 'ADDED', vm('b', 'Pending')));
  await until(() => w.last().items.length === 2, 'the events');
  assert.equal(w.last().items[0].status.state, 'Running');
  assert.equal(w.last().live, true);
  srv.streams[0].close();
  await until(() => srv.streams.length === 2, 'the resumed stream');
  assert.equal(srv.streams[1].req.headers['Last-Event-ID'], '12');
  assert.equal(srv.streams[1].req.query.get('resourceVersion'), '12');
  assert.equal(srv.lists, 1, 'a resume does not list again');
  assert.ok(w.seen.some((s) => s.reconnecting), 'the table was told it reconnects');
  srv.streams[1].send(ev('13', 'DELETED', vm('a')));
  await until(() => w.last().items.length === 1 && w.last().live, 'the delete');
  w.stop();
  assert.ok(srv.streams[1].closed, 'the last unsubscribe aborts the stream');
});

test('a 410 lists again; a refused watch (403) stops for good', async () => {
  let gone = 1;
  const srv = fakeServer({ watchStatus: () => (gone-- > 0 ? 410 : 200), list: () => [vm('a', 'Running')] });
  const w = watchOf('/p410');
  await until(() => srv.streams.length === 1, 'the stream after the relist');
  assert.equal(srv.lists, 2);
  w.stop();

  const srv2 = fakeServer({ watchStatus: () => 403 });
  const w2 = watchOf('/p403');
  await until(() => w2.last().error, 'the error');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(srv2.calls.filter((c) => c.query.get('watch')).length, 1, 'no retry after 403');
  assert.equal(w2.last().error.status, 403);
  assert.equal(w2.last().reconnecting, false);
  w2.stop();
});

test('a stalled stream is aborted and resumed; heartbeats keep it alive', async () => {
  const srv = fakeServer({ list: () => [vm('a', 'Running')] });
  const w = watchOf('/pstall');
  await until(() => srv.streams.length === 1, 'the stream');
  // heartbeats only, for three stall periods: no reconnect
  for (let i = 0; i < 8; i++) {
    srv.streams[0].send(': heartbeat\n\n');
    await new Promise((r) => setTimeout(r, timing.stallMs / 3));
  }
  assert.equal(srv.streams.length, 1, 'heartbeats keep the stream');
  srv.streams[0].send(ev('11', 'MODIFIED', vm('a', 'Stopping')));
  // then silence: aborted after stallMs, resumed from the last event
  await until(() => srv.streams.length === 2, 'the resumed stream', timing.stallMs * 10);
  assert.ok(srv.streams[0].closed, 'the dead stream was aborted');
  assert.equal(srv.streams[1].req.headers['Last-Event-ID'], '11');
  assert.ok(w.seen.some((s) => s.reconnecting && !s.live), 'shown as reconnecting meanwhile');
  assert.equal(srv.lists, 1);
  w.stop();
});

test('an event that does not parse lists again instead of skipping it', async () => {
  const srv = fakeServer({ list: (s) => (s.lists > 1 ? [vm('a', 'Running')] : []) });
  const w = watchOf('/pbad');
  await until(() => srv.streams.length === 1, 'the stream');
  srv.streams[0].send('id: 11\ndata: {not json\n\n');
  await until(() => srv.lists === 2 && w.last().items.length === 1, 'the relist');
  w.stop();
});

test('HTTP/1.1 budget: four streams, the lowest priority waits, then resumes from its event', async () => {
  const srv = fakeServer({ list: () => [vm('a', 'Running')] });
  const ws = ['/b1', '/b2', '/b3', '/b4'].map((p) => watchOf(p, 2));
  const low = watchOf('/b5', 0);
  await until(() => srv.streams.length === 4, 'four streams');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(srv.streams.length, 4, 'the fifth does not stream');
  assert.equal(low.last().loaded, true, 'but it is listed');
  assert.equal(low.last().live, false);
  assert.equal(low.last().reconnecting, false, 'paused is not reconnecting');
  ws[0].stop();
  await until(() => srv.streams.length === 5, 'the fifth streams');
  assert.equal(srv.streams[4].req.path, '/b5');
  assert.equal(srv.streams[4].req.headers['Last-Event-ID'], '10');
  await until(() => low.last().live, 'live');
  ws.slice(1).forEach((w) => w.stop()); low.stop();
});

test('a replayed older change never takes an item back (a long list on bolt is newer than its version)', async () => {
  const at = (o, rv) => ({ ...o, meta: { ...o.meta, resourceVersion: rv } });
  const srv = fakeServer({ list: () => [at(vm('a', 'Running'), '20'), at(vm('b', 'Running'), '20')] });
  const w = watchOf('/api/v0/groups/g/namespaces/n/virtualmachines');
  try {
    await until(() => srv.streams.length === 1, 'the stream');
    srv.streams[0].send(ev('15', 'MODIFIED', at(vm('a', 'Stopped'), '15')) + ev('16', 'DELETED', at(vm('b'), '16')));
    srv.streams[0].send(ev('21', 'MODIFIED', at(vm('a', 'Paused'), '21')));
    await until(() => w.last().items.find((o) => o.meta.id === 'a')?.status.state === 'Paused', 'the newer change');
    assert.equal(w.last().items.length, 2, 'the older delete of b was not applied');
    assert.ok(!w.seen.some((s) => s.items.find((o) => o.meta.id === 'a')?.status.state === 'Stopped'), 'a never went back');
  } finally {
    w.stop();
  }
});
