#!/usr/bin/env bash
# Snapshot benchmarks (issue 17): the cost `nono run --snapshot` adds over a plain
# `nono run`, and `nono session rollback`, on
#   - 10,000 small files, 1% changed by the command;
#   - 1 GB in 100 files (baseline only: the command changes nothing);
#   - a second snapshot of an unchanged 100,000-file tree (`nono run --snapshot -- true`
#     twice: the second run re-hashes nothing it can trust by stat).
#
#   bench/snapshot.sh             # release build of this checkout
#   NONO=path bench/snapshot.sh   # another binary
#
# Each figure is one wall-clock run (the trees are too big to repeat many times on a
# shared machine); compare ratios, not absolutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${NONO:-}" ]; then
  nono="$(realpath "$NONO")"
else
  NONO_EBPF=skip cargo build --release -q
  nono="${CARGO_TARGET_DIR:-$PWD/target}/release/nono"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

mktree() { # DIR COUNT
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}"), "w") as f:
        f.write(f"file {i}\n" * 8)
PY
}

echo "| case | plain run (s) | run --snapshot (s) | snapshot cost (s) | rollback (s) |"
echo "|---|---|---|---|---|"

# 10,000 small files, 1% changed.
t="$work/small"; mktree "$t" 10000
change='for i in $(seq 0 100 9999); do echo changed >> d$((i / 1000))/f$i; done'
cp -a "$t" "$t.plain"
plain=$(cd "$t.plain" && secs "$nono" run -q --allow-cwd -- sh -c "$change")
snap=$(cd "$t" && secs "$nono" run -q --snapshot --allow-cwd -- sh -c "$change")
back=$(cd "$t" && secs "$nono" session rollback latest --yes)
echo "| 10,000 files, 1% changed | $plain | $snap | $(echo "$snap - $plain" | bc) | $back |"

# 1 GB in 100 files.
b="$work/big"; mkdir -p "$b"
for i in $(seq 1 100); do head -c 10000000 /dev/urandom > "$b/f$i"; done
plain=$(cd "$b" && secs "$nono" run -q --allow-cwd -- true)
snap=$(cd "$b" && secs "$nono" run -q --snapshot --allow-cwd -- true)
echo "| 1 GB in 100 files (baseline + final) | $plain | $snap | $(echo "$snap - $plain" | bc) | |"

# A second snapshot of an unchanged 100,000-file tree.
h="$work/huge"; mktree "$h" 100000
first=$(cd "$h" && secs "$nono" run -q --snapshot --allow-cwd -- true)
plain=$(cd "$h" && secs "$nono" run -q --allow-cwd -- true)
second=$(cd "$h" && secs "$nono" run -q --snapshot --allow-cwd -- true)
echo "| 100,000 files, first run (store empty for them) | $plain | $first | $(echo "$first - $plain" | bc) | |"
echo "| 100,000 files, unchanged, objects already stored | $plain | $second | $(echo "$second - $plain" | bc) | |"
