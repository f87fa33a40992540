// The one-time secrets of a create's answer: a token's bearer token
// (status.token) and a console link's token and URLs (status.token,
// status.uiURL, status.serialURL, ...). The server sends them in that one
// answer only and never stores them, so the editor shows them at once,
// marked as shown only now. Pure (unit-tested).

// secretsOf returns [{key, label, value, href}] for the status of an
// object the server just created; origin (location.origin) makes the
// console's page an absolute link to open or hand out. href is set for
// the page only (the console URLs are websockets).
export function secretsOf(obj, origin = '') {
  const st = obj?.status;
  if (!st || typeof st !== 'object') return [];
  const out = [];
  const add = (key, label, value, href = '') => {
    if (typeof value === 'string' && value) out.push({ key, label, value, href });
  };
  const isLink = typeof st.uiURL === 'string' && st.uiURL !== '';
  add('token', isLink ? 'Link token' : 'Bearer token', st.token);
  if (isLink) {
    const url = st.uiURL.startsWith('/') ? origin + st.uiURL : st.uiURL;
    add('uiURL', 'Console page', url, /^https?:\/\//.test(url) ? url : '');
  }
  add('serialURL', 'Serial console (websocket)', st.serialURL);
  add('vncURL', 'VNC console (websocket)', st.vncURL);
  add('logURL', 'Serial log (websocket)', st.logURL);
  return out;
}
