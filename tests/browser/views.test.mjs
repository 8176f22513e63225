// The view's controls in headless Chromium against the real server: the
// metric (transactions or amount), a split by a dimension and dimension
// filters. Each view's rows equal the server's /api/anomalies for it
// (amounts shown in major units), the URL keeps the view, and a table
// without the columns shows none of these controls.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launch, openApp, pageUrl, slide } from './chromium.mjs';
import { startServer } from './server.mjs';

let server, browser;
before(async () => {
  // The sample has amount, customer_segment, channel and payment_method.
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const open = (base, query = '') => openApp(browser, `${base}/${query}`);

/** Cents as the page shows them: 123450 as "1234.50". */
const major = (minor) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;

/** The page's metrics and first rows: key, date and the value as shown. */
async function pageState(page) {
  const v = async (id) => page.getByTestId(id).getAttribute('data-value');
  const rows = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.slice(0, 10).map((tr) => {
    const cell = tr.querySelector('[data-testid=value]');
    return `${tr.dataset.key} ${tr.dataset.date} ${cell.dataset.value} ${cell.textContent.trim()}`;
  }));
  return { total: Number(await v('metric-total')), anomalous: Number(await v('metric-anomalous')), rows };
}

async function api(base, route, params = {}) {
  const r = await fetch(`${base}/api/${route}?${new URLSearchParams(params)}`);
  assert.equal(r.status, 200, `${route} ${JSON.stringify(params)}`);
  return r.json();
}

/** The server's answer in pageState's form; `shown` formats a value. */
async function apiState(base, params, shown = String) {
  const body = await api(base, 'anomalies', [...new URLSearchParams(params), ['limit', '10']]);
  return {
    total: body.metrics.total, anomalous: body.metrics.anomalous,
    rows: body.anomalies.map((a) => `${a.key} ${a.date} ${a.value} ${shown(a.value)}`),
  };
}

/** Waits until the page scores `want`: its total, flag count and the
 * service-days of its first rows (a mark can re-order rows and keep the
 * count, so the count alone can match before the page has re-scored). */
async function settled(page, want) {
  const days = want.rows.map((r) => r.split(' ').slice(0, -2).join(' ')); // key and date
  await page.waitForFunction(([t, n, days]) => {
    const v = (id) => document.querySelector(`[data-testid=${id}]`)?.dataset.value;
    const shown = [...document.querySelectorAll('[data-testid=anomaly-row]')].slice(0, days.length)
      .map((tr) => `${tr.dataset.key} ${tr.dataset.date}`);
    return v('metric-total') === String(t) && v('metric-anomalous') === String(n) && shown.join('|') === days.join('|');
  }, [want.total, want.anomalous, days], { timeout: 30000 });
}

test('the amount view scores amounts in major units, fetches once, and a reload keeps it', async () => {
  const { page, errors } = await open(server.base);
  const daily = [];
  page.on('request', (r) => { if (r.url().includes('/api/daily')) daily.push(r.url()); });
  assert.equal(await page.getByTestId('metric').isVisible(), true);
  await page.getByTestId('metric').selectOption('amount');
  const want = await apiState(server.base, { metric: 'amount' }, major);
  await settled(page, want);
  assert.deepEqual(await pageState(page), want);
  assert.equal(daily.length, 1, daily.join(' '));
  assert.match(daily[0], /metric=amount/);
  assert.match(await pageUrl(page), /metric=amount/);
  // The metric's name in the labels, amounts in major units everywhere.
  const total = page.getByTestId('metric-total');
  assert.match(await total.innerText(), /^Amount in range/);
  assert.equal((await total.locator('.value').innerText()).replaceAll(',', ''), major(want.total));
  assert.equal(await page.getByRole('button', { name: 'Amount', exact: true }).count(), 1, 'the value column');
  const meta = await api(server.base, 'meta', { metric: 'amount' });
  assert.ok(meta.not_summed > 0, 'the sample has refunds');
  const note = page.getByTestId('not-summed');
  assert.equal(Number(await note.getAttribute('data-value')), meta.not_summed);
  assert.match(await note.innerText(), /not summed/);
  await page.waitForFunction(() => /daily amount of /.test(document.querySelector('[data-testid=chart-summary]')?.textContent ?? ''));
  const chart = await page.evaluate(() => {
    const c = document.getElementById('sw-chart');
    return { title: c.layout.title.text, name: c.data[3].name, x: c.data[3].x, y: c.data[3].y, service: c.dataset.service };
  });
  assert.match(chart.title, /daily amount$/);
  assert.equal(chart.name, 'amount');
  const series = await api(server.base, 'daily', { metric: 'amount', services: chart.service });
  const day = series.series[0].dates.findIndex((d) => chart.x.includes(d));
  assert.ok(Math.abs(chart.y[chart.x.indexOf(series.series[0].dates[day])] - series.series[0].values[day] / 100) < 1e-9,
    'the chart draws major units');
  // Sliders still never ask the server.
  let requests = 0;
  page.on('request', (r) => { if (r.url().includes('/api/')) requests++; });
  await slide(page, 'z-threshold', 2.5);
  await slide(page, 'min-count', 1000); // major units: 1000.00
  assert.match(await pageUrl(page), /min_count=100000(&|$)/);
  assert.match(await page.locator('label', { has: page.getByTestId('min-count') }).innerText(), /Minimum daily amount: 1000\.00/);
  const moved = await apiState(server.base, { metric: 'amount', z: 2.5, min_count: 100000 }, major);
  await settled(page, moved);
  assert.deepEqual(await pageState(page), moved);
  assert.equal(requests, 0, 'slider moves must not call the server');
  // The CSV has the amounts in major units.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const text = await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString());
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'key,date,value,center,spread,z,day_factor');
  const all = await api(server.base, 'anomalies', { metric: 'amount', z: 2.5, min_count: 100000, limit: 100000 });
  assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(',')),
    all.anomalies.map((a) => `${a.key},${a.date},${major(a.value)}`));
  assert.ok(Math.abs(Number(lines[1].split(',')[3]) - all.anomalies[0].center / 100) < 1e-6);
  // A reload (or a shared link) keeps the view.
  await page.reload();
  await page.getByTestId('anomaly-table').waitFor({ timeout: 30000 });
  await settled(page, moved);
  assert.deepEqual(await pageState(page), moved);
  assert.equal(await page.getByTestId('metric').inputValue(), 'amount');
  // Back to transactions: the count view, whose minimum starts over.
  await page.getByTestId('metric').selectOption('count');
  const counts = await apiState(server.base, { z: 2.5 });
  await settled(page, counts);
  assert.deepEqual(await pageState(page), counts);
  assert.doesNotMatch(await pageUrl(page), /metric=|min_count=/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('marks still work in the amount view', async () => {
  const { page, errors } = await open(server.base, '?metric=amount');
  const want = await apiState(server.base, { metric: 'amount' }, major);
  await settled(page, want);
  const row = page.getByTestId('anomaly-row').nth(1);
  const [key, date] = [await row.getAttribute('data-key'), await row.getAttribute('data-date')];
  await row.getByTestId('mark-confirmed').click();
  await page.getByTestId('marked-summary').waitFor({ timeout: 30000 });
  const marks = await api(server.base, 'marks');
  assert.ok(marks.marks.some((m) => m.series === key && m.date === date && m.kind === 'confirmed'));
  // The server leaves the day out of the baseline as the page does.
  const after = await apiState(server.base, { metric: 'amount' }, major);
  await settled(page, after);
  assert.deepEqual(await pageState(page), after);
  await page.getByTestId('marked-summary').click();
  await page.locator(`[data-testid=marked-row][data-key="${key}"] [data-testid=mark-undo]`).click();
  await settled(page, want);
  assert.deepEqual(await pageState(page), want);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a split by payment method scores one series per service and method', async () => {
  const { page, errors } = await open(server.base, '?focus=SVC-0001&services=SVC-0001');
  await page.getByTestId('split').selectOption('payment_method');
  const want = await apiState(server.base, { split: 'payment_method' });
  await settled(page, want);
  assert.deepEqual(await pageState(page), want);
  const keys = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.map((tr) => tr.dataset.key));
  assert.ok(keys.length > 0 && keys.every((k) => k.includes(' · ')), keys.join(' | '));
  // The old split's series are no longer chosen; the list is the split's.
  assert.match(await pageUrl(page), /split=payment_method/);
  assert.doesNotMatch(await pageUrl(page), /services=|focus=/);
  const meta = await api(server.base, 'meta', { split: 'payment_method' });
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=service-filter] option').length === n,
    meta.services.length);
  assert.ok(meta.services.includes('SVC-0001 · card_not_present'));
  // Choosing split series narrows the rows as the server's `services` does.
  const chosen = meta.services.filter((s) => s.endsWith(' · card_not_present'));
  await page.getByTestId('service-filter').selectOption(chosen);
  const narrowed = await apiState(server.base, [['split', 'payment_method'], ...chosen.map((s) => ['services', s])]);
  await settled(page, narrowed);
  assert.deepEqual(await pageState(page), narrowed);
  // A split series' day is marked like any other: the server and the page
  // leave it out of that series' baseline alike.
  const split = page.getByTestId('anomaly-row').first();
  const [skey, sdate] = [await split.getAttribute('data-key'), await split.getAttribute('data-date')];
  await split.getByTestId('mark-confirmed').click();
  await page.getByTestId('marked-summary').waitFor({ timeout: 30000 });
  assert.ok((await api(server.base, 'marks')).marks.some((m) => m.series === skey && m.date === sdate));
  const marked = await apiState(server.base, [['split', 'payment_method'], ...chosen.map((s) => ['services', s])]);
  await settled(page, marked);
  assert.deepEqual(await pageState(page), marked);
  await page.getByTestId('marked-summary').click();
  await page.locator(`[data-testid=marked-row][data-key="${skey}"] [data-testid=mark-undo]`).click();
  await settled(page, narrowed);
  // A split key of an unknown service is still refused.
  const refused = await fetch(`${server.base}/api/marks`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ series: 'NO-SUCH · card', date: '2024-03-01', kind: 'confirmed' }),
  });
  assert.equal(refused.status, 404);
  // A split series' day opens its service's transactions.
  await page.getByTestId('service-filter').selectOption([]);
  await page.getByRole('button', { name: 'All services' }).click();
  await settled(page, want);
  const row = page.getByTestId('anomaly-row').first();
  const [key, date] = [await row.getAttribute('data-key'), await row.getAttribute('data-date')];
  const service = key.split(' · ')[0];
  await row.click();
  const panel = page.getByTestId('drilldown');
  await panel.getByTestId('drilldown-count').waitFor({ timeout: 30000 });
  assert.match(await panel.locator('h2').innerText(), new RegExp(`^${key} on ${date}: every transaction of ${service}$`));
  assert.ok((await panel.getByTestId('drilldown-row').first().locator('td').allInnerTexts()).includes(service));
  // Back to one series per service.
  await page.getByTestId('split').selectOption('');
  const plain = await apiState(server.base, {});
  await settled(page, plain);
  assert.deepEqual(await pageState(page), plain);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a channel filter keeps only those rows, and a link keeps it', async () => {
  const { page, errors } = await open(server.base);
  const filter = page.getByTestId('filter-channel');
  assert.equal(await filter.isVisible(), false, 'closed until asked for');
  await page.getByTestId('filters-summary').click();
  const web = filter.locator('input[type=checkbox][value=web]');
  await web.waitFor({ timeout: 30000 });
  const values = await filter.locator('input[type=checkbox]').evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(values, ['app', 'branch', 'phone', 'web']);
  assert.deepEqual(await page.getByTestId('filter-payment_method').locator('input').evaluateAll((els) => els.map((e) => e.value)),
    ['card', 'card_not_present', 'cash', 'invoice', 'wallet']);
  await web.check();
  const want = await apiState(server.base, { channel: 'web' });
  await settled(page, want);
  assert.deepEqual(await pageState(page), want);
  assert.match(await pageUrl(page), /channel=web/);
  assert.match(await page.getByTestId('filters-summary').innerText(), /channel: web/);
  // Two values, with amounts split by segment: still the server's rows.
  await filter.locator('input[value=app]').check();
  await page.getByTestId('metric').selectOption('amount');
  await page.getByTestId('split').selectOption('segment');
  const view = [['metric', 'amount'], ['split', 'segment'], ['channel', 'app'], ['channel', 'web']];
  const both = await apiState(server.base, view, major);
  await settled(page, both);
  assert.deepEqual(await pageState(page), both);
  // The link reopens that view, its filters open and checked.
  const again = await open(server.base, `?${new URL(await pageUrl(page)).searchParams}`);
  await settled(again.page, both);
  assert.deepEqual(await pageState(again.page), both);
  const checked = await again.page.getByTestId('filter-channel').locator('input:checked').evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(checked, ['app', 'web']);
  assert.equal(await again.page.getByTestId('split').inputValue(), 'segment');
  // Unchecking every value is no filter.
  await again.page.getByTestId('filter-channel').locator('input[value=app]').uncheck();
  await again.page.getByTestId('filter-channel').locator('input[value=web]').uncheck();
  const unfiltered = await apiState(server.base, { metric: 'amount', split: 'segment' }, major);
  await settled(again.page, unfiltered);
  assert.deepEqual(await pageState(again.page), unfiltered);
  assert.doesNotMatch(await pageUrl(again.page), /channel=/);
  assert.deepEqual([...errors, ...again.errors], []);
  await page.close();
  await again.page.close();
});

test('a table without an amount or dimension columns shows none of their controls', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-bare-'));
  const csv = path.join(dir, 'tx.csv');
  const rows = ['transaction_timestamp,orderservice'];
  for (let d = 0; d < 60; d++) {
    const day = new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
    for (const [svc, n] of [['brakes', 8 + (d % 3)], ['tyres', d === 45 ? 40 : 5 + (d % 4)]]) {
      for (let i = 0; i < n; i++) rows.push(`${day}T${String(8 + (i % 10)).padStart(2, '0')}:00:00Z,${svc}`);
    }
  }
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const bare = await startServer({ data: csv });
  try {
    const meta = await api(bare.base, 'meta');
    assert.deepEqual([meta.metrics, meta.dimensions], [['count'], []]);
    // A link made on another table: its view is dropped, not an error.
    const { page, errors } = await open(bare.base, '?metric=amount&split=channel&channel=web&z=2');
    const want = await apiState(bare.base, { z: 2 });
    await settled(page, want);
    assert.deepEqual(await pageState(page), want);
    assert.ok(want.rows.some((r) => r.startsWith('tyres 2024-02-15')), want.rows.join(' | '));
    for (const id of ['metric', 'split', 'filters']) {
      assert.equal(await page.getByTestId(id).isVisible(), false, id);
    }
    assert.equal(await page.getByTestId('error').count(), 0);
    assert.equal(await page.getByTestId('not-summed').isVisible(), false);
    assert.equal(new URL(await pageUrl(page)).search, '?z=2');
    assert.match(await page.getByTestId('metric-total').innerText(), /^Transactions in range/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    bare.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
