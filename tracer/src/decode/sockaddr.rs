//! Decoding the `struct sockaddr` bytes a process passes to `connect`, `bind` or `sendto`.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::event::SockAddr;

/// `sizeof(struct sockaddr_storage)`: no address is longer.
pub(crate) const MAX_LEN: usize = 128;

/// Decodes a socket address of `bytes.len()` bytes (the `addrlen` the process passed,
/// capped at [`MAX_LEN`]). Returns `None` when the bytes are too short for their family.
///
/// A Unix path is returned as written; the caller makes a relative one absolute.
pub(crate) fn decode(bytes: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?);
    let rest = &bytes[2..];
    match i32::from(family) {
        libc::AF_INET => {
            // sockaddr_in: port (big-endian), address, zero padding.
            let port = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
            let ip: [u8; 4] = rest.get(2..6)?.try_into().ok()?;
            Some(SockAddr::Inet {
                ip: IpAddr::V4(Ipv4Addr::from(ip)),
                port,
            })
        }
        libc::AF_INET6 => {
            // sockaddr_in6: port, flowinfo, address, scope id.
            let port = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
            let ip: [u8; 16] = rest.get(6..22)?.try_into().ok()?;
            Some(SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::from(ip)),
                port,
            })
        }
        libc::AF_UNIX => match rest {
            // An unnamed socket (autobind or socketpair).
            [] => Some(SockAddr::Other { family }),
            [0, name @ ..] => Some(SockAddr::AbstractUnix {
                name: String::from_utf8_lossy(name).into_owned(),
            }),
            path => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Some(SockAddr::Unix {
                    path: PathBuf::from(OsStr::from_bytes(&path[..end])),
                })
            }
        },
        _ => Some(SockAddr::Other { family }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_family(family: i32, rest: &[u8]) -> Vec<u8> {
        let mut bytes = (family as u16).to_ne_bytes().to_vec();
        bytes.extend_from_slice(rest);
        bytes
    }

    #[test]
    fn inet() {
        let bytes = with_family(
            libc::AF_INET,
            &[0, 53, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(
            decode(&bytes),
            Some(SockAddr::Inet {
                ip: Ipv4Addr::LOCALHOST.into(),
                port: 53
            }),
            "127.0.0.1:53"
        );
        assert_eq!(decode(&bytes[..5]), None, "too short");
    }

    #[test]
    fn inet6() {
        let mut rest = vec![0x1f, 0x90, 0, 0, 0, 0];
        rest.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        rest.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            decode(&with_family(libc::AF_INET6, &rest)),
            Some(SockAddr::Inet {
                ip: Ipv6Addr::LOCALHOST.into(),
                port: 8080
            }),
            "[::1]:8080"
        );
    }

    #[test]
    fn unix() {
        assert_eq!(
            decode(&with_family(libc::AF_UNIX, b"/run/x.sock\0\0\0")),
            Some(SockAddr::Unix {
                path: "/run/x.sock".into()
            }),
            "path socket with trailing NULs"
        );
        assert_eq!(
            decode(&with_family(libc::AF_UNIX, b"\0abstract")),
            Some(SockAddr::AbstractUnix {
                name: "abstract".into()
            }),
            "abstract socket"
        );
        assert_eq!(
            decode(&with_family(libc::AF_UNIX, b"")),
            Some(SockAddr::Other {
                family: libc::AF_UNIX as u16
            }),
            "unnamed"
        );
    }

    #[test]
    fn other_families_and_garbage() {
        assert_eq!(
            decode(&with_family(libc::AF_NETLINK, &[0; 10])),
            Some(SockAddr::Other {
                family: libc::AF_NETLINK as u16
            }),
            "netlink"
        );
        assert_eq!(decode(&[1]), None, "one byte");
        assert_eq!(decode(&[]), None, "nothing");
    }
}
