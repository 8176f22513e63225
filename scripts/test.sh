#!/usr/bin/env bash
# Sets up and runs every test: formatting, lints, unit, property and doc
# tests (the Databricks client against a statement API server on real Spark
# among them), the engine in headless Chromium (wasm32), the Databricks App
# bundle's size, the browser app in headless Chromium, and the OpenAPI
# description against the server (schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BROWSER=1 source scripts/setup.sh
# Test binaries of past builds pile up (hundreds of MB each with DataFusion
# linked in): drop those not rebuilt for a day.
find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -executable -mtime +1 -delete 2>/dev/null || true

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p servicewatch-frontend --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p servicewatch --no-default-features --locked -- -D warnings

step "native tests (unit, property, doc)"
cargo test --workspace --all-features --locked

step "the engine in headless Chromium: same bits as native"
(cd shared && CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked -p servicewatch-shared --features synth --target wasm32-unknown-unknown --test same_on_wasm)

step "the Databricks App bundle: built small, every file under the platform's 10 MB"
app_dir="$(mktemp -d)"
scripts/databricks-app.sh "$app_dir/bundle"
rm -rf "$app_dir"

step "browser app: release build with trunk, then driven in headless Chromium against the server"
trunk build --release --offline
cargo build --locked -p servicewatch
node --test tests/browser/

step "the OpenAPI description against the server (schemathesis)"
tests/api/schemathesis.sh "$CARGO_TARGET_DIR/debug/servicewatch"
