//! # nono-tracer
//!
//! Tracing backends for `nono learn`: ptrace + seccomp (unprivileged) and eBPF
//! (privileged), both emitting one event type for everything a traced process tree
//! does. This crate knows nothing about profiles.
//!
//! - [`event`]: the one [`Event`](event::Event) type every backend emits (file accesses
//!   with absolute paths and results, execs, connects and binds, DNS questions, process
//!   starts and exits), serialized as JSON lines in session files.
//! - [`ptrace`] (Linux): the unprivileged backend, ptrace with a seccomp filter that
//!   stops only at the system calls of interest.
//! - [`launch`] (Linux): what to trace and how it ended, and starting the traced
//!   command (both backends).
//! - [`built`]: whether this build carries the eBPF programs.
//! - `decode` and `sys` (internal): what a system call names (syscall table, paths,
//!   socket addresses), and every raw system call behind a safe function.
//! - [`dns`]: decoding the DNS questions in packets sent to port 53.
//! - [`support`]: the probes `nono setup --check` uses to report whether ptrace and eBPF
//!   tracing can work on this machine.
//!
//! - [`ebpf`] (Linux): the privileged backend, eBPF programs in the kernel, the same
//!   events without stopping the traced programs.
#![deny(missing_docs)]

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod built;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) mod decode;
pub mod dns;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod ebpf;
pub mod event;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod launch;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod ptrace;
pub mod support;
#[cfg(target_os = "linux")]
pub(crate) mod sys;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use launch::{TraceCommand, TraceOutcome, TraceProgress};
