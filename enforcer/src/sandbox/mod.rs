//! Applying a plan to a process: Landlock, a read-only mount view, capability drop,
//! and seccomp, irrevocably and inherited by every child.
//!
//! Work is split so that nothing allocates after `fork`: [`prepare`] (in the parent)
//! builds the Landlock ruleset file descriptor, the seccomp programs, the mount plan
//! and every C string; [`Prepared::apply_in_child`] then only makes system calls.
//!
//! Layers, in the order they are applied:
//! 1. **Mount view** (when a user namespace, or root, allows it): a private mount
//!    namespace in which every mount is read-only except bind mounts of the write
//!    grants. Landlock does not mediate `chmod`, `chown`, `utime` or extended
//!    attributes; a read-only mount does (`EROFS`). `$XDG_RUNTIME_DIR` is hidden under
//!    an empty tmpfs unless a rule reaches into it (agent and D-Bus sockets live there,
//!    and Landlock before ABI 9 does not mediate connecting to pathname sockets).
//!    With [`SandboxOptions::masks_only`] (`nono learn`'s safety net) the view only
//!    hides the plan's masks: mounts stay writable.
//! 2. **Capabilities**: all dropped, bounding and ambient sets included, with
//!    securebits locked so that uid 0 regains nothing on `execve`.
//! 3. **no_new_privs**, then **Landlock**: filesystem rights (ABI ≤ 5), TCP rules
//!    when the network is blocked (ABI 4), abstract-socket and signal scoping (ABI 6).
//! 4. **seccomp**: when the network is blocked, no datagram/raw/seqpacket inet
//!    sockets, no non-TCP stream protocols (SCTP, MPTCP), no packet sockets, no
//!    io_uring; when there is no mount view, metadata changes are refused everywhere.
//!    Refusals are `EACCES` — a filtered call never kills the process.

mod seccomp;
mod sockets;
pub mod sys;
mod view;

use view::{fresh_view, host_view, view_roots};

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, Scope,
};
use serde::Serialize;

use crate::capability::{Access as Mode, CapabilitySet, NetworkMode};
use crate::plan::{EntryKind, Plan};
use crate::profile::{IpcMode, IsolationMode};

/// The Landlock ABI whose filesystem rights nono uses (ABI 6–8 add none).
pub const FS_ABI: ABI = ABI::V5;
/// The Landlock ABI of TCP rules.
pub const NET_ABI: ABI = ABI::V4;
/// The Landlock ABI of scoping.
pub const SCOPE_ABI: ABI = ABI::V6;

/// How metadata changes (chmod, chown, utime, xattr) outside the write grants are
/// stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataGuard {
    /// A mount namespace in which only the write grants are writable.
    MountView,
    /// seccomp refuses the calls everywhere (no user namespaces here, or the mount
    /// view was turned off).
    Seccomp,
    /// Not guarded (asked for: `nono learn`'s safety net).
    Off,
}

/// Options for [`prepare`].
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Build a read-only mount view when possible (default true). When false, or when
    /// namespaces are unavailable, metadata changes are refused by seccomp instead.
    pub mount_view: bool,
    /// The process is single-threaded, so it may enter a new user namespace. True for
    /// a freshly forked child; false when a library applies the sandbox to its caller.
    pub single_threaded: bool,
    /// Stop metadata changes outside the write grants (default true). `nono learn`'s
    /// safety net turns it off: it withholds secrets, it does not confine writes.
    pub guard_metadata: bool,
    /// nono's private state directory (`$XDG_STATE_HOME/nono`), where the empty file
    /// bound over denied files lives. Needed only when the plan masks files.
    pub state_dir: Option<PathBuf>,
    /// Isolate the command from other processes (default true), with the mount view:
    /// a PID namespace with its own `/proc` (unless `security.process_info_mode` is
    /// `allow_all`), an IPC namespace and its own `/dev/shm` (unless
    /// `security.ipc_mode` is `full`), and its own `/dev/pts`. `nono learn`'s safety
    /// net turns it off.
    pub isolate_processes: bool,
    /// The process that applies the sandbox executes the command in place (`nono
    /// wrap`, [`Prepared::apply_to_self`]). A PID namespace needs a new process
    /// ([`crate::exec::spawn`] starts the command in one), so it is then reported
    /// missing.
    pub exec_in_place: bool,
    /// The mount view only hides the plan's masks (`nono learn`'s safety net): mounts
    /// keep their writability, and `$XDG_RUNTIME_DIR`, service sockets and the network
    /// stay as they are. Metadata changes are then guarded by seccomp when
    /// `guard_metadata` asks for it (default false: the full view).
    pub masks_only: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            mount_view: true,
            single_threaded: true,
            guard_metadata: true,
            state_dir: None,
            isolate_processes: true,
            exec_in_place: false,
            masks_only: false,
        }
    }
}

/// How fully the sandbox is enforced on this kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Everything asked for is enforced.
    Full,
    /// Some parts are not (see [`EnforcementReport::missing`]).
    Partial,
    /// Landlock is unavailable: nothing about the filesystem is enforced.
    None,
}

/// What will be enforced, for the one-line status and `--require-full`.
#[derive(Debug, Clone, Serialize)]
pub struct EnforcementReport {
    /// The kernel's Landlock ABI.
    pub landlock_abi: Option<u32>,
    /// Full, partial or none.
    pub enforcement: Enforcement,
    /// What is enforced.
    pub layers: Vec<String>,
    /// What was asked for but cannot be enforced here.
    pub missing: Vec<String>,
    /// How metadata changes are stopped.
    pub metadata: MetadataGuard,
    /// Number of Landlock filesystem rules.
    pub rules: usize,
    /// Pathname sockets outside the grants (docker.sock, agents, the D-Bus buses)
    /// stay connectable: there is no mount view to leave them out, and Landlock before
    /// ABI 9 does not mediate connecting. `nono run` refuses to start then unless
    /// asked with `--allow-unhidden-sockets`.
    pub sockets_unhidden: bool,
}

/// What [`EnforcementReport::missing`] says when pathname sockets cannot be hidden.
pub const UNHIDDEN_SOCKETS: &str = "pathname sockets outside the grants (docker.sock, ssh and \
     gpg agents, D-Bus) stay connectable without the mount view (Landlock ABI 9 would \
     mediate them)";

impl fmt::Display for EnforcementReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.enforcement {
            Enforcement::Full => "fully enforced",
            Enforcement::Partial => "partially enforced",
            Enforcement::None => "NOT enforced",
        };
        let abi = self
            .landlock_abi
            .map(|a| format!("Landlock ABI {a}"))
            .unwrap_or_else(|| "no Landlock".into());
        write!(f, "sandbox {what} ({abi}; {})", self.layers.join(", "))?;
        if !self.missing.is_empty() {
            write!(f, "; missing: {}", self.missing.join(", "))?;
        }
        Ok(())
    }
}

/// Preparing the sandbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The network policy needs the proxy.
    #[error(
        "this sandbox allows only some hosts ({hosts}), which needs nono's network proxy; \
         it is not part of this build, so the allowlist cannot be enforced"
    )]
    ProxyRequired {
        /// The first hosts, for the message.
        hosts: String,
    },
    /// A Landlock call failed.
    #[error("cannot build the Landlock ruleset: {0}")]
    Landlock(LandlockError),
    /// The plan hides denied files, which needs nono's state directory (for the empty
    /// file bound over them), and none was given.
    #[error("cannot build the Landlock ruleset: hiding denied files needs nono's state directory")]
    NoStateDir,
    /// A rule path could not be opened.
    #[error("cannot open {} for a Landlock rule: {error}", path.display())]
    OpenRule {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A path contains a NUL byte.
    #[error("path {} contains a NUL byte", path.display())]
    Nul {
        /// The path.
        path: PathBuf,
    },
    /// The plan hides denied paths with mounts, but no mount view can be built.
    #[error(
        "{count} denied paths (e.g. {}) were planned to be hidden by the mount view, which \
         cannot be built here; plan without masking instead",
        first.display()
    )]
    MasksNeedMountView {
        /// The first masked path.
        first: PathBuf,
        /// How many.
        count: usize,
    },
    /// A profile file in use lies inside a write grant and no mount view can keep it
    /// read-only.
    #[error(
        "the profile file {} lies inside a directory the sandbox may write, and without \
         the mount view nothing keeps the command from rewriting it for the next run; \
         move the profile out of the write grants",
        path.display()
    )]
    ProfileWritable {
        /// The profile file.
        path: PathBuf,
    },
    /// seccomp program construction failed.
    #[error("cannot build the seccomp filter: {0}")]
    Seccomp(seccompiler::Error),
    /// Applying failed in the process itself.
    #[error("cannot apply the sandbox ({step}): {}", std::io::Error::from_raw_os_error(*errno))]
    Apply {
        /// The step.
        step: Step,
        /// The errno.
        errno: i32,
    },
}

/// Building the Landlock ruleset failed (the cause is part of the message, so it is
/// not repeated as a source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LandlockError {
    /// The landlock crate refused the ruleset.
    #[error("{0}")]
    Ruleset(landlock::RulesetError),
    /// Adding a TCP port rule failed.
    #[error("{error}")]
    PortRule {
        /// The port.
        port: u16,
        /// The cause.
        error: std::io::Error,
    },
}

/// A step of applying the sandbox (or executing the command) in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum Step {
    /// `unshare(CLONE_NEWUSER | CLONE_NEWNS)`.
    UserNamespace = 1,
    /// Writing `/proc/self/setgroups`.
    Setgroups,
    /// Writing `/proc/self/uid_map`.
    UidMap,
    /// Writing `/proc/self/gid_map`.
    GidMap,
    /// `unshare(CLONE_NEWNS)`.
    MountNamespace,
    /// Making mounts private.
    PrivateMounts,
    /// Cloning a writable mount tree.
    CloneTree,
    /// Making every mount read-only.
    ReadOnly,
    /// Re-attaching a writable mount tree.
    Reattach,
    /// Hiding the runtime directory.
    MaskRuntime,
    /// Entering the working directory.
    Workdir,
    /// Dropping capabilities.
    DropCapabilities,
    /// Setting no_new_privs.
    NoNewPrivs,
    /// `landlock_restrict_self`.
    Landlock,
    /// Installing seccomp filters.
    Seccomp,
    /// `execve`.
    Exec,
    /// Joining a fresh session keyring.
    Keyring,
    /// Mounting the sandbox's own `/proc`.
    PrivateProc,
    /// Mounting the sandbox's own `/dev/shm`, `/dev/pts` and `/dev/ptmx`.
    PrivateDev,
    /// Starting the command under the PID namespace's init, or attaching its terminal.
    Init,
    /// Creating the mount view's empty root (a tmpfs).
    ViewRoot,
    /// Putting a granted tree (or a mount point for it) into the mount view.
    ViewBind,
    /// Making the mount view the root directory (`pivot_root`).
    PivotRoot,
    /// Binding a profile file read-only.
    ProfileReadOnly,
}

impl Step {
    const ALL: [Step; 24] = [
        Step::UserNamespace,
        Step::Setgroups,
        Step::UidMap,
        Step::GidMap,
        Step::MountNamespace,
        Step::PrivateMounts,
        Step::CloneTree,
        Step::ReadOnly,
        Step::Reattach,
        Step::MaskRuntime,
        Step::Workdir,
        Step::DropCapabilities,
        Step::NoNewPrivs,
        Step::Landlock,
        Step::Seccomp,
        Step::Exec,
        Step::Keyring,
        Step::PrivateProc,
        Step::PrivateDev,
        Step::Init,
        Step::ViewRoot,
        Step::ViewBind,
        Step::PivotRoot,
        Step::ProfileReadOnly,
    ];

    /// The step with this discriminant.
    pub fn from_u8(value: u8) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u8 == value)
    }

    /// What the step does, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Step::UserNamespace => "creating a user namespace",
            Step::Setgroups => "denying setgroups in the user namespace",
            Step::UidMap => "writing uid_map",
            Step::GidMap => "writing gid_map",
            Step::MountNamespace => "creating a mount namespace",
            Step::PrivateMounts => "making mounts private",
            Step::CloneTree => "cloning a writable mount",
            Step::ReadOnly => "making mounts read-only",
            Step::Reattach => "re-attaching a writable mount",
            Step::MaskRuntime => "hiding the runtime directory",
            Step::Workdir => "entering the working directory",
            Step::DropCapabilities => "dropping capabilities",
            Step::NoNewPrivs => "setting no_new_privs",
            Step::Landlock => "applying Landlock",
            Step::Seccomp => "applying seccomp",
            Step::Exec => "executing the command",
            Step::Keyring => "joining a fresh session keyring",
            Step::PrivateProc => "mounting the sandbox's own /proc",
            Step::PrivateDev => "mounting the sandbox's own /dev/shm and /dev/pts",
            Step::Init => "starting the command in its PID namespace",
            Step::ViewRoot => "creating the mount view's root",
            Step::ViewBind => "binding a granted path into the mount view",
            Step::PivotRoot => "entering the mount view (pivot_root)",
            Step::ProfileReadOnly => "binding the profile read-only",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Which step failed in the child, with its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildError {
    /// The step.
    pub step: Step,
    /// The errno.
    pub errno: i32,
}

struct MountPlan {
    user_namespace: Option<(Vec<u8>, Vec<u8>)>,
    /// Make every mount read-only except the write grants (false: only hide `hidden`).
    read_only: bool,
    /// Also enter a fresh network namespace (network blocked): only a loopback that
    /// is down, so nothing an inet socket does reaches any other host or process.
    network_namespace: bool,
    /// How the view is made.
    view: View,
    /// Pathname sockets to hide under `/dev/null`.
    sockets: Vec<CString>,
    /// Denied paths to hide (a second layer under Landlock's carving): (path, is a
    /// directory).
    hidden: Vec<(CString, bool)>,
    /// An empty, mode-000 file to bind over denied files (in nono's private state
    /// directory: a bind mount's source must be in the child's namespace, and an open
    /// writable descriptor would keep its mount from turning read-only).
    empty_file: Option<CString>,
    /// Process isolation (see [`SandboxOptions::isolate_processes`]).
    isolation: Isolation,
    /// Landlock rules for the private mounts' roots: the rights the plan gives their
    /// paths. A rule on a path applies to what was there when the ruleset was built;
    /// Landlock skips a mount point itself when it walks up from a mount, so a
    /// filesystem mounted there later needs a rule of its own.
    private_rules: Vec<(CString, u64)>,
}

/// The namespaces and private mounts that isolate the command from other processes.
#[derive(Debug, Clone, Copy, Default)]
struct Isolation {
    /// A PID namespace (entered only by a new process: [`crate::exec::spawn`]) and a
    /// procfs of its own on `/proc`.
    pid: bool,
    /// An IPC namespace and a tmpfs of its own on `/dev/shm`.
    ipc: bool,
    /// A devpts instance of its own on `/dev/pts`, with `/dev/ptmx` bound to its
    /// `ptmx`.
    pts: bool,
}

impl MountPlan {
    /// The sandbox's own `/proc`, `/dev/shm`, `/dev/pts` and `/dev/ptmx`, mounted over
    /// the mount view once it is built (so they are not made read-only with it). The
    /// new procfs shows only the PID namespace's processes; it can be mounted only by
    /// a process inside that namespace (`in_pid_namespace`), and only while a
    /// fully visible `/proc` is mounted (no mask may cover any part of it).
    fn mount_private_system(
        &self,
        in_pid_namespace: bool,
        ruleset: Option<RawFd>,
    ) -> Result<(), ChildError> {
        let fail = |step: Step| move |errno| ChildError { step, errno };
        let proc = self.isolation.pid && in_pid_namespace;
        if proc {
            sys::mount_private_proc().map_err(fail(Step::PrivateProc))?;
        }
        if self.isolation.ipc {
            sys::mount_private_shm().map_err(fail(Step::PrivateDev))?;
        }
        if self.isolation.pts {
            sys::mount_private_pts().map_err(fail(Step::PrivateDev))?;
        }
        if let Some(ruleset) = ruleset {
            for (path, rights) in &self.private_rules {
                if !proc && path.as_bytes() == b"/proc" {
                    continue;
                }
                match sys::landlock_add_path_rule(ruleset, path, *rights) {
                    Ok(()) | Err(libc::ENOENT) => {}
                    Err(errno) => return Err(fail(Step::PrivateDev)(errno)),
                }
            }
        }
        Ok(())
    }

    /// Every namespace the sandbox enters, in one place.
    fn namespaces(&self) -> libc::c_int {
        let mut flags = libc::CLONE_NEWNS;
        if self.user_namespace.is_some() {
            flags |= libc::CLONE_NEWUSER;
        }
        if self.network_namespace {
            flags |= libc::CLONE_NEWNET;
        }
        if self.isolation.ipc {
            flags |= libc::CLONE_NEWIPC;
        }
        if self.isolation.pid {
            flags |= libc::CLONE_NEWPID;
        }
        flags
    }
}

/// How the mount view is made.
enum View {
    /// From the grants: an empty tmpfs becomes `/` and holds only the granted trees
    /// (bind mounts, read-only except the write grants), the symbolic links on the way
    /// to them and empty mount points. Paths here are relative to the new root.
    Fresh {
        ops: Vec<ViewOp>,
        /// Profile files inside a writable tree, bound read-only over themselves
        /// (absolute source, relative target).
        profile_files: Vec<(CString, CString)>,
        /// Carved directories (the view's own, holding only the granted entries) with
        /// the rights of the grants that carved them: one Landlock rule each, added
        /// once the view is the root, instead of one per granted entry. Nothing denied
        /// is below them in the view, so `ls /etc` works too.
        dir_rules: Vec<(CString, u64)>,
    },
    /// The host's tree, every mount read-only except the write grants (a grant of `/`
    /// itself, which leaves nothing to build from). Absolute paths.
    Host {
        writable: Vec<CString>,
        fds: Vec<RawFd>,
        masks: Vec<CString>,
    },
}

/// One step of building a fresh view (relative paths, in order).
enum ViewOp {
    /// An empty directory (on the way to a grant, or the working directory).
    Dir(CString),
    /// An empty file, a mount point for a file grant.
    File(CString),
    /// A symbolic link as on the host (`/lib64 -> usr/lib64`).
    Link { target: CString, path: CString },
    /// A copy of the host's tree at `source` attached at `target`.
    Bind {
        source: CString,
        target: CString,
        readonly: bool,
    },
}

/// A sandbox ready to apply.
pub struct Prepared {
    landlock: Option<OwnedFd>,
    seccomp: Vec<seccompiler::BpfProgram>,
    mounts: Option<MountPlan>,
    drop_capabilities: bool,
    last_cap: u32,
    workdir: CString,
    /// The process applying the sandbox was created in its namespaces
    /// ([`Prepared::clone_namespaces`]); otherwise it unshares them itself.
    cloned: bool,
    /// What will be enforced.
    pub report: EnforcementReport,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

fn cstring(path: &Path) -> Result<CString, SandboxError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SandboxError::Nul {
        path: path.to_path_buf(),
    })
}

fn landlock_err(e: landlock::RulesetError) -> SandboxError {
    SandboxError::Landlock(LandlockError::Ruleset(e))
}

fn port_rule_err(port: u16) -> impl FnOnce(i32) -> SandboxError {
    move |errno| {
        SandboxError::Landlock(LandlockError::PortRule {
            port,
            error: std::io::Error::from_raw_os_error(errno),
        })
    }
}

/// The Landlock rights for an access mode on a directory or a file.
pub fn landlock_rights(access: Mode, kind: EntryKind) -> landlock::BitFlags<AccessFs> {
    let rights = match access {
        Mode::Read => AccessFs::from_read(FS_ABI),
        Mode::Write => AccessFs::from_write(FS_ABI),
        Mode::ReadWrite => AccessFs::from_all(FS_ABI),
    };
    match kind {
        EntryKind::Dir => rights,
        EntryKind::File => rights & AccessFs::from_file(FS_ABI),
    }
}

fn kernel_abi() -> Option<u32> {
    crate::support::probe_landlock_abi()
}

/// Prepares the sandbox for `plan` (from `caps`), to run with `workdir` as its
/// working directory.
pub fn prepare(
    caps: &CapabilitySet,
    plan: &Plan,
    workdir: &Path,
    options: &SandboxOptions,
) -> Result<Prepared, SandboxError> {
    if let NetworkMode::Proxy { hosts } = &caps.network.mode {
        let mut names: Vec<&str> = hosts.iter().take(3).map(|h| h.pattern.as_str()).collect();
        if hosts.len() > 3 {
            names.push("…");
        }
        if hosts.is_empty() {
            names.push("none");
        }
        return Err(SandboxError::ProxyRequired {
            hosts: names.join(", "),
        });
    }
    let abi = kernel_abi();
    let abi_num = abi.unwrap_or(0);
    let mut layers = Vec::new();
    let mut missing = Vec::new();
    let network_blocked = matches!(caps.network.mode, NetworkMode::Blocked { .. });
    let scope_signals = caps.security.signal_mode != Some(IsolationMode::AllowAll);
    let isolation = Isolation {
        pid: options.isolate_processes
            && caps.security.process_info_mode != Some(IsolationMode::AllowAll),
        ipc: options.isolate_processes && caps.security.ipc_mode != Some(IpcMode::Full),
        pts: options.isolate_processes,
    };

    // Will there be a mount view, and one built from the grants? Decided first: in such
    // a view a carved directory is the view's own, holding only the granted entries,
    // so one rule on it (added in the child, once it is the root) replaces the rules
    // on each entry.
    // A mount namespace of our own needs CAP_SYS_ADMIN (root); otherwise a user
    // namespace provides it (also for a root that lacks CAP_SYS_ADMIN).
    // Read once: each read of /proc/self/status is a dozen system calls.
    let capabilities = sys::effective_capabilities();
    let privileged = sys::allows_mounting(capabilities);
    // Asked only when needed: the sysctls are three more /proc reads.
    let userns_ok = || options.single_threaded && crate::support::unprivileged_userns_likely();
    let view_possible = options.mount_view && (privileged || userns_ok());
    let (roots, carved) = if view_possible {
        view_roots(plan)
    } else {
        (Vec::new(), Vec::new())
    };
    // The learn safety net's view only hides (see SandboxOptions::masks_only).
    let fresh =
        view_possible && !options.masks_only && !roots.iter().any(|r| r.path == Path::new("/"));
    // Carved directories of the fresh view → the rights of the grants that carved them.
    let mut view_dirs: std::collections::HashMap<&Path, landlock::BitFlags<AccessFs>> =
        Default::default();
    if fresh {
        let shown: std::collections::HashSet<&Path> =
            carved.iter().map(|(c, _)| c.as_path()).collect();
        for rule in &plan.rules {
            if let Some(carve) = &rule.carved
                && shown.contains(carve.granted.as_path())
            {
                *view_dirs
                    .entry(carve.granted.as_path())
                    .or_insert_with(landlock::BitFlags::empty) |=
                    landlock_rights(rule.access, EntryKind::Dir);
            }
        }
    }
    let mut dir_rules = Vec::new();
    if abi.is_some() {
        let supported = AccessFs::from_all(ABI::from(abi_num as i32));
        for (dir, rights) in &view_dirs {
            dir_rules.push((cstring(dir)?, (*rights & supported).bits()));
        }
        dir_rules.sort();
    }
    let mut installed = dir_rules.len();

    // Landlock.
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(FS_ABI))
        .map_err(landlock_err)?;
    if network_blocked {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(NET_ABI))
            .map_err(landlock_err)?;
    }
    let scopes = if scope_signals {
        Scope::from_all(SCOPE_ABI)
    } else {
        Scope::AbstractUnixSocket.into()
    };
    ruleset = ruleset.scope(scopes).map_err(landlock_err)?;
    let created = ruleset.create().map_err(landlock_err)?;
    let landlock: Option<OwnedFd> = created.into();
    if let Some(ruleset) = &landlock {
        // Rights the running kernel does not know would make add_rule fail: mask them
        // (the crate did the same for the ruleset's handled rights).
        let supported = AccessFs::from_all(ABI::from(abi_num as i32));
        for rule in &plan.rules {
            if rule
                .carved
                .as_ref()
                .is_some_and(|c| view_dirs.contains_key(c.granted.as_path()))
            {
                continue;
            }
            installed += 1;
            let rights = if rule.list_only {
                AccessFs::ReadDir.into()
            } else {
                landlock_rights(rule.access, rule.kind)
            } & supported;
            let path = cstring(&rule.path)?;
            match sys::landlock_add_path_rule(ruleset.as_raw_fd(), &path, rights.bits()) {
                Ok(()) => {}
                // An entry met while carving that vanished since (a temporary file of
                // another program) needs no rule; a path the user granted must exist.
                Err(libc::ENOENT) if rule.carved.is_some() => {}
                Err(errno) => {
                    return Err(SandboxError::OpenRule {
                        path: rule.path.clone(),
                        error: std::io::Error::from_raw_os_error(errno),
                    });
                }
            }
        }
        if network_blocked && abi_num >= 4 {
            let bind = AccessNet::BindTcp as u64;
            let connect = AccessNet::ConnectTcp as u64;
            for (port, _) in &caps.network.listen_ports {
                sys::landlock_add_port_rule(ruleset.as_raw_fd(), *port, bind)
                    .map_err(port_rule_err(*port))?;
            }
            for (port, _) in &caps.network.open_ports {
                sys::landlock_add_port_rule(ruleset.as_raw_fd(), *port, bind | connect)
                    .map_err(port_rule_err(*port))?;
            }
        }
    }
    let enforcement = if abi.is_none() || landlock.is_none() {
        missing.push("Landlock (filesystem rules)".to_string());
        Enforcement::None
    } else {
        layers.push(format!("{installed} filesystem rules"));
        if abi_num < 2 {
            missing.push("cross-directory rename/link (Landlock ABI 2)".into());
        }
        if abi_num < 3 {
            missing.push("truncate (Landlock ABI 3)".into());
        }
        if abi_num < 5 {
            missing.push("device ioctl (Landlock ABI 5)".into());
        }
        if network_blocked {
            if abi_num >= 4 {
                layers.push("TCP blocked".into())
            } else {
                missing.push("TCP rules (Landlock ABI 4)".into())
            }
        }
        if abi_num >= 6 {
            layers.push(
                if scope_signals {
                    "signals and abstract sockets scoped"
                } else {
                    "abstract sockets scoped"
                }
                .into(),
            );
        } else {
            missing.push("signal and abstract-socket scoping (Landlock ABI 6)".into());
        }
        if missing.is_empty() {
            Enforcement::Full
        } else {
            Enforcement::Partial
        }
    };

    // Mount view or seccomp for metadata.
    let mut scan_incomplete = false;
    let mounts = if view_possible {
        let user_namespace = (!privileged).then(|| {
            // SAFETY-free: getuid/getgid cannot fail.
            let uid = nix::unistd::getuid().as_raw();
            let gid = nix::unistd::getgid().as_raw();
            (
                format!("{uid} {uid} 1\n").into_bytes(),
                format!("{gid} {gid} 1\n").into_bytes(),
            )
        });
        let network_namespace = network_blocked
            && caps.network.listen_ports.is_empty()
            && caps.network.open_ports.is_empty();
        let mount_plan = if !fresh {
            host_view(plan, options, &mut scan_incomplete)?
        } else {
            fresh_view(
                caps,
                plan,
                (&roots, &carved),
                workdir,
                options,
                &mut scan_incomplete,
                std::mem::take(&mut dir_rules),
            )?
        };
        Some(MountPlan {
            user_namespace,
            network_namespace: network_namespace && !options.masks_only,
            read_only: !options.masks_only,
            isolation: Isolation {
                pid: isolation.pid && !options.exec_in_place,
                ..isolation
            },
            private_rules: {
                let supported = AccessFs::from_all(ABI::from(abi_num as i32));
                let mut targets = Vec::new();
                if isolation.pid && !options.exec_in_place {
                    targets.push("/proc");
                }
                if isolation.ipc {
                    targets.push("/dev/shm");
                }
                if isolation.pts {
                    targets.extend(["/dev/pts", "/dev/ptmx"]);
                }
                let mut rules = Vec::new();
                for target in targets {
                    let rights = plan
                        .rules
                        .iter()
                        .filter(|r| r.path == Path::new(target))
                        .fold(landlock::BitFlags::<AccessFs>::empty(), |all, r| {
                            all | landlock_rights(r.access, r.kind)
                        })
                        & supported;
                    if !rights.is_empty() {
                        rules.push((cstring(Path::new(target))?, rights.bits()));
                    }
                }
                rules
            },
            ..mount_plan
        })
    } else {
        None
    };
    if mounts.is_none() && options.guard_metadata {
        // Without a mount view, nothing but Landlock keeps the profile files: refuse
        // rather than let the command rewrite what its next run will trust.
        let writable = |path: &Path| {
            plan.rules
                .iter()
                .any(|r| r.access != Mode::Read && crate::plan::is_within(path, &r.path))
        };
        if let Some(file) = caps
            .profile_files
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .find(|f| writable(f))
        {
            return Err(SandboxError::ProfileWritable { path: file });
        }
    }
    if let Some(m) = &mounts
        && !m.hidden.is_empty()
    {
        layers.push(format!("{} denied paths hidden", m.hidden.len()));
    }
    let metadata = if mounts.is_some() && !options.masks_only {
        layers.push("read-only mount view".into());
        MetadataGuard::MountView
    } else if options.guard_metadata {
        layers.push("metadata changes refused (seccomp)".into());
        MetadataGuard::Seccomp
    } else {
        MetadataGuard::Off
    };
    report_isolation(
        isolation,
        mounts.as_ref().map(|m| m.isolation),
        options.exec_in_place,
        &mut layers,
        &mut missing,
    );
    let drop_capabilities =
        capabilities != 0 || mounts.as_ref().is_some_and(|m| m.user_namespace.is_some());
    if drop_capabilities {
        layers.push("capabilities dropped".into());
    }

    // seccomp.
    let seccomp_err = SandboxError::Seccomp;
    let keyring = caps.security.allow_keyring == Some(true);
    let mut programs = vec![seccomp::base_filter(keyring).map_err(seccomp_err)?];
    layers.push(if keyring {
        "TIOCSTI and io_uring refused".into()
    } else {
        "TIOCSTI, io_uring and keyrings refused".into()
    });
    if network_blocked {
        programs.push(seccomp::network_filter().map_err(seccomp_err)?);
        layers.push("UDP/raw/MPTCP/SCTP/TCP Fast Open refused".into());
        let netns = mounts.as_ref().is_some_and(|m| m.network_namespace);
        let ports = !caps.network.listen_ports.is_empty() || !caps.network.open_ports.is_empty();
        if netns {
            layers.push("empty network namespace".into());
        } else if ports {
            missing.push(
                "listen() on an unbound socket (listen_port/open_port need the host network)"
                    .into(),
            );
        } else {
            programs.push(seccomp::listen_filter().map_err(seccomp_err)?);
            layers.push("listen() refused (no network namespace)".into());
        }
    }
    if let Some(m) = &mounts
        && !m.sockets.is_empty()
    {
        layers.push(format!("{} service sockets hidden", m.sockets.len()));
    }
    if scan_incomplete {
        missing.push(format!(
            "the scan for service sockets stopped after {} entries; sockets past it stay reachable",
            sockets::SCAN_LIMIT
        ));
    }
    let sockets_unhidden = mounts.is_none() && !options.masks_only;
    if sockets_unhidden {
        missing.push(UNHIDDEN_SOCKETS.into());
    }
    if metadata == MetadataGuard::Seccomp {
        programs.push(seccomp::metadata_filter().map_err(seccomp_err)?);
    }
    let enforcement = match enforcement {
        Enforcement::Full if !missing.is_empty() => Enforcement::Partial,
        other => other,
    };

    Ok(Prepared {
        landlock,
        seccomp: programs,
        mounts,
        drop_capabilities,
        last_cap: sys::last_capability(),
        workdir: cstring(workdir)?,
        cloned: false,
        report: EnforcementReport {
            landlock_abi: abi,
            enforcement,
            layers,
            missing,
            metadata,
            rules: installed,
            sockets_unhidden,
        },
    })
}

/// What process isolation adds to the report: `wanted` is what the options and the
/// profile ask for, `planned` what the mount plan will do (`None`: no mount view).
fn report_isolation(
    wanted: Isolation,
    planned: Option<Isolation>,
    exec_in_place: bool,
    layers: &mut Vec<String>,
    missing: &mut Vec<String>,
) {
    let planned = planned.unwrap_or_default();
    if planned.pid {
        layers.push("PID namespace with its own /proc".into());
    } else if wanted.pid {
        missing.push(if exec_in_place {
            "PID namespace (the command is executed in place: other processes stay visible in /proc, and its background processes outlive it)".into()
        } else {
            "PID namespace (needs the mount view: other processes stay visible in /proc, and the command's background processes outlive it)".into()
        });
    }
    if planned.ipc {
        layers.push("IPC namespace and its own /dev/shm".into());
    } else if wanted.ipc {
        missing.push(
            "IPC namespace (needs the mount view: System V IPC and /dev/shm are shared)".into(),
        );
    }
    if planned.pts {
        layers.push("its own /dev/pts".into());
    } else if wanted.pts {
        missing
            .push("its own /dev/pts (needs the mount view: other terminals stay reachable)".into());
    }
}

/// The empty, mode-000 file bound over denied files: `<state_dir>/empty-mask`, made
/// (or checked) here. Unreadable for a process without capabilities, even its owner.
fn empty_mask_file(state_dir: Option<&Path>) -> Result<PathBuf, SandboxError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    let dir = state_dir.ok_or(SandboxError::NoStateDir)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SandboxError::OpenRule {
            path: path.clone(),
            error,
        }
    };
    let path = dir.join("empty-mask");
    let existing = std::fs::symlink_metadata(&path);
    // The directory is made only when the file is missing (two system calls fewer on
    // every start).
    if existing.is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    match existing {
        Ok(meta)
            if meta.is_file()
                && meta.len() == 0
                && meta.mode() & 0o7777 == 0
                && meta.uid() == nix::unistd::geteuid().as_raw() => {}
        Ok(_) => {
            std::fs::remove_file(&path).map_err(io(&path))?;
            return empty_mask_file(Some(dir));
        }
        Err(_) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o000)
                .open(&path)
                .map_err(io(&path))?;
            file.set_permissions(std::fs::Permissions::from_mode(0o000))
                .map_err(io(&path))?;
        }
    }
    Ok(path)
}

/// Will [`prepare`] be able to build a mount view here (root with `CAP_SYS_ADMIN`, or
/// unprivileged user namespaces)? Plans that hide denied paths by mounts
/// ([`crate::plan::PlanOptions::mask_system_denies`]) need it.
pub fn mount_view_possible(options: &SandboxOptions) -> bool {
    options.mount_view
        && (sys::can_mount()
            || (options.single_threaded && crate::support::unprivileged_userns_likely()))
}

impl Prepared {
    /// Applies the sandbox to the calling process. Async-signal-safe: meant for the
    /// child between `fork` and `exec` (it allocates nothing), but also correct in a
    /// single-threaded process that wants to sandbox itself.
    pub fn apply_in_child(&mut self) -> Result<(), ChildError> {
        let fail = |step: Step| move |errno| ChildError { step, errno };
        if let Some(mounts) = &mut self.mounts {
            if !self.cloned {
                // Only a new process enters a PID namespace (see `clone_namespaces`).
                let step = if mounts.user_namespace.is_some() {
                    Step::UserNamespace
                } else {
                    Step::MountNamespace
                };
                sys::unshare(mounts.namespaces() & !libc::CLONE_NEWPID).map_err(fail(step))?;
            }
            if let Some((uid_map, gid_map)) = &mounts.user_namespace {
                sys::write_file(c"/proc/self/setgroups", b"deny").map_err(fail(Step::Setgroups))?;
                sys::write_file(c"/proc/self/uid_map", uid_map).map_err(fail(Step::UidMap))?;
                sys::write_file(c"/proc/self/gid_map", gid_map).map_err(fail(Step::GidMap))?;
            }
            sys::make_mounts_private().map_err(fail(Step::PrivateMounts))?;
            match &mut mounts.view {
                View::Fresh {
                    ops, profile_files, ..
                } => {
                    // The new root, attached on top of `/` (a mount point is needed for
                    // pivot_root) and entered by descriptor: every path below is
                    // relative to it, while absolute paths (the bind sources) still
                    // resolve in the host's tree.
                    let root = sys::new_tmpfs().map_err(fail(Step::ViewRoot))?;
                    let entered = sys::attach_tree(root, c"/").and_then(|()| sys::fchdir(root));
                    sys::close(root);
                    entered.map_err(fail(Step::ViewRoot))?;
                    // Two passes: everything but the writable trees, then every mount
                    // made read-only at once (one call instead of one per tree), the
                    // root's own mount writable again for the mount points of later
                    // layers, and then the writable trees attached.
                    for writable_pass in [false, true] {
                        if writable_pass {
                            sys::make_tree_readonly(c".").map_err(fail(Step::ReadOnly))?;
                            sys::make_mount_writable(c".").map_err(fail(Step::ReadOnly))?;
                        }
                        for op in ops.iter() {
                            let result = match op {
                                ViewOp::Bind {
                                    source,
                                    target,
                                    readonly,
                                } if *readonly != writable_pass => sys::bind_tree(source, target),
                                _ if writable_pass => continue,
                                ViewOp::Dir(path) => sys::mkdir(path),
                                ViewOp::File(path) => sys::touch(path),
                                ViewOp::Link { target, path } => sys::symlink(target, path),
                                ViewOp::Bind { .. } => continue,
                            };
                            // A granted path that vanished since planning stays an empty
                            // mount point: the view only ever holds less.
                            match result {
                                Ok(()) | Err(libc::ENOENT) => {}
                                Err(errno) => {
                                    return Err(ChildError {
                                        step: Step::ViewBind,
                                        errno,
                                    });
                                }
                            }
                        }
                    }
                    for (source, target) in profile_files.iter() {
                        sys::clone_tree_with(source, true)
                            .and_then(|fd| {
                                let attached = sys::attach_tree(fd, target);
                                sys::close(fd);
                                attached
                            })
                            .map_err(fail(Step::ProfileReadOnly))?;
                    }
                }
                View::Host {
                    writable,
                    fds,
                    masks,
                } => {
                    if mounts.read_only {
                        for (slot, path) in fds.iter_mut().zip(writable.iter()) {
                            *slot = sys::clone_tree(path).map_err(fail(Step::CloneTree))?;
                        }
                        sys::make_tree_readonly(c"/").map_err(fail(Step::ReadOnly))?;
                        for (fd, path) in fds.iter().zip(writable.iter()) {
                            sys::attach_tree(*fd, path).map_err(fail(Step::Reattach))?;
                            sys::close(*fd);
                        }
                    }
                    for path in masks.iter() {
                        sys::mask_with_tmpfs(path).map_err(fail(Step::MaskRuntime))?;
                    }
                }
            }
            // Files first: the empty file bound over them lives in nono's state
            // directory, which may itself be a denied directory hidden below.
            let files = mounts.hidden.iter().filter(|(_, dir)| !*dir);
            let dirs = mounts.hidden.iter().filter(|(_, dir)| *dir);
            for (path, dir) in files.chain(dirs) {
                let result = match (dir, &mounts.empty_file) {
                    (true, _) => sys::mask_with_tmpfs_opts(path, c"size=4k,mode=000"),
                    // Read-only, so the command cannot chmod the (own) empty file.
                    (false, Some(empty)) => sys::clone_tree_with(empty, true).and_then(|fd| {
                        let attached = sys::attach_tree(fd, path);
                        sys::close(fd);
                        attached
                    }),
                    (false, None) => Err(libc::EINVAL),
                };
                // A denied path that vanished since planning is hidden anyway.
                match result {
                    Ok(()) | Err(libc::ENOENT) => {}
                    Err(errno) => {
                        return Err(ChildError {
                            step: Step::MaskRuntime,
                            errno,
                        });
                    }
                }
            }
            for path in &mounts.sockets {
                // A socket may vanish between the scan and now; that hides it too.
                match sys::mask_with_dev_null(path) {
                    Ok(()) | Err(libc::ENOENT) => {}
                    Err(errno) => {
                        return Err(ChildError {
                            step: Step::MaskRuntime,
                            errno,
                        });
                    }
                }
            }
            let ruleset = self.landlock.as_ref().map(|fd| fd.as_raw_fd());
            if let View::Fresh { dir_rules, .. } = &mounts.view {
                sys::pivot_to_cwd().map_err(fail(Step::PivotRoot))?;
                if let Some(ruleset) = ruleset {
                    for (dir, rights) in dir_rules {
                        sys::landlock_add_path_rule(ruleset, dir, *rights)
                            .map_err(fail(Step::Landlock))?;
                    }
                }
                // The private /proc, /dev/shm and devpts go on top of the view: it is
                // the root, its trees are attached, and its own root is still writable
                // for their mount points.
                mounts.mount_private_system(self.cloned, ruleset)?;
                sys::make_mount_readonly(c"/").map_err(fail(Step::PivotRoot))?;
            } else {
                mounts.mount_private_system(self.cloned, ruleset)?;
            }
        }
        // Re-enter the working directory so it refers to the new mounts.
        sys::chdir(&self.workdir).map_err(fail(Step::Workdir))?;
        if self.drop_capabilities {
            sys::drop_all_capabilities(self.last_cap).map_err(fail(Step::DropCapabilities))?;
        }
        // A session keyring of its own: the caller's (and its keys) are out of reach
        // even where the profile allows the key calls. A kernel without keyrings has
        // nothing to hide.
        match sys::join_new_session_keyring() {
            Ok(()) | Err(libc::ENOSYS) => {}
            Err(errno) => {
                return Err(ChildError {
                    step: Step::Keyring,
                    errno,
                });
            }
        }
        sys::set_no_new_privs().map_err(fail(Step::NoNewPrivs))?;
        if let Some(fd) = &self.landlock {
            sys::landlock_restrict_self(fd.as_raw_fd()).map_err(fail(Step::Landlock))?;
        }
        for program in &self.seccomp {
            // SAFETY: the program is a complete, valid BPF program built by seccompiler.
            unsafe { sys::seccomp_set_filter(program.as_ptr().cast(), program.len()) }
                .map_err(fail(Step::Seccomp))?;
        }
        Ok(())
    }

    /// Applies the sandbox to the calling process and reports what was enforced.
    /// Irrevocable.
    pub fn apply_to_self(mut self) -> Result<EnforcementReport, SandboxError> {
        self.apply_in_child().map_err(|e| SandboxError::Apply {
            step: e.step,
            errno: e.errno,
        })?;
        // A PID namespace needs a new process: prepared without `exec_in_place`, the
        // report promised one that this process cannot have.
        if let Some(m) = &self.mounts
            && m.isolation.pid
        {
            let mut report = self.report;
            report.layers.retain(|l| !l.starts_with("PID namespace"));
            report
                .missing
                .push("PID namespace (the sandbox was applied to the calling process)".into());
            if report.enforcement == Enforcement::Full {
                report.enforcement = Enforcement::Partial;
            }
            return Ok(report);
        }
        Ok(self.report)
    }

    /// For a spawner that creates the process applying the sandbox with `clone(2)`
    /// (as [`crate::exec::spawn`] does): the namespaces to create it in, 0 for none.
    /// [`Prepared::apply_in_child`] then does not unshare them itself.
    pub fn clone_namespaces(&mut self) -> libc::c_int {
        self.cloned = true;
        self.mounts.as_ref().map_or(0, MountPlan::namespaces)
    }

    /// Does the command get a PID namespace of its own (after
    /// [`Prepared::clone_namespaces`])? The process that applied the sandbox is then
    /// the namespace's init, and must fork the command and reap
    /// ([`sys::run_as_init`]): when it exits, the kernel kills everything left inside.
    pub fn pid_namespace(&self) -> bool {
        self.cloned && self.mounts.as_ref().is_some_and(|m| m.isolation.pid)
    }
}
