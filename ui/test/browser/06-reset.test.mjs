// The environment's page: its copies, and a reset of team b's copy asked
// from the UI by the admin, followed live in the reset queue until it has
// finished.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from './lib/env.mjs';
import { TABLET, byTest, go, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { noErrors, noOverflow, resetAndFollow, signIn } from './lib/app.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Team a's operator resets its own copy (05-operator); the admin resets
// team b's here.
test('reset team b\'s copy from the environment page; the queue shows it finish live', () => explain(lastOpened, 'env-reset', async () => {
  const e = env.env;
  const [first, copy] = env.copies;
  const { context, page, rec } = await open(browser);
  await signIn(page, env.admin);
  await go(page, `/g/${e.group}/environments/${e.name}`);
  await byTest(page, 'env-copies').waitFor({ timeout: 30000 });
  for (const c of env.copies) await waitText(byTest(page, 'env-copy-' + c).locator('[data-testid=copy-state]'), /\S/, 30000, `copy ${c} state`);
  await byTest(page, 'capture').waitFor({ timeout: 15000 });
  await resetAndFollow(page, rec, copy, `/api/v0/groups/${e.group}/namespaces/${e.name}-${copy}/resets`, 'admin');
  await byTest(page, 'env-copy-' + first).waitFor();
  await screenshot(page, '09-environment-reset');
  await noOverflow(page, 'environment page');
  await page.setViewportSize(TABLET);
  await noOverflow(page, 'environment page (tablet)');
  await screenshot(page, 'tablet-environment');
  noErrors(rec, 'environment reset');
  await context.close();
}));
