#!/usr/bin/env bash
# The engine's full scoring in wasm on one thread, timed in Node's V8
# (shared/wasm-bench): a steadier figure than the browser bench's for a
# change to the kernel. Prints figures; asserts nothing. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
(cd shared/wasm-bench && cargo build --release --locked --offline --target wasm32-unknown-unknown)
node scripts/bench_wasm.mjs "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/servicewatch_shared_wasm_bench.wasm" "${1:-20}"
