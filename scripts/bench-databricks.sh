#!/usr/bin/env bash
# What the Databricks statement protocol adds to the engine's own query time
# when the daily aggregate is ~1M service-days: servicewatch (the Databricks
# App build: optimised, no DataFusion) against the local statement API server
# on real Spark (tests/databricks/statement_server.py), everything on
# localhost. The server times its own work per statement (Spark plus cutting
# the result into Arrow chunks: `statement_ms`); the overhead is what the
# client waited for /api/meta (bounds + daily aggregate, submitted, polled,
# downloaded in chunks, parsed into a panel) minus that.
#
#   scripts/bench-databricks.sh [PARQUET]   default: 2,000 services x 730 days
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BROWSER=1 source scripts/setup.sh >/dev/null

data="${1:-$HOME/.cache/servicewatch/bench-1m.parquet}"
if [ ! -f "$data" ]; then
  cargo build --locked -q -p servicewatch
  "$CARGO_TARGET_DIR/debug/servicewatch" sample --out "$data" --services 2000 --days 730 --seed 3 --scale 0.45
fi
cargo build --locked -q -p servicewatch --no-default-features --profile app
sw="$CARGO_TARGET_DIR/app/servicewatch"

log="$(mktemp -d)"
cleanup() { kill "${spark_pid:-}" "${sw_pid:-}" 2>/dev/null || true; }
trap cleanup EXIT

python3 tests/databricks/statement_server.py --port 0 --ignore-stdin >"$log/spark.out" 2>"$log/spark.err" &
spark_pid=$!
for _ in $(seq 600); do grep -q listening "$log/spark.out" 2>/dev/null && break; sleep 0.1; done
spark="$(sed -n 's/^listening //p' "$log/spark.out")"
[ -n "$spark" ] || { cat "$log/spark.err" >&2; exit 1; }
post() { curl -sf -X POST "$spark/_test/$1" -d "$2" >/dev/null; }
post tables "{\"name\": \"bench.maintenanceservices\", \"path\": \"$data\"}"
post users '{"token": "tok-bench", "user": "bench"}'
post warehouses '{"id": "wh-bench"}'

# One warm-up read so Spark has compiled its plan and cached the file's
# metadata, as a warehouse serving a team has; then the measured read.
port=18321
SERVICEWATCH_WAREHOUSE=databricks SERVICEWATCH_TABLE=bench.maintenanceservices DATABRICKS_HOST="$spark" \
  DATABRICKS_WAREHOUSE_ID=wh-bench DATABRICKS_TOKEN=tok-bench SERVICEWATCH_LOG=info NO_COLOR=1 \
  "$sw" serve --bind "127.0.0.1:$port" --dist /nonexistent 2>"$log/sw.err" &
sw_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/api/meta" >/dev/null
curl -sf -X POST -H 'X-Requested-With: servicewatch' "http://127.0.0.1:$port/api/refresh" >/dev/null
post warehouses '{"id": "wh-bench"}' # counters from zero
start=$(date +%s.%N)
curl -sf "http://127.0.0.1:$port/api/meta" -o "$log/meta.json"
end=$(date +%s.%N)
stats="$(curl -sf "$spark/_test/warehouses/wh-bench")"
python3 - "$start" "$end" "$log/meta.json" "$stats" "$log/sw.err" <<'EOF'
import json, re, sys
start, end, meta, stats, errlog = sys.argv[1:]
meta = json.load(open(meta))
stats = json.loads(stats)
wall = (float(end) - float(start)) * 1000
engine = sum(stats["statement_ms"])
done = [l for l in open(errlog) if "statement done" in l][-2:]
print(f"rows {meta['rows']:,}  service-days {meta['service_days']:,}  services {len(meta['services']):,}")
print(f"client wall for /api/meta (bounds + daily): {wall:,.0f} ms")
print(f"engine's own time (Spark + chunking, per statement): {stats['statement_ms']} = {engine:,.0f} ms")
print(f"protocol overhead: {wall - engine:,.0f} ms  (statements {stats['statements']}, status polls "
      f"{stats['status_polls']}, chunk calls {stats['chunk_calls']}, downloads {stats['link_downloads']})")
for l in done:
    print("client:", " ".join(re.findall(r"(query_ms=\d+|fetch_ms=\d+|rows=\d+|chunks=\d+|shape=\w+)", l)))
EOF
echo "peak RSS of servicewatch: $(grep VmHWM /proc/$sw_pid/status | awk '{print $2, $3}')"
