// applyOne against a faked API: create keeps the answer (one-time
// secrets), update sends the stored resourceVersion and annotations, a
// 409 is retried, and the object is matched in its own namespace only.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fakeBrowser, fakeFetch, envelope } from './fakes.js';
import { applyOne } from '../../src/lib/applier.js';
import { secretsOf } from '../../src/lib/secrets.js';

const vmKind = { apiType: 'systemv0/virtualmachine', name: 'virtualmachine', plural: 'virtualmachines', scope: 'namespace', rank: 7 };
const tokenKind = { apiType: 'corev0/token', name: 'token', plural: 'tokens', scope: 'cluster', rank: 1 };

beforeEach(() => fakeBrowser({ token: 'adm' }));

test('a created token keeps the answer and its one-time secret', async () => {
  const calls = fakeFetch((r) => {
    if (r.method === 'GET') return envelope(404, null, { error: 'not found' });
    return envelope(201, { token: { ...r.body, status: { salt: 'aa', hash: 'bb', token: 'hs_SECRET' } } });
  });
  const { result, obj } = await applyOne(tokenKind, { meta: { apiType: 'corev0/token', id: 't1' }, spec: { owner: 'bob' } });
  assert.equal(result, 'created');
  assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ['GET /api/v0/tokens/t1', 'POST /api/v0/tokens']);
  assert.equal(calls[1].headers.Authorization, 'Bearer adm');
  assert.deepEqual(secretsOf(obj, 'https://h'), [{ key: 'token', label: 'Bearer token', value: 'hs_SECRET', href: '' }]);
});

test('a created console link shows its token and an absolute page URL', () => {
  const s = secretsOf({ status: { token: 'L1', uiURL: '/ui/#/link/L1', serialURL: '/api/v0/x/serial?link=L1' } }, 'https://h:8080');
  assert.deepEqual(s.map((x) => [x.key, x.value, x.href]), [
    ['token', 'L1', ''], ['uiURL', 'https://h:8080/ui/#/link/L1', 'https://h:8080/ui/#/link/L1'],
    ['serialURL', '/api/v0/x/serial?link=L1', '']]);
  assert.equal(s[0].label, 'Link token');
  assert.deepEqual(secretsOf({ status: { state: 'Running' } }), []);
  assert.deepEqual(secretsOf(null), []);
});

test('applyOne via the list matches the object in its own namespace only', async () => {
  const other = { meta: { id: 'vm1', group: 'g1', namespace: 'ns2', resourceVersion: '5' } };
  const calls = fakeFetch((r) => {
    if (r.method === 'GET') return envelope(200, { virtualmachines: [other] }, { resourceVersion: '9' });
    return envelope(201, { virtualmachine: r.body });
  });
  const { result } = await applyOne(vmKind, { meta: { apiType: vmKind.apiType, id: 'vm1', group: 'g1', namespace: 'ns1' }, spec: {} }, true);
  assert.equal(result, 'created', 'ns2\'s vm1 is not this object');
  assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), [
    'GET /api/v0/groups/g1/namespaces/ns1/virtualmachines', 'POST /api/v0/groups/g1/namespaces/ns1/virtualmachines']);
});

test('applyOne updates with the stored resourceVersion and annotations, retries a 409, tells unchanged', async () => {
  let rv = 3, conflicts = 1;
  const stored = () => ({ meta: { apiType: vmKind.apiType, id: 'vm1', group: 'g1', namespace: 'ns1', resourceVersion: String(rv), annotations: { 'agent/x': '1', keep: 'old' } }, spec: { cpus: 1 } });
  const calls = fakeFetch((r) => {
    if (r.method === 'GET') return envelope(200, { virtualmachine: stored() });
    if (conflicts-- > 0) { rv++; return envelope(409, null, { error: 'conflict', reason: 'Conflict' }); }
    const changed = JSON.stringify(r.body.spec) !== JSON.stringify(stored().spec);
    if (changed) rv++;
    return envelope(200, { virtualmachine: { ...r.body, meta: { ...r.body.meta, resourceVersion: String(rv) } } });
  });
  const doc = { meta: { apiType: vmKind.apiType, id: 'vm1', group: 'g1', namespace: 'ns1', annotations: { keep: 'new' } }, spec: { cpus: 2 } };
  const { result, obj } = await applyOne(vmKind, doc);
  assert.equal(result, 'updated');
  const puts = calls.filter((c) => c.method === 'PUT');
  assert.equal(puts.length, 2, 'the 409 was retried');
  assert.equal(puts[0].body.meta.resourceVersion, '3');
  assert.equal(puts[1].body.meta.resourceVersion, '4', 'the retry read the new version');
  assert.deepEqual(puts[1].body.meta.annotations, { 'agent/x': '1', keep: 'new' });
  assert.equal(puts[1].path, '/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1');
  assert.equal(obj.spec.cpus, 2);
  // applying the stored spec again changes nothing
  const same = await applyOne(vmKind, { ...doc, spec: stored().spec });
  assert.equal(same.result, 'unchanged');
});

test('applyOne gives up after three conflicts and throws other errors at once', async () => {
  let n = 0;
  fakeFetch((r) => (r.method === 'GET' ? envelope(200, { virtualmachine: { meta: { id: 'vm1', resourceVersion: '1' } } })
    : (n++, envelope(409, null, { error: 'conflict' }))));
  await assert.rejects(applyOne(vmKind, { meta: { id: 'vm1', group: 'g', namespace: 'n' } }), (e) => e.status === 409);
  assert.equal(n, 3);
  const calls = fakeFetch(() => envelope(403, null, { error: 'forbidden' }));
  await assert.rejects(applyOne(vmKind, { meta: { id: 'vm1', group: 'g', namespace: 'n' } }), (e) => e.status === 403);
  assert.equal(calls.length, 1);
});
