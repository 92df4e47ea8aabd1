//! How the command line spells what the libraries describe: an override of some kind
//! is a flag here, a suggestion is a flag and its value. The libraries never hold
//! these words (a binding spells the same overrides its own way).

use nono_enforcer::capability::{GrantFlag, OverrideKind, Suggestion};

/// The flag of a grant kind.
pub fn grant(flag: GrantFlag) -> &'static str {
    match flag {
        GrantFlag::Allow => "--allow",
        GrantFlag::Read => "--read",
        GrantFlag::Write => "--write",
        GrantFlag::AllowFile => "--allow-file",
        GrantFlag::ReadFile => "--read-file",
        GrantFlag::WriteFile => "--write-file",
    }
}

/// The flag of an override ([`nono_enforcer::Overrides::spelling`] for the command
/// line).
pub fn spelling(kind: OverrideKind) -> &'static str {
    match kind {
        OverrideKind::Grant(flag) => grant(flag),
        OverrideKind::AllowCwd => "--allow-cwd",
        OverrideKind::BlockNetwork => "--block-network",
        OverrideKind::AllowNetwork => "--allow-net",
        OverrideKind::NetworkProfile => "--network-profile",
        OverrideKind::AllowDomain => "--allow-domain",
        OverrideKind::Credential => "--credential",
        other => other.name(),
    }
}

/// A suggestion as the flag (and value) to add, or the profile key.
pub fn suggestion(suggestion: &Suggestion) -> String {
    suggestion.render(spelling)
}
