// Times the engine's full scoring in wasm (shared/wasm-bench) in Node's V8:
// one thread, robust + weekly, RUNS times after a warm-up, on the criterion
// benchmark's made-up panel or on PANEL (the bytes `/api/daily` sends);
// then the same in two parts, as the page and its worker score it.
// Usage: node scripts/bench_wasm.mjs MODULE.wasm [RUNS] [PANEL]   (prints; asserts nothing)
import fs from 'node:fs';

const [file, runs = '20', panel] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(fs.readFileSync(file), {});
const { setup, room, setup_bytes: setupBytes, score, points, split_step, memory } = instance.exports;
if (panel) {
  const bytes = fs.readFileSync(panel);
  const at = room(bytes.length); // may grow the memory: its buffer after
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  if (!setupBytes()) throw new Error(`${panel} is not a panel as /api/daily sends it`);
} else {
  setup();
}
for (let i = 0; i < 3; i++) score(); // optimised code, memory grown
const times = [];
let check = 0;
for (let i = 0; i < Number(runs); i++) {
  const t = performance.now();
  check += score();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const at = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
const what = panel ? `${panel}` : 'the criterion panel';
console.log(`full scoring in wasm, one thread, robust + weekly, ${points()} points of ${what}: best ${at(0)} ms, p50 ${at(0.5)} ms, max ${at(1)} ms of ${times.length} (check ${check})`);

// The same scoring the browser's way, its steps timed one after another on
// this thread: the worker's half, the page's half, and the assembly the
// page does alone once both are there (`split_step`).
const steps = [[], [], []];
for (let i = 0; i < Number(runs); i++) {
  for (const step of [1, 2, 3]) {
    const t = performance.now();
    if (Number.isNaN(split_step(step))) throw new Error(`step ${step} failed`);
    steps[step - 1].push(performance.now() - t);
  }
}
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(1);
console.log(`  in two parts: the worker's p50 ${p50(steps[0])} ms, the page's ${p50(steps[1])} ms, then the assembly alone ${p50(steps[2])} ms`);
