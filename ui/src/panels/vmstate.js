// What a VM's power buttons may do, from its spec.actionState and
// status.state. Pure (unit-tested).
const moving = new Set(['Starting', 'Stopping', 'Migrating']);

// powerView says the state to show and which actions are open. Power off
// is open whenever the VM is asked to run (actionState PowerOn), even
// while it waits to be placed or starts: a VM stuck Pending must still be
// stoppable (humcli power can do it; the request is idempotent). Power on
// is open when the VM is asked to be off and is not still stopping, or
// when it failed (Error) and may be retried.
// busy: the state is a transition or differs from what actionState asks.
export function powerView(vm) {
  const state = vm?.status?.state || '-';
  const want = vm?.spec?.actionState || 'PowerOn';
  const settled = want === 'PowerOn' ? state === 'Running' || state === 'Error'
    : state === 'Stopped' || state === 'Error' || state === '-';
  const busy = moving.has(state) || state === 'Pending' || !settled;
  return {
    state,
    busy,
    canOn: want === 'PowerOn' ? state === 'Error' : state !== 'Stopping',
    canOff: want === 'PowerOn',
  };
}
