// The reference scenario (examples/scenario, placeholders filled in by the
// Go side) applied through the editor by the admin; the VMs become Running
// on the list without a reload, from the watch; the main views; a field
// error for bad YAML.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { env } from './lib/env.mjs';
import { DESKTOP, TABLET, byTest, go, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { apply, docs, noErrors, noOverflow, signIn, timed } from './lib/app.mjs';

const NS_LIST = '/g/group1/ns/ns1/virtualmachines';
let browser, s;
before(async () => {
  browser = await launch();
  s = await open(browser);
  await signIn(s.page, env.admin);
});
after(async () => { await browser?.close(); });

const scenario = (names) => names.map((n) => readFileSync(join(env.scenario, n), 'utf8')).join('\n---\n');
const files = () => readdirSync(env.scenario).filter((f) => f.endsWith('.yaml')).sort();

test('apply the reference scenario through the editor; the image entity becomes Available live', () => explain(lastOpened, 'apply-scenario', async () => {
  const all = files();
  assert.equal(all.length, 8, `scenario files: ${all}`);
  const first = scenario(all.slice(0, 5));
  await timed('apply scenario 01-05', () => apply(s.page, first, docs(first)));
  await screenshot(s.page, '05-editor-applied');
  await go(s.page, '/g/group1/imageentities');
  await timed('image entity Available', () =>
    waitText(byTest(s.page, 'row-ientity1').locator('[data-testid=state]'), /^\s*Available\s*$/, 4 * 60000, 'ientity1 state'));
  noErrors(s.rec, 'apply');
}));

// The list is open before the VMs exist; a second tab applies them: their
// rows must appear and reach Running from the list's watch alone.
test('vm1 and vm2 appear and become Running on the open list without reload or polling', () => explain(lastOpened, 'live-list', async () => {
  const { page, rec } = s;
  await go(page, NS_LIST);
  const isWatch = (r) => /\/virtualmachines$/.test(new URL(r.url).pathname) && new URL(r.url).searchParams.get('watch') === 'true';
  await page.waitForFunction(() => document.querySelector('[data-testid=list-virtualmachines]') || /no |none|empty/i.test(document.querySelector('main')?.innerText || ''), null, { timeout: 30000 });
  const t0 = Date.now();
  while (!rec.requests.some(isWatch)) {
    assert.ok(Date.now() - t0 < 30000, 'the VM list opened no watch (?watch=true) within 30 s');
    await page.waitForTimeout(100);
  }
  assert.equal(await byTest(page, 'row-vm1').count() + await byTest(page, 'row-vm2').count(), 0, 'vm1 or vm2 on the list before they were applied');
  // From here on: no page load, and the VMs' data only from the watch.
  await page.evaluate(() => { window.__uitestMark = 'no-reload'; });
  const loads = rec.loads;
  const from = Date.now();
  const other = await open(browser);
  await signIn(other.page, env.admin);
  const rest = scenario(files().slice(5));
  await timed('apply scenario 06-08 (second tab)', () => apply(other.page, rest, docs(rest)));
  noErrors(other.rec, 'apply in the second tab');
  await other.context.close();
  const seen = { vm1: new Set(), vm2: new Set() };
  await timed('vm1 and vm2 Running (open list, live)', async () => {
    const end = Date.now() + 5 * 60000;
    for (;;) {
      const st = {};
      for (const vm of ['vm1', 'vm2']) {
        st[vm] = ((await byTest(page, 'row-' + vm).locator('[data-testid=state]').textContent({ timeout: 500 }).catch(() => '(no row)')) || '').trim();
        seen[vm].add(st[vm]);
      }
      if (st.vm1 === 'Running' && st.vm2 === 'Running') break;
      assert.ok(Date.now() < end, `VMs not Running after 5 min: ${JSON.stringify(st)}`);
      await page.waitForTimeout(200);
    }
  });
  console.log(`# states seen on the open list: vm1 ${[...seen.vm1].join(' -> ')}, vm2 ${[...seen.vm2].join(' -> ')}`);
  assert.equal(await page.evaluate(() => window.__uitestMark), 'no-reload', 'the page was reloaded');
  assert.equal(rec.loads, loads, 'a page load happened while waiting');
  const vmReqs = rec.requests.filter((r) => r.at >= from && /\/virtualmachines(\/|$)/.test(new URL(r.url).pathname));
  const polls = vmReqs.filter((r) => !isWatch(r));
  assert.deepEqual(polls.map((r) => r.method + ' ' + r.url), [], 'requests for VMs other than the watch (polling) while waiting');
  await screenshot(page, '03-namespace-list');
  await noOverflow(page, 'VM list');
  noErrors(rec, 'live list');
}));

test('overview, tree, namespace page, VM object page, nodes', () => explain(lastOpened, 'overview-tree-namespace-page-vm-object-p', async () => {
  const { page, rec } = s;
  await go(page, '/');
  await byTest(page, 'tree').waitFor();
  await byTest(page, 'tree-group-group1').waitFor({ timeout: 15000 });
  await byTest(page, 'tree-ns-group1-ns1').waitFor({ timeout: 15000 });
  await screenshot(page, '02-overview');
  await noOverflow(page, 'overview');
  await go(page, '/g/group1/ns/ns1');
  await byTest(page, 'list-virtualmachines').waitFor({ timeout: 15000 });
  await screenshot(page, '03-namespace-page');
  await go(page, NS_LIST + '/vm1');
  const obj = byTest(page, 'object');
  await obj.waitFor({ timeout: 15000 });
  assert.equal(await obj.getAttribute('data-id'), 'vm1');
  await waitText(byTest(page, 'state'), /Running/, 30000, 'vm1 object state');
  await waitText(byTest(page, 'placement'), /node-b/, 15000, 'vm1 placement');
  for (const part of ['conditions', 'events', 'dependencies', 'yaml', 'edit', 'delete', 'power-off', 'open-serial', 'open-vnc']) {
    await byTest(page, part).first().waitFor({ timeout: 15000 });
  }
  assert.match(await byTest(page, 'yaml').textContent(), /id: vm1/);
  await screenshot(page, '04-vm-object');
  await noOverflow(page, 'VM object page');
  await go(page, '/nodes');
  await byTest(page, 'list-nodes').waitFor({ timeout: 15000 });
  for (const n of ['node-a', 'node-b', 'node-c']) {
    const row = byTest(page, 'row-' + n);
    await waitText(row.locator('[data-testid=capacity]'), /\d/, 15000, n + ' capacity');
    await waitText(row.locator('[data-testid=allocated]'), /\d/, 15000, n + ' allocated');
  }
  await screenshot(page, '08-nodes');
  await noOverflow(page, 'nodes');
  // The same views at a tablet's width.
  await page.setViewportSize(TABLET);
  // The navigation folds behind its toggle at this width: it opens.
  await go(page, '/');
  await page.locator('button[aria-controls="nav"]').click();
  await byTest(page, 'tree-ns-group1-ns1').waitFor({ timeout: 15000 });
  await noOverflow(page, 'navigation open (tablet)');
  await screenshot(page, 'tablet-navigation');
  for (const [hash, id, name] of [['/', 'whoami', 'overview'], [NS_LIST, 'list-virtualmachines', 'namespace-list'],
    [NS_LIST + '/vm1', 'object', 'vm-object'], ['/nodes', 'list-nodes', 'nodes'], ['/apply', 'yaml-editor', 'editor']]) {
    await go(page, hash);
    await byTest(page, id).first().waitFor({ timeout: 15000 });
    await page.waitForTimeout(300);
    await noOverflow(page, name + ' (tablet)');
    await screenshot(page, 'tablet-' + name);
  }
  await page.setViewportSize(DESKTOP);
  noErrors(rec, 'views');
}));

test('bad YAML: the field error names the JSON path at its line', () => explain(lastOpened, 'bad-yaml-the-field-error-names-the-json-', async () => {
  const { page, rec } = s;
  const yaml = [
    'meta:',
    '  apiType: systemv0/virtualmachine',
    '  id: badvm',
    '  group: group1',
    '  namespace: ns1',
    'spec:',
    '  requestVcpus: 1000m',
    '  limitVcpus: 1000m',
    '  requestMemory: 64M',
    '  limitMemory: 64M',
    '  nics:',
    '    - networkID: net1',
    '      ipv4Address: 10.0.0.999',
    '  actionState: PowerOff',
  ].join('\n');
  const line = yaml.split('\n').findIndex((l) => l.includes('ipv4Address')) + 1;
  await go(page, '/apply');
  const ed = byTest(page, 'yaml-editor');
  await ed.waitFor();
  await ed.fill(yaml);
  await byTest(page, 'apply').click();
  const fe = byTest(page, 'field-error');
  await fe.first().waitFor({ timeout: 30000 });
  const texts = await fe.allTextContents();
  const hit = texts.findIndex((t) => t.includes('spec.nics[0].ipv4Address'));
  assert.ok(hit >= 0, `no field-error names spec.nics[0].ipv4Address: ${JSON.stringify(texts)}`);
  assert.equal(await fe.nth(hit).getAttribute('data-line'), String(line), 'field-error data-line');
  assert.equal(texts.length, 1, `field errors besides the address's: ${JSON.stringify(texts)}`);
  await screenshot(page, '05-editor-field-error');
  // Nothing was made: the list has no row for it.
  await go(page, NS_LIST);
  await byTest(page, 'row-vm1').waitFor();
  assert.equal(await byTest(page, 'row-badvm').count(), 0, 'badvm was created despite the error');
  // The refused create is the expected console message (400), nothing else.
  assert.deepEqual(rec.errors.filter((e) => !/status of 400/.test(e)), [], 'errors besides the 400');
  rec.errors.length = 0;
}));
