#!/usr/bin/env bash
# Whole-process benchmarks of `nono run` and `nono wrap` against plain runs, in one
# hyperfine session so the figures compare as ratios on a shared, noisy machine.
#
#   bench/run.sh            # writes bench/results/run-<date>.md and prints it
#   NONO=path bench/run.sh  # the same for another nono binary
#
# Targets (issue: nono run on Linux): `nono run --allow-cwd -- true` adds at most
# 5 ms (median) over `true`; `nono wrap` at most 2 ms; a Python import-heavy workload
# runs within 3% of its unsandboxed time.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
# NONO=/path/to/nono benchmarks that binary instead (e.g. the static build described in
# docs/PERFORMANCE.md); otherwise the release build of this checkout.
if [ -n "${NONO:-}" ]; then
  nono="$(realpath "$NONO")"
else
  cargo build --release -q
  nono="${CARGO_TARGET_DIR:-$PWD/target}/release/nono"
fi
python=/usr/bin/python3
out="$PWD/bench/results"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# An import-heavy Python workload: a few dozen stdlib packages, byte-compiled once.
imports="import json, email.mime.multipart, http.client, xml.dom.minidom, decimal, asyncio, unittest, sqlite3, argparse, logging.handlers, urllib.request, csv, difflib, statistics, fractions, pathlib, tempfile, zipfile, tarfile, gzip, hashlib, hmac, uuid, ssl, socket, subprocess, concurrent.futures, dataclasses, typing, inspect, ast, dis, pydoc, textwrap, html.parser, xmlrpc.client, wave, colorsys, calendar"
$python -c "$imports" >/dev/null

hyperfine -N --warmup 20 --runs "${RUNS:-300}" --export-json "$work/startup.json" \
  'true' \
  "$nono run -q --allow-cwd -- true" \
  "$nono wrap -q --allow-cwd -- true" >/dev/null
hyperfine -N --warmup 5 --runs "${PY_RUNS:-60}" --export-json "$work/python.json" \
  "$python -c '$imports'" \
  "$nono run -q --allow-cwd -- $python -c '$imports'" >/dev/null

report="$out/run-$(date -u +%Y%m%d-%H%M%S).md"
python3 - "$work/startup.json" "$work/python.json" "$nono" > "$report" <<'PY'
import json, sys, statistics, platform, os
def load(p):
    return [(r["command"], statistics.median(r["times"]) * 1000) for r in json.load(open(p))["results"]]
startup, python = load(sys.argv[1]), load(sys.argv[2])
base = startup[0][1]
print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, kernel {platform.release()}")
print()
print("| command | median (ms) | over `true` (ms) | target |")
print("|---|---:|---:|---|")
targets = ["", "≤ 5 ms", "≤ 2 ms"]
for (cmd, med), target in zip(startup, targets):
    name = cmd.split(" -- ")[0].replace(sys.argv[3], "nono")
    print(f"| `{name}` | {med:.2f} | {med - base:+.2f} | {target} |")
plain, sandboxed = python[0][1], python[1][1]
print()
print("| Python import workload | median (ms) | ratio |")
print("|---|---:|---:|")
print(f"| plain | {plain:.1f} | 1.000 |")
print(f"| `nono run` | {sandboxed:.1f} | {sandboxed / plain:.3f} (target ≤ 1.03) |")
PY
cat "$report"
