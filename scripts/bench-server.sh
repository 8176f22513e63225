#!/usr/bin/env bash
# Server-side figures for docs/benchmarks.md, all in one run on this machine:
#  1. cold daily aggregation of ~14M raw rows (Parquet): servicewatch vs DuckDB
#  2. cached /api/daily at 32 concurrent clients (wrk), JSON and binary,
#     on ~1M service-days
#  3. the server's memory while serving the 14M-row set
# Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb

cargo build --release --locked -p servicewatch
sw="$CARGO_TARGET_DIR/release/servicewatch"
data="$HOME/.cache/servicewatch/bench"
mkdir -p "$data"
big="$data/tx-14m.parquet"   # 400 services x 730 days
wide="$data/tx-1m-service-days.parquet" # 2000 services x 730 days: 1.03M service-days
[ -f "$big" ] || "$sw" sample --out "$big" --services 400 --days 730 --seed 2
[ -f "$wide" ] || "$sw" sample --out "$wide" --services 2000 --days 730 --seed 3 --scale 0.45

step "1. cold aggregation: servicewatch (DataFusion) against DuckDB $(python3 -c 'import duckdb; print(duckdb.__version__)'), alternating"
SW="$sw" scripts/bench_race.sh "$big" 5

serve_and_load() { # file, port, label
  "$sw" serve --data "$1" --bind "127.0.0.1:$2" --dist /nonexistent >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do curl -sf "127.0.0.1:$2/api/meta" >/dev/null && break; sleep 0.5; done
  local days; days=$(curl -s "127.0.0.1:$2/api/meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["service_days"])')
  echo "$3: $days service-days cached; RSS $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$pid/status)"
  if [ "${4:-}" = load ]; then
    for kind in json binary; do
      local hdr="Accept: application/json"
      [ "$kind" = binary ] && hdr="Accept: application/vnd.servicewatch.daily"
      step "2. cached /api/daily ($kind, gzip), 32 connections, 10 s"
      wrk -t2 -c32 -d10s --latency -H "$hdr" -H "Accept-Encoding: gzip" "http://127.0.0.1:$2/api/daily" \
        | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx|Socket errors|requests in"
    done
    echo "RSS after load: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$pid/status)"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
step "3. serving the 14M-row set"
serve_and_load "$big" 18301 "14M rows"
serve_and_load "$wide" 18302 "1M service-days" load
