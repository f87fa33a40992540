// The VM panel: power state, power on/off (PUT .../power, actionState
// only, so an operator may use it) and links to the consoles. The object
// page shows it for kind "virtualmachine"; the console-link page shows it
// for each of the link's VMs (link: the token, power: the link's right).
// Buttons a caller may not use are hidden when the rights are known
// (verbs); when they are not, the server's refusal is shown.
import { useState } from 'preact/hooks';
import { put } from '../lib/api.js';
import { consoleHref, vmPath } from '../consoles/paths.js';
import { powerView } from './vmstate.js';
import { useWho, verbsOf } from './rights.js';

export function VMControls({ obj, link, verbs }) {
  const m = obj.meta;
  const [asked, setAsked] = useState(null); // {action, stateThen} while the server has not moved
  const [err, setErr] = useState('');
  const v = powerView(obj);
  const waiting = asked && asked.stateThen === v.state && asked.version === m.resourceVersion;
  const may = (verb) => !verbs || verbs.includes(verb);
  const power = async (actionState) => {
    setErr('');
    setAsked({ stateThen: v.state, version: m.resourceVersion });
    try {
      await put(vmPath(m.group, m.namespace, m.id) + '/power', { actionState });
    } catch (e) {
      setErr(e.message);
      setAsked(null);
    }
  };
  const ref = { group: m.group, namespace: m.namespace, id: m.id, link };
  return (
    <div class="vm-controls">
      <span>Power: <strong data-testid="power-state">{v.state}</strong>
        {v.busy && obj.spec?.actionState ? <span class="muted"> (asked: {obj.spec.actionState})</span> : null}</span>
      {may('power') && <>
        <button type="button" data-testid="power-on" disabled={!v.canOn || waiting}
          onClick={() => power('PowerOn')}>Power on</button>
        <button type="button" data-testid="power-off" disabled={!v.canOff || waiting}
          onClick={() => power('PowerOff')}>Power off</button>
      </>}
      {may('console') && <>
        <a data-testid="open-serial" href={consoleHref(ref, 'serial')}>Serial console</a>
        <a data-testid="open-vnc" href={consoleHref(ref, 'vnc')}>VNC console</a>
      </>}
      {err && <p role="alert" class="error" data-testid="power-error">{err}</p>}
    </div>
  );
}

// VMPanel is the object page's panel for a virtualmachine.
export function VMPanel({ obj }) {
  const who = useWho();
  const verbs = verbsOf(who, 'virtualmachines', obj.meta.group, obj.meta.namespace, ['power', 'console']);
  return (
    <section class="panel" aria-labelledby="vm-panel-h">
      <h2 id="vm-panel-h">Power and consoles</h2>
      <VMControls obj={obj} verbs={verbs} />
    </section>
  );
}
