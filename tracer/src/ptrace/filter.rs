//! The classic-BPF seccomp program that makes the kernel stop the tracee only at the
//! system calls the tracer cares about.
//!
//! The program answers `SECCOMP_RET_TRACE | index` for a traced system call (the index
//! into [`Syscall::ALL`] comes back to the tracer as `ret_data`, so it needs no lookup)
//! and `SECCOMP_RET_ALLOW` for everything else, including every system call of a foreign
//! architecture (a 32-bit program on a 64-bit kernel, x32 numbers): those are not traced,
//! rather than killed. `newfstatat` and `statx` with `AT_EMPTY_PATH` (how glibc implements
//! `fstat`, one of the most frequent system calls) are allowed without a stop: they name
//! no path.
//!
//! The numbers are compared with a balanced tree of `JGT` jumps, so a system call is
//! decided in about a dozen instructions instead of one comparison per traced number.

use libc::sock_filter;

use crate::decode::syscalls::{AUDIT_ARCH, Syscall};

/// `offsetof(struct seccomp_data, nr)`.
const NR_OFFSET: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const ARCH_OFFSET: u32 = 4;
/// `offsetof(struct seccomp_data, args)`.
const ARGS_OFFSET: u32 = 16;
/// The low 32 bits of a 64-bit argument within `seccomp_data.args[i]`.
#[cfg(target_endian = "little")]
const LOW_WORD: u32 = 0;
#[cfg(target_endian = "big")]
const LOW_WORD: u32 = 4;

/// x32 system calls are the x86-64 ABI with this bit set in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn allow() -> sock_filter {
    stmt(RET_K, libc::SECCOMP_RET_ALLOW)
}

fn trace(syscall: Syscall) -> sock_filter {
    stmt(RET_K, libc::SECCOMP_RET_TRACE | syscall.index())
}

/// Builds the filter for this architecture.
pub(super) fn program() -> Vec<sock_filter> {
    let mut traced: Vec<(u32, Syscall)> = Syscall::ALL
        .iter()
        .filter_map(|&syscall| Some((syscall.number()? as u32, syscall)))
        .collect();
    traced.sort_unstable_by_key(|&(nr, _)| nr);
    traced.dedup_by_key(|&mut (nr, _)| nr);

    let mut program = vec![
        stmt(LD_W_ABS, ARCH_OFFSET),
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        allow(),
        stmt(LD_W_ABS, NR_OFFSET),
    ];
    if cfg!(target_arch = "x86_64") {
        program.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(allow());
    }
    program.extend(tree(&traced));
    program
}

/// A block that decides every number in the accumulator, ending in returns on all paths.
fn tree(traced: &[(u32, Syscall)]) -> Vec<sock_filter> {
    const LEAF: usize = 4;
    if traced.len() <= LEAF {
        let mut block = Vec::new();
        for &(nr, syscall) in traced {
            block.extend(check(nr, syscall));
        }
        block.push(allow());
        return block;
    }
    let mid = traced.len() / 2;
    let low = tree(&traced[..mid]);
    let high = tree(&traced[mid..]);
    let skip = u8::try_from(low.len()).expect("a subtree of the seccomp filter must be short");
    let mut block = vec![jump(JGT_K, traced[mid - 1].0, skip, 0)];
    block.extend(low);
    block.extend(high);
    block
}

/// Instructions that return TRACE when the accumulator holds `nr`, and fall through
/// (accumulator unchanged) otherwise.
fn check(nr: u32, syscall: Syscall) -> Vec<sock_filter> {
    match syscall.empty_path_flags_arg() {
        // if (nr == N) { A = args[i] (low word); return A & AT_EMPTY_PATH ? ALLOW : TRACE }
        Some(arg) => vec![
            jump(JEQ_K, nr, 0, 4),
            stmt(LD_W_ABS, ARGS_OFFSET + 8 * arg + LOW_WORD),
            jump(JSET_K, libc::AT_EMPTY_PATH as u32, 0, 1),
            allow(),
            trace(syscall),
        ],
        None => vec![jump(JEQ_K, nr, 0, 1), trace(syscall)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the instructions the filter uses, over a
    /// `seccomp_data` given as (nr, arch, args).
    fn run(program: &[sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes());
        for arg in args {
            data.extend_from_slice(&arg.to_ne_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        for _ in 0..program.len() {
            let insn = program[pc];
            pc += 1;
            let taken = |cond: bool| if cond { insn.jt } else { insn.jf } as usize;
            match insn.code {
                LD_W_ABS => {
                    let at = insn.k as usize;
                    let word = data[at..at + 4].try_into().expect("4 bytes");
                    acc = u32::from_ne_bytes(word);
                }
                JEQ_K => pc += taken(acc == insn.k),
                JGT_K => pc += taken(acc > insn.k),
                JGE_K => pc += taken(acc >= insn.k),
                JSET_K => pc += taken(acc & insn.k != 0),
                RET_K => return insn.k,
                code => panic!("unexpected instruction {code:#x}"),
            }
        }
        panic!("the program ran off its end");
    }

    #[test]
    fn traces_exactly_the_syscalls_of_interest() {
        let program = program();
        assert!(
            program.len() < 256,
            "the program stays small: {}",
            program.len()
        );
        for &syscall in Syscall::ALL {
            let Some(nr) = syscall.number() else { continue };
            let verdict = run(&program, nr as u32, AUDIT_ARCH, [0; 6]);
            assert_eq!(
                verdict,
                libc::SECCOMP_RET_TRACE | syscall.index(),
                "{syscall:?} (nr {nr}) must be traced with its index"
            );
        }
        for nr in 0..500u32 {
            if Syscall::from_number(i64::from(nr)).is_none() {
                assert_eq!(
                    run(&program, nr, AUDIT_ARCH, [0; 6]),
                    libc::SECCOMP_RET_ALLOW,
                    "syscall {nr} must be allowed without a stop"
                );
            }
        }
    }

    #[test]
    fn foreign_architectures_and_x32_are_allowed() {
        let program = program();
        let openat = Syscall::Openat.number().expect("openat exists") as u32;
        assert_eq!(
            run(&program, openat, 0x4000_0003, [0; 6]),
            libc::SECCOMP_RET_ALLOW,
            "i386 system calls are not traced"
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                run(&program, openat | X32_SYSCALL_BIT, AUDIT_ARCH, [0; 6]),
                libc::SECCOMP_RET_ALLOW,
                "x32 system calls are not traced"
            );
        }
    }

    #[test]
    fn stat_of_a_file_descriptor_is_not_traced() {
        let program = program();
        let newfstatat = Syscall::Newfstatat.number().expect("newfstatat") as u32;
        let empty = libc::AT_EMPTY_PATH as u64;
        assert_eq!(
            run(&program, newfstatat, AUDIT_ARCH, [3, 0, 0, empty, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "fstat via newfstatat(fd, \"\", AT_EMPTY_PATH)"
        );
        assert_eq!(
            run(&program, newfstatat, AUDIT_ARCH, [3, 0, 0, 0x100, 0, 0]),
            libc::SECCOMP_RET_TRACE | Syscall::Newfstatat.index(),
            "newfstatat with AT_SYMLINK_NOFOLLOW names a path"
        );
        let statx = Syscall::Statx.number().expect("statx") as u32;
        assert_eq!(
            run(&program, statx, AUDIT_ARCH, [3, 0, empty, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "statx(fd, \"\", AT_EMPTY_PATH)"
        );
        assert_eq!(
            run(&program, statx, AUDIT_ARCH, [3, 0, 0, 0, 0, 0]),
            libc::SECCOMP_RET_TRACE | Syscall::Statx.index(),
            "statx of a path"
        );
    }
}
