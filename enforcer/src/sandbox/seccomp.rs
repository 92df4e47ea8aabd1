//! The seccomp programs. Every refusal is an errno (`EACCES`, or `ENOSYS` for x32
//! calls); nothing kills.
//!
//! Always installed ([`base_filter`]): no `ioctl(TIOCSTI)` or `ioctl(TIOCLINUX)` — a
//! sandboxed program sharing the user's terminal could otherwise push keystrokes into
//! the shell that runs after it exits (the hole of bubblewrap's CVE-2017-5226) — no
//! `io_uring_setup` (io_uring operations are not seen by seccomp), and on x86-64 no
//! x32 system calls (their numbers carry bit 30 and would slip past every filter
//! written against the x86-64 numbers).
//!
//! Landlock's TCP rules (ABI 4) cover `bind`/`connect` of TCP sockets only. When the
//! network is blocked, everything else that reaches the network is refused at socket
//! creation: datagram, raw, seqpacket and other non-stream inet sockets (UDP, ICMP,
//! SCTP seqpacket), stream sockets with a protocol other than TCP (MPTCP — which
//! Landlock does not cover — and SCTP), packet sockets, and io_uring (whose
//! operations would need a separate audit). See docs/security-model.md.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch,
};

/// `setxattrat(2)` (Linux 6.13), same number on every architecture nono builds for.
const SYS_SETXATTRAT: i64 = 463;
/// `removexattrat(2)` (Linux 6.13).
const SYS_REMOVEXATTRAT: i64 = 466;
const IPPROTO_TCP: u64 = 6;
const SOCK_TYPE_MASK: u64 = 0xf;
/// The obsolete `SOCK_PACKET` type (libc deprecates the constant).
const SOCK_PACKET: i32 = 10;

fn arch() -> Result<TargetArch, seccompiler::Error> {
    Ok(std::env::consts::ARCH.try_into()?)
}

fn build(rules: BTreeMap<i64, Vec<SeccompRule>>) -> Result<BpfProgram, seccompiler::Error> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch()?,
    )?;
    filter.try_into().map_err(seccompiler::Error::Backend)
}

fn cond(arg: u8, op: Op, value: u64) -> Result<Cond, seccompiler::Error> {
    Ok(Cond::new(arg, Len::Dword, op, value)?)
}

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;
const MSG_FASTOPEN: u64 = 0x2000_0000;

/// The filter every sandbox gets: terminal injection, io_uring, the kernel's key
/// retention service unless `keyring` (keys of the caller's session and user keyrings
/// would otherwise be readable), and on x86-64 the x32 system calls. One program where
/// there were two (the x32 check first, then the rest): every filter costs the kernel
/// an allocation and a JIT compilation at install, and a run at every system call.
pub fn base_filter(keyring: bool) -> Result<BpfProgram, seccompiler::Error> {
    let mut rules = BTreeMap::new();
    if !keyring {
        for nr in [libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key] {
            rules.insert(nr, vec![]);
        }
    }
    rules.insert(
        libc::SYS_ioctl,
        vec![
            SeccompRule::new(vec![cond(1, Op::Eq, TIOCSTI)?])?,
            SeccompRule::new(vec![cond(1, Op::Eq, TIOCLINUX)?])?,
        ],
    );
    rules.insert(libc::SYS_io_uring_setup, vec![]);
    let program = build(rules)?;
    #[cfg(target_arch = "x86_64")]
    let program = {
        let mut joined = x32_prefix();
        joined.extend(program);
        joined
    };
    Ok(program)
}

/// On x86-64, refuses every system call made through the x32 ABI (numbers with bit 30
/// set) with `ENOSYS`, so no filter can be bypassed by using x32 numbers, and goes on
/// to the instruction after it for everything else. Hand-written because seccompiler
/// matches exact numbers only. It used to be a filter of its own (ending in "allow"
/// instead of going on), with the same answers: for an x32 call the rest of the base
/// filter allows (no rule names an x32 number), and between filters ERRNO wins over
/// ALLOW.
#[cfg(target_arch = "x86_64")]
fn x32_prefix() -> BpfProgram {
    use seccompiler::sock_filter;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let stmt = |code: u16, k: u32| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u16, k: u32, jt: u8, jf: u8| sock_filter { code, jt, jf, k };
    // BPF_LD|BPF_W|BPF_ABS = 0x20, BPF_JMP|BPF_JEQ|BPF_K = 0x15,
    // BPF_JMP|BPF_JGE|BPF_K = 0x35, BPF_RET|BPF_K = 0x06. Jumps count from the next
    // instruction; the program that follows starts at index 5.
    vec![
        stmt(0x20, 4),                                 // 0: A = seccomp_data.arch
        jump(0x15, AUDIT_ARCH_X86_64, 0, 3),           // 1: x86-64? 2 : 5
        stmt(0x20, 0),                                 // 2: A = seccomp_data.nr
        jump(0x35, X32_SYSCALL_BIT, 0, 1),             // 3: nr >= x32 bit? 4 : 5
        stmt(0x06, 0x0005_0000 | libc::ENOSYS as u32), // 4: SECCOMP_RET_ERRNO | ENOSYS
    ]
}

/// Refuses every network socket that Landlock's TCP rules would not cover, and TCP
/// Fast Open sends (`MSG_FASTOPEN` connects without the `connect` hook Landlock uses).
pub fn network_filter() -> Result<BpfProgram, seccompiler::Error> {
    let mut socket_rules = Vec::new();
    // Only unix, netlink and (TCP, below) inet sockets: no vsock, packet, bluetooth, …
    socket_rules.push(SeccompRule::new(vec![
        cond(0, Op::Ne, libc::AF_UNIX as u64)?,
        cond(0, Op::Ne, libc::AF_NETLINK as u64)?,
        cond(0, Op::Ne, libc::AF_INET as u64)?,
        cond(0, Op::Ne, libc::AF_INET6 as u64)?,
    ])?);
    for family in [libc::AF_INET as u64, libc::AF_INET6 as u64] {
        // Any type but SOCK_STREAM (flags like SOCK_NONBLOCK are masked off).
        for ty in [
            libc::SOCK_DGRAM,
            libc::SOCK_RAW,
            libc::SOCK_RDM,
            libc::SOCK_SEQPACKET,
            libc::SOCK_DCCP,
            SOCK_PACKET,
        ] {
            socket_rules.push(SeccompRule::new(vec![
                cond(0, Op::Eq, family)?,
                cond(1, Op::MaskedEq(SOCK_TYPE_MASK), ty as u64)?,
            ])?);
        }
        // Stream sockets whose protocol is neither 0 (TCP) nor TCP: MPTCP, SCTP.
        socket_rules.push(SeccompRule::new(vec![
            cond(0, Op::Eq, family)?,
            cond(2, Op::Ne, 0)?,
            cond(2, Op::Ne, IPPROTO_TCP)?,
        ])?);
    }
    let mut rules = BTreeMap::new();
    rules.insert(libc::SYS_socket, socket_rules);
    let fastopen = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::Error> {
        Ok(vec![SeccompRule::new(vec![cond(
            arg,
            Op::MaskedEq(MSG_FASTOPEN),
            MSG_FASTOPEN,
        )?])?])
    };
    rules.insert(libc::SYS_sendto, fastopen(3)?);
    rules.insert(libc::SYS_sendmsg, fastopen(2)?);
    rules.insert(libc::SYS_sendmmsg, fastopen(3)?);
    build(rules)
}

/// Refuses `listen` altogether: used when the network is blocked but no network
/// namespace could be created, because `listen` on an unbound inet socket binds an
/// ephemeral port without the `bind` hook Landlock uses.
pub fn listen_filter() -> Result<BpfProgram, seccompiler::Error> {
    let mut rules = BTreeMap::new();
    rules.insert(libc::SYS_listen, vec![]);
    build(rules)
}

/// `FS_IOC_SETFLAGS` (`chattr`), as `_IOW('f', 2, long)` on 64-bit, and its 32-bit
/// twin `FS_IOC32_SETFLAGS`.
const FS_IOC_SETFLAGS: u64 = 0x4008_6602;
const FS_IOC32_SETFLAGS: u64 = 0x4004_6602;
/// `FS_IOC_FSSETXATTR` (`xfs_io chattr`, project ids, the same flags), `_IOW('X', 32,
/// struct fsxattr)`.
const FS_IOC_FSSETXATTR: u64 = 0x401c_5820;

/// Refuses metadata changes everywhere (used only when no read-only mount view can be
/// built, because seccomp cannot tell which path a call is about): modes, owners,
/// times, extended attributes and inode flags (`chattr +i/+a/+A`).
pub fn metadata_filter() -> Result<BpfProgram, seccompiler::Error> {
    let mut rules = BTreeMap::new();
    rules.insert(
        libc::SYS_ioctl,
        vec![
            SeccompRule::new(vec![cond(1, Op::Eq, FS_IOC_SETFLAGS)?])?,
            SeccompRule::new(vec![cond(1, Op::Eq, FS_IOC32_SETFLAGS)?])?,
            SeccompRule::new(vec![cond(1, Op::Eq, FS_IOC_FSSETXATTR)?])?,
        ],
    );
    for nr in [
        libc::SYS_chmod,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchmodat2,
        libc::SYS_chown,
        libc::SYS_fchown,
        libc::SYS_lchown,
        libc::SYS_fchownat,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_utimensat,
        libc::SYS_futimesat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        SYS_SETXATTRAT,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        SYS_REMOVEXATTRAT,
    ] {
        rules.insert(nr, vec![]);
    }
    build(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program on a `seccomp_data` (the kernel's interpreter, for the
    /// instructions these programs use).
    fn run(program: &[seccompiler::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_le_bytes());
        data.extend_from_slice(&arch.to_le_bytes());
        data.extend_from_slice(&0u64.to_le_bytes());
        for arg in args {
            data.extend_from_slice(&arg.to_le_bytes());
        }
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = &program[pc];
            pc += 1;
            let jump = |taken: bool| if taken { i.jt as usize } else { i.jf as usize };
            match i.code {
                0x20 => {
                    let k = i.k as usize;
                    a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x54 => a &= i.k,
                0x05 => pc += i.k as usize,
                0x15 => pc += jump(a == i.k),
                0x25 => pc += jump(a > i.k),
                0x35 => pc += jump(a >= i.k),
                0x45 => pc += jump(a & i.k != 0),
                0x06 => return i.k,
                other => panic!("opcode {other:#x} not interpreted"),
            }
        }
    }

    /// What the kernel returns when several filters answer: the most severe action.
    fn combined(answers: &[u32]) -> u32 {
        *answers
            .iter()
            .min_by_key(|r| (**r & 0xffff_0000) as i32)
            .unwrap()
    }

    /// The x32 check joined in front of the base filter answers as the two separate
    /// filters did, for every architecture, x32 and plain numbers, and arguments.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_joined_base_filter_answers_as_the_two_filters_did() {
        use seccompiler::sock_filter;
        let stmt = |code: u16, k: u32| sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        let jump = |code: u16, k: u32, jt: u8, jf: u8| sock_filter { code, jt, jf, k };
        // The x32 filter as it was installed on its own.
        let x32_alone = vec![
            stmt(0x20, 4),
            jump(0x15, 0xc000_003e, 1, 0),
            stmt(0x06, 0x7fff_0000),
            stmt(0x20, 0),
            jump(0x35, 0x4000_0000, 0, 1),
            stmt(0x06, 0x0005_0000 | libc::ENOSYS as u32),
            stmt(0x06, 0x7fff_0000),
        ];
        let joined = base_filter(false).unwrap();
        let rest = &joined[x32_prefix().len()..];
        const I386: u32 = 0x4000_0003;
        const AARCH64: u32 = 0xc000_00b7;
        let x32 = 0x4000_0000u32;
        let ioctl = libc::SYS_ioctl as u32;
        let uring = libc::SYS_io_uring_setup as u32;
        let getpid = libc::SYS_getpid as u32;
        let mut x32_refused = 0;
        for arch in [0xc000_003e, I386, AARCH64] {
            for nr in [
                ioctl,
                uring,
                getpid,
                0,
                x32 | ioctl,
                x32 | uring,
                x32 | getpid,
                x32,
                u32::MAX,
            ] {
                for arg in [0, TIOCSTI, TIOCLINUX, TIOCSTI | 1 << 32, 0x5413] {
                    let args = [3, arg, 0, 0, 0, 0];
                    let before =
                        combined(&[run(&x32_alone, arch, nr, args), run(rest, arch, nr, args)]);
                    assert_eq!(
                        run(&joined, arch, nr, args),
                        before,
                        "arch {arch:#x} nr {nr:#x} arg {arg:#x}"
                    );
                    if before == 0x0005_0000 | libc::ENOSYS as u32 {
                        x32_refused += 1;
                    }
                }
            }
        }
        assert!(x32_refused > 0, "some x32 calls are refused with ENOSYS");
        // And the refusals the base filter is for.
        let native = 0xc000_003e;
        assert_eq!(
            run(&joined, native, ioctl, [0, TIOCSTI, 0, 0, 0, 0]),
            0x0005_0000 | libc::EACCES as u32
        );
        assert_eq!(
            run(&joined, native, uring, [0; 6]),
            0x0005_0000 | libc::EACCES as u32
        );
        assert_eq!(run(&joined, native, getpid, [0; 6]), 0x7fff_0000);
        assert_eq!(
            run(&joined, native, x32 | getpid, [0; 6]),
            0x0005_0000 | libc::ENOSYS as u32
        );
    }

    #[test]
    fn programs_build() {
        assert!(!base_filter(false).unwrap().is_empty());
        assert!(!listen_filter().unwrap().is_empty());
        assert!(!network_filter().unwrap().is_empty());
        assert!(!metadata_filter().unwrap().is_empty());
    }
}
