#!/usr/bin/env bash
# Sets up and runs servicewatch at http://127.0.0.1:8080/ on the embedded
# warehouse with generated sample data (written once to ~/.cache/servicewatch).
# Extra arguments go to `servicewatch serve` (e.g. --data FILE, --bind ADDR).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step "building the browser app (trunk) and the server (cargo, release)"
trunk build --release --offline
cargo build --release --locked -p servicewatch

step "serving"
exec "$CARGO_TARGET_DIR/release/servicewatch" serve --dist dist "$@"
