// Test doubles for the browser globals the pure modules touch: location,
// sessionStorage and fetch (answers from a handler, every request
// recorded). Not a test file itself (node --test runs *.test.js).

export function fakeBrowser({ hash = '', token = '', protocol = 'https:', host = 'api.example:8080' } = {}) {
  const store = new Map();
  globalThis.sessionStorage = {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  };
  if (token) store.set('humstack.token', token);
  globalThis.location = { protocol, host, hash, origin: `${protocol}//${host}` };
}

// envelope is the server's JSON answer.
export function envelope(status, data, extra = {}) {
  const body = status < 300 ? { code: status, error: null, data, ...extra } : { code: status, error: extra.error || 'failed', reason: extra.reason || '', fields: extra.fields };
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

// fakeFetch installs fetch answering with handler({method, url, path,
// headers, body, signal}) and returns the list of requests made.
export function fakeFetch(handler) {
  const calls = [];
  globalThis.fetch = async (url, init = {}) => {
    const u = new URL(url, 'https://api.example:8080');
    const req = { method: init.method || 'GET', url, path: u.pathname, query: u.searchParams, headers: init.headers || {},
      body: init.body ? JSON.parse(init.body) : undefined, signal: init.signal };
    calls.push(req);
    return handler(req);
  };
  return calls;
}
