#!/usr/bin/env bash
# What the eBPF backend costs the traced command while nono's reader is not reading:
# the command stops nono (SIGSTOP to its parent), opens one file 40,000 times with cat,
# and lets nono go on (SIGCONT). The records wait in the ring buffer (~8 MB of its 16)
# meanwhile, as they do when the reader gets no CPU on a busy machine. Compared with
# the same work while the reader runs, and with no tracing at all; interleaved rounds,
# medians of what the command measured of itself.
#
#   sudo bench/lagging-reader.sh            # ROUNDS=7 by default
#   NONO=/path/to/nono bench/lagging-reader.sh   # another build, not rebuilt
#
# Needs root (eBPF) and a build with the programs. Runs with --no-safety-net: the
# safety net's signal scoping would (rightly) refuse the command's SIGSTOP to nono.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
rounds=$(bench_rounds 7)
if [ -z "${NONO:-}" ]; then cargo build --release -q; fi
nono="${NONO:-${CARGO_TARGET_DIR:-$PWD/target}/release/nono}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
mkdir -p "$HOME"
file=/usr/share/zoneinfo/Etc/UTC
[ -r "$file" ] || file=/etc/hostname
# The workload prints nanoseconds per open (with read and close) on stdout.
opens='s=$(date +%s%N); yes '"$file"' | head -n 40000 | xargs cat > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 40000 ))'
python3 - "$rounds" "$nono" "$opens" <<'PY'
import statistics, subprocess, sys
rounds, nono, opens = int(sys.argv[1]), sys.argv[2], sys.argv[3]
learn = [nono, "learn", "--backend", "ebpf", "--no-tui", "--no-safety-net", "--", "sh", "-c"]
variants = {
    "no tracing": ["sh", "-c", opens],
    "nono learn, reader running": learn + [opens],
    # nono is let go whatever happens to the workload (or the bench would hang).
    "nono learn, reader stopped": learn + ["trap 'kill -CONT $PPID' EXIT; kill -STOP $PPID; " + opens],
}
per_open = {name: [] for name in variants}
for r in range(rounds + 1):
    for name, cmd in variants.items():
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0 or "(0 dropped)" not in out.stderr and name != "no tracing":
            sys.exit(f"bench: {name} failed or dropped records:\n{out.stderr}")
        if r:
            per_open[name].append(int(out.stdout.split()[-1]))
base = statistics.median(per_open["no tracing"])
print(f"{rounds} interleaved rounds, medians; ns per open + read + close of one file by cat\n")
print("| variant | ns per open | × no tracing |\n|---|---:|---:|")
for name, values in per_open.items():
    m = statistics.median(values)
    print(f"| {name} | {m:.0f} | {m / base:.2f} |")
PY
