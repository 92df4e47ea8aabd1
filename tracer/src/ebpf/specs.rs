//! What the eBPF programs copy for each traced system call, and what the tracer makes of
//! it: the same system calls as the ptrace backend ([`Syscall`]), plus `fchdir`, whose
//! only purpose is to keep the working directory the tracer follows right.

use nono_ebpf_common::{
    SPEC_CONNECT, SPEC_EXEC, SPEC_OPEN, SPEC_SENDMMSG, SPEC_SENDMSG, SPEC_SENDTO, SPEC_TRACE,
    SyscallSpec,
};

use crate::decode::syscalls::Syscall;

/// A system call the eBPF backend looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// One the ptrace backend traces too.
    Traced(Syscall),
    /// `fchdir(fd)`.
    Fchdir,
}

/// Where a system call's paths are relative to: the argument holding the directory
/// descriptor of `path1` and `path2`, or `None` for the working directory.
pub(crate) fn dirfd_args(call: Syscall) -> (Option<usize>, Option<usize>) {
    use Syscall as S;
    match call {
        S::Openat
        | S::Openat2
        | S::Newfstatat
        | S::Statx
        | S::Faccessat
        | S::Faccessat2
        | S::Readlinkat
        | S::Execveat
        | S::Mkdirat
        | S::Unlinkat => (Some(0), None),
        S::Renameat | S::Renameat2 | S::Linkat => (Some(0), Some(2)),
        S::Symlinkat => (None, Some(1)),
        _ => (None, None),
    }
}

/// The table entry for `call`: what the programs copy.
pub(crate) fn spec(call: Call) -> SyscallSpec {
    let none = -1;
    let paths = |path1: i8, path2: i8| SyscallSpec {
        flags: SPEC_TRACE,
        path1,
        path2,
        addr: none,
        addr_len: none,
        skip_arg: none,
        open_flags_arg: none,
        _pad: [0; 2],
        skip_mask: 0,
    };
    let Call::Traced(call) = call else {
        return paths(none, none);
    };
    use Syscall as S;
    let with = |mut spec: SyscallSpec, flags: u32| {
        spec.flags |= flags;
        spec
    };
    match call {
        S::Open => SyscallSpec {
            open_flags_arg: 1,
            ..with(paths(0, none), SPEC_OPEN)
        },
        S::Creat => with(paths(0, none), SPEC_OPEN),
        S::Openat => SyscallSpec {
            open_flags_arg: 2,
            ..with(paths(1, none), SPEC_OPEN)
        },
        // The struct open_how (its first word is the flags) comes as the "address".
        S::Openat2 => SyscallSpec {
            addr: 2,
            addr_len: 3,
            ..with(paths(1, none), SPEC_OPEN)
        },
        S::Stat | S::Lstat | S::Access | S::Readlink | S::Mkdir | S::Rmdir | S::Unlink => {
            paths(0, none)
        }
        S::Truncate | S::Chdir => paths(0, none),
        // fstat(fd) is newfstatat(fd, "", AT_EMPTY_PATH): no path, not looked at.
        S::Newfstatat => SyscallSpec {
            skip_arg: 3,
            skip_mask: libc::AT_EMPTY_PATH as u32,
            ..paths(1, none)
        },
        S::Statx => SyscallSpec {
            skip_arg: 2,
            skip_mask: libc::AT_EMPTY_PATH as u32,
            ..paths(1, none)
        },
        S::Faccessat | S::Faccessat2 | S::Readlinkat | S::Mkdirat | S::Unlinkat => paths(1, none),
        S::Execve => with(paths(0, none), SPEC_EXEC),
        S::Execveat => with(paths(1, none), SPEC_EXEC),
        S::Rename | S::Link | S::Symlink => paths(0, 1),
        S::Renameat | S::Renameat2 | S::Linkat => paths(1, 3),
        S::Symlinkat => paths(0, 2),
        S::Connect => SyscallSpec {
            addr: 1,
            addr_len: 2,
            ..with(paths(none, none), SPEC_CONNECT)
        },
        S::Bind => SyscallSpec {
            addr: 1,
            addr_len: 2,
            ..paths(none, none)
        },
        S::Sendto => SyscallSpec {
            addr: 4,
            addr_len: 5,
            ..with(paths(none, none), SPEC_SENDTO)
        },
        S::Sendmsg => with(paths(none, none), SPEC_SENDMSG),
        S::Sendmmsg => with(paths(none, none), SPEC_SENDMMSG),
    }
}

/// Every call with its number on this architecture.
pub(crate) fn table() -> Vec<(u32, Call)> {
    let mut calls: Vec<(u32, Call)> = Syscall::ALL
        .iter()
        .filter_map(|&s| Some((s.number()? as u32, Call::Traced(s))))
        .collect();
    calls.push((libc::SYS_fchdir as u32, Call::Fchdir));
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use nono_ebpf_common::SYSCALL_TABLE_LEN;

    #[test]
    fn numbers_fit_the_table() {
        for (nr, call) in table() {
            assert!(nr < SYSCALL_TABLE_LEN, "{call:?} = {nr}");
        }
    }

    #[test]
    fn path_arguments_match_the_dirfd_arguments() {
        for (_, call) in table() {
            let Call::Traced(syscall) = call else {
                continue;
            };
            let spec = spec(call);
            let (d1, d2) = dirfd_args(syscall);
            if let Some(d) = d1 {
                assert!(spec.path1 > d as i8, "{syscall:?}: path1 follows its dirfd");
            }
            if let Some(d) = d2 {
                assert!(spec.path2 > d as i8, "{syscall:?}: path2 follows its dirfd");
            }
            assert!(spec.flags & SPEC_TRACE != 0);
        }
    }
}
