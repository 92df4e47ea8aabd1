//! The raw system calls behind the support probes, each behind a narrow safe function.
//!
//! Everything here either only *asks* the kernel something (no lasting effect on the
//! caller) or runs in a forked child that exits right after. The user-namespace probe is
//! the only one that changes process state, and it does so only in that child.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use libc::{c_int, c_long, c_uint, c_ulong, c_void, pid_t};

/// `LANDLOCK_CREATE_RULESET_VERSION` from `include/uapi/linux/landlock.h`: with a NULL
/// attribute pointer and size 0, `landlock_create_ruleset` returns the highest ABI version
/// the kernel supports instead of creating a ruleset.
const LANDLOCK_CREATE_RULESET_VERSION: c_uint = 1 << 0;

/// An unused argument of the variadic `prctl`, which the kernel reads as `unsigned long`
/// (passing a plain `0`, an `int`, would leave the upper half of the register undefined).
const NO_ARG: c_ulong = 0;

/// `_LINUX_CAPABILITY_VERSION_3` from `include/uapi/linux/capability.h` (64-bit sets, two
/// `CapData` words).
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The uid and gid of `nobody` on practically every distribution; the user-namespace probe
/// becomes this user when the caller is root, so that it tests what an unprivileged
/// process can do.
const NOBODY: u32 = 65534;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The release string of the running kernel, as `uname -r` prints it.
pub(super) fn kernel_release() -> io::Result<String> {
    // SAFETY: `utsname` is a plain C struct of byte arrays, for which all-zero is a valid
    // value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable `utsname`; uname(2) only writes into it.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: uname(2) NUL-terminates every field, and `release` lives as long as `uts`.
    let release = unsafe { CStr::from_ptr(uts.release.as_ptr()) };
    Ok(release.to_string_lossy().into_owned())
}

/// The highest Landlock ABI version the kernel supports.
///
/// Errors carry the errno: `ENOSYS` when the kernel has no Landlock (or a seccomp filter
/// hides the syscall), `EOPNOTSUPP` when Landlock is built in but disabled at boot.
pub(super) fn landlock_abi_version() -> io::Result<u32> {
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag the kernel reads
    // no memory and creates no file descriptor; it only returns a number or an errno.
    let ret: c_long = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            ptr::null::<c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::ERANGE))
}

/// The seccomp mode of the calling thread, from `prctl(PR_GET_SECCOMP)`: 0 = none,
/// 2 = filtered. (A thread in strict mode, 1, would be killed by this call, but such a
/// thread cannot be running Rust code that calls it.)
pub(super) fn seccomp_mode() -> io::Result<c_int> {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments and only reads the mode.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP, NO_ARG, NO_ARG, NO_ARG, NO_ARG) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// Whether the kernel implements seccomp filter mode, asked without installing anything.
///
/// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL)` (Linux 3.5+, unlike the `seccomp`
/// syscall): the kernel copies the filter program from user memory before it checks or
/// installs anything, so with a NULL program a kernel with filter mode fails with `EFAULT`
/// and one without it fails with `EINVAL`. This is the detection libseccomp and Chromium
/// use. Any other errno is returned as an error.
pub(super) fn seccomp_filter_mode_supported() -> io::Result<bool> {
    // SAFETY: the NULL program pointer makes the kernel fail with EFAULT when it copies the
    // program in, before any state changes; no filter can be installed by this call.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as c_ulong,
            ptr::null::<c_void>(),
            NO_ARG,
            NO_ARG,
        )
    };
    if ret == 0 {
        // Unreachable on any real kernel (there was no program to install); report it
        // rather than pretend.
        return Err(io::Error::other(
            "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL) unexpectedly succeeded",
        ));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EFAULT) => Ok(true),
        Some(libc::EINVAL) => Ok(false),
        _ => Err(err),
    }
}

/// Whether the kernel knows the seccomp return action `action` (a `SECCOMP_RET_*`
/// value), from `seccomp(SECCOMP_GET_ACTION_AVAIL)` (Linux 4.14+).
///
/// `Ok(false)` means the kernel answered "not supported" (`EOPNOTSUPP`); an error means it
/// could not answer (an older kernel, or the syscall is blocked).
pub(super) fn seccomp_action_available(action: u32) -> io::Result<bool> {
    // SAFETY: GET_ACTION_AVAIL only reads the u32 `action` points to, which lives on this
    // stack frame for the whole call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0 as c_uint,
            &action as *const u32,
        )
    };
    if ret == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(err),
    }
}

/// The step the user-namespace probe child reached; the discriminant is what the child
/// writes to the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum UserNsStep {
    /// Everything succeeded: a user namespace and a network namespace inside it.
    Done = 0,
    /// `setgid(65534)` failed while dropping root.
    SetGid = 1,
    /// `setuid(65534)` failed while dropping root.
    SetUid = 2,
    /// Clearing the capability sets failed.
    DropCaps = 3,
    /// `unshare(CLONE_NEWUSER)` failed.
    NewUser = 4,
    /// `unshare(CLONE_NEWNET)` inside the new user namespace failed.
    NewNet = 5,
}

impl UserNsStep {
    const ALL: [UserNsStep; 6] = [
        UserNsStep::Done,
        UserNsStep::SetGid,
        UserNsStep::SetUid,
        UserNsStep::DropCaps,
        UserNsStep::NewUser,
        UserNsStep::NewNet,
    ];

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.code() == code)
    }
}

/// What the user-namespace probe child reported: the step it stopped at and, unless it is
/// [`UserNsStep::Done`], the errno of that step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UserNsOutcome {
    /// The step the child stopped at.
    pub(super) step: UserNsStep,
    /// The errno of the failed step (0 when `step` is `Done`).
    pub(super) errno: i32,
}

/// Why a forked probe could not produce an answer.
///
/// Only ever formatted into a report's `detail`, so each message includes its cause
/// instead of exposing it as a `source`.
#[derive(Debug, thiserror::Error)]
pub(super) enum ForkProbeError {
    /// `pipe2` failed.
    #[error("could not create a pipe for the probe child: {0}")]
    Pipe(io::Error),
    /// `fork` failed.
    #[error("could not fork the probe child: {0}")]
    Fork(io::Error),
    /// `waitpid` failed, e.g. with `ECHILD` when another thread reaps every child or
    /// SIGCHLD is ignored.
    #[error("could not wait for probe child {pid}: {error}")]
    Wait {
        /// The child's pid.
        pid: pid_t,
        /// The `waitpid` error.
        error: io::Error,
    },
    /// The child ended without writing its report.
    #[error("probe child {pid} ended without a report (wait status {status:?})")]
    NoReport {
        /// The child's pid.
        pid: pid_t,
        /// Its raw wait status, `None` when it could not be collected.
        status: Option<c_int>,
    },
}

/// A forked child that is killed and reaped when dropped, unless it was reaped already.
struct Child {
    pid: pid_t,
    reaped: bool,
}

impl Child {
    /// Waits for the child to end and returns its raw wait status.
    fn wait(&mut self) -> Result<c_int, ForkProbeError> {
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid, writable c_int; waitpid only writes into it.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if ret == self.pid {
                self.reaped = true;
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Whatever happened, the child is no longer ours to reap.
            self.reaped = true;
            return Err(ForkProbeError::Wait {
                pid: self.pid,
                error: err,
            });
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.reaped = true;
        // SAFETY: kill(2) and waitpid(2) take no pointers we own except `status`, a valid
        // local; `pid` is our own unreaped child, so it cannot have been recycled.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status: c_int = 0;
            while libc::waitpid(self.pid, &mut status, 0) < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
        }
    }
}

/// Forks a child that tries to create a user namespace and then a network namespace inside
/// it, as an unprivileged process, and returns how far it got.
///
/// When `drop_root` is set the child first becomes uid/gid 65534 (dropping its
/// supplementary groups where that is allowed). In every case it then clears its capability sets, so the answer is the one an
/// unprivileged process gets, not the one our privileges would get. The caller is never
/// changed: all of this happens in the child, which exits right after.
pub(super) fn probe_unprivileged_userns(drop_root: bool) -> Result<UserNsOutcome, ForkProbeError> {
    let mut fds = [-1 as c_int; 2];
    // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(ForkProbeError::Pipe(io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let write_raw = write_end.as_raw_fd();

    // SAFETY: the child branch below runs only async-signal-safe calls (setgid, setuid,
    // the capset and unshare syscalls, write, _exit, and setgroups, which is not on the
    // POSIX list but, like setgid and setuid, is a plain system call in a child whose only
    // thread is the caller), allocates nothing, cannot panic and never returns, so forking
    // from a multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ForkProbeError::Fork(io::Error::last_os_error()));
    }
    if pid == 0 {
        // Child. No allocation, no locks, no return from here on.
        let (step, errno) = userns_child_steps(drop_root);
        report_and_exit(write_raw, step.code(), errno);
    }

    let mut child = Child { pid, reaped: false };
    drop(write_end);
    // With SIGCHLD ignored the kernel reaps the child itself and waitpid fails with
    // ECHILD once it has ended; its report is in the pipe all the same.
    let status = match child.wait() {
        Ok(status) => Some(status),
        Err(ForkProbeError::Wait { error, .. }) if error.raw_os_error() == Some(libc::ECHILD) => {
            None
        }
        Err(err) => return Err(err),
    };

    let mut buf = [0u8; 8];
    let mut file = File::from(read_end);
    match file.read(&mut buf) {
        Ok(8) => {}
        _ => return Err(ForkProbeError::NoReport { pid, status }),
    }
    let step = UserNsStep::from_code(buf[0]).ok_or(ForkProbeError::NoReport { pid, status })?;
    let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(UserNsOutcome { step, errno })
}

/// The steps of the user-namespace probe, run in the forked child only.
///
/// Only async-signal-safe calls; allocates nothing.
fn userns_child_steps(drop_root: bool) -> (UserNsStep, i32) {
    if drop_root {
        // Drop supplementary groups. A failure is not fatal: inside a user namespace whose
        // /proc/self/setgroups is "deny" this fails with EPERM, and supplementary groups
        // play no part in whether unshare(CLONE_NEWUSER) is allowed.
        // SAFETY: setgroups(0, NULL) reads no memory (size 0); it only changes this
        // single-threaded child's credentials.
        unsafe { libc::setgroups(0, ptr::null()) };
        // SAFETY: setgid takes no pointers; it only changes this child's credentials.
        if unsafe { libc::setgid(NOBODY) } != 0 {
            return (UserNsStep::SetGid, last_errno());
        }
        // SAFETY: setuid takes no pointers; it only changes this child's credentials.
        if unsafe { libc::setuid(NOBODY) } != 0 {
            return (UserNsStep::SetUid, last_errno());
        }
    }
    // Clear effective, permitted and inheritable capabilities (which also clears ambient
    // ones), so that a non-root caller holding capabilities does not skew the answer.
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: `header` and `data` are valid for the layout capset(2) expects with version
    // 3 (one header, two data words) and outlive the call, which only reads them.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) } != 0 {
        return (UserNsStep::DropCaps, last_errno());
    }
    // SAFETY: unshare takes no pointers; it changes only this child's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return (UserNsStep::NewUser, last_errno());
    }
    // Inside the new user namespace the child holds every capability over it, which is
    // what creating a network namespace needs; a failure here is policy, not privilege.
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return (UserNsStep::NewNet, last_errno());
    }
    (UserNsStep::Done, 0)
}

/// Writes an 8-byte report (`code`, three zero bytes, `errno` in native byte order) to
/// `fd` and exits the child. Async-signal-safe; allocates nothing.
fn report_and_exit(fd: c_int, code: u8, errno: i32) -> ! {
    let e = errno.to_ne_bytes();
    let buf = [code, 0, 0, 0, e[0], e[1], e[2], e[3]];
    // SAFETY: `buf` is a valid 8-byte buffer for the duration of write(2); `_exit` ends
    // the child without running atexit handlers or destructors that belong to the parent.
    unsafe {
        libc::write(fd, buf.as_ptr().cast::<c_void>(), buf.len());
        libc::_exit(0)
    }
}

/// The calling thread's errno. Reading it allocates nothing.
fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userns_step_codes_round_trip() {
        for step in UserNsStep::ALL {
            assert_eq!(
                UserNsStep::from_code(step.code()),
                Some(step),
                "{step:?} round trip"
            );
        }
        assert_eq!(
            UserNsStep::from_code(200),
            None,
            "unknown codes are rejected"
        );
    }
}
