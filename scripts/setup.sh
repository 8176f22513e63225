#!/usr/bin/env bash
# Installs what building and testing servicewatch needs, skipping what is
# already there. Sourced by scripts/run.sh and scripts/test.sh.
#
#   SETUP_BROWSER=1  also install Debian's chromium + chromedriver (tests)
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130 # = the exact pin in Cargo.toml
TRUNK_VERSION=0.21.14        # the newest trunk that builds with rustc 1.95

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Builds are reused across clones (and CI runs): keep them outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicewatch/target}"
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  step "trunk $TRUNK_VERSION (about 10 minutes)"
  cargo install --locked --force trunk --version "$TRUNK_VERSION"
fi

# wasm-opt from npm's binaryen (Debian's is too old); playwright-core drives
# Debian's chromium. `npm ci` only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json; then
  step "npm packages (binaryen, playwright-core)"
  (cd "$root" && npm ci --no-audit --no-fund)
  cp "$root/package-lock.json" "$root/node_modules/.package-lock.json"
fi

if [ "${SETUP_BROWSER:-0}" = 1 ] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  step "chromium and chromedriver (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- spark (tests) ---
# pyspark (with Spark's jars) and pyarrow for tests/databricks/statement_server.py,
# the local Databricks statement API on real Spark that the Rust client's
# integration tests talk to. Needs Java 17. Skipped when the pins are installed.
if [ "${SETUP_BROWSER:-0}" = 1 ]; then
  if ! command -v java >/dev/null 2>&1; then
    step "java 17 for Spark (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
  spark_reqs="$root/tests/databricks/requirements.txt"
  spark_pin="$(sed -n 's/^pyspark==//p' "$spark_reqs")"
  arrow_pin="$(sed -n 's/^pyarrow==//p' "$spark_reqs")"
  if ! python3 -c 'import sys, pyspark, pyarrow; sys.exit((pyspark.__version__, pyarrow.__version__) != tuple(sys.argv[1:]))' \
    "$spark_pin" "$arrow_pin" >/dev/null 2>&1; then
    step "pyspark $spark_pin and pyarrow $arrow_pin (pip, about 1 minute)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$spark_reqs"
  fi
  # schemathesis checks the OpenAPI description against the server.
  api_reqs="$root/tests/api/requirements.txt"
  st_pin="$(sed -n 's/^schemathesis==//p' "$api_reqs")"
  if ! python3 -c 'import sys, schemathesis; sys.exit(schemathesis.__version__ != sys.argv[1])' "$st_pin" >/dev/null 2>&1; then
    step "schemathesis $st_pin (pip)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$api_reqs"
  fi
fi
# --- end spark ---
