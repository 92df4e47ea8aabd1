//! The system calls the tracer stops at, and their numbers on this architecture.
//!
//! Architectures without the legacy path calls (`open`, `stat`, `mkdir`, …; aarch64 has
//! only the `*at` forms) simply have no number for them, and the filter skips them.

use libc::c_long;

/// `AUDIT_ARCH_*` of this build's native system calls (`include/uapi/linux/audit.h`).
#[cfg(target_arch = "x86_64")]
pub(crate) const AUDIT_ARCH: u32 = 0xC000_003E;
/// `AUDIT_ARCH_*` of this build's native system calls (`include/uapi/linux/audit.h`).
#[cfg(target_arch = "aarch64")]
pub(crate) const AUDIT_ARCH: u32 = 0xC000_00B7;

macro_rules! syscalls {
    ($($variant:ident => $number:ident,)*) => {
        /// A traced system call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Syscall {
            $(
                #[doc = concat!("`", stringify!($number), "`")]
                $variant,
            )*
        }

        impl Syscall {
            /// Every traced system call, in index order.
            pub(crate) const ALL: &'static [Syscall] = &[$(Syscall::$variant),*];

            /// The system call number on this architecture, if it has one.
            pub(crate) fn number(self) -> Option<c_long> {
                match self {
                    $(Syscall::$variant => numbers::$number,)*
                }
            }
        }
    };
}

syscalls! {
    Open => open,
    Openat => openat,
    Openat2 => openat2,
    Creat => creat,
    Stat => stat,
    Lstat => lstat,
    Newfstatat => newfstatat,
    Statx => statx,
    Access => access,
    Faccessat => faccessat,
    Faccessat2 => faccessat2,
    Readlink => readlink,
    Readlinkat => readlinkat,
    Execve => execve,
    Execveat => execveat,
    Mkdir => mkdir,
    Mkdirat => mkdirat,
    Rmdir => rmdir,
    Unlink => unlink,
    Unlinkat => unlinkat,
    Rename => rename,
    Renameat => renameat,
    Renameat2 => renameat2,
    Link => link,
    Linkat => linkat,
    Symlink => symlink,
    Symlinkat => symlinkat,
    Truncate => truncate,
    Chdir => chdir,
    Connect => connect,
    Bind => bind,
    Sendto => sendto,
    Sendmsg => sendmsg,
    Sendmmsg => sendmmsg,
}

impl Syscall {
    /// The position in [`Syscall::ALL`], which the filter returns as `SECCOMP_RET_DATA`.
    pub(crate) fn index(self) -> u32 {
        Self::ALL
            .iter()
            .position(|&syscall| syscall == self)
            .expect("every variant is listed") as u32
    }

    /// The system call for a filter's `ret_data`.
    pub(crate) fn from_index(index: u32) -> Option<Self> {
        Self::ALL.get(index as usize).copied()
    }

    /// The traced system call with this number.
    #[cfg(test)]
    pub(crate) fn from_number(nr: i64) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|syscall| syscall.number() == Some(nr as c_long))
    }

    /// For `newfstatat` and `statx`, which argument holds the flags: with
    /// `AT_EMPTY_PATH` they inspect a file descriptor, not a path, and the filter lets them
    /// through without a stop.
    pub(crate) fn empty_path_flags_arg(self) -> Option<u32> {
        match self {
            Syscall::Newfstatat => Some(3),
            Syscall::Statx => Some(2),
            _ => None,
        }
    }
}

/// The numbers, `None` where the architecture lacks the call.
#[allow(non_upper_case_globals)]
mod numbers {
    use libc::c_long;

    macro_rules! generic {
        ($($name:ident = $sys:ident),* $(,)?) => {
            $(pub(crate) const $name: Option<c_long> = Some(libc::$sys);)*
        };
    }

    generic! {
        openat = SYS_openat,
        openat2 = SYS_openat2,
        newfstatat = SYS_newfstatat,
        statx = SYS_statx,
        faccessat = SYS_faccessat,
        faccessat2 = SYS_faccessat2,
        readlinkat = SYS_readlinkat,
        execve = SYS_execve,
        execveat = SYS_execveat,
        mkdirat = SYS_mkdirat,
        unlinkat = SYS_unlinkat,
        renameat2 = SYS_renameat2,
        linkat = SYS_linkat,
        symlinkat = SYS_symlinkat,
        truncate = SYS_truncate,
        chdir = SYS_chdir,
        connect = SYS_connect,
        bind = SYS_bind,
        sendto = SYS_sendto,
        sendmsg = SYS_sendmsg,
        sendmmsg = SYS_sendmmsg,
    }

    #[cfg(target_arch = "x86_64")]
    generic! {
        open = SYS_open,
        creat = SYS_creat,
        stat = SYS_stat,
        lstat = SYS_lstat,
        access = SYS_access,
        readlink = SYS_readlink,
        mkdir = SYS_mkdir,
        rmdir = SYS_rmdir,
        unlink = SYS_unlink,
        rename = SYS_rename,
        renameat = SYS_renameat,
        link = SYS_link,
        symlink = SYS_symlink,
    }

    #[cfg(target_arch = "aarch64")]
    pub(crate) use self::absent::*;

    #[cfg(target_arch = "aarch64")]
    mod absent {
        use libc::c_long;
        pub(crate) const open: Option<c_long> = None;
        pub(crate) const creat: Option<c_long> = None;
        pub(crate) const stat: Option<c_long> = None;
        pub(crate) const lstat: Option<c_long> = None;
        pub(crate) const access: Option<c_long> = None;
        pub(crate) const readlink: Option<c_long> = None;
        pub(crate) const mkdir: Option<c_long> = None;
        pub(crate) const rmdir: Option<c_long> = None;
        pub(crate) const unlink: Option<c_long> = None;
        pub(crate) const rename: Option<c_long> = None;
        pub(crate) const renameat: Option<c_long> = None;
        pub(crate) const link: Option<c_long> = None;
        pub(crate) const symlink: Option<c_long> = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_round_trip() {
        for &syscall in Syscall::ALL {
            assert_eq!(
                Syscall::from_index(syscall.index()),
                Some(syscall),
                "{syscall:?}"
            );
        }
        assert!(
            Syscall::ALL.len() < libc::SECCOMP_RET_DATA as usize,
            "indices fit SECCOMP_RET_DATA"
        );
    }

    #[test]
    fn numbers_are_distinct() {
        let mut numbers: Vec<_> = Syscall::ALL.iter().filter_map(|s| s.number()).collect();
        let count = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            count,
            "two traced system calls share a number"
        );
    }
}
