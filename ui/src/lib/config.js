// The server's public UI settings (GET /ui/config.json): the OIDC issuer
// to sign in with, if any, and whether the server asks for credentials at
// all (authorization "off": the trusted-lab setup, where every request is
// allowed without a token and the console needs no sign-in).
let config = null;

export function loadConfig() {
  config ||= fetch('/ui/config.json', { credentials: 'omit', headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  return config;
}
