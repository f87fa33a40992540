// The first-load benchmark's browser side (internal/uitest,
// BenchmarkUIFirstLoad): loads HUMSTACK_UI_URL's sign-in page
// HUMSTACK_LOADS times, each in a fresh browser context (empty cache, no
// session), and prints one JSON line with each load's navigation timing
// and the time until the app's first view is rendered (ms), and the wall
// time of each load including the context's creation.
import { byTest, launch, open } from './browser.mjs';
import { env, need } from './env.mjs';

const loads = Number(need('HUMSTACK_LOADS'));
const browser = await launch();
const runs = [];
try {
  for (let i = 0; i < loads; i++) {
    const t0 = performance.now();
    const { context, page, rec } = await open(browser);
    await page.goto(env.url, { waitUntil: 'load' });
    await byTest(page, 'token-input').waitFor();
    await page.waitForFunction(() => window.__firstView !== undefined);
    const r = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return { responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, firstView: window.__firstView };
    });
    r.wall = performance.now() - t0;
    if (rec.errors.length) throw new Error(`console errors: ${rec.errors.join('; ')}`);
    runs.push(r);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ runs }));
