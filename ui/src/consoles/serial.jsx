// The serial console: xterm.js on the API's websocket
// (.../virtualmachines/{id}/serial: binary both ways, the first message is
// the recent output). Copy is the terminal's selection to the clipboard
// (the copy button, Ctrl+Shift+C); paste sends the clipboard as typed input
// (the paste button, Ctrl+Shift+V), or a text box when the browser will not
// let the page read the clipboard. Ctrl+Shift+X leaves the terminal for the
// keyboard (Tab is the guest's).
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { get, wsAuth } from '../lib/api.js';
import { closeText, vmPath, whyRefused } from './paths.js';
import { readClipboard, writeClipboard } from './clipboard.js';

const latin1 = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

export default function SerialConsole({ group, namespace, id, height }) {
  const box = useRef(null);
  const termRef = useRef(null);
  const copyBtn = useRef(null);
  const [status, setStatus] = useState('connecting');
  const [attempt, setAttempt] = useState(0); // Reconnect: a new session
  const [note, setNote] = useState('');
  const [manual, setManual] = useState(null); // the paste box's text, or null when closed

  const copy = async () => {
    const sel = termRef.current?.getSelection() || '';
    if (!sel) { setNote('nothing selected'); return; }
    setNote((await writeClipboard(sel)) ? `copied ${sel.length} characters` : 'the browser refused the clipboard');
  };
  const paste = async () => {
    const text = await readClipboard();
    if (text === null) { setManual(''); return; }
    termRef.current?.paste(text);
    termRef.current?.focus();
  };

  useEffect(() => {
    const term = new Terminal({ cursorBlink: true, scrollback: 5000, convertEol: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    termRef.current = term;
    const refit = () => { try { fit.fit(); } catch { /* not laid out yet */ } };
    refit();
    const ro = new ResizeObserver(refit);
    ro.observe(box.current);

    const path = vmPath(group, namespace, id) + '/serial';
    const { url, protocols } = wsAuth(path);
    let opened = false;
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { opened = true; setStatus('connected'); term.focus(); };
    ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
    ws.onclose = async (e) => {
      const why = opened || e.reason ? '' : await whyRefused(get, path);
      setStatus('closed: ' + (why || closeText(e.code, e.reason)));
    };
    const enc = new TextEncoder();
    const send = (bytes) => { if (ws.readyState === WebSocket.OPEN) ws.send(bytes); };
    const d1 = term.onData((s) => send(enc.encode(s)));
    const d2 = term.onBinary((s) => send(latin1(s)));
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      const k = e.key.toLowerCase();
      if (k === 'c') { copy(); e.preventDefault(); return false; }
      if (k === 'v') { paste(); e.preventDefault(); return false; }
      if (k === 'x') { copyBtn.current?.focus(); e.preventDefault(); return false; }
      return true;
    });
    return () => {
      d1.dispose(); d2.dispose(); ro.disconnect();
      ws.onclose = null;
      ws.onmessage = null; // the terminal is disposed below
      ws.close(1000, 'console closed');
      term.dispose();
      termRef.current = null;
    };
  }, [group, namespace, id, attempt]);

  const sendManual = (e) => {
    e.preventDefault();
    termRef.current?.paste(manual || '');
    setManual(null);
    termRef.current?.focus();
  };
  return (
    <div class="console">
      <div class="console-bar" role="toolbar" aria-label="Serial console">
        <span data-testid="console-status" role="status" class="console-status">{status}</span>
        {status.startsWith('closed') && <button type="button" data-testid="reconnect" onClick={() => { setStatus('connecting'); setAttempt((n) => n + 1); }}>Reconnect</button>}
        <button type="button" ref={copyBtn} data-testid="copy" onClick={copy} title="Ctrl+Shift+C">Copy</button>
        <button type="button" data-testid="paste" onClick={paste} title="Ctrl+Shift+V">Paste</button>
        <span class="muted" aria-live="polite">{note}</span>
      </div>
      {manual !== null && (
        <form class="paste-box" onSubmit={sendManual}>
          <label for="paste-text">The browser does not let the page read the clipboard: paste here</label>
          <textarea id="paste-text" data-testid="paste-text" rows="3" value={manual}
            onInput={(e) => setManual(e.currentTarget.value)} />
          <button type="submit" data-testid="paste-send">Send to the console</button>
          <button type="button" onClick={() => setManual(null)}>Cancel</button>
        </form>
      )}
      <div data-testid="serial-console" class="serial-box" ref={box} style={height ? { height } : undefined}
        aria-label={`Serial console of ${id}`} />
      <p class="muted small">Ctrl+Shift+C copies, Ctrl+Shift+V pastes, Ctrl+Shift+X leaves the terminal.</p>
    </div>
  );
}
