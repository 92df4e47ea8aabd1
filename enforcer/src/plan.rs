//! From a capability set to concrete rules: symlinks resolved, kinds checked, and
//! denied paths carved out of broader grants.
//!
//! Landlock only ever *adds* access: a rule on a directory grants everything below it
//! and there is no way to subtract a subdirectory. So when a denied path lies inside
//! a granted directory (`--allow ~` with `~/.ssh` denied), the planner does not grant
//! the directory. It grants each entry of it instead, except the one leading to the
//! denied path, and descends along that one the same way ("sibling expansion"). The
//! result never contains a rule on, above, or below a denied path:
//!
//! * no rule's path is a denied path or inside one;
//! * no directory rule's path is an ancestor of a denied path;
//! * every rule lies inside the grant it implements (carving never widens).
//!
//! That invariant is property-tested below over random trees. The price is that new
//! entries created directly in a carved directory after the sandbox starts are not
//! covered (there is no rule on the directory itself), and the number of rules is
//! bounded: a carve that would need more than [`MAX_CARVED_RULES`] rules is refused
//! with an error naming the grant and the denial, never silently widened.
//!
//! Symlinks: every path is canonicalized before it is compared. An entry met while
//! carving that is a symlink gets no rule: a rule placed on a symlink applies to its
//! target, which may be outside the grant or a denied path, while the uncarved grant
//! would never have reached through it (Landlock checks the resolved path).
//!
//! Hard links to a denied file from inside a granted tree cannot be detected by path
//! and are outside what a path-based sandbox can express (docs/security-model.md).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::capability::{Access, CapabilitySet, GrantFlag, PathKind, Source};

/// At most this many rules may come out of carving one grant.
pub const MAX_CARVED_RULES: usize = 4096;

/// What a path is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// Anything else (regular file, device, socket, fifo).
    File,
}

/// The filesystem as the planner sees it. [`RealFs`] is the real one; tests use an
/// in-memory tree.
pub trait FsView {
    /// Resolves every symlink; fails if the path does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The kind of an existing (canonical) path.
    fn kind(&self, path: &Path) -> io::Result<EntryKind>;
    /// The names of a directory's entries.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FsView for RealFs {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let meta = std::fs::metadata(path)?;
        Ok(if meta.is_dir() {
            EntryKind::Dir
        } else {
            EntryKind::File
        })
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }
}

/// Canonicalizes a path that may not exist: the longest existing prefix is resolved
/// and the rest appended.
pub fn canonicalize_lenient(fs: &impl FsView, path: &Path) -> PathBuf {
    if let Ok(p) = fs.canonicalize(path) {
        return p;
    }
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    while let Some(parent) = current.parent().map(Path::to_path_buf) {
        if let Some(name) = current.file_name() {
            rest.push(name.to_os_string());
        }
        if let Ok(mut resolved) = fs.canonicalize(&parent) {
            for name in rest.iter().rev() {
                resolved.push(name);
            }
            return resolved;
        }
        current = parent;
    }
    path.to_path_buf()
}

/// One Landlock rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Canonical path.
    pub path: PathBuf,
    /// Directory or file.
    pub kind: EntryKind,
    /// Access granted.
    pub access: Access,
    /// The grant it implements.
    pub source: Source,
    /// When the rule is one of the entries a grant was split into: the granted
    /// directory and the denied path carved out of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carved: Option<Carve>,
}

/// Why a rule is a sibling rather than the grant itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Carve {
    /// The directory the grant named.
    pub granted: PathBuf,
    /// A denied path inside it (the first one, when there are several).
    pub denied: PathBuf,
}

/// A denied path, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedDeny {
    /// The path as expanded.
    pub path: PathBuf,
    /// Its canonical form (the longest existing prefix resolved).
    pub canonical: PathBuf,
    /// Where the denial came from.
    pub source: Source,
}

/// A grant that produced no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The path as expanded.
    pub path: PathBuf,
    /// The grant's access.
    pub access: Access,
    /// Where the grant came from.
    pub source: Source,
    /// Why it produced no rule.
    pub reason: SkipReason,
}

/// Why a grant produced no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SkipReason {
    /// The path does not exist (profile and group grants only).
    Missing,
    /// The path is a denied path or inside one.
    Denied {
        /// The denied path.
        denied: PathBuf,
        /// Where the denial came from.
        deny_source: Source,
    },
}

/// The rules a sandbox is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Landlock rules.
    pub rules: Vec<Rule>,
    /// Denied paths (kept out of every rule).
    pub denies: Vec<PlannedDeny>,
    /// Grants that produced no rule, and why.
    pub skipped: Vec<Skipped>,
}

/// Planning failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A command-line grant names a path that does not exist.
    #[error("{source_desc}: {} does not exist{hint}", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
        /// The grant.
        source_desc: String,
        /// What to do instead.
        hint: String,
    },
    /// A directory grant names a file, or a file grant a directory.
    #[error("{source_desc}: {} is {what}; use {suggestion}", path.display())]
    WrongKind {
        /// The path.
        path: PathBuf,
        /// The grant.
        source_desc: String,
        /// "a file" or "a directory".
        what: &'static str,
        /// The flag or key to use instead, with the path.
        suggestion: String,
    },
    /// Carving a denied path out of a grant would need too many rules.
    #[error(
        "cannot grant {} ({grant_source}) without exposing {} ({deny_source}): carving it out \
         would need more than {limit} rules; grant narrower directories instead",
        grant.display(),
        denied.display()
    )]
    TooManyRules {
        /// The granted directory.
        grant: PathBuf,
        /// Where the grant came from.
        grant_source: String,
        /// The denied path.
        denied: PathBuf,
        /// Where the denial came from.
        deny_source: String,
        /// The limit.
        limit: usize,
    },
    /// A directory could not be listed while carving.
    #[error("cannot list {} while carving denied paths out of a grant: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Plans the rules for `caps` against `fs`.
pub fn plan(caps: &CapabilitySet, fs: &impl FsView) -> Result<Plan, PlanError> {
    let denies: Vec<PlannedDeny> = caps
        .denies
        .iter()
        .map(|d| PlannedDeny {
            path: d.path.clone(),
            canonical: canonicalize_lenient(fs, &d.path),
            source: d.source.clone(),
        })
        .collect();
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for grant in &caps.grants {
        let canonical = match fs.canonicalize(&grant.path) {
            Ok(p) => p,
            Err(_) if grant.strict => {
                let hint = match grant.kind {
                    PathKind::File => format!(
                        "; to let the command create it, grant its directory (--allow {})",
                        grant.path.parent().unwrap_or(Path::new("/")).display()
                    ),
                    _ => String::new(),
                };
                return Err(PlanError::Missing {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    hint,
                });
            }
            Err(_) => {
                skipped.push(Skipped {
                    path: grant.path.clone(),
                    access: grant.access,
                    source: grant.source.clone(),
                    reason: SkipReason::Missing,
                });
                continue;
            }
        };
        let kind = fs.kind(&canonical).map_err(|source| PlanError::Io {
            path: canonical.clone(),
            source,
        })?;
        check_kind(grant, kind)?;
        if let Some(deny) = denies.iter().find(|d| canonical.starts_with(&d.canonical)) {
            skipped.push(Skipped {
                path: grant.path.clone(),
                access: grant.access,
                source: grant.source.clone(),
                reason: SkipReason::Denied {
                    denied: deny.path.clone(),
                    deny_source: deny.source.clone(),
                },
            });
            continue;
        }
        let inside: Vec<&PlannedDeny> = denies
            .iter()
            .filter(|d| d.canonical.starts_with(&canonical) && d.canonical != canonical)
            .collect();
        if inside.is_empty() || kind == EntryKind::File {
            rules.push(Rule {
                path: canonical,
                kind,
                access: grant.access,
                source: grant.source.clone(),
                carved: None,
            });
            continue;
        }
        let carve = Carve {
            granted: canonical.clone(),
            denied: inside[0].path.clone(),
        };
        let mut carver = Carver {
            fs,
            access: grant.access,
            source: &grant.source,
            carve,
            out: Vec::new(),
        };
        carver.carve(&canonical, &inside).map_err(|e| match e {
            CarveError::TooMany => PlanError::TooManyRules {
                grant: grant.path.clone(),
                grant_source: grant.source.to_string(),
                denied: inside[0].path.clone(),
                deny_source: inside[0].source.to_string(),
                limit: MAX_CARVED_RULES,
            },
            CarveError::Io(path, source) => PlanError::Io { path, source },
        })?;
        rules.extend(carver.out);
    }
    Ok(Plan {
        rules,
        denies,
        skipped,
    })
}

fn check_kind(grant: &crate::capability::PathGrant, kind: EntryKind) -> Result<(), PlanError> {
    let mismatch = match (grant.kind, kind) {
        (PathKind::Dir, EntryKind::File) => Some("a file"),
        (PathKind::File, EntryKind::Dir) => Some("a directory"),
        _ => None,
    };
    let Some(what) = mismatch else { return Ok(()) };
    let suggestion = match &grant.source {
        Source::Flag { value, .. } => {
            let flag = GrantFlag::for_access(
                grant.access,
                if kind == EntryKind::Dir {
                    PathKind::Dir
                } else {
                    PathKind::File
                },
            );
            format!("{} {value}", flag.flag())
        }
        _ => {
            let key = match (grant.access, kind) {
                (Access::Read, EntryKind::Dir) => "filesystem.read",
                (Access::Write, EntryKind::Dir) => "filesystem.write",
                (Access::ReadWrite, EntryKind::Dir) => "filesystem.allow",
                (Access::Read, EntryKind::File) => "filesystem.read_file",
                (Access::Write, EntryKind::File) => "filesystem.write_file",
                (Access::ReadWrite, EntryKind::File) => "filesystem.allow_file",
            };
            format!("`{key}`")
        }
    };
    Err(PlanError::WrongKind {
        path: grant.path.clone(),
        source_desc: grant.source.to_string(),
        what,
        suggestion,
    })
}

enum CarveError {
    TooMany,
    Io(PathBuf, io::Error),
}

struct Carver<'a, F: FsView> {
    fs: &'a F,
    access: Access,
    source: &'a Source,
    carve: Carve,
    out: Vec<Rule>,
}

impl<F: FsView> Carver<'_, F> {
    fn push(&mut self, path: PathBuf, kind: EntryKind) -> Result<(), CarveError> {
        if self.out.len() >= MAX_CARVED_RULES {
            return Err(CarveError::TooMany);
        }
        self.out.push(Rule {
            path,
            kind,
            access: self.access,
            source: self.source.clone(),
            carved: Some(self.carve.clone()),
        });
        Ok(())
    }

    /// Grants every entry of `dir` except those on the way to a denied path in
    /// `inside` (all strictly below `dir`), descending along those.
    fn carve(&mut self, dir: &Path, inside: &[&PlannedDeny]) -> Result<(), CarveError> {
        let mut names = self
            .fs
            .read_dir(dir)
            .map_err(|e| CarveError::Io(dir.to_path_buf(), e))?;
        names.sort();
        for name in names {
            let child = dir.join(&name);
            let below: Vec<&PlannedDeny> = inside
                .iter()
                .copied()
                .filter(|d| d.canonical.starts_with(&child))
                .collect();
            if below.iter().any(|d| d.canonical == child) {
                continue; // the denied entry itself
            }
            // A dangling symlink or a vanished entry cannot carry a rule.
            let Ok(target) = self.fs.canonicalize(&child) else {
                continue;
            };
            if target != child {
                // A symlink. A rule on it would apply to its target, which may lie
                // outside the grant: a single rule on the granted directory never
                // reaches through a symlink (Landlock checks the resolved path), so
                // neither may carving. A target inside the grant gets its own rule.
                continue;
            }
            let kind = self
                .fs
                .kind(&child)
                .map_err(|e| CarveError::Io(child.clone(), e))?;
            if below.is_empty() {
                self.push(child, kind)?;
            } else if kind == EntryKind::Dir {
                self.carve(&child, &below)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
