#!/usr/bin/env bash
# Builds the folder to upload as a Databricks App (docs/databricks-app.md):
#
#   OUT_DIR/servicewatch   the server, Databricks-only build (no DataFusion)
#   OUT_DIR/dist/          the browser app (trunk)
#   OUT_DIR/app.yaml       from deploy/databricks/app.yaml
#
# Usage: scripts/databricks-app.sh [OUT_DIR]
#        (default: $CARGO_TARGET_DIR/databricks-app)
#
# Then checks every file is under the platform's 10 MB limit, prints the sizes
# and the newest glibc the binary needs (Databricks Apps run Ubuntu 22.04,
# glibc 2.35). Rerunning rebuilds only what changed and replaces OUT_DIR's
# three entries; it refuses to touch a folder that holds anything else.
set -euo pipefail

# Resolve OUT_DIR against the caller's directory before moving to the repo.
out_arg="${1:-}"
if [ -n "$out_arg" ] && [ "${out_arg#/}" = "$out_arg" ]; then
  out_arg="$PWD/$out_arg"
fi
cd "$(dirname "$0")/.."
source scripts/setup.sh # PATH (trunk, wasm-bindgen, wasm-opt) and CARGO_TARGET_DIR
out="${out_arg:-$CARGO_TARGET_DIR/databricks-app}"
out="${out%/}"

# Apps reject any file over 10 MB. "10 MB" may mean 10,485,760 bytes (the
# error the platform gives says so) or 10,000,000: stay under the smaller.
limit=10000000
# Newest glibc symbol version the binary may need: Ubuntu 22.04's.
glibc_max="${SERVICEWATCH_GLIBC_MAX:-2.35}"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Only ever delete what this script puts there.
if [ -e "$out" ]; then
  [ -d "$out" ] || die "$out exists and is not a folder"
  for entry in "$out"/* "$out"/.[!.]* "$out"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    case "$(basename "$entry")" in
      servicewatch | dist | app.yaml) ;;
      *) die "$out holds $(basename "$entry"), which this script did not write: choose an empty or new folder" ;;
    esac
  done
fi
mkdir -p "$out"

started=$SECONDS

step "browser app (trunk build --release) into $out/dist"
rm -rf "$out/dist"
trunk build --release --offline --dist "$out/dist"
[ -f "$out/dist/index.html" ] || die "trunk wrote no $out/dist/index.html"

step "server (cargo build --profile app --no-default-features: Databricks only, fat LTO; several minutes)"
cargo build --locked -p servicewatch --no-default-features --profile app
bin="$CARGO_TARGET_DIR/app/servicewatch"
[ -x "$bin" ] || die "cargo left no $bin"
cp "$bin" "$out/servicewatch.new"
chmod 755 "$out/servicewatch.new"
mv -f "$out/servicewatch.new" "$out/servicewatch"

cp deploy/databricks/app.yaml "$out/app.yaml"

step "files (limit: each under $limit bytes)"
failed=0
total=0
while IFS= read -r -d '' f; do
  size=$(stat -c %s "$f")
  total=$((total + size))
  printf '%12d  %s\n' "$size" "${f#"$out"/}"
  if [ "$size" -ge "$limit" ]; then
    printf 'error: %s is %d bytes, not under %d: Databricks Apps reject it\n' "${f#"$out"/}" "$size" "$limit" >&2
    failed=1
  fi
done < <(find "$out" -type f -print0 | sort -z)
printf '%12d  total\n' "$total"
if [ -n "$(find "$out" -type l)" ]; then
  printf 'error: %s holds symbolic links; upload needs plain files\n' "$out" >&2
  failed=1
fi

step "glibc"
needed=$(objdump -T "$out/servicewatch" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)
[ -n "$needed" ] || die "objdump found no GLIBC symbol versions in $out/servicewatch"
echo "servicewatch needs glibc $needed at most (Databricks Apps: Ubuntu 22.04, glibc 2.35)"
if [ "$(printf '%s\n%s\n' "$needed" "$glibc_max" | sort -V | tail -n 1)" != "$glibc_max" ]; then
  objdump -T "$out/servicewatch" | grep "GLIBC_$needed" >&2 || true
  printf 'error: servicewatch needs glibc %s, newer than %s: build on an older system (e.g. Ubuntu 22.04)\n' \
    "$needed" "$glibc_max" >&2
  failed=1
fi

[ "$failed" = 0 ] || die "$out cannot be deployed as it is (see above)"
step "done in $((SECONDS - started)) s: upload $out (docs/databricks-app.md)"
