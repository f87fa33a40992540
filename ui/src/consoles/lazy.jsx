// The consoles load on first use: xterm.js and noVNC are dynamic imports,
// so esbuild puts them in their own chunks and the first page load does not
// carry them. These wrappers are what pages and panels embed.
import { useEffect, useState } from 'preact/hooks';

function Lazy({ load, label, ...props }) {
  const [mod, setMod] = useState(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    let live = true;
    load().then((m) => live && setMod(() => m.default), (e) => live && setErr(String(e.message || e)));
    return () => { live = false; };
  }, []);
  if (err) return <p role="alert" class="error" data-testid="console-status">closed: {label} did not load: {err}</p>;
  if (!mod) return <p data-testid="console-status" role="status">connecting</p>;
  const C = mod;
  return <C {...props} />;
}

// SerialConsole: {group, namespace, id}, the VM's serial console (xterm.js).
export function SerialConsole(props) {
  return <Lazy load={() => import('./serial.jsx')} label="the serial console" {...props} />;
}

// VNCConsole: {group, namespace, id}, the VM's screen (noVNC).
export function VNCConsole(props) {
  return <Lazy load={() => import('./vnc.jsx')} label="the VNC console" {...props} />;
}
