// The app against a Databricks SQL warehouse that is starting: the local
// statement API server (tests/databricks/statement_server.py, real Spark)
// keeps each statement PENDING for a while, as a cold warehouse does. The
// page must say the warehouse is starting (not freeze or fail), then show
// the same numbers the server scores.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';
import { launch } from './chromium.mjs';
import { bin, startServer } from './server.mjs';

const root = new URL('../../', import.meta.url).pathname;
let spark, server, browser, dir;

async function startSpark() {
  const proc = spawn('python3', [path.join(root, 'tests/databricks/statement_server.py'), '--port', '0'],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`statement server exited with ${code}`)));
  });
  assert.match(line, /^listening http:\/\/127\.0\.0\.1:\d+$/);
  return { base: line.slice('listening '.length), stop: () => proc.kill() };
}

async function control(route, body) {
  const r = await fetch(`${spark.base}/_test/${route}`, { method: 'POST', body: JSON.stringify(body) });
  assert.ok(r.ok, `${route}: ${r.status}`);
}

before(async () => {
  spark = await startSpark();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-dbx-'));
  const data = path.join(dir, 'tx.parquet');
  execFileSync(bin, ['sample', '--out', data, '--services', '12', '--days', '90', '--seed', '5'], { stdio: 'ignore' });
  await control('tables', { name: 'sw_browser.maintenanceservices', path: data });
  await control('users', { token: 'tok-browser', user: 'analyst@example.com' });
  // The load's first statement stays PENDING for 3 polls after the
  // submit's own 5 s wait (about 7 s of "starting"), as a cold warehouse
  // keeps the first statement waiting; the rest run at once.
  await control('warehouses', { id: 'wh-browser', starting_polls: 3, starting_statements: 1 });
  server = await startServer({
    data: null,
    env: {
      SERVICEWATCH_WAREHOUSE: 'databricks',
      SERVICEWATCH_TABLE: 'sw_browser.maintenanceservices',
      DATABRICKS_HOST: spark.base,
      DATABRICKS_WAREHOUSE_ID: 'wh-browser',
      DATABRICKS_TOKEN: 'tok-browser',
    },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
  spark?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a starting warehouse is shown as such, then the page fills in', async () => {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.stages = [];
    window.texts = [];
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid=loading]');
      if (!el) return;
      const stage = el.getAttribute('data-stage');
      if (stage && window.stages.at(-1) !== stage) window.stages.push(stage);
      const text = el.textContent.trim();
      if (window.texts.at(-1) !== text) window.texts.push(text);
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await page.goto(`${server.base}/`);
  await page.getByTestId('anomaly-table').waitFor({ timeout: 120000 });
  const stages = await page.evaluate(() => window.stages);
  const texts = await page.evaluate(() => window.texts);
  assert.ok(stages.includes('warehouse_starting'), JSON.stringify(stages));
  assert.ok(texts.some((t) => t.startsWith('Starting the SQL warehouse')), JSON.stringify(texts));
  assert.equal(await page.getByTestId('loading').count(), 0, 'the loading line goes away');
  // The numbers are the server's own for the same data.
  const api = await (await fetch(`${server.base}/api/anomalies?limit=0`)).json();
  const total = Number(await page.getByTestId('metric-total').getAttribute('data-value'));
  assert.equal(total, api.metrics.total);
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  assert.equal(meta.warehouse, 'databricks');
  await page.close();
});
