// The release build of the app loads in headless Chromium and its wasm
// engine scores the built-in demo series (one spike: one anomaly).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch } from './chromium.mjs';
import { serveDist } from './serve-dist.mjs';

test('app shell loads and scores in wasm', async () => {
  const server = await serveDist(new URL('../../dist/', import.meta.url).pathname);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const check = page.getByTestId('engine-check');
    await check.waitFor({ timeout: 15000 });
    assert.equal(await check.getAttribute('data-value'), '1');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
