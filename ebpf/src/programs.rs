//! The programs (see the crate documentation).

use core::ffi::c_void;

use aya_ebpf::bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP};
use aya_ebpf::helpers::generated::{
    bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user,
    bpf_probe_read_user_str,
};
use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use aya_ebpf::macros::{map, raw_tracepoint};
use aya_ebpf::maps::{Array, LruHashMap, PerCpuArray, RingBuf};
use aya_ebpf::programs::RawTracePointContext;
use nono_ebpf_common::{
    ADDR_MAX, ARG_SLOT_LEN, ARG_SLOTS, ExecRecord, Header, IORING_OP_OPENAT, IORING_OP_OPENAT2,
    KernelOffsets, PATH_MAX, PAYLOAD_MAX, RECORD_EXEC, RECORD_EXIT, RECORD_FORK, RECORD_SYSCALL,
    RECORD_URING_DONE, RECORD_URING_OPEN, REGS_WINDOW, SPEC_CONNECT, SPEC_EXEC, SPEC_OPEN,
    SPEC_SENDMMSG, SPEC_SENDMSG, SPEC_SENDTO, SPEC_TRACE, SYSCALL_TABLE_LEN, SyscallRecord,
    SyscallSpec, TRACED_WORDS,
};

/// Field offsets, set by the loader from the kernel's BTF (read-only: the verifier sees
/// the values as constants).
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets {
    task_pid: 0,
    task_tgid: 0,
    task_exit_code: 0,
    task_files: 0,
    files_fdt: 0,
    fdtable_fd: 0,
    file_mode: 0,
    regs_args: [0; 6],
    regs_nr: 0,
    exit_has_group_dead: 0,
    regs_window: 0,
    regs_window_start: 0,
    uring: 0,
    kiocb_opcode: 0,
    open_dfd: 0,
    open_filename: 0,
    open_how: 0,
    filename_name: 0,
    cqe_res: 0,
    binprm_filename: 0,
    task_mm: 0,
    mm_arg_start: 0,
};

/// Processes (thread-group ids) being traced: a bitmap, bit `tgid % 64` of word
/// `tgid / 64`. Every system call of every process on the machine asks it, so it is an
/// array (the verifier inlines the look-up: one load) rather than a hash map (a
/// hashed bucket walk, measured at ~65 ns a call).
#[map]
static TRACED: Array<u64> = Array::with_max_entries(TRACED_WORDS, 0);

/// What to do with each system call number.
#[map]
static SPECS: Array<SyscallSpec> = Array::with_max_entries(SYSCALL_TABLE_LEN, 0);

/// Sockets connected to port 53: `tgid << 32 | fd`.
#[map]
static DNS_SOCKETS: LruHashMap<u64, u8> = LruHashMap::with_max_entries(4096, 0);

/// io_uring open requests submitted by traced processes, until they complete.
#[map]
static URING_OPENS: LruHashMap<u64, u8> = LruHashMap::with_max_entries(4096, 0);

/// The records. Its size is set by the loader.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(16 * 1024 * 1024, 0);

/// Where system call records are put together before the part worth sending is copied
/// into `EVENTS` (a record is 9.5 KiB; most need a few hundred bytes).
#[map]
static SCRATCH: PerCpuArray<SyscallRecord> = PerCpuArray::with_max_entries(1, 0);

/// The saved registers' window, read at once (see `read_args`).
#[map]
static REGS: PerCpuArray<[u64; REGS_WINDOW / 8]> = PerCpuArray::with_max_entries(1, 0);

/// Records that did not fit.
#[map]
static DROPPED: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Wake the reader when this much waits.
const WAKEUP_BYTES: u64 = 256 * 1024;
const EINPROGRESS: i64 = 115;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const DNS_PORT_BE: u16 = 53u16.to_be();
/// `O_CREAT` (the same on x86-64 and aarch64).
const O_CREAT: u64 = 0o100;

/// The offsets. Read through a pointer the compiler cannot see through (it would fold
/// the zeroes it was compiled with), so each field costs one load from the read-only
/// map, where the verifier sees the loader's value — only the fields a program uses.
#[inline(always)]
fn offsets() -> &'static KernelOffsets {
    let at: *const KernelOffsets = &raw const OFFSETS;
    // SAFETY: a volatile read of a local pointer to a global the loader initialised.
    unsafe { &*core::ptr::read_volatile(&at) }
}

#[inline(always)]
fn traced(tgid: u32) -> bool {
    TRACED
        .get(tgid >> 6)
        .is_some_and(|word| *word & (1u64 << (tgid & 63)) != 0)
}

/// Adds or removes `tgid` in `TRACED`. Only the bit's own process changes it (its fork
/// adds it, its exit removes it), so testing it first is race-free; the change is an
/// atomic add, as other bits of the word may change on other CPUs at the same time
/// (BPF's XADD: available to every program, unlike atomic OR and AND).
#[inline(always)]
fn set_traced(tgid: u32, on: bool) {
    let Some(word) = TRACED.get_ptr_mut(tgid >> 6) else {
        return;
    };
    let bit = 1u64 << (tgid & 63);
    // SAFETY: `word` points to an element of the array map, valid for the program's run
    // and aligned for an atomic access.
    unsafe {
        let set = core::ptr::read_volatile(word) & bit != 0;
        let delta = if on && !set {
            bit
        } else if !on && set {
            bit.wrapping_neg()
        } else {
            return;
        };
        core::arch::asm!(
            "lock *(u64 *)({word} + 0) += {delta}",
            word = in(reg) word,
            delta = in(reg) delta,
        );
    }
}

#[inline(always)]
fn spec(nr: u32) -> Option<SyscallSpec> {
    if nr >= SYSCALL_TABLE_LEN {
        return None;
    }
    let spec = *SPECS.get(nr)?;
    (spec.flags & SPEC_TRACE != 0).then_some(spec)
}

#[inline(always)]
fn dropped() {
    if let Some(count) = DROPPED.get_ptr_mut(0) {
        // SAFETY: a per-CPU slot, no one else writes it concurrently.
        unsafe { *count += 1 };
    }
}

/// Bytes a record of `len` bytes takes in the ring: the kernel's 8-byte header, and the
/// whole rounded up to 8.
#[inline(always)]
fn ring_size(len: u64) -> u64 {
    (len + 8 + 7) & !7
}

/// The wake-up flag for a record that takes `size` bytes of the ring, with `waiting`
/// bytes waiting counting it: the reader is woken by the record that takes the waiting
/// data across a multiple of [`WAKEUP_BYTES`], so once per quarter megabyte while the
/// reader lags. Waking it for every record above the mark made each one raise an
/// interrupt (an `irq_work`; in a VM, an exit to the hypervisor, ~1.5 µs a record).
/// A crossing missed by two CPUs racing is made up at the next multiple, or by the
/// reader's poll timeout; a wake-up that finds the reader busy is not needed, as it
/// drains everything before it polls again.
#[inline(always)]
fn wake_flags(waiting: u64, size: u64) -> u64 {
    if waiting / WAKEUP_BYTES != waiting.saturating_sub(size) / WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// [`wake_flags`] for a reserved record of `len` bytes about to be submitted (the
/// ring counts it already).
#[inline(always)]
fn submit_flags(len: usize) -> u64 {
    wake_flags(
        EVENTS.query(BPF_RB_AVAIL_DATA as u64),
        ring_size(len as u64),
    )
}

/// Sends the used part of the record put together in `SCRATCH`.
#[inline(always)]
fn send_compact(record: *const SyscallRecord) {
    // SAFETY: `record` is the per-CPU scratch record; `compact_len` never exceeds its
    // size.
    let bytes = unsafe {
        let len = (*record).compact_len();
        core::slice::from_raw_parts(record.cast::<u8>(), len)
    };
    // Not in the ring yet: counted as if it were.
    let size = ring_size(bytes.len() as u64);
    let flags = wake_flags(EVENTS.query(BPF_RB_AVAIL_DATA as u64) + size, size);
    if EVENTS.output::<[u8]>(bytes, flags).is_err() {
        dropped();
    }
}

#[inline(always)]
fn header(kind: u32, pid_tgid: u64, nr: u32, arg: u64) -> Header {
    Header {
        kind,
        tid: pid_tgid as u32,
        tgid: (pid_tgid >> 32) as u32,
        nr,
        // SAFETY: no preconditions.
        time_ns: unsafe { bpf_ktime_get_ns() },
        arg,
    }
}

/// Reads a `u64` of kernel memory (0 on failure).
#[inline(always)]
fn kernel_u64(at: u64) -> u64 {
    let mut value = 0u64;
    // SAFETY: the helper checks the address; `value` is a valid destination.
    unsafe { bpf_probe_read_kernel((&raw mut value).cast(), 8, at as *const c_void) };
    value
}

/// Reads a `u64` of user memory (0 on failure).
#[inline(always)]
fn user_u64(at: u64) -> u64 {
    let mut value = 0u64;
    // SAFETY: the helper checks the address; `value` is a valid destination.
    unsafe { bpf_probe_read_user((&raw mut value).cast(), 8, at as *const c_void) };
    value
}

/// Copies a NUL-terminated user string into `dst` (`PATH_MAX` bytes): the length read,
/// NUL included, or a negative errno.
#[inline(always)]
fn user_path(dst: *mut u8, src: u64) -> i32 {
    if src == 0 {
        return -14; // EFAULT
    }
    // SAFETY: `dst` points to PATH_MAX writable bytes of a ring buffer record.
    unsafe { bpf_probe_read_user_str(dst.cast(), PATH_MAX as u32, src as *const c_void) as i32 }
}

/// Copies at most `max` (≤ `cap`) bytes of user memory; the count copied or 0.
#[inline(always)]
fn user_bytes<const CAP: usize>(dst: *mut [u8; CAP], src: u64, len: u64) -> i32 {
    if src == 0 {
        return 0;
    }
    // Clamped as a 64-bit value: the verifier checks the whole register passed as size.
    let mut len = len;
    if len > CAP as u64 {
        len = CAP as u64;
    }
    if len == 0 {
        return 0;
    }
    // SAFETY: `dst` holds CAP bytes and `len` ≤ CAP.
    let ret = unsafe { bpf_probe_read_user(dst.cast(), len as u32, src as *const c_void) };
    if ret < 0 { 0 } else { len as i32 }
}

/// Whether a socket address in user memory is an Internet address with port 53.
#[inline(always)]
fn is_dns_addr(addr: u64) -> bool {
    if addr == 0 {
        return false;
    }
    // sa_family (u16), then sin_port / sin6_port (u16, network order).
    let head = user_u64(addr);
    let family = head as u16;
    let port = (head >> 16) as u16;
    (family == AF_INET || family == AF_INET6) && port == DNS_PORT_BE
}

#[inline(always)]
fn dns_socket(tgid: u32, fd: u64) -> bool {
    let key = ((tgid as u64) << 32) | (fd & 0xffff_ffff);
    // SAFETY: the value is not used beyond the check.
    unsafe { DNS_SOCKETS.get(&key).is_some() }
}

/// The program and arguments of a failed exec, from its caller's memory (intact, since
/// the exec failed).
#[inline(always)]
fn failed_exec_record(pid_tgid: u64, nr: u32, args: &[u64; 6], spec: &SyscallSpec) {
    let Some(mut entry) = EVENTS.reserve::<ExecRecord>(0) else {
        dropped();
        return;
    };
    let record = entry.as_mut_ptr();
    let path_arg = (spec.path1 as usize) & 7;
    // execve(path, argv, envp); execveat(dirfd, path, argv, envp, flags)
    let argv_arg = if path_arg == 0 { 1 } else { 2 };
    // SAFETY: `record` points to a reserved ExecRecord; every write stays inside it.
    unsafe {
        (*record).header = header(RECORD_EXEC, pid_tgid, nr, 0);
        (*record).args = *args;
        (*record).blob_len = 0;
        let path = if path_arg < 6 { args[path_arg] } else { 0 };
        (*record).path_len = user_path((&raw mut (*record).path).cast(), path);
        let argv = args[argv_arg];
        let mut argc = 0u32;
        let mut i = 0usize;
        while i < ARG_SLOTS {
            let ptr = if argv == 0 {
                0
            } else {
                user_u64(argv + (i as u64) * 8)
            };
            if ptr == 0 {
                break;
            }
            let slot = (&raw mut (*record).argv[i]).cast::<c_void>();
            let n = bpf_probe_read_user_str(slot, ARG_SLOT_LEN as u32, ptr as *const c_void);
            if n < 0 {
                (*record).argv[i][0] = 0;
            }
            argc += 1;
            i += 1;
        }
        if argc as usize == ARG_SLOTS && argv != 0 && user_u64(argv + (ARG_SLOTS as u64) * 8) != 0 {
            argc += 1;
        }
        (*record).argc = argc;
    }
    entry.submit(submit_flags(core::mem::size_of::<ExecRecord>()));
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn process_exec(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !traced((pid_tgid >> 32) as u32) {
        return 0;
    }
    // TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
    let bprm: u64 = ctx.arg(2);
    let off = offsets();
    let filename = kernel_u64(bprm + off.binprm_filename as u64);
    // SAFETY: no preconditions.
    let task = unsafe { bpf_get_current_task() };
    let mm = kernel_u64(task + off.task_mm as u64);
    let (start, end) = if mm == 0 {
        (0, 0)
    } else {
        (
            kernel_u64(mm + off.mm_arg_start as u64),
            kernel_u64(mm + off.mm_arg_start as u64 + 8),
        )
    };
    let Some(mut entry) = EVENTS.reserve::<ExecRecord>(0) else {
        dropped();
        return 0;
    };
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points to a reserved ExecRecord; every write stays inside it.
    unsafe {
        (*record).header = header(RECORD_EXEC, pid_tgid, 0, 0);
        (*record).args = [0; 6];
        (*record).argc = 0;
        (*record).path_len = if filename == 0 {
            -14
        } else {
            bpf_probe_read_kernel_str(
                (&raw mut (*record).path).cast(),
                PATH_MAX as u32,
                filename as *const c_void,
            ) as i32
        };
        (*record).blob_len = if start != 0 && end > start {
            user_bytes::<PATH_MAX>(&raw mut (*record).blob, start, end - start) as u32
        } else {
            0
        };
    }
    entry.submit(submit_flags(core::mem::size_of::<ExecRecord>()));
    0
}

/// The system call number from the saved registers, `None` for a call the table does
/// not mark.
#[inline(always)]
fn syscall_nr(regs: u64, off: &KernelOffsets) -> Option<(u32, SyscallSpec)> {
    let base = regs + off.regs_window_start as u64;
    let nr = kernel_u64(base + off.regs_nr as u64) as u32;
    Some((nr, spec(nr)?))
}

/// Copies the six arguments from the saved registers into `args` (map memory: kept off
/// the stack, which the verifier copies and compares at every branch it explores).
#[inline(always)]
fn read_args(regs: u64, off: &KernelOffsets, args: *mut [u64; 6]) {
    let base = regs + off.regs_window_start as u64;
    // SAFETY: `args` points to the per-CPU scratch record's arguments.
    unsafe {
        if off.regs_window == 0 {
            for i in 0..6 {
                (*args)[i] = kernel_u64(base + off.regs_args[i] as u64);
            }
            return;
        }
        let Some(window) = REGS.get_ptr_mut(0) else {
            return;
        };
        // One read of all of them (x86-64: r10 at 56 … orig_ax at 120).
        bpf_probe_read_kernel(window.cast(), REGS_WINDOW as u32, base as *const c_void);
        for i in 0..6 {
            let at = (off.regs_args[i] as usize / 8) & (REGS_WINDOW / 8 - 1);
            (*args)[i] = (*window)[at];
        }
    }
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if !traced(tgid) {
        return 0;
    }
    let regs: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    let off = offsets();
    let Some((nr, spec)) = syscall_nr(regs, off) else {
        return 0;
    };
    let Some(record) = SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // The argument registers are still as the program set them (on aarch64 the first
    // is read from orig_x0); only a successful exec replaced them.
    // SAFETY: `record` is the per-CPU scratch record; `args` lies inside it.
    let args = unsafe { &raw mut (*record).args };
    read_args(regs, off, args);
    // SAFETY: as above; reads and writes stay inside the record.
    let args = unsafe { &mut *args };
    let flags = spec.flags;
    if flags & SPEC_EXEC != 0 {
        if ret == 0 {
            *args = [0; 6];
        } else {
            failed_exec_record(pid_tgid, nr, args, &spec);
        }
    }
    let skip = spec.skip_arg as usize;
    if skip < 6 && args[skip] & spec.skip_mask as u64 != 0 {
        return 0;
    }

    // Sends: only DNS is of interest.
    let mut dns_to = false;
    if flags & (SPEC_SENDTO | SPEC_SENDMSG | SPEC_SENDMMSG) != 0 {
        dns_to = if flags & SPEC_SENDTO != 0 {
            if args[4] != 0 {
                is_dns_addr(args[4])
            } else {
                dns_socket(tgid, args[0])
            }
        } else {
            // struct msghdr { void *msg_name; ... }; for sendmmsg the first one.
            let name = user_u64(args[1]);
            if name != 0 {
                is_dns_addr(name)
            } else {
                dns_socket(tgid, args[0])
            }
        };
        if !dns_to {
            return 0;
        }
    }
    if flags & SPEC_CONNECT != 0 && (ret == 0 || ret == -EINPROGRESS) && is_dns_addr(args[1]) {
        let key = ((tgid as u64) << 32) | (args[0] & 0xffff_ffff);
        let _ = DNS_SOCKETS.insert(&key, &1, 0);
    }

    // SAFETY: `record` points to the scratch SyscallRecord; every write stays inside it.
    unsafe {
        (*record).header = header(RECORD_SYSCALL, pid_tgid, nr, 0);
        (*record).ret = ret;
        // Volatile, so the six zero stores are not merged into a call of the byte-loop
        // `memset` the BPF target links.
        (&raw mut (*record).path1_len).write_volatile(0);
        (&raw mut (*record).path2_len).write_volatile(0);
        (&raw mut (*record).addr_len).write_volatile(0);
        (&raw mut (*record).data_len).write_volatile(0);
        (&raw mut (*record).data2_len).write_volatile(0);
        (&raw mut (*record).file_mode).write_volatile(0);
        let flags_arg = spec.open_flags_arg as usize;
        let may_create = flags_arg >= 6 || args[flags_arg] & O_CREAT != 0;
        if flags & SPEC_OPEN != 0 && ret >= 0 && may_create {
            (*record).file_mode = file_mode(ret as u64, off);
        }
        if flags & SPEC_EXEC == 0 {
            let p1 = spec.path1 as usize;
            if p1 < 6 {
                (*record).path1_len = user_path((&raw mut (*record).path1).cast(), args[p1]);
            }
            let p2 = spec.path2 as usize;
            if p2 < 6 {
                (*record).path2_len = user_path((&raw mut (*record).path2).cast(), args[p2]);
            }
            let a = spec.addr as usize;
            let al = spec.addr_len as usize;
            if a < 6 && al < 6 {
                (*record).addr_len =
                    user_bytes::<ADDR_MAX>(&raw mut (*record).addr, args[a], args[al]);
            }
        }
        if dns_to {
            if flags & SPEC_SENDTO != 0 {
                (*record).data_len =
                    user_bytes::<PAYLOAD_MAX>(&raw mut (*record).data, args[1], args[2]);
            } else {
                // msghdr: name(0) namelen(8) iov(16) iovlen(24); iovec: base(0) len(8).
                let first = args[1];
                let name = user_u64(first);
                let namelen = user_u64(first + 8) & 0xffff_ffff;
                (*record).addr_len = user_bytes::<ADDR_MAX>(&raw mut (*record).addr, name, namelen);
                let iov = user_u64(first + 16);
                if iov != 0 {
                    (*record).data_len = user_bytes::<PAYLOAD_MAX>(
                        &raw mut (*record).data,
                        user_u64(iov),
                        user_u64(iov + 8),
                    );
                }
                // sendmmsg: the second message (struct mmsghdr is 64 bytes).
                if flags & SPEC_SENDMMSG != 0 && args[2] > 1 {
                    let iov = user_u64(first + 64 + 16);
                    if iov != 0 {
                        (*record).data2_len = user_bytes::<PAYLOAD_MAX>(
                            &raw mut (*record).data2,
                            user_u64(iov),
                            user_u64(iov + 8),
                        );
                    }
                }
            }
        }
    }
    send_compact(record);
    0
}

/// The `f_mode` of descriptor `fd` of the current task
/// (`current->files->fdt->fd[fd]->f_mode`), 0 if it cannot be read.
#[inline(always)]
fn file_mode(fd: u64, off: &KernelOffsets) -> u32 {
    // SAFETY: no preconditions.
    let task = unsafe { bpf_get_current_task() };
    let files = kernel_u64(task + off.task_files as u64);
    if files == 0 {
        return 0;
    }
    let fdt = kernel_u64(files + off.files_fdt as u64);
    if fdt == 0 {
        return 0;
    }
    let fds = kernel_u64(fdt + off.fdtable_fd as u64);
    if fds == 0 {
        return 0;
    }
    let file = kernel_u64(fds + (fd & 0xffff_ffff) * 8);
    if file == 0 {
        return 0;
    }
    kernel_u64(file + off.file_mode as u64) as u32
}

#[raw_tracepoint(tracepoint = "io_uring_submit_req")]
pub fn uring_submit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !traced((pid_tgid >> 32) as u32) {
        return 0;
    }
    let off = offsets();
    if off.uring == 0 {
        return 0;
    }
    let req: u64 = ctx.arg(0);
    let opcode = kernel_u64(req + off.kiocb_opcode as u64) as u8;
    if opcode != IORING_OP_OPENAT && opcode != IORING_OP_OPENAT2 {
        return 0;
    }
    let dfd = kernel_u64(req + off.open_dfd as u64) & 0xffff_ffff;
    let filename = kernel_u64(req + off.open_filename as u64);
    let flags = kernel_u64(req + off.open_how as u64);
    let name = if filename == 0 {
        0
    } else {
        kernel_u64(filename + off.filename_name as u64)
    };
    let Some(record) = SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: `record` points to a reserved SyscallRecord; every write stays inside it.
    unsafe {
        (*record).header = header(RECORD_URING_OPEN, pid_tgid, 0, req);
        (*record).args = [dfd, flags, opcode as u64, 0, 0, 0];
        (*record).ret = 0;
        (*record).path2_len = 0;
        (*record).addr_len = 0;
        (*record).data_len = 0;
        (*record).data2_len = 0;
        (*record).file_mode = 0;
        (*record).path1_len = if name == 0 {
            -14
        } else {
            bpf_probe_read_kernel_str(
                (&raw mut (*record).path1).cast(),
                PATH_MAX as u32,
                name as *const c_void,
            ) as i32
        };
    }
    send_compact(record);
    let _ = URING_OPENS.insert(&req, &1, 0);
    0
}

#[raw_tracepoint(tracepoint = "io_uring_complete")]
pub fn uring_complete(ctx: RawTracePointContext) -> i32 {
    // TP_PROTO(struct io_ring_ctx *ctx, void *req, struct io_uring_cqe *cqe)
    let req: u64 = ctx.arg(1);
    // SAFETY: the value is not used beyond the check.
    if unsafe { URING_OPENS.get(&req).is_none() } {
        return 0;
    }
    let _ = URING_OPENS.remove(&req);
    let off = offsets();
    let cqe: u64 = ctx.arg(2);
    let res = kernel_u64(cqe + off.cqe_res as u64) as u32;
    let pid_tgid = bpf_get_current_pid_tgid();
    match EVENTS.reserve::<Header>(0) {
        Some(mut entry) => {
            // SAFETY: a reserved Header.
            unsafe {
                entry
                    .as_mut_ptr()
                    .write(header(RECORD_URING_DONE, pid_tgid, res, req))
            };
            entry.submit(submit_flags(core::mem::size_of::<Header>()));
        }
        None => dropped(),
    }
    0
}

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn process_fork(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !traced((pid_tgid >> 32) as u32) {
        return 0;
    }
    let child: u64 = ctx.arg(1);
    let off = offsets();
    let pid = kernel_u64(child + off.task_pid as u64) as u32;
    let tgid = kernel_u64(child + off.task_tgid as u64) as u32;
    if pid == 0 || pid != tgid {
        return 0; // a thread: its process is traced already
    }
    set_traced(tgid, true);
    match EVENTS.reserve::<Header>(0) {
        Some(mut entry) => {
            // SAFETY: a reserved Header.
            unsafe {
                entry
                    .as_mut_ptr()
                    .write(header(RECORD_FORK, pid_tgid, 0, tgid as u64))
            };
            entry.submit(submit_flags(core::mem::size_of::<Header>()));
        }
        None => dropped(),
    }
    0
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn process_exit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if !traced(tgid) {
        return 0;
    }
    let tid = pid_tgid as u32;
    let off = offsets();
    let last = if off.exit_has_group_dead != 0 {
        let group_dead: u64 = ctx.arg(1);
        group_dead & 0xff != 0
    } else {
        tid == tgid
    };
    if !last {
        return 0;
    }
    let task: u64 = ctx.arg(0);
    let code = kernel_u64(task + off.task_exit_code as u64) & 0xffff_ffff;
    set_traced(tgid, false);
    match EVENTS.reserve::<Header>(0) {
        Some(mut entry) => {
            // SAFETY: a reserved Header.
            unsafe {
                entry
                    .as_mut_ptr()
                    .write(header(RECORD_EXIT, pid_tgid, 0, code))
            };
            // The reader waits for the last exit: always wake it.
            entry.submit(BPF_RB_FORCE_WAKEUP as u64);
        }
        None => dropped(),
    }
    0
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
