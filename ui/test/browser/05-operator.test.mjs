// An operator-role token bound to team a's namespace sees only that
// namespace in every view: the DOM names nothing else, and every request
// the app makes stays in its scope, is never refused (403/404), and no
// answer names another namespace. From its copy's page it resets its
// environment copy (a test of its own).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from './lib/env.mjs';
import { TABLET, byTest, go, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { inScope, noErrors, noOverflow, resetAndFollow, signIn, words } from './lib/app.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the operator sees only its namespace: DOM and network', () => explain(lastOpened, 'the-operator-sees-only-its-namespace-dom', async () => {
  const sc = env.operatorScope;
  const { context, page, rec } = await open(browser);
  await signIn(page, env.operator);
  await waitText(byTest(page, 'whoami'), new RegExp(env.operatorUser), 10000, 'whoami');
  assert.equal(await byTest(page, 'nav-nodes').count(), 0, 'an operator has a nodes link');
  const views = [
    ['/', 'tree', 'overview'],
    [`/g/${sc.group}/ns/${sc.ns}`, 'list-virtualmachines', 'namespace'],
    [`/g/${sc.group}/ns/${sc.ns}/virtualmachines`, 'row-box', 'vm-list'],
    [`/g/${sc.group}/ns/${sc.ns}/virtualmachines/box`, 'object', 'vm-object'],
    [`/g/${sc.group}/ns/${sc.ns}/resets`, 'list-resets', 'resets'],
    [`/g/${sc.group}/ns/${sc.ns}/consolelinks`, 'list-consolelinks', 'links'],
    ['/apply', 'yaml-editor', 'editor'],
  ];
  await byTest(page, `tree-ns-${sc.group}-${sc.ns}`).waitFor({ timeout: 15000 });
  const trees = await page.locator('[data-testid^="tree-ns-"],[data-testid^="tree-group-"]').evaluateAll((es) => es.map((e) => e.getAttribute('data-testid')));
  assert.deepEqual([...new Set(trees)].sort(), [`tree-group-${sc.group}`, `tree-ns-${sc.group}-${sc.ns}`].sort(), 'the operator\'s tree');
  for (const [hash, id, name] of views) {
    await go(page, hash);
    await byTest(page, id).first().waitFor({ timeout: 30000 });
    await page.waitForTimeout(1000); // lists and panels have loaded
    const seen = await words(page);
    const leaked = env.foreignNames.filter((n) => seen.has(n));
    assert.deepEqual(leaked, [], `foreign names in the operator's ${name} view`);
    await noOverflow(page, `operator ${name}`);
    if (name === 'overview' || name === 'vm-object') await screenshot(page, `11-operator-${name}`);
  }
  await page.setViewportSize(TABLET);
  await go(page, views[2][0]);
  await byTest(page, 'row-box').waitFor();
  await noOverflow(page, 'operator vm-list (tablet)');
  await screenshot(page, 'tablet-operator');

  const api = rec.requests.map((r) => new URL(r.url)).filter((u) => u.pathname.startsWith('/api/') || u.pathname.startsWith('/ui'));
  const out = api.filter((u) => !inScope(u.pathname, sc)).map((u) => u.pathname + u.search);
  assert.deepEqual(out, [], 'requests outside the operator\'s namespace');
  const refused = rec.responses.filter((r) => r.status === 403 || r.status === 404).map((r) => `${r.status} ${r.url}`);
  assert.deepEqual(refused, [], 'refused requests (403/404)');
  for (const r of rec.responses) {
    const type = r.response.headers()['content-type'] || '';
    if (!type.includes('json')) continue; // event streams stay open; their lists are checked here
    const body = await r.response.text().catch(() => '');
    const named = env.foreignNames.filter((n) => body.includes(`"${n}"`) || body.includes(`/${n}/`));
    assert.deepEqual(named, [], `the answer to ${r.url} names other namespaces or the cluster`);
  }
  console.log(`# operator: ${api.length} requests, all in ${sc.group}/${sc.ns} or caller-wide`);
  noErrors(rec, 'operator views');
  await context.close();
}));

// The operator resets its own environment copy from its namespace's page
// (its link in the tree) and follows the reset live, with nothing of other
// teams shown or asked for.
test('team a\'s operator resets its own copy from its namespace\'s page', () => explain(lastOpened, 'operator-reset', async () => {
  const sc = env.operatorScope;
  const { context, page, rec } = await open(browser);
  await signIn(page, env.operator);
  // As a user would: its namespace in the tree, whose page has the
  // copy's panel.
  await go(page, '/');
  await byTest(page, `tree-ns-${sc.group}-${sc.ns}`).click();
  await page.waitForURL(new RegExp(`#/g/${sc.group}/ns/${sc.ns}$`));
  await byTest(page, `reset-${env.copies[0]}`).waitFor({ timeout: 30000 });
  await resetAndFollow(page, rec, env.copies[0], `/api/v0/groups/${sc.group}/namespaces/${sc.ns}/resets`, 'operator');
  const seen = await words(page);
  assert.deepEqual(env.foreignNames.filter((n) => seen.has(n)), [], 'foreign names on the operator\'s copy page');
  await screenshot(page, '11-operator-reset');
  await noOverflow(page, 'operator copy page');
  const out = rec.requests.map((r) => new URL(r.url)).filter((u) => !inScope(u.pathname, sc)).map((u) => u.pathname);
  assert.deepEqual(out, [], 'requests outside the operator\'s namespace');
  const refused = rec.responses.filter((r) => r.status === 403 || r.status === 404).map((r) => `${r.status} ${r.url}`);
  assert.deepEqual(refused, [], 'refused requests (403/404)');
  noErrors(rec, 'operator reset');
  await context.close();
}));
