// Small pieces the lists and the object page share: an object's state,
// its Ready condition, its node, its age and its transfer progress, all
// read generically from meta and status.

export const stateOf = (o) => o?.status?.state || o?.status?.phase || '-';

export function readyOf(o) {
  const c = (o?.status?.conditions || []).find((x) => x.type === 'Ready');
  return c ? { status: c.status, reason: c.reason || '', message: c.message || '' } : null;
}

// nodeOf is where the object is placed: a kind's "<kind>v0/node_name"
// annotation (VMs, disks, routers), or status.node (image entities).
export function nodeOf(o) {
  const a = o?.meta?.annotations || {};
  const k = Object.keys(a).find((x) => x.endsWith('/node_name'));
  return (k && a[k]) || o?.status?.node || '';
}

export function age(ts) {
  if (!ts) return '-';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return s + 's';
  if (s < 7200) return Math.floor(s / 60) + 'm';
  if (s < 172800) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

const mib = (b) => (b / 1048576).toFixed(1) + ' MiB';

// transferOf reads a transfer's bytes from a status: a disk's download
// (downloadedBytes/totalBytes) or a migration's disk copies.
export function transferOf(st) {
  if (!st) return null;
  if (st.totalBytes > 0 || st.downloadedBytes > 0) return { done: st.downloadedBytes || 0, total: st.totalBytes || 0 };
  if (Array.isArray(st.disks) && st.disks.some((d) => d.totalBytes > 0)) {
    return st.disks.reduce((a, d) => ({ done: a.done + (d.copiedBytes || 0), total: a.total + (d.totalBytes || 0) }), { done: 0, total: 0 });
  }
  if (busy.includes(st.state)) return { done: 0, total: 0, busy: true };
  return null;
}

// busy states are transfers that report no byte counts (an image entity
// copying its source): shown as an indeterminate progress bar.
const busy = ['Queued', 'Downloading', 'Copying'];

// Progress shows a running transfer: a <progress> with the percent, or the
// bytes so far when the total is unknown. Nothing once it is complete and
// the object is past it (a disk Active with all bytes is just Active).
export function Progress({ obj }) {
  const t = transferOf(obj?.status);
  if (!t) return null;
  if (t.busy) {
    return <span class="progress"><progress data-testid="progress" aria-label={obj.status.state} /> {obj.status.state}</span>;
  }
  if (t.total > 0) {
    const pct = Math.min(100, Math.floor((t.done * 100) / t.total));
    return (
      <span class="progress">
        <progress data-testid="progress" max={t.total} value={t.done} aria-label={`${pct}%`}>{pct}%</progress>
        {' '}{pct}% ({mib(t.done)} / {mib(t.total)})
      </span>
    );
  }
  return <span class="progress" data-testid="progress">{mib(t.done)}</span>;
}

export function ReadyCell({ obj }) {
  const r = readyOf(obj);
  if (!r) return <>-</>;
  return <span class={'cond cond-' + r.status} title={r.message}>{r.status}{r.reason ? ` (${r.reason})` : ''}</span>;
}
