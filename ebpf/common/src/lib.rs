//! The records nono's eBPF programs send to the tracer, and the tables the tracer gives
//! them, as `#[repr(C)]` types both sides compile.
//!
//! The programs know nothing about the architecture they run on: which system calls to
//! look at, which of their arguments are paths or socket addresses, and where the fields
//! the programs read sit in kernel structures all come from the tracer when it loads them
//! (the [`SyscallSpec`] table, and the [`KernelOffsets`] globals read from the kernel's own
//! BTF). The programs copy what the table names; the tracer does every interpretation.
#![no_std]

/// Bytes reserved for a path (the kernel's `PATH_MAX`, NUL included).
pub const PATH_MAX: usize = 4096;
/// Bytes of a socket address copied (more than `sockaddr_un`'s 110).
pub const ADDR_MAX: usize = 128;
/// Bytes of a DNS payload copied: the header and the question fit easily.
pub const PAYLOAD_MAX: usize = 512;
/// `execve` arguments are copied into this many slots …
pub const ARG_SLOTS: usize = 16;
/// … of this many bytes each (NUL included); longer arguments are cut.
pub const ARG_SLOT_LEN: usize = 256;
/// Entries of the system call table (system call numbers are below this on x86-64 and
/// aarch64).
pub const SYSCALL_TABLE_LEN: u32 = 512;

/// Words of the traced-process bitmap: one bit per possible thread-group id, up to the
/// kernel's `PID_MAX_LIMIT` (2^22 on 64-bit), in 512 KiB.
pub const TRACED_WORDS: u32 = (1 << 22) / 64;

/// [`SyscallSpec::flags`]: look at this system call.
pub const SPEC_TRACE: u32 = 1;
/// An `execve`/`execveat`: a failed one's program and arguments are copied at exit; a
/// successful one's come from `sched_process_exec`, out of the new program's memory.
pub const SPEC_EXEC: u32 = 1 << 1;
/// A `connect`: on success (or `EINPROGRESS`) to port 53, the socket is remembered so
/// later sends on it are copied.
pub const SPEC_CONNECT: u32 = 1 << 2;
/// A `sendto`: copied only when it goes to port 53 (by address, or on a remembered
/// socket).
pub const SPEC_SENDTO: u32 = 1 << 3;
/// A `sendmsg`: like [`SPEC_SENDTO`], with the address and data in a `struct msghdr`.
pub const SPEC_SENDMSG: u32 = 1 << 4;
/// A `sendmmsg`: like [`SPEC_SENDMSG`] for the first two messages.
pub const SPEC_SENDMMSG: u32 = 1 << 5;
/// An open: on success the new file's `f_mode` is read (did it create the file?).
pub const SPEC_OPEN: u32 = 1 << 6;

/// How the programs treat one system call number. `-1` means "no such argument".
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallSpec {
    /// `SPEC_*` bits; 0 means the call is not looked at.
    pub flags: u32,
    /// Argument index of the first path string.
    pub path1: i8,
    /// Argument index of the second path string.
    pub path2: i8,
    /// Argument index of a socket address pointer (`connect`, `bind`, `sendto`).
    pub addr: i8,
    /// Argument index of that address's length.
    pub addr_len: i8,
    /// Argument index of flags that make the call uninteresting …
    pub skip_arg: i8,
    /// For an open: the argument holding its flags (the new file's `f_mode` is read
    /// only when they include `O_CREAT`); -1 to read it always (`creat`, `openat2`).
    pub open_flags_arg: i8,
    /// Padding.
    pub _pad: [u8; 2],
    /// … when any of these bits is set (`AT_EMPTY_PATH` for `fstat`).
    pub skip_mask: u32,
}

/// Field offsets in kernel structures, from the running kernel's BTF.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `task_struct.pid`
    pub task_pid: u32,
    /// `task_struct.tgid`
    pub task_tgid: u32,
    /// `task_struct.exit_code`
    pub task_exit_code: u32,
    /// `task_struct.files`
    pub task_files: u32,
    /// `files_struct.fdt`
    pub files_fdt: u32,
    /// `fdtable.fd`
    pub fdtable_fd: u32,
    /// `file.f_mode`
    pub file_mode: u32,
    /// Offsets of the six system call arguments in `struct pt_regs` at system call
    /// entry.
    pub regs_args: [u32; 6],
    /// Offset of the system call number in `struct pt_regs` (`orig_ax`, `syscallno`).
    pub regs_nr: u32,
    /// Whether `sched_process_exit` passes `group_dead` (Linux 6.16 and later).
    pub exit_has_group_dead: u32,
    /// Whether the argument registers and the system call number all lie in the
    /// [`REGS_WINDOW`] bytes from `regs_window_start`, so that one read gets them
    /// (x86-64); the offsets in `regs_args`/`regs_nr` are then relative to it.
    pub regs_window: u32,
    /// Where that window starts in `struct pt_regs`.
    pub regs_window_start: u32,
    /// Whether the io_uring programs may run (the offsets below were found).
    pub uring: u32,
    /// `io_kiocb.opcode`
    pub kiocb_opcode: u32,
    /// `io_open.dfd` (an `io_open` sits at the start of its `io_kiocb`).
    pub open_dfd: u32,
    /// `io_open.filename`
    pub open_filename: u32,
    /// `io_open.how` (`open_how.flags` is its first field).
    pub open_how: u32,
    /// `filename.name`
    pub filename_name: u32,
    /// `io_uring_cqe.res`
    pub cqe_res: u32,
    /// `linux_binprm.filename`
    pub binprm_filename: u32,
    /// `task_struct.mm`
    pub task_mm: u32,
    /// `mm_struct.arg_start` (`arg_end` follows it).
    pub mm_arg_start: u32,
}

/// Bytes of `struct pt_regs` read at once when [`KernelOffsets::regs_window`] is set.
pub const REGS_WINDOW: usize = 128;

/// [`Header::kind`]: a system call returned ([`SyscallRecord`]).
pub const RECORD_SYSCALL: u32 = 1;
/// An exec's program and arguments ([`ExecRecord`]).
pub const RECORD_EXEC: u32 = 2;
/// A traced process forked a new process ([`Header`] with `arg` = the child's pid).
pub const RECORD_FORK: u32 = 3;
/// A traced process ended ([`Header`] with `arg` = its raw exit code).
pub const RECORD_EXIT: u32 = 4;
/// An io_uring open was submitted ([`SyscallRecord`]: `header.arg` is the request,
/// `args[0]` the directory descriptor, `args[1]` the open flags, `args[2]` the opcode,
/// `path1` the path).
pub const RECORD_URING_OPEN: u32 = 5;
/// That request completed ([`Header`] with `arg` = the request, `nr` = the result as
/// `i32` bits).
pub const RECORD_URING_DONE: u32 = 6;
/// `IORING_OP_OPENAT`
pub const IORING_OP_OPENAT: u8 = 18;
/// `IORING_OP_OPENAT2`
pub const IORING_OP_OPENAT2: u8 = 28;

/// What every record starts with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `RECORD_*`.
    pub kind: u32,
    /// The thread.
    pub tid: u32,
    /// Its process.
    pub tgid: u32,
    /// The system call number, where there is one.
    pub nr: u32,
    /// `bpf_ktime_get_ns()`.
    pub time_ns: u64,
    /// Record-specific: the forked child, the exit code.
    pub arg: u64,
}

/// A system call that returned, with the strings and data its arguments pointed to.
///
/// Most records carry one path and nothing else: those are sent *compact*, cut right
/// after the path's NUL ([`SyscallRecord::compact_len`]); the fields after `path1` are
/// then absent and their lengths are 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SyscallRecord {
    /// `kind` = [`RECORD_SYSCALL`].
    pub header: Header,
    /// The arguments.
    pub args: [u64; 6],
    /// The return value.
    pub ret: i64,
    /// Bytes of `path1` read, NUL included; 0 for none, negative for a read error.
    pub path1_len: i32,
    /// The same for `path2`.
    pub path2_len: i32,
    /// Bytes of `addr` read.
    pub addr_len: i32,
    /// Bytes of `data` read (a DNS payload).
    pub data_len: i32,
    /// Bytes of `data2` read (the second message of a `sendmmsg`).
    pub data2_len: i32,
    /// For a successful open: the new file's `f_mode` (`FMODE_CREATED` says the open
    /// created it); otherwise 0.
    pub file_mode: u32,
    /// The first path.
    pub path1: [u8; PATH_MAX],
    /// The second path.
    pub path2: [u8; PATH_MAX],
    /// A socket address.
    pub addr: [u8; ADDR_MAX],
    /// A payload.
    pub data: [u8; PAYLOAD_MAX],
    /// A second payload.
    pub data2: [u8; PAYLOAD_MAX],
}

/// Where `path1` starts in a [`SyscallRecord`].
pub const SYSCALL_PATH1_OFFSET: usize = core::mem::offset_of!(SyscallRecord, path1);

impl SyscallRecord {
    /// The bytes worth sending: up to the end of `path1` when nothing follows it,
    /// else the whole record.
    pub fn compact_len(&self) -> usize {
        if self.path2_len <= 0 && self.addr_len <= 0 && self.data_len <= 0 && self.data2_len <= 0 {
            let mut path = if self.path1_len > 0 {
                self.path1_len as u64
            } else {
                0
            };
            if path > PATH_MAX as u64 {
                path = PATH_MAX as u64;
            }
            let path = path as usize;
            SYSCALL_PATH1_OFFSET + path
        } else {
            core::mem::size_of::<SyscallRecord>()
        }
    }
}

/// An exec: its program and arguments. Written by `sched_process_exec` for a
/// successful exec (`header.nr` = 0, the arguments in `blob`, as the new program's
/// memory holds them), or at the exit of a failed `execve`/`execveat` (`header.nr` =
/// the call, the arguments in `argv` slots).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecRecord {
    /// `kind` = [`RECORD_EXEC`].
    pub header: Header,
    /// The arguments of the system call (failed execs).
    pub args: [u64; 6],
    /// Bytes of `path` read, NUL included (negative: read error).
    pub path_len: i32,
    /// Arguments found (may exceed [`ARG_SLOTS`]; only that many are copied).
    pub argc: u32,
    /// Bytes of `blob` read.
    pub blob_len: u32,
    /// Padding.
    pub _pad: u32,
    /// The program path as passed.
    pub path: [u8; PATH_MAX],
    /// The arguments, one per slot, NUL-terminated (failed execs).
    pub argv: [[u8; ARG_SLOT_LEN]; ARG_SLOTS],
    /// The arguments as consecutive NUL-terminated strings (successful execs).
    pub blob: [u8; PATH_MAX],
}

// SAFETY: plain `#[repr(C)]` data without padding holes that matter (every bit pattern
// is a valid value), as aya requires of what it copies into maps and globals.
#[cfg(feature = "user")]
unsafe impl aya::Pod for SyscallSpec {}
// SAFETY: as above.
#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelOffsets {}
