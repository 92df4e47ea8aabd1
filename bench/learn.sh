#!/usr/bin/env bash
# `nono learn` with each backend against plain runs and strace. The variants of a
# workload run interleaved (plain, eBPF, …, plain, eBPF, …), so that the drift of a
# shared, noisy machine hits them alike; the figures are medians and ratios to plain.
#
#   bench/learn.sh            # prints markdown tables, writes bench/results/learn-<date>.md
#   ROUNDS=15 bench/learn.sh  # more rounds (default 9; fixed cost: 3× as many)
#   PIN=0 bench/learn.sh      # the workloads pinned to CPU 0 (see variants)
#
# Targets: ptrace backend (issue: tracer and nono learn): Python import workload ×20
# ≤ 1.3× plain, cat of 20,000 files ≤ 1.6×. eBPF backend (issue: eBPF tracing
# backend): Python ≤ 1.05×, cat ≤ 1.15×, fixed cost (attach + detach) ≤ 100 ms. Every
# `nono learn` row is the default command (`--no-tui`, no report file); the eBPF
# backend is measured with the safety net (the default) and without it
# (`--no-safety-net`: the tracing alone, as strace traces). Two rows show what no
# change to nono's programs can remove: an empty program attached where nono's
# `sys_exit` program is (bench/empty-sys-exit.py: the floor of tracing system calls on
# a kernel without kprobes or fentry), and `nono run --allow /` (Landlock's check on
# every open, which the safety net also pays). The eBPF rows need root and a build
# with the programs (scripts/install-ebpf-toolchain.sh). A variant whose runs exit
# non-zero is marked in the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "bench: needs strace (apt-get install strace)" >&2; exit 1; }
cargo build --release -q
nono="${CARGO_TARGET_DIR:-$PWD/target}/release/nono"
bench="$PWD/bench"
. bench/common.sh
rounds=$(bench_rounds 9)
out="$PWD/bench/results"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export HOME="$work/home"
mkdir -p "$HOME"

syscalls="trace=open,openat,openat2,creat,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,readlink,readlinkat,execve,execveat,mkdir,mkdirat,rmdir,unlink,unlinkat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,truncate,chdir,connect,bind,sendto,sendmsg,sendmmsg"
# The Python workload also times itself (inside.us): the wall time around it minus that
# is what a variant adds before and after the command (start-up, loading, detaching,
# writing the session), the rest is what it adds while the command runs.
cat > python.sh <<EOF
#!/bin/sh
s=\$(date +%s%N)
for i in \$(seq 20); do /usr/bin/python3 -c 'import json, email, http.client, asyncio, unittest, xml.dom.minidom'; done
e=\$(date +%s%N)
echo \$(( (e - s) / 1000 )) > $work/out/inside.us
EOF
# (Not in $work itself: the safety net's rules for HOME=$work/home leave the
# directories above HOME without file creation.)
mkdir -p "$work/out"
# NUL-separated: some names under /usr hold spaces, which would make cat fail on
# pieces of them (and xargs exit 123).
(find /usr -type f -size -64k -print0 2>/dev/null || true) | head -z -n 20000 > files.txt || true
cat > cat.sh <<EOF
#!/bin/sh
s=\$(date +%s%N)
xargs -0 -a $work/files.txt cat > /dev/null
rc=\$?
e=\$(date +%s%N)
echo \$(( (e - s) / 1000 )) > $work/out/inside.us
exit \$rc
EOF
chmod +x python.sh cat.sh

variants() {
  local w=$1
  # PIN=N: the workload (not nono) runs on CPU N in every variant: on this VM where a
  # process lands and moves changes its time by ±15%, which this takes out.
  if [ -n "${PIN:-}" ]; then w="taskset -c $PIN $w"; fi
  printf '%s\n' \
    "plain|$w" \
    "empty program on sys_exit (floor)|python3 $bench/empty-sys-exit.py -- $w" \
    "nono run --allow / (Landlock alone)|$nono run --allow / -- $w" \
    "nono learn --backend ebpf|$nono learn --backend ebpf --no-tui -- $w" \
    "nono learn --backend ebpf --no-safety-net|$nono learn --backend ebpf --no-tui --no-safety-net -- $w" \
    "nono learn --backend ptrace|$nono learn --backend ptrace --no-tui -- $w" \
    "strace -f|strace -f -qq -o /dev/null -e $syscalls $w" \
    "strace -f --seccomp-bpf|strace -f -qq --seccomp-bpf -o /dev/null -e $syscalls $w"
}
fixed() {
  printf '%s\n' \
    "true|true" \
    "nono learn --backend ebpf -- true|$nono learn --backend ebpf --no-tui -- true" \
    "nono learn --backend ptrace -- true|$nono learn --backend ptrace --no-tui -- true"
}

# Runs each line's command ("name|command") once per round, in order, for ROUNDS
# rounds (after one warm-up round), and prints "name|seconds|round|inside seconds|exit
# status" lines (inside: what the workload measured of itself, if it did).
interleave() {
  local rounds=$1 spec=$2
  python3 - "$rounds" "$spec" "$work/out/inside.us" <<'PY'
import os, subprocess, sys, time
rounds, spec, inside_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = [line.split("|", 1) for line in open(spec) if line.strip()]
for r in range(rounds + 1):
    for name, cmd in rows:
        t = time.perf_counter()
        rc = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        wall = time.perf_counter() - t
        try:
            inside = int(open(inside_file).read()) / 1e6
            os.unlink(inside_file)
        except (OSError, ValueError):
            inside = ""
        if r:
            print(f"{name}|{wall:.6f}|{r}|{inside}|{rc}", flush=True)
PY
}

variants "$work/python.sh" > python.spec
variants "$work/cat.sh" > cat.spec
fixed > fixed.spec
interleave "$rounds" python.spec > python.times
interleave "$rounds" cat.spec > cat.times
interleave $((rounds * 3)) fixed.spec > fixed.times
# Where the eBPF fixed cost goes.
for i in 1 2 3 4 5; do
  NONO_TIMING=1 "$nono" learn --backend ebpf --no-tui -- true 2>&1 | grep "timing: ebpf" || true
done > phases.txt

report="$out/learn-$(date -u +%Y%m%d-%H%M%S).md"
python3 - python.times cat.times fixed.times phases.txt "$rounds" > "$report" <<'PY'
import sys, statistics, platform, os, re, collections
failed = collections.Counter()
def load(path, inside=None):
    d = collections.OrderedDict()
    for line in open(path):
        name, t, _round, ins, rc = line.rstrip("\n").rsplit("|", 4)
        if rc != "0":
            # A run that failed may have been quick for it: say so beside its figures.
            failed[(path, name)] += 1
        d.setdefault(name, []).append(float(t))
        if inside is not None and ins:
            inside.setdefault(name, []).append(float(ins))
    return d
print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, kernel {platform.release()}; "
      f"{sys.argv[5]} interleaved rounds, medians")
targets = {
    "Python imports ×20": {"nono learn --backend ebpf --no-safety-net": "≤ 1.05×", "nono learn --backend ebpf": "≤ 1.05×", "nono learn --backend ptrace": "≤ 1.3×"},
    "cat of 20,000 files": {"nono learn --backend ebpf --no-safety-net": "≤ 1.15×", "nono learn --backend ebpf": "≤ 1.15×", "nono learn --backend ptrace": "≤ 1.6×"},
}
for title, path in [("Python imports ×20", sys.argv[1]), ("cat of 20,000 files", sys.argv[2])]:
    inside = {}
    d = load(path, inside)
    base = statistics.median(d["plain"])
    # Paired: each run against the plain run of its own round (the drift of a shared
    # machine hits both alike).
    paired = {n: statistics.median(a / b for a, b in zip(v, d["plain"])) for n, v in d.items()}
    # Every variant must have measured itself (a workload that could not write its
    # figure would otherwise vanish from the table).
    inside = inside if all(len(inside.get(n, [])) == len(v) for n, v in d.items()) else {}
    if inside:
        print(f"\n| {title} | median (s) | × plain | × plain, paired | added inside (ms) | added outside (ms) | target |\n|---|---:|---:|---:|---:|---:|---|")
    else:
        print(f"\n| {title} | median (s) | × plain | × plain, paired | target |\n|---|---:|---:|---:|---|")
    for name, v in d.items():
        m = statistics.median(v)
        row = f"| {name} | {m:.3f} | {m / base:.3f} | {paired[name]:.3f} |"
        if inside:
            # Inside: the workload's own time against plain's, paired by round;
            # outside: wall minus inside, against plain's.
            ins = statistics.median((a - b) * 1000 for a, b in zip(inside[name], inside["plain"]))
            out = statistics.median((w - i) * 1000 for w, i in zip(v, inside[name])) - statistics.median(
                (w - i) * 1000 for w, i in zip(d["plain"], inside["plain"]))
            row += f" {ins:+.0f} | {out:+.0f} |"
        note = f" **exited non-zero in {failed[(path, name)]} of {len(v)} runs**" if failed[(path, name)] else ""
        print(f"{row} {targets[title].get(name, '')}{note} |")
d = load(sys.argv[3])
base = statistics.median(d["true"]) * 1000
print("\n| learning `true` | median (ms) | over `true` (ms) |\n|---|---:|---:|")
for name, v in d.items():
    m = statistics.median(v) * 1000
    note = f" (**exited non-zero in {failed[(sys.argv[3], name)]} runs**)" if failed[(sys.argv[3], name)] else ""
    print(f"| {name}{note} | {m:.1f} | {m - base:+.1f} |")
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
