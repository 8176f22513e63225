#!/usr/bin/env bash
# Sets up and runs servicewatch on this machine at http://127.0.0.1:8080/.
# (Until the api issue lands this serves the browser app shell with trunk.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step "building and serving the app"
exec trunk serve --release --offline --address 127.0.0.1 --port "${PORT:-8080}" --open=false
