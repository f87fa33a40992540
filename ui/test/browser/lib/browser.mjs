// Chromium for the tests: Debian's /usr/bin/chromium driven by
// playwright-core (which downloads nothing), with the flags that keep it
// off the network, and a page that records everything the tests check:
// console errors and uncaught exceptions (any fails the test), every
// request and response, websockets and full page loads.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { env } from './env.mjs';

export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  // The lab's serving certificate names node-a's address, not the relay's
  // loopback one (the context also ignores HTTPS errors).
  '--ignore-certificate-errors'];

export const DESKTOP = { width: 1280, height: 720 };
export const TABLET = { width: 768, height: 1024 };

export async function launch() {
  return chromium.launch({ executablePath: env.chromium, args: ARGS, headless: true });
}

// The first view the app renders on a load: the sign-in form, the
// navigation of a signed-in page, or the console-link page. An init script
// (evaluated before the app's, not subject to its CSP) notes when one of
// them first appears, in performance.now() time.
const FIRST_VIEW = '[data-testid=token-input],[data-testid=nav],[data-testid=link-page]';
function firstViewProbe(sel) {
  const mark = () => {
    if (window.__firstView === undefined && document.querySelector(sel)) window.__firstView = performance.now();
  };
  new MutationObserver(mark).observe(document, { childList: true, subtree: true });
}

// lastOpened is the page a test opened last (a console's own window
// included): what explain shows when a test fails.
let lastPage = null;
export const lastOpened = () => lastPage;

// open makes a fresh context (no session) and a recorded page in it.
export async function open(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, ignoreHTTPSErrors: true });
  await context.addInitScript(firstViewProbe, FIRST_VIEW);
  context.on('page', (p) => { lastPage = p; });
  const page = await context.newPage();
  const rec = record(page);
  return { context, page, rec };
}

// record collects what a page does.
export function record(page) {
  const rec = { errors: [], requests: [], responses: [], sockets: [], loads: 0 };
  page.on('console', (m) => { if (m.type() === 'error') rec.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => rec.errors.push(`uncaught: ${e.stack || e.message}`));
  page.on('load', () => { rec.loads++; });
  // A confirmation the app asks for (delete, power, reset) is what the
  // user would accept; it is logged.
  page.on('dialog', (d) => { console.log(`# dialog accepted: ${d.message()}`); d.accept(); });
  page.on('request', (r) => rec.requests.push({ url: r.url(), method: r.method(), type: r.resourceType(), at: Date.now() }));
  page.on('response', (r) => rec.responses.push({ url: r.url(), status: r.status(), response: r, at: Date.now() }));
  page.on('websocket', (ws) => {
    const s = { url: ws.url(), received: 0, sent: 0, closed: false, error: '' };
    ws.on('framereceived', () => { s.received++; });
    ws.on('framesent', () => { s.sent++; });
    ws.on('close', () => { s.closed = true; });
    ws.on('socketerror', (e) => { s.error = String(e); });
    rec.sockets.push(s);
  });
  return rec;
}

// screenshot writes artifacts/screenshots/<name>.png.
export async function screenshot(page, name) {
  const dir = join(env.artifacts, 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name + '.png') });
}

// go opens an app route (a hash path such as '/g/group1') in the page; the
// first call loads the app, later ones only change the hash (no reload).
export async function go(page, hash) {
  const target = env.url + '#' + hash;
  if (page.url().startsWith(env.url)) {
    await page.evaluate((h) => { location.hash = h; }, hash);
  } else {
    await page.goto(target);
  }
}

export const byTest = (page, id) => page.locator(`[data-testid="${id}"]`);

// waitText waits until the element's text matches re, up to timeout ms,
// and returns the text; the failure names what it saw last.
export async function waitText(loc, re, timeout, what) {
  const end = Date.now() + timeout;
  let last = '';
  while (Date.now() < end) {
    const t = await loc.first().textContent({ timeout: 1000 }).catch(() => null);
    last = t ?? '(absent)';
    if (t !== null && re.test(t)) return t;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: waited ${timeout} ms for ${re}, last text ${JSON.stringify(last)}`);
}

// explain runs fn; when it fails, it saves a screenshot of the page as
// screenshots/fail-<name>.png and adds the page's URL and visible text to
// the error, so that a failure in CI shows what the browser showed.
export async function explain(page, name, fn) {
  try {
    return await fn();
  } catch (e) {
    const p = typeof page === 'function' ? page() : page;
    let seen = '';
    if (p) try {
      await screenshot(p, 'fail-' + name);
      const text = await p.evaluate(() => document.body.innerText);
      seen = `\n--- the page (${p.url()}) showed:\n${text.slice(0, 1500)}`;
    } catch { /* the page is gone */ }
    e.message += seen;
    if (e.stack) e.stack += seen; // what node:test prints
    throw e;
  }
}
