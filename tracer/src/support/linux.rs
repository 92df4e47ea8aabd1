//! The Linux probes: ptrace of our own children, and the kernel side of eBPF tracing.
//!
//! The decisions ("what does this errno, capability set or sysctl mean for the user") are
//! pure functions of the raw facts, so they are unit-tested without depending on the
//! machine.

use std::fs;
use std::io;
use std::path::Path;

use nix::errno::Errno;

use super::{EbpfSupport, PtraceSupport, TraceSupport};
use crate::sys::probe::{self as sys, ForkProbeError, PtraceOutcome};

/// Yama's ptrace restriction (absent when Yama is not built or not enabled).
const YAMA_PTRACE_SCOPE: &str = "/proc/sys/kernel/yama/ptrace_scope";
/// The seccomp return actions the kernel supports (Linux 4.14+).
const SECCOMP_ACTIONS_AVAIL: &str = "/proc/sys/kernel/seccomp/actions_avail";
/// The kernel's own type information, which CO-RE eBPF programs are relocated against.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
/// 0: anyone may call bpf(); 1: only privileged callers, until reboot; 2: only privileged
/// callers, changeable by an admin.
const UNPRIVILEGED_BPF_DISABLED: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
/// The kernel lockdown mode, e.g. `none [integrity] confidentiality`.
const LOCKDOWN: &str = "/sys/kernel/security/lockdown";

/// Capability numbers from `include/uapi/linux/capability.h`.
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Probes everything; see the module documentation of `support`.
pub(super) fn probe() -> TraceSupport {
    let status = thread_status();
    let caps = status.as_deref().and_then(parse_cap_eff);
    TraceSupport {
        ptrace: ptrace_support(
            sys::probe_trace_own_child(),
            &PtraceFacts {
                yama_scope: read_number(YAMA_PTRACE_SCOPE),
                seccomp_trace: seccomp_trace_available(),
                caps,
                tracer_pid: status.as_deref().and_then(parse_tracer_pid),
            },
        ),
        ebpf: probe_ebpf_with(caps),
    }
}

/// The eBPF half of [`probe`] alone.
pub(super) fn probe_ebpf() -> EbpfSupport {
    let caps = thread_status().as_deref().and_then(parse_cap_eff);
    probe_ebpf_with(caps)
}

fn probe_ebpf_with(caps: Option<u64>) -> EbpfSupport {
    ebpf_support(&EbpfFacts {
        btf: Path::new(VMLINUX_BTF).exists(),
        caps,
        euid_root: nix::unistd::geteuid().is_root(),
        unprivileged_bpf_disabled: read_number(UNPRIVILEGED_BPF_DISABLED),
        load: sys::load_trivial_bpf_program(),
        lockdown: fs::read_to_string(LOCKDOWN).ok(),
        built: crate::built::built(),
    })
}

/// Whether the kernel offers `SECCOMP_RET_TRACE`, from `actions_avail` or, when that file
/// cannot be read, from `SECCOMP_GET_ACTION_AVAIL`.
fn seccomp_trace_available() -> bool {
    match fs::read_to_string(SECCOMP_ACTIONS_AVAIL) {
        Ok(actions) => actions_include_trace(&actions),
        Err(_) => sys::seccomp_action_available(libc::SECCOMP_RET_TRACE).unwrap_or(false),
    }
}

/// Whether an `actions_avail` listing includes `trace`.
fn actions_include_trace(actions: &str) -> bool {
    actions.split_whitespace().any(|action| action == "trace")
}

fn read_number<T: std::str::FromStr>(path: &str) -> Option<T> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The status file of the calling thread (capabilities are per thread), or of the process
/// on kernels without `/proc/thread-self` (before 3.17).
fn thread_status() -> Option<String> {
    fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| fs::read_to_string("/proc/self/status"))
        .ok()
}

/// Parses the `CapEff:` line (the effective capability set, a 64-bit hexadecimal mask) of
/// a `/proc/<pid>/status` file.
fn parse_cap_eff(status: &str) -> Option<u64> {
    u64::from_str_radix(status_field(status, "CapEff:")?, 16).ok()
}

/// Parses the `TracerPid:` line of a `/proc/<pid>/status` file: 0 when nothing traces us.
fn parse_tracer_pid(status: &str) -> Option<u32> {
    status_field(status, "TracerPid:")?.parse().ok()
}

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
}

fn has_cap(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

/// `EPERM (Operation not permitted)`.
fn errno_text(errno: i32) -> String {
    let errno = Errno::from_raw(errno);
    format!("{errno:?} ({})", errno.desc())
}

/// The facts the ptrace verdict is explained with.
#[derive(Debug, Default, Clone, Copy)]
struct PtraceFacts {
    /// `kernel.yama.ptrace_scope`, if Yama is present.
    yama_scope: Option<u32>,
    /// Whether the kernel supports `SECCOMP_RET_TRACE`.
    seccomp_trace: bool,
    /// The effective capability set, if it could be read.
    caps: Option<u64>,
    /// `TracerPid` of this thread: non-zero when a debugger traces us.
    tracer_pid: Option<u32>,
}

/// Interprets the ptrace probe together with Yama's setting and our capabilities.
fn ptrace_support(
    outcome: Result<PtraceOutcome, ForkProbeError>,
    facts: &PtraceFacts,
) -> PtraceSupport {
    let PtraceFacts {
        yama_scope,
        seccomp_trace,
        caps,
        tracer_pid,
    } = *facts;
    let cap_sys_ptrace = caps.map(|caps| has_cap(caps, CAP_SYS_PTRACE));
    let yama = match (yama_scope, cap_sys_ptrace) {
        (None, _) => "no Yama, so the classic ptrace rules apply".to_owned(),
        (Some(0), _) => "Yama ptrace_scope 0: the classic ptrace rules apply".to_owned(),
        (Some(1), _) => "Yama ptrace_scope 1: only descendants can be traced, which covers \
                         the processes nono starts"
            .to_owned(),
        (Some(2), Some(true)) => {
            "Yama ptrace_scope 2: tracing needs CAP_SYS_PTRACE, which this process has".to_owned()
        }
        (Some(2), _) => "Yama ptrace_scope 2: tracing needs CAP_SYS_PTRACE, which this process \
                         lacks (run as root)"
            .to_owned(),
        (Some(3), _) => {
            "Yama ptrace_scope 3: ptrace is disabled for everyone until reboot".to_owned()
        }
        (Some(scope), _) => format!("unknown Yama ptrace_scope {scope}"),
    };
    let unavailable = |detail: String| PtraceSupport {
        available: false,
        yama_scope,
        seccomp_trace,
        detail,
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return unavailable(format!("not determined: {err}; {yama}")),
    };
    match outcome {
        PtraceOutcome::Traced { options: Ok(()) } => {
            let seccomp = if seccomp_trace {
                "SECCOMP_RET_TRACE is available, so the tracer can stop only at the system \
                 calls it asks for"
            } else {
                "SECCOMP_RET_TRACE is not available, so the tracer must stop at every system \
                 call"
            };
            PtraceSupport {
                available: true,
                yama_scope,
                seccomp_trace,
                detail: format!(
                    "ptrace works: a forked child was traced and stopped ({yama}); {seccomp}"
                ),
            }
        }
        PtraceOutcome::Traced {
            options: Err(errno),
        } => unavailable(format!(
            "a forked child could be traced, but PTRACE_SETOPTIONS(PTRACE_O_EXITKILL | \
             PTRACE_O_TRACESECCOMP) failed with {} (the kernel may predate Linux 3.8); {yama}",
            errno_text(errno)
        )),
        PtraceOutcome::TraceMeFailed(errno) => {
            let traced_by = tracer_pid.filter(|&pid| pid != 0);
            let why = match yama_scope {
                _ if errno == libc::EPERM && traced_by.is_some() => format!(
                    "this process is itself traced (TracerPid {}), and a tracer that follows \
                     forks had already attached to the child; {yama}",
                    traced_by.unwrap_or_default()
                ),
                Some(3) | Some(2) => yama,
                _ if errno == libc::EPERM => {
                    format!("a security module or a seccomp filter forbids ptrace here; {yama}")
                }
                _ => yama,
            };
            unavailable(format!(
                "ptrace does not work: PTRACE_TRACEME failed with {}: {why}",
                errno_text(errno)
            ))
        }
        PtraceOutcome::Unexpected(status) => unavailable(format!(
            "ptrace does not work: the child asked to be traced but did not stop as expected \
             (wait status {status:#x}); {yama}"
        )),
    }
}

/// The raw facts the eBPF verdict is made of.
#[derive(Debug)]
struct EbpfFacts {
    /// `/sys/kernel/btf/vmlinux` exists.
    btf: bool,
    /// The effective capability set, if it could be read.
    caps: Option<u64>,
    /// The effective uid is 0.
    euid_root: bool,
    /// `kernel.unprivileged_bpf_disabled`, if present.
    unprivileged_bpf_disabled: Option<u32>,
    /// The result of loading the trivial test program.
    load: io::Result<()>,
    /// The contents of `/sys/kernel/security/lockdown`, if present.
    lockdown: Option<String>,
    /// This build includes nono's eBPF programs.
    built: bool,
}

/// Whether a capability set allows loading and attaching tracing programs: CAP_BPF with
/// CAP_PERFMON (Linux 5.8+), or CAP_SYS_ADMIN, which implies both. The kernel checks
/// capabilities, not uids, so a root process that dropped them is not privileged; only
/// when the set cannot be read does euid 0 stand in for it.
fn ebpf_privileged(caps: Option<u64>, euid_root: bool) -> bool {
    match caps {
        Some(caps) => {
            has_cap(caps, CAP_SYS_ADMIN) || (has_cap(caps, CAP_BPF) && has_cap(caps, CAP_PERFMON))
        }
        None => euid_root,
    }
}

/// The selected mode in a lockdown listing such as `none [integrity] confidentiality`.
fn lockdown_mode(listing: &str) -> Option<&str> {
    let start = listing.find('[')? + 1;
    let len = listing[start..].find(']')?;
    Some(&listing[start..start + len])
}

/// Interprets the eBPF facts: what is missing, in words a user can act on.
fn ebpf_support(facts: &EbpfFacts) -> EbpfSupport {
    let privileged = ebpf_privileged(facts.caps, facts.euid_root);
    let mut missing = Vec::new();
    if !facts.built {
        missing.push(format!(
            "nono's eBPF programs (this build has none: {})",
            crate::built::HOW_TO_BUILD
        ));
    }
    if !facts.btf {
        missing.push(format!(
            "kernel BTF ({VMLINUX_BTF}; a kernel built with CONFIG_DEBUG_INFO_BTF)"
        ));
    }
    if !privileged {
        missing.push("CAP_BPF and CAP_PERFMON (run as root)".to_owned());
    }
    if let Err(err) = &facts.load {
        let errno = err.raw_os_error();
        let hint = match errno {
            // Without privilege EPERM is explained by the item above.
            Some(libc::EPERM) if !privileged => None,
            Some(libc::EPERM) => Some(
                "a security module, kernel lockdown or a seccomp filter denies bpf()".to_owned(),
            ),
            Some(libc::ENOSYS) => Some(
                "the kernel lacks CONFIG_BPF_SYSCALL or a seccomp filter blocks bpf()".to_owned(),
            ),
            Some(raw) => Some(errno_text(raw)),
            None => Some(err.to_string()),
        };
        if let Some(hint) = hint {
            let errno = errno.map_or_else(|| "an error".to_owned(), errno_text);
            missing.push(format!(
                "a working bpf() system call (loading a test program failed with {errno}: \
                 {hint})"
            ));
        }
    }
    let available = missing.is_empty();
    let mut detail = if available {
        "nono can trace with eBPF here: its programs are built in, kernel BTF is present, \
         this process holds CAP_BPF and CAP_PERFMON, and a test program loaded"
            .to_owned()
    } else {
        format!(
            "eBPF tracing is not possible here; missing: {}",
            missing.join("; ")
        )
    };
    if let Some(value) = facts.unprivileged_bpf_disabled {
        detail.push_str(&format!(
            " (kernel.unprivileged_bpf_disabled = {value}{})",
            if value == 0 {
                ""
            } else {
                ": only privileged processes may use bpf()"
            }
        ));
    }
    if facts.lockdown.as_deref().and_then(lockdown_mode) == Some("confidentiality") {
        detail.push_str(
            "; kernel lockdown is \"confidentiality\", which stops eBPF programs from \
             reading kernel memory",
        );
    }
    EbpfSupport {
        available,
        btf: facts.btf,
        privileged,
        unprivileged_bpf_disabled: facts.unprivileged_bpf_disabled,
        missing,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Reports a machine-dependent test that cannot run here: a `SKIP:` line on stderr, or
    /// a panic when `NONO_TEST_STRICT=1` demands that every kernel feature be present.
    fn skip(why: &str) {
        if std::env::var("NONO_TEST_STRICT").as_deref() == Ok("1") {
            panic!("NONO_TEST_STRICT=1 but this machine cannot run the test: {why}");
        }
        // Written to the real stderr, not with `eprintln!`, which the test harness captures
        // and hides for passing tests: a skip must always be visible.
        let _ = writeln!(std::io::stderr(), "SKIP: {why}");
    }

    const ALL_CAPS: u64 = 0x1ff_ffff_ffff;

    fn facts(btf: bool, caps: Option<u64>, load: io::Result<()>) -> EbpfFacts {
        EbpfFacts {
            btf,
            caps,
            euid_root: false,
            unprivileged_bpf_disabled: Some(2),
            load,
            lockdown: None,
            built: true,
        }
    }

    #[test]
    fn cap_eff_and_tracer_pid_are_parsed_from_status() {
        let status = "Name:\tcat\nTracerPid:\t17\nCapInh:\t0000000000000000\n\
                      CapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_feff_ffff), "CapEff value");
        assert_eq!(parse_tracer_pid(status), Some(17), "TracerPid value");
        assert_eq!(parse_cap_eff("Name:\tx\n"), None, "no CapEff line");
    }

    #[test]
    fn ebpf_privilege_follows_capabilities_not_uid() {
        let bpf_perfmon = (1 << CAP_BPF) | (1 << CAP_PERFMON);
        assert!(
            ebpf_privileged(Some(bpf_perfmon), false),
            "CAP_BPF + CAP_PERFMON"
        );
        assert!(
            ebpf_privileged(Some(1 << CAP_SYS_ADMIN), false),
            "CAP_SYS_ADMIN"
        );
        assert!(!ebpf_privileged(Some(1 << CAP_BPF), false), "CAP_BPF alone");
        assert!(!ebpf_privileged(Some(0), true), "root without capabilities");
        assert!(ebpf_privileged(None, true), "root when caps are unreadable");
        assert!(
            !ebpf_privileged(None, false),
            "non-root when caps are unreadable"
        );
    }

    #[test]
    fn ebpf_missing_names_what_to_fix() {
        let ok = ebpf_support(&facts(true, Some(ALL_CAPS), Ok(())));
        assert!(ok.available && ok.missing.is_empty(), "{ok:?}");

        let no_btf = ebpf_support(&facts(false, Some(ALL_CAPS), Ok(())));
        assert!(!no_btf.available, "{no_btf:?}");
        assert_eq!(no_btf.missing.len(), 1, "{no_btf:?}");
        assert!(
            no_btf.missing[0].contains("/sys/kernel/btf/vmlinux"),
            "{no_btf:?}"
        );

        let eperm = || Err(io::Error::from_raw_os_error(libc::EPERM));
        let unprivileged = ebpf_support(&facts(true, Some(0), eperm()));
        assert_eq!(
            unprivileged.missing,
            ["CAP_BPF and CAP_PERFMON (run as root)"],
            "EPERM without privilege is explained by the capabilities alone"
        );

        let unbuilt = ebpf_support(&EbpfFacts {
            built: false,
            ..facts(true, Some(ALL_CAPS), Ok(()))
        });
        assert!(!unbuilt.available, "{unbuilt:?}");
        assert!(
            unbuilt.missing[0].contains("install-ebpf-toolchain.sh"),
            "says how to get the programs: {unbuilt:?}"
        );

        let denied = ebpf_support(&facts(true, Some(ALL_CAPS), eperm()));
        assert!(!denied.available, "{denied:?}");
        assert!(denied.missing[0].contains("EPERM"), "{denied:?}");

        let no_syscall = ebpf_support(&facts(
            true,
            Some(ALL_CAPS),
            Err(io::Error::from_raw_os_error(libc::ENOSYS)),
        ));
        assert!(
            no_syscall.missing[0].contains("CONFIG_BPF_SYSCALL"),
            "{no_syscall:?}"
        );
    }

    #[test]
    fn lockdown_mode_is_the_bracketed_word() {
        assert_eq!(
            lockdown_mode("none [integrity] confidentiality\n"),
            Some("integrity")
        );
        assert_eq!(
            lockdown_mode("none integrity [confidentiality]"),
            Some("confidentiality")
        );
        assert_eq!(lockdown_mode("garbage"), None, "no selection");
        let mut locked = facts(true, Some(ALL_CAPS), Ok(()));
        locked.lockdown = Some("none integrity [confidentiality]".to_owned());
        let support = ebpf_support(&locked);
        assert!(support.detail.contains("confidentiality"), "{support:?}");
    }

    #[test]
    fn seccomp_trace_is_read_from_actions_avail() {
        assert!(
            actions_include_trace("kill_process errno trace allow\n"),
            "trace listed"
        );
        assert!(
            !actions_include_trace("kill errno allow"),
            "trace not listed"
        );
        assert!(
            !actions_include_trace("kill_process tracer"),
            "whole words only"
        );
    }

    #[test]
    fn ptrace_failures_are_explained() {
        let facts = |yama_scope, seccomp_trace, caps| PtraceFacts {
            yama_scope,
            seccomp_trace,
            caps,
            tracer_pid: Some(0),
        };
        let disabled = ptrace_support(
            Ok(PtraceOutcome::TraceMeFailed(libc::EPERM)),
            &facts(Some(3), true, Some(ALL_CAPS)),
        );
        assert!(!disabled.available, "{disabled:?}");
        assert!(disabled.detail.contains("ptrace_scope 3"), "{disabled:?}");

        let admin_only = ptrace_support(
            Ok(PtraceOutcome::TraceMeFailed(libc::EPERM)),
            &facts(Some(2), true, Some(0)),
        );
        assert!(
            admin_only.detail.contains("CAP_SYS_PTRACE"),
            "{admin_only:?}"
        );
        assert!(admin_only.detail.contains("lacks"), "{admin_only:?}");

        let filtered = ptrace_support(
            Ok(PtraceOutcome::TraceMeFailed(libc::EPERM)),
            &facts(None, true, None),
        );
        assert!(filtered.detail.contains("seccomp filter"), "{filtered:?}");

        let no_options = ptrace_support(
            Ok(PtraceOutcome::Traced {
                options: Err(libc::EINVAL),
            }),
            &facts(Some(1), false, None),
        );
        assert!(
            !no_options.available && no_options.detail.contains("EINVAL"),
            "{no_options:?}"
        );

        let works = ptrace_support(
            Ok(PtraceOutcome::Traced { options: Ok(()) }),
            &facts(Some(1), false, None),
        );
        assert!(works.available && !works.seccomp_trace, "{works:?}");
        assert!(works.detail.contains("every system call"), "{works:?}");

        let debugged = ptrace_support(
            Ok(PtraceOutcome::TraceMeFailed(libc::EPERM)),
            &PtraceFacts {
                tracer_pid: Some(4242),
                ..facts(None, true, None)
            },
        );
        assert!(debugged.detail.contains("TracerPid 4242"), "{debugged:?}");
    }

    #[test]
    fn probe_traces_a_child_on_this_machine() {
        let ptrace = probe().ptrace;
        if !ptrace.available {
            skip(&format!("ptrace: {}", ptrace.detail));
            return;
        }
        if ptrace.yama_scope == Some(3) {
            panic!("ptrace worked although Yama ptrace_scope is 3: {ptrace:?}");
        }
        if !ptrace.seccomp_trace {
            skip(&format!(
                "ptrace without SECCOMP_RET_TRACE: {}",
                ptrace.detail
            ));
        }
    }

    #[test]
    fn probe_loads_ebpf_on_this_machine() {
        let ebpf = probe().ebpf;
        assert_eq!(
            ebpf.available,
            ebpf.missing.is_empty(),
            "available iff nothing is missing: {ebpf:?}"
        );
        assert_eq!(
            ebpf.btf,
            Path::new(VMLINUX_BTF).exists(),
            "btf mirrors {VMLINUX_BTF}"
        );
        if !ebpf.available {
            skip(&format!("eBPF: {}", ebpf.detail));
        }
    }

    #[test]
    fn print_probe_report() {
        // Run with --nocapture to see what this machine supports.
        println!("{:#?}", probe());
    }
}
