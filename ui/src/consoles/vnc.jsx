// The VNC console: noVNC's RFB on the API's websocket
// (.../virtualmachines/{id}/ws). The page opens the websocket itself and
// hands it to RFB, so it hears the close's code and the server's reason
// (a revoked link: 1008 and why). The screen scales to the box; the
// clipboard box sends text to the guest and shows what the guest copies.
import { useEffect, useRef, useState } from 'preact/hooks';
import RFB from '@novnc/novnc';
import { get, wsAuth } from '../lib/api.js';
import { closeText, vmPath, whyRefused } from './paths.js';

export default function VNCConsole({ group, namespace, id, height }) {
  const box = useRef(null);
  const rfbRef = useRef(null);
  const focusBtn = useRef(null);
  const [status, setStatus] = useState('connecting');
  const [attempt, setAttempt] = useState(0); // Reconnect: a new session
  const [clip, setClip] = useState('');
  const [note, setNote] = useState('');

  useEffect(() => {
    const path = vmPath(group, namespace, id) + '/ws';
    const { url, protocols } = wsAuth(path);
    const ws = new WebSocket(url, protocols);
    let closed = '', opened = false, gone = false;
    ws.addEventListener('open', () => { opened = true; });
    // gone: the page left; no reason to ask the server why (a request
    // after the page is gone) and no state to set.
    const closing = new Promise((res) => ws.addEventListener('close', async (e) => {
      if (gone) { res(); return; }
      const why = opened || e.reason ? '' : await whyRefused(get, path);
      closed = why || closeText(e.code, e.reason);
      res();
    }));
    const rfb = new RFB(box.current, ws, { shared: true });
    rfb.scaleViewport = true;
    rfb.focusOnClick = true;
    rfb.background = '#111';
    rfbRef.current = rfb;
    rfb.addEventListener('connect', () => setStatus('connected'));
    rfb.addEventListener('disconnect', async (e) => {
      rfbRef.current = null;
      await closing;
      if (gone) return;
      setStatus('closed: ' + (closed || (e.detail.clean ? 'disconnected' : 'connection lost')));
    });
    rfb.addEventListener('securityfailure', (e) => setNote('security failure: ' + (e.detail.reason || e.detail.status)));
    rfb.addEventListener('credentialsrequired', () => setNote('the VNC server asks for a password; humstack\'s VMs have none'));
    rfb.addEventListener('clipboard', (e) => { setClip(e.detail.text); setNote('the guest copied text'); });
    // Keyboard access: noVNC makes its canvas unreachable by Tab
    // (tabIndex -1) and, once focused, keeps every key for the guest, Tab
    // included. So the canvas joins the Tab order, and Ctrl+Shift+X (as in
    // the serial console) leaves it: a capture listener on the box sees
    // the key before noVNC's listener on the canvas.
    // noVNC adds its canvas a moment after the RFB is made: watch for it.
    const tabbable = () => box.current?.querySelectorAll('canvas').forEach((c) => { c.tabIndex = 0; });
    const mo = new MutationObserver(tabbable);
    mo.observe(box.current, { childList: true, subtree: true });
    tabbable();
    const leave = (e) => {
      if (e.ctrlKey && e.shiftKey && !e.altKey && e.key.toLowerCase() === 'x') {
        e.preventDefault(); e.stopPropagation();
        focusBtn.current?.focus();
      }
    };
    const boxEl = box.current;
    boxEl.addEventListener('keydown', leave, true);
    return () => {
      gone = true;
      mo.disconnect();
      boxEl.removeEventListener('keydown', leave, true);
      if (rfbRef.current) rfbRef.current.disconnect();
      rfbRef.current = null;
    };
  }, [group, namespace, id, attempt]);

  const send = () => {
    if (!rfbRef.current) return;
    rfbRef.current.clipboardPasteFrom(clip);
    setNote(`sent ${clip.length} characters to the guest's clipboard`);
    rfbRef.current.focus();
  };
  const cad = () => { rfbRef.current?.sendCtrlAltDel(); rfbRef.current?.focus(); };
  const live = status === 'connected';
  return (
    <div class="console">
      <div class="console-bar" role="toolbar" aria-label="VNC console">
        <span data-testid="console-status" role="status" class="console-status">{status}</span>
        {status.startsWith('closed') && <button type="button" data-testid="reconnect" onClick={() => { setStatus('connecting'); setAttempt((n) => n + 1); }}>Reconnect</button>}
        <button type="button" data-testid="vnc-focus" ref={focusBtn} onClick={() => rfbRef.current?.focus()}>Focus screen</button>
        <button type="button" data-testid="ctrl-alt-del" onClick={cad} disabled={!live}>Send Ctrl-Alt-Del</button>
        <span class="muted" aria-live="polite">{note}</span>
      </div>
      <div data-testid="vnc-console" class="vnc-box" ref={box} style={height ? { height } : undefined}
        aria-label={`Screen of ${id}`} />
      <p class="muted small">The screen keeps every key, Tab included, for the guest: Ctrl+Shift+X leaves it.</p>
      <div class="clipboard">
        <label for="vnc-clipboard">Clipboard (to and from the guest)</label>
        <textarea id="vnc-clipboard" data-testid="clipboard" rows="2" value={clip}
          onInput={(e) => setClip(e.currentTarget.value)} />
        <button type="button" data-testid="clipboard-send" onClick={send} disabled={!live}>Send to the guest</button>
      </div>
    </div>
  );
}
