#!/usr/bin/env bash
# Browser figures for docs/benchmarks.md: wasm size, first interactive view,
# slider-to-frame latencies at ~1M service-days, in headless Chromium against
# a release server. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p servicewatch
trunk build --release --offline
export SERVICEWATCH_BIN="$CARGO_TARGET_DIR/release/servicewatch"
data="$HOME/.cache/servicewatch/bench/tx-1m-service-days.parquet" # 2000 services x 730 days
mkdir -p "$(dirname "$data")"
[ -f "$data" ] || "$SERVICEWATCH_BIN" sample --out "$data" --services 2000 --days 730 --seed 3 --scale 0.45
node scripts/bench_browser.mjs "$data"
