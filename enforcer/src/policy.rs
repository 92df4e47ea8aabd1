//! The embedded policy: security groups, network profiles, credential services and
//! built-in profiles, compiled into the binary from `enforcer/data/`.
//!
//! A *group* is a named bundle of path rules (and optionally network rules) that
//! profiles include by name. Groups marked `required` are denials that no profile can
//! exclude (credentials, keychains, browser data, shell files, system secrets).
//! A group names a platform; on another platform it contributes nothing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The embedded policy groups document.
pub const POLICY_JSON: &str = include_str!("../data/policy.json");
/// The embedded network profiles and credential services.
pub const NETWORK_POLICY_JSON: &str = include_str!("../data/network-policy.json");

/// The built-in profiles, by name.
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("default", include_str!("../data/profiles/default.json")),
    (
        "python-agent",
        include_str!("../data/profiles/python-agent.json"),
    ),
    (
        "node-agent",
        include_str!("../data/profiles/node-agent.json"),
    ),
    (
        "claude-code",
        include_str!("../data/profiles/claude-code.json"),
    ),
    ("codex", include_str!("../data/profiles/codex.json")),
];

/// The platform a group applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Every platform.
    #[default]
    All,
    /// Linux only.
    Linux,
    /// macOS only.
    Macos,
}

impl Platform {
    /// The platform nono was built for.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else {
            Platform::Linux
        }
    }

    /// Does a group for `self` apply on the current platform?
    pub fn applies_here(self) -> bool {
        self == Platform::All || self == Platform::current()
    }

    /// `linux`, `macos` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::All => "all",
            Platform::Linux => "linux",
            Platform::Macos => "macos",
        }
    }
}

/// A text of the policy: borrowed from the binary for the embedded policy (no copy
/// of its ~450 strings on every start), owned when parsed from a document.
pub type Text = std::borrow::Cow<'static, str>;

/// Network rules a group may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupNetwork {
    /// Block the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<bool>,
    /// Hosts the proxy allows.
    #[serde(
        default,
        alias = "allow_proxy",
        alias = "proxy_allow",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow_domain: Vec<String>,
}

/// A policy group. Its texts borrow from the tables compiled into the binary (a
/// group from a document the caller parses owns them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// What it is for.
    #[serde(default)]
    pub description: Text,
    /// Where it applies.
    #[serde(default)]
    pub platform: Platform,
    /// A required group cannot be excluded.
    #[serde(default)]
    pub required: bool,
    /// Paths denied all access.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Text>,
    /// Read-only paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<Text>,
    /// Write-only paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<Text>,
    /// Read-write paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Text>,
    /// Read-only files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_file: Vec<Text>,
    /// Write-only files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_file: Vec<Text>,
    /// Read-write files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_file: Vec<Text>,
    /// Network rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<GroupNetwork>,
}

/// A built-in network profile: a named host allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkProfile {
    /// What it is for.
    pub description: String,
    /// Another network profile whose hosts this one includes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// The hosts.
    #[serde(default)]
    pub allow_domain: Vec<String>,
}

/// A built-in credential service: a reverse-proxy route with credential injection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialService {
    /// Upstream base URL.
    pub upstream: String,
    /// Keyring account name (service `nono`) holding the real secret.
    pub credential_key: String,
    /// Header the secret goes into.
    pub inject_header: String,
    /// Header value template; `{}` is the secret.
    pub credential_format: String,
    /// Variable that holds the phantom token inside the sandbox.
    pub env_var: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsDoc {
    groups: BTreeMap<String, Group>,
}

/// `network-policy.json` (read by the build script; parsed here by the tests).
#[cfg(test)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkDoc {
    network_profiles: BTreeMap<String, NetworkProfile>,
    credentials: BTreeMap<String, CredentialService>,
}

/// A policy document could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Malformed JSON or an unknown key.
    #[error("invalid policy document: {0}")]
    Json(#[from] serde_json::Error),
    /// A network profile extends one that does not exist or loops.
    #[error("network profile `{name}` extends `{missing}`, which does not exist or loops")]
    BadExtends {
        /// The profile.
        name: String,
        /// What it extends.
        missing: String,
    },
}

/// The policy nono enforces profiles against.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Network profiles by name.
    pub network_profiles: BTreeMap<String, NetworkProfile>,
    /// Credential services by name.
    pub credentials: BTreeMap<String, CredentialService>,
}

/// Parses JSON that may hold comments. Plain JSON is tried first: the embedded
/// documents hold no comments, and stripping comments reads byte by byte.
fn parse_jsonc<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let reader = json_comments::StripComments::new(text.as_bytes());
    serde_json::from_reader(reader)
}

impl Policy {
    /// The policy compiled into this binary: built from the tables that the build
    /// script makes of the embedded documents (tested to equal parsing them).
    pub fn embedded() -> &'static Policy {
        static POLICY: OnceLock<Policy> = OnceLock::new();
        POLICY.get_or_init(tables::policy)
    }

    /// Parses a groups document (`{"groups": {…}}`), as the SDK's `load_policy` does.
    /// Network profiles and credentials are the embedded ones.
    pub fn from_groups_json(text: &str) -> Result<Policy, PolicyError> {
        let groups: GroupsDoc = parse_jsonc(text)?;
        let embedded = Policy::embedded();
        Ok(Policy {
            groups: groups.groups,
            network_profiles: embedded.network_profiles.clone(),
            credentials: embedded.credentials.clone(),
        })
    }

    /// The hosts of a network profile, following `extends`.
    pub fn network_profile_hosts(&self, name: &str) -> Result<Vec<String>, PolicyError> {
        let mut hosts = Vec::new();
        let mut seen = Vec::new();
        let mut current = name.to_string();
        loop {
            if seen.contains(&current) {
                return Err(PolicyError::BadExtends {
                    name: name.into(),
                    missing: current,
                });
            }
            let profile =
                self.network_profiles
                    .get(&current)
                    .ok_or_else(|| PolicyError::BadExtends {
                        name: name.into(),
                        missing: current.clone(),
                    })?;
            seen.push(current.clone());
            for host in profile.allow_domain.iter().rev() {
                hosts.insert(0, host.clone());
            }
            match &profile.extends {
                Some(base) => current = base.clone(),
                None => break,
            }
        }
        hosts.dedup();
        Ok(hosts)
    }

    /// Names of the required groups that apply on this platform.
    pub fn required_groups(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter(|(_, g)| g.required && g.platform.applies_here())
            .map(|(n, _)| n.as_str())
    }
}

/// The embedded documents as static tables (see `enforcer/build.rs`).
mod tables {
    use super::{CredentialService, Group, GroupNetwork, NetworkProfile, Platform, Policy};

    pub(super) struct GroupDef {
        name: &'static str,
        description: &'static str,
        platform: Platform,
        required: bool,
        deny: &'static [&'static str],
        read: &'static [&'static str],
        write: &'static [&'static str],
        allow: &'static [&'static str],
        read_file: &'static [&'static str],
        write_file: &'static [&'static str],
        allow_file: &'static [&'static str],
        network: Option<GroupNetworkDef>,
    }

    pub(super) struct GroupNetworkDef {
        block: Option<bool>,
        allow_domain: &'static [&'static str],
    }

    pub(super) struct NetworkProfileDef {
        name: &'static str,
        description: &'static str,
        extends: Option<&'static str>,
        allow_domain: &'static [&'static str],
    }

    pub(super) struct CredentialDef {
        name: &'static str,
        upstream: &'static str,
        credential_key: &'static str,
        inject_header: &'static str,
        credential_format: &'static str,
        env_var: &'static str,
    }

    include!(concat!(env!("OUT_DIR"), "/policy_tables.rs"));

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    fn borrowed(list: &'static [&'static str]) -> Vec<super::Text> {
        list.iter().map(|s| super::Text::Borrowed(s)).collect()
    }

    pub(super) fn policy() -> Policy {
        Policy {
            groups: GROUPS
                .iter()
                .map(|g| {
                    let group = Group {
                        description: super::Text::Borrowed(g.description),
                        platform: g.platform,
                        required: g.required,
                        deny: borrowed(g.deny),
                        read: borrowed(g.read),
                        write: borrowed(g.write),
                        allow: borrowed(g.allow),
                        read_file: borrowed(g.read_file),
                        write_file: borrowed(g.write_file),
                        allow_file: borrowed(g.allow_file),
                        network: g.network.as_ref().map(|n| GroupNetwork {
                            block: n.block,
                            allow_domain: owned(n.allow_domain),
                        }),
                    };
                    (g.name.to_string(), group)
                })
                .collect(),
            network_profiles: NETWORK_PROFILES
                .iter()
                .map(|p| {
                    let profile = NetworkProfile {
                        description: p.description.to_string(),
                        extends: p.extends.map(str::to_string),
                        allow_domain: owned(p.allow_domain),
                    };
                    (p.name.to_string(), profile)
                })
                .collect(),
            credentials: CREDENTIALS
                .iter()
                .map(|c| {
                    let service = CredentialService {
                        upstream: c.upstream.to_string(),
                        credential_key: c.credential_key.to_string(),
                        inject_header: c.inject_header.to_string(),
                        credential_format: c.credential_format.to_string(),
                        env_var: c.env_var.to_string(),
                    };
                    (c.name.to_string(), service)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_documents_have_no_comments() {
        // The build script reads them with plain serde_json (no comments), and
        // `the_tables_equal_the_parsed_documents` with the comment-tolerant parser.
        for (name, text) in [
            ("policy.json", POLICY_JSON),
            ("network-policy.json", NETWORK_POLICY_JSON),
        ] {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// The build script's tables hold exactly what parsing the documents gives.
    #[test]
    fn the_tables_equal_the_parsed_documents() {
        let groups: GroupsDoc = parse_jsonc(POLICY_JSON).expect("policy.json parses");
        let network: NetworkDoc =
            parse_jsonc(NETWORK_POLICY_JSON).expect("network-policy.json parses");
        let parsed = Policy {
            groups: groups.groups,
            network_profiles: network.network_profiles,
            credentials: network.credentials,
        };
        let tables = Policy::embedded();
        assert_eq!(tables.groups, parsed.groups);
        assert_eq!(tables.network_profiles, parsed.network_profiles);
        assert_eq!(tables.credentials, parsed.credentials);
    }

    #[test]
    fn embedded_documents_parse() {
        let policy = Policy::embedded();
        for name in [
            "deny_credentials",
            "deny_keychains_linux",
            "deny_keychains_macos",
            "deny_browser_data_linux",
            "deny_browser_data_macos",
            "deny_shell_history",
            "deny_shell_configs",
            "system_read_linux",
            "system_write_linux",
            "system_read_macos",
            "system_write_macos",
            "python_runtime",
            "node_runtime",
            "rust_runtime",
            "go_runtime",
            "git_config",
            "user_caches",
        ] {
            assert!(policy.groups.contains_key(name), "group {name} missing");
        }
        for name in ["openai", "anthropic", "gemini", "github"] {
            assert!(
                policy.credentials.contains_key(name),
                "credential service {name} missing"
            );
        }
        let developer = policy.network_profile_hosts("developer").unwrap();
        assert!(
            developer.iter().any(|h| h == "api.openai.com"),
            "developer includes minimal"
        );
        assert!(developer.iter().any(|h| h == "pypi.org"));
        assert!(policy.network_profile_hosts("none").unwrap().is_empty());
    }

    #[test]
    fn deny_groups_are_required_and_others_are_not() {
        for (name, group) in &Policy::embedded().groups {
            assert_eq!(group.required, name.starts_with("deny_"), "group {name}");
            assert!(
                !group.description.is_empty(),
                "group {name} has no description"
            );
        }
    }

    #[test]
    fn deny_credentials_covers_the_documented_paths() {
        let group = &Policy::embedded().groups["deny_credentials"];
        for path in [
            "~/.ssh",
            "~/.gnupg",
            "~/.aws",
            "~/.azure",
            "~/.config/gcloud",
            "~/.kube",
            "~/.docker",
            "~/.git-credentials",
            "~/.netrc",
            "~/.npmrc",
            "~/.pypirc",
            "~/.vault-token",
        ] {
            assert!(group.deny.iter().any(|p| p == path), "{path} not denied");
        }
    }

    #[test]
    fn load_policy_fixture_parses() {
        let text = include_str!("../../tests/fixtures/upstream/policy-groups.json");
        let policy = Policy::from_groups_json(text).unwrap();
        assert_eq!(
            policy.groups["offline"].network.as_ref().unwrap().block,
            Some(true)
        );
        assert_eq!(
            policy.groups["proxy_web"]
                .network
                .as_ref()
                .unwrap()
                .allow_domain,
            vec!["example.com".to_string()]
        );
    }
}
