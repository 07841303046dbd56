// Drives the bridge's dashboard in Debian's Chromium through playwright-core:
// the page loads, shows a conference the Go test created through the REST
// API, and the try-it panel's two browser endpoints exchange an
// EndpointMessage. Prints one JSON line ({"ok":true,...} or {"ok":false,...})
// and keeps a screenshot.
//
// usage: node test.mjs DASHBOARD_URL EXPECTED_MEETING_ID OUT_DIR
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// playwright-core lives in the install script's prefix, interop/.deps.
const require = createRequire(new URL('../.deps/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [dashboardURL, meeting, outDir] = process.argv.slice(2);
if (!dashboardURL || !meeting || !outDir) {
  console.error('usage: node test.mjs DASHBOARD_URL EXPECTED_MEETING_ID OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const TIMEOUT = 15000;
const problems = []; // page errors and console errors

async function run(page, result) {
  await page.goto(dashboardURL, { waitUntil: 'load', timeout: TIMEOUT });

  // The conference created through the API shows, and the page is live.
  await page.locator(`tr.conf[data-meeting="${meeting}"]`).waitFor({ timeout: TIMEOUT });
  await page.waitForFunction(() => document.getElementById('health').textContent === 'healthy', null, { timeout: TIMEOUT });
  result.apiConference = (await page.locator(`tr.conf[data-meeting="${meeting}"]`).innerText()).replace(/\s+/g, ' ');
  if (await page.locator('#drain').isVisible()) throw new Error('the drain badge shows while the bridge is not draining');

  // Try it: create the demo conference, connect alice and bob from the browser.
  await page.click('#demo-create');
  for (const id of ['alice', 'bob']) {
    await page.waitForFunction((id) => document.getElementById('demo-state-' + id).textContent === 'connected', id, { timeout: TIMEOUT });
  }
  result.demoStatus = await page.locator('#demo-status').innerText();

  // alice -> bob, unicast.
  const text = 'hello bob ' + Math.random().toString(36).slice(2, 10);
  await page.selectOption('#demo-from', 'alice');
  await page.selectOption('#demo-to', 'bob');
  await page.fill('#demo-text', text);
  await page.click('#demo-send');
  const got = page.locator('#demo-log-bob li', { hasText: text });
  await got.waitFor({ timeout: TIMEOUT });
  const line = await got.first().innerText();
  const msg = JSON.parse(line.replace(/^← /, ''));
  if (msg.colibriClass !== 'EndpointMessage' || msg.from !== 'alice' || msg.to !== 'bob' || msg.msgPayload.text !== text) {
    throw new Error('bob received ' + line);
  }
  result.received = msg;
  const aliceGot = await page.locator('#demo-log-alice li', { hasText: '← ' }).filter({ hasText: text }).count();
  if (aliceGot !== 0) throw new Error('alice received her own unicast message');

  // bob -> everyone: alice gets it.
  const text2 = 'hello all ' + Math.random().toString(36).slice(2, 10);
  await page.selectOption('#demo-from', 'bob');
  await page.selectOption('#demo-to', '');
  await page.fill('#demo-text', text2);
  await page.click('#demo-send');
  await page.locator('#demo-log-alice li', { hasText: text2 }).waitFor({ timeout: TIMEOUT });

  // The demo conference shows with both endpoints connected, and rates move.
  const demoRow = page.locator('tr.conf[data-meeting^="dashboard-demo-"]');
  await demoRow.waitFor({ timeout: TIMEOUT });
  await page.waitForFunction(() => {
    const row = document.querySelector('tr.conf[data-meeting^="dashboard-demo-"]');
    return row && row.children[4].textContent === '2 / 2';
  }, null, { timeout: TIMEOUT });
  for (let i = 0; i < 10; i++) await page.click('#demo-send');
  await page.waitForFunction(() => parseFloat(document.getElementById('rate-in').textContent) > 0, null, { timeout: TIMEOUT });
  result.rateIn = await page.locator('#rate-in').innerText();
  result.demoConference = (await demoRow.innerText()).replace(/\s+/g, ' ');
}

async function main() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (err) => problems.push('page error: ' + err.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  const result = { ok: false };
  try {
    await run(page, result);
    if (problems.length) throw new Error(problems.join('; '));
    result.screenshot = join(outDir, 'dashboard.png');
    await page.screenshot({ path: result.screenshot, fullPage: true });
    result.ok = true;
  } catch (err) {
    result.error = String(err && err.message || err);
    result.problems = problems;
    result.screenshot = join(outDir, 'dashboard-failure.png');
    await page.screenshot({ path: result.screenshot, fullPage: true }).catch(() => {});
  } finally {
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

main().catch((err) => {
  console.log(JSON.stringify({ ok: false, error: String(err && err.stack || err) }));
  process.exit(1);
});
