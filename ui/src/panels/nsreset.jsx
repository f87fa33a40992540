// The namespace page of an environment's copy: "Reset my environment" for
// whoever may create resets there (a team's operator, bound only in its
// copy's namespace), and the copy's resets, live. A copy's namespace
// carries the annotations environmentv0/environment and environmentv0/copy
// (written by the environment controller; only a group grant may).
import { useState } from 'preact/hooks';
import { useList } from '../lib/watch.js';
import { canWatch } from '../lib/access.js';
import { allows, useWho } from './rights.js';
import { createReset, ResetQueue } from './resets.jsx';
import { ANN_COPY, ANN_ENV, copyOfVMs } from './copyof.js';
import { RESET, VM, collectionPath } from '../lib/paths.js';


function CopyResets({ ns, env, copy }) {
  const who = useWho();
  const g = ns.meta.group;
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const mayList = allows(who, 'list', 'resets', g, ns.meta.id) && allows(who, 'watch', 'resets', g, ns.meta.id);
  const { items, error } = useList(mayList ? collectionPath(RESET, g, ns.meta.id) : null);
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
      {allows(who, 'create', 'resets', g, ns.meta.id) && (
        <p>
          <button type="button" data-testid={`reset-${copy}`} disabled={busy} onClick={reset}>Reset my environment</button>
          {' '}<span class="muted">Puts every VM of this copy back to the golden state.</span>
        </p>)}
      {msg && <p role={msg.ok ? 'status' : 'alert'} class={msg.ok ? 'muted' : 'error'}>{msg.text}</p>}
      {mayList && <div class="scroll"><ResetQueue resets={items} error={error} /></div>}
    </section>
  );
}

// ByVMs is for a caller who may not read the namespace (a team's
// operator): the copy is found from the VMs it may list (the namespace
// page lists them too, and the live list is shared).
function ByVMs({ obj }) {
  const who = useWho();
  const g = obj.meta.group, ns = obj.meta.id;
  const may = who && canWatch(who, 'virtualmachines', g, ns);
  const { items } = useList(may ? collectionPath(VM, g, ns) : null);
  const c = copyOfVMs(items, ns);
  return c ? <CopyResets ns={obj} env={c.env} copy={c.copy} /> : null;
}

// NamespaceResetPanel is the panel of a namespace: on its object page
// (obj is the namespace, with its annotations) and on the namespace page
// (obj holds only meta.group and meta.id: the caller may not be allowed to
// read the namespace). Nothing for a namespace that is no copy.
export function NamespaceResetPanel({ obj }) {
  const a = obj.meta.annotations || {};
  if (a[ANN_ENV] && a[ANN_COPY]) return <CopyResets ns={obj} env={a[ANN_ENV]} copy={a[ANN_COPY]} />;
  if (!obj.meta.uid) return <ByVMs obj={obj} />;
  return null;
}
