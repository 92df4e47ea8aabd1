# Sourced by the bench scripts.

# The ROUNDS environment variable (default $1) as a whole number of at least 1, read
# in base 10 even with leading zeros; a message and a failure otherwise
# (`rounds=$(bench_rounds 9)` then stops a `set -e` script).
bench_rounds() {
  local rounds=${ROUNDS:-$1}
  case $rounds in
    ''|*[!0-9]*) echo "bench: ROUNDS must be a whole number of at least 1 (got '$rounds')" >&2; return 1 ;;
  esac
  rounds=$((10#$rounds))
  [ "$rounds" -ge 1 ] || { echo "bench: ROUNDS must be at least 1" >&2; return 1; }
  echo "$rounds"
}
