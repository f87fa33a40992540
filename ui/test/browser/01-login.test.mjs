// Sign-in with the keyboard, the bundle's size and the first load's
// timings (ui-artifacts/figures.json), the login view's screenshots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { env } from './lib/env.mjs';
import { DESKTOP, TABLET, byTest, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { figure, noErrors, noOverflow, signIn } from './lib/app.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('bundle size from the build manifest', () => {
  const m = JSON.parse(readFileSync(env.manifest, 'utf8'));
  const js = m.files.filter((f) => f.path.endsWith('.js'));
  const entry = m.files.find((f) => '/ui/' + f.path === m.entry);
  assert.ok(entry, `the manifest's entry ${m.entry} is among its files`);
  const sum = (fs, k) => fs.reduce((n, f) => n + f[k], 0);
  const bundle = {
    files: m.files.length,
    totalRaw: sum(m.files, 'bytes'), totalGzip: sum(m.files, 'gzip'),
    jsRaw: sum(js, 'bytes'), jsGzip: sum(js, 'gzip'),
    entry: { path: entry.path, raw: entry.bytes, gzip: entry.gzip },
  };
  figure('bundle', bundle);
  console.log(`# bundle: ${bundle.files} files, ${bundle.totalRaw} B raw, ${bundle.totalGzip} B gzip; entry ${entry.bytes} B (${entry.gzip} B gzip)`);
});

test('first load: navigation timing and the first view, 5 fresh contexts', () => explain(lastOpened, 'first-load-navigation-timing-and-the-fir', async () => {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const { context, page, rec } = await open(browser);
    await page.goto(env.url, { waitUntil: 'load' });
    await byTest(page, 'token-input').waitFor();
    await page.waitForFunction(() => window.__firstView !== undefined);
    runs.push(await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return { responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, firstView: window.__firstView };
    }));
    noErrors(rec, 'first load');
    await context.close();
  }
  const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const median = Object.fromEntries(['responseEnd', 'domContentLoaded', 'load', 'firstView'].map((k) => [k, Math.round(med(k) * 10) / 10]));
  figure('firstLoad', { where: 'Chromium through the loopback relay into the lab (TLS)', runs, median });
  console.log(`# first load (median of 5, ms): ${JSON.stringify(median)}`);
  // The 1 s goal is a benchmark's (BenchmarkUIFirstLoad, make bench): here
  // the lab shares the machine with other packages' guests, so only a
  // first view slow enough to mean something is broken fails the test.
  assert.ok(median.firstView < 5000, `first view after ${median.firstView} ms (broken: the goal is under 1 s on loopback)`);
}));

test('sign in with the keyboard only; a wrong token is refused', () => explain(lastOpened, 'sign-in-with-the-keyboard-only-a-wrong-t', async () => {
  const { context, page, rec } = await open(browser);
  await page.goto(env.url);
  await byTest(page, 'token-input').waitFor();
  await screenshot(page, '01-login');
  await page.setViewportSize(TABLET);
  await noOverflow(page, 'login (tablet)');
  await screenshot(page, 'tablet-01-login');
  await page.setViewportSize(DESKTOP);
  await signIn(page, env.admin);
  await waitText(byTest(page, 'whoami'), /\S/, 10000, 'whoami');
  noErrors(rec, 'sign-in');
  await byTest(page, 'signout').click();
  await byTest(page, 'token-input').waitFor();
  await context.close();

  // A token the server does not know: the server's 401 is the expected
  // console message, nothing else is.
  const bad = await open(browser);
  await signInExpectingRefusal(bad.page, 'hst_nosuchtoken.AAAA');
  const text = await waitText(byTest(bad.page, 'login-error'), /\S/, 15000, 'login-error');
  console.log(`# login-error: ${text}`);
  assert.ok(bad.rec.responses.some((r) => r.status === 401), 'the wrong token was never refused by the server (401)');
  assert.deepEqual(bad.rec.errors.filter((e) => !/status of 401/.test(e)), [], 'errors besides the 401');
  await bad.context.close();
}));

async function signInExpectingRefusal(page, token) {
  await page.goto(env.url);
  await byTest(page, 'token-input').fill(token);
  await byTest(page, 'token-signin').press('Enter');
}
