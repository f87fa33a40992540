// The full-page consoles of a signed-in user
// (#/console/:group/:namespace/:id/serial|vnc). The VM is read first, so a
// VM the caller may not see shows the server's answer instead of a
// websocket that only says it failed.
import { SerialConsole, VNCConsole } from './lazy.jsx';
import { consoleHref, vmPath } from './paths.js';
import { useGet } from './useget.js';

const enc = encodeURIComponent;

function ConsolePage({ group, namespace, id, which }) {
  const { data, error } = useGet(vmPath(group, namespace, id));
  const other = which === 'serial' ? 'vnc' : 'serial';
  const C = which === 'serial' ? SerialConsole : VNCConsole;
  return (
    <section class="console-page" aria-labelledby="console-h">
      <h1 id="console-h">{which === 'serial' ? 'Serial console' : 'Screen'} of {group}/{namespace}/{id}</h1>
      <p class="links">
        <a href={`#/g/${enc(group)}/ns/${enc(namespace)}/virtualmachines/${enc(id)}`}>The VM</a>
        {' · '}
        <a href={consoleHref({ group, namespace, id }, other)}>{other === 'vnc' ? 'VNC console' : 'Serial console'}</a>
      </p>
      {error && <p role="alert" class="error" data-testid="console-error">{error.message}</p>}
      {data && <C group={group} namespace={namespace} id={id} height="calc(100vh - 15rem)" />}
    </section>
  );
}

export const SerialPage = (p) => <ConsolePage {...p} which="serial" />;
export const VNCPage = (p) => <ConsolePage {...p} which="vnc" />;
