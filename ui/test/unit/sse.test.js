import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sseParser } from '../../src/lib/sse.js';

test('sseParser joins chunks, skips comments and keeps the last id', () => {
  const got = [];
  const feed = sseParser((e) => got.push(e));
  feed(': watching vms from 3\n\nid: 4\nevent: ADDED\nda');
  feed('ta: {"type":"ADDED"}\n\n: heartbeat\n\n');
  feed('id: 5\r\nevent: DELETED\r\ndata: a\r\ndata: b\r\n\r\n');
  feed('data: no id yet\n');
  assert.deepEqual(got, [
    { id: '4', event: 'ADDED', data: '{"type":"ADDED"}' },
    { id: '5', event: 'DELETED', data: 'a\nb' },
  ]);
  feed('\n');
  assert.equal(got.length, 3);
  assert.deepEqual(got[2], { id: '5', event: 'message', data: 'no id yet' });
});
