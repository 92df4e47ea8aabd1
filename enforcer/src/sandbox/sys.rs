//! Raw system calls for applying a sandbox, safe to call between `fork` and `exec`.
//!
//! Every function here is async-signal-safe: no allocation, no locks, only system
//! calls on memory the caller prepared before forking. Errors are returned as raw
//! errno values for the same reason (an `io::Error` is fine, but formatting it is
//! not). All `unsafe` of the sandbox lives in this module.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// An errno value.
pub type Errno = i32;

fn errno() -> Errno {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn check_int(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// `unshare(2)`.
pub fn unshare(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: unshare takes no pointers.
    check_int(unsafe { libc::unshare(flags) }).map(drop)
}

/// Writes `data` to an existing file (used for /proc/self/{uid_map,gid_map,setgroups}).
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    // SAFETY: path is a valid NUL-terminated string.
    let fd = check_int(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
    // SAFETY: data points to data.len() readable bytes; fd is open.
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let result = if written < 0 {
        Err(errno())
    } else if written as usize != data.len() {
        Err(libc::EIO)
    } else {
        Ok(())
    };
    close(fd);
    result
}

/// Makes every mount below `/` private, so nothing done in this mount namespace
/// propagates back to the parent's.
pub fn make_mounts_private() -> Result<(), Errno> {
    // SAFETY: a NULL source, fstype and data are allowed for a propagation change; the
    // target is a static NUL-terminated string.
    check_int(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`: a detached copy of the mount tree at
/// `path`, keeping its current (read-write) attributes.
pub fn clone_tree(path: &CStr) -> Result<RawFd, Errno> {
    let flags = OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: path is a valid NUL-terminated string; open_tree takes no other pointers.
    check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })
        .map(|fd| fd as RawFd)
}

/// `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` on every mount at and below `path`.
pub fn make_tree_readonly(path: &CStr) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: path is NUL-terminated and attr is a live, correctly sized mount_attr.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `move_mount`: attaches the detached tree `fd` at `path`.
pub fn attach_tree(fd: RawFd, path: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated; fd came from clone_tree.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// Hides `path` under an empty, read-only tmpfs.
pub fn mask_with_tmpfs(path: &CStr) -> Result<(), Errno> {
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: all strings are NUL-terminated.
    check_int(unsafe {
        libc::mount(
            c"nono".as_ptr(),
            path.as_ptr(),
            c"tmpfs".as_ptr(),
            flags,
            c"size=4k,mode=0500".as_ptr().cast(),
        )
    })
    .map(drop)
}

/// `close(2)`, ignoring errors.
pub fn close(fd: RawFd) {
    // SAFETY: closing an fd we own; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring for
/// this process and its children.
pub fn join_new_session_keyring() -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `chdir(2)`.
pub fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const SECBIT_ALL_LOCKED: libc::c_ulong = 0x3f; // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (+ locks)
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 0xc0; // and its lock

/// Gives up every capability: bounding set, ambient set, then effective, permitted
/// and inheritable. Securebits are locked first so a later `execve` of a set-uid-root
/// binary (or running as uid 0) cannot bring capabilities back.
pub fn drop_all_capabilities(last_cap: u32) -> Result<(), Errno> {
    // KEEP_CAPS must stay clear: set NOROOT and NO_SETUID_FIXUP with their locks, and
    // lock KEEP_CAPS off. SECBIT_KEEP_CAPS (bit 4) is not set in the value.
    let bits = (SECBIT_ALL_LOCKED & !0x10) | SECBIT_NO_CAP_AMBIENT_RAISE;
    // Securebits and the bounding set need CAP_SETPCAP. A process that is not uid 0
    // and lacks it (nono given a few file capabilities, say CAP_BPF for tracing) cannot
    // change them, and needs not: clearing its sets below and no_new_privs, which the
    // sandbox always sets, leave an `execve` nothing to gain.
    // SAFETY: getuid and geteuid take no arguments and cannot fail.
    let root = unsafe { libc::geteuid() == 0 || libc::getuid() == 0 };
    // SAFETY: prctl with integer arguments only.
    let secured = check_int(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) });
    match secured {
        Ok(_) => {
            for cap in 0..=last_cap {
                // SAFETY: prctl with integer arguments only.
                let ret =
                    unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if ret < 0 && errno() != libc::EINVAL {
                    return Err(errno());
                }
            }
        }
        Err(libc::EPERM) if !root => {}
        Err(e) => return Err(e),
    }
    // SAFETY: prctl with integer arguments only.
    check_int(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    })?;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are live and laid out as the kernel's v3 structs.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })
    .map(drop)
}

/// `prctl(PR_SET_NO_NEW_PRIVS)`.
pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    check_int(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// `landlock_restrict_self(fd, 0)`.
pub fn landlock_restrict_self(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) }).map(drop)
}

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const libc::c_void,
}

/// Installs a classic-BPF seccomp filter of `len` instructions at `filter`.
///
/// # Safety
/// `filter` must point to `len` valid `sock_filter` instructions.
pub unsafe fn seccomp_set_filter(filter: *const libc::c_void, len: usize) -> Result<(), Errno> {
    let prog = SockFprog {
        len: len as libc::c_ushort,
        filter,
    };
    // SAFETY: prog points at the caller's instructions (caller's contract).
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const SockFprog,
        )
    })
    .map(drop)
}

/// Unblocks every signal and restores default dispositions for those a parent may
/// have ignored (Rust ignores SIGPIPE; ignored dispositions survive `execve`).
pub fn reset_signals() {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it; the other calls take
    // integer arguments or that set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in [
            libc::SIGPIPE,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGCHLD,
            libc::SIGXFSZ,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// `execve(2)`; returns only on failure, with the errno.
///
/// # Safety
/// `argv` and `envp` must be NULL-terminated arrays of pointers to NUL-terminated
/// strings that stay alive for the call.
pub unsafe fn execve(
    path: &CStr,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> Errno {
    // SAFETY: the caller guarantees argv and envp are well-formed.
    unsafe { libc::execve(path.as_ptr(), argv, envp) };
    errno()
}

/// The highest capability number this kernel knows: the last one
/// `PR_CAPBSET_READ` accepts (it refuses unknown numbers with `EINVAL`), which is what
/// `/proc/sys/kernel/cap_last_cap` says, in two system calls instead of five.
pub fn last_capability() -> u32 {
    // SAFETY: prctl with integer arguments only.
    let known = |cap: u32| unsafe {
        libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) >= 0
    };
    // CAP_CHECKPOINT_RESTORE (40) is the last one since Linux 5.9.
    let mut cap = 40;
    if known(cap) {
        while cap < 63 && known(cap + 1) {
            cap += 1;
        }
    } else {
        while cap > 0 && !known(cap) {
            cap -= 1;
        }
    }
    cap
}

/// The process's effective capabilities: those of its thread-group leader, as
/// `/proc/self/status` reports them (the calling thread's may differ in a
/// multi-threaded caller that dropped capabilities in one thread). `capget` for the
/// leader's id answers in one system call where reading the file takes a dozen.
pub fn effective_capabilities() -> u64 {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        // SAFETY: getpid takes no arguments and cannot fail.
        pid: unsafe { libc::getpid() },
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are live and laid out as the kernel's v3 structs; the
    // kernel writes two CapData.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if ret < 0 {
        return effective_capabilities_from_proc();
    }
    u64::from(data[0].effective) | (u64::from(data[1].effective) << 32)
}

/// [`effective_capabilities`] from `/proc/self/status`, should `capget` fail.
fn effective_capabilities_from_proc() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Does this process hold any effective capability (root, or inside a user namespace)?
pub fn has_capabilities() -> bool {
    effective_capabilities() != 0
}

/// Does this capability set allow creating a mount namespace (`CAP_SYS_ADMIN`)?
pub fn allows_mounting(capabilities: u64) -> bool {
    capabilities & (1 << 21) != 0
}

/// Can this process create a mount namespace without a user namespace
/// (`CAP_SYS_ADMIN`)?
pub fn can_mount() -> bool {
    allows_mounting(effective_capabilities())
}

/// What Rust's runtime does to a process before `main`, for a binary that has its
/// own entry point (`#![no_main]`): standard descriptors that are closed are opened on
/// `/dev/null` (so that no file nono opens later becomes its stdout), and SIGPIPE is
/// ignored (a write to a closed pipe then fails with `EPIPE` instead of killing).
/// Aborts when a closed standard descriptor cannot be reopened, as std does.
pub fn init_process() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: fds is a live array of three pollfd; a zero timeout does not block.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0 {
            break;
        }
        match errno() {
            libc::EINTR => continue,
            // poll may be refused (a seccomp filter, RLIMIT_NOFILE of 0): ask each.
            _ => {
                for pfd in &mut fds {
                    // SAFETY: F_GETFD on a possibly closed descriptor only fails.
                    if unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) } < 0 && errno() == libc::EBADF {
                        pfd.revents = libc::POLLNVAL;
                    }
                }
                break;
            }
        }
    }
    for pfd in fds {
        if pfd.revents & libc::POLLNVAL != 0 {
            // The lowest free descriptor is this one: 0, 1 and 2 are taken in order.
            // SAFETY: a static NUL-terminated path; the descriptor is meant to stay open.
            if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) } < 0 {
                std::process::abort();
            }
        }
    }
    // SAFETY: setting a signal to SIG_IGN installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Marks every descriptor from 3 up close-on-exec, so nothing the caller had open
/// (a key file, a socket to an agent) leaks into the command. Async-signal-safe.
pub fn cloexec_from_3() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with integer arguments; CLOEXEC only flags descriptors.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret < 0 {
        // Kernels before 5.11: walk the usual range by hand.
        for fd in 3..1024 {
            // SAFETY: fcntl on a possibly closed descriptor only fails with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;
const LANDLOCK_RULE_NET_PORT: libc::c_int = 2;

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

/// Adds a path-beneath rule for `path` to a Landlock ruleset: open with `O_PATH`, add,
/// close — one fewer system call than the landlock crate, which also `fstat`s to tell
/// files from directories (the planner already knows).
pub fn landlock_add_path_rule(ruleset: RawFd, path: &CStr, access: u64) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    let fd = check_int(unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) })?;
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: fd,
    };
    // SAFETY: attr is a live landlock_path_beneath_attr (packed, as the kernel's).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    let result = check(ret).map(drop);
    close(fd);
    result
}

/// Adds a TCP port rule to a Landlock ruleset.
pub fn landlock_add_port_rule(ruleset: RawFd, port: u16, access: u64) -> Result<(), Errno> {
    let attr = NetPortAttr {
        allowed_access: access,
        port: port.into(),
    };
    // SAFETY: attr is a live landlock_net_port_attr.
    check(unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_NET_PORT,
            &attr as *const NetPortAttr,
            0u32,
        )
    })
    .map(drop)
}

/// Hides a pathname socket (or any non-directory) by bind-mounting `/dev/null` over
/// it: connecting then fails with `ECONNREFUSED`.
pub fn mask_with_dev_null(path: &CStr) -> Result<(), Errno> {
    // SAFETY: all strings are NUL-terminated; a bind mount takes no data.
    check_int(unsafe {
        libc::mount(
            c"/dev/null".as_ptr(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// Hides `path` under an empty, read-only tmpfs with the given mount options
/// (`mode=000` for a denied directory).
pub fn mask_with_tmpfs_opts(path: &CStr, options: &CStr) -> Result<(), Errno> {
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: all strings are NUL-terminated.
    check_int(unsafe {
        libc::mount(
            c"nono".as_ptr(),
            path.as_ptr(),
            c"tmpfs".as_ptr(),
            flags,
            options.as_ptr().cast(),
        )
    })
    .map(drop)
}

/// Bind-mounts `source` (a path, or `/proc/self/fd/N`) over `target`.
pub fn bind_over(source: &CStr, target: &CStr) -> Result<(), Errno> {
    // SAFETY: all strings are NUL-terminated; a bind mount takes no data.
    check_int(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// `mount(2)` of a new filesystem instance.
fn mount_new(
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: &CStr,
) -> Result<(), Errno> {
    // SAFETY: all strings are NUL-terminated.
    check_int(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })
    .map(drop)
}

/// A procfs of the caller's PID namespace on `/proc`, read-only like the mount view.
/// Nothing to do when there is no `/proc` (a mount view whose grants leave it out).
pub fn mount_private_proc() -> Result<(), Errno> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
    match mount_new(c"proc", c"/proc", c"proc", flags, c"") {
        Err(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// An empty tmpfs on `/dev/shm` (sticky and writable by all, as usual, at most a
/// quarter of the memory). Nothing to do when there is no `/dev/shm`.
pub fn mount_private_shm() -> Result<(), Errno> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    match mount_new(c"nono", c"/dev/shm", c"tmpfs", flags, c"mode=1777,size=25%") {
        Err(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// A new devpts instance on `/dev/pts`, and its `ptmx` bound over `/dev/ptmx`, so
/// that terminals opened inside come from it and no other terminal has a name.
pub fn mount_private_pts() -> Result<(), Errno> {
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    match mount_new(
        c"devpts",
        c"/dev/pts",
        c"devpts",
        flags,
        c"newinstance,ptmxmode=0666,mode=620",
    ) {
        Err(libc::ENOENT) => return Ok(()),
        other => other?,
    }
    match bind_over(c"/dev/pts/ptmx", c"/dev/ptmx") {
        Err(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// `clone(2)` like `fork`, into the namespaces in `flags`: 0 in the child, its pid in
/// the parent.
pub fn clone_process(flags: libc::c_int) -> Result<libc::pid_t, Errno> {
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: without CLONE_VM and with a null stack, clone behaves like fork: the
    // child gets a copy of the address space and continues here. No pointers passed.
    check(unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) })
        .map(|pid| pid as libc::pid_t)
}

/// `prctl(PR_SET_DUMPABLE, 0)`: the process's /proc entries become root's, and
/// only a process with `CAP_SYS_PTRACE` may trace it or read them.
pub fn set_not_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Closes every descriptor from 3 up but `keep`. For the PID namespace's init, which
/// never executes anything: it would otherwise hold, for the command's whole life,
/// whatever the caller had open when it forked (close-on-exec or not), such as the
/// pipes whose end another thread of a library caller waits for.
pub fn close_from_3_except(keep: RawFd) {
    let close_range = |first: u32, last: u32| {
        if first > last {
            return;
        }
        // SAFETY: close_range with integer arguments only closes descriptors.
        let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        if ret < 0 {
            // Kernels before 5.9: the usual range by hand.
            for fd in first..last.min(1023) + 1 {
                close(fd as RawFd);
            }
        }
    };
    let keep = keep.max(0) as u32;
    close_range(3, keep.saturating_sub(1));
    close_range(keep + 1, u32::MAX);
}

/// Blocks every signal (the init of a PID namespace waits for them with
/// [`run_as_init`]; the command unblocks them again with [`reset_signals`]).
pub fn block_all_signals() {
    // SAFETY: sigset_t is plain data that sigfillset initializes.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// The init of the command's PID namespace: reaps every process that ends up with it,
/// passes the signals other processes send it to `command`, and when `command` ends
/// writes its raw wait status to `status_fd` and exits with its code (128 + the
/// signal). The kernel then kills whatever is left in the namespace. Every signal
/// must be blocked ([`block_all_signals`]) before `command` was forked. With
/// `report_stops` (a relayed terminal, on which the supervisor follows the command's
/// job control), a stop of `command` is written to `status_fd` too, and a `SIGCONT`
/// goes to its whole process group.
pub fn run_as_init(command: libc::pid_t, status_fd: RawFd, report_stops: bool) -> ! {
    // SAFETY: plain data, system calls on it, and _exit.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&set, &mut info);
            if sig < 0 {
                continue;
            }
            if sig == libc::SIGCHLD {
                let flags = libc::WNOHANG | if report_stops { libc::WUNTRACED } else { 0 };
                loop {
                    let mut status = 0;
                    let pid = libc::waitpid(-1, &mut status, flags);
                    if pid <= 0 {
                        break;
                    }
                    if pid == command && libc::WIFSTOPPED(status) {
                        let bytes = status.to_ne_bytes();
                        libc::write(status_fd, bytes.as_ptr().cast(), bytes.len());
                        continue;
                    }
                    if pid == command {
                        let bytes = status.to_ne_bytes();
                        libc::write(status_fd, bytes.as_ptr().cast(), bytes.len());
                        libc::_exit(if libc::WIFEXITED(status) {
                            libc::WEXITSTATUS(status)
                        } else {
                            128 + libc::WTERMSIG(status)
                        });
                    }
                }
            } else if matches!(
                info.si_code,
                libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
            ) {
                // What the supervisor forwards. Signals from a terminal (keyboard,
                // hangup) reached the command's process group directly.
                if sig == libc::SIGCONT && report_stops {
                    libc::kill(-command, sig);
                }
                libc::kill(command, sig);
            }
        }
    }
}

/// A new pseudo-terminal from `/dev/ptmx` (after [`mount_private_pts`]: in the
/// sandbox's own devpts): (master, slave), both close-on-exec.
pub fn open_private_pty() -> Result<(RawFd, RawFd), Errno> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: a static NUL-terminated path.
    let master = check_int(unsafe { libc::open(c"/dev/ptmx".as_ptr(), flags) })?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int; TIOCGPTPEER takes the open flags as an integer.
    let slave = unsafe {
        if libc::ioctl(master, libc::TIOCSPTLCK, &unlock) < 0 {
            -1
        } else {
            libc::ioctl(master, libc::TIOCGPTPEER, flags)
        }
    };
    if slave < 0 {
        let e = errno();
        close(master);
        return Err(e);
    }
    Ok((master, slave))
}

/// Sends the descriptor `fd` over the unix socket `sock` (`SCM_RIGHTS`, one byte of
/// data).
pub fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), Errno> {
    // Room for one cmsghdr with one int, aligned for cmsghdr.
    let mut space = [0u64; 4];
    let mut byte = [0u8; 1];
    // SAFETY: the iovec, msghdr and control buffer are live stack data of the sizes
    // given; the CMSG macros stay within `space` (CMSG_SPACE(4) ≤ 32 bytes).
    unsafe {
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        check(libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) as libc::c_long).map(drop)
    }
}

/// Receives a descriptor sent with [`send_fd`]; `None` when the peer closed the
/// socket without sending one.
pub fn recv_fd(sock: RawFd) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut space = [0u64; 4];
    let mut byte = [0u8; 1];
    // SAFETY: as in send_fd; the received descriptor is owned by the caller.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || errno() != libc::EINTR {
                break n;
            }
        };
        if n <= 0 {
            return None;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
        Some(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

/// Makes the terminal `fd` the caller's controlling terminal in a new session, and
/// its standard input, output and error where `which` has bits 0, 1, 2 set.
pub fn attach_terminal(fd: RawFd, which: u8) -> Result<(), Errno> {
    // SAFETY: setsid, ioctl with an integer argument, and dup2 take no pointers.
    unsafe {
        check_int(libc::setsid())?;
        check_int(libc::ioctl(fd, libc::TIOCSCTTY, 0))?;
        for target in 0..3 {
            if which & (1 << target) != 0 && fd != target {
                check_int(libc::dup2(fd, target))?;
            }
        }
    }
    Ok(())
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// A new, detached tmpfs (mode 0755, nosuid, nodev): the root of a mount view built
/// from the grants. `fsopen`, `fsconfig`, `fsmount`.
pub fn new_tmpfs() -> Result<RawFd, Errno> {
    // SAFETY: a static NUL-terminated name and integer flags.
    let fs = check(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) })?
        as RawFd;
    let configure = || -> Result<RawFd, Errno> {
        for (key, value) in [(c"mode", c"0755"), (c"size", c"1m")] {
            // SAFETY: fs is an fs context; key and value are NUL-terminated.
            check(unsafe {
                libc::syscall(
                    libc::SYS_fsconfig,
                    fs,
                    FSCONFIG_SET_STRING,
                    key.as_ptr(),
                    value.as_ptr(),
                    0,
                )
            })?;
        }
        // SAFETY: integer arguments and null pointers, as FSCONFIG_CMD_CREATE takes.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs,
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        })?;
        // SAFETY: integer arguments only.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                fs,
                FSMOUNT_CLOEXEC,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            )
        })
        .map(|fd| fd as RawFd)
    };
    let result = configure();
    close(fs);
    result
}

/// `open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)` of `path`, made read-only (every mount
/// of the copy) when `readonly`: a detached copy to attach in the mount view.
pub fn clone_tree_with(path: &CStr, readonly: bool) -> Result<RawFd, Errno> {
    let fd = clone_tree(path)?;
    if readonly {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: fd is a detached mount; the empty path with AT_EMPTY_PATH names it;
        // attr is a live, correctly sized mount_attr.
        let ret = check(unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd,
                c"".as_ptr(),
                AT_RECURSIVE | libc::AT_EMPTY_PATH as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        });
        if let Err(e) = ret {
            close(fd);
            return Err(e);
        }
    }
    Ok(fd)
}

/// `mount_setattr(MOUNT_ATTR_RDONLY)` on the one mount at `path` (not below it).
pub fn make_mount_readonly(path: &CStr) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: path is NUL-terminated and attr is a live, correctly sized mount_attr.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            0u32,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `mount_setattr` clearing `MOUNT_ATTR_RDONLY` on the one mount at `path`.
pub fn make_mount_writable(path: &CStr) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: MOUNT_ATTR_RDONLY,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: path is NUL-terminated and attr is a live, correctly sized mount_attr.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            0u32,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `mount(source, target, MS_BIND | MS_REC)`: the host's tree at `source` (with the
/// mounts below it) also at `target`. One call, where `open_tree` and `move_mount` are
/// two and a detached namespace made and freed.
pub fn bind_tree(source: &CStr, target: &CStr) -> Result<(), Errno> {
    // SAFETY: all strings are NUL-terminated; a bind mount takes no data.
    check_int(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// `fchdir(2)`.
pub fn fchdir(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: integer argument only.
    check_int(unsafe { libc::fchdir(fd) }).map(drop)
}

/// `mkdir(path, 0755)`; an existing entry is fine.
pub fn mkdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated.
    match check_int(unsafe { libc::mkdir(path.as_ptr(), 0o755) }) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates an empty file at `path` (a mount point for a file); an existing one is fine.
/// `mknod(S_IFREG)`: one call, where `open` and `close` are two.
pub fn touch(path: &CStr) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated; a regular file takes no device number.
    match check_int(unsafe { libc::mknod(path.as_ptr(), libc::S_IFREG | 0o644, 0) }) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `symlink(target, path)`; an existing entry is fine.
pub fn symlink(target: &CStr, path: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated.
    match check_int(unsafe { libc::symlink(target.as_ptr(), path.as_ptr()) }) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `pivot_root(".", ".")` followed by a lazy unmount of the old root, which the call
/// stacked on top of the new one: the working directory (a mount point) becomes `/`
/// and nothing of the old root stays reachable.
pub fn pivot_to_cwd() -> Result<(), Errno> {
    // SAFETY: static NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    // SAFETY: a static NUL-terminated string.
    check_int(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) })?;
    chdir(c"/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `capget` for the thread-group leader and `CapEff` in `/proc/self/status` agree.
    #[test]
    fn effective_capabilities_match_proc_status() {
        assert_eq!(effective_capabilities(), effective_capabilities_from_proc());
    }

    /// Probing with `PR_CAPBSET_READ` finds what the kernel publishes.
    #[test]
    fn last_capability_matches_cap_last_cap() {
        let published: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .expect("read cap_last_cap")
            .trim()
            .parse()
            .expect("a number");
        assert_eq!(last_capability(), published);
    }
}
