#!/usr/bin/env bash
# nono in one minute: learn what a command needs, then run it under that profile.
# Works on a fresh machine with a Rust toolchain; touches nothing outside a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
nono="$PWD/target/release/nono"
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
mkdir -p "$demo/home/.ssh" "$demo/project" "$demo/data"
echo "-----BEGIN OPENSSH PRIVATE KEY----- (fake)" > "$demo/home/.ssh/id_ed25519"
printf 'alpha\nbeta\n' > "$demo/data/input.txt"
export HOME="$demo/home"
cd "$demo/project"
task="sort $demo/data/input.txt > sorted.txt; cat ~/.ssh/id_ed25519 || echo '(the key was refused)'"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "nono learn: trace the task (a safety net withholds the key even while learning)"
"$nono" learn --no-tui --output "$demo/task.json" -- sh -c "$task"
step "the learned profile"
cat "$demo/task.json"
step "nono run --profile: the task works again, the key stays refused"
rm -f sorted.txt
"$nono" run --profile "$demo/task.json" -- sh -c "$task"
cat sorted.txt
step "anything the task did not do is refused"
"$nono" run -q --profile "$demo/task.json" -- cat /etc/shadow || true
"$nono" run -q --profile "$demo/task.json" -- sh -c 'echo x > /tmp/elsewhere' || true
step "ask why"
"$nono" why --profile "$demo/task.json" --path "$HOME/.ssh/id_ed25519" || true
