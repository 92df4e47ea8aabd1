//! The raw system calls behind the tracing probes, each behind a narrow safe function.
//!
//! Nothing here changes the caller: the ptrace probe traces a forked child that is killed
//! and reaped before the function returns, and the eBPF probe loads a two-instruction
//! program whose file descriptor is closed at once, which unloads it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;

use libc::{c_int, c_long, c_uint, c_ulong, c_void, pid_t};

/// `BPF_PROG_LOAD` from `include/uapi/linux/bpf.h` (`enum bpf_cmd`).
const BPF_PROG_LOAD: c_int = 5;

/// `BPF_PROG_TYPE_SOCKET_FILTER` (`enum bpf_prog_type`): the simplest program type, which
/// needs no attach point.
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// The program: `r0 = 0; exit`. Each `struct bpf_insn` is `code: u8`, `dst_reg:4 |
/// src_reg:4`, `off: i16`, `imm: i32`; all registers, offsets and immediates are 0, so the
/// bytes are the same on either endianness.
const TRIVIAL_PROGRAM: [[u8; 8]; 2] = [
    // BPF_ALU64 | BPF_MOV | BPF_K (0x07 | 0xb0 | 0x00): r0 = 0
    [0xb7, 0, 0, 0, 0, 0, 0, 0],
    // BPF_JMP | BPF_EXIT (0x05 | 0x90): return r0
    [0x95, 0, 0, 0, 0, 0, 0, 0],
];

/// The leading fields of `union bpf_attr` that `BPF_PROG_LOAD` reads, up to
/// `expected_attach_type`. The kernel treats a shorter attribute as zero-extended, so the
/// fields after these need not be spelled out.
#[repr(C)]
pub(crate) struct BpfProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
}

/// `bpf(cmd, attr, sizeof(attr))`: the result (a new descriptor, or 0).
///
/// # Safety
///
/// `T` must be a `#[repr(C)]` prefix of `union bpf_attr` as `cmd` reads it, and every
/// pointer in it valid for what the kernel does with it during the call (read the
/// instructions and strings, write a log or an info structure of the size given).
pub(crate) unsafe fn bpf<T>(cmd: c_int, attr: &mut T) -> io::Result<c_long> {
    // SAFETY: the caller vouches for `attr`; the size passed is exactly its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<c_void>(),
            size_of::<T>() as c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `BPF_PROG_LOAD` of `insn_cnt` instructions (8 bytes each) at `insns` as a program of
/// type `prog_type`, named `name` (up to 15 bytes), with `license`; with `log`, the
/// verifier's log goes into it (level 1). The new program's descriptor.
///
/// # Safety
///
/// `insns` must point to `insn_cnt` valid `struct bpf_insn`s for the duration of the call.
pub(crate) unsafe fn prog_load(
    prog_type: u32,
    insns: *const c_void,
    insn_cnt: usize,
    license: &std::ffi::CStr,
    name: &str,
    log: Option<&mut [u8]>,
) -> io::Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    for (slot, byte) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte;
    }
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let mut attr = BpfProgLoadAttr {
        prog_type,
        insn_cnt: insn_cnt as u32,
        insns: insns as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: 0,
    };
    // SAFETY: a BPF_PROG_LOAD attribute whose instructions the caller vouches for,
    // whose license and name live on this frame, and whose log (if any) is writable
    // for its length.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    let fd = c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new file descriptor that nothing else
    // owns; dropping the OwnedFd closes it, which unloads the program (once nothing
    // else holds it).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads `r0 = 0; exit` as a GPL socket-filter program with `bpf(BPF_PROG_LOAD)` and
/// closes it again.
///
/// The error carries the errno: `EPERM` (missing capability, or
/// `kernel.unprivileged_bpf_disabled` for an unprivileged caller), `ENOSYS` (no `bpf`
/// syscall, or blocked by a seccomp filter), `EINVAL` (program type unsupported).
pub(crate) fn load_trivial_bpf_program() -> io::Result<()> {
    // SAFETY: TRIVIAL_PROGRAM is a static array of two 8-byte instructions.
    let fd = unsafe {
        prog_load(
            BPF_PROG_TYPE_SOCKET_FILTER,
            TRIVIAL_PROGRAM.as_ptr().cast(),
            TRIVIAL_PROGRAM.len(),
            c"GPL",
            "nono_probe",
            None,
        )?
    };
    drop(fd);
    Ok(())
}

/// Whether the kernel knows the seccomp return action `action` (a `SECCOMP_RET_*`
/// value), from `seccomp(SECCOMP_GET_ACTION_AVAIL)` (Linux 4.14+). `Ok(false)` means the
/// kernel answered "not supported".
pub(crate) fn seccomp_action_available(action: u32) -> io::Result<bool> {
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

/// What happened when a forked child asked to be traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PtraceOutcome {
    /// The child was traced: we saw its SIGSTOP through `waitpid`. `options` is the
    /// result of `PTRACE_SETOPTIONS(PTRACE_O_EXITKILL | PTRACE_O_TRACESECCOMP)` on it
    /// (`Err(errno)` on failure).
    Traced {
        /// `Ok(())`, or the errno of `PTRACE_SETOPTIONS`.
        options: Result<(), i32>,
    },
    /// `PTRACE_TRACEME` failed in the child with this errno.
    TraceMeFailed(i32),
    /// The child ended or stopped in a way the probe did not expect (raw wait status).
    Unexpected(c_int),
}

/// Why the ptrace probe could not produce an answer.
///
/// Only ever formatted into a report's `detail`, so each message includes its cause
/// instead of exposing it as a `source`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForkProbeError {
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
}

/// A forked child that is killed and reaped when dropped, unless it was reaped already.
/// A traced, stopped child dies of SIGKILL too, so this also ends the ptrace probe's child.
struct Child {
    pid: pid_t,
    reaped: bool,
}

impl Child {
    /// Waits until the child stops or ends and returns its raw wait status. Only an ended
    /// child counts as reaped.
    fn wait(&mut self) -> Result<c_int, ForkProbeError> {
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid, writable c_int; waitpid only writes into it.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if ret == self.pid {
                if !libc::WIFSTOPPED(status) {
                    self.reaped = true;
                }
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

/// Forks a child that calls `PTRACE_TRACEME` and stops itself with SIGSTOP, waits for that
/// stop, sets the options a seccomp-assisted tracer needs, then kills and reaps the child.
///
/// The child asks to be killed if the forking thread dies first (`PR_SET_PDEATHSIG`), and
/// `PTRACE_O_EXITKILL` kills it if this process dies while tracing it, so no stopped child
/// is ever left behind.
pub(crate) fn probe_trace_own_child() -> Result<PtraceOutcome, ForkProbeError> {
    // SAFETY: getpid takes no arguments and cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child branch below runs only async-signal-safe calls (prctl, getppid,
    // ptrace, raise, _exit), allocates nothing, cannot panic and never returns, so forking
    // from a multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ForkProbeError::Fork(io::Error::last_os_error()));
    }
    if pid == 0 {
        trace_me_child(parent);
    }

    let mut child = Child { pid, reaped: false };
    let status = child.wait()?;
    if libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGSTOP {
        let options = (libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESECCOMP) as usize;
        // SAFETY: PTRACE_SETOPTIONS on our own stopped tracee; the address argument is
        // unused and the data argument is an integer, not a pointer.
        let ret = unsafe {
            libc::ptrace(
                libc::PTRACE_SETOPTIONS,
                pid,
                ptr::null_mut::<c_void>(),
                ptr::without_provenance_mut::<c_void>(options),
            )
        };
        let options = if ret == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        };
        // `child` is dropped here: SIGKILL and reap.
        return Ok(PtraceOutcome::Traced { options });
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
        return Ok(PtraceOutcome::TraceMeFailed(libc::WEXITSTATUS(status)));
    }
    Ok(PtraceOutcome::Unexpected(status))
}

/// The ptrace probe child: exits with the errno of `PTRACE_TRACEME` if it fails, else
/// stops itself and waits to be killed. Async-signal-safe only; allocates nothing.
fn trace_me_child(parent: pid_t) -> ! {
    // SAFETY: these calls take no pointers (the ptrace address and data arguments are
    // unused by PTRACE_TRACEME and passed as NULL); `_exit` ends the child without running
    // the parent's atexit handlers or destructors.
    unsafe {
        // Die with the thread that forked us rather than stay stopped forever; if it is
        // already gone, quit now.
        let no_arg: c_ulong = 0;
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as c_ulong,
            no_arg,
            no_arg,
            no_arg,
        );
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        if libc::ptrace(
            libc::PTRACE_TRACEME,
            0,
            ptr::null_mut::<c_void>(),
            ptr::null_mut::<c_void>(),
        ) != 0
        {
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            // Errno values fit an exit status (they are below 256); 0 would read as
            // success, so an unknown errno is reported as 255.
            let code = if (1..=255).contains(&errno) {
                errno
            } else {
                255
            };
            libc::_exit(code);
        }
        libc::raise(libc::SIGSTOP);
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn bpf_prog_load_attr_matches_the_kernel_layout() {
        // Offsets of the BPF_PROG_LOAD members of `union bpf_attr` in include/uapi/linux/bpf.h.
        assert_eq!(offset_of!(BpfProgLoadAttr, insn_cnt), 4, "insn_cnt");
        assert_eq!(offset_of!(BpfProgLoadAttr, insns), 8, "insns");
        assert_eq!(offset_of!(BpfProgLoadAttr, license), 16, "license");
        assert_eq!(offset_of!(BpfProgLoadAttr, log_level), 24, "log_level");
        assert_eq!(offset_of!(BpfProgLoadAttr, log_buf), 32, "log_buf");
        assert_eq!(
            offset_of!(BpfProgLoadAttr, kern_version),
            40,
            "kern_version"
        );
        assert_eq!(offset_of!(BpfProgLoadAttr, prog_name), 48, "prog_name");
        assert_eq!(
            offset_of!(BpfProgLoadAttr, prog_ifindex),
            64,
            "prog_ifindex"
        );
        assert_eq!(
            offset_of!(BpfProgLoadAttr, expected_attach_type),
            68,
            "expected_attach_type"
        );
        assert_eq!(size_of::<BpfProgLoadAttr>(), 72, "size passed to bpf()");
    }
}
