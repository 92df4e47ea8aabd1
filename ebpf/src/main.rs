//! nono's eBPF programs: what a traced process tree does, as records in a ring buffer.
//!
//! - `sys_exit` (a raw tracepoint, one attachment for every system call): for processes
//!   in `TRACED` and system calls the `SPECS` table marks, a record with the arguments
//!   (still in the saved registers at exit), the result, and the strings they point to
//!   (read at exit, when the kernel has just read them itself, so they are paged in).
//!   A successful open also reports the new file's `f_mode`, read through the task's
//!   descriptor table, so the tracer knows whether it created the file. A failed exec
//!   reports its program and arguments from the caller's memory.
//! - `sched_process_exec`: a successful exec's program (the kernel's copy) and
//!   arguments (from the new program's memory, where exec put them).
//! - `io_uring_submit_req` / `io_uring_complete`: opens submitted through io_uring,
//!   which no system call of the program shows.
//! - `sched_process_fork` / `sched_process_exit` (raw tracepoints): the tree is followed
//!   in the kernel, before the child first runs.
//!
//! A record that does not fit in the ring buffer is counted in `DROPPED`, never lost
//! silently. Wake-ups are batched: the reader is woken once each time a quarter of a
//! megabyte has piled up (by the record that crosses the mark), and otherwise polls.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// BPF's atomic add (`lock *(u64 *)(r + 0) += r`), which core's atomics lack on this
// target, is written as inline assembly.
#![cfg_attr(target_arch = "bpf", feature(asm_experimental_arch))]

#[cfg(target_arch = "bpf")]
mod programs;

/// Built for the host (`cargo test --workspace`), the package is an empty program: the
/// eBPF code exists only for the BPF target.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
