#!/usr/bin/env bash
# The server's memory under a hostile request mix, for docs/benchmarks.md:
# a release `servicewatch serve` with cache_max_bytes = 16 MiB, 1,500
# services x 40 days, given 10,000 distinct empty ranges and 1,000
# distinct lists of 1,000 services (api/tests/memory.rs, which asserts the
# RSS stays within the limit). Counts: SW_MEMORY_EMPTY_RANGES,
# SW_MEMORY_SERVICE_LISTS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
step "memory: release build, $(nproc) cores"
cargo test --release -p servicewatch --test memory -- --nocapture 2>&1 | grep -E "empty ranges|test result|panicked"
