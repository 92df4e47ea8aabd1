//! Which addresses the proxy may dial: the classifier.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of an address, as far as the proxy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// A globally routed address: reachable when the host is allowed.
    Public,
    /// Loopback (127.0.0.0/8, ::1): only with an explicit entry or `allow_private`.
    Loopback,
    /// Private and shared ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7):
    /// only with an explicit entry or `allow_private`.
    Private,
    /// A cloud metadata endpoint (169.254.169.254, 169.254.170.2, 100.100.100.200,
    /// fd00:ec2::254): never.
    Metadata,
    /// Link-local (169.254/16, fe80::/10): never.
    LinkLocal,
    /// Unspecified, broadcast, multicast, documentation and other reserved ranges: never.
    Reserved,
}

impl AddrClass {
    /// Whether no entry or setting lets the proxy dial this class.
    pub fn always_refused(self) -> bool {
        matches!(self, Self::Metadata | Self::LinkLocal | Self::Reserved)
    }
}

/// Classifies an address; an IPv4-mapped or -compatible IPv6 address is classified as
/// the IPv4 address it carries (`::ffff:169.254.169.254` is metadata).
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, _] = ip.octets();
    const METADATA: [Ipv4Addr; 3] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(169, 254, 170, 2),
        Ipv4Addr::new(100, 100, 100, 200),
    ];
    if METADATA.contains(&ip) {
        AddrClass::Metadata
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
        AddrClass::Private
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
    {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddrClass::Metadata
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddrClass::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddrClass::Private
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] == 0x2001 && s[1] == 0xdb8)
        // IPv4-compatible (deprecated) and NAT64 well-known prefix: they could carry
        // any IPv4 address past the checks above.
        || (s[0..6] == [0; 6])
        || (s[0] == 0x64 && s[1] == 0xff9b)
        || (s[0] & 0xffc0) == 0xfec0
    {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> AddrClass {
        classify(text.parse().unwrap())
    }

    #[test]
    fn metadata_endpoints_are_metadata_in_every_spelling() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert_eq!(c(ip), AddrClass::Metadata, "{ip}");
            assert!(c(ip).always_refused());
        }
    }

    #[test]
    fn link_local_is_always_refused() {
        for ip in [
            "169.254.0.1",
            "169.254.255.255",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.1.1",
        ] {
            assert_eq!(c(ip), AddrClass::LinkLocal, "{ip}");
            assert!(c(ip).always_refused());
        }
    }

    #[test]
    fn loopback_and_private_ranges() {
        for ip in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(c(ip), AddrClass::Loopback, "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "fc00::1",
            "fdff::1",
        ] {
            assert_eq!(c(ip), AddrClass::Private, "{ip}");
            assert!(!c(ip).always_refused());
        }
    }

    #[test]
    fn reserved_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "ff02::1",
            "2001:db8::1",
            "::7f00:1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert_eq!(c(ip), AddrClass::Reserved, "{ip}");
        }
    }

    #[test]
    fn public_addresses_and_neighbours_of_private_ranges() {
        for ip in [
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "11.0.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(c(ip), AddrClass::Public, "{ip}");
        }
    }
}
