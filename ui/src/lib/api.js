// The API client the whole UI uses: the same REST API and authorization as
// humcli. Every answer is the envelope {code, error, reason, fields, data};
// a failure becomes an ApiError carrying the server's message and, for 400
// Invalid, the fields at fault (JSON paths such as spec.nics[0].ipv4Address).
import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, reason, message, fields) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.reason = reason || '';
    this.fields = fields || [];
  }
}

// authorize returns the URL to fetch for path and sets the credentials in
// headers: a console link rides as ?link=<token> (no header), a token as
// Authorization: Bearer. watch.js uses it too.
export function authorize(path, headers) {
  const link = session.link();
  if (link) return path + (path.includes('?') ? '&' : '?') + 'link=' + encodeURIComponent(link);
  const tok = session.token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  return path;
}

// wsAuth returns the websocket URL and subprotocols for an API path (a
// console: .../virtualmachines/{id}/ws or /serial). Browsers cannot set
// headers on a websocket: a token is offered as the subprotocol
// humstack.bearer.<base64url(token)> beside "binary" (the server answers
// "binary"); a console link keeps ?link=.
export function wsAuth(path) {
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  const link = session.link();
  if (link) return { url: base + authorize(path, {}), protocols: ['binary'] };
  const tok = session.token();
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(tok)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return { url: base + path, protocols: tok ? ['binary', 'humstack.bearer.' + b64] : ['binary'] };
}

// request sends one API request with the session's credentials.
export async function request(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const url = authorize(path, headers);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(url, {
    method, headers, signal, credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) throw await apiErrorOf(resp);
  try { return await resp.json(); } catch { return null; /* not JSON: a proxy's page */ }
}

// apiErrorOf reads a failed answer's envelope into an ApiError (watch.js
// uses it too). A 401 ends the session (the token expired or was revoked).
export async function apiErrorOf(resp) {
  let env = null;
  try { env = await resp.json(); } catch { /* not JSON: a proxy's page */ }
  if (resp.status === 401) session.expired(env?.error || 'signed out');
  return new ApiError(resp.status, env?.reason, env?.error || resp.statusText, env?.fields);
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);
