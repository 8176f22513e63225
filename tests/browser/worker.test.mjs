// A full scoring by the robust method large enough to split (100,000
// service-days and up) runs on two threads in the browser: the page scores the first services, a Web
// Worker on the app's own module the others (frontend/src/worker.rs). The
// page's numbers must be the server's for every method, and a page that
// cannot start a worker must score alone, with the same numbers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { anomaliesState, launch, nextFrame, openApp, pageState } from './chromium.mjs';
import { startServer } from './server.mjs';

let server, browser;
before(async () => {
  // 800 services × 200 days: about 120,000 service-days with a row.
  server = await startServer({ services: 800, days: 200, seed: 5 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const apiState = (params) => anomaliesState(server.base, params);

const metrics = (page, key) => page.locator('section.metrics').getAttribute(`data-${key}`);

// Waits until the page has run `n` scorings and shows `want`'s flag count.
async function scored(page, n, want) {
  await page.waitForFunction(([n, anomalous]) => {
    const m = document.querySelector('section.metrics')?.dataset;
    return Number(m?.scorings) >= n && document.querySelector('[data-testid=metric-anomalous]')?.dataset.value === String(anomalous);
  }, [n, want.anomalous]);
}

async function everyMethodMatchesTheServer(page, threads) {
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  assert.ok(meta.service_days >= 100000, `${meta.service_days} service-days: too few to split`);
  const robust = await apiState({});
  await scored(page, 1, robust);
  assert.deepEqual(await pageState(page), robust);
  // The worker starts with the data: the page's first scoring is mostly
  // its own (the worker may be ready when the marks or meta come late).
  assert.match(await metrics(page, 'scoring-threads'), /^[12]$/);
  const settings = [
    // Classic is cheap enough to score alone: its part would take longer
    // to come back from the worker.
    [{ method: 'classic' }, (p) => p.getByTestId('method').selectOption('classic'), 1],
    [{ weekly: 'false' }, async (p) => { await p.getByTestId('method').selectOption('robust'); await p.getByTestId('weekly').uncheck(); }],
    [{ from: '2024-01-15' }, async (p) => { await p.getByTestId('weekly').check(); await p.getByTestId('date-from').fill('2024-01-15'); }],
  ];
  for (const [params, set, alone] of settings) {
    const before = Number(await metrics(page, 'scorings'));
    const want = await apiState(params);
    await set(page);
    await scored(page, before + 1, want);
    assert.deepEqual(await pageState(page), want, JSON.stringify(params));
    assert.equal(await metrics(page, 'scoring-threads'), String(alone ?? threads), JSON.stringify(params));
  }
}

test('a large scoring runs on two threads and gives the server\'s numbers', async () => {
  const { page, errors } = await openApp(browser, `${server.base}/`);
  assert.equal(page.workers().length, 1, 'one scoring worker');
  await everyMethodMatchesTheServer(page, 2);
  assert.deepEqual(errors, []);
  await page.close();
});

test('without a worker the page scores alone, with the same numbers', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => { delete window.Worker; });
  await page.goto(`${server.base}/`);
  await page.getByTestId('anomaly-table').waitFor({ timeout: 30000 });
  assert.equal(page.workers().length, 0);
  await everyMethodMatchesTheServer(page, 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('while a new scoring runs, the old results say so and are not exported', async () => {
  const { page, errors } = await openApp(browser, `${server.base}/`);
  await page.waitForFunction(() => Number(document.querySelector('section.metrics')?.dataset.scorings) >= 1);
  assert.equal(await page.getByTestId('results').getAttribute('aria-busy'), 'false');
  // Every change of the two attributes from here on, with the value it replaced.
  await page.evaluate(() => {
    window.busySeen = [];
    const results = document.querySelector('[data-testid=results]');
    const exportCsv = document.querySelector('[data-testid=export-csv]');
    new MutationObserver((records) => {
      for (const r of records) window.busySeen.push([r.attributeName, r.oldValue]);
    }).observe(results, { attributes: true, attributeOldValue: true, attributeFilter: ['aria-busy'], subtree: false });
    new MutationObserver((records) => {
      for (const r of records) window.busySeen.push([r.attributeName, r.oldValue]);
    }).observe(exportCsv, { attributes: true, attributeOldValue: true, attributeFilter: ['disabled'] });
  });
  const before = Number(await metrics(page, 'scorings'));
  const want = await apiState({ weekly: 'false' });
  await page.getByTestId('weekly').uncheck();
  await scored(page, before + 1, want);
  const seen = await page.evaluate(() => window.busySeen);
  // Busy, then not; the export off, then on again.
  assert.deepEqual(seen.filter(([name]) => name === 'aria-busy').map(([, old]) => old), ['false', 'true'], JSON.stringify(seen));
  assert.deepEqual(seen.filter(([name]) => name === 'disabled').map(([, old]) => old), [null, ''], JSON.stringify(seen));
  assert.equal(await page.getByTestId('results').getAttribute('aria-busy'), 'false');
  assert.equal(await page.getByTestId('export-csv').isEnabled(), true);
  // A switch back to a kept scoring is at once: never busy.
  const kept = await apiState({});
  await page.getByTestId('weekly').check();
  await scored(page, before + 1, kept);
  await nextFrame(page);
  assert.equal((await page.evaluate(() => window.busySeen)).length, seen.length, 'no busy state for a kept scoring');
  assert.equal(await metrics(page, 'scorings'), String(before + 1));
  assert.deepEqual(errors, []);
  await page.close();
});
