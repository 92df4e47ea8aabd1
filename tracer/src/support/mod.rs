//! What this machine's kernel lets nono trace, for `nono setup --check`.
//!
//! [`probe`] tries things for real instead of trusting kernel versions:
//!
//! - **ptrace**: a forked child calls `PTRACE_TRACEME` and stops itself with SIGSTOP; the
//!   probe waits for that stop with `waitpid`, sets `PTRACE_O_EXITKILL |
//!   PTRACE_O_TRACESECCOMP` on it (what a seccomp-assisted tracer needs), then kills and
//!   reaps it. Yama's `kernel.yama.ptrace_scope` is read to explain the result, and
//!   `SECCOMP_RET_TRACE` support (which lets the tracer stop only at the system calls it
//!   asks for) is read from `/proc/sys/kernel/seccomp/actions_avail`.
//! - **eBPF**: kernel BTF (`/sys/kernel/btf/vmlinux`, needed to relocate CO-RE programs),
//!   the capabilities to load and attach tracing programs (`CAP_BPF` and `CAP_PERFMON`, or
//!   `CAP_SYS_ADMIN`, read from `CapEff`), and a real `bpf(BPF_PROG_LOAD)` of a
//!   two-instruction socket filter (`r0 = 0; exit`) that is unloaded at once.
//!
//! # Why the ptrace probe forks
//!
//! Tracing needs a tracee; the only one we may safely trace is a child we create for the
//! purpose. The child runs only async-signal-safe system calls (the caller may be
//! multi-threaded), dies with the thread that forked it (`PR_SET_PDEATHSIG`) and is always
//! killed and reaped before [`probe`] returns.
//!
//! # Limitations
//!
//! This reports the *kernel* side of eBPF tracing only: nono's eBPF programs are not built
//! yet, so no real tracing program is loaded or attached here. The report describes this
//! process's view of the kernel; a seccomp filter or security module around it (a
//! container, for instance) can make a feature look absent.

use serde::Serialize;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;

/// Platforms other than Linux: neither mechanism exists, and the report says so.
#[cfg(not(target_os = "linux"))]
mod other {
    use super::{EbpfSupport, PtraceSupport, TraceSupport};

    /// Reports ptrace and eBPF as unavailable on this platform.
    pub(super) fn probe() -> TraceSupport {
        let os = std::env::consts::OS;
        TraceSupport {
            ptrace: PtraceSupport {
                available: false,
                yama_scope: None,
                seccomp_trace: false,
                detail: format!("nono's ptrace tracer is Linux-only; this is {os}"),
            },
            ebpf: EbpfSupport {
                available: false,
                btf: false,
                privileged: false,
                unprivileged_bpf_disabled: None,
                missing: vec!["Linux".to_owned()],
                detail: format!("eBPF tracing is Linux-only; this is {os}"),
            },
        }
    }
}
#[cfg(not(target_os = "linux"))]
use other as platform;

/// What this machine lets nono trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSupport {
    /// The ptrace backend.
    pub ptrace: PtraceSupport,
    /// The kernel side of the eBPF backend.
    pub ebpf: EbpfSupport,
}

/// Whether this process can trace the processes it starts with ptrace.
#[derive(Debug, Clone, Serialize)]
pub struct PtraceSupport {
    /// Whether a forked child could really be traced (stopped, observed, given the
    /// tracer's options).
    pub available: bool,
    /// `kernel.yama.ptrace_scope` (0 classic, 1 descendants only, 2 CAP_SYS_PTRACE only,
    /// 3 disabled), `None` when Yama is absent.
    pub yama_scope: Option<u32>,
    /// Whether the kernel supports the seccomp `SECCOMP_RET_TRACE` action, so the tracer
    /// can stop only at the system calls it asks for.
    pub seccomp_trace: bool,
    /// One sentence for humans: what was tested and what Yama allows, or why it failed.
    pub detail: String,
}

/// Whether the kernel could run nono's eBPF tracing programs for this process.
///
/// This covers the kernel side only: nono's eBPF programs are not built yet, so the probe
/// loads a trivial test program instead of a real tracing program.
#[derive(Debug, Clone, Serialize)]
pub struct EbpfSupport {
    /// Whether everything below is in place and a test program really loaded; true
    /// exactly when `missing` is empty.
    pub available: bool,
    /// Whether the kernel exposes its BTF type information (`/sys/kernel/btf/vmlinux`).
    pub btf: bool,
    /// Whether this process holds `CAP_BPF` and `CAP_PERFMON` (or `CAP_SYS_ADMIN`) in its
    /// effective set.
    pub privileged: bool,
    /// `kernel.unprivileged_bpf_disabled` (0 allowed, 1 disabled until reboot, 2 disabled),
    /// `None` when absent.
    pub unprivileged_bpf_disabled: Option<u32>,
    /// What is missing, in words a user can act on, e.g.
    /// `"CAP_BPF and CAP_PERFMON (run as root)"`.
    pub missing: Vec<String>,
    /// One sentence for humans summarizing the above.
    pub detail: String,
}

/// Probes what this machine lets nono trace.
///
/// Safe to call from any thread of a multi-threaded process: the ptrace probe traces a
/// short-lived forked child that is killed and reaped before this returns, and the eBPF
/// test program is unloaded at once. It never fails; what could not be determined is
/// reported as unavailable, with the reason in the `detail` fields.
pub fn probe() -> TraceSupport {
    platform::probe()
}

/// The eBPF half of [`probe`] alone (no ptrace test child).
pub fn probe_ebpf() -> EbpfSupport {
    #[cfg(target_os = "linux")]
    {
        linux::probe_ebpf()
    }
    #[cfg(not(target_os = "linux"))]
    {
        platform::probe().ebpf
    }
}
