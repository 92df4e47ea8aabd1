//! Builds nono's eBPF programs (`../ebpf`, for `bpfel-unknown-none`) with aya-build and
//! leaves the object at `$OUT_DIR/nono-ebpf` for `include_bytes!`.
//!
//! The programs need a nightly toolchain with `rust-src` and `bpf-linker` (see
//! `scripts/install-ebpf-toolchain.sh`). Without them the tracer still builds: the object
//! is left empty, a warning says why, and `nono learn --backend ebpf` explains how to get
//! it. `NONO_EBPF=required` (set by `.ci/run`) turns a missing toolchain or a failed
//! build into a build error; `NONO_EBPF=skip` never builds the programs.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(nono_ebpf)");
    println!("cargo:rerun-if-env-changed=NONO_EBPF");
    println!("cargo:rerun-if-env-changed=PATH");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("nono-ebpf");
    let mode = env::var("NONO_EBPF").unwrap_or_default();
    let required = mode == "required";
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();

    let skip_reason = if mode == "skip" {
        Some("NONO_EBPF=skip".to_owned())
    } else if os != "linux" || !matches!(arch.as_str(), "x86_64" | "aarch64") {
        Some(format!(
            "the eBPF backend supports Linux on x86_64 and aarch64, not {os} on {arch}"
        ))
    } else {
        missing_toolchain()
    };
    let built = match skip_reason {
        Some(reason) => Err(reason),
        None => {
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
            let root = manifest.join("../ebpf");
            for dir in ["../ebpf/src", "../ebpf/Cargo.toml", "../ebpf/common/src"] {
                println!("cargo:rerun-if-changed={}", manifest.join(dir).display());
            }
            let root = root.to_string_lossy().into_owned();
            let package = aya_build::Package {
                name: "nono-ebpf",
                root_dir: &root,
                ..Default::default()
            };
            aya_build::build_ebpf([package], aya_build::Toolchain::Nightly)
                .map_err(|e| format!("building the eBPF programs failed: {e:#}"))
                .and_then(|()| {
                    fs::metadata(&object).map(|_| ()).map_err(|e| {
                        format!("the eBPF object {} is missing: {e}", object.display())
                    })
                })
        }
    };
    match built {
        Ok(()) => println!("cargo:rustc-cfg=nono_ebpf"),
        Err(reason) if required => {
            panic!("NONO_EBPF=required, but the eBPF programs were not built: {reason}")
        }
        Err(reason) => {
            println!(
                "cargo:warning=nono's eBPF backend is not built ({reason}); `nono learn` will use ptrace. \
                 Run scripts/install-ebpf-toolchain.sh to get it."
            );
            fs::write(&object, b"").expect("write the empty eBPF object");
        }
    }
}

/// What is missing to build the programs, if anything.
fn missing_toolchain() -> Option<String> {
    if !on_path("bpf-linker") {
        return Some("bpf-linker is not installed".to_owned());
    }
    let sysroot = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output();
    let sysroot = match sysroot {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        _ => return Some("no nightly Rust toolchain (rustup run nightly rustc)".to_owned()),
    };
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        return Some("the nightly toolchain lacks rust-src".to_owned());
    }
    None
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|paths| env::split_paths(&paths).any(|dir| is_executable(&dir.join(program))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
