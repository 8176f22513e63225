#!/usr/bin/env bash
# Sets up and runs servicewatch at http://127.0.0.1:8080/ on the embedded
# warehouse with generated sample data (--sample: written once to
# ~/.cache/servicewatch, and labelled as sample data in the app).
# Extra arguments go to `servicewatch serve` (e.g. --data FILE, --bind ADDR);
# naming the data (--data, --config, --warehouse or their SERVICEWATCH_*
# variables) replaces the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step "building the browser app (trunk) and the server (cargo, release)"
trunk build --release --offline
cargo build --release --locked -p servicewatch

step "serving"
sample=(--sample)
for arg in "$@"; do
  case "$arg" in --data | --data=* | --config | --config=* | --warehouse | --warehouse=*) sample=() ;; esac
done
[ -z "${SERVICEWATCH_DATA:-}${SERVICEWATCH_CONFIG:-}${SERVICEWATCH_WAREHOUSE:-}" ] || sample=()
exec "$CARGO_TARGET_DIR/release/servicewatch" serve --dist dist "${sample[@]}" "$@"
