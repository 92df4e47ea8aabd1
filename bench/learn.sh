#!/usr/bin/env bash
# `nono learn` with each backend against plain runs and strace, in one hyperfine
# session per workload, so the figures compare as ratios on a shared, noisy machine.
#
#   bench/learn.sh    # prints markdown tables and writes bench/results/learn-<date>.md
#
# Targets: ptrace backend (issue: tracer and nono learn): Python import workload ×20
# ≤ 1.3× plain, cat of 20,000 files ≤ 1.6×. eBPF backend (issue: eBPF tracing
# backend): Python ≤ 1.05×, cat ≤ 1.15×, fixed cost (attach + detach) ≤ 100 ms. All
# side by side with `strace -f` and `strace -f --seccomp-bpf` on the same syscall list.
# The eBPF rows need root and a build with the programs (scripts/install-ebpf-toolchain.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine strace; do
  command -v "$tool" >/dev/null || { echo "bench: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release -q
nono="$PWD/target/release/nono"
out="$PWD/bench/results"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export HOME="$work/home"
mkdir -p "$HOME"

syscalls="trace=open,openat,openat2,creat,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,readlink,readlinkat,execve,execveat,mkdir,mkdirat,rmdir,unlink,unlinkat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,truncate,chdir,connect,bind,sendto,sendmsg,sendmmsg"
py="for i in \$(seq 20); do /usr/bin/python3 -c 'import json, email, http.client, asyncio, unittest, xml.dom.minidom'; done"
(find /usr -type f -size -64k 2>/dev/null || true) | head -20000 > files.txt || true
cat_files="xargs -a $work/files.txt cat > /dev/null 2>&1"

run() {
  local name=$1 cmd=$2
  hyperfine -N -i --warmup 1 --runs "${RUNS:-5}" --export-json "$work/$name.json" \
    "sh -c \"$cmd\"" \
    "$nono learn --backend ebpf --no-tui --report /dev/null -- sh -c \"$cmd\"" \
    "$nono learn --backend ptrace --no-tui --report /dev/null -- sh -c \"$cmd\"" \
    "strace -f -qq -o /dev/null -e $syscalls sh -c \"$cmd\"" \
    "strace -f -qq --seccomp-bpf -o /dev/null -e $syscalls sh -c \"$cmd\"" >/dev/null
}
run python "$py"
run cat "$cat_files"
# Fixed cost: learning `true`, where nearly all the time is start-up and tear-down.
hyperfine -N -i --warmup 2 --runs "${FIXED_RUNS:-20}" --export-json "$work/fixed.json" \
  "true" \
  "$nono learn --backend ebpf --no-tui --report /dev/null -- true" \
  "$nono learn --backend ptrace --no-tui --report /dev/null -- true" >/dev/null
# Where the eBPF fixed cost goes.
for i in 1 2 3 4 5; do
  NONO_TIMING=1 "$nono" learn --backend ebpf --no-tui --report /dev/null -- true 2>&1 | grep "timing: ebpf"
done > "$work/phases.txt"

report="$out/learn-$(date -u +%Y%m%d-%H%M%S).md"
python3 - "$work/python.json" "$work/cat.json" "$work/fixed.json" "$work/phases.txt" > "$report" <<'PY'
import json, sys, statistics, platform, os, re, collections
print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, kernel {platform.release()}")
names = ["plain", "nono learn --backend ebpf", "nono learn --backend ptrace", "strace -f", "strace -f --seccomp-bpf"]
targets = {"Python imports ×20": ("≤ 1.05×", "≤ 1.3×"), "cat of 20,000 files": ("≤ 1.15×", "≤ 1.6×")}
for title, path in [("Python imports ×20", sys.argv[1]), ("cat of 20,000 files", sys.argv[2])]:
    med = [statistics.median(r["times"]) for r in json.load(open(path))["results"]]
    print(f"\n| {title} | median (s) | × plain |\n|---|---:|---:|")
    for i, (name, m) in enumerate(zip(names, med)):
        note = f" (target {targets[title][i - 1]})" if i in (1, 2) else ""
        print(f"| {name} | {m:.3f} | {m / med[0]:.2f}{note} |")
med = [statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[3]))["results"]]
print("\n| learning `true` | median (ms) | over `true` (ms) |\n|---|---:|---:|")
for name, m in zip(["true", "nono learn --backend ebpf", "nono learn --backend ptrace"], med):
    print(f"| {name} | {m:.1f} | {m - med[0]:+.1f} |")
print(f"\neBPF over ptrace for `true`: {med[1] - med[2]:+.1f} ms")
phases = collections.defaultdict(list)
for line in open(sys.argv[4]):
    m = re.match(r"nono timing: ebpf (.*): ([0-9.]+) ms", line.strip())
    if m:
        phases[m.group(1)].append(float(m.group(2)))
print("\n| eBPF phase (NONO_TIMING, 5 runs) | median (ms) |\n|---|---:|")
for phase, values in phases.items():
    print(f"| {phase} | {statistics.median(values):.1f} |")
PY
cat "$report"
