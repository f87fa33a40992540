import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepare, order, nameOf } from '../../src/lib/applier.js';

const kinds = [
  { apiType: 'corev0/group', name: 'group', plural: 'groups', scope: 'cluster', rank: 0 },
  { apiType: 'corev0/namespace', name: 'namespace', plural: 'namespaces', scope: 'group', rank: 1 },
  { apiType: 'systemv0/virtualmachine', name: 'virtualmachine', plural: 'virtualmachines', scope: 'namespace', rank: 7 },
];

test('prepare fills the default scope, orders owners first and names bad documents', () => {
  const text = `meta: {apiType: systemv0/virtualmachine, id: vm1}
---
# only a comment
---
meta: {apiType: corev0/namespace, id: ns1}
---
meta: {apiType: corev0/group, id: g1}
---
meta: {apiType: corev0/nosuch, id: x}
---
spec: {}
`;
  const items = prepare(text, kinds, { g: 'g1', ns: 'ns1' });
  assert.equal(items.length, 5);
  assert.deepEqual(items.map((i) => i.line), [1, 5, 7, 9, 11]);
  assert.deepEqual(items[0].obj.meta, { apiType: 'systemv0/virtualmachine', id: 'vm1', group: 'g1', namespace: 'ns1' });
  assert.deepEqual(items[1].obj.meta, { apiType: 'corev0/namespace', id: 'ns1', group: 'g1' });
  assert.equal(items[2].obj.meta.group, undefined, 'a cluster kind gets no group');
  assert.match(items[3].error, /meta.apiType: unknown kind "corev0\/nosuch"/);
  assert.match(items[4].error, /meta is missing/);
  assert.deepEqual(order(items).map((i) => nameOf(i.kind, i.obj.meta)), ['group/g1', 'namespace/g1/ns1', 'virtualmachine/g1/ns1/vm1']);
});

test('prepare reports a YAML syntax error at its line and sends nothing of that document', () => {
  const items = prepare('meta:\n  apiType: corev0/group\n  id: [g1\n', kinds);
  assert.equal(items.length, 1);
  assert.equal(items[0].obj, null);
  assert.ok(items[0].syntax.length > 0 && items[0].syntax[0].line >= 3, JSON.stringify(items[0].syntax));
});

test('prepare refuses a missing or bad group/namespace as humcli does, at the field', () => {
  const text = `meta: {apiType: systemv0/virtualmachine, id: vm-ns2, group: g1}
---
meta: {apiType: systemv0/virtualmachine, id: vm1}
---
meta: {apiType: corev0/namespace, id: Bad_Id, group: g1}
---
meta: {apiType: virtualmachine, id: vm1, group: g1, namespace: ns1}
`;
  const items = prepare(text, kinds);
  assert.deepEqual(items[0].fields, [{ field: 'meta.namespace', detail: 'required' }]);
  assert.equal(items[0].obj, null, 'nothing is sent');
  assert.deepEqual(items[1].fields.map((f) => f.field), ['meta.group', 'meta.namespace']);
  assert.match(items[2].fields[0].detail, /invalid id "Bad_Id"/);
  assert.match(items[3].error, /unknown kind "virtualmachine"/, 'a kind name is not an apiType');
  assert.deepEqual(order(items), []);
  // defaults fill the scope; then it passes
  const ok = prepare(text.split('---')[1], kinds, { g: 'g1', ns: 'ns1' });
  assert.deepEqual(ok[0].fields, []);
  assert.ok(ok[0].obj);
});

test('prepare reports a document that cannot be converted instead of throwing', () => {
  const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n' +
    'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n' +
    'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n';
  const items = prepare(bomb, kinds);
  assert.equal(items.length, 1);
  assert.ok(items[0].error || items[0].syntax.length, JSON.stringify(items[0].error));
});

test('a document that is a list of objects is its items, each located', async () => {
  const { fieldPath } = await import('../../src/lib/applier.js');
  const { fieldLine } = await import('../../src/lib/yamlerrors.js');
  const text = `- meta: {apiType: corev0/group, id: g1}
- meta: {apiType: corev0/namespace, id: ns1}
`;
  const items = prepare(text, kinds);
  assert.equal(items.length, 2);
  assert.equal(items[0].obj.meta.id, 'g1');
  assert.deepEqual(items[1].fields, [{ field: 'meta.group', detail: 'required' }]);
  assert.equal(items[1].line, 2);
  assert.equal(fieldLine(text, items[1].doc, fieldPath(items[1], 'meta.group')).line, 2);
});
