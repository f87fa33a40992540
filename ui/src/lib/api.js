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

// request sends one API request with the session's bearer token. A 401
// ends the session (the token expired or was revoked).
export async function request(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const tok = session.token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {
    method, headers, signal, credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let env = null;
  try { env = await resp.json(); } catch { /* not JSON: a proxy's page */ }
  if (!resp.ok) {
    if (resp.status === 401) session.expired(env?.error || 'signed out');
    throw new ApiError(resp.status, env?.reason, env?.error || resp.statusText, env?.fields);
  }
  return env;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);
