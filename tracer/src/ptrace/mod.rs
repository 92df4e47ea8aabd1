//! The ptrace + seccomp backend: traces a command and every process it starts, without
//! privileges.
//!
//! ```no_run
//! use std::sync::mpsc;
//! use nono_tracer::ptrace::{self, TraceCommand};
//!
//! let (sink, events) = mpsc::channel();
//! let cmd = TraceCommand::new("/bin/cat", ["cat", "/etc/hostname"]);
//! let outcome = ptrace::trace(cmd, sink)?;
//! for event in events.try_iter() {
//!     println!("{}", serde_json::to_string(&event).unwrap());
//! }
//! assert_eq!(outcome.exit_code, 0);
//! # Ok::<(), nono_tracer::ptrace::TraceError>(())
//! ```
//!
//! # How it works
//!
//! [`trace`] runs on a dedicated thread (ptrace ties tracees to the thread that attached
//! them, and `waitpid` with `__WNOTHREAD` then sees only that thread's tracees, never the
//! children other threads of the caller started). It builds the seccomp program and all
//! `execve` arguments first, then forks:
//!
//! 1. The child resets every signal disposition to its default, stops itself with SIGSTOP
//!    and waits.
//! 2. The tracer waits for that stop, attaches with `PTRACE_SEIZE` and the options
//!    `TRACESYSGOOD | TRACESECCOMP | TRACEFORK | TRACEVFORK | TRACECLONE | TRACEEXEC |
//!    EXITKILL`, and sends SIGCONT. `PTRACE_O_EXITKILL` means that from here on, a tracer
//!    that dies takes its tracees with it: nothing is ever left half-traced.
//! 3. The child changes to the working directory, installs a classic-BPF seccomp filter
//!    that returns `SECCOMP_RET_TRACE` for the system calls of interest only (file-system
//!    calls by path, `execve*`, `connect`, `bind`, `send{to,msg,mmsg}`) and
//!    `SECCOMP_RET_ALLOW` for everything else (with `no_new_privs` if it lacks
//!    `CAP_SYS_ADMIN`), runs the caller's pre-exec hook, unblocks all signals and executes
//!    the program. Failures before `execve` come back through a close-on-exec pipe. The
//!    system calls the hook makes are stopped at but not recorded.
//!
//! Then the tracer loops on `waitpid(-1, __WALL | __WNOTHREAD)` until no tracee is left.
//! Per-thread state (the system call in flight) and per-process state (parent, executable,
//! sockets connected to port 53) live in hash maps keyed by tid and tgid.
//!
//! # Stop ordering
//!
//! The [ptrace(2)](https://man7.org/linux/man-pages/man2/ptrace.2.html) man page names
//! the stops (quoted section names below); these are the subtleties the loop relies on:
//!
//! - **Seccomp stop before the syscall**. A `SECCOMP_RET_TRACE` verdict produces a
//!   `PTRACE_EVENT_SECCOMP` stop (ptrace(2), "PTRACE_O_TRACESECCOMP") *before* the call
//!   runs. Since Linux 4.8 it comes after the syscall-enter-stop (which we never ask for:
//!   tracees run under `PTRACE_CONT`), so resuming from it with `PTRACE_SYSCALL` leads
//!   straight to the call's **syscall-exit-stop** ("Syscall-stops"), where the result is
//!   read. Calls whose result is not needed (a `sendto` that is not DNS, a skipped path)
//!   are resumed with `PTRACE_CONT` and cost a single stop. `PTRACE_GET_SYSCALL_INFO`
//!   (Linux 5.3) tells the three kinds of syscall stop apart and returns the arguments,
//!   the return value, and the filter's `SECCOMP_RET_DATA`, which holds the index of the
//!   system call in our table.
//! - **Paths are resolved at the seccomp stop**, against `/proc/TID/cwd` or
//!   `/proc/TID/fd/DIRFD`, before the call can change them; the memory is read with
//!   `process_vm_readv`.
//! - **A successful exec** reports `PTRACE_EVENT_EXEC` ("execve(2) under ptrace") before
//!   its syscall-exit-stop; the exec is recorded there and the exit stop is skipped. When
//!   a non-leader thread executes, the other threads die, the event is reported under the
//!   thread-group id, and `PTRACE_GETEVENTMSG` returns the former tid, whose state moves
//!   to the leader's slot. The old leader vanishes without a death report.
//! - **New tasks** (fork, vfork, clone) are attached automatically and start with a
//!   `PTRACE_EVENT_STOP` ("Attaching and detaching"); that stop may be reported before
//!   the parent's `PTRACE_EVENT_FORK/VFORK/CLONE`, in which case the child is adopted
//!   from `/proc/TID/status`. A clone is a thread if it appears in its creator's
//!   `/proc/TGID/task`.
//! - **Group-stops** ("Group-stop"): under `PTRACE_SEIZE`, a group-stop is a
//!   `PTRACE_EVENT_STOP` whose stop signal is SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU, so it
//!   needs no `PTRACE_GETSIGINFO` call to be told apart from a signal-delivery-stop. The
//!   tracee is left stopped with `PTRACE_LISTEN` (restarting it would defeat the stop);
//!   SIGCONT re-traps it as a `PTRACE_EVENT_STOP` with SIGTRAP, which is continued.
//! - **Signal-delivery-stops** ("Signal-delivery-stop": a stop with no event code) are
//!   resumed with the signal, so the program gets it.
//! - **Deaths**: a thread-group leader's death is reported only after all its threads are
//!   gone, so it is the process's exit (an [`EventKind::ProcessExit`] event). A call interrupted by a signal exits with an internal `-ERESTART*` value and
//!   is restarted through a new seccomp stop; only the restarted attempt is recorded.
//!
//! # Security model
//!
//! Tracing observes; it enforces nothing. A traced program can tell it is traced
//! (`TracerPid` in `/proc/self/status`) and could behave differently. Everything is
//! read at the stop, before the call, so a thread of the program that rewrites a path
//! after the stop can make the event disagree with what the kernel did (the classic
//! ptrace time-of-check/time-of-use gap). The trace is a record for learning, not an
//! audit log against a hostile program.
//!
//! # Compatibility
//!
//! Linux 5.3 or newer (`PTRACE_GET_SYSCALL_INFO`, pidfds), x86-64 and aarch64. Works
//! without privileges where ptrace of one's own children is allowed (Yama
//! `ptrace_scope` ≤ 1 and no seccomp policy forbidding ptrace, as in some containers);
//! see [`crate::support`]. The caller must not set SIGCHLD to `SIG_IGN`.
//!
//! # Limitations
//!
//! - 32-bit (i386) and x32 system calls of a 64-bit kernel are not traced.
//! - `newfstatat`/`statx` with `AT_EMPTY_PATH` are not stopped at (they normally name no
//!   path); a non-empty path with that flag is missed.
//! - File access through `io_uring`, `name_to_handle_at`/`open_by_handle_at`, `fchdir`
//!   and other descriptor-based calls is not seen; descriptors passed in from outside are
//!   not followed.
//! - DNS is seen when sent with `sendto`, `sendmsg` or `sendmmsg` (with an address, or on
//!   a socket connected to port 53 within the same process); `write`/`writev` on such a
//!   socket (glibc's TCP fallback) and DNS over TLS/HTTPS are not.
//! - An `O_CREAT` open is classified as a creation by checking, at the stop, whether the
//!   path exists (through `/proc/TID/root`); a concurrent creation by another process can
//!   make it wrong.
//! - Relative paths whose base cannot be read (a descriptor that is not a directory) are
//!   reported as written, not absolute.
//! - `execve` argument vectors are cut at 4096 arguments or 256 KiB.
//! - A call still in progress when its process is killed (a blocking open of a FIFO, say)
//!   is not recorded.
//! - Set-user-ID programs run without their privileges under an unprivileged tracer (a
//!   ptrace rule), and under `no_new_privs`, which an unprivileged tracer must set for its
//!   seccomp filter.

mod decode;
mod filter;
mod mem;
pub(crate) mod paths;
pub(crate) mod sockaddr;
pub(crate) mod sys;
pub(crate) mod syscalls;
mod tracer;

use std::ffi::{CString, OsString};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use libc::pid_t;

use crate::event::Event;

#[cfg(doc)]
use crate::event::EventKind;

/// The hook run in the child right before `execve`; see [`TraceCommand::pre_exec`].
pub type PreExec = Box<dyn FnMut() -> Result<(), i32> + Send>;

/// What to trace.
pub struct TraceCommand {
    /// The program to execute, already resolved (no `PATH` search is done).
    pub program: PathBuf,
    /// The argument vector, argv\[0\] included.
    pub argv: Vec<OsString>,
    /// The complete environment of the program (nothing is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// The working directory of the program.
    pub cwd: PathBuf,
    /// Runs in the child after the tracer attached and after the seccomp filter is
    /// installed, right before `execve` (e.g. to apply a sandbox). It runs in a forked
    /// child of a possibly multi-threaded process, so it must be async-signal-safe: no
    /// allocation, no locks. `Err(errno)` aborts the launch and [`trace`] returns
    /// [`TraceError::PreExec`]. Its own system calls are not recorded.
    pub pre_exec: Option<PreExec>,
    /// Kill the whole traced tree (SIGKILL) after this long.
    pub timeout: Option<Duration>,
    /// Counters the backend keeps up to date while it traces, for a live display.
    pub progress: Option<Arc<TraceProgress>>,
}

/// What a running trace has counted so far (see [`TraceCommand::progress`]).
#[derive(Debug, Default)]
pub struct TraceProgress {
    /// Events lost so far: for the eBPF backend, records the kernel could not fit in the
    /// ring buffer (read every 200 ms); the ptrace backend loses none while it runs.
    pub dropped: std::sync::atomic::AtomicU64,
}

impl TraceCommand {
    /// A command running `program` with `argv` in the current directory and environment,
    /// without hook or timeout.
    pub fn new<I, S>(program: impl Into<PathBuf>, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        TraceCommand {
            program: program.into(),
            argv: argv.into_iter().map(Into::into).collect(),
            env: std::env::vars_os().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            pre_exec: None,
            timeout: None,
            progress: None,
        }
    }
}

impl fmt::Debug for TraceCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceCommand")
            .field("program", &self.program)
            .field("argv", &self.argv)
            .field("env", &format_args!("[{} variables]", self.env.len()))
            .field("cwd", &self.cwd)
            .field("pre_exec", &self.pre_exec.as_ref().map(|_| "FnMut"))
            .field("timeout", &self.timeout)
            .field("progress", &self.progress)
            .finish()
    }
}

/// How a trace ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOutcome {
    /// The traced command's exit status, or 128 + the signal that killed it (143 for
    /// SIGTERM, 137 for SIGKILL, as after a timeout).
    pub exit_code: i32,
    /// Events handed to the sink.
    pub events: u64,
    /// Events lost because the sink's receiver was gone (tracing went on regardless).
    pub dropped: u64,
    /// From the fork to the end of the last traced process.
    pub duration: Duration,
    /// Whether the timeout expired and the tree was killed.
    pub timed_out: bool,
}

/// Why a trace could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// An argument, environment entry, program path or directory contains a NUL byte.
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte {
        /// Which input ("an argument", "an environment variable", …).
        what: &'static str,
        /// The offending value.
        value: OsString,
    },
    /// The tracer thread could not be started.
    #[error("could not start the tracer thread")]
    Thread(#[source] io::Error),
    /// The pipe for the child's errors could not be created.
    #[error("could not create a pipe for the traced process")]
    Pipe(#[source] io::Error),
    /// `fork` failed.
    #[error("could not fork the process to trace")]
    Fork(#[source] io::Error),
    /// `waitpid` failed.
    #[error("could not wait for traced process {pid}")]
    Wait {
        /// The traced command's process.
        pid: i32,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The child ended before it could be traced.
    #[error("process {pid} ended before it could be traced (wait status {status:#x})")]
    Vanished {
        /// The child.
        pid: i32,
        /// Its raw wait status.
        status: i32,
    },
    /// `PTRACE_SEIZE` failed (ptrace not permitted here: Yama, a container's seccomp
    /// policy, or a security module).
    #[error("could not trace process {pid} (PTRACE_SEIZE)")]
    Seize {
        /// The child.
        pid: i32,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A ptrace request on a tracee failed for a reason other than its death.
    #[error("{request} on traced process {pid} failed")]
    Ptrace {
        /// The request, e.g. `PTRACE_CONT`.
        request: &'static str,
        /// The tracee.
        pid: i32,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The child could not change to the working directory.
    #[error("process {pid} could not change to the working directory {cwd}")]
    Chdir {
        /// The child.
        pid: i32,
        /// The directory.
        cwd: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The seccomp filter could not be installed in the child.
    #[error("could not install the tracing seccomp filter in process {pid}")]
    Seccomp {
        /// The child.
        pid: i32,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The caller's pre-exec hook failed.
    #[error("the pre-exec hook failed in process {pid}")]
    PreExec {
        /// The child.
        pid: i32,
        /// The errno it returned.
        #[source]
        source: io::Error,
    },
    /// `execve` failed.
    #[error("process {pid} could not execute {program}")]
    Exec {
        /// The child.
        pid: i32,
        /// The program.
        program: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Traces `cmd` and every process it starts until the last of them has ended, sending
/// each [`Event`] to `sink` as it happens.
///
/// Blocks the calling thread; the tracing itself runs on a thread of its own. The
/// command's standard input, output and error are this process's. Sending never blocks,
/// and a sink whose receiver is gone only makes events count as dropped. On timeout the
/// whole tree is killed with SIGKILL and the outcome says so.
pub fn trace(cmd: TraceCommand, sink: Sender<Event>) -> Result<TraceOutcome, TraceError> {
    let thread = std::thread::Builder::new()
        .name("nono-tracer".to_owned())
        .spawn(move || run(cmd, sink))
        .map_err(TraceError::Thread)?;
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The `execve` arguments, built before the fork so the child allocates nothing.
struct ExecArgs {
    program: CString,
    cwd: CString,
    /// Owns the strings `argv` and `envp` point into.
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl ExecArgs {
    fn new(cmd: &TraceCommand) -> Result<Self, TraceError> {
        fn c_string(what: &'static str, bytes: Vec<u8>) -> Result<CString, TraceError> {
            CString::new(bytes).map_err(|err| TraceError::NulByte {
                what,
                value: std::os::unix::ffi::OsStringExt::from_vec(err.into_vec()),
            })
        }
        let program = c_string(
            "the program path",
            cmd.program.as_os_str().as_bytes().to_vec(),
        )?;
        let cwd = c_string(
            "the working directory",
            cmd.cwd.as_os_str().as_bytes().to_vec(),
        )?;
        let mut strings = Vec::with_capacity(cmd.argv.len() + cmd.env.len());
        for arg in &cmd.argv {
            strings.push(c_string("an argument", arg.as_bytes().to_vec())?);
        }
        for (name, value) in &cmd.env {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            strings.push(c_string("an environment variable", entry)?);
        }
        let pointers = |range: &[CString]| {
            range
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        let argv = pointers(&strings[..cmd.argv.len()]);
        let envp = pointers(&strings[cmd.argv.len()..]);
        Ok(ExecArgs {
            program,
            cwd,
            _strings: strings,
            argv,
            envp,
        })
    }
}

/// Our child, killed and reaped on drop unless the trace loop reaped it.
pub(crate) struct Child {
    pub(crate) pid: pid_t,
    pub(crate) reaped: bool,
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.reaped = true;
        let _ = sys::kill(self.pid, libc::SIGKILL);
        // Collect it (and, if it was traced, its trace stops) until it is gone.
        while let Ok(status) = sys::wait_child(self.pid) {
            if !libc::WIFSTOPPED(status) {
                break;
            }
        }
    }
}

/// Forks the process that will run `cmd` (see [`sys::fork_child`]): it waits as
/// `start` says, installs `filter` if any, runs the caller's pre-exec hook (taken out of
/// `cmd`) and executes the program. Returns the child, guarded, and the read end of the
/// pipe on which it reports a failure before `execve` (see [`child_error`]).
pub(crate) fn launch(
    cmd: &mut TraceCommand,
    start: sys::Start,
    filter: Option<&[libc::sock_filter]>,
) -> Result<(Child, OwnedFd), TraceError> {
    let args = ExecArgs::new(cmd)?;
    let (error_read, error_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| TraceError::Pipe(e.into()))?;
    let mut hook = cmd.pre_exec.take();
    let mut plan = sys::ChildPlan {
        program: &args.program,
        argv: &args.argv,
        envp: &args.envp,
        cwd: &args.cwd,
        start,
        filter,
        error_pipe: error_write.as_fd(),
        pre_exec: hook
            .as_deref_mut()
            .map(|hook| hook as &mut (dyn FnMut() -> Result<(), i32> + Send)),
    };
    let pid = sys::fork_child(&mut plan).map_err(TraceError::Fork)?;
    Ok((Child { pid, reaped: false }, error_read))
}

/// Runs on the tracer thread: launch, trace, report.
fn run(mut cmd: TraceCommand, sink: Sender<Event>) -> Result<TraceOutcome, TraceError> {
    let program = filter::program();
    let start = Instant::now();
    let (mut child, error_read) = launch(&mut cmd, sys::Start::Sigstop, Some(&program))?;
    let pid = child.pid;

    let status = sys::wait_child(pid).map_err(|source| TraceError::Wait { pid, source })?;
    if !libc::WIFSTOPPED(status) {
        child.reaped = true;
        return Err(
            child_error(pid, &cmd, error_read).unwrap_or(TraceError::Vanished { pid, status })
        );
    }
    sys::seize(pid).map_err(|source| TraceError::Seize { pid, source })?;
    // Ends the child's SIGSTOP properly (a bare PTRACE_CONT would leave the process marked
    // as group-stopped); the loop sees the resulting stops like any other.
    sys::kill(pid, libc::SIGCONT).map_err(|source| TraceError::Ptrace {
        request: "SIGCONT",
        pid,
        source,
    })?;

    let killer = cmd.timeout.map(|_| Arc::new(tracer::Killer::default()));
    let (done, watchdog) = match (cmd.timeout, &killer) {
        (Some(timeout), Some(killer)) => {
            let killer = Arc::clone(killer);
            let (done, finished) = mpsc::channel::<()>();
            let deadline = start + timeout;
            let watchdog = std::thread::Builder::new()
                .name("nono-tracer-timeout".to_owned())
                .spawn(move || {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(left) {
                        killer.fire();
                    }
                })
                .map_err(TraceError::Thread)?;
            (Some(done), Some(watchdog))
        }
        _ => (None, None),
    };

    let outcome = tracer::Tracer::new(pid, sink, start, killer.clone()).run();
    drop(done);
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    let outcome = outcome?;
    let duration = start.elapsed();
    child.reaped = true;
    if let Some(err) = child_error(pid, &cmd, error_read) {
        return Err(err);
    }
    Ok(TraceOutcome {
        // Only missing if the child was never seen to end, which waitpid rules out.
        exit_code: outcome.exit_code.unwrap_or(128 + libc::SIGKILL),
        events: outcome.events,
        dropped: outcome.dropped,
        duration,
        timed_out: killer.is_some_and(|killer| killer.timed_out()),
    })
}

/// The failure the child reported through the error pipe, if any. Call it only once the
/// child has ended (so the report, if any, is complete).
pub(crate) fn child_error(pid: pid_t, cmd: &TraceCommand, pipe: OwnedFd) -> Option<TraceError> {
    let mut report = [0u8; 8];
    let mut file = std::fs::File::from(pipe);
    // The write end is closed (exec or exit) unless a grandchild forked by the hook holds
    // it; the child writes its report before it exits, so a short read means no report.
    nix::fcntl::fcntl(
        file.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .ok()?;
    file.read_exact(&mut report).ok()?;
    let step = u32::from_ne_bytes(report[..4].try_into().ok()?);
    let errno = i32::from_ne_bytes(report[4..].try_into().ok()?);
    let source = io::Error::from_raw_os_error(errno);
    Some(match sys::ChildStep::from_raw(step)? {
        sys::ChildStep::Stop => TraceError::Seize { pid, source },
        sys::ChildStep::Chdir => TraceError::Chdir {
            pid,
            cwd: cmd.cwd.clone(),
            source,
        },
        sys::ChildStep::Seccomp => TraceError::Seccomp { pid, source },
        sys::ChildStep::PreExec => TraceError::PreExec { pid, source },
        sys::ChildStep::Exec => TraceError::Exec {
            pid,
            program: cmd.program.clone(),
            source,
        },
    })
}
