//! What this machine's kernel can enforce, for `nono setup --check`.
//!
//! [`probe`] asks the running kernel, not a list of kernel versions, so the answer is true
//! for this machine (a backported or locked-down kernel is reported as it is):
//!
//! - **Landlock**: the ABI version from `landlock_create_ruleset(NULL, 0,
//!   LANDLOCK_CREATE_RULESET_VERSION)`, and from it, through a table pinned per ABI
//!   (1 to 7), the filesystem rights, TCP rules and scopes a ruleset can handle. A kernel
//!   newer than the table is reported with the rights of the newest ABI the table knows,
//!   never more. When Landlock is missing, the errno tells why: `ENOSYS` (not built, or
//!   hidden by a seccomp filter) or `EOPNOTSUPP` (built but disabled at boot).
//! - **seccomp**: `prctl(PR_GET_SECCOMP)` (does the kernel have seccomp, and is this
//!   process already filtered), `seccomp(SECCOMP_SET_MODE_FILTER)` with a NULL program (a
//!   kernel with filter mode fails with `EFAULT` before installing anything), and the
//!   return actions from `/proc/sys/kernel/seccomp/actions_avail` (or
//!   `SECCOMP_GET_ACTION_AVAIL` when the file cannot be read).
//! - **User namespaces**: whether an *unprivileged* process can create a user namespace
//!   and a network namespace inside it. The sysctls that commonly forbid it are read to
//!   explain a failure, but the answer comes from really trying.
//!
//! # Why the user-namespace probe forks
//!
//! `unshare(CLONE_NEWUSER)` cannot be undone, fails in a multi-threaded process anyway,
//! and the probe must first drop root (when run as root) so that it tests what an
//! unprivileged process gets. None of that may touch the caller, so it runs in a forked
//! child that only makes async-signal-safe system calls, reports the step it reached
//! and the errno through a pipe, and exits. The caller's credentials and namespaces are
//! never changed; every other probe only asks the kernel and has no effect.
//!
//! # Limitations
//!
//! The report describes the kernel and this process's view of it. A seccomp filter or
//! security module around this process (a container, for instance) can make a feature look
//! absent; the detail strings say so where the errno allows telling.

use serde::Serialize;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
use linux as platform;

/// Platforms other than Linux: none of the Linux mechanisms exist, and the report says so.
#[cfg(not(target_os = "linux"))]
mod other {
    use super::{LandlockSupport, SeccompSupport, SupportReport, UserNsSupport};

    /// Reports Landlock, seccomp and user namespaces as unavailable on this platform.
    pub(super) fn probe() -> SupportReport {
        let os = std::env::consts::OS;
        SupportReport {
            platform: os.to_owned(),
            kernel: String::new(),
            landlock: LandlockSupport {
                available: false,
                abi: None,
                fs_rights: Vec::new(),
                net_tcp: false,
                scope_abstract_unix: false,
                scope_signal: false,
                detail: format!("Landlock is a Linux feature; this is {os}"),
            },
            seccomp: SeccompSupport {
                available: false,
                user_notif: false,
                actions: Vec::new(),
                detail: format!("seccomp is a Linux feature; this is {os}"),
            },
            user_namespaces: UserNsSupport {
                unprivileged: false,
                network_namespaces: false,
                detail: format!("user namespaces are a Linux feature; this is {os}"),
            },
        }
    }
}
#[cfg(not(target_os = "linux"))]
use other as platform;

/// What this machine can enforce.
#[derive(Debug, Clone, Serialize)]
pub struct SupportReport {
    /// The operating system, e.g. `"linux"`.
    pub platform: String,
    /// The kernel release, as `uname -r` prints it.
    pub kernel: String,
    /// Landlock filesystem, network and scope restrictions.
    pub landlock: LandlockSupport,
    /// seccomp system-call filtering.
    pub seccomp: SeccompSupport,
    /// Unprivileged user and network namespaces.
    pub user_namespaces: UserNsSupport,
}

/// What Landlock can restrict on this kernel.
#[derive(Debug, Clone, Serialize)]
pub struct LandlockSupport {
    /// Whether Landlock can be used at all.
    pub available: bool,
    /// The ABI version the kernel reports, `None` when Landlock is unavailable.
    pub abi: Option<u32>,
    /// The filesystem access rights a ruleset can handle at this ABI, by their kernel
    /// names without the `LANDLOCK_ACCESS_FS_` prefix, lower case, in bit order
    /// (`"execute"`, `"write_file"`, ..., `"refer"` from ABI 2, `"truncate"` from ABI 3,
    /// `"ioctl_dev"` from ABI 5).
    pub fs_rights: Vec<String>,
    /// Whether TCP bind and connect can be restricted (ABI 4 and later).
    pub net_tcp: bool,
    /// Whether connecting to abstract unix sockets outside the sandbox can be denied
    /// (ABI 6 and later).
    pub scope_abstract_unix: bool,
    /// Whether sending signals outside the sandbox can be denied (ABI 6 and later).
    pub scope_signal: bool,
    /// One sentence for humans: the ABI and what it offers, or why Landlock is missing.
    pub detail: String,
}

/// What seccomp can filter on this kernel.
#[derive(Debug, Clone, Serialize)]
pub struct SeccompSupport {
    /// Whether seccomp filter mode (BPF system-call filters) is available.
    pub available: bool,
    /// Whether the `user_notif` action is available, which lets a supervisor decide
    /// system calls in user space.
    pub user_notif: bool,
    /// The return actions the kernel supports, by the names of
    /// `/proc/sys/kernel/seccomp/actions_avail` (e.g. `"kill_process"`, `"errno"`,
    /// `"trace"`, `"allow"`).
    pub actions: Vec<String>,
    /// One sentence for humans: what is available, and whether this process is already
    /// filtered, or why seccomp is missing.
    pub detail: String,
}

/// Whether an unprivileged process can create namespaces on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct UserNsSupport {
    /// Whether an unprivileged process can create a user namespace (tested for real in a
    /// forked child that drops root first when the caller is root).
    pub unprivileged: bool,
    /// Whether that process can also create a network namespace inside its new user
    /// namespace. Always false when `unprivileged` is false.
    pub network_namespaces: bool,
    /// One sentence for humans: what was tested, and the sysctl or errno that explains a
    /// failure.
    pub detail: String,
}

/// Probes what this machine can enforce.
///
/// Safe to call from any thread of a multi-threaded process: the one probe with an
/// irreversible effect (creating a user namespace) runs in a short-lived forked child.
/// It takes a few milliseconds and never fails; what could not be determined is reported
/// as unavailable, with the reason in the `detail` fields.
pub fn probe() -> SupportReport {
    platform::probe()
}

/// The kernel's Landlock ABI version, or `None` when Landlock is unavailable. Cheap: one
/// system call, no fork (for `nono run`'s fast path).
pub fn probe_landlock_abi() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        sys::landlock_abi_version().ok().filter(|abi| *abi > 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Do the sysctls allow an unprivileged process to create a user namespace? Cheap (no
/// fork), so it can be wrong in one direction: a security module may still refuse, and
/// then the sandboxed child reports the failing step instead of running unprotected.
/// Asked once per process (`nono run` asks while planning and again while preparing).
pub fn unprivileged_userns_likely() -> bool {
    static LIKELY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LIKELY.get_or_init(unprivileged_userns_likely_now)
}

fn unprivileged_userns_likely_now() -> bool {
    let read =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    read("/proc/sys/kernel/unprivileged_userns_clone") != Some(0)
        && read("/proc/sys/user/max_user_namespaces") != Some(0)
        && read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") != Some(1)
        && std::path::Path::new("/proc/self/ns/user").exists()
}
