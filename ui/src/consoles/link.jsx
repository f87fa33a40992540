// The console-link page: what a contest team opens (#/link/:token). The
// link token is its only credential (session link mode: ?link= on every
// request). It shows the link's VM, or every VM of its namespace, each
// with its power state, power buttons when the link may power, and its
// consoles; nothing else, no navigation.
import { useList } from '../lib/watch.js';
import { VMControls } from '../panels/vm.jsx';
import { SerialConsole, VNCConsole } from './lazy.jsx';
import { vmPath } from './paths.js';
import { useGet } from './useget.js';
import { ConsoleGate } from './gate.jsx';
import { VM, collectionPath, enc } from '../lib/paths.js';


// useLink reads whoami with the link: {who: {scope, link}, error}.
function useLink() {
  const { data, error } = useGet('/api/v0/whoami');
  const w = data?.whoami;
  if (w && !w.link) return { error: new Error('this is not a console link'), who: null };
  return { error, who: w ? { scope: w.scopes?.[0] || {}, link: w.link } : null };
}

function LinkError({ error }) {
  return <p role="alert" class="error" data-testid="link-error">{error.message}</p>;
}

function LinkFrame({ children, sub }) {
  return (
    <main class="link-page" data-testid="link-page" id="main">
      <header class="top"><span class="brand">humstack</span>{sub && <span class="muted">{sub}</span>}</header>
      <div class="page">{children}</div>
    </main>
  );
}

function LinkVMs({ token, scope, link }) {
  const path = collectionPath(VM, scope.group, scope.namespace);
  const { items, error, loaded } = useList(path);
  const vms = items
    .filter((o) => link.allVirtualMachines || o.meta.id === link.virtualMachineID)
    .sort((a, b) => a.meta.id.localeCompare(b.meta.id));
  const verbs = link.power ? ['power', 'console'] : ['console'];
  if (error) return <LinkError error={error} />;
  if (loaded && !vms.length) return <LinkError error={new Error('this link reaches no virtual machine')} />;
  return (
    <ul class="link-vms">
      {vms.map((o) => (
        <li key={o.meta.id} data-testid={`link-vm-${o.meta.id}`}>
          <h2>{o.meta.id}</h2>
          <VMControls obj={o} link={token} verbs={verbs} />
        </li>
      ))}
    </ul>
  );
}

export function LinkPage({ token }) {
  const { who, error } = useLink();
  const sub = who ? `${who.scope.namespace}${who.link.expiresAt ? ' · until ' + who.link.expiresAt : ''}` : '';
  return (
    <LinkFrame sub={sub}>
      <h1>Your virtual machines</h1>
      {error && <LinkError error={error} />}
      {who && <LinkVMs token={token} scope={who.scope} link={who.link} />}
    </LinkFrame>
  );
}

function LinkConsole({ token, vm, which }) {
  const { who, error } = useLink();
  const s = who?.scope;
  const { data, error: vmErr } = useGet(s ? vmPath(s.group, s.namespace, vm) : null);
  // Live state (the console waits for Running): the link may watch its VMs.
  const { items } = useList(data && s ? collectionPath(VM, s.group, s.namespace) : null);
  const live = items.find((o) => o.meta.id === vm) || data?.virtualmachine;
  const C = which === 'serial' ? SerialConsole : VNCConsole;
  const err = error || vmErr;
  return (
    <LinkFrame sub={s ? `${s.namespace}/${vm}` : ''}>
      <p class="links"><a href={`#/link/${enc(token)}`}>Back to your machines</a></p>
      <h1>{which === 'serial' ? 'Serial console' : 'Screen'} of {vm}</h1>
      {err && <LinkError error={err} />}
      {data && s && <ConsoleGate vm={live}>
        <C group={s.group} namespace={s.namespace} id={vm} height="calc(100vh - 14rem)" />
      </ConsoleGate>}
    </LinkFrame>
  );
}

export const LinkSerialPage = (p) => <LinkConsole {...p} which="serial" />;
export const LinkVNCPage = (p) => <LinkConsole {...p} which="vnc" />;
