// Team a's console link (every VM of its copy, power too): the link page
// shows team a's VMs only, no navigation, opens a console; team b's VM is
// out of reach: the page says the server refused and no websocket to it
// carries anything.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from './lib/env.mjs';
import { TABLET, byTest, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { inScope, noErrors, noOverflow, words } from './lib/app.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const linkURL = (rest = '') => env.url + '#/link/' + env.link + rest;

test('the console-link page shows only team a\'s VMs and their consoles', () => explain(lastOpened, 'the-console-link-page-shows-only-team-a-', async () => {
  const { context, page, rec } = await open(browser);
  await page.goto(linkURL());
  await byTest(page, 'link-page').waitFor({ timeout: 30000 });
  await byTest(page, 'link-vm-box').waitFor({ timeout: 30000 });
  const vms = await page.locator('[data-testid^="link-vm-"]').evaluateAll((es) => es.map((e) => e.getAttribute('data-testid')));
  assert.deepEqual(vms, ['link-vm-box'], 'VMs on team a\'s link page');
  assert.equal(await byTest(page, 'nav').count(), 0, 'the link page has navigation');
  const box = byTest(page, 'link-vm-box');
  for (const b of ['power-on', 'power-off', 'open-serial', 'open-vnc']) {
    assert.equal(await box.locator(`[data-testid="${b}"]`).count(), 1, `team a's VM has ${b}`);
  }
  await waitText(box.locator('[data-testid=power-state]'), /Running/, 60000, 'box power-state');
  const seen = await words(page);
  const leaked = env.foreignNames.filter((n) => seen.has(n));
  assert.deepEqual(leaked, [], 'names of other teams or the cluster on the link page');
  await screenshot(page, '10-console-link');
  await noOverflow(page, 'link page');
  await page.setViewportSize(TABLET);
  await noOverflow(page, 'link page (tablet)');
  await screenshot(page, 'tablet-console-link');
  // Its serial console, through the link.
  await page.goto(linkURL('/box/serial'));
  await waitText(byTest(page, 'console-status'), /^\s*connected\s*$/i, 30000, 'link serial console-status');
  const ws = rec.sockets.filter((w) => w.url.includes('/virtualmachines/box/serial'));
  assert.ok(ws.length >= 1 && ws.every((w) => w.url.includes('link=')), 'the link\'s serial websocket carries ?link=');
  await screenshot(page, '10-console-link-serial');
  // Every request of the link page stays in the link's namespace and
  // carries the link, never a bearer token; nothing is refused.
  const out = rec.requests.map((r) => new URL(r.url)).filter((u) => !inScope(u.pathname, env.linkScope));
  assert.deepEqual(out.map((u) => u.pathname), [], 'requests of the link page outside its namespace');
  const api = rec.requests.filter((r) => new URL(r.url).pathname.startsWith('/api/'));
  assert.ok(api.length > 0 && api.every((r) => new URL(r.url).searchParams.has('link')), 'API requests of the link page without ?link=');
  const refused = rec.responses.filter((r) => r.status === 403 || r.status === 404).map((r) => `${r.status} ${r.url}`);
  assert.deepEqual(refused, [], 'refused requests (403/404) on the link page');
  noErrors(rec, 'link page');
  await context.close();
}));

test('team a\'s link cannot reach team b\'s VM', () => explain(lastOpened, 'link-refused', async () => {
  const { context, page, rec } = await open(browser);
  const foreign = `/virtualmachines/${env.foreignVM}`;
  for (const kind of ['serial', 'vnc']) {
    const from = rec.responses.length;
    await page.goto(linkURL(`/${env.foreignVM}/${kind}`));
    const text = await waitText(byTest(page, 'link-error'), /\S/, 30000, `link-error for ${env.foreignVM}'s ${kind}`);
    await page.waitForTimeout(2000); // a console that would open has done so by now
    const mine = rec.responses.slice(from);
    // The link works (the page knows who it is), and the server itself
    // refused the VM: the page shows that refusal's message.
    assert.ok(mine.some((r) => new URL(r.url).pathname === '/api/v0/whoami' && r.status === 200), 'the link page\'s whoami did not succeed');
    const refusals = mine.filter((r) => r.url.includes(foreign) && (r.status === 403 || r.status === 404));
    assert.ok(refusals.length >= 1, `no request for ${env.foreignVM} was refused by the server (403/404); answers: ${mine.map((r) => r.status + ' ' + r.url).join(', ')}`);
    const msg = (await refusals[0].response.json().catch(() => ({}))).error || '';
    assert.ok(msg && text.includes(msg), `link-error ${JSON.stringify(text)} does not show the server's refusal ${JSON.stringify(msg)}`);
    console.log(`# link-error (${kind}): ${text}`);
  }
  const reached = rec.sockets.filter((w) => w.url.includes(foreign + '/') && w.received > 0);
  assert.deepEqual(reached.map((w) => w.url), [], 'websockets to team b\'s VM that carried data');
  const answered = rec.responses.filter((r) => r.url.includes(foreign) && r.status < 300);
  assert.deepEqual(answered.map((r) => `${r.status} ${r.url}`), [], 'successful answers about team b\'s VM');
  await screenshot(page, '10-console-link-refused');
  // The refusals (403/404) are the expected console messages; nothing else.
  assert.deepEqual(rec.errors.filter((e) => !/status of 40[34]|WebSocket connection to .* failed/.test(e)), [], 'other errors');
  await context.close();
}));
