//! The raw system calls of the ptrace backend, each behind a narrow safe function.
//!
//! Everything that needs `unsafe` lives here: `fork` and the code the child runs until
//! `execve`, the `ptrace` requests, `waitpid`, `process_vm_readv`, and the pidfd calls
//! used to kill a timed-out tree. The rest of the backend is safe code.

use std::ffi::{CStr, c_char};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use libc::{c_int, c_long, c_uint, c_ulong, c_void, pid_t};

/// `PTRACE_EVENT_STOP` (`include/uapi/linux/ptrace.h`): a group-stop or a
/// `PTRACE_INTERRUPT`/attach stop of a tracee attached with `PTRACE_SEIZE`.
pub(crate) const PTRACE_EVENT_STOP: c_int = 128;

/// `PTRACE_SYSCALL_INFO_*` values of `ptrace_syscall_info.op`.
const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

/// The largest signal number plus one on Linux (`_NSIG`).
const NSIG: c_int = 65;

/// The kernel's `struct sigaction` for `rt_sigaction` on x86-64 and aarch64 (both have
/// `sa_restorer`; the signal mask is one 64-bit word).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: c_ulong,
    restorer: usize,
    mask: u64,
}

/// The ptrace options the tracer seizes its child with.
pub(crate) const TRACE_OPTIONS: c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL;

/// What the child reports through the error pipe when a step before `execve` fails: the
/// step and the errno, as two native-endian `u32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum ChildStep {
    /// Waiting to be seized: the tracer died or went away.
    Stop = 1,
    /// `chdir` to the command's working directory.
    Chdir = 2,
    /// Installing the seccomp filter.
    Seccomp = 3,
    /// The caller's pre-exec hook.
    PreExec = 4,
    /// `execve` itself.
    Exec = 5,
}

impl ChildStep {
    /// Decodes the step written by [`report_and_exit`].
    pub(crate) fn from_raw(raw: u32) -> Option<Self> {
        [
            Self::Stop,
            Self::Chdir,
            Self::Seccomp,
            Self::PreExec,
            Self::Exec,
        ]
        .into_iter()
        .find(|step| *step as u32 == raw)
    }
}

/// Everything the child needs between `fork` and `execve`, prepared beforehand so that the
/// child allocates nothing.
pub(crate) struct ChildPlan<'a> {
    /// The program to execute.
    pub program: &'a CStr,
    /// NULL-terminated argument vector; the pointers borrow strings that outlive the plan.
    pub argv: &'a [*const c_char],
    /// NULL-terminated environment; the pointers borrow strings that outlive the plan.
    pub envp: &'a [*const c_char],
    /// The working directory.
    pub cwd: &'a CStr,
    /// How the child waits for the tracer before it goes on.
    pub start: Start,
    /// The seccomp program, if any.
    pub filter: Option<&'a [libc::sock_filter]>,
    /// The write end of the close-on-exec error pipe.
    pub error_pipe: BorrowedFd<'a>,
    /// The caller's hook, run right before `execve`.
    pub pre_exec: Option<&'a mut (dyn FnMut() -> Result<(), i32> + Send)>,
}

/// How a forked child waits until the tracer is ready for it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// Stop with SIGSTOP, to be seized with ptrace and resumed with SIGCONT.
    Sigstop,
    /// Block reading this pipe until one byte arrives (end of file means the tracer gave
    /// up: the child exits).
    Pipe(RawFd),
}

/// Forks a child that waits for the tracer (see [`Start`]) and then installs the seccomp
/// filter, if any, runs the pre-exec hook and executes the program (see [`child_main`]). Returns the child's pid; the child is stopped or about to
/// stop.
pub(crate) fn fork_child(plan: &mut ChildPlan<'_>) -> io::Result<pid_t> {
    let parent = getpid();
    // SAFETY: the child branch runs `child_main`, which only makes async-signal-safe system
    // calls on memory prepared before the fork, allocates nothing, cannot unwind (it ends
    // in execve or _exit) and calls the caller's hook, which the caller guarantees to be
    // async-signal-safe. So forking from a multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        child_main(plan, parent);
    }
    Ok(pid)
}

/// The child between `fork` and `execve`. Async-signal-safe only; allocates nothing.
fn child_main(plan: &mut ChildPlan<'_>, parent: pid_t) -> ! {
    let pipe = plan.error_pipe.as_raw_fd();
    // SAFETY: prctl, getppid, sigaction, raise, chdir, seccomp, sigprocmask and execve are
    // async-signal-safe system calls. Every pointer passed points to memory owned by the
    // plan (prepared before the fork, alive until exec) or to locals of this frame;
    // `argv` and `envp` are NULL-terminated arrays of pointers to NUL-terminated strings.
    unsafe {
        // Die with the thread that forked us while we are not traced yet; if it is already
        // gone, quit.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong, 0, 0, 0);
        if libc::getppid() != parent {
            report_and_exit(pipe, ChildStep::Stop, libc::ESRCH);
        }
        // The parent's handlers must not run here (the tracer resumes us with SIGCONT),
        // and ignored signals must not stay ignored in the program (Rust ignores
        // SIGPIPE): every disposition goes back to the default. Handlers would be reset
        // by execve anyway; ignored dispositions would not.
        // The raw system call, because glibc's sigaction refuses the signals it reserves
        // (32 and 33), which the caller may have inherited as ignored.
        let default = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for signal in 1..NSIG {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    &default as *const KernelSigaction,
                    ptr::null_mut::<KernelSigaction>(),
                    size_of::<u64>(),
                );
            }
        }
        match plan.start {
            // Wait to be seized: the tracer waits for this stop, attaches with
            // PTRACE_SEIZE and sends SIGCONT.
            Start::Sigstop => {
                libc::raise(libc::SIGSTOP);
            }
            // Wait until the tracer has marked us as traced.
            Start::Pipe(fd) => {
                let mut byte = 0u8;
                loop {
                    let n = libc::read(fd, (&raw mut byte).cast(), 1);
                    if n == 1 {
                        break;
                    }
                    if n == 0 || errno() != libc::EINTR {
                        report_and_exit(pipe, ChildStep::Stop, libc::ESRCH);
                    }
                }
                libc::close(fd);
            }
        }
        // From now on PTRACE_O_EXITKILL ends us if the tracer dies (ptrace); the program
        // must not inherit a parent-death signal.
        libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0);
        if libc::chdir(plan.cwd.as_ptr()) != 0 {
            report_and_exit(pipe, ChildStep::Chdir, errno());
        }
        if let Some(filter) = plan.filter {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr().cast_mut(),
            };
            let mut installed = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as c_uint,
                &program as *const libc::sock_fprog,
            );
            if installed != 0 && errno() == libc::EACCES {
                // Without CAP_SYS_ADMIN a filter needs no_new_privs. Under ptrace an
                // unprivileged tracer's tracee gains no privileges from set-uid programs
                // anyway.
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                installed = libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0 as c_uint,
                    &program as *const libc::sock_fprog,
                );
            }
            if installed != 0 {
                report_and_exit(pipe, ChildStep::Seccomp, errno());
            }
        }
        if let Some(hook) = plan.pre_exec.as_mut() {
            if let Err(errno) = hook() {
                report_and_exit(pipe, ChildStep::PreExec, errno);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
        report_and_exit(pipe, ChildStep::Exec, errno())
    }
}

/// The calling thread's errno. Async-signal-safe.
fn errno() -> c_int {
    // SAFETY: __errno_location returns a valid pointer to the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Writes `(step, errno)` to the error pipe and ends the child with status 127.
/// Async-signal-safe.
fn report_and_exit(pipe: RawFd, step: ChildStep, errno: c_int) -> ! {
    let mut message = [0u8; 8];
    message[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    message[4..].copy_from_slice(&(errno as u32).to_ne_bytes());
    // SAFETY: `message` is a live local buffer of the length passed; _exit never returns
    // and skips the parent's atexit handlers and destructors.
    unsafe {
        libc::write(pipe, message.as_ptr().cast(), message.len());
        libc::_exit(127)
    }
}

/// The pid of the calling process.
pub(crate) fn getpid() -> pid_t {
    // SAFETY: getpid has no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// `waitpid(pid, WUNTRACED | __WNOTHREAD)` for our own child until it stops or ends,
/// retrying on EINTR. Returns the raw status.
pub(crate) fn wait_child(pid: pid_t) -> io::Result<c_int> {
    loop {
        let mut status: c_int = 0;
        // SAFETY: `status` is a valid writable c_int for the duration of the call.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED | libc::__WNOTHREAD) };
        if ret == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `waitpid(-1, __WALL | __WNOTHREAD)`: the next stop or death of any tracee of this
/// thread (or child of this thread). `__WNOTHREAD` keeps the tracer from reaping children
/// that other threads of the process started. EINTR is returned as an error.
pub(crate) fn wait_any() -> io::Result<(pid_t, c_int)> {
    let mut status: c_int = 0;
    // SAFETY: `status` is a valid writable c_int for the duration of the call.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((pid, status))
}

/// A ptrace request whose address and data arguments are integers.
fn ptrace_raw(request: c_uint, pid: pid_t, addr: usize, data: usize) -> io::Result<c_long> {
    // SAFETY: the requests sent through this function (SEIZE, CONT, SYSCALL, LISTEN) take
    // no pointers: `addr` and `data` are plain integers the kernel does not dereference.
    let ret = unsafe {
        libc::ptrace(
            request,
            pid,
            ptr::without_provenance_mut::<c_void>(addr),
            ptr::without_provenance_mut::<c_void>(data),
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// `PTRACE_SEIZE` with [`TRACE_OPTIONS`].
pub(crate) fn seize(pid: pid_t) -> io::Result<()> {
    ptrace_raw(libc::PTRACE_SEIZE, pid, 0, TRACE_OPTIONS as usize).map(drop)
}

/// `PTRACE_CONT`, delivering `signal` (0 for none).
pub(crate) fn cont(pid: pid_t, signal: c_int) -> io::Result<()> {
    ptrace_raw(libc::PTRACE_CONT, pid, 0, signal as usize).map(drop)
}

/// `PTRACE_SYSCALL`: resume and stop at the next system-call boundary (after a seccomp
/// stop, that is the exit of the system call).
pub(crate) fn syscall(pid: pid_t, signal: c_int) -> io::Result<()> {
    ptrace_raw(libc::PTRACE_SYSCALL, pid, 0, signal as usize).map(drop)
}

/// `PTRACE_LISTEN`: leave a tracee in its group-stop but report when it changes.
pub(crate) fn listen(pid: pid_t) -> io::Result<()> {
    ptrace_raw(libc::PTRACE_LISTEN, pid, 0, 0).map(drop)
}

/// `PTRACE_GETEVENTMSG`: the new tid of a fork/clone event, the former tid of an exec.
pub(crate) fn event_message(pid: pid_t) -> io::Result<c_ulong> {
    let mut message: c_ulong = 0;
    // SAFETY: PTRACE_GETEVENTMSG writes one unsigned long to `data`, which points to a
    // live local of that type.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            pid,
            ptr::null_mut::<c_void>(),
            &mut message as *mut c_ulong,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(message)
}

/// The system call a tracee is stopped in, from `PTRACE_GET_SYSCALL_INFO` (Linux 5.3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyscallStop {
    /// A `PTRACE_EVENT_SECCOMP` stop (before the system call runs).
    Seccomp {
        /// `AUDIT_ARCH_*` of the system call.
        arch: u32,
        /// The system call number.
        nr: u64,
        /// The arguments.
        args: [u64; 6],
        /// `SECCOMP_RET_DATA` of the filter's verdict.
        ret_data: u32,
    },
    /// A syscall-entry-stop.
    Entry,
    /// A syscall-exit-stop.
    Exit {
        /// The return value (`-errno` on failure).
        rval: i64,
        /// Whether the return value is an error.
        is_error: bool,
    },
    /// Not a system-call stop.
    None,
}

/// `struct ptrace_syscall_info` (`include/uapi/linux/ptrace.h`), with the union kept as
/// bytes and decoded field by field.
#[repr(C)]
struct RawSyscallInfo {
    op: u8,
    reserved: u8,
    flags: u16,
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// `entry { nr, args[6] }`, `exit { rval, is_error }` or
    /// `seccomp { nr, args[6], ret_data }`.
    data: [u64; 8],
}

/// Reads the system-call information of a stopped tracee.
pub(crate) fn syscall_info(pid: pid_t) -> io::Result<SyscallStop> {
    let mut info = RawSyscallInfo {
        op: 0,
        reserved: 0,
        flags: 0,
        arch: 0,
        instruction_pointer: 0,
        stack_pointer: 0,
        data: [0; 8],
    };
    // SAFETY: the kernel writes at most `addr` (the size we pass) bytes into `info`, a live
    // local of exactly that size with the kernel's layout.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            pid,
            ptr::without_provenance_mut::<c_void>(size_of::<RawSyscallInfo>()),
            &mut info as *mut RawSyscallInfo,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    let d = info.data;
    Ok(match info.op {
        PTRACE_SYSCALL_INFO_SECCOMP => SyscallStop::Seccomp {
            arch: info.arch,
            nr: d[0],
            args: [d[1], d[2], d[3], d[4], d[5], d[6]],
            // `__u32 ret_data` is the first half of the eighth u64 in memory.
            ret_data: {
                let bytes = d[7].to_ne_bytes();
                u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
            },
        },
        PTRACE_SYSCALL_INFO_ENTRY => SyscallStop::Entry,
        PTRACE_SYSCALL_INFO_EXIT => SyscallStop::Exit {
            rval: d[0] as i64,
            // `__u8 is_error` is the first byte of the second u64 in memory.
            is_error: d[1].to_ne_bytes()[0] != 0,
        },
        _ => SyscallStop::None,
    })
}

/// Copies `buf.len()` bytes at `addr` in the tracee into `buf` with `process_vm_readv`.
/// Returns how many bytes were copied (fewer when the range ends in unmapped memory).
pub(crate) fn read_memory(pid: pid_t, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: ptr::without_provenance_mut(addr as usize),
        iov_len: buf.len(),
    };
    // SAFETY: the local iovec describes `buf`, which is writable for its whole length; the
    // remote iovec is an address in the tracee that this process never dereferences (the
    // kernel checks it against the tracee's mappings).
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Reads one word at `addr` in the tracee with `PTRACE_PEEKDATA` (the fallback where
/// `process_vm_readv` is not allowed).
pub(crate) fn peek_word(pid: pid_t, addr: u64) -> io::Result<[u8; size_of::<c_long>()]> {
    // PEEKDATA returns the word, so -1 is ambiguous: errno tells.
    // SAFETY: __errno_location returns a valid pointer to the calling thread's errno.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PTRACE_PEEKDATA takes the tracee address as an integer and no data pointer.
    let word = unsafe {
        libc::ptrace(
            libc::PTRACE_PEEKDATA,
            pid,
            ptr::without_provenance_mut::<c_void>(addr as usize),
            ptr::null_mut::<c_void>(),
        )
    };
    if word == -1 && errno() != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(word.to_ne_bytes())
}

/// `kill(pid, signal)`. Only call it for a pid that cannot have been recycled (a tracee
/// whose death this thread has not yet collected).
pub(crate) fn kill(pid: pid_t, signal: c_int) -> io::Result<()> {
    // SAFETY: kill takes no pointers.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pidfd_open(pid, 0)` (Linux 5.3+): a handle that keeps referring to this process even
/// after its pid is reused.
pub(crate) fn pidfd_open(pid: pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a successful pidfd_open returns a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`: signals the process the pidfd refers to,
/// or fails with ESRCH if it is gone; never another process.
pub(crate) fn pidfd_kill(pidfd: BorrowedFd<'_>, signal: c_int) -> io::Result<()> {
    // SAFETY: the siginfo argument is NULL, so no pointer is dereferenced; the fd is a
    // live pidfd borrowed for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            ptr::null::<libc::siginfo_t>(),
            0 as c_uint,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn syscall_info_matches_the_kernel_layout() {
        // include/uapi/linux/ptrace.h: op, reserved, flags, arch, instruction_pointer,
        // stack_pointer, then the union at 24; seccomp's ret_data at 24 + 56.
        assert_eq!(offset_of!(RawSyscallInfo, arch), 4, "arch");
        assert_eq!(
            offset_of!(RawSyscallInfo, instruction_pointer),
            8,
            "instruction_pointer"
        );
        assert_eq!(offset_of!(RawSyscallInfo, data), 24, "union");
        assert_eq!(
            size_of::<RawSyscallInfo>(),
            88,
            "size of the seccomp variant"
        );
    }

    #[test]
    fn child_steps_round_trip() {
        for step in [
            ChildStep::Stop,
            ChildStep::Chdir,
            ChildStep::Seccomp,
            ChildStep::PreExec,
            ChildStep::Exec,
        ] {
            assert_eq!(ChildStep::from_raw(step as u32), Some(step), "{step:?}");
        }
        assert_eq!(ChildStep::from_raw(0), None, "0 is no step");
    }
}
