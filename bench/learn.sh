#!/usr/bin/env bash
# `nono learn` (ptrace backend) against plain runs and strace, in one hyperfine session.
#
#   bench/learn.sh    # prints a markdown table and writes bench/results/learn-<date>.md
#
# Targets (issue: tracer and nono learn): Python import workload ×20 ≤ 1.3× plain;
# cat of 20,000 files ≤ 1.6× plain; side by side with `strace -f` and
# `strace -f --seccomp-bpf` on the same syscall list.
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
    "$nono learn --no-tui --report /dev/null -- sh -c \"$cmd\"" \
    "strace -f -qq -o /dev/null -e $syscalls sh -c \"$cmd\"" \
    "strace -f -qq --seccomp-bpf -o /dev/null -e $syscalls sh -c \"$cmd\"" >/dev/null
}
run python "$py"
run cat "$cat_files"

report="$out/learn-$(date -u +%Y%m%d-%H%M%S).md"
python3 - "$work/python.json" "$work/cat.json" > "$report" <<'PY'
import json, sys, statistics, platform, os
print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, kernel {platform.release()}")
names = ["plain", "nono learn (ptrace)", "strace -f", "strace -f --seccomp-bpf"]
for title, path, target in [("Python imports ×20", sys.argv[1], "≤ 1.3×"), ("cat of 20,000 files", sys.argv[2], "≤ 1.6×")]:
    med = [statistics.median(r["times"]) for r in json.load(open(path))["results"]]
    print(f"\n| {title} | median (s) | × plain |\n|---|---:|---:|")
    for name, m in zip(names, med):
        note = f" (target {target})" if name.startswith("nono") else ""
        print(f"| {name} | {m:.3f} | {m / med[0]:.2f}{note} |")
PY
cat "$report"
