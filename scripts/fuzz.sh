#!/usr/bin/env bash
# Fuzzes the binary decoder of the daily aggregates (shared/fuzz) with
# libFuzzer for SECONDS (default 60). Not part of CI: run it when the codec
# changes. Stable rustc runs cargo-fuzz's flags with RUSTC_BOOTSTRAP=1;
# the address sanitizer is off (the decoder has no unsafe code).
set -euo pipefail
cd "$(dirname "$0")/../shared/fuzz"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicewatch/fuzz-target}"
RUSTC_BOOTSTRAP=1 cargo fuzz run decode --sanitizer none -- -max_total_time="${1:-60}"
