#!/usr/bin/env bash
# The cold daily aggregation, servicewatch against DuckDB, alternating on
# the same file so that the machine's noise lands on both:
#   scripts/bench_race.sh FILE [ROUNDS=5] [extra `servicewatch bench` args]
# Each round runs `servicewatch bench --runs 1` (peak RSS by /usr/bin/time)
# and then `scripts/bench_duckdb.py --runs 1` (a new process and connection
# each); prints every run and the medians. Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
rounds="${2:-5}"
shift $(($# < 2 ? $# : 2))
sw="${SW:-${CARGO_TARGET_DIR:-$HOME/.cache/servicewatch/target}/release/servicewatch}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
sws=() ducks=() swrss=() duckrss=()
for r in $(seq 1 "$rounds"); do
  /usr/bin/time -v "$sw" bench --data "$file" --runs 1 "$@" >"$log" 2>&1
  ms=$(sed -n 's/.*median of 1: \([0-9]*\) ms/\1/p' "$log")
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$log")
  [ -n "$ms" ] || { cat "$log"; exit 1; }
  sws+=("$ms") swrss+=("$((kb / 1024))")
  python3 scripts/bench_duckdb.py "$file" --runs 1 >"$log" 2>&1
  dms=$(sed -n 's/.*median of 1: \([0-9]*\) ms/\1/p' "$log")
  dmb=$(sed -n 's/^peak RSS: \([0-9]*\) MB.*/\1/p' "$log")
  [ -n "$dms" ] || { cat "$log"; exit 1; }
  ducks+=("$dms") duckrss+=("$dmb")
  echo "round $r: servicewatch $ms ms (peak RSS ${swrss[-1]} MB), duckdb $dms ms (peak RSS $dmb MB, with Python)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1=$(median "${sws[@]}") m2=$(median "${ducks[@]}")
echo "median of $rounds: servicewatch $m1 ms, duckdb $m2 ms, ratio $(awk -v a="$m1" -v b="$m2" 'BEGIN {printf "%.2f", a / b}')x;" \
  "peak RSS servicewatch $(median "${swrss[@]}") MB, duckdb+python $(median "${duckrss[@]}") MB"
