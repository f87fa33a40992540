import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refsOf, refersTo, refKind } from '../../src/lib/refs.js';

const kinds = [
  { name: 'network', scope: 'namespace' }, { name: 'blockstorage', scope: 'namespace' },
  { name: 'virtualrouter', scope: 'namespace' }, { name: 'image', scope: 'group' },
  { name: 'imageentity', scope: 'group' }, { name: 'externalippool', scope: 'cluster' },
  { name: 'virtualmachine', scope: 'namespace' },
];

test('refKind maps keys to kinds and ignores names that are not objects', () => {
  assert.equal(refKind('networkID', kinds).name, 'network');
  assert.equal(refKind('blockStorageIDs', kinds).name, 'blockstorage');
  assert.equal(refKind('poolID', kinds).name, 'externalippool');
  assert.equal(refKind('imageName', kinds).name, 'image');
  assert.equal(refKind('bridgeName', kinds), null);
  assert.equal(refKind('id', kinds), null);
  assert.equal(refKind('uid', kinds), null);
});

test('refsOf walks the spec and places references', () => {
  const vm = { meta: { id: 'vm1', group: 'g', namespace: 'n' },
    spec: { blockStorageIDs: ['bs1', 'bs2'], nics: [{ networkID: 'net1', ipv4Address: '10.0.0.1' }] } };
  const r = refsOf(vm, kinds).map((x) => [x.field, x.kind.name, x.id, x.group, x.namespace]);
  assert.deepEqual(r, [
    ['spec.blockStorageIDs[0]', 'blockstorage', 'bs1', 'g', 'n'],
    ['spec.blockStorageIDs[1]', 'blockstorage', 'bs2', 'g', 'n'],
    ['spec.nics[0].networkID', 'network', 'net1', 'g', 'n'],
  ]);
  const ie = { meta: { id: 'ie1', group: 'g' }, spec: { source: { namespace: 'ns9', blockStorageID: 'bs1' } } };
  assert.deepEqual(refsOf(ie, kinds).map((x) => [x.kind.name, x.id, x.group, x.namespace]), [['blockstorage', 'bs1', 'g', 'ns9']]);
  const tpl = { meta: { id: 't', group: 'g' }, spec: { resources: [{ spec: { poolID: 'p1', from: { baseImage: { imageName: '${image}' } } } }] } };
  assert.deepEqual(refsOf(tpl, kinds).map((x) => x.id), ['p1']);
  const bs = { meta: { id: 'bs1', group: 'g', namespace: 'n' } };
  assert.ok(refersTo(vm, kinds, kinds[1], bs));
  assert.ok(!refersTo(vm, kinds, kinds[1], { meta: { id: 'bs1', group: 'g', namespace: 'other' } }));
});
