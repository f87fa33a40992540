// The full-page consoles of a signed-in user
// (#/console/:group/:namespace/:id/serial|vnc). The VM is read first, so a
// VM the caller may not see shows the server's answer instead of a
// websocket that only says it failed.
import { SerialConsole, VNCConsole } from './lazy.jsx';
import { consoleHref, vmPath } from './paths.js';
import { useGet } from './useget.js';
import { ConsoleGate } from './gate.jsx';
import { useList } from '../lib/watch.js';
import { canWatch } from '../lib/access.js';
import { useAccessCtx } from '../lib/whoami.js';
import { VM, collectionPath, objectRoute } from '../lib/paths.js';


function ConsolePage({ group, namespace, id, which }) {
  const { data, error } = useGet(vmPath(group, namespace, id));
  // The VM's state, live when the caller may watch the namespace's VMs
  // (the console waits for Running).
  const { who } = useAccessCtx();
  const watch = who && canWatch(who, 'virtualmachines', group, namespace);
  const { items } = useList(watch ? collectionPath(VM, group, namespace) : null);
  const vm = items.find((o) => o.meta.id === id) || data?.virtualmachine;
  const other = which === 'serial' ? 'vnc' : 'serial';
  const C = which === 'serial' ? SerialConsole : VNCConsole;
  return (
    <section class="console-page" aria-labelledby="console-h">
      <h1 id="console-h">{which === 'serial' ? 'Serial console' : 'Screen'} of {group}/{namespace}/{id}</h1>
      <p class="links">
        <a href={objectRoute(VM, { group, namespace, id })}>The VM</a>
        {' · '}
        <a href={consoleHref({ group, namespace, id }, other)}>{other === 'vnc' ? 'VNC console' : 'Serial console'}</a>
      </p>
      {error && <p role="alert" class="error" data-testid="console-error">{error.message}</p>}
      {data && <ConsoleGate vm={vm}>
        <C group={group} namespace={namespace} id={id} height="calc(100vh - 15rem)" />
      </ConsoleGate>}
    </section>
  );
}

export const SerialPage = (p) => <ConsolePage {...p} which="serial" />;
export const VNCPage = (p) => <ConsolePage {...p} which="vnc" />;
