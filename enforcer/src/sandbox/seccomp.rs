//! The seccomp programs. Every refusal is `EACCES`; nothing kills.
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

/// Refuses every network socket that Landlock's TCP rules would not cover.
pub fn network_filter() -> Result<BpfProgram, seccompiler::Error> {
    let mut socket_rules = Vec::new();
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
    socket_rules.push(SeccompRule::new(vec![cond(
        0,
        Op::Eq,
        libc::AF_PACKET as u64,
    )?])?);
    let mut rules = BTreeMap::new();
    rules.insert(libc::SYS_socket, socket_rules);
    rules.insert(libc::SYS_io_uring_setup, vec![]);
    build(rules)
}

/// Refuses metadata changes everywhere (used only when no read-only mount view can be
/// built, because seccomp cannot tell which path a call is about).
pub fn metadata_filter() -> Result<BpfProgram, seccompiler::Error> {
    let mut rules = BTreeMap::new();
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

    #[test]
    fn programs_build() {
        assert!(!network_filter().unwrap().is_empty());
        assert!(!metadata_filter().unwrap().is_empty());
    }
}
