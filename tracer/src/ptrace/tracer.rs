//! The event loop: one `waitpid` per stop, per-thread and per-process state, and the
//! events they turn into. See the module documentation of `ptrace` for the stop ordering.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use libc::{c_int, pid_t};

use super::TraceError;
use super::decode::{Context, Decoder, Entry, Pending};
use crate::decode::syscalls::{AUDIT_ARCH, Syscall};
use crate::dns::DNS_PORT;
use crate::event::{Event, EventKind, SockAddr};
use crate::sys::process::{self as sys, PTRACE_EVENT_STOP, SyscallStop};

/// The kernel's internal "restart the system call" return values (`ERESTARTSYS` …
/// `ERESTART_RESTARTBLOCK`, `include/linux/errno.h`). A tracer sees them at the exit of a
/// call interrupted by a signal; the call is then restarted, which brings a new seccomp
/// stop, so no event is recorded for the interrupted attempt.
const RESTART_ERRNOS: std::ops::RangeInclusive<i64> = 512..=516;

/// A thread of the traced tree.
#[derive(Debug)]
struct Task {
    /// Its process.
    tgid: pid_t,
    /// The system call it is in, between its seccomp stop and its exit stop.
    pending: Option<Pending>,
}

/// A process (thread group) of the traced tree.
#[derive(Debug)]
struct Process {
    ppid: pid_t,
    exe: Option<PathBuf>,
    /// Sockets connected to port 53, by descriptor, with their peer: a `send` on them
    /// without an address is a DNS question to that peer.
    dns_sockets: HashMap<i32, SockAddr>,
}

/// Kills the traced tree when the timeout expires, from another thread.
///
/// The watchdog thread cannot use plain pids: the tracer reaps processes concurrently, and
/// a reaped pid may be reused by an unrelated process. It signals pidfds instead, which
/// refer to one process forever.
#[derive(Debug, Default)]
pub(super) struct Killer {
    pidfds: Mutex<HashMap<pid_t, OwnedFd>>,
    timed_out: AtomicBool,
}

impl Killer {
    /// Marks the trace as timed out and kills every live process of the tree.
    pub(super) fn fire(&self) {
        self.timed_out.store(true, Ordering::SeqCst);
        let pidfds = self.pidfds.lock().unwrap_or_else(PoisonError::into_inner);
        for pidfd in pidfds.values() {
            // ESRCH: it is already gone.
            let _ = sys::pidfd_kill(pidfd.as_fd(), libc::SIGKILL);
        }
    }

    /// Whether [`fire`](Self::fire) was called.
    pub(super) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    fn add(&self, pid: pid_t) {
        if let Ok(pidfd) = sys::pidfd_open(pid) {
            let mut pidfds = self.pidfds.lock().unwrap_or_else(PoisonError::into_inner);
            pidfds.insert(pid, pidfd);
        }
    }

    fn remove(&self, pid: pid_t) {
        let mut pidfds = self.pidfds.lock().unwrap_or_else(PoisonError::into_inner);
        pidfds.remove(&pid);
    }
}

/// What the loop learned by the time the last tracee was gone.
#[derive(Debug)]
pub(super) struct LoopOutcome {
    /// The initial child's exit status (or 128 + signal), if its end was seen.
    pub exit_code: Option<i32>,
    /// Events handed to the sink.
    pub events: u64,
    /// Events the sink refused (its receiver was gone).
    pub dropped: u64,
}

/// How to let a stopped tracee go on.
enum Resume {
    /// `PTRACE_CONT` (or `PTRACE_SYSCALL` while a system call waits for its exit),
    /// delivering this signal (0 for none).
    Continue(c_int),
    /// `PTRACE_LISTEN`: it is in a group-stop and must stay stopped.
    Listen,
}

/// The tracer's state.
pub(super) struct Tracer {
    sink: Sender<Event>,
    start: Instant,
    seq: u64,
    sent: u64,
    dropped: u64,
    tasks: HashMap<pid_t, Task>,
    processes: HashMap<pid_t, Process>,
    /// The traced command's process.
    initial: pid_t,
    /// Whether the command's process has executed the program: before that, its system
    /// calls are the tracer's own set-up (the pre-exec hook) and are not recorded.
    initial_execed: bool,
    exit_code: Option<i32>,
    decoder: Decoder,
    killer: Option<Arc<Killer>>,
}

impl Tracer {
    /// A tracer for the seized process `initial`, whose parent is this process.
    pub(super) fn new(
        initial: pid_t,
        sink: Sender<Event>,
        start: Instant,
        killer: Option<Arc<Killer>>,
    ) -> Self {
        let mut tracer = Tracer {
            sink,
            start,
            seq: 0,
            sent: 0,
            dropped: 0,
            tasks: HashMap::new(),
            processes: HashMap::new(),
            initial,
            initial_execed: false,
            exit_code: None,
            decoder: Decoder::default(),
            killer,
        };
        tracer.add_process(initial, sys::getpid(), None, HashMap::new());
        tracer
    }

    /// Runs until no tracee is left.
    pub(super) fn run(mut self) -> Result<LoopOutcome, TraceError> {
        loop {
            if self
                .killer
                .as_ref()
                .is_some_and(|killer| killer.timed_out())
            {
                // The watchdog killed what it knew of; kill what appeared since. These
                // pids are safe to signal: their deaths have not been collected yet.
                for &pid in self.processes.keys() {
                    let _ = sys::kill(pid, libc::SIGKILL);
                }
            }
            let (tid, status) = match sys::wait_any() {
                Ok(stop) => stop,
                Err(err) if err.raw_os_error() == Some(libc::ECHILD) => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(TraceError::Wait {
                        pid: self.initial,
                        source,
                    });
                }
            };
            if libc::WIFEXITED(status) {
                self.on_exit(tid, libc::WEXITSTATUS(status));
            } else if libc::WIFSIGNALED(status) {
                self.on_exit(tid, 128 + libc::WTERMSIG(status));
            } else if libc::WIFSTOPPED(status) {
                self.on_stop(tid, status)?;
            }
        }
        Ok(LoopOutcome {
            exit_code: self.exit_code,
            events: self.sent,
            dropped: self.dropped,
        })
    }

    fn on_stop(&mut self, tid: pid_t, status: c_int) -> Result<(), TraceError> {
        if !self.tasks.contains_key(&tid) {
            self.adopt(tid);
        }
        let signal = libc::WSTOPSIG(status);
        let event = status >> 16;
        let resume = match (signal, event) {
            (s, 0) if s == libc::SIGTRAP | 0x80 => {
                self.on_syscall_stop(tid);
                Resume::Continue(0)
            }
            (libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP) => {
                self.on_seccomp(tid);
                Resume::Continue(0)
            }
            (libc::SIGTRAP, libc::PTRACE_EVENT_FORK)
            | (libc::SIGTRAP, libc::PTRACE_EVENT_VFORK)
            | (libc::SIGTRAP, libc::PTRACE_EVENT_CLONE) => {
                self.on_new_task(tid, event);
                Resume::Continue(0)
            }
            (libc::SIGTRAP, libc::PTRACE_EVENT_EXEC) => {
                self.on_exec(tid);
                Resume::Continue(0)
            }
            // Under PTRACE_SEIZE a group-stop is PTRACE_EVENT_STOP with the stop signal;
            // the same event with SIGTRAP is the start of a new tracee, or the end of a
            // group-stop after SIGCONT.
            (libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU, PTRACE_EVENT_STOP) => {
                Resume::Listen
            }
            (_, PTRACE_EVENT_STOP) => Resume::Continue(0),
            // A signal-delivery-stop: deliver the signal.
            (signal, 0) => Resume::Continue(signal),
            _ => Resume::Continue(0),
        };
        self.resume(tid, resume)
    }

    fn resume(&mut self, tid: pid_t, resume: Resume) -> Result<(), TraceError> {
        let (request, result) = match resume {
            Resume::Listen => ("PTRACE_LISTEN", sys::listen(tid)),
            Resume::Continue(signal) => {
                if self
                    .tasks
                    .get(&tid)
                    .is_some_and(|task| task.pending.is_some())
                {
                    ("PTRACE_SYSCALL", sys::syscall(tid, signal))
                } else {
                    ("PTRACE_CONT", sys::cont(tid, signal))
                }
            }
        };
        match result {
            // The tracee was killed meanwhile (SIGKILL, or another thread's exec or
            // exit_group); its death is reported by waitpid.
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(source) => Err(TraceError::Ptrace {
                request,
                pid: tid,
                source,
            }),
            Ok(()) => Ok(()),
        }
    }

    /// A seccomp stop: decode the call; what needs its result waits for the exit stop.
    fn on_seccomp(&mut self, tid: pid_t) {
        let Ok(SyscallStop::Seccomp {
            arch,
            nr,
            args,
            ret_data,
        }) = sys::syscall_info(tid)
        else {
            return;
        };
        // Another filter in the tracee (the program's own, or the pre-exec hook's) may
        // return SECCOMP_RET_TRACE with data of its own: only our verdicts are decoded.
        let Some(syscall) = Syscall::from_index(ret_data)
            .filter(|syscall| arch == AUDIT_ARCH && syscall.number() == Some(nr as libc::c_long))
        else {
            return;
        };
        let Some(tgid) = self.tasks.get(&tid).map(|task| task.tgid) else {
            return;
        };
        if tgid == self.initial
            && !self.initial_execed
            && !matches!(syscall, Syscall::Execve | Syscall::Execveat)
        {
            return;
        }
        let no_sockets = HashMap::new();
        let cx = Context {
            tid,
            dns_sockets: self
                .processes
                .get(&tgid)
                .map_or(&no_sockets, |process| &process.dns_sockets),
        };
        match self.decoder.entry(syscall, &args, &cx) {
            Entry::Skip => {}
            Entry::Dns { questions, server } => {
                for question in questions {
                    self.emit(
                        tgid,
                        EventKind::Dns {
                            name: question.name,
                            qtype: question.qtype,
                            server: server.clone(),
                        },
                    );
                }
            }
            Entry::Pending(pending) => {
                if let Some(task) = self.tasks.get_mut(&tid) {
                    task.pending = Some(pending);
                }
            }
        }
    }

    /// A syscall-exit stop (reached with PTRACE_SYSCALL after a seccomp stop): record the
    /// result.
    fn on_syscall_stop(&mut self, tid: pid_t) {
        let Ok(SyscallStop::Exit { rval, is_error }) = sys::syscall_info(tid) else {
            return;
        };
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        let tgid = task.tgid;
        let Some(pending) = task.pending.take() else {
            return;
        };
        if is_error && RESTART_ERRNOS.contains(&-rval) {
            return;
        }
        let result = if is_error { rval as i32 } else { 0 };
        if let Pending::Connect { fd, addr } = &pending {
            if result == 0 || result == -libc::EINPROGRESS {
                if let Some(process) = self.processes.get_mut(&tgid) {
                    if addr.port() == Some(DNS_PORT) {
                        process.dns_sockets.insert(*fd, addr.clone());
                    } else {
                        process.dns_sockets.remove(fd);
                    }
                }
            }
        }
        self.emit(tgid, pending.finish(result));
    }

    /// A fork, vfork or clone event of `parent`: the new task is already attached.
    fn on_new_task(&mut self, parent: pid_t, event: c_int) {
        let Ok(new) = sys::event_message(parent) else {
            return;
        };
        let new = new as pid_t;
        if self.tasks.contains_key(&new) {
            // Its first stop came before this event and adopted it.
            return;
        }
        let Some(tgid) = self.tasks.get(&parent).map(|task| task.tgid) else {
            return;
        };
        let thread = event == libc::PTRACE_EVENT_CLONE
            && Path::new(&format!("/proc/{tgid}/task/{new}")).exists();
        if thread {
            self.tasks.insert(
                new,
                Task {
                    tgid,
                    pending: None,
                },
            );
        } else {
            let (exe, dns_sockets) = self
                .processes
                .get(&tgid)
                .map(|p| (p.exe.clone(), p.dns_sockets.clone()))
                .unwrap_or_default();
            self.add_process(new, tgid, exe, dns_sockets);
        }
    }

    /// A stop of a task we have not heard of: a new task whose first stop arrived before
    /// its creator's fork/clone event. Its process and parent come from /proc.
    fn adopt(&mut self, tid: pid_t) {
        let status = fs::read_to_string(format!("/proc/{tid}/status")).unwrap_or_default();
        let field = |name: &str| -> Option<pid_t> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.trim().parse().ok())
        };
        let tgid = field("Tgid:").unwrap_or(tid);
        let ppid = field("PPid:").unwrap_or(0);
        if tgid != tid {
            if !self.processes.contains_key(&tgid) {
                self.adopt_process(tgid, ppid);
            }
            self.tasks.insert(
                tid,
                Task {
                    tgid,
                    pending: None,
                },
            );
        } else {
            self.adopt_process(tid, ppid);
        }
    }

    fn adopt_process(&mut self, pid: pid_t, ppid: pid_t) {
        let (exe, dns_sockets) = match self.processes.get(&ppid) {
            Some(parent) => (parent.exe.clone(), parent.dns_sockets.clone()),
            None => (
                fs::read_link(format!("/proc/{pid}/exe")).ok(),
                HashMap::new(),
            ),
        };
        self.add_process(pid, ppid, exe, dns_sockets);
    }

    fn add_process(
        &mut self,
        pid: pid_t,
        ppid: pid_t,
        exe: Option<PathBuf>,
        dns_sockets: HashMap<i32, SockAddr>,
    ) {
        self.tasks.insert(
            pid,
            Task {
                tgid: pid,
                pending: None,
            },
        );
        self.processes.insert(
            pid,
            Process {
                ppid,
                exe,
                dns_sockets,
            },
        );
        if let Some(killer) = &self.killer {
            killer.add(pid);
        }
        self.emit(pid, EventKind::ProcessStart { parent: ppid });
    }

    /// An exec event. The tracee is reported under its process id even when a non-leader
    /// thread executed: that thread took over the leader's tid, and the former tid comes
    /// from PTRACE_GETEVENTMSG. The old leader vanished without an exit report.
    fn on_exec(&mut self, tid: pid_t) {
        if let Ok(former) = sys::event_message(tid) {
            let former = former as pid_t;
            if former != tid {
                if let Some(task) = self.tasks.remove(&former) {
                    self.tasks.insert(tid, task);
                }
            }
        }
        if let Some(process) = self.processes.get_mut(&tid) {
            process.exe = fs::read_link(format!("/proc/{tid}/exe")).ok();
        }
        if tid == self.initial {
            self.initial_execed = true;
        }
        let pending = self.tasks.get_mut(&tid).and_then(|task| {
            task.tgid = tid;
            task.pending.take()
        });
        if let Some(pending @ Pending::Exec { .. }) = pending {
            // Success: the exit stop that would say 0 is not waited for.
            self.emit(tid, pending.finish(0));
        }
    }

    /// A task ended with `code`.
    fn on_exit(&mut self, tid: pid_t, code: i32) {
        let Some(task) = self.tasks.remove(&tid) else {
            return;
        };
        if tid == self.initial {
            self.exit_code = Some(code);
        }
        if task.tgid == tid && self.processes.contains_key(&tid) {
            // A leader's death is reported only after all its threads are gone: the
            // process is over.
            self.emit(tid, EventKind::ProcessExit { code });
            self.processes.remove(&tid);
            if let Some(killer) = &self.killer {
                killer.remove(tid);
            }
        }
    }

    fn emit(&mut self, pid: pid_t, kind: EventKind) {
        let (ppid, exe) = self
            .processes
            .get(&pid)
            .map(|process| (process.ppid, process.exe.clone()))
            .unwrap_or((0, None));
        let event = Event {
            seq: self.seq,
            time_ns: u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            pid,
            ppid,
            exe,
            kind,
        };
        self.seq += 1;
        match self.sink.send(event) {
            Ok(()) => self.sent += 1,
            Err(_) => self.dropped += 1,
        }
    }
}
