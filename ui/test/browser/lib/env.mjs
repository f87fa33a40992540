// What the Go side (internal/uitest) passes the browser tests, read once.
// A missing variable fails the test that needs it with its name: these
// tests are run by `go test ./internal/uitest`, which prepares the lab.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(import.meta.url), '../../../../..');

export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./internal/uitest (docs/ui.md)`);
  return v;
}

export const env = {
  get url() { return need('HUMSTACK_UI_URL'); },              // https://127.0.0.1:PORT/ui/
  get admin() { return need('HUMSTACK_ADMIN_TOKEN'); },
  get operator() { return need('HUMSTACK_OPERATOR_TOKEN'); },
  get operatorUser() { return need('HUMSTACK_OPERATOR_USER'); },
  get operatorScope() { return scope(need('HUMSTACK_OPERATOR_SCOPE')); },
  get link() { return need('HUMSTACK_LINK_TOKEN'); },
  get linkScope() { return scope(need('HUMSTACK_LINK_SCOPE')); },
  get foreignVM() { return need('HUMSTACK_FOREIGN_VM'); },
  get foreignNames() { return need('HUMSTACK_FOREIGN_NAMES').split(','); },
  get env() { return scope(need('HUMSTACK_ENV')); },              // {group, name}
  get copies() { return need('HUMSTACK_ENV_COPIES').split(','); },
  get scenario() { return need('HUMSTACK_SCENARIO_DIR'); },
  get artifacts() { return process.env.HUMSTACK_UI_ARTIFACTS || resolve(repo, 'ui-artifacts'); },
  get manifest() { return process.env.HUMSTACK_UI_MANIFEST || resolve(repo, 'internal/ui/dist/manifest.json'); },
  get chromium() { return process.env.HUMSTACK_CHROMIUM || '/usr/bin/chromium'; },
};

// scope splits "group/namespace".
function scope(s) {
  const [group, ns] = s.split('/');
  return { group, ns, name: ns };
}
