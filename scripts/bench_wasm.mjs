// Times the engine's full scoring in wasm (shared/wasm-bench) in Node's V8:
// one thread, about a million service-days, RUNS times after a warm-up.
// Usage: node scripts/bench_wasm.mjs MODULE.wasm [RUNS]   (prints; asserts nothing)
import fs from 'node:fs';

const [file, runs = '20'] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(fs.readFileSync(file), {});
const { setup, score } = instance.exports;
setup();
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
console.log(`full scoring in wasm, one thread, robust + weekly, 1M service-days: best ${at(0)} ms, p50 ${at(0.5)} ms, max ${at(1)} ms of ${times.length} (check ${check})`);
