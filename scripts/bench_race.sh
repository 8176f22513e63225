#!/usr/bin/env bash
# The cold daily aggregation, servicewatch against DuckDB, alternating on
# the same file so that the machine's noise lands on all three:
#   scripts/bench_race.sh FILE [ROUNDS=5] [extra `servicewatch bench` args]
# Each round runs `servicewatch bench --runs 1 --statements` (the bounds and
# daily statements, DuckDB's work exactly), `servicewatch bench --runs 1`
# (what the product does: a clean Parquet file answered from its footer and
# a dense count, the same rows out but not the same statements) and
# `scripts/bench_duckdb.py --runs 1` (a new process and connection each;
# peak RSS by /usr/bin/time for servicewatch). Prints every run and the
# medians. Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
rounds="${2:-5}"
shift $(($# < 2 ? $# : 2))
sw="${SW:-${CARGO_TARGET_DIR:-$HOME/.cache/servicewatch/target}/release/servicewatch}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
sts=() strss=() sws=() ducks=() swrss=() duckrss=()
# One servicewatch run: its median and its peak RSS (MB), or the log.
sw_run() {
  /usr/bin/time -v "$sw" bench --data "$file" --runs 1 "$@" >"$log" 2>&1
  ms=$(sed -n 's/.*median of 1: \([0-9]*\) ms/\1/p' "$log")
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$log")
  [ -n "$ms" ] || { cat "$log"; exit 1; }
  mb=$((kb / 1024))
}
for r in $(seq 1 "$rounds"); do
  sw_run --statements "$@"
  sts+=("$ms") strss+=("$mb")
  sw_run "$@"
  sws+=("$ms") swrss+=("$mb")
  python3 scripts/bench_duckdb.py "$file" --runs 1 >"$log" 2>&1
  dms=$(sed -n 's/.*median of 1: \([0-9]*\) ms/\1/p' "$log")
  dmb=$(sed -n 's/^peak RSS: \([0-9]*\) MB.*/\1/p' "$log")
  [ -n "$dms" ] || { cat "$log"; exit 1; }
  ducks+=("$dms") duckrss+=("$dmb")
  echo "round $r: servicewatch statements ${sts[-1]} ms (peak RSS ${strss[-1]} MB)," \
    "servicewatch ${sws[-1]} ms (${swrss[-1]} MB), duckdb $dms ms (peak RSS $dmb MB, with Python)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
m0=$(median "${sts[@]}") m1=$(median "${sws[@]}") m2=$(median "${ducks[@]}")
echo "median of $rounds: the same statements: servicewatch $m0 ms, duckdb $m2 ms, ratio $(ratio "$m0" "$m2")x;" \
  "servicewatch's own answer (footer bounds, dense count) $m1 ms, $(ratio "$m1" "$m2")x DuckDB's statements;" \
  "peak RSS servicewatch $(median "${strss[@]}") / $(median "${swrss[@]}") MB, duckdb+python $(median "${duckrss[@]}") MB"
