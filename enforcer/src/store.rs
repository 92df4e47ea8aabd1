//! Finding profiles by name or path, resolving `extends`, and validating the result
//! against the policy.
//!
//! Lookup order for a name: `$XDG_CONFIG_HOME/nono/profiles/<name>.json`, then the
//! built-ins. A user file with a built-in's name is an error when that name is used
//! (it would otherwise silently change what `--profile default` means); refer to such
//! a file by path. A reference containing `/` or ending in `.json` is a path.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::policy::{BUILTIN_PROFILES, Policy};
use crate::profile::{self, Origin, Profile, ProfileError, ProfileSource};
use crate::vars::PathVars;

/// How deep `extends` may nest.
pub const MAX_EXTENDS_DEPTH: usize = 16;

/// Finds and loads profiles.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    user_dir: PathBuf,
    policy: &'static Policy,
}

/// One entry of [`ProfileStore::list`].
#[derive(Debug, Clone, Serialize)]
pub struct ProfileListing {
    /// The name to pass to `--profile`.
    pub name: String,
    /// Built-in or the user file.
    pub source: ProfileSource,
    /// `meta.description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why the profile cannot be used, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ProfileStore {
    /// A store over `user_dir` (usually `$XDG_CONFIG_HOME/nono/profiles`) and the
    /// embedded policy.
    pub fn new(user_dir: PathBuf) -> Self {
        Self {
            user_dir,
            policy: Policy::embedded(),
        }
    }

    /// The directory user profiles live in.
    pub fn user_dir(&self) -> &Path {
        &self.user_dir
    }

    /// The policy profiles are validated against.
    pub fn policy(&self) -> &Policy {
        self.policy
    }

    /// Is `name` a built-in profile?
    pub fn is_builtin(name: &str) -> bool {
        BUILTIN_PROFILES.iter().any(|(n, _)| *n == name)
    }

    /// Built-in names, comma-separated.
    pub fn builtin_names() -> String {
        BUILTIN_PROFILES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every built-in profile and every `*.json` in the user directory, sorted by name.
    /// A user profile that fails to load is listed with its error.
    pub fn list(&self) -> Vec<ProfileListing> {
        let mut out: Vec<ProfileListing> = BUILTIN_PROFILES
            .iter()
            .map(|(name, _)| ProfileListing {
                name: (*name).to_string(),
                source: ProfileSource::Builtin,
                description: self.load(name).ok().and_then(|p| p.meta.description),
                error: None,
            })
            .collect();
        if let Ok(entries) = std::fs::read_dir(&self.user_dir) {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let loaded = self.load(name);
                out.push(ProfileListing {
                    name: name.to_string(),
                    source: ProfileSource::File(path.clone()),
                    description: loaded
                        .as_ref()
                        .ok()
                        .and_then(|p| p.meta.description.clone()),
                    error: loaded.err().map(|e| e.to_string()),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Loads a profile by name or path, merges its `extends` chain and validates it.
    pub fn load(&self, reference: &str) -> Result<Profile, ProfileError> {
        let mut stack = Vec::new();
        let profile = self.resolve(reference, None, false, &mut stack)?;
        let mut errors = validate(&profile, self.policy);
        if errors.is_empty() {
            Ok(profile)
        } else {
            Err(errors.remove(0))
        }
    }

    /// Like [`ProfileStore::load`], returning every validation error instead of the first.
    pub fn load_all_errors(&self, reference: &str) -> Result<Profile, Vec<ProfileError>> {
        let mut stack = Vec::new();
        let profile = self
            .resolve(reference, None, false, &mut stack)
            .map_err(|e| vec![e])?;
        let errors = validate(&profile, self.policy);
        if errors.is_empty() {
            Ok(profile)
        } else {
            Err(errors)
        }
    }

    /// The unmerged text of a profile, and where it came from.
    pub fn source_text(&self, reference: &str) -> Result<(String, ProfileSource), ProfileError> {
        let (_, text, source) = self.read(reference, None, false)?;
        Ok((text, source))
    }

    fn read(
        &self,
        reference: &str,
        base_dir: Option<&Path>,
        builtins_only: bool,
    ) -> Result<(String, String, ProfileSource), ProfileError> {
        if builtins_only
            && let Some((name, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == reference)
        {
            return Ok((
                (*name).to_string(),
                (*text).to_string(),
                ProfileSource::Builtin,
            ));
        }
        let is_path = reference.contains('/') || reference.ends_with(".json");
        if is_path {
            let path = match base_dir {
                Some(dir) if Path::new(reference).is_relative() => dir.join(reference),
                _ => PathBuf::from(reference),
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| reference.to_string());
            let text = read_text(&path)?;
            return Ok((name, text, ProfileSource::File(path)));
        }
        let user_file = self.user_dir.join(format!("{reference}.json"));
        let builtin = BUILTIN_PROFILES.iter().find(|(n, _)| *n == reference);
        if user_file.exists() {
            if builtin.is_some() {
                return Err(ProfileError::ShadowsBuiltin {
                    name: reference.into(),
                    path: user_file,
                });
            }
            let text = read_text(&user_file)?;
            return Ok((reference.to_string(), text, ProfileSource::File(user_file)));
        }
        match builtin {
            Some((name, text)) => Ok((
                (*name).to_string(),
                (*text).to_string(),
                ProfileSource::Builtin,
            )),
            None => Err(ProfileError::NotFound {
                name: reference.into(),
                searched: self.user_dir.clone(),
                builtins: Self::builtin_names(),
            }),
        }
    }

    /// `builtins_only`: the reference comes from a built-in profile's `extends`, which
    /// always means the built-in of that name (a user file cannot change built-ins).
    fn resolve(
        &self,
        reference: &str,
        base_dir: Option<&Path>,
        builtins_only: bool,
        stack: &mut Vec<String>,
    ) -> Result<Profile, ProfileError> {
        let (name, text, source) = self.read(reference, base_dir, builtins_only)?;
        let identity = match &source {
            ProfileSource::Builtin => format!("builtin:{name}"),
            ProfileSource::File(p) => p
                .canonicalize()
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
        };
        if stack.contains(&identity) {
            let mut chain: Vec<String> = stack.iter().map(|s| display_identity(s)).collect();
            chain.push(display_identity(&identity));
            return Err(ProfileError::Cycle { chain });
        }
        if stack.len() >= MAX_EXTENDS_DEPTH {
            return Err(ProfileError::TooDeep {
                name,
                max: MAX_EXTENDS_DEPTH,
            });
        }
        let profile = profile::parse(&text, &name, source.clone())?;
        let dir = match &source {
            ProfileSource::File(p) => p.parent().map(Path::to_path_buf),
            ProfileSource::Builtin => None,
        };
        let bases = match &profile.extends {
            Some(list) => list.clone(),
            None if source == ProfileSource::Builtin && name == "default" => Vec::new(),
            None => vec!["default".to_string()],
        };
        stack.push(identity);
        let mut merged: Option<Profile> = None;
        for base in &bases {
            let from_builtin = source == ProfileSource::Builtin;
            let resolved = self.resolve(base, dir.as_deref(), from_builtin, stack)?;
            merged = Some(match merged {
                None => resolved,
                Some(m) => m.merge(&resolved),
            });
        }
        stack.pop();
        Ok(match merged {
            None => profile,
            Some(base) => base.merge(&profile),
        })
    }
}

fn display_identity(identity: &str) -> String {
    identity
        .strip_prefix("builtin:")
        .unwrap_or(identity)
        .to_string()
}

fn read_text(path: &Path) -> Result<String, ProfileError> {
    let bytes = std::fs::read(path).map_err(|error| ProfileError::Io {
        path: path.into(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|_| ProfileError::NotUtf8 {
        file: path.display().to_string(),
    })
}

/// Does a `when` predicate hold on this platform? `None` always holds.
pub fn when_applies(when: &Option<Vec<String>>) -> bool {
    let Some(list) = when else { return true };
    let here = crate::policy::Platform::current().name();
    list.iter().any(|p| match p.strip_prefix('!') {
        Some(negated) => negated != here,
        None => p == here,
    })
}

fn entry_error(origin: &Origin, message: String) -> ProfileError {
    ProfileError::Entry {
        origin: Box::new(origin.clone()),
        message,
    }
}

fn check_when(when: &Option<Vec<String>>, origin: &Origin, errors: &mut Vec<ProfileError>) {
    for predicate in when.iter().flatten() {
        let os = predicate.strip_prefix('!').unwrap_or(predicate);
        if os != "linux" && os != "macos" {
            errors.push(entry_error(
                origin,
                format!("unsupported platform predicate `{predicate}` (use linux, macos, !linux or !macos)"),
            ));
        }
    }
}

fn check_var_pattern(pattern: &str, origin: &Origin, errors: &mut Vec<ProfileError>) {
    let body = pattern.strip_suffix('*').unwrap_or(pattern);
    let ok = pattern == "*"
        || (!body.is_empty() && !body.contains('*') && !body.contains('=') && !body.contains('\0'));
    if !ok {
        errors.push(entry_error(
            origin,
            format!("invalid variable pattern `{pattern}`: use a name or a prefix ending in `*`"),
        ));
    }
}

/// Checks a host pattern: a DNS name, `*.` + a DNS name, or an IP address.
pub fn check_host_pattern(host: &str) -> Result<(), String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        let hint = if host.contains("://") || host.contains('/') {
            " (write the host name only, without scheme or path)"
        } else if host.contains(':') {
            " (ports are not part of a host rule)"
        } else {
            ""
        };
        return Err(format!("invalid host `{host}`{hint}"));
    }
    Ok(())
}

/// Checks everything about a (merged) profile that the file syntax cannot: group and
/// network profile names, credential services, variable patterns, paths, ports.
pub fn validate(profile: &Profile, policy: &Policy) -> Vec<ProfileError> {
    let mut errors = Vec::new();
    let group_names = || policy.groups.keys().map(String::as_str);
    for entry in profile.groups_include.iter().chain(&profile.groups_exclude) {
        check_when(&entry.when, &entry.origin, &mut errors);
        if !policy.groups.contains_key(&entry.name) {
            let hint = profile::suggest(&entry.name, group_names())
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(entry_error(
                &entry.origin,
                format!("unknown group `{}`{hint}", entry.name),
            ));
        }
    }
    for entry in &profile.groups_exclude {
        if policy.groups.get(&entry.name).is_some_and(|g| g.required) {
            errors.push(entry_error(
                &entry.origin,
                format!(
                    "group `{}` is required and cannot be excluded; to reach one of its paths, \
                     grant it and list it in `filesystem.bypass_protection`",
                    entry.name
                ),
            ));
        }
    }
    let dummy = PathVars {
        home: "/home/u".into(),
        workdir: "/w".into(),
        tmpdir: "/tmp".into(),
        uid: 1000,
        xdg_config_home: "/c".into(),
        xdg_cache_home: "/c".into(),
        xdg_data_home: "/d".into(),
        xdg_state_home: "/s".into(),
        xdg_runtime_dir: "/r".into(),
    };
    for entry in &profile.filesystem {
        check_when(&entry.when, &entry.origin, &mut errors);
        if let Err(e) = dummy.expand(&entry.path, None) {
            errors.push(entry_error(&entry.origin, e.to_string()));
        }
    }
    let net = &profile.network;
    if let Some(np) = &net.network_profile
        && !policy.network_profiles.contains_key(&np.value)
    {
        let names = policy.network_profiles.keys().map(String::as_str);
        let hint = profile::suggest(&np.value, names)
            .map(|s| format!(", did you mean `{s}`?"))
            .unwrap_or_default();
        errors.push(entry_error(
            &np.origin,
            format!("unknown network profile `{}`{hint}", np.value),
        ));
    }
    for host in &net.allow_domain {
        if let Err(e) = check_host_pattern(&host.value) {
            errors.push(entry_error(&host.origin, e));
        }
    }
    for cred in &net.credentials {
        if !policy.credentials.contains_key(&cred.value)
            && !net.custom_credentials.contains_key(&cred.value)
        {
            let known = policy
                .credentials
                .keys()
                .chain(net.custom_credentials.keys());
            let hint = profile::suggest(&cred.value, known.map(String::as_str))
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(entry_error(
                &cred.origin,
                format!("unknown credential service `{}`{hint} (define it in `network.custom_credentials`)", cred.value),
            ));
        }
    }
    for custom in net.custom_credentials.values() {
        check_custom_credential(&custom.value, &custom.origin, &mut errors);
    }
    for port in net.listen_port.iter().chain(&net.open_port) {
        if port.value == 0 {
            errors.push(entry_error(
                &port.origin,
                "port 0 is not a port rule; name the port".into(),
            ));
        }
    }
    let env = &profile.environment;
    for v in env.allow_vars.iter().chain(&env.deny_vars) {
        check_var_pattern(&v.value, &v.origin, &mut errors);
    }
    for (name, value) in &env.set_vars {
        if let Err(e) = dummy.expand_text(&value.value) {
            errors.push(entry_error(&value.origin, e.to_string()));
        }
        if name == "PATH" || name.starts_with("NONO_") {
            errors.push(entry_error(
                &value.origin,
                format!("`{name}` is reserved and cannot be set"),
            ));
        } else if name.is_empty() || name.contains('=') || name.contains('\0') {
            errors.push(entry_error(
                &value.origin,
                format!("invalid variable name `{name}`"),
            ));
        }
    }
    errors
}

/// Is `url` a plain-http URL whose host is a loopback address (`localhost`,
/// `127.0.0.0/8`, `[::1]`)? The host is parsed, not prefix-matched, so
/// `http://127.attacker.example` does not pass.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, port)) if port.is_empty() || port.starts_with(':') => addr,
            _ => return false,
        },
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_custom_credential(
    cred: &profile::CustomCredential,
    origin: &Origin,
    errors: &mut Vec<ProfileError>,
) {
    use profile::InjectMode;
    let upstream = &cred.upstream;
    if !(upstream.starts_with("https://") || is_loopback_http(upstream)) {
        errors.push(entry_error(
            origin,
            format!(
                "upstream `{upstream}` must use https:// (plain http only to a loopback address)"
            ),
        ));
    }
    let key = &cred.credential_key;
    let supported = match key.split_once("://") {
        None => !key.is_empty(),
        Some(("env", var)) => !var.is_empty(),
        Some(("file", path)) => path.starts_with('/') || path.starts_with('~'),
        Some(_) => false,
    };
    if !supported {
        errors.push(entry_error(
            origin,
            format!("credential_key `{key}`: use a keyring account name, env://VAR or file:///absolute/path"),
        ));
    }
    match cred.inject_mode {
        Some(InjectMode::UrlPath) if cred.path_pattern.is_none() => errors.push(entry_error(
            origin,
            "inject_mode `url_path` needs `path_pattern`".into(),
        )),
        Some(InjectMode::QueryParam) if cred.query_param_name.is_none() => {
            errors.push(entry_error(
                origin,
                "inject_mode `query_param` needs `query_param_name`".into(),
            ))
        }
        _ => {}
    }
}
