import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { parsePath, fieldLine, syntaxErrors, docLine } from '../../src/lib/yamlerrors.js';

test('parsePath reads keys, indexes and quoted keys', () => {
  assert.deepEqual(parsePath('spec.nics[0].ipv4Address'), ['spec', 'nics', 0, 'ipv4Address']);
  assert.deepEqual(parsePath('meta.annotations["snapshotv0/restore"]'), ['meta', 'annotations', 'snapshotv0/restore']);
});

const text = `meta:
  apiType: systemv0/network
  id: net1
---
meta:
  apiType: systemv0/virtualmachine
  id: vm1
  annotations:
    virtualmachinev0/node_name: n1
spec:
  nics:
    - networkID: net1
      ipv4Address: 10.0.0.999
  blockStorageIDs: [bs1, bs2]
`;

test('fieldLine finds the line of a field in its document', () => {
  const docs = parseAllDocuments(text);
  assert.equal(docLine(text, docs[1]), 5);
  assert.deepEqual(fieldLine(text, docs[1], 'spec.nics[0].ipv4Address'), { line: 13, exact: true });
  assert.deepEqual(fieldLine(text, docs[1], 'spec.nics[0]'), { line: 12, exact: true });
  assert.deepEqual(fieldLine(text, docs[1], 'spec.blockStorageIDs[1]'), { line: 14, exact: true });
  assert.deepEqual(fieldLine(text, docs[1], 'meta.annotations["virtualmachinev0/node_name"]'), { line: 9, exact: true });
  // absent: the nearest parent present
  assert.deepEqual(fieldLine(text, docs[1], 'spec.requestMemory'), { line: 10, exact: false });
  assert.deepEqual(fieldLine(text, docs[0], 'spec.ipv4CIDR'), { line: 1, exact: false });
});

test('syntaxErrors gives the line of a YAML error', () => {
  const bad = 'meta:\n  id: a\nspec:\n  x: [1, 2\n  y: 3\n';
  const docs = parseAllDocuments(bad);
  const errs = syntaxErrors(bad, docs[0]);
  assert.ok(errs.length > 0);
  assert.ok(errs[0].line >= 4, JSON.stringify(errs));
});
