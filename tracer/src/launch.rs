//! Starting the traced command, shared by both backends: what to trace
//! ([`TraceCommand`]), how it ended ([`TraceOutcome`], [`TraceError`]), and the fork
//! and `execve` of the child with the error pipe that says why it did not start.

use std::ffi::{CString, OsString};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libc::pid_t;

use crate::sys::process as sys;

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
