// What several tests do with the app: sign in with the keyboard, check a
// view's layout, fail on console errors, apply YAML through the editor,
// and keep the figures file.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env } from './env.mjs';
import { byTest, explain, go } from './browser.mjs';

// signIn signs in with token using the keyboard only: Tab until the token
// field has the focus, type, Tab to the sign-in button, Enter. It waits
// for the signed-in shell.
export function signIn(page, token) {
  return explain(page, 'signin', () => keyboardSignIn(page, token));
}

async function keyboardSignIn(page, token) {
  await go(page, '/');
  await byTest(page, 'token-input').waitFor({ timeout: 30000 });
  await tabTo(page, 'token-input');
  await page.keyboard.insertText(token);
  await tabTo(page, 'token-signin');
  await page.keyboard.press('Enter');
  await byTest(page, 'nav').waitFor({ timeout: 30000 });
  await byTest(page, 'whoami').waitFor({ timeout: 30000 });
}

// tabTo presses Tab until the element with data-testid id has the focus.
export async function tabTo(page, id, max = 40) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate(() => document.activeElement?.getAttribute('data-testid')) === id) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`${id} never got the keyboard focus after ${max} Tabs`);
}

// noErrors fails on any console error or uncaught exception so far.
export function noErrors(rec, where) {
  assert.deepEqual(rec.errors, [], `console errors or uncaught exceptions (${where})`);
}

// noOverflow fails when the page scrolls sideways at its viewport.
export async function noOverflow(page, view) {
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    body: document.body.scrollWidth,
  }));
  assert.ok(m.scroll <= m.inner + 1 && m.body <= m.inner + 1,
    `${view}: the page overflows horizontally at width ${m.inner} (document ${m.scroll}, body ${m.body})`);
}

// words are the page's visible text split into names (letters, digits,
// '-', '_', '.'), for checks that a name is not shown anywhere.
export async function words(page) {
  const text = await page.evaluate(() => document.body.innerText + '\n' +
    [...document.querySelectorAll('[title],[aria-label],a[href]')].map((e) =>
      [e.getAttribute('title'), e.getAttribute('aria-label'), e.getAttribute('href')].join(' ')).join('\n'));
  return new Set(text.split(/[^A-Za-z0-9_.-]+/).filter(Boolean));
}

// apply pastes yaml into the editor (#/apply) and applies it; it returns
// the result lines. want is the number of objects that must be created or
// updated.
export async function apply(page, yaml, want, scope = '') {
  await go(page, '/apply' + scope);
  const ed = byTest(page, 'yaml-editor');
  await ed.waitFor({ timeout: 30000 });
  await ed.fill(yaml);
  await byTest(page, 'apply').click();
  const end = Date.now() + 60000;
  let lines = [];
  while (Date.now() < end) {
    const errs = await byTest(page, 'apply-error').allTextContents();
    const ferrs = await byTest(page, 'field-error').allTextContents();
    assert.deepEqual([...errs, ...ferrs], [], 'the editor reports errors for valid YAML');
    lines = (await byTest(page, 'apply-result').allInnerTexts()).flatMap((t) => t.split('\n')).map((l) => l.trim()).filter(Boolean);
    const done = lines.filter((l) => /created|updated|unchanged|configured/i.test(l));
    if (done.length >= want) break;
    await page.waitForTimeout(250);
  }
  const bad = lines.filter((l) => /error|fail|invalid|denied/i.test(l));
  assert.deepEqual(bad, [], 'apply-result lines with errors');
  assert.ok(lines.filter((l) => /created|updated|unchanged|configured/i.test(l)).length >= want,
    `apply-result shows ${lines.length} line(s), want ${want} created/updated: ${JSON.stringify(lines)}`);
  return lines;
}

// docs counts the YAML documents of a text.
export const docs = (yaml) => yaml.split(/^---\s*$/m).filter((d) => /\S/.test(d.replace(/#.*$/gm, ''))).length;

// figure merges key: value into artifacts/figures.json.
export function figure(key, value) {
  mkdirSync(env.artifacts, { recursive: true });
  const path = join(env.artifacts, 'figures.json');
  let all = {};
  try { all = JSON.parse(readFileSync(path, 'utf8')); } catch { /* first figure */ }
  all[key] = value;
  writeFileSync(path, JSON.stringify(all, null, 2) + '\n');
}

// timed runs fn and records its duration under durations.<name> (ms).
export async function timed(name, fn) {
  const t0 = Date.now();
  const out = await fn();
  const ms = Date.now() - t0;
  let d = {};
  try { d = JSON.parse(readFileSync(join(env.artifacts, 'figures.json'), 'utf8')).durations || {}; } catch { /* none yet */ }
  d[name] = ms;
  figure('durations', d);
  console.log(`# ${name}: ${ms} ms`);
  return out;
}

// inScope reports whether an API path belongs to a caller confined to one
// namespace: that namespace's own paths, the caller-wide routes every
// caller has (whoami, kinds), the cluster-wide event collection (the
// server filters it to what the caller may see; its answers are checked
// too), and the app's own files.
export function inScope(path, { group, ns }) {
  const mine = `/api/v0/groups/${group}/namespaces/${ns}`;
  return path === mine || path.startsWith(mine + '/') ||
    ['/api/v0/whoami', '/api/v0/kinds', '/api/v0/events'].includes(path) ||
    path.startsWith('/ui/') || path === '/ui';
}

// resetAndFollow clicks the reset button of copy (data-testid
// reset-<copy>) on the page's environment or copy panel, and follows the
// new row of its reset-queue until the reset has Succeeded, live: no
// reload, one POST to the copy's resets (resetsPath). It returns the
// states the row showed.
export async function resetAndFollow(page, rec, copy, resetsPath, label) {
  await page.evaluate(() => { window.__uitestMark = 'reset'; });
  const rowIDs = () => page.locator('[data-testid=reset-queue] tr[data-testid^="reset-"]')
    .evaluateAll((es) => es.map((e) => e.getAttribute('data-testid')));
  const before = new Set(await rowIDs());
  await byTest(page, 'reset-' + copy).click();
  const row = await timed(`${label}: reset row in the queue`, async () => {
    const end = Date.now() + 60000;
    for (;;) {
      const fresh = (await rowIDs()).filter((id) => !before.has(id));
      if (fresh.length === 1) return byTest(page, fresh[0]);
      assert.ok(fresh.length === 0, `several new rows in reset-queue: ${fresh}`);
      assert.ok(Date.now() < end, 'no new row in reset-queue 60 s after the reset button');
      await page.waitForTimeout(250);
    }
  });
  const states = [];
  await timed(`${label}: reset Succeeded (live)`, async () => {
    const end = Date.now() + 6 * 60000;
    for (;;) {
      const st = ((await row.locator('[data-testid=reset-state]').textContent().catch(() => '')) || '').trim();
      if (st !== states[states.length - 1]) states.push(st);
      if (/Succeeded/.test(st)) return;
      assert.ok(!/Failed/.test(st), `the reset failed: ${st}`);
      assert.ok(Date.now() < end, `the reset is ${st} after 6 min`);
      await page.waitForTimeout(250);
    }
  });
  console.log(`# ${label}: reset states seen: ${states.join(' -> ')}`);
  assert.equal(await page.evaluate(() => window.__uitestMark), 'reset', 'the page was reloaded');
  const posts = rec.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === resetsPath);
  assert.equal(posts.length, 1, `the reset was asked by one POST to ${resetsPath}`);
  return states;
}
