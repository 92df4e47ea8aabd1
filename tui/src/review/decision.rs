//! Decisions: what the person said about an observation. The path arithmetic behind
//! widening, narrowing and editing a rule, and what may never be granted, is
//! [`nono_learn::grant`].
//!
//! A decision is keyed by what it is about: an observed path (its *anchor*), the
//! working directory, a group or a host. A path decision carries a rule that starts at
//! the suggested path and can be widened one directory at a time (AppArmor's
//! `aa-logprof` style) and narrowed back towards the anchor, never below it, so the
//! rule always covers what was observed. Nono profiles have no globs, so there is no
//! `*.ext` step: widening goes straight to the directory.

use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;

/// What a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKey {
    /// An observed path (or a directory of the tree).
    Path(PathBuf),
    /// `workdir.access`.
    Workdir,
    /// Including a built-in group.
    Group(String),
    /// A host name observed (the anchor; the rule may be a wildcard).
    Host(String),
}

/// Allowed, denied, or shaped but not yet decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Widened, narrowed or edited, not yet allowed or denied.
    Pending,
    /// Goes into the profile.
    Allow,
    /// Kept out of the profile (and carved out of broader grants).
    Deny,
}

/// A filesystem rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// The path granted (the anchor or one of its ancestors).
    pub path: PathBuf,
    /// A directory rule (covers everything below).
    pub dir: bool,
    /// The access granted.
    pub access: Access,
    /// Is the anchor a directory (decides the kind of the narrowest rule)?
    pub anchor_dir: bool,
    /// The denied path this rule reaches into, once the person typed the confirmation
    /// word: it goes into `filesystem.bypass_protection`.
    pub bypass: Option<PathBuf>,
}

impl PathRule {
    /// Does this rule reach `path`?
    pub fn covers(&self, path: &Path) -> bool {
        if self.dir {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }
}

/// The rule a decision stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A filesystem grant.
    Path(PathRule),
    /// `workdir.access`.
    Workdir(Access),
    /// `groups.include`.
    Group(String),
    /// `network.allow_domain` (a host or a `*.` wildcard).
    Host(String),
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, denied or pending.
    pub verdict: Verdict,
    /// The rule.
    pub rule: Rule,
}

impl Decision {
    /// The path rule, for path decisions.
    pub fn path_rule(&self) -> Option<&PathRule> {
        match &self.rule {
            Rule::Path(rule) => Some(rule),
            _ => None,
        }
    }
}
