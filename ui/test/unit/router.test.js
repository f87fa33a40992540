import { test } from 'node:test';
import assert from 'node:assert/strict';
import { match } from '../../src/lib/router.js';

test('match fills params and refuses other shapes', () => {
  assert.deepEqual(match('/g/:group/ns/:namespace', '/g/g1/ns/n%2D1'), { group: 'g1', namespace: 'n-1' });
  assert.equal(match('/g/:group', '/g/g1/ns'), null);
  assert.equal(match('/nodes', '/node'), null);
});
