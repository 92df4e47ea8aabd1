//! Credentials inside a git configuration file.
//!
//! The `git_config` group grants `~/.gitconfig` read-only so that git works inside the
//! sandbox, but the file often holds a secret: a token in a URL (`url.https://TOKEN@github.com/.insteadOf`,
//! a remote's `url`), an `http.extraHeader` carrying `Authorization`, an inline
//! credential helper (`helper = "!f() { echo password=…; }; f"`), or a tool's own key
//! (`[github] token = …`). [`findings`] lists such lines so that a run can say what the
//! grant exposes, and [`sanitized`] gives the same file with those lines removed.

use crate::env::holds_credential_url;

/// One line of a git config that holds (or looks like it holds) a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number.
    pub line: usize,
    /// The setting, as `section.key` (or `section.subsection.key`), lower-cased, with
    /// the user information of any URL in it replaced by `***`.
    pub key: String,
}

/// The keys whose value is a secret, whatever section holds them.
const SECRET_KEYS: &[&str] = &[
    "token",
    "oauth-token",
    "oauthtoken",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api-key",
    "api_key",
    "accesstoken",
    "access-token",
];

/// Lines of `text` (a git config file) that hold credentials.
pub fn findings(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut section = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let rest = if line.starts_with('[') {
            match line.find(']') {
                Some(end) => {
                    section = section_name(&line[1..end]);
                    // The header itself names the secret (`[url "https://TOKEN@…"]`).
                    if holds_credential_url(section.as_bytes()) {
                        out.push(Finding {
                            line: index + 1,
                            key: redact(&section),
                        });
                        continue;
                    }
                    line[end + 1..].trim()
                }
                None => continue,
            }
        } else {
            line
        };
        if rest.is_empty() {
            continue;
        }
        let (key, value) = match rest.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => (rest.trim().to_ascii_lowercase(), ""),
        };
        let full = if section.is_empty() {
            key.clone()
        } else {
            format!("{section}.{key}")
        };
        if is_secret(&section, &key, value) {
            out.push(Finding {
                line: index + 1,
                key: redact(&full),
            });
        }
    }
    out
}

/// `text` without the lines [`findings`] reports (each replaced by a comment naming
/// what was removed, so line numbers hold).
pub fn sanitized(text: &str) -> String {
    let found = findings(text);
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match found.iter().find(|f| f.line == index + 1) {
            Some(_) => {
                // A line that also opens a section keeps the section, unless the
                // section's own name is the secret.
                let trimmed = line.trim_start();
                if trimmed.starts_with('[')
                    && let Some(end) = trimmed.find(']')
                    && !holds_credential_url(&trimmed.as_bytes()[..end])
                {
                    out.push_str(&trimmed[..=end]);
                    out.push(' ');
                }
                // The key's name may hold the secret too (a URL section): not echoed.
                out.push_str("# (a credential was removed here by nono)");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `text` with the user information of every URL (`user:pass@`) replaced by `***@`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        let end = rest.find(['/', '?', '#', ' ', '"']).unwrap_or(rest.len());
        if let Some(userinfo) = rest[..end].rfind('@') {
            out.push_str("***");
            rest = &rest[userinfo..];
        }
    }
    out.push_str(rest);
    out
}

/// `url "https://x@host/"` → `url.https://x@host/` (the subsection keeps its case).
fn section_name(header: &str) -> String {
    let header = header.trim();
    match header.split_once(char::is_whitespace) {
        Some((name, sub)) => {
            let sub = sub.trim().trim_matches('"');
            format!("{}.{sub}", name.to_ascii_lowercase())
        }
        None => header.to_ascii_lowercase(),
    }
}

fn is_secret(section: &str, key: &str, value: &str) -> bool {
    let value_lower = value.to_ascii_lowercase();
    // A URL with user information, in the value or in the section's name
    // (`[url "https://TOKEN@github.com/"] insteadOf = …`).
    if holds_credential_url(value.as_bytes()) || holds_credential_url(section.as_bytes()) {
        return true;
    }
    if SECRET_KEYS.contains(&key) {
        return true;
    }
    if key == "extraheader"
        && (value_lower.contains("authorization") || value_lower.contains("private-token"))
    {
        return true;
    }
    // An inline helper runs a shell snippet; one that prints a password or token is
    // the secret itself.
    if key == "helper"
        && value.trim_matches('"').starts_with('!')
        && (value_lower.contains("password") || value_lower.contains("token"))
    {
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"[user]
	name = Alice
	email = alice@example.com
[url "https://ghp_abc123@github.com/"]
	insteadOf = https://github.com/
[remote "origin"]
	url = https://alice:hunter2@git.example.com/repo.git
[http "https://gitlab.example.com"]
	extraHeader = "PRIVATE-TOKEN: glpat-xyz"
[http]
	extraheader = Authorization: Basic Zm9vOmJhcg==
[credential]
	helper = "!f() { echo username=a; echo password=s3cret; }; f"
[credential "https://example.com"]
	helper = store
[github]
	token = 0123456789
[core]
	editor = vim
[hub] oauthtoken = tok
"#;

    #[test]
    fn credentials_are_found_by_url_key_header_and_helper() {
        let found: Vec<(usize, String)> = findings(SAMPLE)
            .into_iter()
            .map(|f| (f.line, f.key))
            .collect();
        assert_eq!(
            found,
            [
                (4, "url.https://***@github.com/".to_string()),
                (5, "url.https://***@github.com/.insteadof".into()),
                (7, "remote.origin.url".into()),
                (9, "http.https://gitlab.example.com.extraheader".into()),
                (11, "http.extraheader".into()),
                (13, "credential.helper".into()),
                (17, "github.token".into()),
                (20, "hub.oauthtoken".into()),
            ]
        );
    }

    #[test]
    fn the_sanitized_copy_keeps_everything_else_and_the_line_numbers() {
        let clean = sanitized(SAMPLE);
        assert_eq!(clean.lines().count(), SAMPLE.lines().count());
        for secret in [
            "ghp_abc123",
            "hunter2",
            "glpat",
            "Zm9v",
            "s3cret",
            "0123456789",
            "tok\n",
        ] {
            assert!(!clean.contains(secret), "{secret} left in:\n{clean}");
        }
        for kept in ["name = Alice", "helper = store", "editor = vim", "[hub]"] {
            assert!(clean.contains(kept), "{kept} lost:\n{clean}");
        }
        assert!(findings(&clean).is_empty(), "{clean}");
    }
}
