#!/usr/bin/env bash
# Installs what building nono's eBPF programs needs, if it is missing:
#
#   - a nightly Rust toolchain with rust-src (the programs are built for
#     bpfel-unknown-none with -Z build-std=core);
#   - bpf-linker 0.13, built against the nightly toolchain's own libLLVM (bpf-linker
#     must use the LLVM version rustc uses; Debian's LLVM is too old), through a
#     prefix directory that links that library.
#
# Idempotent: a second run finds everything and does nothing. Takes about three
# minutes the first time (building bpf-linker). Then `cargo build` includes the
# programs; `NONO_EBPF=required cargo build` fails if they cannot be built.
set -euo pipefail

say() { echo "install-ebpf-toolchain: $*" >&2; }

command -v rustup >/dev/null || { say "needs rustup"; exit 1; }
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
sysroot=$(rustup run nightly rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
  say "adding rust-src to the nightly toolchain"
  rustup component add rust-src --toolchain nightly
fi

llvm_lib=$(find "$sysroot/lib" -maxdepth 1 -name 'libLLVM.so.*' | head -n1)
if [ -z "$llvm_lib" ]; then
  llvm_lib=$(find "$sysroot/lib" -maxdepth 1 -name 'libLLVM-*.so' | head -n1)
fi
[ -n "$llvm_lib" ] || { say "no libLLVM in $sysroot/lib"; exit 1; }
major=$(basename "$llvm_lib" | sed -E 's/^libLLVM(\.so\.|-)([0-9]+).*/\2/')
case "$major" in
  21|22|23) ;;
  *) say "nightly uses LLVM $major; bpf-linker 0.13 supports LLVM 21 to 23"; exit 1 ;;
esac

# bpf-linker runs under `rustup run nightly` (aya-build does that), which puts the
# nightly's libLLVM on the library path; it starts only if it was linked against that
# very library (the soname names the LLVM and rustc versions).
if rustup run nightly bpf-linker --version >/dev/null 2>&1; then
  say "bpf-linker is installed and loads the nightly's LLVM $major"
  exit 0
fi
prefix="${CARGO_HOME:-$HOME/.cargo}/nono-llvm-$major"
mkdir -p "$prefix/lib"
# libLLVM.so for the build; the library's own name (its soname) so that bpf-linker,
# whose run path is this directory, also starts outside `rustup run`.
ln -sf "$llvm_lib" "$prefix/lib/libLLVM.so"
ln -sf "$llvm_lib" "$prefix/lib/$(basename "$llvm_lib")"
say "building bpf-linker 0.13 against $llvm_lib (a few minutes)"
LLVM_PREFIX="$prefix" cargo install bpf-linker --version 0.13.0 --locked --force \
  --no-default-features --features "llvm-$major"
rustup run nightly bpf-linker --version >&2
