//! Dry-run questions: would this path or host be allowed, and why?
//!
//! Answers come from the same [`Plan`] the sandbox is built from, so `nono why` cannot
//! disagree with `nono run` about a path.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::capability::{
    Access, CapabilitySet, GrantFlag, NetworkMode, OverrideKind, PathKind, Source, Suggestion,
};
use crate::plan::{Carve, EntryKind, FsView, Plan, SkipReason, canonicalize_lenient, is_within};

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The access would succeed as far as nono is concerned.
    Allowed,
    /// The sandbox would refuse it.
    Denied,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A rule grants it.
    GrantedBy,
    /// The path is denied (a deny group, a profile denial, or nono's own state).
    SensitivePath,
    /// No rule covers the path.
    PathNotGranted,
    /// A rule covers the path, with less access than asked.
    InsufficientAccess,
    /// The network is not restricted.
    NetworkAllowed,
    /// The network is blocked.
    NetworkBlocked,
    /// The proxy's allowlist does not name the host.
    HostNotAllowed,
}

/// The answer to a path question.
#[derive(Debug, Clone, Serialize)]
pub struct PathAnswer {
    /// The path asked about.
    pub path: PathBuf,
    /// Its canonical form.
    pub canonical: PathBuf,
    /// The access asked about.
    pub op: Access,
    /// Allowed or denied.
    pub status: Status,
    /// Why.
    pub reason: Reason,
    /// The rule or denial responsible, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Source>,
    /// For a denial by group: the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The access the covering rule grants, for `insufficient_access`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_access: Option<Access>,
    /// What would allow it, when something can (the caller renders it: the command
    /// line as a flag).
    #[serde(skip)]
    pub suggestion: Option<Suggestion>,
    /// One sentence for people.
    pub detail: String,
}

/// Answers "may the sandboxed command do `op` on `path`?".
pub fn query_path(plan: &Plan, fs: &impl FsView, path: &Path, op: Access) -> PathAnswer {
    let canonical = canonicalize_lenient(fs, path);
    let mut answer = PathAnswer {
        path: path.to_path_buf(),
        canonical: canonical.clone(),
        op,
        status: Status::Denied,
        reason: Reason::PathNotGranted,
        provenance: None,
        group: None,
        granted_access: None,
        suggestion: None,
        detail: String::new(),
    };
    if let Some(deny) = plan
        .denies
        .iter()
        .find(|d| is_within(&canonical, &d.canonical))
    {
        answer.reason = Reason::SensitivePath;
        answer.group = match &deny.source {
            Source::Group { group, .. } => Some(group.to_string()),
            _ => None,
        };
        answer.detail = format!("{} is denied by {}", deny.path.display(), deny.source);
        answer.provenance = Some(deny.source.clone());
        return answer;
    }
    let covering: Vec<_> = plan
        .rules
        .iter()
        .filter(|r| match r.kind {
            // Listing the directory itself, nothing below it.
            EntryKind::Dir if r.list_only => canonical == r.path && op == Access::Read,
            EntryKind::Dir => is_within(&canonical, &r.path),
            EntryKind::File => canonical == r.path,
        })
        .collect();
    if let Some(rule) = covering.iter().find(|r| r.access.covers(op)) {
        answer.status = Status::Allowed;
        answer.reason = Reason::GrantedBy;
        answer.detail = format!(
            "{} {} {} by {}",
            op,
            rule_verb(rule.kind),
            rule.path.display(),
            rule.source
        );
        answer.provenance = Some(Source::clone(&rule.source));
        return answer;
    }
    let actual_kind = fs.kind(&canonical).ok();
    let kind = match actual_kind {
        Some(EntryKind::Dir) => PathKind::Dir,
        Some(EntryKind::File) => PathKind::File,
        None => PathKind::File,
    };
    if let Some(rule) = covering.first() {
        let combined = covering.iter().fold(rule.access, |a, r| a.union(r.access));
        answer.reason = Reason::InsufficientAccess;
        answer.granted_access = Some(combined);
        answer.provenance = Some(Source::clone(&rule.source));
        answer.group = match rule.source.as_ref() {
            Source::Group { group, .. } => Some(group.to_string()),
            _ => None,
        };
        answer.suggestion = Some(Suggestion::grant(
            GrantFlag::for_access(op.union(combined), kind),
            path,
        ));
        answer.detail = format!(
            "{} grants only {} access ({})",
            rule.path.display(),
            combined,
            rule.source
        );
        return answer;
    }
    // Not covered. Say why when a grant was meant to cover it.
    let carved = plan
        .rules
        .iter()
        .filter_map(|r| r.carved.as_ref())
        .find(|c| is_within(&canonical, &c.granted))
        .map(|c| Carve::clone(c));
    let skipped_missing = plan
        .skipped
        .iter()
        .find(|s| matches!(s.reason, SkipReason::Missing) && canonical.starts_with(&s.path));
    answer.detail = if let Some(carve) = carved {
        format!(
            "{} is granted only entry by entry, because {} inside it is denied; {} is not one of those entries",
            carve.granted.display(),
            carve.denied.display(),
            path.display()
        )
    } else if let Some(skip) = skipped_missing {
        format!(
            "{} ({}) would cover it but does not exist",
            skip.path.display(),
            skip.source
        )
    } else {
        format!("no rule covers {}", canonical.display())
    };
    answer.suggestion = Some(match actual_kind {
        Some(_) => Suggestion::grant(GrantFlag::for_access(op, kind), path),
        None => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            Suggestion::grant(GrantFlag::for_access(op, PathKind::Dir), parent)
        }
    });
    answer
}

fn rule_verb(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Dir => "granted under",
        EntryKind::File => "granted on",
    }
}

/// The answer to a host question.
#[derive(Debug, Clone, Serialize)]
pub struct HostAnswer {
    /// The host asked about.
    pub host: String,
    /// The port asked about.
    pub port: u16,
    /// Allowed or denied.
    pub status: Status,
    /// Why.
    pub reason: Reason,
    /// The rule responsible, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Source>,
    /// What would allow it, when something can (the caller renders it: the command
    /// line as a flag).
    #[serde(skip)]
    pub suggestion: Option<Suggestion>,
    /// One sentence for people.
    pub detail: String,
}

/// Is `ip` loopback, private, link-local (incl. cloud metadata) or otherwise not a
/// public address? The proxy refuses these unless a rule names the address itself.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal_address(IpAddr::V4(v4)))
        }
    }
}

/// Answers "may the sandboxed command connect to `host:port`?".
pub fn query_host(caps: &CapabilitySet, host: &str, port: u16) -> HostAnswer {
    let mut answer = HostAnswer {
        host: host.to_string(),
        port,
        status: Status::Denied,
        reason: Reason::HostNotAllowed,
        provenance: None,
        suggestion: None,
        detail: String::new(),
    };
    match &caps.network.mode {
        NetworkMode::Allowed => {
            answer.status = Status::Allowed;
            answer.reason = Reason::NetworkAllowed;
            answer.detail = "the network is not restricted (no block, no host allowlist)".into();
        }
        NetworkMode::Blocked { source } => {
            answer.reason = Reason::NetworkBlocked;
            answer.detail = format!("the network is blocked by {source}");
            answer.provenance = Some(source.clone());
        }
        NetworkMode::Proxy { hosts } => {
            let internal = host
                .parse::<IpAddr>()
                .ok()
                .filter(|ip| is_internal_address(*ip));
            match hosts.iter().find(|h| h.matches(host)) {
                Some(rule) => {
                    answer.status = Status::Allowed;
                    answer.reason = Reason::GrantedBy;
                    answer.detail = format!("`{}` is allowed by {}", rule.pattern, rule.source);
                    answer.provenance = Some(Source::clone(&rule.source));
                }
                None => {
                    answer.detail = match internal {
                        Some(_) => format!(
                            "{host} is an internal address; the proxy refuses internal addresses unless a rule names them"
                        ),
                        None => format!("{host} is not in the proxy's allowlist"),
                    };
                    answer.suggestion = Some(Suggestion::Override {
                        what: OverrideKind::AllowDomain,
                        value: host.to_string(),
                    });
                }
            }
        }
    }
    answer
}
