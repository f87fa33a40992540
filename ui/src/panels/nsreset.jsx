// The namespace page of an environment's copy: "Reset my environment" for
// whoever may create resets there (a team's operator, bound only in its
// copy's namespace), and the copy's resets, live. A copy's namespace
// carries the annotations environmentv0/environment and environmentv0/copy
// (written by the environment controller; only a group grant may).
import { useState } from 'preact/hooks';
import { useList } from './live.js';
import { allows, useWho, verbsOf } from './rights.js';
import { createReset, ResetQueue } from './resets.jsx';

const enc = encodeURIComponent;
export const ANN_ENV = 'environmentv0/environment';
export const ANN_COPY = 'environmentv0/copy';

function CopyResets({ ns, env, copy }) {
  const who = useWho();
  const g = ns.meta.group;
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const { items, error } = useList(`/api/v0/groups/${enc(g)}/namespaces/${enc(ns.meta.id)}/resets`);
  const verbs = verbsOf(who, g, ns.meta.id, 'resets');
  const reset = async () => {
    setBusy(true);
    setMsg(null);
    try {
      const r = await createReset(g, ns.meta.id);
      setMsg({ ok: true, text: `asked: ${r.data?.reset?.meta?.id || 'reset created'}` });
    } catch (e) {
      setMsg({ ok: false, text: e.message });
    }
    setBusy(false);
  };
  return (
    <section class="panel" aria-labelledby="ns-reset-h">
      <h2 id="ns-reset-h">Environment {env}, copy {copy}</h2>
      {allows(verbs, 'create') && (
        <p>
          <button type="button" data-testid={`reset-${copy}`} disabled={busy} onClick={reset}>Reset my environment</button>
          {' '}<span class="muted">Puts every VM of this copy back to the golden state.</span>
        </p>)}
      {msg && <p role={msg.ok ? 'status' : 'alert'} class={msg.ok ? 'muted' : 'error'}>{msg.text}</p>}
      {allows(verbs, 'list') && <div class="scroll"><ResetQueue resets={items} error={error} /></div>}
    </section>
  );
}

// NamespaceResetPanel is the namespace object page's panel: nothing for a
// namespace that is no copy.
export function NamespaceResetPanel({ obj }) {
  const a = obj.meta.annotations || {};
  if (!a[ANN_ENV] || !a[ANN_COPY]) return null;
  return <CopyResets ns={obj} env={a[ANN_ENV]} copy={a[ANN_COPY]} />;
}
