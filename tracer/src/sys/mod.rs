//! The raw system calls of the crate, each behind a narrow safe function: the rest of
//! the tracer is safe code.
//!
//! * [`process`]: `fork` and the child's code until `execve`, the `ptrace` requests,
//!   `waitpid`, `process_vm_readv`, signals and pidfds (both backends launch with it).
//! * [`probe`]: the `bpf` and `seccomp` calls and the forked child the support probes use.

pub(crate) mod probe;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) mod process;
