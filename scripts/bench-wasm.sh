#!/usr/bin/env bash
# The engine's full scoring in wasm on one thread, timed in Node's V8
# (shared/wasm-bench): a steadier figure than the browser bench's for a
# change to the kernel. Two panels: the criterion benchmark's made-up one,
# and the browser bench's own data as `/api/daily` sends it to the page
# (read through a release server). Prints figures; asserts nothing. Not
# part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p servicewatch
(cd shared/wasm-bench && cargo build --release --locked --target wasm32-unknown-unknown)
module="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/servicewatch_shared_wasm_bench.wasm"
node scripts/bench_wasm.mjs "$module" "${1:-20}"

bin="$CARGO_TARGET_DIR/release/servicewatch"
data="$HOME/.cache/servicewatch/bench/tx-1m-service-days.parquet" # as scripts/bench-browser.sh
mkdir -p "$(dirname "$data")"
[ -f "$data" ] || "$bin" sample --out "$data" --services 2000 --days 730 --seed 3 --scale 0.45
tmp="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
"$bin" serve --bind "127.0.0.1:$port" --data "$data" --dist "$tmp" --audit-db "$tmp/audit.sqlite3" 2>"$tmp/log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
until curl -sf -H 'Accept: application/vnd.servicewatch.daily' -o "$tmp/panel.bin" "http://127.0.0.1:$port/api/daily"; do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server stopped:" >&2
    cat "$tmp/log" >&2
    exit 1
  fi
  sleep 1
done
node scripts/bench_wasm.mjs "$module" "${1:-20}" "$tmp/panel.bin"
