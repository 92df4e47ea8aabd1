//! The eBPF backend: traces a command and every process it starts with eBPF programs in
//! the kernel instead of ptrace stops. Needs root (or `CAP_BPF` and `CAP_PERFMON`) and a
//! kernel with BTF; emits the same [`Event`]s as [`crate::ptrace`].
//!
//! ```no_run
//! use std::sync::mpsc;
//! use nono_tracer::{ebpf, TraceCommand};
//!
//! let (sink, events) = mpsc::channel();
//! let outcome = ebpf::trace(TraceCommand::new("/bin/cat", ["cat", "/etc/hostname"]), sink)?;
//! println!("{} events, {} dropped", events.try_iter().count(), outcome.dropped);
//! # Ok::<(), nono_tracer::ebpf::EbpfError>(())
//! ```
//!
//! # How it works
//!
//! The programs (`ebpf/src/main.rs`) are loaded and attached before the command starts:
//! raw tracepoints on `sys_exit`, `sched_process_fork`, `sched_process_exec`,
//! `sched_process_exit`, `io_uring_submit_req` and `io_uring_complete` (one attachment
//! each, no tracefs needed; nothing runs at system call entry). The tracer forks the command, which waits on a pipe; its pid
//! goes into the programs' `TRACED` bitmap, and only then is it let go. From there the
//! kernel follows the tree itself: a fork of a traced process adds the child before the
//! child first runs, and the last thread's exit removes it. Only the system calls of
//! the `SPECS` table (the ptrace backend's list) are copied, at their exit, with their
//! result; the tracer turns the records into events ([`state`]).
//!
//! The reader drains the ring buffer, sleeping in `poll` between batches (the programs
//! wake it once each time a quarter of a megabyte has piled up, and when a process
//! exits; otherwise the poll's timeout does). A record
//! that does not fit is counted by the kernel and reported in
//! [`TraceOutcome::dropped`], never lost silently.
//!
//! # Compared with ptrace
//!
//! - The traced programs never stop: the cost is the programs' work in the kernel.
//! - Opens submitted through io_uring (`IORING_OP_OPENAT`, `IORING_OP_OPENAT2`) are
//!   seen, with the kernel's copy of the path and the completion's result.
//! - Paths come from the program's memory at system call exit, made absolute against
//!   the working directory and directory descriptors this tracer follows (see
//!   [`state`]), lexically: a directory opened through a symbolic link is followed by
//!   the name it was opened with, where ptrace reads the link's target from `/proc`.
//! - Why not fentry/fexit or LSM programs (which would give kernel-resolved paths
//!   through `bpf_d_path`)? Some kernels refuse `BPF_PROG_TYPE_TRACING` and
//!   `BPF_PROG_TYPE_LSM` loads by policy (nono's CI machines do, with `EPERM` even for
//!   an empty program); raw tracepoints load wherever eBPF tracing is allowed at all.
//! - `execve` arguments are cut to their first 4 KiB (a failed exec's to 16 arguments
//!   of 255 bytes; ptrace: 4,096 arguments and 256 KiB).
//! - The tracer must run in the initial PID namespace (the programs see global pids).
//!
//! # Security model
//!
//! Like the ptrace backend, tracing observes and enforces nothing. Strings are read by
//! the kernel at system call exit, so a thread of the program that rewrites a path
//! during the call can make the record disagree with what the kernel did; the file-open
//! hook's path is the kernel's own.

mod btf;
mod load;
mod offsets;
mod specs;
mod state;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use nono_ebpf_common::{KernelOffsets, SYSCALL_TABLE_LEN, SyscallRecord, SyscallSpec};

pub use btf::BtfError;
pub use load::LoadError;

use crate::event::Event;
use crate::launch::{TraceCommand, TraceError, TraceOutcome, child_error, launch};
use crate::sys::process as sys;
use state::{Record, State};

use crate::built::OBJECT;
pub use crate::built::{HOW_TO_BUILD, built};

/// The default size of the ring buffer.
const RING_BYTES: u32 = 16 * 1024 * 1024;

/// Why the eBPF backend could not trace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EbpfError {
    /// This build has no eBPF programs.
    #[error("this nono was built without its eBPF programs; {HOW_TO_BUILD}")]
    NotBuilt,
    /// Loading needs privileges this process lacks (the text names them: CAP_BPF and
    /// CAP_PERFMON).
    #[error("{0}")]
    Privileges(String),
    /// The tracer is in a PID namespace other than the initial one.
    #[error(
        "the eBPF backend must run in the initial PID namespace (it sees the kernel's global \
         process ids); use --backend ptrace inside containers"
    )]
    PidNamespace,
    /// The kernel's type information could not be used.
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// The kernel refused a program, or an attachment.
    #[error("the kernel refused nono's eBPF programs: {0}")]
    Load(#[source] LoadError),
    /// A map of the programs could not be used.
    #[error("the kernel refused nono's eBPF programs: {map}: {source}")]
    Map {
        /// The map's name.
        map: &'static str,
        /// Why (an I/O error or aya's map error).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The command could not be started.
    #[error(transparent)]
    Launch(#[from] TraceError),
    /// Reading the records failed.
    #[error("reading the eBPF ring buffer failed")]
    Ring(#[source] io::Error),
}

/// Loaded and attached programs; detached and unloaded on drop.
struct Programs {
    loaded: load::Loaded,
}

fn load_error(err: load::LoadError) -> EbpfError {
    if err.permission_denied() {
        let support = crate::support::probe_ebpf();
        if !support.privileged {
            return EbpfError::Privileges(support.detail);
        }
    }
    EbpfError::Load(err)
}

fn map_error(
    map: &'static str,
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> EbpfError {
    EbpfError::Map {
        map,
        source: err.into(),
    }
}

/// The offsets the programs need, from the running kernel's BTF.
fn kernel_offsets() -> Result<KernelOffsets, EbpfError> {
    let btf = btf::Btf::kernel()?;
    let regs_args = if cfg!(target_arch = "x86_64") {
        let mut out = [0u32; 6];
        for (slot, name) in out.iter_mut().zip(["di", "si", "dx", "r10", "r8", "r9"]) {
            *slot = btf.offset("pt_regs", name)?;
        }
        out
    } else {
        // aarch64: regs[0..6] open the structure, but x0 holds the return value at
        // exit; the first argument stays in orig_x0.
        [btf.offset("pt_regs", "orig_x0")?, 8, 16, 24, 32, 40]
    };
    let regs_nr = if cfg!(target_arch = "x86_64") {
        btf.offset("pt_regs", "orig_ax")?
    } else {
        btf.offset("pt_regs", "syscallno")?
    };
    // One read for all of them when they fit a window that ends with the last of them
    // (x86-64: r10 at 56 … orig_ax at 120, read as bytes 0 to 128 of the 168), never
    // reading past the saved registers; the offsets become relative to its start.
    let lowest = regs_args
        .iter()
        .copied()
        .chain([regs_nr])
        .min()
        .unwrap_or(0);
    let end = regs_args
        .iter()
        .copied()
        .chain([regs_nr])
        .max()
        .unwrap_or(0)
        + 8;
    let window_len = nono_ebpf_common::REGS_WINDOW as u32;
    let regs_window_start = end.saturating_sub(window_len);
    let window = end >= window_len
        && lowest >= regs_window_start
        && regs_args.iter().chain([&regs_nr]).all(|o| o % 8 == 0);
    let (regs_args, regs_nr, regs_window_start) = if window {
        (
            regs_args.map(|o| o - regs_window_start),
            regs_nr - regs_window_start,
            regs_window_start,
        )
    } else {
        (regs_args, regs_nr, 0)
    };
    let mut offsets = KernelOffsets {
        task_pid: btf.offset("task_struct", "pid")?,
        task_tgid: btf.offset("task_struct", "tgid")?,
        task_exit_code: btf.offset("task_struct", "exit_code")?,
        task_files: btf.offset("task_struct", "files")?,
        files_fdt: btf.offset("files_struct", "fdt")?,
        fdtable_fd: btf.offset("fdtable", "fd")?,
        file_mode: btf.offset("file", "f_mode")?,
        regs_args,
        regs_nr,
        regs_window: u32::from(window),
        regs_window_start,
        exit_has_group_dead: u32::from(btf.tracepoint_args("sched_process_exit")? >= 2),
        binprm_filename: btf.offset("linux_binprm", "filename")?,
        task_mm: btf.offset("task_struct", "mm")?,
        mm_arg_start: btf.offset("mm_struct", "arg_start")?,
        ..KernelOffsets::default()
    };
    if btf.offset("mm_struct", "arg_end")? != offsets.mm_arg_start + 8
        || btf.tracepoint_args("sched_process_exec")? != 3
    {
        return Err(BtfError::Layout("mm_struct.arg_start/arg_end or sched_process_exec").into());
    }
    // io_uring opens: only where the structures and tracepoints are as expected (the
    // request's command data, an `io_open`, opens the `io_kiocb`).
    let uring = (|| -> Result<(), BtfError> {
        if btf.offset("io_kiocb", "cmd")? != 0
            || btf.tracepoint_args("io_uring_submit_req")? != 1
            || btf.tracepoint_args("io_uring_complete")? != 3
        {
            return Err(BtfError::Layout("io_uring"));
        }
        offsets.kiocb_opcode = btf.offset("io_kiocb", "opcode")?;
        offsets.open_dfd = btf.offset("io_open", "dfd")?;
        offsets.open_filename = btf.offset("io_open", "filename")?;
        offsets.open_how = btf.offset("io_open", "how")?;
        offsets.filename_name = btf.offset("filename", "name")?;
        offsets.cqe_res = btf.offset("io_uring_cqe", "res")?;
        Ok(())
    })();
    offsets.uring = u32::from(uring.is_ok());
    Ok(offsets)
}

/// Settings of an eBPF trace.
#[derive(Debug, Clone, Default)]
pub struct EbpfOptions {
    /// The ring buffer's size in bytes (a power of two, at least a page); `None` for the
    /// default of 16 MiB. Smaller rings drop records sooner (a typical system call
    /// record takes about 150 bytes).
    pub ring_bytes: Option<u32>,
    /// A file where the kernel structure offsets read from BTF are kept for the next
    /// trace (reading and indexing the kernel's 5 MiB of BTF costs ~15 ms). It is used
    /// only while the kernel (release, version, architecture, BTF size) and the boot
    /// are the same; `None` reads BTF every time.
    pub offsets_cache: Option<std::path::PathBuf>,
}

impl Programs {
    fn load(options: &EbpfOptions) -> Result<Programs, EbpfError> {
        if !built() {
            return Err(EbpfError::NotBuilt);
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(nspid) = status.lines().find_map(|l| l.strip_prefix("NSpid:"))
            && nspid.split_whitespace().count() > 1
        {
            return Err(EbpfError::PidNamespace);
        }
        let t = Instant::now();
        let offsets = offsets::cached(options.offsets_cache.as_deref(), kernel_offsets)?;
        timing_phase("offsets (kernel BTF or cache)", t);
        let t = Instant::now();
        // The tree-following programs first, then io_uring, then the system calls.
        let mut attach = vec![
            ("process_fork", "sched_process_fork"),
            ("process_exit", "sched_process_exit"),
            ("process_exec", "sched_process_exec"),
        ];
        if offsets.uring != 0 {
            attach.push(("uring_submit", "io_uring_submit_req"));
            attach.push(("uring_complete", "io_uring_complete"));
        }
        attach.push(("sys_exit", "sys_exit"));
        // SAFETY: KernelOffsets is `#[repr(C)]` and made of `u32`s only (no padding), so
        // all its bytes are initialised.
        let offsets_bytes = unsafe {
            std::slice::from_raw_parts(
                (&raw const offsets).cast::<u8>(),
                std::mem::size_of::<KernelOffsets>(),
            )
        };
        let mut loaded = load::load(
            OBJECT,
            &[("OFFSETS", offsets_bytes)],
            &[("EVENTS", options.ring_bytes.unwrap_or(RING_BYTES))],
            &attach
                .iter()
                .map(|&(program, _)| program)
                .collect::<Vec<_>>(),
        )
        .map_err(load_error)?;
        timing_phase("creating maps, loading and verifying the programs", t);
        let t = Instant::now();
        {
            let mut specs: Array<_, SyscallSpec> = loaded
                .map_mut("SPECS")
                .map_err(|e| map_error("SPECS", e))?
                .try_into()
                .map_err(|e| map_error("SPECS", e))?;
            for (nr, call) in specs::table() {
                if nr < SYSCALL_TABLE_LEN {
                    specs
                        .set(nr, specs::spec(call), 0)
                        .map_err(|e| map_error("SPECS", e))?;
                }
            }
        }
        loaded.attach(&attach).map_err(load_error)?;
        timing_phase("attaching", t);
        Ok(Programs { loaded })
    }

    /// Marks `tgid` as traced (before any traced process runs, so nothing else writes
    /// the bitmap).
    fn trace_process(&mut self, tgid: u32) -> Result<(), EbpfError> {
        let mut traced: Array<&mut MapData, u64> = self
            .loaded
            .map_mut("TRACED")
            .map_err(|e| map_error("TRACED", e))?
            .try_into()
            .map_err(|e| map_error("TRACED", e))?;
        let index = tgid >> 6;
        let word = traced.get(&index, 0).map_err(|e| map_error("TRACED", e))?;
        traced
            .set(index, word | 1 << (tgid & 63), 0)
            .map_err(|e| map_error("TRACED", e))
    }

    /// Records lost: those that did not fit in the ring, and the runs the kernel
    /// skipped because the program was already running on that CPU.
    fn dropped(&self) -> u64 {
        let misses = self.loaded.recursion_misses();
        let Some(map) = self.loaded.map("DROPPED") else {
            return misses;
        };
        let Ok(array) = PerCpuArray::<_, u64>::try_from(map) else {
            return misses;
        };
        misses
            + array
                .get(&0, 0)
                .map_or(0, |values| values.iter().sum::<u64>())
    }
}

/// Takes every record waiting in the ring into the model (compact system call records
/// are completed in `scratch`).
fn drain(ring: &mut RingBuf<MapData>, scratch: &mut SyscallRecord, state: &mut State) {
    while let Some(item) = ring.next() {
        if let Some(record) = Record::parse(&item, scratch) {
            state.record(record);
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds, the clock of `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Traces `cmd` and every process it starts until the last of them has ended, sending
/// each [`Event`] to `sink` as it is read. Blocks the calling thread.
///
/// The programs are loaded before the command is started, so a machine that cannot run
/// them returns an error before anything ran. On timeout every traced process is killed
/// with SIGKILL and the outcome says so.
pub fn trace(cmd: TraceCommand, sink: Sender<Event>) -> Result<TraceOutcome, EbpfError> {
    trace_with(cmd, sink, &EbpfOptions::default())
}

/// [`trace`] with settings.
pub fn trace_with(
    cmd: TraceCommand,
    sink: Sender<Event>,
    options: &EbpfOptions,
) -> Result<TraceOutcome, EbpfError> {
    EbpfTracer::load(options)?.trace(cmd, sink)
}

/// The programs, loaded and attached, ready to trace one command. Loading first lets a
/// caller fall back to ptrace before anything ran. Dropping it detaches them.
pub struct EbpfTracer {
    programs: Programs,
    ring: RingBuf<MapData>,
    load_time: Duration,
}

impl std::fmt::Debug for EbpfTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfTracer")
            .field("load_time", &self.load_time)
            .finish_non_exhaustive()
    }
}

impl EbpfTracer {
    /// Loads and attaches the programs.
    pub fn load(options: &EbpfOptions) -> Result<EbpfTracer, EbpfError> {
        let started = Instant::now();
        let mut programs = Programs::load(options)?;
        let ring = RingBuf::try_from(
            programs
                .loaded
                .take_map("EVENTS")
                .map_err(|e| map_error("EVENTS", e))?,
        )
        .map_err(|e| map_error("EVENTS", e))?;
        Ok(EbpfTracer {
            programs,
            ring,
            load_time: started.elapsed(),
        })
    }

    /// How long loading and attaching took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Traces `cmd`; see [`trace`].
    pub fn trace(self, cmd: TraceCommand, sink: Sender<Event>) -> Result<TraceOutcome, EbpfError> {
        let EbpfTracer { programs, ring, .. } = self;
        run(programs, ring, cmd, sink)
    }
}

fn run(
    mut programs: Programs,
    mut ring: RingBuf<MapData>,
    mut cmd: TraceCommand,
    sink: Sender<Event>,
) -> Result<TraceOutcome, EbpfError> {
    let (go_read, go_write): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| TraceError::Pipe(e.into()))?;
    let start = Instant::now();
    let start_ns = monotonic_ns();
    let (mut child, error_read) = launch(&mut cmd, sys::Start::Pipe(go_read.as_raw_fd()), None)?;
    let pid = child.pid;
    drop(go_read);
    // Readable once the command has ended; without it (pidfd_open needs Linux 5.3) the
    // loop still notices within its poll timeout.
    let mut root_pidfd = sys::pidfd_open(pid).ok();
    programs.trace_process(pid as u32)?;
    let mut state = State::new(pid, sys::getpid(), cmd.cwd.clone(), start_ns);
    nix::unistd::write(&go_write, &[1]).map_err(|e| TraceError::Pipe(e.into()))?;
    drop(go_write);

    let deadline = cmd.timeout.map(|t| start + t);
    let mut timed_out = false;
    let mut root_status = None;
    let mut sent = 0u64;
    let mut lost = 0u64;
    let mut last_sweep = Instant::now();
    // SAFETY: all zeroes is a valid SyscallRecord (integers and byte arrays).
    let mut scratch: Box<SyscallRecord> = Box::new(unsafe { std::mem::zeroed() });
    let mut send = |state: &mut State| {
        for event in state.out.drain(..) {
            if sink.send(event).is_ok() {
                sent += 1;
            } else {
                lost += 1;
            }
        }
    };
    loop {
        drain(&mut ring, &mut scratch, &mut state);
        send(&mut state);
        if root_status.is_none() {
            match nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            ) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => root_status = Some(code),
                Ok(nix::sys::wait::WaitStatus::Signaled(_, signal, _)) => {
                    root_status = Some(128 + signal as i32)
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(EbpfError::Launch(TraceError::Wait {
                        pid,
                        source: e.into(),
                    }));
                }
            }
            if root_status.is_some() {
                child.reaped = true;
                root_pidfd = None;
                timing_phase("command ran", start);
            }
        }
        if let Some(deadline) = deadline
            && !timed_out
            && Instant::now() >= deadline
        {
            timed_out = true;
            let _ = sys::kill(pid, libc::SIGKILL);
            for other in state.live().collect::<Vec<_>>() {
                let _ = sys::kill(other, libc::SIGKILL);
            }
        }
        // Every 200 ms: publish the kernel's drop count, and — since a process whose exit
        // record was dropped would be waited for forever — once the command has ended,
        // forget traced processes that are gone (their records, written before they
        // were gone, have been read by then).
        if last_sweep.elapsed() >= Duration::from_millis(200) {
            last_sweep = Instant::now();
            if let Some(progress) = &cmd.progress {
                progress
                    .dropped
                    .store(programs.dropped(), std::sync::atomic::Ordering::Relaxed);
            }
            let gone: Vec<i32> = if root_status.is_some() {
                state
                    .live()
                    .filter(|&p| {
                        sys::kill(p, 0).is_err_and(|e| e.raw_os_error() == Some(libc::ESRCH))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            if !gone.is_empty() {
                drain(&mut ring, &mut scratch, &mut state);
                for p in gone {
                    let code = if p == pid {
                        root_status.unwrap_or(0)
                    } else {
                        0
                    };
                    state.vanished(p, code);
                }
                send(&mut state);
            }
        }
        if root_status.is_some() && state.live().next().is_none() {
            break;
        }
        // Sleep until records are waiting (the programs wake us for a batch, or when a
        // process exits), the command ends (its pidfd turns readable), or a short
        // timeout passes (for a batch too small to wake us).
        let mut fds = [
            libc::pollfd {
                fd: ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: root_pidfd.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let wait_ms = if root_status.is_some() { 5 } else { 20 };
        // SAFETY: two valid pollfds (a negative fd is ignored) for the duration of the
        // call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, wait_ms) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(EbpfError::Ring(err));
            }
        }
    }
    if let Some(err) = child_error(pid, &cmd, error_read) {
        return Err(err.into());
    }
    let kernel_dropped = programs.dropped();
    if let Some(progress) = &cmd.progress {
        progress
            .dropped
            .store(kernel_dropped, std::sync::atomic::Ordering::Relaxed);
    }
    // Detaching (closing the six attachments: ~1.7 ms here) overlaps with what the
    // caller does with the outcome. Nothing of ours is traced any more: every traced
    // process has ended and its records have been read.
    let detach = move || {
        let started = Instant::now();
        drop(programs);
        drop(ring);
        timing_phase("detaching", started);
    };
    // Without a thread, `spawn` drops the closure, which detaches here.
    let _ = std::thread::Builder::new()
        .name("nono-ebpf-detach".into())
        .spawn(detach);
    Ok(TraceOutcome {
        exit_code: root_status.unwrap_or(128 + libc::SIGKILL),
        events: sent,
        dropped: lost + kernel_dropped,
        duration: start.elapsed(),
        timed_out,
    })
}

/// With `NONO_TIMING=1` (read once), prints how long an eBPF phase took since `since`,
/// beside the command's own timing lines.
fn timing_phase(what: &str, since: Instant) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("NONO_TIMING").is_some_and(|v| v == "1")) {
        eprintln!(
            "nono timing: ebpf {what}: {:.2} ms",
            since.elapsed().as_secs_f64() * 1e3
        );
    }
}

#[cfg(test)]
mod tests {
    /// The loaded programs are what the loader says (raw tracepoint programs, whose
    /// information the kernel gives back), and a quiet trace misses no run.
    #[test]
    fn loaded_programs_report_their_misses() {
        let support = crate::support::probe_ebpf();
        if !super::built() || !support.privileged {
            eprintln!("skipping: needs root and a build with the eBPF programs");
            assert!(
                std::env::var_os("NONO_TEST_STRICT").is_none(),
                "NONO_TEST_STRICT: this test needs root and the eBPF programs"
            );
            return;
        }
        let programs = super::Programs::load(&super::EbpfOptions::default()).unwrap();
        for fd in programs.loaded.program_fds() {
            let info = super::load::prog_info(fd).unwrap();
            assert_eq!(
                info.type_,
                aya_obj::generated::bpf_prog_type::BPF_PROG_TYPE_RAW_TRACEPOINT as u32
            );
        }
        assert_eq!(programs.loaded.recursion_misses(), 0);
        assert_eq!(programs.dropped(), 0);
    }

    #[test]
    fn the_object_is_built_when_ci_requires_it() {
        if std::env::var("NONO_EBPF").as_deref() == Ok("required") {
            assert!(super::built(), "NONO_EBPF=required but the object is empty");
        }
    }
}
