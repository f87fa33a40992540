// vm1's serial console runs a command in the guest; its VNC console shows
// a screen that is not blank; vm2 is powered off and on from its page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from './lib/env.mjs';
import { byTest, go, launch, open, screenshot, waitText, explain, lastOpened } from './lib/browser.mjs';
import { noErrors, noOverflow, signIn, timed } from './lib/app.mjs';

const VM = '/g/group1/ns/ns1/virtualmachines/';
let browser, s;
before(async () => {
  browser = await launch();
  s = await open(browser);
  await signIn(s.page, env.admin);
});
after(async () => { await browser?.close(); });

// openConsole clicks a console button of the VM panel: the console opens
// in this page (#/console/...) or in a new one; it returns that page.
export async function openConsole(page, button, kind) {
  const popup = page.context().waitForEvent('page', { timeout: 2000 }).catch(() => null);
  await byTest(page, button).first().click();
  const other = await popup;
  const p = other || page;
  await p.waitForURL(new RegExp(`#/(console|link)/.*/${kind}$`), { timeout: 15000 });
  return p;
}

// terminalLines reads the xterm buffer as rendered in the DOM rows.
export const terminalLines = (page) => page.evaluate(() =>
  [...document.querySelectorAll('[data-testid=serial-console] .xterm-rows > div')]
    .map((r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()));

// runInSerial types a shell command printing ui-<n>-ok (n from the
// guest's $RANDOM) and returns the expanded output line. A VM is Running
// as soon as QEMU runs, before its guest has booted: keys typed while the
// shell is not up yet are lost (the first try then prints "o: not found"),
// so the command is typed again every few seconds until its output shows.
export async function runInSerial(page, rec) {
  await waitText(byTest(page, 'console-status'), /^\s*connected\s*$/i, 30000, 'serial console-status');
  const ws = rec.sockets.filter((w) => /\/serial(\?|$)/.test(w.url));
  assert.ok(ws.length >= 1, 'no websocket to a /serial route');
  await byTest(page, 'serial-console').click();
  const end = Date.now() + 60000;
  let tries = 0;
  for (;;) {
    tries++;
    await page.keyboard.press('Enter'); // a fresh prompt
    await page.keyboard.type('echo ui-$RANDOM-ok');
    await page.keyboard.press('Enter');
    const next = Date.now() + 6000;
    while (Date.now() < next) {
      const lines = await terminalLines(page);
      const out = lines.find((l) => /^ui-\d+-ok$/.test(l.trim()));
      if (out) {
        console.log(`# serial command typed ${tries} time(s)`);
        return out.trim();
      }
      await page.waitForTimeout(300);
    }
    const lines = await terminalLines(page);
    assert.ok(Date.now() < end, `no ui-<n>-ok line in the terminal after 60 s (${tries} tries); rows:\n${lines.filter(Boolean).join('\n')}`);
  }
}

test('serial console: a command runs in the guest and its output appears', () => explain(lastOpened, 'serial-console-a-command-runs-in-the-gue', async () => {
  await go(s.page, VM + 'vm1');
  const page = await openConsole(s.page, 'open-serial', 'serial');
  await byTest(page, 'serial-console').waitFor({ timeout: 15000 });
  for (const b of ['paste', 'copy']) await byTest(page, b).waitFor();
  const out = await timed('serial command round trip', () => runInSerial(page, s.rec));
  console.log(`# the guest printed ${out}`);
  await screenshot(page, '06-serial-console');
  await noOverflow(page, 'serial console');
  noErrors(s.rec, 'serial console');
  if (page !== s.page) await page.close();
}));

// canvasColours counts the distinct colours of noVNC's canvas (up to 16).
const canvasColours = (page) => page.evaluate(() => {
  const c = document.querySelector('[data-testid=vnc-console] canvas');
  if (!c || !c.width || !c.height) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length && seen.size < 16; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
});

test('VNC console: the canvas shows the guest screen (not one colour)', () => explain(lastOpened, 'vnc-console-the-canvas-shows-the-guest-s', async () => {
  await go(s.page, VM + 'vm1');
  const page = await openConsole(s.page, 'open-vnc', 'vnc');
  await byTest(page, 'vnc-console').waitFor({ timeout: 15000 });
  for (const b of ['ctrl-alt-del', 'clipboard', 'clipboard-send']) await byTest(page, b).waitFor();
  await waitText(byTest(page, 'console-status'), /^\s*connected\s*$/i, 30000, 'VNC console-status');
  assert.ok(s.rec.sockets.some((w) => /\/ws(\?|$)/.test(w.url)), 'no websocket to the /ws (VNC) route');
  const colours = await timed('VNC canvas not blank', async () => {
    const end = Date.now() + 60000;
    for (;;) {
      const n = await canvasColours(page);
      if (n >= 2) return n;
      assert.ok(Date.now() < end, `the VNC canvas has ${n} colour(s) after 60 s`);
      await page.waitForTimeout(500);
    }
  });
  console.log(`# VNC canvas: ${colours} colours`);
  await screenshot(page, '07-vnc-console');
  await noOverflow(page, 'VNC console');
  noErrors(s.rec, 'VNC console');
  if (page !== s.page) await page.close();
}));

test('power vm2 off and on from its page: Stopped, then Running', () => explain(lastOpened, 'power-vm2-off-and-on-from-its-page-stopp', async () => {
  const { page, rec } = s;
  await go(page, VM + 'vm2');
  await waitText(byTest(page, 'power-state'), /Running/, 60000, 'vm2 power-state');
  await page.evaluate(() => { window.__uitestMark = 'power'; });
  await byTest(page, 'power-off').click();
  await timed('vm2 powered off (Stopped)', () => waitText(byTest(page, 'power-state'), /^\s*Stopped\s*$/, 3 * 60000, 'vm2 after power-off'));
  await byTest(page, 'power-on').click();
  await timed('vm2 powered on (Running)', () => waitText(byTest(page, 'power-state'), /^\s*Running\s*$/, 3 * 60000, 'vm2 after power-on'));
  assert.equal(await page.evaluate(() => window.__uitestMark), 'power', 'the page was reloaded');
  const puts = rec.requests.filter((r) => r.method === 'PUT' && /\/virtualmachines\/vm2\/power$/.test(new URL(r.url).pathname));
  assert.equal(puts.length, 2, 'power requests (PUT .../vm2/power)');
  noErrors(rec, 'power');
}));
