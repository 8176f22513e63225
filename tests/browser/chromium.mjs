// Debian's chromium, headless, with the flags this network needs. Never
// downloads a browser.
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
