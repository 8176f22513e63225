// The app in headless Chromium against the real server: the page's metrics
// and rows equal the server's /api/anomalies for the same settings, the URL
// carries the state, embed mode, the empty state and the error state work.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { anomaliesState, launch, nextFrame, openApp, pageState, pageUrl, slide } from './chromium.mjs';
import { startServer } from './server.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const open = (query = '') => openApp(browser, `${server.base}/${query}`);

const apiState = (params) => anomaliesState(server.base, params);

/** Moves a slider the way a person does: value set, `input` fired. */
test('sliders re-score in the browser and match the server', async () => {
  const { page, errors } = await open();
  const combos = [
    { z: 3, min_days: 7, min_count: 0 },
    { z: 2.2, min_days: 30, min_count: 10 },
    { z: 4.5, min_days: 0, min_count: 0 },
    { z: 1.5, min_days: 120, min_count: 50 },
  ];
  let requests = 0;
  page.on('request', (r) => { if (r.url().includes('/api/')) requests++; });
  for (const c of combos) {
    await slide(page, 'z-threshold', c.z);
    await slide(page, 'min-history', c.min_days);
    await slide(page, 'min-count', c.min_count);
    const want = await apiState({ z: c.z, min_days: c.min_days, min_count: c.min_count });
    assert.deepEqual(await pageState(page), want, JSON.stringify(c));
  }
  assert.equal(requests, 0, 'slider moves must not call the server');
  // Method and direction are controls too.
  await page.getByTestId('method').selectOption('classic');
  await page.getByTestId('direction').selectOption('spikes');
  await slide(page, 'z-threshold', 2);
  await slide(page, 'min-history', 7);
  await slide(page, 'min-count', 0);
  const want = await apiState({ z: 2, min_days: 7, method: 'classic', direction: 'spikes' });
  assert.deepEqual(await pageState(page), want);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a drag applies the first value of a frame at once and only the last of the rest', async () => {
  const { page, errors } = await open();
  const [at2, at25, at4] = [await apiState({ z: 2 }), await apiState({ z: 2.5 }), await apiState({ z: 4 })];
  assert.equal(new Set([at2.anomalous, at25.anomalous, at4.anomalous]).size, 3);
  // Three values in one task, as a fast drag gives within one frame: the
  // first re-scores at once, 2.5 never does, 4 lands in the next frame.
  // Every write of the metric is recorded (a record's old value is the
  // value before it), so two writes in one frame would show.
  const seen = await page.evaluate(async () => {
    const metric = document.querySelector('[data-testid=metric-anomalous]');
    const records = [];
    const observer = new MutationObserver((rs) => records.push(...rs));
    observer.observe(metric, { attributes: true, attributeFilter: ['data-value'], attributeOldValue: true });
    const z = document.querySelector('[data-testid=z-threshold]');
    for (const v of ['2', '2.5', '4']) {
      z.value = v;
      z.dispatchEvent(new Event('input', { bubbles: true }));
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))));
    records.push(...observer.takeRecords());
    // The values written: each record's successor's old value, then the last.
    return [...records.slice(1).map((r) => Number(r.oldValue)), Number(metric.dataset.value)];
  });
  assert.deepEqual(seen, [at2.anomalous, at4.anomalous]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a copied link reopens the same view; embed mode is compact', async () => {
  const { page } = await open();
  await slide(page, 'z-threshold', 2.5);
  await page.getByTestId('direction').selectOption('drops');
  const url = await pageUrl(page);
  assert.match(url, /z=2\.5/);
  assert.match(url, /direction=drops/);
  const before = await pageState(page);
  const again = await browser.newPage();
  await again.goto(url);
  await again.getByTestId('anomaly-table').waitFor();
  assert.deepEqual(await pageState(again), before);
  assert.equal(await again.getByTestId('z-threshold').inputValue(), '2.5');
  await again.goto(`${url}&embed=1`);
  await again.getByTestId('anomaly-table').waitFor();
  assert.equal(await again.locator('header').count(), 0);
  await page.close();
  await again.close();
});

test('the empty state says which setting holds flags back', async () => {
  const { page } = await open('?min_days=365');
  const empty = page.getByTestId('empty-state');
  await empty.waitFor();
  assert.match(await empty.innerText(), /minimum history/);
  await page.close();
});

test('an API failure shows an error panel with a working retry', async () => {
  const page = await browser.newPage();
  await page.route('**/api/daily*', (route) => route.fulfill({ status: 503, contentType: 'application/json',
    body: JSON.stringify({ error: { status: 503, code: 'unavailable', message: 'warehouse is starting' } }) }));
  await page.goto(`${server.base}/`);
  const error = page.getByTestId('error');
  await error.waitFor({ timeout: 30000 });
  assert.match(await error.innerText(), /warehouse is starting/);
  await page.unroute('**/api/daily*');
  await error.getByRole('button', { name: 'Retry' }).click();
  await page.getByTestId('anomaly-row').first().waitFor({ timeout: 30000 });
  assert.equal(await error.count(), 0);
  await page.close();
});

test('the chart shows the top service, follows a clicked row, and highlights its flagged days', async () => {
  const { page, errors } = await open('?z=2.5');
  const chart = page.getByTestId('chart');
  const firstKey = await page.getByTestId('anomaly-row').first().getAttribute('data-key');
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, firstKey);
  // A minimum count moves the top row to another service: the chart follows
  // it once the slider rests (not in every frame of a drag).
  for (const v of [50, 100]) await slide(page, 'min-count', v);
  const top = await page.getByTestId('anomaly-row').first().getAttribute('data-key');
  assert.notEqual(top, firstKey, 'the sample moves the top row at this minimum count');
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, top);
  await slide(page, 'min-count', 0);
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, firstKey);
  // Click a row of another service: the chart follows and the URL keeps it.
  const other = page.locator(`[data-testid=anomaly-row]:not([data-key="${firstKey}"])`).first();
  const key = await other.getAttribute('data-key');
  await other.click();
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, key);
  assert.match(await pageUrl(page), new RegExp(`focus=${key}`));
  const want = await apiState({ z: 2.5, services: key });
  assert.equal(Number(await chart.getAttribute('data-anomalies')), want.anomalous);
  assert.equal(await page.getByTestId('chart-summary').innerText(),
    `Chart of daily transactions of ${key}: ${want.anomalous} flagged days.`);
  const circles = await page.evaluate(() => (document.querySelector('#sw-chart g.sw-flagged path').getAttribute('d').match(/M/g) ?? []).length);
  assert.equal(circles, want.anomalous, 'one marker per flagged day');
  // The legend hides and shows the overlay's markers as it would a trace.
  const markers = () => page.evaluate(() => document.querySelector('#sw-chart g.sw-flagged path').getAttribute('d'));
  const toggle = page.locator('#sw-chart .legend .traces', { hasText: 'anomalies' }).locator('.legendtoggle');
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('#sw-chart g.sw-flagged path').getAttribute('d') === '');
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('#sw-chart g.sw-flagged path').getAttribute('d') !== '');
  assert.equal(((await markers()).match(/M/g) ?? []).length, want.anomalous);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the chart band is the engine\'s baseline, and follows the weekly and method controls', async () => {
  const { page, errors } = await open('?z=2.5');
  // Focus the top service, so the chart keeps it when the method changes the ranking.
  const row = page.getByTestId('anomaly-row').first();
  const key = await row.getAttribute('data-key');
  await row.click();
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, key);
  assert.match(await page.evaluate(() => document.getElementById('sw-chart').layout.title.text), new RegExp(key));
  // Every scored day of that service, with its centre and spread, from the server.
  async function compare(params, threshold = 2.5) {
    const q = new URLSearchParams({ z: '0', min_days: '0', services: key, limit: '100000', ...params });
    const body = await (await fetch(`${server.base}/api/anomalies?${q}`)).json();
    // The band is the app's overlay over plotly's plot area; the baseline a plotly trace.
    const { upper, lower, centre } = await page.evaluate(() => {
      const gd = document.getElementById('sw-chart');
      const band = gd.swBand;
      return {
        upper: { x: band.days, y: [...band.upper] }, lower: { x: band.days, y: [...band.lower] },
        centre: { x: gd.data[2].x, y: gd.data[2].y },
      };
    });
    const at = (t, date) => t.y[t.x.indexOf(date)];
    assert.ok(body.anomalies.length > 20);
    let outside = 0;
    for (const a of body.anomalies) {
      const tag = `${JSON.stringify(params)} ${a.date}`;
      assert.ok(Math.abs(at(centre, a.date) - a.center) < 1e-9, `${tag} centre ${at(centre, a.date)} vs ${a.center}`);
      const [lo, hi] = [at(lower, a.date), at(upper, a.date)];
      assert.ok(lo <= a.center + 1e-9 && hi >= a.center - 1e-9, `${tag} band ${lo}..${hi} around ${a.center}`);
      if (params.method === 'classic') {
        assert.ok(Math.abs(hi - (a.center + threshold * a.spread)) < 1e-9, `${tag} classic upper`);
      }
      // The band is where the threshold flags: outside it |z| > threshold, inside below.
      if (a.z !== null && Math.abs(Math.abs(a.z) - threshold) > 1e-3) {
        const out = a.value > hi || a.value < lo;
        assert.equal(out, Math.abs(a.z) > threshold, `${tag} count ${a.value} in ${lo}..${hi}, z ${a.z}`);
        outside += out;
      }
    }
    assert.ok(outside > 0, `${JSON.stringify(params)}: some day is outside the band`);
    return JSON.stringify(centre.y);
  }
  const weekly = await compare({});
  // Partial edge days of this service are marked, not flagged: exactly the
  // days the server leaves unscored (the extract's partial days, and a low
  // first or last day of a service that starts or stops inside the range).
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  const marked = await page.evaluate(() => document.getElementById('sw-chart').data[5].x);
  const days = await page.evaluate(() => document.getElementById('sw-chart').data[3].x);
  // At z 0 the server lists every day it scored: the rest are unscored.
  const all = new URLSearchParams({ z: '0', min_days: '0', services: key, limit: '100000' });
  const scored = new Set((await (await fetch(`${server.base}/api/anomalies?${all}`)).json())
    .anomalies.map((a) => a.date));
  assert.deepEqual([...marked], [...days].filter((d) => !scored.has(d)));
  assert.ok(meta.partial_days.filter((d) => days.includes(d)).every((d) => marked.includes(d)));
  assert.ok(marked.length > 0, 'the sample starts and ends mid-day');
  // A threshold move redraws the band and the flagged markers only: plotly's
  // values trace keeps the very array it was drawn with, once per series.
  await page.evaluate(() => { document.getElementById('sw-chart').data[3].x.drawnOnce = true; });
  await slide(page, 'z-threshold', 3.5);
  const want = await apiState({ z: 3.5, services: key });
  await page.waitForFunction((n) => document.querySelector('[data-testid=chart]').dataset.anomalies === String(n),
    want.anomalous);
  await compare({}, 3.5);
  const flagged = new URLSearchParams({ z: '3.5', services: key, limit: '100000' });
  const days35 = (await (await fetch(`${server.base}/api/anomalies?${flagged}`)).json()).anomalies.map((a) => a.date);
  assert.deepEqual([...await page.evaluate(() => document.getElementById('sw-chart').swBand.flaggedDays)].sort(), days35.sort());
  // One circle per flagged day in the overlay's markers path.
  const circles = await page.evaluate(() => (document.querySelector('#sw-chart g.sw-flagged path').getAttribute('d').match(/M/g) ?? []).length);
  assert.equal(circles, days35.length);
  assert.ok(await page.evaluate(() => document.getElementById('sw-chart').data[3].x.drawnOnce), 'plotly did not redraw');
  await slide(page, 'z-threshold', 2.5);
  await compare({}, 2.5);
  // Zooming (a plotly relayout) moves the overlay with the axes.
  const edge = () => page.evaluate(() => {
    const gd = document.getElementById('sw-chart');
    const d = gd.querySelector('g.sw-band path').getAttribute('d');
    const [x, y] = d.slice(1).split('L')[0].split(',').map(Number);
    return { x, y, want: [gd._fullLayout.xaxis.d2p(gd.swBand.days[0]), gd._fullLayout.yaxis.l2p(gd.swBand.upper[0])] };
  });
  const before = await edge();
  await page.evaluate(() => {
    const gd = document.getElementById('sw-chart');
    return Plotly.relayout(gd, { 'xaxis.range': [gd.swBand.days[10], gd.swBand.days[60]], 'yaxis.range': [0, 1000] });
  });
  const zoomed = await edge();
  assert.notEqual(zoomed.x, before.x, 'the band follows the zoom');
  for (const e of [before, zoomed]) {
    assert.ok(Math.abs(e.x - e.want[0]) < 0.06 && Math.abs(e.y - e.want[1]) < 0.06, JSON.stringify(e));
  }
  const changed = (before) => page.waitForFunction(
    (b) => JSON.stringify(document.getElementById('sw-chart').data[2].y) !== b, before);
  await page.getByTestId('weekly').uncheck();
  await changed(weekly);
  const flat = await compare({ weekly: 'false' });
  await page.getByTestId('method').selectOption('classic');
  await changed(flat);
  await compare({ weekly: 'false', method: 'classic' });
  assert.equal(await page.getByTestId('chart').getAttribute('data-service'), key);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the service filter narrows metrics, rows and chart to the chosen services', async () => {
  const { page, errors } = await open('?z=2');
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  const filter = page.getByTestId('service-filter');
  assert.equal(await filter.locator('option').count(), meta.services.length, 'every service is listed');
  const chosen = [meta.services[3], meta.services[7]];
  await filter.selectOption(chosen);
  const api = await apiState({ z: 2, services: chosen.join(',') });
  await page.waitForFunction((n) => document.querySelector('[data-testid=metric-anomalous]').dataset.value === String(n), api.anomalous);
  assert.deepEqual(await pageState(page), api);
  const keys = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.map((tr) => tr.dataset.key));
  assert.ok(keys.every((k) => chosen.includes(k)), keys.join(' '));
  assert.ok(chosen.includes(await page.getByTestId('chart').getAttribute('data-service')));
  // One `services=` per name, as the API takes them.
  const query = new URL(await pageUrl(page)).searchParams;
  assert.deepEqual(query.getAll('services'), chosen);
  // Search narrows the list; the choice survives it.
  await page.getByTestId('service-search').fill(meta.services[7]);
  assert.equal(await filter.locator('option').count(), 1);
  await page.getByTestId('service-search').fill('');
  assert.deepEqual(await filter.evaluate((s) => [...s.selectedOptions].map((o) => o.value)), chosen);
  // "All services" clears the filter.
  await page.getByRole('button', { name: 'All services' }).click();
  const all = await apiState({ z: 2 });
  await page.waitForFunction((n) => document.querySelector('[data-testid=metric-anomalous]').dataset.value === String(n), all.anomalous);
  assert.deepEqual(await pageState(page), all);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the table sorts, pages, and exports every flagged row as CSV', async () => {
  const { page } = await open('?z=2');
  const info = page.getByTestId('page-info');
  const total = Number(await page.getByTestId('metric-anomalous').getAttribute('data-value'));
  assert.ok(total > 25, `need more than a page of rows, got ${total}`);
  assert.equal(await info.innerText(), `1–25 of ${Math.min(total, 1000)}`);
  await page.getByTestId('page-next').click();
  assert.equal(await info.innerText(), `26–50 of ${Math.min(total, 1000)}`);
  await page.getByRole('button', { name: 'Count' }).click(); // descending first for numbers
  const counts = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.map((tr) => Number(tr.children[2].dataset.value)));
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));
  assert.equal(await info.innerText(), `1–25 of ${Math.min(total, 1000)}`, 'a new order starts on page 1');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const text = await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString());
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'key,date,value,center,spread,z,day_factor');
  assert.equal(lines.length - 1, total);
  const api = await (await fetch(`${server.base}/api/anomalies?z=2&limit=100000`)).json();
  assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(',')),
    api.anomalies.map((a) => `${a.key},${a.date},${a.value}`));
  assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',').at(-1))), api.anomalies.map((a) => a.day_factor));
  await page.close();
});

test('a day every service shared says so in the table', async () => {
  // The sample has public holidays: everyone is quiet, so a service that is
  // not is flagged, and its row says how far all services fell that day.
  const { page, errors } = await open();
  const api = await (await fetch(`${server.base}/api/anomalies?limit=25`)).json();
  const shared = api.anomalies.find((a) => a.day_factor < 0.9);
  assert.ok(shared, 'the sample has a flagged day on a business-wide quiet day');
  const row = page.locator(`[data-testid=anomaly-row][data-key="${shared.key}"][data-date="${shared.date}"]`);
  const cell = row.getByTestId('day-factor');
  assert.equal(Number(await cell.getAttribute('data-value')), shared.day_factor);
  assert.equal((await cell.innerText()).trim(), `${Math.round((shared.day_factor - 1) * 100)} %`);
  // The chart of that service marks the day, with how far everyone fell.
  await row.click();
  await page.waitForFunction((key) => document.querySelector('[data-testid=chart]')?.dataset.service === key, shared.key);
  const trace = await page.evaluate(() =>
    document.getElementById('sw-chart').data.find((t) => t.name === 'all services moved together'));
  const at = trace.x.indexOf(shared.date);
  assert.ok(at >= 0, `${shared.date} is marked: ${JSON.stringify(trace.x)}`);
  assert.equal(trace.y[at], shared.center);
  assert.match(trace.text[at], /^all services -\d+ %$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('clicking a row opens that day\'s raw transactions', async () => {
  const { page, errors } = await open();
  // The first row of a day with transactions (the sample's top rows are an
  // outage: days with none, whose panel has no rows to show).
  const rows = page.getByTestId('anomaly-row');
  await rows.first().waitFor();
  const values = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.querySelectorAll('td')[2].dataset.value)));
  const first = values.findIndex((v) => v > 0);
  assert.ok(first >= 0, 'the sample has a flagged day with transactions');
  const row = rows.nth(first);
  const [key, date] = [await row.getAttribute('data-key'), await row.getAttribute('data-date')];
  const value = Number(await row.locator('td').nth(2).getAttribute('data-value'));
  assert.ok(value > 0);
  await row.click();
  const panel = page.getByTestId('drilldown');
  await panel.getByTestId('drilldown-count').waitFor({ timeout: 30000 });
  assert.match(await panel.innerText(), new RegExp(`${key} on ${date}`));
  const shown = Number(await panel.getByTestId('drilldown-count').getAttribute('data-value'));
  assert.equal(shown, Math.min(value, 100), 'one row per transaction of that day, up to 100');
  const cells = await panel.getByTestId('drilldown-row').first().locator('td').allInnerTexts();
  assert.ok(cells.includes(key));
  await panel.getByRole('button', { name: 'Close' }).click();
  assert.equal(await page.getByTestId('drilldown').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the keyboard alone moves sliders, opens a row, and every control has a name', async () => {
  const { page, errors } = await open();
  // Arrow keys on a focused slider fire `input` like a drag.
  await page.getByTestId('z-threshold').focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  await nextFrame(page);
  assert.equal(await page.getByTestId('z-threshold').inputValue(), '3.5');
  const api = await apiState({ z: '3.5' });
  assert.deepEqual((await pageState(page)).anomalous, api.anomalous);
  assert.match(await page.getByTestId('metrics-announce').innerText(), /anomalous service-days/);
  // A row takes focus and opens with Enter.
  const row = page.getByTestId('anomaly-row').nth(1);
  await row.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('drilldown').getByTestId('drilldown-count').waitFor({ timeout: 30000 });
  assert.match(await page.getByTestId('drilldown').innerText(), new RegExp(await row.getAttribute('data-key')));
  // Every form control has an accessible name.
  const unnamed = await page.locator('input, select, button').evaluateAll((els) => els
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the same build works under a portal sub-path', async () => {
  const sub = await startServer({ basePath: '/tools/servicewatch', services: 6, days: 90 });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(sub.base); // no trailing slash: redirected
    await page.getByTestId('anomaly-table').waitFor({ timeout: 30000 });
    assert.ok(page.url().startsWith(`${sub.base}/`), page.url());
    const total = Number(await page.getByTestId('metric-total').getAttribute('data-value'));
    const meta = await (await fetch(`${sub.base}/api/meta`)).json();
    assert.equal(total, meta.rows);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    sub.stop();
  }
});

test('the header says which rows were left out and which data it is', async () => {
  const line = async (base) => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const p = page.getByTestId('provenance');
    await page.waitForFunction(() => /read \d/.test(document.querySelector('[data-testid=provenance]')?.textContent ?? ''));
    const text = await p.innerText();
    await page.close();
    return text;
  };
  assert.doesNotMatch(await line(server.base), /sample data|left out/);
  // A NULL service, a NULL time, a time that is no time and a 9999-12-31
  // placeholder: four rows in no count, and the page still loads.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-messy-'));
  const csv = path.join(dir, 'tx.csv');
  const rows = ['transaction_id,transaction_timestamp,orderservice'];
  for (let d = 1; d <= 20; d++) {
    for (const svc of ['brakes', 'tyres']) rows.push(`${rows.length},2024-03-${String(d).padStart(2, '0')}T10:00:00Z,${svc}`);
  }
  rows.push(`${rows.length},2024-03-05T10:00:00Z,`, `${rows.length + 1},,brakes`, `${rows.length + 2},not a time,tyres`,
    `${rows.length + 3},9999-12-31T00:00:00Z,brakes`);
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const messy = await startServer({ data: csv });
  try {
    const text = await line(messy.base);
    assert.match(text, /^gold\.fact\.maintenanceservices · /);
    assert.match(text, / · 4 rows without a service or a valid time left out/);
    const meta = await (await fetch(`${messy.base}/api/meta`)).json();
    assert.deepEqual(meta.dropped_rows, { null_service: 1, null_timestamp: 2, out_of_range: 1 });
    assert.equal(meta.rows, 40);
  } finally {
    messy.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a holiday calendar setting reaches the page: its drops are not flagged, and the header says so', async () => {
  // Three services, October to December 2024; on Thanksgiving all three
  // sell 5 (too few services for a common factor), on Christmas Day
  // brakes sells five times its usual (as api/tests/common holiday_table).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-holidays-'));
  const csv = path.join(dir, 'tx.csv');
  const rows = ['transaction_timestamp,orderservice'];
  const day0 = Date.UTC(2024, 9, 1) / 86400000;
  for (let d = day0; d <= Date.UTC(2024, 11, 31) / 86400000; d++) {
    const date = new Date(d * 86400000).toISOString().slice(0, 10);
    ['brakes', 'tyres', 'oil'].forEach((svc, s) => {
      const usual = 40 + (((d * 7 + s * 3) % 9) + 9) % 9;
      const n = date === '2024-11-28' ? 5 : (date === '2024-12-25' && svc === 'brakes' ? usual * 5 : usual);
      for (let k = 0; k < n; k++) {
        rows.push(`${new Date(d * 86400000 + Math.floor(k * 86399 / n) * 1000).toISOString().slice(0, 19)}Z,${svc}`);
      }
    });
  }
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const us = await startServer({ data: csv, env: { SERVICEWATCH_HOLIDAYS: 'us' } });
  try {
    const { page } = await openApp(browser, `${us.base}/`);
    await page.waitForFunction(() => /4 holidays named \(setting `holidays`\)/
      .test(document.querySelector('[data-testid=provenance]')?.textContent ?? ''));
    const api = await (await fetch(`${us.base}/api/anomalies?limit=100`)).json();
    const want = api.anomalies.map((a) => `${a.key} ${a.date}`);
    assert.ok(want.includes('brakes 2024-12-25') && !want.some((r) => r.endsWith('2024-11-28')), want.join(', '));
    // The page scores in wasm with the days /api/meta names: the server's rows.
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=metric-anomalous]')
      ?.getAttribute('data-value')) === n, api.metrics.anomalous);
    const shown = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.map((tr) => `${tr.dataset.key} ${tr.dataset.date}`));
    assert.ok(shown.length > 0);
    assert.deepEqual(shown, want.slice(0, shown.length));
    // The Christmas spike's row says the day is a holiday.
    const cell = page.locator('[data-testid=anomaly-row][data-key=brakes][data-date="2024-12-25"] [data-testid=day-factor]');
    assert.equal((await cell.innerText()).trim(), 'holiday');
    // The chart (brakes, the top row) marks the holiday's drop as not
    // scored, and says why.
    await page.waitForFunction(() => document.getElementById('sw-chart')?.data?.[5]?.x?.includes('2024-11-28'));
    const why = await page.evaluate(() => {
      const t = document.getElementById('sw-chart').data[5];
      return t.text[t.x.indexOf('2024-11-28')];
    });
    assert.equal(why, 'holiday: a drop is expected');
    await page.close();
  } finally {
    us.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('switching the method back shows the kept scoring without scoring again', async () => {
  const { page, errors } = await open();
  const scorings = () => page.locator('section.metrics').getAttribute('data-scorings').then(Number);
  const shows = (want) => page.waitForFunction((t) =>
    document.querySelector('[data-testid=metric-anomalous]')?.dataset.value === String(t), want.anomalous);
  const [robust, classic] = [await apiState({}), await apiState({ method: 'classic' })];
  assert.notEqual(robust.anomalous, classic.anomalous, 'the two methods must differ for this test to tell them apart');
  const first = await scorings();
  await page.getByTestId('method').selectOption('classic');
  await shows(classic);
  assert.equal(await scorings(), first + 1, 'classic is scored');
  await page.getByTestId('method').selectOption('robust');
  await shows(robust);
  assert.deepEqual(await pageState(page), robust);
  // And the way back to classic too: both kept.
  await page.getByTestId('method').selectOption('classic');
  await shows(classic);
  assert.deepEqual(await pageState(page), classic);
  assert.equal(await scorings(), first + 1, 'no scoring on the way back');
  // A third setting is scored, and the least recently shown goes:
  // robust + weekly is still kept, classic is scored again.
  await page.getByTestId('method').selectOption('robust');
  await page.getByTestId('weekly').uncheck();
  await shows(await apiState({ weekly: 'false' }));
  assert.equal(await scorings(), first + 2);
  await page.getByTestId('weekly').check();
  await shows(robust);
  assert.equal(await scorings(), first + 2, 'robust + weekly was kept');
  await page.getByTestId('method').selectOption('classic');
  await shows(classic);
  assert.equal(await scorings(), first + 3, 'classic was let go');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a new date range fetches once and scores that range', async () => {
  const { page, errors } = await open();
  const daily = [];
  page.on('request', (r) => { if (r.url().includes('/api/daily')) daily.push(r.url()); });
  const scorings = () => page.locator('section.metrics').getAttribute('data-scorings').then(Number);
  const before = await scorings();
  await page.getByTestId('date-from').fill('2024-03-01');
  const want = await apiState({ from: '2024-03-01' });
  await page.waitForFunction((t) => document.querySelector('[data-testid=metric-total]')?.dataset.value === String(t), want.total);
  assert.deepEqual(await pageState(page), want);
  assert.equal(daily.length, 1, daily.join(' '));
  assert.match(daily[0], /from=2024-03-01/);
  // The new range was scored once more, and its time is shown for timing scripts.
  assert.ok(before >= 1 && (await scorings()) > before, `scorings ${before} -> ${await scorings()}`);
  const scoring = await page.locator('section.metrics').getAttribute('data-scoring-ms');
  assert.ok(Number(scoring) > 0 && Number.isFinite(Number(scoring)), `data-scoring-ms ${scoring}`);
  assert.deepEqual(errors, []);
  await page.close();
});
