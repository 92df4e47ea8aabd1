//! Running a command in a sandboxed child while the caller stays outside as a small
//! supervisor.
//!
//! The child is forked, applies the prepared sandbox (allocating nothing between
//! `fork` and `exec`), and executes the command. A failure in the child — a sandbox
//! step or `execve` itself — travels back over a close-on-exec pipe as the step and the
//! errno, so the caller reports "cannot execute …: Permission denied" instead of a bare
//! exit code. An empty pipe at EOF means `execve` succeeded.
//!
//! The child stays in the caller's process group, so it remains in the terminal's
//! foreground group and receives keyboard signals (Ctrl-C, Ctrl-Z, window changes)
//! straight from the terminal. Signals *sent to the supervisor* by another process
//! (`kill`, a service manager) are forwarded to the child; keyboard signals, which the
//! child already received, are not forwarded twice. The child dies with the supervisor
//! (`PR_SET_PDEATHSIG`).

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::sandbox::{ChildError, Prepared, Step, sys};
use crate::terminal::Relay;

/// A command to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program as given (`python3`, `./x`, `/bin/sh`).
    pub program: OsString,
    /// Arguments after the program.
    pub args: Vec<OsString>,
    /// The complete environment.
    pub env: Vec<(OsString, OsString)>,
    /// Where relative program paths are resolved (the sandbox's working directory).
    pub cwd: PathBuf,
}

/// Running the command failed before it started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The program was not found.
    #[error("command not found: {}{}", program.to_string_lossy(), if *searched_path { " (searched $PATH)" } else { "" })]
    NotFound {
        /// The program as given.
        program: OsString,
        /// Whether `$PATH` was searched.
        searched_path: bool,
    },
    /// A sandbox step failed in the child.
    #[error("cannot apply the sandbox in the child ({}): {}", step, io::Error::from_raw_os_error(*errno))]
    Setup {
        /// The step.
        step: Step,
        /// The errno.
        errno: i32,
    },
    /// `execve` failed.
    #[error("cannot execute {}: {}", path.display(), io::Error::from_raw_os_error(*errno))]
    Exec {
        /// The program.
        path: PathBuf,
        /// The errno.
        errno: i32,
    },
    /// An argument or variable contains a NUL byte.
    #[error("argument or environment variable contains a NUL byte: {0:?}")]
    Nul(OsString),
    /// A system call in the supervisor failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        error: io::Error,
    },
}

impl ExecError {
    /// The exit code a shell would use: 127 for "not found", 126 for "cannot execute".
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::NotFound { .. } => 127,
            ExecError::Exec { errno, .. } if *errno == libc::ENOENT => 127,
            ExecError::Exec { .. } => 126,
            _ => 1,
        }
    }
}

fn io_err(what: &'static str) -> impl Fn(nix::Error) -> ExecError {
    move |e| ExecError::Io {
        what,
        error: io::Error::from_raw_os_error(e as i32),
    }
}

/// Finds `program` like a shell: a name with a `/` is a path (relative to `cwd`),
/// anything else is searched in `path_var`. Only regular files count as found.
pub fn resolve_program(
    program: &OsStr,
    path_var: Option<&OsStr>,
    cwd: &Path,
) -> Result<PathBuf, ExecError> {
    let bytes = program.as_bytes();
    if bytes.is_empty() {
        return Err(ExecError::NotFound {
            program: program.into(),
            searched_path: false,
        });
    }
    if bytes.contains(&b'/') {
        let path = cwd.join(program);
        return if path.exists() {
            Ok(path)
        } else {
            Err(ExecError::NotFound {
                program: program.into(),
                searched_path: false,
            })
        };
    }
    let search = path_var.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let mut first_non_executable = None;
    for dir in search.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            first_non_executable.get_or_insert(candidate);
        }
    }
    first_non_executable.ok_or_else(|| ExecError::NotFound {
        program: program.into(),
        searched_path: true,
    })
}

/// The signals the supervisor handles through a signalfd.
fn supervised_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(sig);
    }
    set
}

/// A running sandboxed child.
#[derive(Debug)]
pub struct Child {
    /// Its process id.
    pub pid: Pid,
    /// It leads its own process group (captured runs).
    group: bool,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    old_mask: SigSet,
    /// The command's raw wait status, written by the PID namespace's init (which is
    /// [`Child::pid`] then) before it exits.
    status: Option<OwnedFd>,
    /// The user's terminal relayed to the command's.
    relay: Option<Relay>,
    /// The command's final wait status, when it came through [`Child::status`]
    /// while relaying.
    command_status: Option<i32>,
}

/// How a child ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code, or 128 + the signal number.
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// Captured stdout (empty unless captured).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty unless captured).
    pub stderr: Vec<u8>,
    /// The timeout expired and the child was killed.
    pub timed_out: bool,
}

struct Argv {
    path: CString,
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

fn c(s: &OsStr) -> Result<CString, ExecError> {
    CString::new(s.as_bytes()).map_err(|_| ExecError::Nul(s.into()))
}

fn build_argv(path: &Path, cmd: &CommandSpec) -> Result<Argv, ExecError> {
    let mut strings = Vec::with_capacity(cmd.args.len() + cmd.env.len() + 1);
    strings.push(c(&cmd.program)?);
    for arg in &cmd.args {
        strings.push(c(arg)?);
    }
    let argc = strings.len();
    for (name, value) in &cmd.env {
        let mut pair = name.clone();
        pair.push("=");
        pair.push(value);
        strings.push(c(&pair)?);
    }
    let mut argv: Vec<_> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<_> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    Ok(Argv {
        path: c(path.as_os_str())?,
        _strings: strings,
        argv,
        envp,
    })
}

/// Forks a child that applies `sandbox` and executes `path` (already resolved).
///
/// With `capture`, the child's stdout and stderr go to pipes read by [`Child::wait`];
/// otherwise it shares the caller's. Supervised signals stay blocked in the caller
/// until [`Child::wait`] returns.
pub fn spawn(
    sandbox: &mut Prepared,
    path: &Path,
    cmd: &CommandSpec,
    capture: bool,
) -> Result<Child, ExecError> {
    spawn_inner(sandbox, path, cmd, capture, None)
}

/// Like [`spawn`] without capture, with the command on `relay`'s pseudo-terminal as
/// its controlling terminal, in a session of its own; [`Child::wait`] relays.
pub fn spawn_relayed(
    sandbox: &mut Prepared,
    path: &Path,
    cmd: &CommandSpec,
    relay: Relay,
) -> Result<Child, ExecError> {
    spawn_inner(sandbox, path, cmd, false, Some(relay))
}

/// The command's process, after the sandbox is applied: attaches its terminal and
/// executes it. Returns only on failure.
fn exec_command(argv: &Argv, tty: Option<(RawFd, u8)>) -> ChildError {
    if let Some((fd, which)) = tty
        && let Err(errno) = sys::attach_terminal(fd, which)
    {
        return ChildError {
            step: Step::Init,
            errno,
        };
    }
    // SAFETY: argv and envp are NULL-terminated arrays of live C strings.
    let errno = unsafe { sys::execve(&argv.path, argv.argv.as_ptr(), argv.envp.as_ptr()) };
    ChildError {
        step: Step::Exec,
        errno,
    }
}

fn spawn_inner(
    sandbox: &mut Prepared,
    path: &Path,
    cmd: &CommandSpec,
    capture: bool,
    mut relay: Option<Relay>,
) -> Result<Child, ExecError> {
    let argv = build_argv(path, cmd)?;
    let (status_r, status_w) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err("creating a pipe"))?;
    let tty = relay.as_ref().and_then(Relay::child_side);
    // With a relay, the child opens the command's terminal in the sandbox's own devpts
    // and sends its master back over this socket (the host's pair is the fallback).
    let pty_socket = if tty.is_some() {
        let mut pair = [-1; 2];
        // SAFETY: socketpair writes two descriptors into the array, owned below.
        let ret = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        };
        if ret < 0 {
            return Err(ExecError::Io {
                what: "creating a socket pair",
                error: io::Error::last_os_error(),
            });
        }
        use std::os::fd::FromRawFd;
        // SAFETY: both descriptors were just created and are owned by nobody else.
        Some(unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) })
    } else {
        None
    };
    let (report_r, report_w) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err("creating a pipe"))?;
    let outputs = if capture {
        let out = pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err("creating a pipe"))?;
        let err = pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err("creating a pipe"))?;
        Some((out, err))
    } else {
        None
    };
    let mut old_mask = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&supervised_signals()),
        Some(&mut old_mask),
    )
    .map_err(io_err("blocking signals"))?;
    let supervisor = nix::unistd::getpid();
    // The child is created in the sandbox's namespaces (all of them in one place:
    // `Prepared::clone_namespaces`). In a PID namespace it is its init: it forks the
    // command once the sandbox is applied, and reaps.
    let namespaces = sandbox.clone_namespaces();
    let pid_namespace = sandbox.pid_namespace();
    // SAFETY: the child only calls async-signal-safe functions (dup2, prctl, the
    // sandbox's raw system calls, write, execve, _exit) on memory prepared above; it
    // allocates nothing and takes no locks before exec.
    let forked = sys::clone_process(namespaces);
    match forked {
        Err(errno) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            Err(ExecError::Io {
                what: if namespaces == 0 {
                    "forking"
                } else {
                    "starting the command in new namespaces (clone)"
                },
                error: io::Error::from_raw_os_error(errno),
            })
        }
        Ok(0) => {
            if let Some(((_, out_w), (_, err_w))) = &outputs {
                // SAFETY: dup2 onto the standard descriptors; the originals are CLOEXEC.
                unsafe {
                    libc::dup2(out_w.as_raw_fd(), 1);
                    libc::dup2(err_w.as_raw_fd(), 2);
                }
            }
            // SAFETY: prctl/getppid with integer arguments.
            unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                // In a PID namespace the parent has no pid (0).
                let parent = libc::getppid();
                if parent != supervisor.as_raw() && !(pid_namespace && parent == 0) {
                    libc::_exit(1);
                }
            }
            sys::reset_signals();
            sys::cloexec_from_3();
            let applied = sandbox.apply_in_child();
            let tty = match (tty, &pty_socket) {
                (Some((host, which)), Some((_, sock))) if applied.is_ok() => {
                    let sock = sock.as_raw_fd();
                    let inside = sys::open_private_pty().and_then(|(master, slave)| {
                        let sent = sys::send_fd(sock, master);
                        sys::close(master);
                        match sent {
                            Ok(()) => Ok(slave),
                            Err(e) => {
                                sys::close(slave);
                                Err(e)
                            }
                        }
                    });
                    sys::close(sock);
                    match inside {
                        Ok(slave) => {
                            sys::close(host);
                            Some((slave, which))
                        }
                        Err(_) => Some((host, which)),
                    }
                }
                (tty, _) => tty,
            };
            let error = match applied {
                Ok(()) if pid_namespace => {
                    // The init is a copy of the supervisor, environment (with the
                    // variables withheld from the command) and memory included, and
                    // the command's ancestor: not dumpable, so that its /proc entries
                    // (environ, mem, maps, fd, root, cwd) stay closed to the command.
                    sys::set_not_dumpable();
                    sys::block_all_signals();
                    match sys::clone_process(0) {
                        Ok(0) => {
                            sys::reset_signals();
                            exec_command(&argv, tty)
                        }
                        Ok(command) => {
                            // The init keeps nothing anyone waits on (the report
                            // pipe, the terminal, another thread's pipes).
                            sys::close_from_3_except(status_w.as_raw_fd());
                            sys::run_as_init(command, status_w.as_raw_fd(), tty.is_some())
                        }
                        Err(errno) => ChildError {
                            step: Step::Init,
                            errno,
                        },
                    }
                }
                Ok(()) => exec_command(&argv, tty),
                Err(e) => e,
            };
            let mut message = [0u8; 5];
            message[0] = error.step as u8;
            message[1..].copy_from_slice(&error.errno.to_ne_bytes());
            // SAFETY: writing a stack buffer to our pipe, then exiting without running
            // any destructor or atexit handler of the parent's image.
            unsafe {
                libc::write(report_w.as_raw_fd(), message.as_ptr().cast(), message.len());
                libc::_exit(if error.step == Step::Exec && error.errno == libc::ENOENT {
                    127
                } else {
                    126
                });
            }
        }
        Ok(child) => {
            let child = Pid::from_raw(child);
            drop(status_w);
            if let Some(relay) = &mut relay {
                let inside = pty_socket.and_then(|(ours, theirs)| {
                    drop(theirs);
                    sys::recv_fd(ours.as_raw_fd())
                });
                relay.started(inside);
            }
            if capture {
                // Also from this side, so the group exists before anyone signals it.
                let _ = nix::unistd::setpgid(child, child);
            }
            drop(report_w);
            let mut report = Vec::new();
            let read = std::fs::File::from(report_r).read_to_end(&mut report);
            let (stdout, stderr) = match outputs {
                Some(((out_r, out_w), (err_r, err_w))) => {
                    drop(out_w);
                    drop(err_w);
                    (Some(out_r), Some(err_r))
                }
                None => (None, None),
            };
            if let (Ok(_), [step, e0, e1, e2, e3]) = (read, report.as_slice()) {
                let _ = waitpid(child, None);
                let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
                let errno = i32::from_ne_bytes([*e0, *e1, *e2, *e3]);
                let step = Step::from_u8(*step).unwrap_or(Step::Exec);
                return Err(match step {
                    Step::Exec => ExecError::Exec {
                        path: path.to_path_buf(),
                        errno,
                    },
                    step => ExecError::Setup { step, errno },
                });
            }
            Ok(Child {
                pid: child,
                group: capture,
                stdout,
                stderr,
                old_mask,
                status: pid_namespace.then_some(status_r),
                relay,
                command_status: None,
            })
        }
    }
}

/// `pidfd_open(2)`: a descriptor that becomes readable when `pid` exits.
fn pidfd_open(pid: Pid) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: integer arguments; the result is a new descriptor we own, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

fn signal_code(status: WaitStatus) -> Option<(i32, Option<i32>)> {
    match status {
        WaitStatus::Exited(_, code) => Some((code, None)),
        WaitStatus::Signaled(_, sig, _) => Some((128 + sig as i32, Some(sig as i32))),
        _ => None,
    }
}

impl Child {
    /// How the command ended, from the child's wait status: in a PID namespace the
    /// child is the init, which passed on the command's own status before exiting (a
    /// killed init, as on a timeout, passed nothing).
    fn code_of(&mut self, status: WaitStatus) -> Option<(i32, Option<i32>)> {
        let code = signal_code(status)?;
        let mut raw = self.command_status;
        while raw.is_none()
            && let Some(status) = self.read_status()
        {
            // Stops reported while nobody followed them are of no interest now.
            raw = Some(status).filter(|s| !libc::WIFSTOPPED(*s));
        }
        match raw {
            Some(raw) if libc::WIFEXITED(raw) => Some((libc::WEXITSTATUS(raw), None)),
            Some(raw) if libc::WIFSIGNALED(raw) => {
                let sig = libc::WTERMSIG(raw);
                Some((128 + sig, Some(sig)))
            }
            _ => Some(code),
        }
    }

    /// One wait status from the init (`None` at the end).
    fn read_status(&mut self) -> Option<i32> {
        let fd = self.status.as_ref()?.as_raw_fd();
        let mut raw = [0u8; 4];
        // SAFETY: reading into a stack buffer from our pipe.
        let n = unsafe { libc::read(fd, raw.as_mut_ptr().cast(), raw.len()) };
        if n == 4 {
            Some(i32::from_ne_bytes(raw))
        } else {
            self.status = None;
            None
        }
    }

    /// The command stopped (`Ctrl-Z` on its relayed terminal): give the user's
    /// terminal back, stop nono itself so that the shell sees the job stop, and once
    /// continued (`fg`), take the terminal again and continue the command.
    fn follow_stop(&mut self) {
        if let Some(relay) = &mut self.relay {
            relay.drain_output();
            relay.restore();
        }
        let _ = kill(nix::unistd::getpid(), Signal::SIGSTOP);
        if let Some(relay) = &self.relay {
            relay.enter_raw();
            relay.resize();
        }
        let _ = kill(self.pid, Signal::SIGCONT);
    }

    /// Waits for the child, forwarding signals sent to the supervisor, reading
    /// captured output, and killing the child when `timeout` expires.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<Outcome, ExecError> {
        let result = self.wait_inner(timeout);
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        result
    }

    fn wait_inner(&mut self, timeout: Option<Duration>) -> Result<Outcome, ExecError> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let sfd = SignalFd::with_flags(
            &supervised_signals(),
            SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
        )
        .map_err(io_err("creating a signalfd"))?;
        // The child's exit is seen through a pidfd too: SIGCHLD is blocked only in this
        // thread, so in a process with other threads (a test harness, a Python
        // program using the SDK) the kernel may deliver it to another thread, where it
        // is discarded, and the signalfd alone would wait for ever. Without pidfds
        // (Linux < 5.3) the wait is polled every 100 ms instead.
        let pidfd = pidfd_open(self.pid);
        let mut deadline = timeout.map(|t| Instant::now() + t);
        let mut killed = false;
        let mut outcome = Outcome {
            code: 0,
            signal: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            timed_out: false,
        };
        let mut exited: Option<(i32, Option<i32>)> = None;
        let mut buf = [0u8; 16384];
        loop {
            // Reap first: SIGCHLD may have been merged or consumed.
            if exited.is_none()
                && let Ok(status) = waitpid(self.pid, Some(WaitPidFlag::WNOHANG))
            {
                exited = self.code_of(status);
            }
            if exited.is_some() && self.stdout.is_none() && self.stderr.is_none() {
                // What the command's terminal still holds; processes it left behind
                // (without a PID namespace) are not waited for.
                if let Some(relay) = &mut self.relay {
                    relay.drain_output();
                }
                break;
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                if !killed {
                    // The whole group when there is one: descendants hold the pipes.
                    let target = if self.group {
                        Pid::from_raw(-self.pid.as_raw())
                    } else {
                        self.pid
                    };
                    let _ = kill(target, Signal::SIGKILL);
                    // And the child itself, should the group not (yet) exist: a
                    // blocking wait below must never wait out the command.
                    let _ = kill(self.pid, Signal::SIGKILL);
                    killed = true;
                    outcome.timed_out = exited.is_none();
                    if exited.is_none() {
                        let status =
                            waitpid(self.pid, None).map_err(io_err("waiting for the child"))?;
                        exited = self.code_of(status);
                    }
                    // Whatever escaped the group may keep a pipe open: read briefly, then stop.
                    deadline = Some(Instant::now() + Duration::from_millis(500));
                    continue;
                }
                break;
            }
            let cap = if pidfd.is_none() && exited.is_none() {
                100
            } else {
                60_000
            };
            let wait_ms = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(left.as_millis().clamp(1, cap) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
                None if cap < 60_000 => PollTimeout::from(cap as u16),
                None => PollTimeout::NONE,
            };
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            // Readable once the child has exited; reaped at the top of the loop.
            let watch_exit = exited.is_none() && pidfd.is_some();
            if let (true, Some(fd)) = (watch_exit, &pidfd) {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            if let Some(fd) = &self.stdout {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            if let Some(fd) = &self.stderr {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            // While relaying, the init reports the command's stops as they happen.
            let follow = self.relay.is_some() && self.command_status.is_none();
            let status_fd = self
                .status
                .as_ref()
                .filter(|_| follow)
                .map(|fd| fd.as_raw_fd());
            if let Some(fd) = status_fd {
                // SAFETY: the pipe stays open while polling.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            let status_index = fds.len() - 1;
            let relayed = self.relay.as_ref().map(Relay::poll_set).unwrap_or_default();
            for (fd, events) in &relayed {
                // SAFETY: the relay's descriptors stay open while polling.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
                fds.push(PollFd::new(fd, PollFlags::from_bits_truncate(*events)));
            }
            match poll(&mut fds, wait_ms) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(io_err("waiting for the child")(e)),
                Ok(_) => {}
            }
            let mut ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
            let relay_events: Vec<libc::c_short> = fds[fds.len() - relayed.len()..]
                .iter()
                .map(|f| f.revents().map_or(0, |r| r.bits()))
                .collect();
            let status_ready = status_fd.is_some() && ready[status_index];
            drop(fds);
            if watch_exit {
                // The pidfd's slot: the indices below count the signalfd, then the pipes.
                ready.remove(1);
            }
            if status_ready && let Some(status) = self.read_status() {
                if libc::WIFSTOPPED(status) {
                    self.follow_stop();
                } else {
                    self.command_status = Some(status);
                }
            }
            if let Some(relay) = &mut self.relay {
                for ((fd, _), revents) in relayed.iter().zip(relay_events) {
                    if revents != 0 {
                        relay.ready(*fd, revents);
                    }
                }
            }
            if ready[0] {
                while let Ok(Some(info)) = sfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    if sig == libc::SIGWINCH {
                        if let Some(relay) = &self.relay {
                            relay.resize();
                        }
                        continue;
                    }
                    // Forward only what another process sent to us: the terminal
                    // already delivered keyboard signals to the child (same group).
                    // A relayed command is on a terminal of its own, which the user's
                    // (raw, so without keyboard signals) does not signal: a hangup
                    // reaches it only through us.
                    let sent_by_process = matches!(
                        info.ssi_code,
                        libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
                    ) || self.relay.is_some();
                    if sig != libc::SIGCHLD && sent_by_process && exited.is_none() {
                        if let Ok(signal) = Signal::try_from(sig) {
                            let _ = kill(self.pid, signal);
                        }
                    }
                }
            }
            let mut index = 1;
            for (slot, sink) in [
                (&mut self.stdout, &mut outcome.stdout),
                (&mut self.stderr, &mut outcome.stderr),
            ] {
                if slot.is_none() {
                    continue;
                }
                if ready[index] {
                    let fd = slot.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
                    // SAFETY: reading into a stack buffer from a pipe we own.
                    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n > 0 {
                        sink.extend_from_slice(&buf[..n as usize]);
                    } else {
                        *slot = None;
                    }
                }
                index += 1;
            }
        }
        let (code, signal) = exited.unwrap_or((1, None));
        outcome.code = code;
        outcome.signal = signal;
        Ok(outcome)
    }
}

/// Runs `cmd` in a sandboxed child with output captured and an optional timeout — the
/// library form of `nono run` (the Python SDK's `sandboxed_exec`).
pub fn run_captured(
    sandbox: &mut Prepared,
    cmd: &CommandSpec,
    timeout: Option<Duration>,
) -> Result<Outcome, ExecError> {
    let path_var = crate::env::get(&cmd.env, "PATH");
    let path = resolve_program(&cmd.program, path_var, &cmd.cwd)?;
    spawn(sandbox, &path, cmd, true)?.wait(timeout)
}
