// Which lists "Used by" and the delete dialog ask for: an operator's
// requests stay in its namespace; a group grant stays in its group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidates, contentLists } from '../../src/lib/referrers.js';

const kinds = [
  { name: 'group', plural: 'groups', scope: 'cluster', rank: 0 },
  { name: 'node', plural: 'nodes', scope: 'cluster', rank: 2 },
  { name: 'namespace', plural: 'namespaces', scope: 'group', rank: 1 },
  { name: 'image', plural: 'images', scope: 'group', rank: 3 },
  { name: 'network', plural: 'networks', scope: 'namespace', rank: 4 },
  { name: 'virtualmachine', plural: 'virtualmachines', scope: 'namespace', rank: 7 },
  { name: 'event', plural: 'events', scope: 'cluster', rank: 9 },
];
const rw = ['get', 'list', 'watch'];
const operator = { scopes: [{ group: 'g1', namespace: 'ns1', kinds: { virtualmachines: [...rw, 'power'], networks: rw, events: rw } }] };
const groupAdmin = { scopes: [{ group: 'g1', namespace: '', kinds: { namespaces: rw, images: rw, virtualmachines: rw, networks: rw } }] };
const admin = { scopes: [{ group: '', namespace: '', kinds: Object.fromEntries(kinds.map((k) => [k.plural, rw])) }] };
const K = (n) => kinds.find((k) => k.name === n);
const paths = (xs) => xs.map((x) => x.path).sort();

test('an operator\'s "Used by" lists only its own namespace', () => {
  const net = { meta: { id: 'net1', group: 'g1', namespace: 'ns1' } };
  assert.deepEqual(paths(candidates(operator, kinds, K('network'), net)), [
    '/api/v0/groups/g1/namespaces/ns1/networks', '/api/v0/groups/g1/namespaces/ns1/virtualmachines']);
  // a cluster object: an operator has no cluster-wide grant, so nothing is asked
  assert.deepEqual(candidates(operator, kinds, K('node'), { meta: { id: 'n1' } }), []);
  // a group object (an image of g1): the operator may list nothing at the group
  assert.deepEqual(candidates(operator, kinds, K('image'), { meta: { id: 'i', group: 'g1' } }), []);
});

test('a group admin stays in its group; an admin\'s cluster lists skip events', () => {
  const img = { meta: { id: 'deb', group: 'g1' } };
  assert.deepEqual(paths(candidates(groupAdmin, kinds, K('image'), img)), [
    '/api/v0/groups/g1/images', '/api/v0/groups/g1/namespaces', '/api/v0/groups/g1/networks', '/api/v0/groups/g1/virtualmachines']);
  const all = paths(candidates(admin, kinds, K('node'), { meta: { id: 'n1' } }));
  assert.ok(!all.includes('/api/v0/events'));
  assert.ok(all.includes('/api/v0/virtualmachines'));
});

test('delete contents: a namespace\'s kinds at that namespace, a group\'s at that group', () => {
  assert.deepEqual(paths(contentLists(operator, kinds, K('namespace'), { meta: { id: 'ns1', group: 'g1' } })), [
    '/api/v0/groups/g1/namespaces/ns1/networks', '/api/v0/groups/g1/namespaces/ns1/virtualmachines']);
  assert.deepEqual(contentLists(operator, kinds, K('namespace'), { meta: { id: 'ns2', group: 'g1' } }), [], 'not its namespace');
  assert.deepEqual(paths(contentLists(groupAdmin, kinds, K('group'), { meta: { id: 'g1' } })), [
    '/api/v0/groups/g1/images', '/api/v0/groups/g1/namespaces', '/api/v0/groups/g1/networks', '/api/v0/groups/g1/virtualmachines']);
  assert.deepEqual(contentLists(groupAdmin, kinds, K('group'), { meta: { id: 'g2' } }), []);
});
