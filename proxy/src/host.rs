//! Host patterns (`example.com`, `*.example.com`, either with `:port`, IP literals) and
//! the allow/deny matcher built from them.

use std::fmt;
use std::net::IpAddr;

/// A host pattern could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is empty.
    #[error("a host pattern is empty")]
    Empty,
    /// A character that no host name holds.
    #[error("host pattern `{0}`: not a host name, `*.suffix` or IP address")]
    Invalid(String),
    /// The port is not a number from 1 to 65535.
    #[error("host pattern `{0}`: the port is not a number from 1 to 65535")]
    Port(String),
}

/// The host part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostName {
    /// Exactly this name (lower case, no trailing dot).
    Exact(String),
    /// Any name strictly below this suffix: `*.example.com` holds `a.example.com` and
    /// `a.b.example.com`, not `example.com`.
    Suffix(String),
    /// An IP address literal.
    Ip(IpAddr),
}

/// One allow or deny entry: a host and, optionally, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// The host part.
    pub host: HostName,
    /// The port, if the pattern names one; otherwise any port.
    pub port: Option<u16>,
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostName::Exact(name) => f.write_str(name)?,
            HostName::Suffix(suffix) => write!(f, "*.{suffix}")?,
            HostName::Ip(IpAddr::V6(ip)) if self.port.is_some() => write!(f, "[{ip}]")?,
            HostName::Ip(ip) => write!(f, "{ip}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// Lower-cases a host name and drops one trailing dot (`Example.COM.` is `example.com`).
pub fn normalize(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Reads an IP literal as a URI writes it: `::1`, `[::1]` or `127.0.0.1`.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl std::str::FromStr for HostPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let invalid = || PatternError::Invalid(text.to_owned());
        if text.contains('/') {
            return Err(invalid());
        }
        // A bare IPv6 address holds colons that are not a port separator.
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(HostPattern {
                host: HostName::Ip(ip),
                port: None,
            });
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(invalid)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
            };
            let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
            (HostName::Ip(ip), port)
        } else {
            let (host, port) = match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            };
            let host = normalize(host);
            let name = if let Some(suffix) = host.strip_prefix("*.") {
                if !valid_name(suffix) {
                    return Err(invalid());
                }
                HostName::Suffix(suffix.to_owned())
            } else if let Ok(ip) = host.parse::<IpAddr>() {
                HostName::Ip(ip)
            } else if valid_name(&host) {
                HostName::Exact(host)
            } else {
                return Err(invalid());
            };
            (name, port)
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(PatternError::Port(text.to_owned())),
            },
        };
        Ok(HostPattern { host, port })
    }
}

impl HostPattern {
    /// Whether this pattern holds `host` (already [`normalize`]d) on `port`.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            HostName::Exact(name) => name == host,
            HostName::Suffix(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            HostName::Ip(ip) => ip_literal(host) == Some(*ip),
        }
    }

    /// Whether this entry names loopback or private addresses explicitly (an IP literal,
    /// or `localhost`), which lets a connection reach them.
    pub fn is_explicit_local(&self) -> bool {
        match &self.host {
            HostName::Ip(_) => true,
            HostName::Exact(name) => name == "localhost",
            HostName::Suffix(_) => false,
        }
    }
}

/// What the lists say about a host, before any address is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An allow entry holds it, and no deny entry.
    Allowed(HostPattern),
    /// A deny entry holds it (deny wins over any allow).
    Denied(HostPattern),
    /// No allow entry holds it.
    NotAllowed,
}

/// The allow and deny lists.
#[derive(Debug, Clone, Default)]
pub struct HostMatcher {
    /// Hosts that may be reached.
    pub allow: Vec<HostPattern>,
    /// Hosts that may not, whatever the allow list says.
    pub deny: Vec<HostPattern>,
    /// Allow every host (observe mode; deny entries and address checks still apply).
    pub allow_all: bool,
}

impl HostMatcher {
    /// The verdict for `host` on `port`; `host` may be in any case, with a trailing dot
    /// or an IPv6 literal in brackets.
    pub fn verdict(&self, host: &str, port: u16) -> Verdict {
        let host = normalize(host);
        if let Some(deny) = self.deny.iter().find(|p| p.matches(&host, port)) {
            return Verdict::Denied(deny.clone());
        }
        // An explicit local entry first: it decides whether loopback may be reached.
        let mut allowed = self.allow.iter().filter(|p| p.matches(&host, port));
        let first = allowed.next();
        let explicit = first
            .into_iter()
            .chain(allowed)
            .find(|p| p.is_explicit_local());
        match explicit.or(first) {
            Some(p) => Verdict::Allowed(p.clone()),
            None if self.allow_all => Verdict::Allowed(HostPattern {
                host: HostName::Suffix(String::new()),
                port: None,
            }),
            None => Verdict::NotAllowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> HostPattern {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn matcher(allow: &[&str], deny: &[&str]) -> HostMatcher {
        HostMatcher {
            allow: allow.iter().map(|t| p(t)).collect(),
            deny: deny.iter().map(|t| p(t)).collect(),
            allow_all: false,
        }
    }

    #[test]
    fn patterns_read_names_suffixes_ports_and_ip_literals() {
        assert_eq!(
            p("Example.COM.").host,
            HostName::Exact("example.com".into())
        );
        assert_eq!(
            p("*.example.com").host,
            HostName::Suffix("example.com".into())
        );
        assert_eq!(p("example.com:8443").port, Some(8443));
        assert_eq!(p("::1").host, HostName::Ip("::1".parse().unwrap()));
        assert_eq!(p("::1").port, None);
        assert_eq!(p("[::1]:80").port, Some(80));
        assert_eq!(
            p("127.0.0.1:5").host,
            HostName::Ip("127.0.0.1".parse().unwrap())
        );
        for text in ["[::1]:80", "*.a.b:443", "x.y", "10.0.0.1:22"] {
            assert_eq!(p(text).to_string(), text);
        }
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern_named() {
        assert_eq!("".parse::<HostPattern>(), Err(PatternError::Empty));
        for bad in [
            "a b", "*.", "*", "a..b", "http://x", "[::1", "[nope]", "x/y", "*x.com",
        ] {
            assert!(
                matches!(bad.parse::<HostPattern>(), Err(PatternError::Invalid(t)) if t == bad),
                "{bad}"
            );
        }
        for bad in ["a.com:0", "a.com:65536", "a.com:", "a.com:x", "[::1]:x"] {
            assert!(
                matches!(bad.parse::<HostPattern>(), Err(PatternError::Port(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn suffix_holds_subdomains_only() {
        let s = p("*.example.com");
        assert!(s.matches("a.example.com", 1));
        assert!(s.matches("a.b.example.com", 1));
        assert!(!s.matches("example.com", 1));
        assert!(!s.matches("badexample.com", 1));
        assert!(!s.matches("example.com.evil", 1));
        assert!(!s.matches(".example.com", 1));
    }

    #[test]
    fn ports_restrict_only_when_named() {
        let m = matcher(&["a.com:443", "b.com"], &[]);
        assert!(matches!(m.verdict("a.com", 443), Verdict::Allowed(_)));
        assert_eq!(m.verdict("a.com", 80), Verdict::NotAllowed);
        assert!(matches!(m.verdict("B.com.", 80), Verdict::Allowed(_)));
    }

    #[test]
    fn deny_wins_over_any_allow() {
        let m = matcher(&["*.x.com", "evil.x.com"], &["evil.x.com"]);
        assert!(matches!(m.verdict("ok.x.com", 443), Verdict::Allowed(_)));
        assert!(matches!(m.verdict("EVIL.x.com", 443), Verdict::Denied(_)));
        let m = HostMatcher {
            allow_all: true,
            ..matcher(&[], &["*.bad"])
        };
        assert!(matches!(m.verdict("a.bad", 1), Verdict::Denied(_)));
        assert!(matches!(m.verdict("good", 1), Verdict::Allowed(_)));
    }

    #[test]
    fn ip_literals_match_bracketed_and_bare() {
        let m = matcher(&["::1", "127.0.0.1:8080"], &[]);
        assert!(matches!(m.verdict("[::1]", 5), Verdict::Allowed(_)));
        assert!(matches!(m.verdict("127.0.0.1", 8080), Verdict::Allowed(_)));
        assert_eq!(m.verdict("127.0.0.1", 8081), Verdict::NotAllowed);
        assert_eq!(m.verdict("127.0.0.2", 8080), Verdict::NotAllowed);
    }

    #[test]
    fn an_explicit_local_entry_is_preferred() {
        let m = matcher(&["*.internal", "10.0.0.1"], &[]);
        assert!(p("localhost").is_explicit_local());
        assert!(p("10.0.0.1").is_explicit_local());
        assert!(!p("*.internal").is_explicit_local());
        assert!(!p("example.com").is_explicit_local());
        match m.verdict("10.0.0.1", 1) {
            Verdict::Allowed(e) => assert!(e.is_explicit_local()),
            other => panic!("{other:?}"),
        }
    }
}
