// What a VM's power buttons may do, from its spec.actionState and
// status.state. Pure (unit-tested).
const moving = new Set(['Pending', 'Starting', 'Stopping', 'Migrating']);

// powerView says the state to show and which actions are open. A VM is
// "moving" while its state is a transition or differs from what
// actionState asks for; then both buttons wait.
export function powerView(vm) {
  const state = vm?.status?.state || '-';
  const want = vm?.spec?.actionState || 'PowerOn';
  const settled = want === 'PowerOn' ? state === 'Running' || state === 'Error'
    : state === 'Stopped' || state === 'Error' || state === '-';
  const busy = moving.has(state) || !settled;
  return {
    state,
    busy,
    canOn: !busy && state !== 'Running',
    canOff: !busy && state !== 'Stopped',
  };
}
