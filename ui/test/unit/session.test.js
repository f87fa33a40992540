import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkOf } from '../../src/lib/session.js';

test('linkOf finds the console-link token of a hash and nothing else', () => {
  assert.equal(linkOf('#/link/abc_DEF-1'), 'abc_DEF-1');
  assert.equal(linkOf('#/link/abc/vm1/serial'), 'abc');
  assert.equal(linkOf('#/link/abc?x=1'), 'abc');
  assert.equal(linkOf('#/g/g1/ns/n1'), '');
  assert.equal(linkOf('#/c/links/abc'), '');
  assert.equal(linkOf(''), '');
});
