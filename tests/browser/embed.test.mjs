// Embedding on purpose: a portal listed in `frame_ancestors` shows the app
// in an iframe, any other site is refused by the browser, and the app runs
// under its Content-Security-Policy without a single violation.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launch, slide } from './chromium.mjs';
import { bin, startServer } from './server.mjs';

/** A one-page site on its own localhost port that frames `app.src`
 * (127.0.0.1 is the app's origin; localhost:PORT is another one). */
function portal(app) {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>portal</title><iframe src="${app.src}" width="1200" height="900"></iframe>`);
    });
    srv.listen(0, '127.0.0.1', () => resolve({ origin: `http://localhost:${srv.address().port}`, close: () => srv.close() }));
  });
}

/** Collects CSP violations (in every frame) and uncaught errors of a page. */
async function watch(page) {
  const problems = [];
  page.on('console', (m) => { if (/Content Security Policy|CSP violation/i.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) =>
    console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sample}`)));
  return problems;
}

const app = { src: '' };
let server, browser, allowed, refused, dir;
before(async () => {
  [allowed, refused] = [await portal(app), await portal(app)];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-embed-'));
  const data = path.join(dir, 'tx.parquet');
  execFileSync(bin, ['sample', '--out', data, '--services', '8', '--days', '120', '--seed', '5'], { stdio: 'ignore' });
  // Set through the environment, as a deployment would.
  server = await startServer({ data, env: { SERVICEWATCH_FRAME_ANCESTORS: `'self' ${allowed.origin}` } });
  app.src = `${server.base}/?embed=1`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
  allowed?.close();
  refused?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a portal listed in frame_ancestors embeds the app', async () => {
  const page = await browser.newPage();
  const problems = await watch(page);
  await page.goto(`${allowed.origin}/`);
  const frame = page.frameLocator('iframe');
  await frame.getByTestId('anomaly-table').waitFor({ timeout: 30000 });
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  assert.equal(Number(await frame.getByTestId('metric-total').getAttribute('data-value')), meta.rows);
  assert.equal(await frame.locator('header').count(), 0, 'embed mode');
  await frame.locator('#sw-chart g.sw-band path').waitFor({ state: 'attached', timeout: 30000 });
  assert.deepEqual(problems, []);
  await page.close();
});

test('a site not listed cannot frame the app', async () => {
  const page = await browser.newPage();
  const refusals = [];
  page.on('console', (m) => { if (/frame-ancestors/.test(m.text())) refusals.push(m.text()); });
  await page.goto(`${refused.origin}/`);
  for (let i = 0; i < 100 && refusals.length === 0; i++) await page.waitForTimeout(100);
  assert.ok(refusals.length > 0, 'the browser reports the refusal');
  assert.match(refusals[0], new RegExp(`frame-ancestors 'self' ${allowed.origin}`));
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(!frame.url().startsWith(server.base), `the app is not in the frame: ${frame.url()}`);
  assert.equal(await page.frameLocator('iframe').getByTestId('metric-total').count(), 0);
  await page.close();
});

test('the app runs under its Content-Security-Policy without a violation', async () => {
  const page = await browser.newPage();
  const problems = await watch(page);
  const resp = await page.goto(`${server.base}/?z=2.5`);
  // A strict policy is in force: no 'unsafe-inline' or 'unsafe-eval', the
  // inline loader allowed by its hash.
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*'(;| )/);
  assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/);
  await page.getByTestId('anomaly-table').waitFor({ timeout: 30000 });
  // Scoring in wasm, plotly drawing and restyling, hover, the drill-down.
  await slide(page, 'z-threshold', 2);
  const row = page.getByTestId('anomaly-row').nth(1);
  const key = await row.getAttribute('data-key');
  await row.click();
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, key);
  await page.getByTestId('drilldown').getByTestId('drilldown-count').waitFor({ timeout: 30000 });
  // plotly's drag layer takes the pointer: move the mouse onto the first
  // flagged day (the overlay's marker, on the values line plotly hovers).
  const spot = await page.evaluate(() => {
    const gd = document.getElementById('sw-chart');
    const { xaxis, yaxis, _size } = gd._fullLayout;
    const box = gd.querySelector('.main-svg').getBoundingClientRect();
    const o = gd.swBand;
    return { x: box.left + _size.l + xaxis.d2p(o.flaggedDays[0]), y: box.top + _size.t + yaxis.l2p(o.flaggedValues[0]) };
  });
  await page.mouse.move(spot.x, spot.y);
  await page.locator('#sw-chart .hoverlayer .hovertext').first().waitFor({ timeout: 5000 });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the chart and its band follow the frame when it narrows', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(app.src);
  await page.locator('#sw-chart g.sw-band path').waitFor({ state: 'attached', timeout: 30000 });
  const sizes = () => page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    chart: document.querySelector('#sw-chart .main-svg').getBoundingClientRect().width,
    band: document.querySelector('#sw-chart g.sw-band path').getBoundingClientRect().right,
  }));
  const wide = await sizes();
  // A portal's side panel opens: the frame is 640 px wide.
  await page.setViewportSize({ width: 640, height: 900 });
  await page.waitForFunction(() => document.querySelector('#sw-chart .main-svg').getBoundingClientRect().width <= 640);
  await page.waitForFunction((right) => document.querySelector('#sw-chart g.sw-band path').getBoundingClientRect().right < right,
    wide.band);
  const narrow = await sizes();
  assert.ok(wide.chart > 900, `the chart filled the wide frame: ${JSON.stringify(wide)}`);
  assert.ok(narrow.page <= 640, `no sideways scrolling: ${JSON.stringify(narrow)}`);
  assert.ok(narrow.band <= 640, `the band is redrawn inside the narrower chart: ${JSON.stringify(narrow)}`);
  await page.close();
});
