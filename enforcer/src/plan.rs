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
use std::sync::Arc;

use serde::Serialize;

use crate::capability::{
    Access, CapabilitySet, GrantFlag, OverrideKind, PathKind, Source, Suggestion,
};

pub mod cache;
mod carve;
mod fs;
mod mountinfo;

use carve::{CarveError, Carver};
pub use fs::{CachingFs, FsView, RealFs, canonicalize_lenient, is_within};
use fs::{Node, lookup};
pub(crate) use mountinfo::read_mountinfo;
use mountinfo::{bind_mounts_in, mount_points_in};
pub use mountinfo::{bind_mounts_present, read_mount_points};

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

/// One Landlock rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Canonical path.
    pub path: PathBuf,
    /// Directory or file.
    pub kind: EntryKind,
    /// Access granted.
    pub access: Access,
    /// The grant it implements (shared by every rule carved from one grant).
    pub source: Arc<Source>,
    /// When the rule is one of the entries a grant was split into: the granted
    /// directory and the denied path carved out of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carved: Option<Arc<Carve>>,
    /// Only listing the directory itself (Landlock's `READ_DIR`): a carved directory
    /// keeps it so that `ls DIR` works. `READ_DIR` reaches every directory below, so
    /// it is given only where no denied directory exists below (see `Carver::carve`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub list_only: bool,
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
    /// Denied paths (kept out of every rule, or hidden by a mask).
    pub denies: Vec<PlannedDeny>,
    /// Grants that produced no rule, and why.
    pub skipped: Vec<Skipped>,
    /// Denied paths inside read-only system grants that the sandbox must hide with a
    /// mount (see [`PlanOptions::mask_system_denies`]); empty unless asked for.
    pub masks: Vec<Mask>,
}

/// A denied path hidden by a mount instead of carved out of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mask {
    /// The canonical path to cover.
    pub path: PathBuf,
    /// A directory (covered by an empty tmpfs) or a file (by an empty file), both
    /// with mode 000.
    pub dir: bool,
    /// The denial.
    pub source: Source,
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The sandbox will have a mount namespace of its own, so denied paths inside a
    /// **read-only** grant outside `home` can be hidden by mounts instead of carving
    /// the grant into its entries (which costs a rule per entry and makes the
    /// directory unlistable). Existing denied paths become [`Plan::masks`]; a denied
    /// path that does not exist needs nothing — the grant is read-only, so the sandbox
    /// cannot create it. (Something outside the sandbox could create it during the
    /// run, which is why trees in or above `home`, where credentials appear, are
    /// always carved.)
    pub mask_system_denies: bool,
    /// `$HOME`, for [`PlanOptions::mask_system_denies`].
    pub home: Option<PathBuf>,
    /// The sandbox will have a mount namespace of its own and every grant may keep
    /// its denied paths hidden by mounts (`nono learn`'s safety net): every existing
    /// denied path inside any grant, read-only or writable, in `$HOME` or not, becomes
    /// a [`Plan::masks`] entry, so no directory on the way to one needs carving. A
    /// denied path that does not exist cannot be hidden: the grant is still carved
    /// around it (its nearest existing directory, and every directory above that,
    /// get no rule, so nothing can be created there).
    pub mask_all_denies: bool,
}

/// Planning failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A command-line grant names a path that does not exist.
    #[error(
        "{source_desc}: {} does not exist{}",
        path.display(),
        match create_in {
            Some(dir) => format!(
                "; to let the command create it, grant its directory ({})",
                Suggestion::grant(GrantFlag::Allow, dir)
            ),
            None => String::new(),
        }
    )]
    Missing {
        /// The path.
        path: PathBuf,
        /// The grant.
        source_desc: String,
        /// For a file: the directory whose grant would let the command create it.
        create_in: Option<PathBuf>,
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
        /// The grant or key to use instead.
        suggestion: Suggestion,
    },
    /// A grant's path passes through a symbolic link that lies inside a directory
    /// this sandbox may write: an earlier run could have planted it (replaced a
    /// granted directory with a link to `$HOME`, say), so it is not followed.
    #[error(
        "{source_desc}: {} passes through the symbolic link {} (to {}), which is inside \
         {}, a directory the sandbox may write; a sandboxed command could have planted it. \
         Grant the link's target by its own path, or replace the link with a directory",
        path.display(),
        link.display(),
        target.display(),
        writable.display()
    )]
    PlantableSymlink {
        /// The grant's path.
        path: PathBuf,
        /// Where the grant came from.
        source_desc: String,
        /// The symbolic link (its parent resolved).
        link: PathBuf,
        /// Where it points (resolved).
        target: PathBuf,
        /// The write-granted directory that holds it.
        writable: PathBuf,
    },
    /// A profile or group grant reaches, through a symbolic link, a directory that
    /// holds denied paths (`~/.cache/pip` made a link to `~`): the link, not the
    /// profile, would decide that a home full of secrets is granted.
    #[error(
        "{source_desc}: {} leads through the symbolic link {} to {}, which holds the denied \
         path {}; a link that widens a profile's grant onto denied paths is not followed. \
         Remove the link (or make it point elsewhere), or grant {} on purpose on the \
         command line",
        path.display(),
        link.display(),
        target.display(),
        denied.display(),
        target.display()
    )]
    SymlinkOntoDenied {
        /// The grant's path.
        path: PathBuf,
        /// Where the grant came from.
        source_desc: String,
        /// The first symbolic link on the way.
        link: PathBuf,
        /// What the grant resolves to.
        target: PathBuf,
        /// A denied path inside it.
        denied: PathBuf,
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
    #[error("cannot list {} while carving denied paths out of a grant: {error}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
}

/// Plans the rules for `caps` against `fs`.
pub fn plan(caps: &CapabilitySet, fs: &impl FsView) -> Result<Plan, PlanError> {
    plan_with(caps, fs, &PlanOptions::default())
}

/// Refuses a grant whose path goes through a symbolic link inside a directory that a
/// write grant of the same sandbox covers: the sandbox (this run or an earlier one)
/// could have put it there to point the grant elsewhere (`~/.cache/pip` replaced by a
/// link to `~`). A write grant of `/` itself (learn's safety net) is left out: every
/// path is below it, so the check would refuse every symlinked system path.
fn refuse_plantable_symlinks(caps: &CapabilitySet, fs: &impl FsView) -> Result<(), PlanError> {
    let writable: Vec<PathBuf> = caps
        .grants
        .iter()
        .filter(|g| g.access != Access::Read && g.kind != PathKind::File)
        .filter_map(|g| fs.canonicalize(&g.path).ok())
        .filter(|p| p != Path::new("/") && fs.kind(p).is_ok_and(|k| k == EntryKind::Dir))
        .collect();
    let mut denied: Option<Vec<(PathBuf, PathBuf)>> = None;
    for grant in &caps.grants {
        let mut first_link: Option<PathBuf> = None;
        let mut complete = true;
        let mut plantable = None;
        // Each prefix of the path as written: a symlink is a prefix whose resolution
        // differs from its resolved parent joined with its name.
        let mut parent = PathBuf::from("/");
        let mut written = PathBuf::new();
        for component in grant.path.components() {
            written.push(component);
            let std::path::Component::Normal(name) = component else {
                if let Ok(p) = fs.canonicalize(&written) {
                    parent = p;
                }
                continue;
            };
            let Ok(resolved) = fs.canonicalize(&written) else {
                complete = false;
                break;
            };
            let at = parent.join(name);
            if resolved != at && first_link.is_none() {
                first_link = Some(at.clone());
            }
            if resolved != at
                && plantable.is_none()
                && let Some(dir) = writable.iter().find(|w| is_within(&at, w) && at != **w)
            {
                plantable = Some(PlanError::PlantableSymlink {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    link: at,
                    target: resolved.clone(),
                    writable: dir.clone(),
                });
            }
            parent = resolved;
        }
        if let Some(link) = first_link
            && complete
            && !grant.strict
        {
            let denied = denied.get_or_insert_with(|| {
                caps.denies
                    .iter()
                    .map(|d| (d.path.clone(), canonicalize_lenient(fs, &d.path)))
                    .collect()
            });
            if let Some((path, _)) = denied.iter().find(|(_, c)| is_within(c, &parent)) {
                return Err(PlanError::SymlinkOntoDenied {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    link,
                    target: parent,
                    denied: path.clone(),
                });
            }
        }
        if let Some(error) = plantable {
            return Err(error);
        }
    }
    Ok(())
}

/// Plans the rules for `caps` against `fs`, with options.
pub fn plan_with(
    caps: &CapabilitySet,
    fs: &impl FsView,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    refuse_plantable_symlinks(caps, fs)?;
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
    let mut masks: Vec<Mask> = Vec::new();
    let mut aliases: Vec<PlannedDeny> = Vec::new();
    let alias_index = if fs.aliases_possible() {
        AliasIndex::new(fs, &denies)
    } else {
        AliasIndex {
            denied: Default::default(),
            ancestors: Default::default(),
        }
    };
    let mounts = if alias_index.ancestors.is_empty() && alias_index.denied.is_empty() {
        Vec::new()
    } else {
        fs.mount_points()
    };
    for grant in &caps.grants {
        let canonical = match fs.canonicalize(&grant.path) {
            Ok(p) => p,
            Err(_) if grant.strict => {
                let create_in = match grant.kind {
                    PathKind::File => {
                        Some(grant.path.parent().unwrap_or(Path::new("/")).to_path_buf())
                    }
                    _ => None,
                };
                return Err(PlanError::Missing {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    create_in,
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
            error: source,
        })?;
        check_kind(grant, kind)?;
        let aliased_within = alias_index.within(fs, &canonical, &denies);
        if let Some(deny) = denies
            .iter()
            .find(|d| is_within(&canonical, &d.canonical))
            .or(aliased_within)
        {
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
        // Denied paths below the grant, by path, and by identity: a bind mount can make
        // the granted directory, or a mount point below it, another name for a denied
        // path or one of its ancestors.
        let mut found = alias_index.below(fs, &canonical, &denies);
        if kind == EntryKind::Dir {
            for mount in mounts
                .iter()
                .filter(|m| is_within(m, &canonical) && **m != canonical)
            {
                if let Some(deny) = alias_index.within(fs, mount, &denies)
                    && !is_within(mount, &deny.canonical)
                {
                    found.push(PlannedDeny {
                        path: deny.path.clone(),
                        canonical: mount.clone(),
                        source: deny.source.clone(),
                    });
                }
                found.extend(alias_index.below(fs, mount, &denies));
            }
        }
        for alias in found {
            if !aliases
                .iter()
                .any(|a: &PlannedDeny| a.canonical == alias.canonical)
            {
                aliases.push(alias);
            }
        }
        let inside: Vec<&PlannedDeny> = denies
            .iter()
            .chain(aliases.iter())
            .filter(|d| is_within(&d.canonical, &canonical) && d.canonical != canonical)
            .collect();
        if options.mask_all_denies && !inside.is_empty() && kind == EntryKind::Dir {
            // Hide what exists; carve only around what does not.
            let mut missing = Vec::new();
            for &deny in &inside {
                match fs.kind(&deny.canonical) {
                    Ok(kind) => {
                        if !masks.iter().any(|m| m.path == deny.canonical) {
                            masks.push(Mask {
                                path: deny.canonical.clone(),
                                dir: kind == EntryKind::Dir,
                                source: deny.source.clone(),
                            });
                        }
                    }
                    Err(_) => missing.push(deny),
                }
            }
            if missing.is_empty() {
                rules.push(Rule {
                    path: canonical,
                    kind,
                    access: grant.access,
                    source: Arc::new(grant.source.clone()),
                    carved: None,
                    list_only: false,
                });
                continue;
            }
            // A hidden path met while carving gets no rule of its own either.
            let hidden: Vec<PathBuf> = masks.iter().map(|m| m.path.clone()).collect();
            carve_grant(fs, grant, canonical, &missing, &hidden, &mut rules)?;
            continue;
        }
        let maskable = options.mask_system_denies
            && grant.access == Access::Read
            && options
                .home
                .as_ref()
                .is_none_or(|home| !is_within(&canonical, home) && !is_within(home, &canonical));
        if maskable && !inside.is_empty() && kind == EntryKind::Dir {
            for deny in &inside {
                // Only what exists can (and needs to) be hidden: see PlanOptions.
                let Ok(kind) = fs.kind(&deny.canonical) else {
                    continue;
                };
                if !masks.iter().any(|m| m.path == deny.canonical) {
                    masks.push(Mask {
                        path: deny.canonical.clone(),
                        dir: kind == EntryKind::Dir,
                        source: deny.source.clone(),
                    });
                }
            }
        }
        // Masks are a second layer only: a mount is dropped when something outside
        // the sandbox renames over or unlinks what it covers (`passwd` rewriting
        // /etc/shadow), so every denial is also carved, and holds in Landlock alone.
        if inside.is_empty() || kind == EntryKind::File {
            rules.push(Rule {
                path: canonical,
                kind,
                access: grant.access,
                source: Arc::new(grant.source.clone()),
                carved: None,
                list_only: false,
            });
            continue;
        }
        carve_grant(fs, grant, canonical, &inside, &[], &mut rules)?;
    }
    // Aliased denials are part of the plan, so `nono why` sees them too.
    let mut denies = denies;
    denies.extend(aliases);
    masks.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        masks,
        rules,
        denies,
        skipped,
    })
}

/// Carves the denied paths `inside` (all strictly below it) out of the directory
/// grant `canonical`, adding the rules to `rules`.
fn carve_grant(
    fs: &impl FsView,
    grant: &crate::capability::PathGrant,
    canonical: PathBuf,
    inside: &[&PlannedDeny],
    hidden: &[PathBuf],
    rules: &mut Vec<Rule>,
) -> Result<(), PlanError> {
    let carve = Arc::new(Carve {
        granted: canonical.clone(),
        denied: inside[0].path.clone(),
    });
    let mut carver = Carver {
        fs,
        access: grant.access,
        source: Arc::new(grant.source.clone()),
        carve,
        hidden,
        out: Vec::new(),
    };
    carver.carve(&canonical, inside).map_err(|e| match e {
        CarveError::TooMany => PlanError::TooManyRules {
            grant: grant.path.clone(),
            grant_source: grant.source.to_string(),
            denied: inside[0].path.clone(),
            deny_source: inside[0].source.to_string(),
            limit: MAX_CARVED_RULES,
        },
        CarveError::Io(path, source) => PlanError::Io {
            path,
            error: source,
        },
    })?;
    rules.extend(carver.out);
    Ok(())
}

/// Identities of the denied paths and their ancestors, to see through bind mounts
/// (one directory reachable under several paths).
struct AliasIndex {
    /// Identity of an existing denied path → its index.
    denied: std::collections::HashMap<(u64, u64), usize>,
    /// Identity of an existing ancestor of a denied path → (deny index, ancestor path).
    ancestors: std::collections::HashMap<(u64, u64), Vec<(usize, PathBuf)>>,
}

impl AliasIndex {
    fn new(fs: &impl FsView, denies: &[PlannedDeny]) -> Self {
        let mut index = AliasIndex {
            denied: Default::default(),
            ancestors: Default::default(),
        };
        for (i, deny) in denies.iter().enumerate() {
            for ancestor in deny.canonical.ancestors() {
                let Some(id) = fs.identity(ancestor) else {
                    continue;
                };
                if ancestor == deny.canonical {
                    index.denied.insert(id, i);
                } else {
                    index
                        .ancestors
                        .entry(id)
                        .or_default()
                        .push((i, ancestor.to_path_buf()));
                }
            }
        }
        index
    }

    /// A denial that `granted` lies inside by identity (the granted path or one of its
    /// ancestors is a denied directory under another name).
    fn within<'a>(
        &self,
        fs: &impl FsView,
        granted: &Path,
        denies: &'a [PlannedDeny],
    ) -> Option<&'a PlannedDeny> {
        if self.denied.is_empty() {
            return None;
        }
        granted.ancestors().find_map(|a| {
            fs.identity(a)
                .and_then(|id| self.denied.get(&id))
                .map(|i| &denies[*i])
        })
    }

    /// Denials below `granted` by identity but not by path, re-expressed under it.
    fn below(&self, fs: &impl FsView, granted: &Path, denies: &[PlannedDeny]) -> Vec<PlannedDeny> {
        let Some(hits) = fs.identity(granted).and_then(|id| self.ancestors.get(&id)) else {
            return Vec::new();
        };
        hits.iter()
            .filter(|(i, _)| !is_within(&denies[*i].canonical, granted))
            .filter_map(|(i, ancestor)| {
                let deny = &denies[*i];
                let rest = deny.canonical.strip_prefix(ancestor).ok()?;
                Some(PlannedDeny {
                    path: deny.path.clone(),
                    canonical: granted.join(rest),
                    source: deny.source.clone(),
                })
            })
            .collect()
    }
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
            Suggestion::Override {
                what: OverrideKind::Grant(flag),
                value: value.clone(),
            }
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
            Suggestion::ProfileKey { key }
        }
    };
    Err(PlanError::WrongKind {
        path: grant.path.clone(),
        source_desc: grant.source.to_string(),
        what,
        suggestion,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod masking_tests;
