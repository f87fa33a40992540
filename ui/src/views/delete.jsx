// Deleting an object, with the cascade it implies shown first: for a
// group or namespace everything inside it (each kind the caller may list
// there), for another object what refers to it (its deletion waits for
// them, or they lose what they use). Then DELETE; a 202 (finalizers
// remain) shows the object's live state until it is gone.
import { useEffect, useRef, useState } from 'preact/hooks';
import { del } from '../lib/api.js';
import { objectPath } from '../lib/kinds.js';
import { contentLists, findReferrers, listAll } from '../lib/referrers.js';
import { useAccessCtx } from '../lib/whoami.js';
import { stateOf } from './cells.jsx';

// contents lists [{kind, obj}] inside a group or namespace.
async function contents(who, kinds, kind, obj, signal) {
  const out = await listAll(contentLists(who, kinds, kind, obj), () => true, signal);
  return out.sort((a, b) => b.kind.rank - a.kind.rank || a.obj.meta.id.localeCompare(b.obj.meta.id));
}

const label = ({ kind, obj }) => `${kind.name} ${obj.meta.namespace ? obj.meta.namespace + '/' : ''}${obj.meta.id}`;

export function DeleteDialog({ kind, obj, live, onClose }) {
  const { who, kinds } = useAccessCtx();
  const ref = useRef(null);
  const [items, setItems] = useState(null);
  const [err, setErr] = useState(null);
  const [phase, setPhase] = useState('confirm'); // confirm, deleting, waiting, done
  const place = kind.name === 'group' || kind.name === 'namespace';
  useEffect(() => {
    ref.current?.showModal?.();
    const ctrl = new AbortController();
    (place ? contents(who, kinds, kind, obj, ctrl.signal) : findReferrers(who, kinds, kind, obj, ctrl.signal))
      .then(setItems, (e) => !ctrl.signal.aborted && setErr(e));
    return () => ctrl.abort();
  }, []);
  useEffect(() => { if (!live && phase !== 'confirm') setPhase('done'); }, [live]);
  const confirm = async () => {
    setPhase('deleting'); setErr(null);
    try {
      const env = await del(objectPath(kind, obj.meta));
      setPhase(env?.code === 202 ? 'waiting' : 'done');
    } catch (e) { setErr(e); setPhase('confirm'); }
  };
  const close = () => { ref.current?.close?.(); onClose(); };
  return (
    <dialog ref={ref} data-testid="delete-dialog" aria-labelledby="h-del" class="dialog" onCancel={(e) => { e.preventDefault(); close(); }}>
      <h2 id="h-del">Delete {label({ kind, obj })}?</h2>
      {place
        ? <p>Deleting this {kind.name} deletes everything in it:</p>
        : <p>These refer to it: its deletion waits for them, or they lose what they use:</p>}
      {!items && !err && <p aria-live="polite">Finding what it implies…</p>}
      {items && (
        <ul class="cascade">
          {items.map((it) => <li key={it.kind.plural + it.obj.meta.namespace + it.obj.meta.id} data-testid="cascade-item">{label(it)} <span class="muted">({stateOf(it.obj)})</span></li>)}
          {items.length === 0 && <li class="muted">nothing</li>}
        </ul>
      )}
      {err && <p role="alert" class="error" data-testid="delete-error">{err.message}</p>}
      <p role="status" data-testid="delete-state">
        {phase === 'deleting' && 'Deleting…'}
        {phase === 'waiting' && live && `Waiting for finalizers (${(live.meta.finalizers || []).join(', ') || 'none left'}): ${stateOf(live)}${live.status?.message ? ' — ' + live.status.message : ''}`}
        {phase === 'done' && 'Deleted.'}
      </p>
      <p class="actions">
        {phase === 'confirm' && <button type="button" class="danger" data-testid="confirm-delete" onClick={confirm} disabled={!items && !err}>Delete</button>}
        <button type="button" data-testid="cancel-delete" onClick={close}>{phase === 'confirm' ? 'Cancel' : 'Close'}</button>
      </p>
    </dialog>
  );
}
