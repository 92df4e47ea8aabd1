//! Suggested rules, each with its reason.
//!
//! From the model's successful accesses (failed probes are listed, never suggested):
//! 1. a path inside a denied path is **sensitive**: shown, never suggested;
//! 2. a path inside the working directory becomes one `workdir.access` suggestion;
//! 3. a path already granted by the base profile or a group it includes is
//!    **covered** (no rule needed);
//! 4. a path a built-in group would grant suggests **including that group**;
//! 5. anything else becomes a grant: the file itself, or its directory when the
//!    command created or removed entries there, or when it read many siblings
//!    (collapse);
//! 6. a path created during the trace (it will not exist when the command starts
//!    again), and a file with a random name below a temporary directory, is never a
//!    rule: what it needed goes to the nearest lasting directory above it (see
//!    [`Place`](place::Place)), so a directory where files were created gets the
//!    union of what was done to them (`mkstemp`'s read-write files make `/tmp`
//!    read-write). `/` and
//!    `$HOME` are never granted whole: a lasting entry created directly in them is
//!    suggested as a single file, a temporary there gets no rule and is told by
//!    [`unnamed_temporaries`].
//!
//! Host names (from DNS and the proxy) become `network.allow_domain` suggestions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use serde::Serialize;

use super::model::{LearnModel, PathNode, path_order};

use collapse::{collapse, listed};
use index::{Index, covers};
use place::Lasting;
use sort::{Buckets, PARALLEL_FROM, sort_all};

mod collapse;
mod index;
mod place;
mod sort;

pub use place::{NotGranted, random_name, unnamed_temporaries};

/// Files read in one directory before the directory is suggested instead.
pub const COLLAPSE_SIBLINGS: usize = 4;

/// Observed paths a suggestion lists.
const MAX_LISTED: usize = 32;

/// What a suggestion is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SuggestionKind {
    /// A new filesystem rule.
    Grant,
    /// Already granted by the base profile or an included group: no rule needed.
    Covered {
        /// The group, or `base profile`.
        by: String,
    },
    /// A built-in group the base profile does not include would grant it.
    IncludeGroup {
        /// The group.
        group: String,
    },
    /// Inside the working directory: `workdir.access`.
    Workdir,
    /// A denied path: listed, never suggested.
    Sensitive {
        /// What denies it.
        label: String,
    },
    /// A host name for `network.allow_domain`.
    Host,
}

/// One suggested rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// What it is.
    #[serde(flatten)]
    pub kind: SuggestionKind,
    /// The path it grants (absolute), for filesystem suggestions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The rule as written in a profile (`$HOME/…`, a host name, a group name).
    pub rule: String,
    /// A directory rule (covers what is below) rather than a single file.
    pub dir: bool,
    /// The access it grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Why, for people.
    pub reason: String,
    /// May it be approved without a person looking (used by `--output`)?
    pub safe: bool,
    /// Observed paths behind it (at most 32).
    pub observed: Vec<PathBuf>,
}

/// Directories whose write grant would let a command change the system.
const SYSTEM_DIRS: &[&str] = &[
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/opt", "/var/lib",
    "/root",
];

/// A path as a profile rule: `$HOME/…` below the home directory. A `$` in the path
/// itself is written `$$`, so that expansion gives the path back.
pub fn display(path: &Path, home: &Path) -> String {
    let escape = |text: String| text.replace('$', "$$");
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "$HOME".to_string(),
        Ok(rest) => format!("$HOME/{}", escape(rest.display().to_string())),
        Err(_) => escape(path.display().to_string()),
    }
}

/// Is `path` granted `access` by the base profile or a group it includes? Returns
/// what grants it (`base profile` or ``group `NAME` ``).
pub fn covered_by(ctx: &super::model::LearnContext, path: &Path, access: Access) -> Option<String> {
    if ctx.base_grants.iter().any(|g| covers(g, path, access)) {
        return Some("base profile".into());
    }
    ctx.groups
        .iter()
        .find(|g| g.included && g.grants.iter().any(|c| covers(c, path, access)))
        .map(|g| format!("group `{}`", g.name))
}

/// The suggestions for everything the model has seen, in a stable order: grants,
/// groups to include, the working directory, hosts, then covered and sensitive paths.
pub fn suggest(model: &LearnModel) -> Vec<Suggestion> {
    suggest_with(model, |_, _| {})
}

/// [`suggest`], also telling `on_observed` which suggestion (by index) each observed
/// path belongs to — every path, not only the first 32 a suggestion lists. Paths that
/// need no grant (lookups, failed probes) belong to none.
pub fn suggest_with(model: &LearnModel, on_observed: impl FnMut(&Path, usize)) -> Vec<Suggestion> {
    suggest_split(model, on_observed, PARALLEL_FROM)
}

/// [`suggest_with`], on two threads from `parallel_from` observed paths.
fn suggest_split(
    model: &LearnModel,
    mut on_observed: impl FnMut(&Path, usize),
    parallel_from: usize,
) -> Vec<Suggestion> {
    let ctx = &model.ctx;
    let home = ctx.home.as_path();
    let index = Index::new(ctx);
    // Every path is looked up in the index (a walk up its ancestors): on two threads
    // for a big trace (see `sort_all`).
    let files: Vec<(&PathBuf, &PathNode)> = model.files.unordered().collect();
    let lasting = Lasting::new(files.iter().copied(), ctx);
    let Buckets {
        mut sensitive,
        workdir,
        covered,
        include,
        candidates,
    } = sort_all(&files, model, &lasting, &index, parallel_from);

    for observed in sensitive.values_mut() {
        observed.sort_unstable_by(|a, b| path_order(a, b));
    }
    let covered: BTreeMap<String, Vec<&PathBuf>> = covered
        .into_iter()
        .map(|(by, observed)| {
            let by = match by {
                None => "base profile".to_owned(),
                Some(g) => format!("group `{}`", ctx.groups[g].name),
            };
            (by, observed)
        })
        .collect();
    let candidates = collapse(candidates, home, ctx);
    let mut out: Vec<Suggestion> = Vec::new();
    for c in candidates {
        let system_write =
            c.access != Access::Read && SYSTEM_DIRS.iter().any(|d| c.path.starts_with(d));
        let reason = if system_write {
            format!("{}; writes to a system directory, review it", c.reason)
        } else {
            c.reason.into_owned()
        };
        out.push(Suggestion {
            kind: SuggestionKind::Grant,
            rule: display(&c.path, home),
            path: Some(c.path),
            dir: c.dir,
            access: Some(c.access),
            reason,
            safe: !system_write,
            observed: listed(c.observed, out.len(), &mut on_observed),
        });
    }
    for (group, observed) in include {
        out.push(Suggestion {
            kind: SuggestionKind::IncludeGroup {
                group: group.clone(),
            },
            path: None,
            rule: group.clone(),
            dir: true,
            access: None,
            reason: format!(
                "the built-in group `{group}` covers {} observed path(s)",
                observed.len()
            ),
            safe: true,
            observed: listed(observed, out.len(), &mut on_observed),
        });
    }
    if let Some((access, observed)) = workdir {
        out.push(Suggestion {
            kind: SuggestionKind::Workdir,
            path: Some(ctx.workdir.clone()),
            rule: format!("workdir.access = {}", access.name()),
            dir: true,
            access: Some(access),
            reason: format!(
                "{} observed path(s) in the working directory",
                observed.len()
            ),
            safe: true,
            observed: listed(observed, out.len(), &mut on_observed),
        });
    }
    out.extend(host_suggestions(model));
    for (by, observed) in covered {
        out.push(Suggestion {
            kind: SuggestionKind::Covered { by: by.clone() },
            path: None,
            rule: by.clone(),
            dir: false,
            access: None,
            reason: format!(
                "{} observed path(s) already granted by {by}",
                observed.len()
            ),
            safe: true,
            observed: listed(observed, out.len(), &mut on_observed),
        });
    }
    for (label, observed) in sensitive {
        out.push(Suggestion {
            kind: SuggestionKind::Sensitive {
                label: label.clone(),
            },
            path: observed.first().map(|p| (*p).clone()),
            rule: observed
                .first()
                .map(|p| display(p, home))
                .unwrap_or_default(),
            dir: false,
            access: None,
            reason: format!("denied by {label}: never granted from learning"),
            safe: false,
            observed: listed(observed, out.len(), &mut on_observed),
        });
    }
    out
}

/// A suggestion for each host looked up (not `localhost` nor reverse lookups).
fn host_suggestions(model: &LearnModel) -> Vec<Suggestion> {
    let mut out = Vec::new();
    for (host, node) in &model.hosts {
        if host == "localhost" || host.ends_with(".in-addr.arpa") || host.ends_with(".ip6.arpa") {
            continue;
        }
        let via: Vec<&str> = node
            .sources
            .iter()
            .map(|s| match s {
                super::model::HostSource::Dns => "DNS",
                super::model::HostSource::Proxy => "proxy",
            })
            .collect();
        out.push(Suggestion {
            kind: SuggestionKind::Host,
            path: None,
            rule: host.clone(),
            dir: false,
            access: None,
            reason: format!("looked up {} time(s) ({})", node.count, via.join(", ")),
            safe: true,
            observed: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests;
