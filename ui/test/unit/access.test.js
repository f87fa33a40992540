import { test } from 'node:test';
import assert from 'node:assert/strict';
import { can, kindsAt, treeOf, canAnywhere } from '../../src/lib/access.js';

const kinds = [
  { name: 'group', plural: 'groups', scope: 'cluster', rank: 0 },
  { name: 'node', plural: 'nodes', scope: 'cluster', rank: 2 },
  { name: 'namespace', plural: 'namespaces', scope: 'group', rank: 1 },
  { name: 'virtualmachine', plural: 'virtualmachines', scope: 'namespace', rank: 7 },
  { name: 'network', plural: 'networks', scope: 'namespace', rank: 4 },
];
const rw = ['get', 'list', 'watch'];
const operator = { scopes: [{ group: 'g1', namespace: 'ns1', kinds: { virtualmachines: [...rw, 'power'], events: rw } }] };
const groupAdmin = { scopes: [{ group: 'g1', namespace: '', kinds: { namespaces: rw, virtualmachines: rw, networks: rw } }] };
const admin = { scopes: [{ group: '', namespace: '', kinds: Object.fromEntries(kinds.map((k) => [k.plural, rw])) }] };

test('an operator may act only in its namespace', () => {
  assert.ok(can(operator, 'list', 'virtualmachines', 'g1', 'ns1'));
  assert.ok(can(operator, 'power', 'virtualmachines', 'g1', 'ns1'));
  assert.ok(!can(operator, 'list', 'virtualmachines', 'g1', 'ns2'));
  assert.ok(!can(operator, 'list', 'virtualmachines', 'g1'));
  assert.ok(!can(operator, 'list', 'networks', 'g1', 'ns1'));
  assert.ok(!can(operator, 'list', 'nodes'));
  assert.ok(canAnywhere(operator, 'list', 'events'));
  assert.deepEqual(kindsAt(operator, kinds, 'namespace', 'g1', 'ns1').map((k) => k.plural), ['virtualmachines']);
  assert.deepEqual(kindsAt(operator, kinds, 'cluster'), []);
  assert.deepEqual(treeOf(operator), { listGroups: false, listAllNamespaces: false,
    groups: [{ name: 'g1', listNamespaces: false, namespaces: ['ns1'] }] });
});

test('a group grant covers its namespaces, not other groups', () => {
  assert.ok(can(groupAdmin, 'list', 'networks', 'g1', 'anyns'));
  assert.ok(can(groupAdmin, 'list', 'namespaces', 'g1'));
  assert.ok(!can(groupAdmin, 'list', 'networks', 'g2', 'ns1'));
  assert.deepEqual(kindsAt(groupAdmin, kinds, 'namespace', 'g1', 'x').map((k) => k.plural), ['networks', 'virtualmachines']);
  assert.equal(treeOf(groupAdmin).groups[0].listNamespaces, true);
  assert.equal(treeOf(groupAdmin).listGroups, false);
});

test('a cluster-wide grant lists groups and everything', () => {
  assert.ok(can(admin, 'list', 'nodes'));
  assert.ok(can(admin, 'list', 'networks', 'g9', 'n9'));
  assert.equal(treeOf(admin).listGroups, true);
  assert.equal(treeOf(admin).listAllNamespaces, true);
  assert.ok(!can(null, 'list', 'nodes'));
});

test('canWatch needs both list and watch at the place', async () => {
  const { canWatch } = await import('../../src/lib/access.js');
  const listOnly = { scopes: [{ group: 'g1', namespace: 'ns1', kinds: { virtualmachines: ['get', 'list'] } }] };
  assert.ok(canWatch(operator, 'virtualmachines', 'g1', 'ns1'));
  assert.ok(!canWatch(operator, 'virtualmachines', 'g1', 'ns2'));
  assert.ok(!canWatch(listOnly, 'virtualmachines', 'g1', 'ns1'));
  assert.ok(canWatch(admin, 'nodes'));
  assert.ok(!canWatch(null, 'nodes'));
});
