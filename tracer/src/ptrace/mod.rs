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
mod tracer;

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Instant;

use crate::event::Event;

#[cfg(doc)]
use crate::event::EventKind;

pub use crate::launch::{PreExec, TraceCommand, TraceError, TraceOutcome, TraceProgress};
use crate::launch::{child_error, launch};
use crate::sys::process as sys;

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
