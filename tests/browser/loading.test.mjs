// While the server reads the table for the first time, the page shows how
// many rows it has read, from /api/progress, then the metrics replace it.
// A fresh server over ~3.9M rows gives the debug build about two seconds of
// loading to watch.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch } from './chromium.mjs';
import { startServer } from './server.mjs';

let server, browser;
before(async () => {
  server = await startServer({ services: 100, days: 730, seed: 4 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

test('a cold load shows a progress bar that counts the rows read', async () => {
  const page = await browser.newPage();
  // Record every value the progress bar takes, as the DOM changes.
  await page.addInitScript(() => {
    window.seen = [];
    new MutationObserver(() => {
      const bar = document.querySelector('[data-testid=load-progress]');
      if (bar) window.seen.push({ value: Number(bar.getAttribute('value')), max: Number(bar.getAttribute('max')) });
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
  await page.goto(`${server.base}/`);
  const status = page.getByTestId('loading');
  assert.equal(await status.getAttribute('role'), 'status');
  await page.getByTestId('anomaly-table').waitFor({ timeout: 60000 });
  assert.equal(await page.getByTestId('loading').count(), 0, 'the loading line goes away');

  const seen = await page.evaluate(() => window.seen);
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  assert.ok(seen.length > 0, 'the progress bar was shown while loading');
  for (const s of seen) {
    assert.equal(s.max, meta.rows, 'the bar counts to the rows in the table');
    assert.ok(s.value >= 0 && s.value <= s.max, JSON.stringify(s));
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].value >= seen[i - 1].value, 'never goes back');
  const after = await (await fetch(`${server.base}/api/progress`)).json();
  assert.deepEqual(after, { loading: false, rows_read: 0, rows_total: 0 });
  await page.close();
});
