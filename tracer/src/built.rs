//! What this build carries: the compiled eBPF programs, or nothing when it was built
//! without the eBPF toolchain. A leaf: the eBPF backend loads the object, the support
//! probes report whether there is one.

/// The compiled programs, empty when this build has none (see `tracer/build.rs`).
pub(crate) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/nono-ebpf"));

/// How to get the programs into a build that lacks them.
pub const HOW_TO_BUILD: &str = "install the eBPF toolchain with scripts/install-ebpf-toolchain.sh \
     (a nightly Rust with rust-src, and bpf-linker) and rebuild nono";

/// Whether this build includes the eBPF programs.
pub fn built() -> bool {
    !OBJECT.is_empty()
}
