// Resets, the pure part (unit-tested): a reset's id as humcli makes it,
// its progress over its VMs' restore steps, and the queue's order.
const pad = (n) => String(n).padStart(2, '0');

// resetID names a reset as humcli does: reset-YYYYMMDD-HHMMSS-<4 hex>.
export function resetID(now = new Date()) {
  const d = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const t = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  const r = Array.from(crypto.getRandomValues(new Uint8Array(2)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `reset-${d}-${t}-${r}`;
}

const stepRank = { Fetching: 1, Stopping: 2, RestoringDisks: 3, RestoringMemory: 4, Booting: 4, Done: 5 };

// resetProgress is the share (0..1) of the reset's steps done over its VMs.
export function resetProgress(r) {
  const ph = r.status?.phase;
  if (ph === 'Succeeded') return 1;
  const vms = r.status?.vms || [];
  if (!vms.length) return 0;
  return vms.reduce((a, v) => a + (stepRank[v.step] || 0) / 5, 0) / vms.length;
}

// sortResets: running, then queued by position, then finished, newest first.
export function sortResets(list) {
  const rank = (r) => ({ Running: 0, Queued: 1, '': 1 }[r.status?.phase || ''] ?? 2);
  return [...list].sort((a, b) => rank(a) - rank(b)
    || (a.status?.position || 0) - (b.status?.position || 0)
    || String(b.status?.finishedAt || b.meta.id).localeCompare(String(a.status?.finishedAt || a.meta.id)));
}

