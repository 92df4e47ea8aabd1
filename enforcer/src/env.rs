//! The environment a sandboxed command sees.
//!
//! Order of decisions for each inherited variable:
//! 1. `environment.deny_vars` strips it.
//! 2. When `environment.allow_vars` is not empty, only matching variables pass.
//! 3. Loader and interpreter injection variables (`LD_*`, `DYLD_*`, `PYTHONSTARTUP`,
//!    `NODE_OPTIONS`, `BASH_ENV`, …) and credential-looking variables (`*_API_KEY`,
//!    `*_TOKEN`, `*_SECRET`, `*_PASSWORD`, `AWS_*`, `SSH_AUTH_SOCK`, …) are stripped
//!    unless `allow_vars` names them (by exact name or a namespace prefix ending in `_*`;
//!    `*` or `A*` does not count).
//! 4. `environment.set_vars` is applied last.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use serde::Serialize;

use crate::capability::EnvPolicy;

/// Variables that make a loader or interpreter run code of someone else's choosing.
pub const INJECTION: &[&str] = &[
    "LD_*",
    "DYLD_*",
    "PYTHONSTARTUP",
    "PYTHONINSPECT",
    "PYTHONHOME",
    "NODE_OPTIONS",
    "NODE_REPL_EXTERNAL_MODULE",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "PERL5OPT",
    "PERL5DB",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GCONV_PATH",
    "MALLOC_CHECK_",
    "IFS",
];

/// Variables that hold credentials, or point at an agent that uses them.
pub const CREDENTIAL_SUFFIXES: &[&str] = &[
    "_API_KEY",
    "_APIKEY",
    "_TOKEN",
    "_SECRET",
    "_SECRET_KEY",
    "_PASSWORD",
    "_PASSWD",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_CREDENTIALS",
    "_AUTH_TOKEN",
];

/// Credential variables by prefix or exact name.
pub const CREDENTIAL_NAMES: &[&str] = &[
    "AWS_*",
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "DATABASE_URL",
    "PGPASSWORD",
    "MYSQL_PWD",
    "VAULT_TOKEN",
    "KUBECONFIG",
];

/// Why a variable did not reach the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stripped {
    /// Named by `environment.deny_vars`.
    DenyVars,
    /// Not named by a non-empty `environment.allow_vars`.
    NotAllowed,
    /// A loader or interpreter injection variable.
    Injection,
    /// Looks like a credential.
    Credential,
}

fn matches(pattern: &str, name: &[u8]) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix.as_bytes()),
        None => name == pattern.as_bytes(),
    }
}

/// Is `name` an injection variable?
pub fn is_injection(name: &[u8]) -> bool {
    INJECTION.iter().any(|p| matches(p, name))
}

/// Does `name` look like a credential?
pub fn is_credential(name: &[u8]) -> bool {
    CREDENTIAL_NAMES.iter().any(|p| matches(p, name))
        || CREDENTIAL_SUFFIXES
            .iter()
            .any(|s| name.ends_with(s.as_bytes()))
}

/// The filtered environment and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    /// Variables for the command, in input order, then `set_vars`.
    pub vars: Vec<(OsString, OsString)>,
    /// Names left out and why.
    pub stripped: Vec<(OsString, Stripped)>,
}

/// Filters `inherited` by `policy`.
pub fn filter(
    inherited: impl IntoIterator<Item = (OsString, OsString)>,
    policy: &EnvPolicy,
) -> Filtered {
    let mut out = Filtered::default();
    let explicit = |name: &[u8]| {
        policy
            .allow_vars
            .iter()
            .any(|(p, _)| p != "*" && matches(p, name))
    };
    for (name, value) in inherited {
        let bytes = name.as_bytes();
        if policy
            .set_vars
            .contains_key(name.to_string_lossy().as_ref())
            && name.to_str().is_some()
        {
            continue;
        }
        let verdict = if policy.deny_vars.iter().any(|(p, _)| matches(p, bytes)) {
            Some(Stripped::DenyVars)
        } else if !policy.allow_vars.is_empty()
            && !policy.allow_vars.iter().any(|(p, _)| matches(p, bytes))
        {
            Some(Stripped::NotAllowed)
        } else if is_injection(bytes) && !explicit(bytes) {
            Some(Stripped::Injection)
        } else if is_credential(bytes) && !explicit(bytes) {
            Some(Stripped::Credential)
        } else {
            None
        };
        match verdict {
            Some(reason) => out.stripped.push((name, reason)),
            None => out.vars.push((name, value)),
        }
    }
    for (name, (value, _)) in &policy.set_vars {
        out.vars.push((OsString::from(name), OsString::from(value)));
    }
    out
}

/// The value of `name` in a filtered environment.
pub fn get<'a>(vars: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    vars.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Source;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn names(f: &Filtered) -> Vec<String> {
        f.vars
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn strips_injection_and_credentials_by_default() {
        let input = env(&[
            ("PATH", "/usr/bin"),
            ("LD_PRELOAD", "/x.so"),
            ("LD_LIBRARY_PATH", "/x"),
            ("PYTHONSTARTUP", "/x.py"),
            ("NODE_OPTIONS", "--require /x"),
            ("BASH_ENV", "/x"),
            ("OPENAI_API_KEY", "sk"),
            ("GITHUB_TOKEN", "t"),
            ("AWS_REGION", "eu"),
            ("DB_PASSWORD", "p"),
            ("SSH_AUTH_SOCK", "/run/a"),
            ("HOME", "/h"),
        ]);
        let f = filter(input, &EnvPolicy::default());
        assert_eq!(names(&f), ["PATH", "HOME"]);
        assert!(
            f.stripped
                .iter()
                .any(|(n, r)| n == "LD_PRELOAD" && *r == Stripped::Injection)
        );
        assert!(
            f.stripped
                .iter()
                .any(|(n, r)| n == "AWS_REGION" && *r == Stripped::Credential)
        );
    }

    #[test]
    fn allow_vars_keeps_named_ones_but_star_does_not_unlock_secrets() {
        let s = || Source::NonoState;
        let policy = EnvPolicy {
            allow_vars: vec![
                ("*".into(), s()),
                ("OPENAI_API_KEY".into(), s()),
                ("AWS_*".into(), s()),
            ],
            deny_vars: vec![("AWS_SECRET_ACCESS_KEY".into(), s())],
            set_vars: [("FOO".to_string(), ("bar".to_string(), s()))].into(),
        };
        let input = env(&[
            ("OPENAI_API_KEY", "sk"),
            ("AWS_REGION", "eu"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("GITHUB_TOKEN", "t"),
            ("FOO", "old"),
            ("X", "1"),
        ]);
        let f = filter(input, &policy);
        assert_eq!(names(&f), ["OPENAI_API_KEY", "AWS_REGION", "X", "FOO"]);
        assert_eq!(get(&f.vars, "FOO"), Some(OsStr::new("bar")));
    }

    #[test]
    fn non_empty_allow_vars_is_an_allowlist() {
        let policy = EnvPolicy {
            allow_vars: vec![("PATH".into(), Source::NonoState)],
            ..EnvPolicy::default()
        };
        let f = filter(env(&[("PATH", "/bin"), ("TERM", "xterm")]), &policy);
        assert_eq!(names(&f), ["PATH"]);
    }
}
