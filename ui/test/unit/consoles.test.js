// Unit tests of the consoles' and panels' pure modules: paths, power buttons, resets, copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeText, consoleHref, vmPath } from '../../src/consoles/paths.js';
import { powerView } from '../../src/panels/vmstate.js';
import { resetID, resetProgress, sortResets } from '../../src/panels/resetq.js';

test('console paths: API, full page and link page', () => {
  assert.equal(vmPath('g 1', 'ns', 'vm1'), '/api/v0/groups/g%201/namespaces/ns/virtualmachines/vm1');
  assert.equal(consoleHref({ group: 'g', namespace: 'n', id: 'v' }, 'vnc'), '#/console/g/n/v/vnc');
  assert.equal(consoleHref({ group: 'g', namespace: 'n', id: 'v', link: 'tok' }, 'serial'), '#/link/tok/v/serial');
  assert.equal(closeText(1008, 'console link expired'), 'console link expired');
  assert.equal(closeText(1006, ''), 'connection failed or lost (1006)');
  assert.equal(closeText(4000, ''), 'closed (4000)');
});

test('power buttons: off whenever asked to run, on when asked off and not stopping', () => {
  const vm = (actionState, state) => ({ spec: { actionState }, status: { state } });
  assert.deepEqual(powerView(vm('PowerOn', 'Running')), { state: 'Running', busy: false, canOn: false, canOff: true });
  assert.deepEqual(powerView(vm('PowerOff', 'Stopped')), { state: 'Stopped', busy: false, canOn: true, canOff: false });
  assert.equal(powerView(vm('PowerOff', 'Running')).busy, true); // asked off, still running
  assert.equal(powerView(vm('PowerOn', 'Starting')).canOff, true, 'a starting VM may be stopped');
  assert.equal(powerView(vm('PowerOn', 'Pending')).canOff, true, 'a VM stuck Pending may be stopped');
  assert.deepEqual(powerView({ spec: { actionState: 'PowerOn' }, status: {} }), { state: '-', busy: true, canOn: false, canOff: true }, 'unplaced');
  assert.equal(powerView(vm('PowerOff', 'Running')).canOff, false, 'already asked off');
  assert.equal(powerView(vm('PowerOff', 'Stopping')).canOn, false);
  assert.equal(powerView(vm('PowerOff', '')).canOn, true);
  assert.equal(powerView(vm('PowerOn', 'Error')).canOn, true);
  assert.equal(powerView({ spec: {}, status: {} }).state, '-');
});

test('resets: id, progress, order', () => {
  assert.match(resetID(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), /^reset-20260102-030405-[0-9a-f]{4}$/);
  const r = (phase, extra = {}) => ({ meta: { id: extra.id || phase }, spec: {}, status: { phase, ...extra } });
  assert.equal(resetProgress(r('Succeeded')), 1);
  assert.equal(resetProgress(r('Queued')), 0);
  assert.equal(resetProgress(r('Running', { vms: [{ step: 'Done' }, { step: 'Stopping' }] })), 0.7);
  const order = sortResets([r('Succeeded', { id: 'a', finishedAt: '2026-01-01T00:00:00Z' }), r('Queued', { id: 'q2', position: 2 }),
    r('Running', { id: 'run' }), r('Queued', { id: 'q1', position: 1 }), r('Failed', { id: 'b', finishedAt: '2026-01-02T00:00:00Z' })]);
  assert.deepEqual(order.map((x) => x.meta.id), ['run', 'q1', 'q2', 'b', 'a']);
});

test('a copy namespace is found from its VMs', async () => {
  const { copyOfVMs } = await import('../../src/panels/copyof.js');
  const vm = (env) => ({ meta: { id: 'web', annotations: env ? { 'environmentv0/environment': env } : {} } });
  assert.deepEqual(copyOfVMs([vm(''), vm('ctf')], 'ctf-team1'), { env: 'ctf', copy: 'team1' });
  assert.equal(copyOfVMs([vm('ctf')], 'other-team1'), null);
  assert.equal(copyOfVMs([vm('ctf')], 'ctf-'), null);
  assert.equal(copyOfVMs([], 'ctf-team1'), null);
});

test('paths: one builder for API paths and routes', async () => {
  const { collectionPath, objectPath, objectRoute, placeRoute, VM, RESET, ENV } = await import('../../src/lib/paths.js');
  assert.equal(collectionPath(VM, 'g', 'n'), '/api/v0/groups/g/namespaces/n/virtualmachines');
  assert.equal(collectionPath(RESET, 'g'), '/api/v0/groups/g/resets');
  assert.equal(objectPath(ENV, { group: 'g', id: 'ctf' }), '/api/v0/groups/g/environments/ctf');
  assert.equal(objectRoute(VM, { group: 'g', namespace: 'n', id: 'v 1' }), '#/g/g/ns/n/virtualmachines/v%201');
  assert.equal(placeRoute('g', 'n'), '#/g/g/ns/n');
});
