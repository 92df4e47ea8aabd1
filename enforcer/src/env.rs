//! The environment a sandboxed command sees.
//!
//! Order of decisions for each inherited variable:
//! 1. `environment.deny_vars` strips it.
//! 2. When `environment.allow_vars` is not empty, only matching variables pass.
//! 3. Loader and interpreter injection variables (`LD_*`, `DYLD_*`, `PYTHONSTARTUP`,
//!    `NODE_OPTIONS`, `BASH_ENV`, …), credential-looking variables (a name holding a
//!    word such as `TOKEN`, `SECRET`, `PASSWORD`, `KEY`, `PAT`, `AUTH` in any case,
//!    bare or among others; `AWS_*`, `SSH_AUTH_SOCK`, …) and variables whose value holds
//!    a URL with credentials (`https://user:pass@host`) are stripped unless
//!    `allow_vars` names them (by exact name or a namespace prefix ending in `_*`; `*`
//!    or `A*` does not count).
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

/// Words of a variable's name (split at `_`, compared upper-cased) that mark it as a
/// credential: `TOKEN`, `GITHUB_TOKEN`, `TF_TOKEN_app_terraform_io`, `github_token`,
/// `API_KEY`, `GH_PAT`, `SENTRY_DSN`, `DOCKER_AUTH_CONFIG`, `NPM_CONFIG__AUTH`.
pub const CREDENTIAL_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "APIKEY",
    "KEY",
    "KEYS",
    "PAT",
    "DSN",
    "AUTH",
    "CREDENTIAL",
    "CREDENTIALS",
    "COOKIE",
    "COOKIES",
    "JWT",
    "BEARER",
];

/// Parts of a name that mark a credential even inside a word (`DBPASSWORD`,
/// `MYAPIKEY`, `CLIENTSECRET`).
pub const CREDENTIAL_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "APIKEY",
    "SECRET",
    "ACCESSTOKEN",
    "AUTHTOKEN",
    "AUTHKEY",
    "PRIVATEKEY",
];

/// Credential variables by prefix or exact name (upper-cased), beyond the words.
pub const CREDENTIAL_NAMES: &[&str] = &[
    "AWS_*",
    "AZURE_CLIENT_*",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GPG_AGENT_INFO",
    "SSHPASS",
    "DATABASE_URL",
    "PGPASSFILE",
    "MYSQL_PWD",
    "KUBECONFIG",
    "KRB5CCNAME",
    "VAULT_*",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_AUTH_*",
    "NETRC",
    "DOCKER_CONFIG",
];

/// Names that contain a credential word but are not credentials.
const NOT_CREDENTIALS: &[&str] = &[
    "XAUTHORITY",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "TOKENIZERS_PARALLELISM",
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
    /// Its value holds a URL with credentials (`https://user:pass@host`).
    CredentialUrl,
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

/// Does `name` look like a credential? Case does not matter; a bare word counts
/// (`TOKEN`, `password`), and so does a word anywhere in the name (`TF_TOKEN_x`).
pub fn is_credential(name: &[u8]) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_CREDENTIALS.iter().any(|n| upper == n.as_bytes()) {
        return false;
    }
    CREDENTIAL_NAMES.iter().any(|p| matches(p, &upper))
        || upper
            .split(|b| *b == b'_')
            .any(|word| CREDENTIAL_WORDS.iter().any(|w| word == w.as_bytes()))
        || CREDENTIAL_PARTS.iter().any(|part| {
            upper
                .windows(part.len())
                .any(|window| window == part.as_bytes())
        })
}

/// Does `value` hold a URL with credentials in it (`https://user:pass@host`,
/// `https://TOKEN@github.com`, `postgres://u:p@db/x`)? Anywhere in the value, so a
/// list of URLs counts too.
pub fn holds_credential_url(value: &[u8]) -> bool {
    let mut rest = value;
    while let Some(at) = find(rest, b"://") {
        let after = &rest[at + 3..];
        let authority_end = after
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b' ' | b',' | b';' | b'"'))
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        if let Some(userinfo_end) = authority.iter().rposition(|b| *b == b'@')
            && userinfo_end > 0
        {
            return true;
        }
        rest = after;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
        } else if holds_credential_url(value.as_bytes()) && !explicit(bytes) {
            Some(Stripped::CredentialUrl)
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
    fn credentials_are_found_in_any_case_bare_and_inside_names() {
        for name in [
            "TOKEN",
            "PASSWORD",
            "API_KEY",
            "SECRET_KEY",
            "github_token",
            "GH_PAT",
            "SSHPASS",
            "SENTRY_DSN",
            "DOCKER_AUTH_CONFIG",
            "TF_TOKEN_app_terraform_io",
            "NPM_CONFIG__AUTH",
            "npm_config__authToken",
            "DBPASSWORD",
            "OPENAI_API_KEY",
            "HF_TOKEN",
            "VAULT_ADDR",
            "AZURE_CLIENT_SECRET",
            "ClientSecret",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "KRB5CCNAME",
        ] {
            assert!(is_credential(name.as_bytes()), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "TERM",
            "XAUTHORITY",
            "GIT_AUTHOR_NAME",
            "TOKENIZERS_PARALLELISM",
            "KEYMAP",
            "LANG",
            "PWD",
            "OLDPWD",
            "SSH_TTY",
        ] {
            assert!(!is_credential(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn urls_with_credentials_are_stripped_by_value() {
        let input = env(&[
            ("HTTPS_PROXY", "http://alice:s3cret@proxy.example:3128"),
            ("http_proxy", "http://proxy.example:3128"),
            ("GIT_REMOTE", "https://ghp_abc@github.com/o/r.git"),
            ("MIRRORS", "https://a.example/x, ftp://u:p@b.example/"),
            ("EMAIL_LIKE", "mailto:someone@example.com"),
            ("PLAIN", "https://example.com/a@b"),
        ]);
        let f = filter(input, &EnvPolicy::default());
        assert_eq!(names(&f), ["http_proxy", "EMAIL_LIKE", "PLAIN"]);
        assert!(
            f.stripped
                .iter()
                .all(|(_, r)| *r == Stripped::CredentialUrl)
        );
        // Named on purpose, it passes.
        let policy = EnvPolicy {
            allow_vars: vec![("HTTPS_PROXY".into(), Source::NonoState)],
            ..EnvPolicy::default()
        };
        let f = filter(
            env(&[("HTTPS_PROXY", "http://a:b@p:1"), ("TOKEN", "t")]),
            &policy,
        );
        assert_eq!(names(&f), ["HTTPS_PROXY"]);
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
