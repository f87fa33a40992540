// Consoles and the console-link page (serial with xterm.js, VNC with noVNC).
// The console code itself loads on first use (lazy.jsx).
// xterm.js's own CSS: static, so it is in the app's one CSS file (esbuild
// puts CSS imported by a lazy chunk there anyway, and a copy beside the
// chunk that nothing loads).
import '@xterm/xterm/css/xterm.css';
import './consoles.css';
import { addRoute } from '../routes.js';
import { SerialPage, VNCPage } from './pages.jsx';
import { LinkPage, LinkSerialPage, LinkVNCPage } from './link.jsx';

addRoute('/console/:group/:namespace/:id/serial', SerialPage);
addRoute('/console/:group/:namespace/:id/vnc', VNCPage);
// The console-link pages: the link is the credential, no sign-in, no chrome.
addRoute('/link/:token', LinkPage, { chrome: false, auth: false });
addRoute('/link/:token/:vm/serial', LinkSerialPage, { chrome: false, auth: false });
addRoute('/link/:token/:vm/vnc', LinkVNCPage, { chrome: false, auth: false });
