// Resets: creating one in a copy's namespace (as `humcli env reset` does)
// and the live queue of resets with each VM's step.
import { post } from '../lib/api.js';
import { resetID, resetProgress, sortResets } from './resetq.js';
import { RESET, collectionPath } from '../lib/paths.js';


// createReset asks for a reset of the copy whose namespace is namespace
// (the object `humcli env reset` creates: an id, the copy's namespace, an
// empty spec: priority 0, now, warm when the golden state allows).
export function createReset(group, namespace) {
  const obj = { meta: { apiType: 'corev0/reset', id: resetID(), group, namespace }, spec: {} };
  return post(collectionPath(RESET, group, namespace), obj);
}

function Steps({ vms }) {
  if (!vms?.length) return '-';
  return vms.map((v) => <div key={v.id}>{v.id}: {v.step || '-'}{v.mode ? ` (${v.mode})` : ''}{v.message ? ` — ${v.message}` : ''}</div>);
}

// ResetQueue is the table of resets (live: the caller's useList).
export function ResetQueue({ resets, error, max = 30 }) {
  const rows = sortResets(resets).slice(0, max);
  return (
    <>
      {error && <p role="alert" class="error">{error.message}</p>}
      <table data-testid="reset-queue" class="table">
        <caption>Reset queue</caption>
        <thead><tr><th>Reset</th><th>Copy</th><th>State</th><th>Priority</th><th>Position</th><th>Progress</th><th>VMs</th><th>Took</th></tr></thead>
        <tbody>
          {rows.map((r) => {
            const s = r.status || {};
            const p = Math.round(resetProgress(r) * 100);
            return (
              <tr key={r.meta.namespace + '/' + r.meta.id} data-testid={`reset-${r.meta.id}`}>
                <td>{r.meta.id}</td>
                <td>{s.copy || r.meta.namespace}</td>
                <td data-testid="reset-state" title={s.message || ''}>{s.phase || 'Queued'}{s.message ? `: ${s.message}` : ''}</td>
                <td>{r.spec?.priority || 0}</td>
                <td data-testid="reset-position">{s.phase === 'Queued' && s.position ? s.position : '-'}</td>
                <td><progress data-testid="progress" max="100" value={p} aria-label={`${r.meta.id} progress`}>{p}%</progress> {p}%</td>
                <td data-testid="reset-steps"><Steps vms={s.vms} /></td>
                <td>{s.tookSeconds ? `${s.tookSeconds.toFixed(1)} s` : '-'}</td>
              </tr>
            );
          })}
          {!rows.length && <tr><td colSpan="8" class="muted">No resets.</td></tr>}
        </tbody>
      </table>
    </>
  );
}
