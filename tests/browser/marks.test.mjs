// Analysts' marks in headless Chromium against the real server (with its
// own store in a temporary folder): a day marked expected shows its badge
// and its chart marker, leaves its series' baseline so the app re-scores in
// wasm to the server's own answer, survives a reload, and its undo brings
// the first scores back; confirmed works alike; the history keeps every
// event; a failed save says so; a server without marks shows no controls;
// marks work under a portal sub-path; a marked day no longer flagged is
// listed under Marked days, opens and undoes from there.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { launch, openApp, pageUrl, slide } from './chromium.mjs';
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
// Each test starts with no day marked, whatever the one before left.
beforeEach(async () => {
  for (const m of await marksOf()) {
    const r = await fetch(`${server.base}/api/marks`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ series: m.series, date: m.date, kind: 'cleared', note: '' }) });
    assert.equal(r.status, 200);
  }
});

const open = (query = '') =>
  openApp(browser, `${server.base}/${query}`, (page) => page.getByTestId('anomaly-row').first());

/** The metrics and every shown row with its numbers (the sample flags fewer than a page). */
async function pageState(page) {
  const v = async (id) => Number(await page.getByTestId(id).getAttribute('data-value'));
  const rows = await page.getByTestId('anomaly-row').evaluateAll((trs) => trs.map((tr) => ({
    key: tr.dataset.key, date: tr.dataset.date,
    center: tr.children[3].textContent, z: Number(tr.querySelector('[data-testid=z]').dataset.value),
  })));
  return { total: await v('metric-total'), anomalous: await v('metric-anomalous'), share: await v('metric-share'), rows };
}

/** The server's answer for the default settings, shaped as the page's. */
async function apiState() {
  const r = await fetch(`${server.base}/api/anomalies?limit=25`);
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.ok(body.metrics.anomalous <= 25, 'every flagged row is on the first page');
  return {
    total: body.metrics.total, anomalous: body.metrics.anomalous, share: body.metrics.share,
    rows: body.anomalies.map((a) => ({ key: a.key, date: a.date, center: a.center.toFixed(1), z: a.z })),
  };
}

/** Waits until the page shows `want` (re-scoring is quick but not synchronous), then compares. */
async function settles(page, want, what) {
  let got;
  for (let i = 0; i < 100; i++) {
    got = await pageState(page);
    if (JSON.stringify(got) === JSON.stringify(want)) break;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(got, want, what);
}

const row = (page, key, date) => page.locator(`[data-testid=anomaly-row][data-key="${key}"][data-date="${date}"]`);

/** The chart's trace named `name`, as plotly holds it. */
const trace = (page, name) => page.evaluate((n) => {
  const t = document.getElementById('sw-chart').data.find((t) => t.name === n);
  return t && { x: [...t.x], y: [...t.y], text: t.text && [...t.text] };
}, name);

/** Opens a row (its service in the chart) and closes the transactions panel. */
async function focus(page, key, date) {
  await row(page, key, date).locator('td').first().click();
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, key);
  await page.getByTestId('drilldown').getByRole('button', { name: 'Close' }).click();
}

const marksOf = async (query = '') => (await (await fetch(`${server.base}/api/marks${query}`)).json()).marks;

test('a day marked expected re-scores in the browser as the server does, survives a reload, and undoes', async () => {
  const { page, errors } = await open();
  const original = await pageState(page);
  assert.deepEqual(original, await apiState(), 'unmarked, the page is the server');
  const { key, date } = original.rows[0];
  const value = Number(await row(page, key, date).locator('td').nth(2).getAttribute('data-value'));
  await focus(page, key, date);
  const baseline = JSON.stringify((await page.evaluate(() => document.getElementById('sw-chart').data[2].y)));
  assert.deepEqual((await trace(page, 'marked expected')).x, []);

  // Every API request from here on: the mark only, never the scores.
  const requests = [];
  page.on('request', (r) => { if (r.url().includes('/api/')) requests.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  const cell = row(page, key, date).getByTestId('mark-cell');
  await cell.getByTestId('mark-expected').click();
  assert.equal(await page.getByTestId('drilldown').count(), 0, 'the mark buttons do not open the row');
  // Typed like a person (a space and all): the row's own keys stay out of it.
  await cell.getByTestId('mark-note').pressSequentially('spring promotion');
  await cell.getByTestId('mark-save').click();
  const badge = row(page, key, date).getByTestId('mark-badge');
  await badge.waitFor({ timeout: 10000 });
  assert.equal(await badge.innerText(), 'Expected');
  assert.equal(await badge.getAttribute('data-kind'), 'expected');
  assert.match(await badge.getAttribute('title'), /^Expected: spring promotion · marked by servicewatch on \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  assert.equal(await row(page, key, date).getByTestId('mark-undo').count(), 1);

  // The server has it, and scores with it: the page equals that answer,
  // which differs from the first one.
  const [stored] = (await marksOf()).filter((m) => m.series === key && m.date === date);
  assert.deepEqual([stored.kind, stored.note, stored.marked_by], ['expected', 'spring promotion', 'servicewatch']);
  assert.equal(Date.parse(await badge.getAttribute('data-at')), Date.parse(stored.marked_at));
  const marked = await apiState();
  assert.notDeepEqual(marked, original, 'the mark changes the scores');
  await settles(page, marked, 'marked: the page re-scores to the server\'s answer');
  assert.deepEqual(requests, ['POST /api/marks'], 'no round trip for the scores');

  // The chart marks the day on its count, and its baseline moved.
  await page.waitForFunction(() => document.getElementById('sw-chart').data.find((t) => t.name === 'marked expected')?.x.length === 1);
  const expected = await trace(page, 'marked expected');
  assert.deepEqual([expected.x, expected.y, expected.text], [[date], [value], ['marked expected: spring promotion']]);
  assert.deepEqual((await trace(page, 'marked confirmed')).x, []);
  assert.notEqual(JSON.stringify(await page.evaluate(() => document.getElementById('sw-chart').data[2].y)), baseline);

  // A reload reads the mark back and scores with it from the start.
  await page.reload();
  await page.getByTestId('anomaly-row').first().waitFor({ timeout: 30000 });
  await row(page, key, date).getByTestId('mark-badge').waitFor();
  await settles(page, marked, 'reloaded: still marked');

  // Undo: the day is ordinary again, and the first scores come back.
  await row(page, key, date).getByTestId('mark-undo').click();
  await row(page, key, date).getByTestId('mark-expected').waitFor({ timeout: 10000 });
  assert.equal(await row(page, key, date).getByTestId('mark-badge').count(), 0);
  await settles(page, original, 'undone: the original scores');
  assert.deepEqual(await apiState(), original, 'the server agrees');
  assert.deepEqual((await marksOf()).filter((m) => m.series === key && m.date === date), []);
  // Both events are kept, oldest first.
  const q = new URLSearchParams({ history: 'true', series: key, date });
  const history = await marksOf(`?${q}`);
  assert.deepEqual(history.map((m) => [m.series, m.date, m.kind, m.note]),
    [[key, date, 'expected', 'spring promotion'], [key, date, 'cleared', '']]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a day marked confirmed shows its badge and its own marker, and the scores follow', async () => {
  const { page, errors } = await open();
  const original = await pageState(page);
  // Another service than the top one.
  const other = original.rows.find((r) => r.key !== original.rows[0].key);
  await focus(page, other.key, other.date);
  await row(page, other.key, other.date).getByTestId('mark-confirmed').click();
  const badge = row(page, other.key, other.date).getByTestId('mark-badge');
  await badge.waitFor({ timeout: 10000 });
  assert.equal(await badge.innerText(), 'Confirmed');
  assert.equal(await badge.getAttribute('data-kind'), 'confirmed');
  assert.deepEqual((await marksOf()).map((m) => [m.series, m.date, m.kind]), [[other.key, other.date, 'confirmed']]);
  await settles(page, await apiState(), 'confirmed: the page is the server');
  await page.waitForFunction(() => document.getElementById('sw-chart').data.find((t) => t.name === 'marked confirmed')?.x.length === 1);
  assert.deepEqual((await trace(page, 'marked confirmed')).x, [other.date]);
  assert.deepEqual((await trace(page, 'marked expected')).x, []);
  // The two kinds are told apart by symbol and colour.
  const looks = await page.evaluate(() => document.getElementById('sw-chart').data
    .filter((t) => t.name.startsWith('marked ')).map((t) => `${t.marker.symbol} ${t.marker.color}`));
  assert.equal(new Set(looks).size, 2, looks.join(' | '));
  await row(page, other.key, other.date).getByTestId('mark-undo').click();
  await settles(page, original, 'undone');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a marked day the table no longer shows is listed under Marked days, opens from there and undoes there', async () => {
  const { page, errors } = await open();
  const original = await pageState(page);
  assert.equal(await page.getByTestId('marked-days').count(), 0, 'no marks: no list');
  // The least unusual flagged day (rows are ranked by |z|) of a service other
  // than the top one: a threshold above it is within the slider's reach.
  const { key, date } = original.rows.findLast((r) => r.key !== original.rows[0].key);
  const cell = row(page, key, date).getByTestId('mark-cell');
  await cell.getByTestId('mark-expected').click();
  await cell.getByTestId('mark-note').fill('known outage');
  await cell.getByTestId('mark-save').click();
  await row(page, key, date).getByTestId('mark-badge').waitFor({ timeout: 10000 });
  await settles(page, await apiState(), 'marked: the page is the server');
  const [stored] = await marksOf();
  assert.deepEqual([stored.series, stored.date, stored.kind], [key, date, 'expected']);

  // Raised above the day's |z|: the day leaves the table, and stays marked.
  const z = Math.abs(Number(await row(page, key, date).getByTestId('z').getAttribute('data-value')));
  const threshold = (Math.floor(z * 10) + 2) / 10;
  assert.ok(threshold <= 8, `|z| ${z} is within the slider's reach`);
  await slide(page, 'z-threshold', threshold);
  await row(page, key, date).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await page.getByTestId('z-threshold').inputValue(), String(threshold));

  // Listed under Marked days, collapsed, the count in its summary.
  const panel = page.getByTestId('marked-days');
  assert.equal(await panel.getByTestId('marked-summary').innerText(), 'Marked days (1)');
  assert.equal(await panel.evaluate((d) => d.open), false, 'collapsed');
  await panel.getByTestId('marked-summary').click();
  const listed = panel.getByTestId('marked-row');
  assert.equal(await listed.count(), 1);
  assert.deepEqual([await listed.getAttribute('data-key'), await listed.getAttribute('data-date')], [key, date]);
  const badge = listed.getByTestId('mark-badge');
  assert.deepEqual([await badge.innerText(), await badge.getAttribute('data-kind')], ['Expected', 'expected']);
  assert.equal(await listed.getByTestId('marked-note').innerText(), 'known outage');
  assert.equal(await listed.getByTestId('marked-by').innerText(), 'servicewatch');
  assert.equal(Date.parse(await listed.getByTestId('marked-at').getAttribute('data-value')), Date.parse(stored.marked_at));
  assert.match(await listed.getByTestId('marked-at').innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);

  // Clicking it opens the day as a table row does: its service in the chart, its transactions.
  assert.equal(new URL(await pageUrl(page)).searchParams.get('focus'), null);
  await listed.locator('td').first().click();
  await page.waitForFunction((k) => document.querySelector('[data-testid=chart]')?.dataset.service === k, key);
  assert.equal(new URL(await pageUrl(page)).searchParams.get('focus'), key);
  const drilldown = page.getByTestId('drilldown');
  assert.equal(await drilldown.locator('h2').innerText(), `${key} on ${date}`);
  await drilldown.getByRole('button', { name: 'Close' }).click();

  // Undo there: the server forgets it, the list goes, the day opens nothing.
  await listed.getByTestId('mark-undo').click();
  await panel.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await page.getByTestId('drilldown').count(), 0, 'undo does not open the day');
  assert.deepEqual(await marksOf(), []);
  // Back at the default threshold, the first scores, the day unmarked.
  await slide(page, 'z-threshold', 3);
  await settles(page, original, 'undone: the original scores');
  await row(page, key, date).getByTestId('mark-expected').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('a mark the server did not save says so, and nothing changes', async () => {
  const { page, errors } = await open();
  await page.route('**/api/marks', (route) => (route.request().method() === 'POST'
    ? route.fulfill({ status: 500, contentType: 'application/json',
      body: JSON.stringify({ error: { status: 500, code: 'audit_failed', message: 'the store is read-only' } }) })
    : route.continue()));
  const original = await pageState(page);
  const { key, date } = original.rows[0];
  await row(page, key, date).getByTestId('mark-confirmed').click();
  const error = page.getByTestId('mark-error');
  await error.waitFor({ timeout: 10000 });
  assert.match(await error.innerText(), new RegExp(`the mark of ${key} on ${date} was not saved: 500: the store is read-only`));
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.equal(await row(page, key, date).getByTestId('mark-badge').count(), 0);
  assert.deepEqual(await pageState(page), original);
  await error.getByRole('button', { name: 'Dismiss' }).click();
  assert.equal(await error.count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a server that keeps no marks shows no mark controls', async () => {
  const page = await browser.newPage();
  await page.route('**/api/marks', (route) => route.fulfill({ status: 501, contentType: 'application/json',
    body: JSON.stringify({ error: { status: 501, code: 'not_available', message: 'this build keeps no marks' } }) }));
  await page.goto(`${server.base}/`);
  await page.getByTestId('anomaly-row').first().waitFor({ timeout: 30000 });
  assert.equal(await page.getByTestId('mark-cell').count(), 0);
  assert.equal(await page.getByRole('columnheader', { name: 'Mark' }).count(), 0);
  assert.equal(await page.getByTestId('error').count(), 0);
  assert.deepEqual(await pageState(page), await apiState());
  await page.close();
});

test('marks work under a portal sub-path', async () => {
  const sub = await startServer({ basePath: '/tools/servicewatch', services: 6, days: 90 });
  try {
    const page = await browser.newPage();
    await page.goto(`${sub.base}/`);
    const first = page.getByTestId('anomaly-row').first();
    await first.waitFor({ timeout: 30000 });
    const [key, date] = [await first.getAttribute('data-key'), await first.getAttribute('data-date')];
    await first.getByTestId('mark-confirmed').click();
    await row(page, key, date).getByTestId('mark-badge').waitFor({ timeout: 10000 });
    const marks = (await (await fetch(`${sub.base}/api/marks`)).json()).marks;
    assert.deepEqual(marks.map((m) => [m.series, m.date, m.kind]), [[key, date, 'confirmed']]);
    await page.close();
  } finally {
    sub.stop();
  }
});
