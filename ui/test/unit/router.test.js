import { test } from 'node:test';
import assert from 'node:assert/strict';
import { match } from '../../src/lib/router.js';

test('match fills params and refuses other shapes', () => {
  assert.deepEqual(match('/g/:group/ns/:namespace', '/g/g1/ns/n%2D1'), { group: 'g1', namespace: 'n-1' });
  assert.equal(match('/g/:group', '/g/g1/ns'), null);
  assert.equal(match('/nodes', '/node'), null);
});

test('titleOf names the page, never a console link\'s token', async () => {
  const { titleOf } = await import('../../src/lib/title.js');
  assert.equal(titleOf('/'), 'Overview — humstack');
  assert.equal(titleOf('/g/g1/ns/ns1/virtualmachines/vm1'), 'g1 / ns1 / virtualmachines / vm1 — humstack');
  assert.equal(titleOf('/c/nodes'), 'nodes — humstack');
  assert.equal(titleOf('/console/g1/ns1/vm1/vnc'), 'g1 / ns1 / vm1 / vnc — humstack');
  assert.equal(titleOf('/link/SECRET/vm1/serial'), 'Console link — humstack');
});
