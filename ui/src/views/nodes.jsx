// The nodes with their capacity (spec.limitVcpus/limitMemory/limitStorage
// and what the API server lets be placed: status.allocatable) and what is
// allocated (status.allocatedVcpus/Memory/Storage, the reservations), live.
import { canWatch } from '../lib/access.js';
import { kindByName, objectRoute } from '../lib/kinds.js';
import { useList } from '../lib/watch.js';
import { useAccessCtx } from '../lib/whoami.js';
import { ReadyCell, stateOf } from './cells.jsx';

const gib = (b) => (b === undefined ? '-' : b < 0 ? 'no limit' : (b / 2 ** 30).toFixed(1) + ' GiB');
const cpu = (m) => (m === undefined ? '-' : m < 0 ? 'no limit' : (m / 1000).toString());

function Capacity({ n }) {
  const s = n.spec || {}, a = n.status?.allocatable || {};
  return (
    <dl class="kv">
      <dt>vCPUs</dt><dd>{s.limitVcpus || '-'} <span class="muted">(allocatable {cpu(a.milliCPU)})</span></dd>
      <dt>memory</dt><dd>{s.limitMemory || '-'} <span class="muted">(allocatable {gib(a.memory)})</span></dd>
      <dt>storage</dt><dd>{s.limitStorage || '-'} <span class="muted">(allocatable {gib(a.storage)})</span></dd>
    </dl>
  );
}

function Allocated({ n }) {
  const st = n.status || {};
  return (
    <dl class="kv">
      <dt>vCPUs</dt><dd>{st.allocatedVcpus || '0'}</dd>
      <dt>memory</dt><dd>{st.allocatedMemory || '0'}</dd>
      <dt>storage</dt><dd>{st.allocatedStorage || '0'}</dd>
      <dt>reservations</dt><dd>{Object.keys(st.reservations || {}).length}</dd>
    </dl>
  );
}

export function Nodes() {
  const { who, kinds } = useAccessCtx();
  const allowed = canWatch(who, 'nodes');
  const { items, loaded, error } = useList(allowed ? '/api/v0/nodes' : null, 3);
  const nk = kindByName(kinds, 'node');
  if (!allowed) return <p role="alert" class="error">You may not list nodes.</p>;
  return (
    <section aria-labelledby="h-nodes"><h1 id="h-nodes">Nodes</h1>
      {error && <p role="alert" class="error">{error.message}</p>}
      <div class="table-wrap"><table data-testid="list-nodes" aria-labelledby="h-nodes">
        <thead><tr><th scope="col">Node</th><th scope="col">State</th><th scope="col">Ready</th>
          <th scope="col">Schedulable</th><th scope="col">Capacity</th><th scope="col">Allocated</th></tr></thead>
        <tbody>
          {items.map((n) => (
            <tr key={n.meta.id} data-testid={`row-${n.meta.id}`}>
              <td><a href={objectRoute(nk, n.meta)}>{n.meta.id}</a></td>
              <td data-testid="state">{stateOf(n)}</td>
              <td><ReadyCell obj={n} /></td>
              <td>{n.spec?.unschedulable ? 'no (cordoned)' : 'yes'}</td>
              <td data-testid="capacity"><Capacity n={n} /></td>
              <td data-testid="allocated"><Allocated n={n} /></td>
            </tr>
          ))}
          {loaded && items.length === 0 && <tr><td colSpan={6} class="muted">no nodes</td></tr>}
          {!loaded && !error && <tr><td colSpan={6} class="muted">loading…</td></tr>}
        </tbody>
      </table></div>
    </section>
  );
}
