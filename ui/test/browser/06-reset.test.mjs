// The environment's page: its copies, and a reset of team a's copy asked
// from the UI, followed live in the reset queue until it has finished.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from './lib/env.mjs';
import { TABLET, byTest, go, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { noErrors, noOverflow, signIn, timed } from './lib/app.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('reset team a\'s copy from the environment page; the queue shows it finish live', () => explain(lastOpened, 'reset-team-a-s-copy-from-the-environment', async () => {
  const e = env.env;
  const [copy, other] = env.copies;
  const { context, page, rec } = await open(browser);
  await signIn(page, env.admin);
  await go(page, `/g/${e.group}/environments/${e.name}`);
  await byTest(page, 'env-copies').waitFor({ timeout: 30000 });
  for (const c of env.copies) await waitText(byTest(page, 'env-copy-' + c).locator('[data-testid=copy-state]'), /\S/, 30000, `copy ${c} state`);
  await byTest(page, 'capture').waitFor({ timeout: 15000 });
  await page.evaluate(() => { window.__uitestMark = 'reset'; });
  const rowIDs = () => page.locator('[data-testid=reset-queue] tr[data-testid^="reset-"]')
    .evaluateAll((es) => es.map((e) => e.getAttribute('data-testid')));
  const before = new Set(await rowIDs());
  await byTest(page, 'reset-' + copy).click();
  // The new reset's row appears, then its state moves to Succeeded.
  const row = await timed('reset row in the queue', async () => {
    const end = Date.now() + 60000;
    for (;;) {
      const fresh = (await rowIDs()).filter((id) => !before.has(id));
      if (fresh.length === 1) return byTest(page, fresh[0]);
      assert.ok(fresh.length === 0, `several new rows in reset-queue: ${fresh}`);
      assert.ok(Date.now() < end, 'no new row in reset-queue 60 s after the reset button');
      await page.waitForTimeout(250);
    }
  });
  const states = new Set();
  await timed('reset Succeeded (live)', async () => {
    const end = Date.now() + 6 * 60000;
    for (;;) {
      const st = ((await row.locator('[data-testid=reset-state]').textContent().catch(() => '')) || '').trim();
      states.add(st);
      if (/Succeeded/.test(st)) return;
      assert.ok(!/Failed/.test(st), `the reset failed: ${st}`);
      assert.ok(Date.now() < end, `the reset is ${st} after 6 min`);
      await page.waitForTimeout(500);
    }
  });
  console.log(`# reset states seen: ${[...states].join(' -> ')}`);
  assert.equal(await page.evaluate(() => window.__uitestMark), 'reset', 'the page was reloaded');
  const posts = rec.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === `/api/v0/groups/${e.group}/namespaces/${e.name}-${copy}/resets`);
  assert.equal(posts.length, 1, 'the reset was asked by one POST to the copy\'s resets');
  await byTest(page, 'env-copy-' + other).waitFor();
  await screenshot(page, '09-environment-reset');
  await noOverflow(page, 'environment page');
  await page.setViewportSize(TABLET);
  await noOverflow(page, 'environment page (tablet)');
  await screenshot(page, 'tablet-environment');
  noErrors(rec, 'environment reset');
  await context.close();
}));
