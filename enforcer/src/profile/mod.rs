//! Profiles: parsing, legacy-key mapping, `extends`, and the normalized form.
//!
//! A profile file ([`file::ProfileFile`]) is parsed strictly: JSONC comments are
//! allowed, unknown keys are errors with line, column and a "did you mean". It is then
//! normalized into a [`Profile`], in which legacy keys (`security.groups`,
//! `policy.add_allow_read`, `network.allow_hosts`, …) have been mapped onto the current
//! ones and every entry carries an [`Origin`]: the profile, the key path and the line it
//! came from. Profiles named in `extends` are merged in first (see [`Profile::merge`]).

pub mod file;
mod locate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use file::{CustomCredential, InjectMode, IpcMode, IsolationMode, Meta, WorkdirAccess};
pub use locate::{Position, PositionIndex};

/// Where a profile entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The profile's name (`python-agent`, or the file stem).
    pub profile: String,
    /// The file it was read from; `None` for a built-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The key path as written, e.g. `filesystem.allow[0]` or `policy.add_deny_access[1]`.
    pub key: String,
    /// 1-based line in the file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in profile `{}`", self.key, self.profile)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({}:{line})", file.display()),
            (Some(file), None) => write!(f, " ({})", file.display()),
            (None, Some(line)) => write!(f, " (built-in, line {line})"),
            (None, None) => write!(f, " (built-in)"),
        }
    }
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub origin: Origin,
}

/// The filesystem keys of the current format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FsKey {
    /// `filesystem.allow`: directory, read-write.
    Allow,
    /// `filesystem.read`: directory, read-only.
    Read,
    /// `filesystem.write`: directory, write-only.
    Write,
    /// `filesystem.allow_file`.
    AllowFile,
    /// `filesystem.read_file`.
    ReadFile,
    /// `filesystem.write_file`.
    WriteFile,
    /// `filesystem.deny`.
    Deny,
    /// `filesystem.bypass_protection`.
    BypassProtection,
}

impl FsKey {
    /// The key's name in the current format.
    pub fn name(self) -> &'static str {
        match self {
            FsKey::Allow => "allow",
            FsKey::Read => "read",
            FsKey::Write => "write",
            FsKey::AllowFile => "allow_file",
            FsKey::ReadFile => "read_file",
            FsKey::WriteFile => "write_file",
            FsKey::Deny => "deny",
            FsKey::BypassProtection => "bypass_protection",
        }
    }

    /// All keys, in the order they are written out.
    pub const ALL: [FsKey; 8] = [
        FsKey::Allow,
        FsKey::Read,
        FsKey::Write,
        FsKey::AllowFile,
        FsKey::ReadFile,
        FsKey::WriteFile,
        FsKey::Deny,
        FsKey::BypassProtection,
    ];
}

/// One `filesystem` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsEntry {
    /// Which key it is under (after legacy mapping).
    pub key: FsKey,
    /// The path as written, variables unexpanded.
    pub path: String,
    /// Platform predicate (`when`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Vec<String>>,
    /// Where it was written.
    pub origin: Origin,
}

/// A group name in `groups.include`/`exclude`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameEntry {
    /// The group name.
    pub name: String,
    /// Platform predicate, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Vec<String>>,
    /// Where it was written.
    pub origin: Origin,
}

/// The normalized `network` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkSection {
    /// `network.block`.
    pub block: Option<Located<bool>>,
    /// `network.network_profile`.
    pub network_profile: Option<Located<String>>,
    /// `network.allow_domain` (and the legacy `allow_hosts`, `proxy_allow`, `allow_proxy`).
    pub allow_domain: Vec<Located<String>>,
    /// `network.deny_domain`.
    pub deny_domain: Vec<Located<String>>,
    /// `network.allow_private`.
    pub allow_private: Option<Located<bool>>,
    /// `network.credentials`.
    pub credentials: Vec<Located<String>>,
    /// `network.custom_credentials`.
    pub custom_credentials: BTreeMap<String, Located<CustomCredential>>,
    /// `network.listen_port`.
    pub listen_port: Vec<Located<u16>>,
    /// `network.open_port`.
    pub open_port: Vec<Located<u16>>,
}

/// The normalized `environment` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnvironmentSection {
    /// `environment.allow_vars`.
    pub allow_vars: Vec<Located<String>>,
    /// `environment.deny_vars`.
    pub deny_vars: Vec<Located<String>>,
    /// `environment.set_vars`.
    pub set_vars: BTreeMap<String, Located<String>>,
}

/// The normalized `security` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecuritySection {
    /// `security.signal_mode`.
    pub signal_mode: Option<IsolationMode>,
    /// `security.process_info_mode`.
    pub process_info_mode: Option<IsolationMode>,
    /// `security.ipc_mode`.
    pub ipc_mode: Option<IpcMode>,
    /// `security.allow_keyring`.
    pub allow_keyring: Option<bool>,
}

/// Where a profile was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum ProfileSource {
    /// Embedded in the binary.
    Builtin,
    /// A file on disk.
    File(PathBuf),
}

/// A profile after legacy mapping, with every entry's origin, and after `extends` when
/// it came from [`crate::ProfileStore`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// The name it was loaded by.
    pub name: String,
    /// Where it was loaded from.
    pub source: ProfileSource,
    /// `meta`.
    pub meta: Meta,
    /// `extends`, as written in this profile. Absent (`None`) means the built-in
    /// `default`; an explicit empty list means no base at all.
    pub extends: Option<Vec<String>>,
    /// Every profile merged into this one, bases first, this one last.
    pub chain: Vec<String>,
    /// The files of the profiles in `chain` that came from disk (built-ins have none),
    /// as opened: the sandbox keeps them read-only for the command.
    #[serde(skip)]
    pub files: Vec<std::path::PathBuf>,
    /// `workdir.access`.
    pub workdir: Option<Located<WorkdirAccess>>,
    /// `groups.include` (and legacy `security.groups`).
    pub groups_include: Vec<NameEntry>,
    /// `groups.exclude` (and legacy `policy.exclude_groups`).
    pub groups_exclude: Vec<NameEntry>,
    /// All `filesystem` entries (and the legacy `policy.add_*` ones).
    pub filesystem: Vec<FsEntry>,
    /// `network`.
    pub network: NetworkSection,
    /// `environment`.
    pub environment: EnvironmentSection,
    /// `rollback` / `undo`.
    pub rollback: file::Rollback,
    /// `security` modes.
    pub security: SecuritySection,
    /// Notes about deprecated keys that were accepted (shown by `profiles validate`).
    pub notes: Vec<String>,
}

/// A profile could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so one line says it all).
        error: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{file}: not valid UTF-8 text")]
    NotUtf8 {
        /// File name for the message.
        file: String,
    },
    /// The JSON is malformed.
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        /// File name for the message.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// A key that is not part of the format.
    #[error("{file}:{line}:{column}: unknown key `{key}`{}", suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        /// File name for the message.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The key as written.
        key: String,
        /// The closest known key, if any is close.
        suggestion: Option<String>,
    },
    /// A value of the wrong type or out of range, or a semantic error.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// File name for the message.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An error tied to an entry whose position is known through its origin.
    #[error("{origin}: {message}")]
    Entry {
        /// The entry.
        origin: Box<Origin>,
        /// What is wrong.
        message: String,
    },
    /// No profile has that name.
    #[error("no profile named `{name}` (looked in {}; built-ins: {builtins})", searched.display())]
    NotFound {
        /// The name asked for.
        name: String,
        /// The user profile directory searched.
        searched: PathBuf,
        /// Built-in names, comma-separated.
        builtins: String,
    },
    /// `extends` loops.
    #[error("`extends` cycle: {}", chain.join(" -> "))]
    Cycle {
        /// The profiles in the loop, ending with the repeated one.
        chain: Vec<String>,
    },
    /// A user profile has the name of a built-in.
    #[error("user profile {} has the same name as the built-in profile `{name}`; rename the file, or pass its path to use it", path.display())]
    ShadowsBuiltin {
        /// The name.
        name: String,
        /// The user file.
        path: PathBuf,
    },
    /// `extends` is nested too deeply.
    #[error("`extends` nests deeper than {max} profiles (at `{name}`)")]
    TooDeep {
        /// Where it stopped.
        name: String,
        /// The limit.
        max: usize,
    },
}

/// The keys each object accepts, for "did you mean" suggestions.
const KNOWN_KEYS: &[&str] = &[
    "$schema",
    "extends",
    "meta",
    "workdir",
    "groups",
    "filesystem",
    "network",
    "environment",
    "rollback",
    "undo",
    "security",
    "policy",
    "interactive",
    "name",
    "version",
    "description",
    "author",
    "access",
    "include",
    "exclude",
    "allow",
    "read",
    "write",
    "allow_file",
    "read_file",
    "write_file",
    "deny",
    "bypass_protection",
    "block",
    "network_profile",
    "allow_domain",
    "allow_hosts",
    "proxy_allow",
    "allow_proxy",
    "deny_domain",
    "allow_private",
    "credentials",
    "proxy_credentials",
    "custom_credentials",
    "listen_port",
    "open_port",
    "port_allow",
    "allow_port",
    "allow_vars",
    "deny_vars",
    "set_vars",
    "exclude_patterns",
    "exclude_globs",
    "groups",
    "signal_mode",
    "process_info_mode",
    "ipc_mode",
    "allow_keyring",
    "add_allow_read",
    "add_allow_write",
    "add_allow_readwrite",
    "add_deny_access",
    "exclude_groups",
    "override_deny",
    "upstream",
    "credential_key",
    "inject_mode",
    "inject_header",
    "credential_format",
    "path_pattern",
    "path_replacement",
    "query_param_name",
    "env_var",
    "path",
    "when",
];

/// Parses profile text (JSON with comments) into a normalized profile without
/// resolving `extends`.
///
/// `display` names the file in error messages.
pub fn parse(text: &str, name: &str, source: ProfileSource) -> Result<Profile, ProfileError> {
    let display = match &source {
        ProfileSource::Builtin => format!("<built-in {name}>"),
        ProfileSource::File(path) => path.display().to_string(),
    };
    let stripped = strip_comments(text, &display)?;
    // The built-in profiles are known to hold objects where objects belong (tested), so
    // only a user's file pays for the extra parse into a `Value`. That parse comes
    // first: the position index is built only from text serde_json accepted.
    let index = if source != ProfileSource::Builtin {
        let value: serde_json::Value =
            serde_json::from_str(&stripped).map_err(|e| classify_serde_error(&e, &display))?;
        let index = PositionIndex::build(&stripped);
        require_objects(&value, &index, &display)?;
        index
    } else {
        PositionIndex::build(&stripped)
    };
    let raw: file::ProfileFile =
        serde_json::from_str(&stripped).map_err(|e| classify_serde_error(&e, &display))?;
    let file = match &source {
        ProfileSource::File(p) => Some(p.clone()),
        ProfileSource::Builtin => None,
    };
    let ctx = Ctx {
        profile: name.to_string(),
        file,
        index,
    };
    Ok(normalize(raw, name, source, &ctx))
}

/// Replaces comments by spaces so positions in the text do not move.
fn strip_comments(text: &str, display: &str) -> Result<String, ProfileError> {
    use std::io::Read;
    // A comment starts with `//`, `/*` or `#`; a text holding none of them has none.
    if !text.contains("//") && !text.contains("/*") && !text.contains('#') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    json_comments::StripComments::new(text.as_bytes())
        .read_to_string(&mut out)
        .map_err(|e| ProfileError::Syntax {
            file: display.to_string(),
            line: 1,
            column: 1,
            message: format!("unterminated comment ({e})"),
        })?;
    Ok(out)
}

/// serde accepts a JSON array where a struct is expected (as a tuple of its fields);
/// a profile must use objects, so check the sections before deserializing.
fn require_objects(
    value: &serde_json::Value,
    index: &PositionIndex,
    display: &str,
) -> Result<(), ProfileError> {
    let fail = |key: &str, found: &serde_json::Value| {
        let position = index.get(key).unwrap_or(Position { line: 1, column: 1 });
        let kind = match found {
            serde_json::Value::Array(_) => "a list",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Null => "null",
            serde_json::Value::Object(_) => "an object",
        };
        let what = if key.is_empty() {
            "the profile".to_string()
        } else {
            format!("`{key}`")
        };
        Err(ProfileError::Invalid {
            file: display.to_string(),
            line: position.line,
            column: position.column,
            message: format!("{what} must be a JSON object, not {kind}"),
        })
    };
    let Some(top) = value.as_object() else {
        return fail("", value);
    };
    for section in [
        "meta",
        "workdir",
        "groups",
        "filesystem",
        "network",
        "environment",
        "rollback",
        "undo",
        "security",
        "policy",
    ] {
        if let Some(v) = top.get(section)
            && !v.is_object()
        {
            return fail(section, v);
        }
    }
    if let Some(customs) = top.get("network").and_then(|n| n.get("custom_credentials")) {
        let Some(map) = customs.as_object() else {
            return fail("network.custom_credentials", customs);
        };
        for (name, v) in map {
            if !v.is_object() {
                return fail(&format!("network.custom_credentials.{name}"), v);
            }
        }
    }
    Ok(())
}

fn classify_serde_error(e: &serde_json::Error, display: &str) -> ProfileError {
    let (line, column) = (e.line(), e.column());
    let message = e.to_string();
    // serde's message is "unknown field `x`, expected one of `a`, `b` at line L column C".
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let key = rest[..end].to_string();
        let expected: Vec<&str> = rest[end..].split('`').skip(2).step_by(2).collect();
        let candidates: Vec<&str> = if expected.is_empty() {
            KNOWN_KEYS.to_vec()
        } else {
            expected
        };
        return ProfileError::UnknownKey {
            file: display.to_string(),
            line,
            // serde points just past the key; point at its start instead.
            column: column.saturating_sub(key.chars().count() + 1).max(1),
            suggestion: suggest(&key, candidates.iter().copied()),
            key,
        };
    }
    let message = strip_position(&message);
    if e.is_syntax() || e.is_eof() {
        ProfileError::Syntax {
            file: display.to_string(),
            line,
            column,
            message,
        }
    } else {
        ProfileError::Invalid {
            file: display.to_string(),
            line,
            column,
            message,
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(distance, c)| *distance <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c.to_string())
}

struct Ctx {
    profile: String,
    file: Option<PathBuf>,
    index: PositionIndex,
}

impl Ctx {
    fn origin(&self, key: String) -> Origin {
        let line = self.index.get(&key).map(|p| p.line);
        Origin {
            profile: self.profile.clone(),
            file: self.file.clone(),
            key,
            line,
        }
    }

    fn located<T>(&self, value: T, key: String) -> Located<T> {
        Located {
            value,
            origin: self.origin(key),
        }
    }
}

fn when_of(c: &file::Conditional) -> Option<Vec<String>> {
    c.when().map(file::OneOrMany::to_vec)
}

fn normalize(raw: file::ProfileFile, name: &str, source: ProfileSource, ctx: &Ctx) -> Profile {
    let mut notes = Vec::new();
    let mut filesystem = Vec::new();
    let mut push_fs = |list: &[file::Conditional], key: FsKey, written: &str| {
        for (i, c) in list.iter().enumerate() {
            filesystem.push(FsEntry {
                key,
                path: c.value().to_string(),
                when: when_of(c),
                origin: ctx.origin(format!("{written}[{i}]")),
            });
        }
    };
    if let Some(fs) = &raw.filesystem {
        push_fs(&fs.allow, FsKey::Allow, "filesystem.allow");
        push_fs(&fs.read, FsKey::Read, "filesystem.read");
        push_fs(&fs.write, FsKey::Write, "filesystem.write");
        push_fs(&fs.allow_file, FsKey::AllowFile, "filesystem.allow_file");
        push_fs(&fs.read_file, FsKey::ReadFile, "filesystem.read_file");
        push_fs(&fs.write_file, FsKey::WriteFile, "filesystem.write_file");
        push_fs(&fs.deny, FsKey::Deny, "filesystem.deny");
        push_fs(
            &fs.bypass_protection,
            FsKey::BypassProtection,
            "filesystem.bypass_protection",
        );
    }
    let mut groups_include = Vec::new();
    let mut groups_exclude = Vec::new();
    let names = |list: &[file::Conditional], written: &str, out: &mut Vec<NameEntry>| {
        for (i, c) in list.iter().enumerate() {
            out.push(NameEntry {
                name: c.value().to_string(),
                when: when_of(c),
                origin: ctx.origin(format!("{written}[{i}]")),
            });
        }
    };
    if let Some(groups) = &raw.groups {
        names(&groups.include, "groups.include", &mut groups_include);
        names(&groups.exclude, "groups.exclude", &mut groups_exclude);
    }
    let mut security = SecuritySection::default();
    if let Some(sec) = &raw.security {
        names(&sec.groups, "security.groups", &mut groups_include);
        security = SecuritySection {
            signal_mode: sec.signal_mode,
            process_info_mode: sec.process_info_mode,
            ipc_mode: sec.ipc_mode,
            allow_keyring: sec.allow_keyring,
        };
    }
    if let Some(policy) = &raw.policy {
        // Legacy keys did not distinguish files from directories; neither do the
        // current directory keys when they come from a profile (see `resolve`).
        push_fs(&policy.add_allow_read, FsKey::Read, "policy.add_allow_read");
        push_fs(
            &policy.add_allow_write,
            FsKey::Write,
            "policy.add_allow_write",
        );
        push_fs(
            &policy.add_allow_readwrite,
            FsKey::Allow,
            "policy.add_allow_readwrite",
        );
        push_fs(
            &policy.add_deny_access,
            FsKey::Deny,
            "policy.add_deny_access",
        );
        push_fs(
            &policy.override_deny,
            FsKey::BypassProtection,
            "policy.override_deny",
        );
        names(
            &policy.exclude_groups,
            "policy.exclude_groups",
            &mut groups_exclude,
        );
    }
    if raw.interactive.is_some() {
        notes
            .push("`interactive` is deprecated and ignored: a terminal is always preserved".into());
    }
    let mut network = NetworkSection::default();
    if let Some(net) = &raw.network {
        network.block = net.block.map(|b| ctx.located(b, "network.block".into()));
        network.network_profile = net
            .network_profile
            .clone()
            .map(|p| ctx.located(p, "network.network_profile".into()));
        for (i, d) in net.allow_domain.iter().enumerate() {
            network
                .allow_domain
                .push(ctx.located(d.clone(), format!("network.allow_domain[{i}]")));
        }
        for (i, d) in net.allow_hosts.iter().enumerate() {
            network
                .allow_domain
                .push(ctx.located(d.clone(), format!("network.allow_hosts[{i}]")));
        }
        for (i, d) in net.deny_domain.iter().enumerate() {
            network
                .deny_domain
                .push(ctx.located(d.clone(), format!("network.deny_domain[{i}]")));
        }
        network.allow_private = net
            .allow_private
            .map(|b| ctx.located(b, "network.allow_private".into()));
        for (i, c) in net.credentials.iter().enumerate() {
            network
                .credentials
                .push(ctx.located(c.clone(), format!("network.credentials[{i}]")));
        }
        for (k, v) in &net.custom_credentials {
            network.custom_credentials.insert(
                k.clone(),
                ctx.located(v.clone(), format!("network.custom_credentials.{k}")),
            );
        }
        for (i, p) in net.listen_port.iter().enumerate() {
            network
                .listen_port
                .push(ctx.located(*p, format!("network.listen_port[{i}]")));
        }
        for (i, p) in net.open_port.iter().enumerate() {
            network
                .open_port
                .push(ctx.located(*p, format!("network.open_port[{i}]")));
        }
    }
    let mut environment = EnvironmentSection::default();
    if let Some(env) = &raw.environment {
        for (i, v) in env.allow_vars.iter().enumerate() {
            environment
                .allow_vars
                .push(ctx.located(v.clone(), format!("environment.allow_vars[{i}]")));
        }
        for (i, v) in env.deny_vars.iter().enumerate() {
            environment
                .deny_vars
                .push(ctx.located(v.clone(), format!("environment.deny_vars[{i}]")));
        }
        for (k, v) in &env.set_vars {
            environment.set_vars.insert(
                k.clone(),
                ctx.located(v.clone(), format!("environment.set_vars.{k}")),
            );
        }
    }
    let files = match &source {
        ProfileSource::File(path) => vec![path.clone()],
        ProfileSource::Builtin => Vec::new(),
    };
    Profile {
        name: name.to_string(),
        source,
        meta: raw.meta.unwrap_or_default(),
        extends: raw.extends.map(|e| e.to_vec()),
        chain: vec![name.to_string()],
        files,
        workdir: raw
            .workdir
            .and_then(|w| w.access)
            .map(|a| ctx.located(a, "workdir.access".into())),
        groups_include,
        groups_exclude,
        filesystem,
        network,
        environment,
        rollback: raw.rollback.unwrap_or_default(),
        security,
        notes,
    }
}

fn union<T: Clone>(base: &[T], child: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let mut out: Vec<T> = base.to_vec();
    for item in child {
        if !out.iter().any(|o| same(o, item)) {
            out.push(item.clone());
        }
    }
    out
}

impl Profile {
    /// Merges `self` (a base) with `child`: lists are united (base entries first, each
    /// entry keeping its origin), scalars and map entries set by the child win, and
    /// `meta` is the child's.
    pub fn merge(&self, child: &Profile) -> Profile {
        let net = &child.network;
        let env = &child.environment;
        let mut custom = self.network.custom_credentials.clone();
        custom.extend(net.custom_credentials.clone());
        let mut set_vars = self.environment.set_vars.clone();
        set_vars.extend(env.set_vars.clone());
        let mut chain = self.chain.clone();
        for name in &child.chain {
            if !chain.contains(name) {
                chain.push(name.clone());
            }
        }
        let mut files = self.files.clone();
        for file in &child.files {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
        Profile {
            name: child.name.clone(),
            source: child.source.clone(),
            meta: child.meta.clone(),
            extends: child.extends.clone(),
            chain,
            files,
            workdir: child.workdir.clone().or_else(|| self.workdir.clone()),
            groups_include: union(&self.groups_include, &child.groups_include, |a, b| {
                a.name == b.name && a.when == b.when
            }),
            groups_exclude: union(&self.groups_exclude, &child.groups_exclude, |a, b| {
                a.name == b.name && a.when == b.when
            }),
            filesystem: union(&self.filesystem, &child.filesystem, |a, b| {
                a.key == b.key && a.path == b.path && a.when == b.when
            }),
            network: NetworkSection {
                block: net.block.clone().or_else(|| self.network.block.clone()),
                network_profile: net
                    .network_profile
                    .clone()
                    .or_else(|| self.network.network_profile.clone()),
                allow_domain: union(&self.network.allow_domain, &net.allow_domain, |a, b| {
                    a.value == b.value
                }),
                deny_domain: union(&self.network.deny_domain, &net.deny_domain, |a, b| {
                    a.value == b.value
                }),
                allow_private: net
                    .allow_private
                    .clone()
                    .or_else(|| self.network.allow_private.clone()),
                credentials: union(&self.network.credentials, &net.credentials, |a, b| {
                    a.value == b.value
                }),
                custom_credentials: custom,
                listen_port: union(&self.network.listen_port, &net.listen_port, |a, b| {
                    a.value == b.value
                }),
                open_port: union(&self.network.open_port, &net.open_port, |a, b| {
                    a.value == b.value
                }),
            },
            environment: EnvironmentSection {
                allow_vars: union(&self.environment.allow_vars, &env.allow_vars, |a, b| {
                    a.value == b.value
                }),
                deny_vars: union(&self.environment.deny_vars, &env.deny_vars, |a, b| {
                    a.value == b.value
                }),
                set_vars,
            },
            rollback: file::Rollback {
                exclude_patterns: union(
                    &self.rollback.exclude_patterns,
                    &child.rollback.exclude_patterns,
                    |a, b| a == b,
                ),
                exclude_globs: union(
                    &self.rollback.exclude_globs,
                    &child.rollback.exclude_globs,
                    |a, b| a == b,
                ),
            },
            security: SecuritySection {
                signal_mode: child.security.signal_mode.or(self.security.signal_mode),
                process_info_mode: child
                    .security
                    .process_info_mode
                    .or(self.security.process_info_mode),
                ipc_mode: child.security.ipc_mode.or(self.security.ipc_mode),
                allow_keyring: child.security.allow_keyring.or(self.security.allow_keyring),
            },
            notes: union(&self.notes, &child.notes, |a, b| a == b),
        }
    }

    /// The profile in the current format (no legacy keys, no `extends`: bases are
    /// already merged in). Feeding the result back to [`parse`] gives the same rules.
    pub fn to_file(&self) -> file::ProfileFile {
        use file::Conditional;
        let cond = |value: &str, when: &Option<Vec<String>>| match when {
            None => Conditional::Plain(value.to_string()),
            Some(w) => Conditional::When {
                path: value.to_string(),
                when: if w.len() == 1 {
                    file::OneOrMany::One(w[0].clone())
                } else {
                    file::OneOrMany::Many(w.clone())
                },
            },
        };
        let mut fs = file::Filesystem::default();
        for entry in &self.filesystem {
            let list = match entry.key {
                FsKey::Allow => &mut fs.allow,
                FsKey::Read => &mut fs.read,
                FsKey::Write => &mut fs.write,
                FsKey::AllowFile => &mut fs.allow_file,
                FsKey::ReadFile => &mut fs.read_file,
                FsKey::WriteFile => &mut fs.write_file,
                FsKey::Deny => &mut fs.deny,
                FsKey::BypassProtection => &mut fs.bypass_protection,
            };
            list.push(cond(&entry.path, &entry.when));
        }
        let groups = file::Groups {
            include: self
                .groups_include
                .iter()
                .map(|g| cond(&g.name, &g.when))
                .collect(),
            exclude: self
                .groups_exclude
                .iter()
                .map(|g| cond(&g.name, &g.when))
                .collect(),
        };
        let network = file::Network {
            block: self.network.block.as_ref().map(|b| b.value),
            network_profile: self
                .network
                .network_profile
                .as_ref()
                .map(|p| p.value.clone()),
            allow_domain: self
                .network
                .allow_domain
                .iter()
                .map(|d| d.value.clone())
                .collect(),
            allow_hosts: Vec::new(),
            deny_domain: self
                .network
                .deny_domain
                .iter()
                .map(|d| d.value.clone())
                .collect(),
            allow_private: self.network.allow_private.as_ref().map(|b| b.value),
            credentials: self
                .network
                .credentials
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            custom_credentials: self
                .network
                .custom_credentials
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            listen_port: self.network.listen_port.iter().map(|p| p.value).collect(),
            open_port: self.network.open_port.iter().map(|p| p.value).collect(),
        };
        let environment = file::Environment {
            allow_vars: self
                .environment
                .allow_vars
                .iter()
                .map(|v| v.value.clone())
                .collect(),
            deny_vars: self
                .environment
                .deny_vars
                .iter()
                .map(|v| v.value.clone())
                .collect(),
            set_vars: self
                .environment
                .set_vars
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
        };
        let security = SecuritySection::default() != self.security;
        file::ProfileFile {
            schema: None,
            // Every base is merged in already.
            extends: Some(file::OneOrMany::Many(Vec::new())),
            meta: Some(self.meta.clone()).filter(|m| *m != Meta::default()),
            workdir: self.workdir.as_ref().map(|w| file::Workdir {
                access: Some(w.value),
            }),
            groups: Some(groups).filter(|g| *g != file::Groups::default()),
            filesystem: Some(fs).filter(|f| *f != file::Filesystem::default()),
            network: Some(network).filter(|n| *n != file::Network::default()),
            environment: Some(environment).filter(|e| *e != file::Environment::default()),
            rollback: Some(self.rollback.clone()).filter(|r| *r != file::Rollback::default()),
            security: security.then(|| file::Security {
                groups: Vec::new(),
                signal_mode: self.security.signal_mode,
                process_info_mode: self.security.process_info_mode,
                ipc_mode: self.security.ipc_mode,
                allow_keyring: self.security.allow_keyring,
            }),
            policy: None,
            interactive: None,
        }
    }
}

/// The JSON Schema of the profile format, generated from the types.
///
/// schemars does not describe serde aliases, so they are added here (marked
/// deprecated) — otherwise the schema's `additionalProperties: false` would reject
/// profiles nono accepts. The `{path|name, when}` entry form is described by hand for
/// the same reason.
pub fn json_schema() -> serde_json::Value {
    use serde_json::json;
    let mut schema = serde_json::to_value(schemars::schema_for!(file::ProfileFile))
        .expect("a generated schema is always serializable");
    let aliases: [(&str, &str, &str); 7] = [
        ("", "undo", "rollback"),
        ("Network", "proxy_allow", "allow_domain"),
        ("Network", "allow_proxy", "allow_domain"),
        ("Network", "proxy_credentials", "credentials"),
        ("Network", "port_allow", "open_port"),
        ("Network", "allow_port", "open_port"),
        ("Conditional", "name", "path"),
    ];
    for (def, alias, canonical) in aliases {
        let props = if def.is_empty() {
            schema.get_mut("properties")
        } else if def == "Conditional" {
            continue;
        } else {
            schema.pointer_mut(&format!("/$defs/{def}/properties"))
        };
        if let Some(props) = props.and_then(|p| p.as_object_mut())
            && let Some(mut copy) = props.get(canonical).cloned()
        {
            copy["description"] = json!(format!("Alias of `{canonical}`."));
            copy["deprecated"] = json!(true);
            props.insert(alias.to_string(), copy);
        }
    }
    if let Some(defs) = schema.get_mut("$defs").and_then(|d| d.as_object_mut()) {
        defs.insert(
            "Conditional".into(),
            json!({
                "description": "A plain string, or an object with the path (or group name) and a platform predicate.",
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "path": {"type": "string"},
                            "name": {"type": "string"},
                            "when": {"$ref": "#/$defs/OneOrMany"}
                        },
                        "oneOf": [{"required": ["path"]}, {"required": ["name"]}]
                    }
                ]
            }),
        );
    }
    schema
}

#[cfg(test)]
mod tests;
