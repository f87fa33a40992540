// A console connects only to a VM that runs: QEMU (and so its console)
// exists only then, and a websocket refused by the server tells the
// browser nothing. For a VM in another state the page says so and offers
// to connect anyway (the state shown may be stale).
import { useState } from 'preact/hooks';

const consoleless = new Set(['', 'Pending', 'Stopped']);

export function ConsoleGate({ vm, children }) {
  const [force, setForce] = useState(false);
  const state = vm?.status?.state || '';
  if (force || !consoleless.has(state)) return children;
  return (
    <p>
      <span data-testid="console-status" role="status" class="console-status">
        closed: the VM is {state || 'not started'}{state === 'Stopped' ? ': power it on to use its console' : ''}
      </span>{' '}
      <button type="button" data-testid="console-connect" onClick={() => setForce(true)}>Connect anyway</button>
    </p>
  );
}
