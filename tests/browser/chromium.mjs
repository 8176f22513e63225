// Debian's chromium, headless, with the flags this network needs. Never
// downloads a browser.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// The app applies at most one slider move per animation frame (its
// `per_frame`: the first at once, later ones of the same frame in it), so a
// test waits for that frame before it reads the page. Our callback is
// queued after the app's, in the same frame.
export async function nextFrame(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
}

// Moves a slider (`fill` fires `input`) and waits for the frame that shows it.
export async function slide(page, testid, value) {
  await page.getByTestId(testid).fill(String(value));
  await nextFrame(page);
}

// The page's link once the app has written its controls into it (it writes
// at most every 100 ms during a drag; `<html data-url-pending>` meanwhile).
export async function pageUrl(page) {
  await page.waitForFunction(() => !document.documentElement.hasAttribute('data-url-pending'));
  return page.url();
}

// The page's metrics and its first ten rows (service and day), in the
// form `anomaliesState` gives the server's answer.
export async function pageState(page) {
  const v = async (id) => page.getByTestId(id).getAttribute('data-value');
  const rows = await page.getByTestId('anomaly-row').evaluateAll((trs) =>
    trs.slice(0, 10).map((tr) => `${tr.dataset.key} ${tr.dataset.date}`));
  return { total: Number(await v('metric-total')), anomalous: Number(await v('metric-anomalous')), share: Number(await v('metric-share')), rows };
}

// The server's metrics and first ten rows for `params` (/api/anomalies at
// `base`), to compare with `pageState`.
export async function anomaliesState(base, params) {
  const q = new URLSearchParams({ ...params, limit: '10' });
  const r = await fetch(`${base}/api/anomalies?${q}`);
  assert.equal(r.status, 200);
  const body = await r.json();
  return {
    total: body.metrics.total, anomalous: body.metrics.anomalous, share: body.metrics.share,
    rows: body.anomalies.map((a) => `${a.key} ${a.date}`),
  };
}

// Opens the app at `url` in a new page of `browser`, collecting the page's
// uncaught errors, and waits for `ready` (by default its anomaly table).
export async function openApp(browser, url, ready = (page) => page.getByTestId('anomaly-table')) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await ready(page).waitFor({ timeout: 30000 });
  return { page, errors };
}
