//! The profile file as written on disk: upstream nono's JSON profile format, current
//! keys and the legacy keys its documentation still shows.
//!
//! These types only describe syntax. [`super::Profile`] is the normalized form the
//! rest of nono works with: legacy keys mapped onto current ones, every entry
//! carrying where it came from.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A profile file. Unknown keys anywhere are an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nono profile")]
pub struct ProfileFile {
    /// JSON Schema URI, for editors. Ignored by nono.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Profile(s) this one builds on: a name or a list of names, merged left to right
    /// before this profile is applied. Cycles are rejected. When absent, the built-in
    /// `default` profile is the base; `[]` means no base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<OneOrMany>,
    /// Name, version, description, author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Access to the directory the command starts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<Workdir>,
    /// Policy groups to include or exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups>,
    /// Filesystem grants and denials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
    /// Network policy: block, proxy allowlist, credentials, ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Which environment variables reach the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// What snapshots leave out.
    #[serde(default, alias = "undo", skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Process isolation modes (and, in legacy profiles, `security.groups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// Legacy: `policy.add_allow_read` and friends. Mapped onto `filesystem` and `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub policy: Option<LegacyPolicy>,
    /// Legacy and ignored: a terminal is always preserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub interactive: Option<bool>,
}

/// Profile metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version of this profile definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What the profile is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who maintains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// `workdir`: access to the starting directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workdir {
    /// `none`, `read`, `write` or `readwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<WorkdirAccess>,
}

/// Access granted to the working directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkdirAccess {
    /// No access.
    None,
    /// Read-only.
    Read,
    /// Write-only.
    Write,
    /// Read and write.
    Readwrite,
}

/// `groups`: policy group composition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    /// Group names to include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<Conditional>,
    /// Group names to remove from the included set. Required groups cannot be excluded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Conditional>,
}

/// `filesystem`: path grants and denials. Directory keys grant the whole tree below.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// Directories, read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Conditional>,
    /// Directories, read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<Conditional>,
    /// Directories, write-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<Conditional>,
    /// Single files, read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_file: Vec<Conditional>,
    /// Single files, read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_file: Vec<Conditional>,
    /// Single files, write-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_file: Vec<Conditional>,
    /// Paths denied all access, whatever else grants them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Conditional>,
    /// Paths exempted from group denials. They still need a grant of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypass_protection: Vec<Conditional>,
}

/// `network`: how the command may reach the network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Block all network access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<bool>,
    /// A built-in network profile (`minimal`, `developer`, `none`): the command reaches
    /// only the proxy, which allows these hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<String>,
    /// More hosts the proxy allows. `*.example.com` matches subdomains.
    #[serde(
        default,
        alias = "proxy_allow",
        alias = "allow_proxy",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow_domain: Vec<String>,
    /// Legacy name for `allow_domain`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("deprecated" = true))]
    pub allow_hosts: Vec<String>,
    /// Hosts the proxy refuses whatever the allow list says (same patterns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_domain: Vec<String>,
    /// Let allowed hosts reach loopback and private (RFC 1918, ULA) addresses through
    /// the proxy. Cloud metadata and link-local addresses stay refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private: Option<bool>,
    /// Built-in or custom credential services injected by the proxy.
    #[serde(
        default,
        alias = "proxy_credentials",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credentials: Vec<String>,
    /// Credential services defined by this profile.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_credentials: BTreeMap<String, CustomCredential>,
    /// TCP ports the command may listen on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen_port: Vec<u16>,
    /// Localhost TCP ports the command may connect to and bind.
    #[serde(
        default,
        alias = "port_allow",
        alias = "allow_port",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub open_port: Vec<u16>,
}

/// A credential service defined in a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomCredential {
    /// Upstream base URL (`https://…`, or `http://` to a loopback address).
    pub upstream: String,
    /// Where the real secret comes from: a keyring account name (service `nono`),
    /// `env://VAR` or `file://PATH`.
    pub credential_key: String,
    /// How the secret is put into requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject_mode: Option<InjectMode>,
    /// Header name for `header` mode (default `Authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject_header: Option<String>,
    /// Header value template; `{}` stands for the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_format: Option<String>,
    /// For `url_path` mode: incoming path pattern with `{}` for the phantom token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    /// For `url_path` mode: outgoing path pattern with `{}` for the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_replacement: Option<String>,
    /// For `query_param` mode: the parameter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_param_name: Option<String>,
    /// Environment variable holding the phantom token in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
}

/// How the proxy injects a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InjectMode {
    /// An HTTP header.
    Header,
    /// Part of the URL path.
    UrlPath,
    /// A query parameter.
    QueryParam,
    /// HTTP basic authentication.
    BasicAuth,
}

/// `environment`: which variables reach the command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Only these pass (exact names or `PREFIX*`); empty means all that are not stripped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_vars: Vec<String>,
    /// Always stripped (exact names or `PREFIX*`), even when allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_vars: Vec<String>,
    /// Set to fixed values (path variables expand).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set_vars: BTreeMap<String, String>,
}

/// `rollback` (alias `undo`): snapshot exclusions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// Names excluded anywhere in the tree (`node_modules`, `__pycache__`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_patterns: Vec<String>,
    /// Glob patterns relative to the snapshot root (`build/**`, `*.log`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_globs: Vec<String>,
}

/// `security`: process isolation modes; `groups` is the legacy spelling of
/// `groups.include`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Legacy: policy groups to include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("deprecated" = true))]
    pub groups: Vec<Conditional>,
    /// May the command signal processes outside its sandbox?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_mode: Option<IsolationMode>,
    /// May the command inspect processes outside its sandbox?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_info_mode: Option<IsolationMode>,
    /// IPC mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<IpcMode>,
    /// May the command use the kernel's key retention service (`keyctl`, `add_key`,
    /// `request_key`)? Default false. Either way it gets a fresh session keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_keyring: Option<bool>,
}

/// Isolation of signals or process inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IsolationMode {
    /// Only processes in the same sandbox.
    Isolated,
    /// Processes in the same sandbox (upstream spelling; same as `isolated` here).
    AllowSameSandbox,
    /// Any process the user could reach anyway.
    AllowAll,
}

/// IPC mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpcMode {
    /// POSIX shared memory only.
    SharedMemoryOnly,
    /// Shared memory and semaphores.
    Full,
}

/// Legacy `policy` section from upstream's older documentation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyPolicy {
    /// Read-only paths (files or directories). Maps to `filesystem.read`/`read_file`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_allow_read: Vec<Conditional>,
    /// Write-only paths. Maps to `filesystem.write`/`write_file`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_allow_write: Vec<Conditional>,
    /// Read-write paths. Maps to `filesystem.allow`/`allow_file`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_allow_readwrite: Vec<Conditional>,
    /// Denied paths. Maps to `filesystem.deny`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_deny_access: Vec<Conditional>,
    /// Groups to exclude. Maps to `groups.exclude`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_groups: Vec<Conditional>,
    /// Paths exempted from denials. Maps to `filesystem.bypass_protection`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_deny: Vec<Conditional>,
}

/// A list entry that is either a plain string or `{ "path"|"name": …, "when": … }`,
/// applied only on the platforms `when` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Conditional {
    /// Applies everywhere.
    Plain(String),
    /// Applies where `when` matches.
    When {
        /// The path or group name.
        #[serde(alias = "name")]
        path: String,
        /// `linux`, `macos`, `!linux`, or a list of those (any of).
        when: OneOrMany,
    },
}

impl Conditional {
    /// The path or name.
    pub fn value(&self) -> &str {
        match self {
            Conditional::Plain(v) | Conditional::When { path: v, .. } => v,
        }
    }

    /// The platform predicate, if any.
    pub fn when(&self) -> Option<&OneOrMany> {
        match self {
            Conditional::Plain(_) => None,
            Conditional::When { when, .. } => Some(when),
        }
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

// Hand-written Deserialize impls: serde's `untagged` buffers the input and loses the
// line/column of errors inside it, and says only "data did not match any variant".

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Conditional {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Conditional;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an object {\"path\": …, \"when\": …}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Conditional, E> {
                Ok(Conditional::Plain(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Conditional, A::Error> {
                let mut path: Option<String> = None;
                let mut when: Option<OneOrMany> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "path" | "name" => {
                            if path.is_some() {
                                return Err(de::Error::duplicate_field("path"));
                            }
                            path = Some(map.next_value()?);
                        }
                        "when" => {
                            if when.is_some() {
                                return Err(de::Error::duplicate_field("when"));
                            }
                            when = Some(map.next_value()?);
                        }
                        other => {
                            return Err(de::Error::unknown_field(other, &["path", "name", "when"]));
                        }
                    }
                }
                let path = path.ok_or_else(|| de::Error::missing_field("path"))?;
                match when {
                    Some(when) => Ok(Conditional::When { path, when }),
                    None => Ok(Conditional::Plain(path)),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}
