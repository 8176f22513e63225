// Browser timings for docs/benchmarks.md (prints figures, asserts nothing):
//  - the app's wasm size, raw and gzip;
//  - time to the first interactive view (anomaly rows on screen), cold (the
//    server reads the table) and warm (aggregates cached);
//  - slider `input` event to the next painted frame with metrics, table and
//    chart updated, p50/p95 over many moves, and the engine's own share
//    (`data-engine-ms`); the full scoring's own time at each first view
//    (`data-scoring-ms`); method switches, the first scored, the others
//    back to a kept scoring;
//  - how many moves changed the page after their first frame (the metric,
//    the top row or the chart's overlay, read again one frame later): a
//    move that is not whole in the next frame counts;
//  - the same moves fired at the start of a frame, where Chromium delivers
//    a drag's pointer events: input to the end of that frame's paint.
// Usage: node scripts/bench_browser.mjs DATA.parquet   (SERVICEWATCH_BIN: a release build)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch } from '../tests/browser/chromium.mjs';
import { startServer } from '../tests/browser/server.mjs';

const data = process.argv[2];
if (!data || !fs.existsSync(data)) {
  console.error('usage: node scripts/bench_browser.mjs DATA.parquet');
  process.exit(2);
}
const root = new URL('../', import.meta.url).pathname;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const ms = (x) => `${x.toFixed(1)} ms`;

const dist = path.join(root, 'dist');
for (const f of fs.readdirSync(dist).filter((f) => f.endsWith('.wasm'))) {
  const bytes = fs.readFileSync(path.join(dist, f));
  console.log(`wasm ${f}: ${bytes.length} bytes raw, ${zlib.gzipSync(bytes).length} gzip (level 6)`);
}

const server = await startServer({ data });
const browser = await launch();
try {
  // First interactive view: navigation start to the first anomaly row.
  async function firstView() {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      new MutationObserver((_, obs) => {
        if (document.querySelector('[data-testid=anomaly-row]')) { window.firstRow = performance.now(); obs.disconnect(); }
      }).observe(document, { subtree: true, childList: true });
    });
    await page.goto(`${server.base}/`);
    await page.getByTestId('anomaly-row').first().waitFor({ timeout: 300000 });
    const scoring = Number(await page.locator('section.metrics').getAttribute('data-scoring-ms'));
    return { page, at: await page.evaluate(() => window.firstRow), scoring };
  }
  const cold = await firstView();
  const meta = await (await fetch(`${server.base}/api/meta`)).json();
  console.log(`data: ${meta.rows} rows, ${meta.service_days} service-days, ${meta.services.length} services`);
  console.log(`first interactive view, cold (server reads the table): ${ms(cold.at)}`);
  await cold.page.close();
  const warm = [];
  const loadScorings = [cold.scoring];
  let page; // the last warm page stays open for the slider moves
  for (let i = 0; i < 5; i++) {
    const v = await firstView();
    warm.push(v.at);
    loadScorings.push(v.scoring);
    await page?.close();
    page = v.page;
  }
  console.log(`first interactive view, warm (cached aggregates): p50 ${ms(pct(warm, 0.5))} of ${warm.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`full scoring in wasm at each first view (robust + weekly): p50 ${ms(pct(loadScorings, 0.5))} of ${loadScorings.map((x) => x.toFixed(0)).join(', ')}`);

  // Input to painted frame (it includes the wait for the next frame: 16.7 ms
  // at most, here almost all of it, since each move starts just after a
  // frame); the frame's own work (the app's script run in the frame, then
  // style, layout and paint up to the timeout after the frame: the app
  // applies the first value of a frame at once, so its script runs before
  // the frame and shows here only for later values of the same frame); the
  // engine's share.
  const summary = (runs) => {
    const p = (k, q) => ms(pct(runs.map((r) => r[k]), q));
    const work = runs.map((r) => r.work + r.paint);
    const late = runs.filter((r) => r.late).length;
    return `input to frame p50 ${p('frame', 0.5)}, p95 ${p('frame', 0.95)}; updates after the next frame: ${late} of ${runs.length}; frame work (script ${p('work', 0.5)} p50) p50 ${ms(pct(work, 0.5))}, p95 ${ms(pct(work, 0.95))}; engine p50 ${p('engine', 0.5)}, p95 ${p('engine', 0.95)}`;
  };

  // One move: set the value, fire `input`, wait for the next painted frame.
  // `aligned`: fire it at the start of a frame instead (in an animation
  // frame callback), where Chromium delivers a drag's pointer events, and
  // time it to the end of that same frame's paint.
  async function move(testid, value, aligned = false) {
    return page.evaluate(async ([testid, value, aligned]) => {
      const el = document.querySelector(`[data-testid=${testid}]`);
      const before = document.querySelector('[data-testid=metric-anomalous]').dataset.value;
      const fire = () => {
        el.value = String(value);
        el.dispatchEvent(new Event(el.type === 'range' ? 'input' : 'change', { bubbles: true }));
      };
      const shown = () => [
        document.querySelector('[data-testid=metric-anomalous]').dataset.value,
        document.querySelector('[data-testid=anomaly-row]')?.textContent,
        document.querySelector('g.sw-band path')?.getAttribute('d'),
        document.querySelector('g.sw-flagged path')?.getAttribute('d'),
      ].join('|');
      // One frame more: anything that changes then missed the move's first frame.
      const lateCheck = async (after) => {
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        return shown() !== after;
      };
      if (aligned) {
        const t = await new Promise((resolve) => requestAnimationFrame(() => {
          const t0 = performance.now();
          fire();
          const worked = performance.now();
          // A task queued in the frame runs once its paint is done.
          setTimeout(() => resolve({ t0, worked, t1: performance.now() }), 0);
        }));
        const after = shown();
        return {
          frame: t.t1 - t.t0, work: t.worked - t.t0, paint: t.t1 - t.worked,
          engine: Number(document.querySelector('section.metrics').dataset.engineMs),
          late: await lateCheck(after), changed: before !== after.split('|')[0],
        };
      }
      // The next frame's callbacks run in the order they were asked for:
      // ours before the input marks the frame's start, the app's (when a
      // value is waiting for the frame) runs next, ours after the input
      // marks the end of the app's work in the frame; the timeout after it
      // runs once the frame is painted.
      let start = 0;
      let worked = 0;
      requestAnimationFrame(() => { start = performance.now(); });
      const t0 = performance.now();
      fire();
      await new Promise((r) => requestAnimationFrame(() => { worked = performance.now(); setTimeout(r, 0); }));
      const t1 = performance.now();
      const metrics = document.querySelector('section.metrics').dataset;
      const [engine, scoring] = [Number(metrics.engineMs), Number(metrics.scoringMs)];
      const after = shown();
      const late = await lateCheck(after);
      return {
        frame: t1 - t0, work: worked - start, paint: t1 - worked, engine, scoring, late,
        changed: before !== after.split('|')[0],
      };
    }, [testid, value, aligned]);
  }
  const sweeps = {
    'z-threshold': Array.from({ length: 76 }, (_, i) => (0.5 + i * 0.1).toFixed(1)),
    'min-count': Array.from({ length: 60 }, (_, i) => i * 5),
    'min-history': Array.from({ length: 60 }, (_, i) => i * 6),
  };
  // One slider's values up and back down, from the defaults (z 3, history
  // 7, count 0).
  async function sweep(id, values, aligned = false) {
    for (const [d, v] of [['z-threshold', 3], ['min-history', 7], ['min-count', 0]]) await move(d, v);
    const runs = [];
    for (const v of [...values, ...[...values].reverse()]) runs.push(await move(id, v, aligned));
    return runs;
  }
  const all = [];
  for (const [id, values] of Object.entries(sweeps)) {
    const runs = await sweep(id, values);
    all.push(...runs);
    console.log(`${id}: ${runs.length} moves (${runs.filter((r) => r.changed).length} changed the count): ${summary(runs)}`);
  }
  console.log(`all slider moves (${all.length}): ${summary(all)}, input to frame max ${ms(Math.max(...all.map((r) => r.frame)))}`);
  // The same moves, each fired at the start of a frame (a drag's timing).
  const aligned = [];
  for (const [id, values] of Object.entries(sweeps)) aligned.push(...(await sweep(id, values, true)));
  const late = aligned.filter((r) => r.late).length;
  const at = (k, q) => ms(pct(aligned.map((r) => r[k]), q));
  console.log(`the same ${aligned.length} moves fired at a frame's start (as Chromium delivers a drag): input to that frame's paint p50 ${at('frame', 0.5)}, p95 ${at('frame', 0.95)}, max ${ms(Math.max(...aligned.map((r) => r.frame)))}; the app's script p50 ${at('work', 0.5)}, p95 ${at('work', 0.95)}; updates after that frame: ${late} of ${aligned.length}`);
  // Method switches: the first to classic scores it; every switch after
  // that, either way, shows a kept scoring (the app keeps the last two).
  const scorings = () => page.locator('section.metrics').getAttribute('data-scorings').then(Number);
  const switches = [];
  for (let i = 0; i < 6; i++) {
    const before = await scorings();
    const r = await move('method', i % 2 ? 'robust' : 'classic');
    switches.push({ ...r, to: i % 2 ? 'robust + weekly' : 'classic', scored: (await scorings()) > before });
  }
  for (const [what, runs] of [['full re-scoring', switches.filter((r) => r.scored)], ['kept scoring', switches.filter((r) => !r.scored)]]) {
    if (runs.length === 0) continue;
    console.log(`method switch, ${what} (${runs.map((r) => r.to).join(', ')}): input to frame p50 ${ms(pct(runs.map((r) => r.frame), 0.5))}, max ${ms(Math.max(...runs.map((r) => r.frame)))}`);
  }
  // Full robust re-scorings (the default method's cost, with the scoring
  // worker when it runs). Timed from the input to the painted frame that
  // shows the new scoring, which lands asynchronously.
  async function rescore(act) {
    const before = await scorings();
    const t0 = await page.evaluate(() => performance.now());
    await act();
    const t1 = await page.evaluate((b) => new Promise((resolve) => {
      const check = () => requestAnimationFrame(() => {
        // No metrics while a new range loads: not yet.
        if (Number(document.querySelector('section.metrics')?.dataset.scorings) > b) setTimeout(() => resolve(performance.now()), 0);
        else check();
      });
      check();
    }), before);
    const m = await page.locator('section.metrics').evaluate((e) => ({ ms: Number(e.dataset.scoringMs), threads: e.dataset.scoringThreads }));
    return { frame: t1 - t0, ...m };
  }
  await move('method', 'robust');
  // A day or two after the data's first: about the whole range, a new panel.
  const after = (n) => new Date(Date.parse(`${meta.first}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);
  const robust = [];
  // Each a scoring not kept: a new range (with the weekly pattern as it
  // is), then the weekly pattern switched on that range. Sixteen: six
  // read p50s 10 ms apart in the same hour (the first, the page's first
  // split between its threads, is the slowest).
  for (let i = 0; i < 8; i++) {
    robust.push(await rescore(() => page.getByTestId('date-from').fill(after(1 + (i % 2)))));
    robust.push(await rescore(() => page.getByTestId('weekly').setChecked(i % 2 === 1)));
  }
  console.log(`robust full re-scorings (${robust.length}, threads ${[...new Set(robust.map((r) => r.threads))].join('/')}): the scoring itself p50 ${ms(pct(robust.map((r) => r.ms), 0.5))} of ${robust.map((r) => r.ms.toFixed(0)).join(', ')}; input to the frame showing it p50 ${ms(pct(robust.map((r) => r.frame), 0.5))}`);
} finally {
  await browser.close();
  server.stop();
}
