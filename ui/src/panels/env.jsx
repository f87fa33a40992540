// The environment panel: the copies with their state and values, a reset
// button per copy, the live reset queue of the copies, and the golden
// capture (spec.golden.capture := now, as `humcli env capture` does).
import { useState } from 'preact/hooks';
import { get, put } from '../lib/api.js';
import { useList } from '../lib/watch.js';
import { allows, useWho } from './rights.js';
import { createReset, ResetQueue } from './resets.jsx';
import { ENV, RESET, collectionPath, objectPath, placeRoute } from '../lib/paths.js';


function CopyRow({ env, c, mayReset }) {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const reset = async () => {
    setBusy(true);
    setMsg(null);
    try {
      const r = await createReset(env.meta.group, c.namespace);
      setMsg({ ok: true, text: `asked: ${r.data?.reset?.meta?.id || 'reset created'}` });
    } catch (e) {
      setMsg({ ok: false, text: e.message });
    }
    setBusy(false);
  };
  const values = Object.entries(c.values || {}).map(([k, v]) => `${k}=${v}`).join(', ');
  return (
    <tr data-testid={`env-copy-${c.name}`}>
      <td>{c.name}</td>
      <td><a href={placeRoute(env.meta.group, c.namespace)}>{c.namespace}</a></td>
      <td data-testid="copy-state" title={c.message || ''}>{c.state || '-'}{c.message ? `: ${c.message}` : ''}</td>
      <td>{c.vmsReady}/{c.vmsTotal}</td>
      <td>{values || '-'}</td>
      <td>{c.lastResetAt ? `${c.lastResetAt} (${(c.lastResetTookSeconds || 0).toFixed(1)} s)` : '-'}</td>
      <td>
        {mayReset && (
          <button type="button" data-testid={`reset-${c.name}`} disabled={busy} onClick={reset}>Reset {c.name}</button>)}
        {msg && <div role={msg.ok ? 'status' : 'alert'} class={msg.ok ? 'muted' : 'error'}>{msg.text}</div>}
      </td>
    </tr>
  );
}

function Capture({ env }) {
  const g = env.spec?.golden || {};
  const st = env.status?.golden || {};
  const names = (env.status?.copies || []).map((c) => c.name);
  const [copy, setCopy] = useState(g.copy || '');
  const [memory, setMemory] = useState(true);
  const [msg, setMsg] = useState(null);
  const [busy, setBusy] = useState(false);
  const capture = async () => {
    if (busy) return; // a second capture token would restart the capture
    setMsg(null); setBusy(true);
    const path = objectPath(ENV, env.meta);
    try {
      for (let attempt = 0; ; attempt++) {
        const cur = (await get(path)).data.environment;
        const golden = { ...(cur.spec.golden || {}), memory, capture: new Date().toISOString() };
        if (copy) golden.copy = copy;
        try {
          await put(path, { ...cur, spec: { ...cur.spec, golden } });
          break;
        } catch (e) {
          if (e.status !== 409 || attempt >= 2) throw e; // a concurrent write: read again
        }
      }
      setMsg({ ok: true, text: 'capture asked' });
    } catch (e) {
      setMsg({ ok: false, text: e.message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="capture">
      <p>Golden state: <strong data-testid="golden-state">{st.state || 'none'}</strong>
        {st.copy ? ` of copy ${st.copy}` : ''}{st.capturedAt ? `, captured ${st.capturedAt}` : ''}
        {st.memory ? ' (with memory)' : ''}{st.captureError ? ` — last capture failed: ${st.captureError}` : ''}</p>
      <label>Copy <select value={copy} onChange={(e) => setCopy(e.currentTarget.value)}>
        <option value="">{g.copy ? `${g.copy} (as set)` : 'the first'}</option>
        {names.map((n) => <option key={n} value={n}>{n}</option>)}
      </select></label>{' '}
      <label><input type="checkbox" checked={memory} onChange={(e) => setMemory(e.currentTarget.checked)} /> with memory (warm resets)</label>{' '}
      <button type="button" data-testid="capture" onClick={capture} disabled={busy}>{busy ? 'Asking…' : 'Capture golden state'}</button>
      {msg && <span role={msg.ok ? 'status' : 'alert'} class={msg.ok ? 'muted' : 'error'}> {msg.text}</span>}
    </div>
  );
}

export function EnvironmentPanel({ obj }) {
  const who = useWho();
  const g = obj.meta.group;
  const copies = obj.status?.copies || [];
  const namespaces = new Set(copies.map((c) => c.namespace));
  // The group's resets, when the caller may watch them there (an operator
  // of one copy does not reach this page: it may not read environments).
  const mayList = allows(who, 'list', 'resets', g) && allows(who, 'watch', 'resets', g);
  const { items, error } = useList(mayList ? collectionPath(RESET, g) : null);
  const resets = items.filter((r) => r.status?.environment === obj.meta.id || namespaces.has(r.meta.namespace));
  return (
    <section class="panel" aria-labelledby="env-panel-h">
      <h2 id="env-panel-h">Copies</h2>
      <div class="scroll">
        <table data-testid="env-copies" class="table">
          <thead><tr><th>Copy</th><th>Namespace</th><th>State</th><th>VMs ready</th><th>Values</th><th>Last reset</th><th>Actions</th></tr></thead>
          <tbody>
            {copies.map((c) => <CopyRow key={c.name} env={obj} c={c} mayReset={allows(who, 'create', 'resets', g, c.namespace)} />)}
            {!copies.length && <tr><td colSpan="7" class="muted">No copies yet.</td></tr>}
          </tbody>
        </table>
      </div>
      {allows(who, 'update', 'environments', g) && <Capture env={obj} />}
      {mayList && <><h2>Resets</h2>
        <div class="scroll"><ResetQueue resets={resets} error={error} /></div></>}
    </section>
  );
}
