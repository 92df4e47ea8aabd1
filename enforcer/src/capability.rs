//! The resolved capability set: what a profile plus command-line flags amount to,
//! before the filesystem is consulted.
//!
//! [`resolve`] expands path variables, applies groups (required deny groups always),
//! platform predicates, bypasses and network settings. Every grant, denial and host
//! rule records its [`Source`], so `nono why` and `--dry-run` can say where a rule
//! came from. Turning this into concrete Landlock rules (symlinks resolved, denied
//! paths carved out of broader grants) is [`crate::plan`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::policy::{CredentialService, Policy};
use crate::profile::{CustomCredential, FsKey, Origin, Profile, SecuritySection, WorkdirAccess};
use crate::store::when_applies;
use crate::vars::{ExpandError, PathVars};

/// Read, write, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read (and execute, list).
    Read,
    /// Write (create, remove, truncate, rename).
    Write,
    /// Both.
    #[serde(rename = "readwrite")]
    ReadWrite,
}

impl Access {
    /// Does `self` include everything `other` needs?
    pub fn covers(self, other: Access) -> bool {
        self == Access::ReadWrite || self == other
    }

    /// The union of two access modes.
    pub fn union(self, other: Access) -> Access {
        if self == other {
            self
        } else {
            Access::ReadWrite
        }
    }

    /// `read`, `write` or `readwrite`.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "readwrite",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of filesystem object a grant expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// A directory (and everything below it).
    Dir,
    /// A single file.
    File,
    /// Whatever the path is on disk (profile directory keys and group entries).
    Any,
}

/// The path grants a caller can add: directory or file, read, write or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum GrantFlag {
    /// `--allow DIR`.
    Allow,
    /// `--read DIR`.
    Read,
    /// `--write DIR`.
    Write,
    /// `--allow-file FILE`.
    AllowFile,
    /// `--read-file FILE`.
    ReadFile,
    /// `--write-file FILE`.
    WriteFile,
}

impl GrantFlag {
    /// Its neutral name: `allow`, `read_file`, …
    pub fn name(self) -> &'static str {
        match self {
            GrantFlag::Allow => "allow",
            GrantFlag::Read => "read",
            GrantFlag::Write => "write",
            GrantFlag::AllowFile => "allow_file",
            GrantFlag::ReadFile => "read_file",
            GrantFlag::WriteFile => "write_file",
        }
    }

    /// The access it grants.
    pub fn access(self) -> Access {
        match self {
            GrantFlag::Allow | GrantFlag::AllowFile => Access::ReadWrite,
            GrantFlag::Read | GrantFlag::ReadFile => Access::Read,
            GrantFlag::Write | GrantFlag::WriteFile => Access::Write,
        }
    }

    /// Directory or file.
    pub fn kind(self) -> PathKind {
        match self {
            GrantFlag::Allow | GrantFlag::Read | GrantFlag::Write => PathKind::Dir,
            _ => PathKind::File,
        }
    }

    /// The flag for the same access on the other kind of path.
    pub fn other_kind(self) -> GrantFlag {
        match self {
            GrantFlag::Allow => GrantFlag::AllowFile,
            GrantFlag::Read => GrantFlag::ReadFile,
            GrantFlag::Write => GrantFlag::WriteFile,
            GrantFlag::AllowFile => GrantFlag::Allow,
            GrantFlag::ReadFile => GrantFlag::Read,
            GrantFlag::WriteFile => GrantFlag::Write,
        }
    }

    /// The flag for `access` on `kind`.
    pub fn for_access(access: Access, kind: PathKind) -> GrantFlag {
        let dir = kind != PathKind::File;
        match (access, dir) {
            (Access::Read, true) => GrantFlag::Read,
            (Access::Write, true) => GrantFlag::Write,
            (Access::ReadWrite, true) => GrantFlag::Allow,
            (Access::Read, false) => GrantFlag::ReadFile,
            (Access::Write, false) => GrantFlag::WriteFile,
            (Access::ReadWrite, false) => GrantFlag::AllowFile,
        }
    }
}

/// A setting a caller adds to a profile ([`Overrides`]), by what it does. How it is
/// spelled (the command line's `--allow`, a binding's keyword) is the caller's
/// [`Spelling`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverrideKind {
    /// A path grant.
    Grant(GrantFlag),
    /// Read-write on the working directory.
    AllowCwd,
    /// Block the network.
    BlockNetwork,
    /// Leave the network unrestricted whatever the profile says.
    AllowNetwork,
    /// A named network profile (a host allowlist).
    NetworkProfile,
    /// One allowed host.
    AllowDomain,
    /// A credential service.
    Credential,
}

impl OverrideKind {
    /// Its neutral name, the default [`Spelling`]: `allow`, `block_network`, …
    pub fn name(self) -> &'static str {
        match self {
            OverrideKind::Grant(flag) => flag.name(),
            OverrideKind::AllowCwd => "allow_cwd",
            OverrideKind::BlockNetwork => "block_network",
            OverrideKind::AllowNetwork => "allow_network",
            OverrideKind::NetworkProfile => "network_profile",
            OverrideKind::AllowDomain => "allow_domain",
            OverrideKind::Credential => "credential",
        }
    }
}

/// How a caller spells an override in the sources it sees and in messages: the
/// command line gives `--allow`, a binding its keyword argument.
pub type Spelling = fn(OverrideKind) -> &'static str;

/// What a caller could add to allow something (`nono why`, plan errors); the caller
/// renders it in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Suggestion {
    /// An override with a value (a path grant on a path, a host).
    Override {
        /// The override.
        what: OverrideKind,
        /// Its value.
        value: String,
    },
    /// A profile key (`filesystem.read_file`).
    ProfileKey {
        /// The key.
        key: &'static str,
    },
}

impl Suggestion {
    /// A path grant.
    pub fn grant(flag: GrantFlag, path: &std::path::Path) -> Suggestion {
        Suggestion::Override {
            what: OverrideKind::Grant(flag),
            value: path.display().to_string(),
        }
    }

    /// In `spelling`'s words: `allow /x`, `` `filesystem.read` ``.
    pub fn render(&self, spelling: Spelling) -> String {
        match self {
            Suggestion::Override { what, value } => format!("{} {value}", spelling(*what)),
            Suggestion::ProfileKey { key } => format!("`{key}`"),
        }
    }
}

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(OverrideKind::name))
    }
}

/// Where a rule came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// An override the caller added to the profile.
    Flag {
        /// What it is.
        #[serde(skip)]
        what: OverrideKind,
        /// How the caller spells it ([`Overrides::spelling`]).
        flag: String,
        /// Its value as typed.
        value: String,
    },
    /// An entry of a profile.
    Profile {
        /// The entry.
        origin: Origin,
    },
    /// A policy group. Shared, not copied: every path of a group carries its source,
    /// and a plan copies it again into each denial (a few hundred copies per start).
    Group {
        /// The group.
        group: std::sync::Arc<str>,
        /// Where the profile included it; `None` for a required group.
        #[serde(skip_serializing_if = "Option::is_none")]
        included_by: Option<std::sync::Arc<Origin>>,
    },
    /// nono's own configuration and state, which the sandbox never reaches.
    NonoState,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag { flag, value, .. } if value.is_empty() => write!(f, "flag {flag}"),
            Source::Flag { flag, value, .. } => write!(f, "flag {flag} {value}"),
            Source::Profile { origin } => write!(f, "{origin}"),
            Source::Group {
                group,
                included_by: Some(origin),
            } => {
                write!(f, "group `{group}` (included by {origin})")
            }
            Source::Group {
                group,
                included_by: None,
            } => write!(f, "group `{group}` (required)"),
            Source::NonoState => write!(f, "nono's own state"),
        }
    }
}

/// A path grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathGrant {
    /// The path after variable expansion (symlinks not yet resolved).
    pub path: PathBuf,
    /// What kind of object it must be.
    pub kind: PathKind,
    /// The access granted.
    pub access: Access,
    /// Command-line grants are strict: a missing path or the wrong kind is an error.
    /// Profile and group grants on absent paths are skipped (and listed).
    pub strict: bool,
    /// Where it came from.
    pub source: Source,
}

/// A path denied all access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathDeny {
    /// The path after variable expansion.
    pub path: PathBuf,
    /// Where it came from.
    pub source: Source,
}

/// A host the proxy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRule {
    /// `example.com`, `*.example.com` or an IP address.
    pub pattern: String,
    /// Where it came from.
    pub source: Source,
}

impl HostRule {
    /// Does the rule match `host` (case-insensitively; `*.x` matches subdomains of `x`
    /// only, not `x` itself)?
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let pattern = self.pattern.to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == pattern,
        }
    }
}

/// How the command reaches the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum NetworkMode {
    /// Unrestricted (the default, as upstream).
    Allowed,
    /// No network at all.
    Blocked {
        /// What blocked it.
        source: Source,
    },
    /// Only through nono's proxy, which allows these hosts.
    Proxy {
        /// The allowed hosts.
        hosts: Vec<HostRule>,
    },
}

/// A credential route the proxy serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRoute {
    /// Service name (`openai`).
    pub name: String,
    /// Upstream base URL.
    pub upstream: String,
    /// Where the real secret comes from.
    pub credential_key: String,
    /// Header for header injection.
    pub inject_header: String,
    /// Header value template.
    pub credential_format: String,
    /// Variable that holds the phantom token in the sandbox.
    pub env_var: String,
    /// How the secret is put into requests.
    pub inject_mode: crate::profile::InjectMode,
    /// For `url_path`: the incoming path pattern (`{}` is the phantom token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    /// For `url_path`: the outgoing path pattern (`{}` is the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_replacement: Option<String>,
    /// For `query_param`: the parameter name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_param_name: Option<String>,
    /// Where it came from.
    pub source: Source,
}

/// The network policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPolicy {
    /// Allowed, blocked, or through the proxy.
    #[serde(flatten)]
    pub mode: NetworkMode,
    /// Credential routes.
    pub credentials: Vec<CredentialRoute>,
    /// Ports the command may listen on.
    pub listen_ports: Vec<(u16, Source)>,
    /// Localhost ports the command may connect to.
    pub open_ports: Vec<(u16, Source)>,
}

/// The environment policy from the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvPolicy {
    /// Only these pass, when not empty (names or `PREFIX*`).
    pub allow_vars: Vec<(String, Source)>,
    /// Always stripped.
    pub deny_vars: Vec<(String, Source)>,
    /// Set to fixed values (already expanded).
    pub set_vars: BTreeMap<String, (String, Source)>,
}

/// A group that is in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveGroup {
    /// The name.
    pub name: String,
    /// Required groups cannot be excluded.
    pub required: bool,
    /// Why it is active.
    pub source: Source,
}

/// Everything a run is allowed, before the filesystem is consulted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapabilitySet {
    /// The profile (after `extends`), if one was used.
    pub profile: Option<String>,
    /// The profiles merged, bases first.
    pub profile_chain: Vec<String>,
    /// The files those profiles were read from (built-ins have none): kept read-only
    /// inside the sandbox, so a command cannot rewrite the profile its next run trusts.
    #[serde(skip)]
    pub profile_files: Vec<PathBuf>,
    /// The working directory of the command.
    pub workdir: PathBuf,
    /// Groups in effect.
    pub groups: Vec<ActiveGroup>,
    /// Path grants.
    pub grants: Vec<PathGrant>,
    /// Denied paths (after bypasses).
    pub denies: Vec<PathDeny>,
    /// Denials lifted by `bypass_protection`.
    pub bypassed: Vec<PathDeny>,
    /// Network.
    pub network: NetworkPolicy,
    /// Environment.
    pub environment: EnvPolicy,
    /// Process isolation modes.
    pub security: SecuritySection,
    /// Notes for the user (skipped groups, deprecated keys).
    pub notes: Vec<String>,
}

/// What the caller (the command line, a binding) adds to a profile. Plain data.
#[derive(Debug, Clone)]
pub struct Overrides {
    /// `--allow`, `--read`, … in the order given, with the value as typed.
    pub grants: Vec<(GrantFlag, String)>,
    /// `--allow-cwd`: read-write on the working directory.
    pub allow_cwd: bool,
    /// `--block-network`.
    pub block_network: bool,
    /// `--allow-net`: unrestricted network whatever the profile says.
    pub allow_network: bool,
    /// `--network-profile`.
    pub network_profile: Option<String>,
    /// `--allow-domain`, repeatable.
    pub allow_domains: Vec<String>,
    /// `--credential`, repeatable.
    pub credentials: Vec<String>,
    /// nono's own directories (config, state) to carve out of every grant.
    pub nono_state: Vec<PathBuf>,
    /// How the overrides are spelled in sources and notes (default: their neutral
    /// names, [`OverrideKind::name`]).
    pub spelling: Spelling,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            grants: Vec::new(),
            allow_cwd: false,
            block_network: false,
            allow_network: false,
            network_profile: None,
            allow_domains: Vec::new(),
            credentials: Vec::new(),
            nono_state: Vec::new(),
            spelling: OverrideKind::name,
        }
    }
}

impl Overrides {
    /// The source of an override of this kind, spelled the caller's way.
    pub fn source(&self, what: OverrideKind, value: &str) -> Source {
        Source::Flag {
            what,
            flag: (self.spelling)(what).to_string(),
            value: value.to_string(),
        }
    }
}

/// Resolution failed: the input names something that does not exist or cannot be
/// expressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// A path could not be expanded.
    #[error("{by}: {error}")]
    Expand {
        /// Where the path came from.
        by: Box<Source>,
        /// Why.
        error: ExpandError,
    },
    /// A group named on the command line or in a profile does not exist.
    #[error("unknown group `{name}` ({by})")]
    UnknownGroup {
        /// The group.
        name: String,
        /// Where it was named.
        by: Box<Source>,
    },
    /// A network profile does not exist.
    #[error("unknown network profile `{name}` ({by}); known: {known}")]
    UnknownNetworkProfile {
        /// The name.
        name: String,
        /// Where it was named.
        by: Box<Source>,
        /// Known names.
        known: String,
    },
    /// A credential service does not exist.
    #[error("unknown credential service `{name}` ({by}); known: {known}")]
    UnknownCredential {
        /// The name.
        name: String,
        /// Where it was named.
        by: Box<Source>,
        /// Known names.
        known: String,
    },
    /// A `bypass_protection` entry names no denied path.
    #[error("{by}: bypass_protection `{path}` lifts no denial{hint}")]
    UselessBypass {
        /// Where it was written.
        by: Box<Source>,
        /// The path.
        path: String,
        /// What to do instead.
        hint: String,
    },
    /// A host rule is malformed.
    #[error("{by}: {message}")]
    BadHost {
        /// Where it was named.
        by: Box<Source>,
        /// What is wrong.
        message: String,
    },
}

fn expand(
    vars: &PathVars,
    raw: &str,
    base: Option<&Path>,
    source: &Source,
) -> Result<PathBuf, ResolveError> {
    vars.expand(raw, base)
        .map_err(|error| ResolveError::Expand {
            by: Box::new(source.clone()),
            error,
        })
}

/// Resolves `profile` plus command-line `overrides` into a capability set.
///
/// `profile` should already be validated (see [`crate::ProfileStore::load`]); names it
/// uses that do not exist are still reported as errors here rather than ignored.
pub fn resolve(
    profile: &Profile,
    overrides: &Overrides,
    vars: &PathVars,
    policy: &Policy,
) -> Result<CapabilitySet, ResolveError> {
    let mut notes = profile.notes.clone();
    // Groups: required ones always, then the profile's includes minus its excludes.
    let mut groups: Vec<ActiveGroup> = policy
        .required_groups()
        .map(|name| ActiveGroup {
            name: name.to_string(),
            required: true,
            source: Source::Group {
                group: name.into(),
                included_by: None,
            },
        })
        .collect();
    for entry in &profile.groups_include {
        if !when_applies(&entry.when) {
            continue;
        }
        let Some(group) = policy.groups.get(&entry.name) else {
            return Err(ResolveError::UnknownGroup {
                name: entry.name.clone(),
                by: Box::new(Source::Profile {
                    origin: entry.origin.clone(),
                }),
            });
        };
        if !group.platform.applies_here() {
            continue;
        }
        let excluded = profile
            .groups_exclude
            .iter()
            .any(|x| x.name == entry.name && when_applies(&x.when) && !group.required);
        if excluded {
            notes.push(format!("group `{}` is excluded by the profile", entry.name));
            continue;
        }
        if let Some(existing) = groups.iter_mut().find(|g| g.name == entry.name) {
            if existing.required {
                existing.source = Source::Group {
                    group: entry.name.as_str().into(),
                    included_by: Some(entry.origin.clone().into()),
                };
            }
            continue;
        }
        groups.push(ActiveGroup {
            name: entry.name.clone(),
            required: group.required,
            source: Source::Group {
                group: entry.name.as_str().into(),
                included_by: Some(entry.origin.clone().into()),
            },
        });
    }

    let mut grants = Vec::new();
    let mut denies = Vec::new();
    let mut network_block: Option<Source> = None;
    let mut hosts: Vec<HostRule> = Vec::new();
    let mut proxy_requested = false;

    for active in &groups {
        let group = &policy.groups[&active.name];
        let source = &active.source;
        let g = |list: &[crate::policy::Text],
                 kind,
                 access,
                 grants: &mut Vec<PathGrant>|
         -> Result<(), ResolveError> {
            for raw in list {
                let path = expand(vars, raw, None, source)?;
                grants.push(PathGrant {
                    path,
                    kind,
                    access,
                    strict: false,
                    source: source.clone(),
                });
            }
            Ok(())
        };
        g(&group.read, PathKind::Any, Access::Read, &mut grants)?;
        g(&group.write, PathKind::Any, Access::Write, &mut grants)?;
        g(&group.allow, PathKind::Any, Access::ReadWrite, &mut grants)?;
        g(&group.read_file, PathKind::Any, Access::Read, &mut grants)?;
        g(&group.write_file, PathKind::Any, Access::Write, &mut grants)?;
        g(
            &group.allow_file,
            PathKind::Any,
            Access::ReadWrite,
            &mut grants,
        )?;
        for raw in &group.deny {
            denies.push(PathDeny {
                path: expand(vars, raw, None, source)?,
                source: source.clone(),
            });
        }
        if let Some(net) = &group.network {
            if net.block == Some(true) && network_block.is_none() {
                network_block = Some(source.clone());
            }
            for host in &net.allow_domain {
                proxy_requested = true;
                hosts.push(HostRule {
                    pattern: host.clone(),
                    source: source.clone(),
                });
            }
        }
    }

    // The working directory.
    if let Some(workdir) = &profile.workdir {
        let access = match workdir.value {
            WorkdirAccess::None => None,
            WorkdirAccess::Read => Some(Access::Read),
            WorkdirAccess::Write => Some(Access::Write),
            WorkdirAccess::Readwrite => Some(Access::ReadWrite),
        };
        if let Some(access) = access {
            grants.push(PathGrant {
                path: vars.workdir.clone(),
                kind: PathKind::Dir,
                access,
                strict: false,
                source: Source::Profile {
                    origin: workdir.origin.clone(),
                },
            });
        }
    }

    // The profile's own filesystem entries.
    let mut bypass = Vec::new();
    for entry in &profile.filesystem {
        if !when_applies(&entry.when) {
            continue;
        }
        let source = Source::Profile {
            origin: entry.origin.clone(),
        };
        let path = expand(vars, &entry.path, None, &source)?;
        let (kind, access) = match entry.key {
            FsKey::Allow => (PathKind::Any, Access::ReadWrite),
            FsKey::Read => (PathKind::Any, Access::Read),
            FsKey::Write => (PathKind::Any, Access::Write),
            FsKey::AllowFile => (PathKind::File, Access::ReadWrite),
            FsKey::ReadFile => (PathKind::File, Access::Read),
            FsKey::WriteFile => (PathKind::File, Access::Write),
            FsKey::Deny => {
                denies.push(PathDeny { path, source });
                continue;
            }
            FsKey::BypassProtection => {
                bypass.push(PathDeny { path, source });
                continue;
            }
        };
        grants.push(PathGrant {
            path,
            kind,
            access,
            strict: false,
            source,
        });
    }

    // Command-line grants: strict, relative to the working directory.
    if overrides.allow_cwd {
        grants.push(PathGrant {
            path: vars.workdir.clone(),
            kind: PathKind::Dir,
            access: Access::ReadWrite,
            strict: true,
            source: overrides.source(OverrideKind::AllowCwd, ""),
        });
    }
    for (flag, raw) in &overrides.grants {
        let source = overrides.source(OverrideKind::Grant(*flag), raw);
        let path = expand(vars, raw, Some(&vars.workdir), &source)?;
        grants.push(PathGrant {
            path,
            kind: flag.kind(),
            access: flag.access(),
            strict: true,
            source,
        });
    }

    // Bypasses lift denials at or below the bypass path, except nono's own state.
    let mut bypassed = Vec::new();
    denies.retain(|deny| {
        let lifted = bypass.iter().any(|b| deny.path.starts_with(&b.path));
        if lifted {
            bypassed.push(deny.clone());
        }
        !lifted
    });
    for b in &bypass {
        if !bypassed
            .iter()
            .any(|d: &PathDeny| d.path.starts_with(&b.path))
        {
            let inside: Vec<String> = denies
                .iter()
                .filter(|d| b.path.starts_with(&d.path))
                .map(|d| d.path.display().to_string())
                .collect();
            let hint = match inside.first() {
                Some(d) => format!(
                    "; it lies inside the denied {d}, and a denial can only be lifted as a whole: \
                     bypass {d} itself and grant only what you need inside it"
                ),
                None => String::new(),
            };
            return Err(ResolveError::UselessBypass {
                by: Box::new(b.source.clone()),
                path: b.path.display().to_string(),
                hint,
            });
        }
    }
    for state in &overrides.nono_state {
        denies.push(PathDeny {
            path: state.clone(),
            source: Source::NonoState,
        });
    }

    // Network.
    if overrides.block_network {
        network_block = Some(overrides.source(OverrideKind::BlockNetwork, ""));
    } else if let Some(block) = &profile.network.block
        && block.value
    {
        network_block = Some(Source::Profile {
            origin: block.origin.clone(),
        });
    }
    let known_profiles = || {
        policy
            .network_profiles
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let network_profile = match &overrides.network_profile {
        Some(name) => Some((
            name.clone(),
            overrides.source(OverrideKind::NetworkProfile, name),
        )),
        None => profile.network.network_profile.as_ref().map(|p| {
            (
                p.value.clone(),
                Source::Profile {
                    origin: p.origin.clone(),
                },
            )
        }),
    };
    if let Some((name, source)) = network_profile {
        let list = policy.network_profile_hosts(&name).map_err(|_| {
            ResolveError::UnknownNetworkProfile {
                name: name.clone(),
                by: Box::new(source.clone()),
                known: known_profiles(),
            }
        })?;
        proxy_requested = true;
        let source = match source {
            Source::Flag { what, flag, value } => Source::Flag { what, flag, value },
            other => other,
        };
        for host in list {
            hosts.push(HostRule {
                pattern: host,
                source: source.clone(),
            });
        }
    }
    for host in &profile.network.allow_domain {
        proxy_requested = true;
        hosts.push(HostRule {
            pattern: host.value.clone(),
            source: Source::Profile {
                origin: host.origin.clone(),
            },
        });
    }
    for host in &overrides.allow_domains {
        let source = overrides.source(OverrideKind::AllowDomain, host);
        crate::store::check_host_pattern(host).map_err(|message| ResolveError::BadHost {
            by: Box::new(source.clone()),
            message,
        })?;
        proxy_requested = true;
        hosts.push(HostRule {
            pattern: host.clone(),
            source,
        });
    }
    let mut credentials = Vec::new();
    let profile_creds = profile.network.credentials.iter().map(|c| {
        (
            c.value.clone(),
            Source::Profile {
                origin: c.origin.clone(),
            },
        )
    });
    let flag_creds = overrides
        .credentials
        .iter()
        .map(|c| (c.clone(), overrides.source(OverrideKind::Credential, c)));
    for (name, source) in profile_creds.chain(flag_creds) {
        if credentials.iter().any(|c: &CredentialRoute| c.name == name) {
            continue;
        }
        let route = if let Some(custom) = profile.network.custom_credentials.get(&name) {
            custom_route(&name, &custom.value, source)
        } else if let Some(service) = policy.credentials.get(&name) {
            builtin_route(&name, service, source)
        } else {
            let known = policy
                .credentials
                .keys()
                .chain(profile.network.custom_credentials.keys())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ResolveError::UnknownCredential {
                name,
                by: Box::new(source.clone()),
                known,
            });
        };
        proxy_requested = true;
        credentials.push(route);
    }
    let mut unique_hosts: Vec<HostRule> = Vec::new();
    for host in hosts {
        if !unique_hosts
            .iter()
            .any(|h| h.pattern.eq_ignore_ascii_case(&host.pattern))
        {
            unique_hosts.push(host);
        }
    }
    if overrides.allow_network {
        if network_block.is_some() || proxy_requested {
            notes.push(format!(
                "{}: the network is unrestricted; the profile's network settings are not applied",
                (overrides.spelling)(OverrideKind::AllowNetwork)
            ));
        }
        network_block = None;
        proxy_requested = false;
    }
    let mode = match network_block {
        Some(source) => {
            if proxy_requested {
                notes.push(
                    "the network is blocked, so host allowlists and credentials have no effect"
                        .into(),
                );
            }
            NetworkMode::Blocked { source }
        }
        None if proxy_requested => NetworkMode::Proxy {
            hosts: unique_hosts,
        },
        None => NetworkMode::Allowed,
    };
    let port_list = |ports: &[crate::profile::Located<u16>]| {
        ports
            .iter()
            .map(|p| {
                (
                    p.value,
                    Source::Profile {
                        origin: p.origin.clone(),
                    },
                )
            })
            .collect()
    };
    if matches!(mode, NetworkMode::Blocked { .. }) {
        for port in &profile.network.open_port {
            notes.push(format!(
                "open_port {}: Landlock allows TCP by port number only, so connections to port {} \
                 on any address are allowed, not only localhost",
                port.value, port.value
            ));
        }
    }
    let network = NetworkPolicy {
        mode,
        credentials,
        listen_ports: port_list(&profile.network.listen_port),
        open_ports: port_list(&profile.network.open_port),
    };

    // Environment.
    let env = &profile.environment;
    let located = |v: &crate::profile::Located<String>| {
        (
            v.value.clone(),
            Source::Profile {
                origin: v.origin.clone(),
            },
        )
    };
    let mut set_vars = BTreeMap::new();
    for (name, value) in &env.set_vars {
        let source = Source::Profile {
            origin: value.origin.clone(),
        };
        let expanded = expand_value(vars, &value.value, &source)?;
        set_vars.insert(name.clone(), (expanded, source));
    }
    let environment = EnvPolicy {
        allow_vars: env.allow_vars.iter().map(located).collect(),
        deny_vars: env.deny_vars.iter().map(located).collect(),
        set_vars,
    };

    Ok(CapabilitySet {
        profile: Some(profile.name.clone()),
        profile_chain: profile.chain.clone(),
        profile_files: profile.files.clone(),
        workdir: vars.workdir.clone(),
        groups,
        grants,
        denies,
        bypassed,
        network,
        environment,
        security: profile.security.clone(),
        notes,
    })
}

/// Expands variables in an environment value (`$HOME` anywhere, `~/` at the start),
/// leaving the rest exactly as written.
fn expand_value(vars: &PathVars, raw: &str, source: &Source) -> Result<String, ResolveError> {
    vars.expand_text(raw).map_err(|error| ResolveError::Expand {
        by: Box::new(source.clone()),
        error,
    })
}

fn builtin_route(name: &str, service: &CredentialService, source: Source) -> CredentialRoute {
    CredentialRoute {
        name: name.to_string(),
        upstream: service.upstream.clone(),
        credential_key: service.credential_key.clone(),
        inject_header: service.inject_header.clone(),
        credential_format: service.credential_format.clone(),
        env_var: service.env_var.clone(),
        inject_mode: crate::profile::InjectMode::Header,
        path_pattern: None,
        path_replacement: None,
        query_param_name: None,
        source,
    }
}

fn custom_route(name: &str, custom: &CustomCredential, source: Source) -> CredentialRoute {
    let header = custom
        .inject_header
        .clone()
        .unwrap_or_else(|| "Authorization".into());
    let format = custom.credential_format.clone().unwrap_or_else(|| {
        if header.eq_ignore_ascii_case("authorization") {
            "Bearer {}".into()
        } else {
            "{}".into()
        }
    });
    let env_var = custom.env_var.clone().unwrap_or_else(|| {
        match custom.credential_key.strip_prefix("env://") {
            Some(var) => var.to_string(),
            None => format!("{}_API_KEY", name.to_ascii_uppercase().replace('-', "_")),
        }
    });
    CredentialRoute {
        name: name.to_string(),
        upstream: custom.upstream.clone(),
        credential_key: custom.credential_key.clone(),
        inject_header: header,
        credential_format: format,
        env_var,
        inject_mode: custom
            .inject_mode
            .unwrap_or(crate::profile::InjectMode::Header),
        path_pattern: custom.path_pattern.clone(),
        path_replacement: custom
            .path_replacement
            .clone()
            .or_else(|| custom.path_pattern.clone()),
        query_param_name: custom.query_param_name.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules_match_exactly_or_by_subdomain() {
        let rule = |p: &str| HostRule {
            pattern: p.into(),
            source: Source::NonoState,
        };
        assert!(rule("api.openai.com").matches("API.openai.com."));
        assert!(!rule("api.openai.com").matches("evil-api.openai.com"));
        assert!(rule("*.example.com").matches("a.example.com"));
        assert!(rule("*.example.com").matches("a.b.example.com"));
        assert!(!rule("*.example.com").matches("example.com"));
        assert!(!rule("*.example.com").matches("badexample.com"));
    }

    #[test]
    fn access_covers_and_unions() {
        assert!(Access::ReadWrite.covers(Access::Read));
        assert!(!Access::Read.covers(Access::Write));
        assert_eq!(Access::Read.union(Access::Write), Access::ReadWrite);
    }
}
