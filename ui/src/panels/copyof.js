// Which environment copy a namespace is. A copy's namespace carries the
// annotations environmentv0/environment and environmentv0/copy (written by
// the environment controller; only a group grant may); every VM the
// controller stamps carries environmentv0/environment. Pure (unit-tested).
export const ANN_ENV = 'environmentv0/environment';
export const ANN_COPY = 'environmentv0/copy';

// copyOfVMs finds the environment and copy of namespace ns from its VMs:
// the controller marks each VM it stamps with environmentv0/environment,
// and a copy's namespace is "<environment>-<copy>". Pure (unit-tested).
export function copyOfVMs(vms, ns) {
  for (const vm of vms) {
    const env = vm.meta.annotations?.[ANN_ENV];
    if (env && ns.startsWith(env + '-') && ns.length > env.length + 1) return { env, copy: ns.slice(env.length + 1) };
  }
  return null;
}
