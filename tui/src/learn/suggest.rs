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
//!    (collapse). `/` and `$HOME` are never granted whole: entries created directly
//!    in them are suggested as single files.
//!
//! Host names (from DNS and the proxy) become `network.allow_domain` suggestions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use serde::Serialize;

use super::model::{LearnModel, PathNode, path_order};
use super::observe::Need;
use super::paths::PathMap;

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

fn covers(grant: &super::model::Coverage, path: &Path, access: Access) -> bool {
    grant.access.covers(access)
        && if grant.dir {
            path.starts_with(&grant.path)
        } else {
            path == grant.path
        }
}

/// Who grants a path, in order of precedence: the base profile, then the included
/// groups, then the others (by their order in the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Granter {
    Base,
    Included(usize),
    Other(usize),
}

/// The context's denials and grants by path: a path's are found by walking up its
/// ancestors (a few hash lookups) instead of testing every rule.
struct Index<'a> {
    sensitive: PathMap<usize>,
    grants: PathMap<Vec<(Granter, &'a super::model::Coverage)>>,
}

impl<'a> Index<'a> {
    fn new(ctx: &'a super::model::LearnContext) -> Self {
        let mut sensitive = PathMap::new();
        for (i, s) in ctx.sensitive.iter().enumerate() {
            sensitive.entry_or_insert_with(s.path.clone(), || i);
        }
        let mut grants: PathMap<Vec<_>> = PathMap::new();
        for g in &ctx.base_grants {
            grants
                .entry_or_insert_with(g.path.clone(), Vec::new)
                .push((Granter::Base, g));
        }
        for (i, group) in ctx.groups.iter().enumerate() {
            let who = if group.included {
                Granter::Included(i)
            } else {
                Granter::Other(i)
            };
            for g in &group.grants {
                grants
                    .entry_or_insert_with(g.path.clone(), Vec::new)
                    .push((who, g));
            }
        }
        Index { sensitive, grants }
    }

    /// Like [`super::model::LearnContext::sensitive`]: the first denial covering it.
    fn sensitive(
        &self,
        ctx: &'a super::model::LearnContext,
        path: &Path,
    ) -> Option<&'a super::model::SensitivePath> {
        let mut first: Option<usize> = None;
        self.sensitive.ancestors(path, |_, &i| {
            first = Some(first.map_or(i, |f| f.min(i)));
        });
        first.map(|i| &ctx.sensitive[i])
    }

    /// Who grants `access` to `path` first, if anyone.
    fn grant(&self, path: &Path, access: Access) -> Option<Granter> {
        let mut best = None;
        self.grants.ancestors(path, |at, grants| {
            for (who, c) in grants {
                if c.access.covers(access) && (c.dir || at == path) {
                    best = Some(best.map_or(*who, |b: Granter| b.min(*who)));
                }
            }
        });
        best
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    path: PathBuf,
    dir: bool,
    access: Access,
    reason: Cow<'static, str>,
    observed: Vec<PathBuf>,
}

/// The suggestions for everything the model has seen, in a stable order: grants,
/// groups to include, the working directory, hosts, then covered and sensitive paths.
pub fn suggest(model: &LearnModel) -> Vec<Suggestion> {
    suggest_with(model, |_, _| {})
}

/// From how many observed paths [`suggest`] sorts them on two threads.
const PARALLEL_FROM: usize = 8192;

/// Observed paths sorted by what they need: borrowed from the model; only the few
/// listed in a suggestion are copied.
#[derive(Default)]
struct Buckets<'m> {
    sensitive: BTreeMap<String, Vec<&'m PathBuf>>,
    workdir: Option<(Access, Vec<&'m PathBuf>)>,
    /// By granter (`None`: the base profile); named at the end.
    covered: HashMap<Option<usize>, Vec<&'m PathBuf>>,
    include: BTreeMap<String, Vec<&'m PathBuf>>,
    candidates: Vec<Candidate>,
}

impl<'m> Buckets<'m> {
    fn merge(&mut self, other: Buckets<'m>) {
        for (label, paths) in other.sensitive {
            self.sensitive.entry(label).or_default().extend(paths);
        }
        if let Some((access, paths)) = other.workdir {
            let entry = self.workdir.get_or_insert((access, Vec::new()));
            entry.0 = entry.0.union(access);
            entry.1.extend(paths);
        }
        for (by, paths) in other.covered {
            self.covered.entry(by).or_default().extend(paths);
        }
        for (group, paths) in other.include {
            self.include.entry(group).or_default().extend(paths);
        }
        self.candidates.extend(other.candidates);
    }
}

/// Sorts `files` into buckets.
fn sort_files<'m>(
    files: &[(&'m PathBuf, &'m PathNode)],
    index: &Index<'_>,
    ctx: &super::model::LearnContext,
) -> Buckets<'m> {
    let home = ctx.home.as_path();
    let Buckets {
        mut sensitive,
        mut workdir,
        mut covered,
        mut include,
        mut candidates,
    } = Buckets::default();
    for &(path, node) in files {
        // Sensitive paths are listed whether the access succeeded or was refused.
        let all = {
            let mut n = node.ok;
            for need in node.failed.iter() {
                n.insert(need);
            }
            n
        };
        if all.access().is_some()
            && let Some(s) = index.sensitive(ctx, path)
        {
            sensitive.entry(s.label.clone()).or_default().push(path);
            continue;
        }
        let Some(access) = node.ok.access() else {
            continue;
        };
        if path.starts_with(&ctx.workdir) {
            let entry = workdir.get_or_insert((access, Vec::new()));
            entry.0 = entry.0.union(access);
            entry.1.push(path);
            continue;
        }
        match index.grant(path, access) {
            Some(Granter::Base) => {
                covered.entry(None).or_default().push(path);
                continue;
            }
            Some(Granter::Included(g)) => {
                covered.entry(Some(g)).or_default().push(path);
                continue;
            }
            Some(Granter::Other(g)) => {
                include
                    .entry(ctx.groups[g].name.clone())
                    .or_default()
                    .push(path);
                continue;
            }
            None => {}
        }
        let creates = node.ok.contains(Need::Create) || node.ok.contains(Need::Delete);
        let reason: Cow<'static, str> = if creates {
            Cow::Owned(format!(
                "created or removed {} entr{} here",
                node.entries.len().max(1),
                if node.entries.len() == 1 { "y" } else { "ies" }
            ))
        } else if node.ok.contains(Need::Exec) {
            Cow::Borrowed("ran this program")
        } else if node.ok.contains(Need::Write) {
            Cow::Borrowed("wrote this file")
        } else {
            Cow::Borrowed("read this")
        };
        if node.dir && (path == Path::new("/") || path == home) {
            // Never the whole of / or $HOME: grant what was created there, one by one.
            for entry in &node.entries {
                candidates.push(Candidate {
                    path: entry.clone(),
                    dir: false,
                    access: Access::ReadWrite,
                    reason: Cow::Owned(format!(
                        "created in {} (which is never granted whole)",
                        display(path, home)
                    )),
                    observed: vec![entry.clone()],
                });
            }
            continue;
        }
        candidates.push(Candidate {
            path: path.clone(),
            dir: node.dir,
            access,
            reason,
            observed: vec![path.clone()],
        });
    }
    Buckets {
        sensitive,
        workdir,
        covered,
        include,
        candidates,
    }
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
    // Every path is looked up in the index (a walk up its ancestors): for a big trace,
    // on two threads, each with a half of the paths, merged after (the order of the
    // paths does not matter: what is listed is put in path order below).
    let files: Vec<(&PathBuf, &PathNode)> = model.files.unordered().collect();
    let Buckets {
        mut sensitive,
        workdir,
        covered,
        include,
        candidates,
    } = if files.len() >= parallel_from {
        let (first, second) = files.split_at(files.len() / 2);
        let (index, ctx) = (&index, ctx);
        std::thread::scope(|scope| {
            let other = scope.spawn(move || sort_files(second, index, ctx));
            let mut buckets = sort_files(first, index, ctx);
            // A panic in the other half is this thread's panic.
            let rest = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            buckets.merge(rest);
            buckets
        })
    } else {
        sort_files(&files, &index, ctx)
    };

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

/// Reports every observed path of the suggestion about to be pushed at `index`, and
/// keeps the first [`MAX_LISTED`].
fn listed<P: AsRef<Path>>(
    mut observed: Vec<P>,
    index: usize,
    on_observed: &mut impl FnMut(&Path, usize),
) -> Vec<PathBuf> {
    for path in &observed {
        on_observed(path.as_ref(), index);
    }
    // The first MAX_LISTED in path order, without sorting them all.
    let order = |a: &P, b: &P| path_order(a.as_ref(), b.as_ref());
    if observed.len() > MAX_LISTED {
        observed.select_nth_unstable_by(MAX_LISTED, order);
        observed.truncate(MAX_LISTED);
    }
    observed.sort_unstable_by(order);
    observed.iter().map(|p| p.as_ref().to_path_buf()).collect()
}

/// Files read in the same directory collapse into the directory; rules inside a
/// directory rule with enough access disappear (their paths join its observed list).
fn collapse(
    candidates: Vec<Candidate>,
    home: &Path,
    ctx: &super::model::LearnContext,
) -> Vec<Candidate> {
    let mut by_parent: HashMap<PathBuf, Vec<Candidate>> = HashMap::new();
    let mut dirs: Vec<Candidate> = Vec::new();
    for c in candidates {
        if c.dir {
            dirs.push(c);
        } else {
            let parent = c
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"));
            by_parent.entry(parent).or_default().push(c);
        }
    }
    let mut files = Vec::new();
    for (parent, group) in by_parent {
        let forbidden =
            parent == Path::new("/") || parent == home || ctx.sensitive(&parent).is_some();
        if group.len() >= COLLAPSE_SIBLINGS && !forbidden {
            let access = group.iter().fold(Access::Read, |a, c| a.union(c.access));
            let access = if group.iter().all(|c| c.access == Access::Write) {
                Access::Write
            } else {
                access
            };
            dirs.push(Candidate {
                path: parent,
                dir: true,
                access,
                reason: Cow::Owned(format!("{} files used in this directory", group.len())),
                observed: group.into_iter().map(|c| c.path).collect(),
            });
        } else {
            files.extend(group);
        }
    }
    // Merge duplicate directories, then drop anything inside a directory that covers it.
    let mut merged: BTreeMap<PathBuf, Candidate> = BTreeMap::new();
    for d in dirs {
        match merged.get_mut(&d.path) {
            Some(existing) => {
                existing.access = existing.access.union(d.access);
                existing.observed.extend(d.observed);
            }
            None => {
                merged.insert(d.path.clone(), d);
            }
        }
    }
    let access_of: HashMap<PathBuf, Access> = merged
        .values()
        .map(|d| (d.path.clone(), d.access))
        .collect();
    // The nearest directory strictly above a candidate that covers its access: a walk
    // up its ancestors, so the pass stays linear in the number of candidates.
    let outer = |c: &Candidate| {
        c.path
            .ancestors()
            .skip(1)
            .find(|a| access_of.get(*a).is_some_and(|d| d.covers(c.access)))
            .map(Path::to_path_buf)
    };
    let mut kept: BTreeMap<PathBuf, Candidate> = BTreeMap::new();
    let mut absorbed: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for d in merged.into_values() {
        match outer(&d) {
            Some(into) => absorbed.push((into, d.observed)),
            None => {
                kept.insert(d.path.clone(), d);
            }
        }
    }
    let mut out_files = Vec::new();
    for f in files {
        match outer(&f) {
            Some(into) => absorbed.push((into, f.observed)),
            None => out_files.push(f),
        }
    }
    for (into, observed) in absorbed {
        // `into` may itself be covered by a wider directory: then the nearest kept
        // ancestor lists it.
        let target = into
            .ancestors()
            .find(|a| kept.contains_key(*a))
            .map(Path::to_path_buf);
        if let Some(target) = target
            && let Some(dir) = kept.get_mut(&target)
        {
            dir.observed.extend(observed);
        }
    }
    let mut out: Vec<Candidate> = kept.into_values().collect();
    out.extend(out_files);
    // By path, then reason: two candidates for one path (a file created in a carved
    // directory, then written) keep one order whatever order the paths came in.
    out.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.reason.cmp(&b.reason)));
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use nono_enforcer::capability::Access;
    use nono_tracer::event::{Event, EventKind, FileOp, SockAddr};

    use super::*;
    use crate::learn::model::{Coverage, GroupInfo, LearnContext, LearnModel, Msg, SensitivePath};
    use crate::learn::observe::classify;
    use crate::learn::output::{auto_approved, profile};

    fn ctx() -> LearnContext {
        LearnContext {
            home: "/home/u".into(),
            workdir: "/home/u/proj".into(),
            base_profile: "default".into(),
            sensitive: vec![SensitivePath {
                path: "/home/u/.ssh".into(),
                label: "group `deny_credentials`".into(),
            }],
            groups: vec![
                GroupInfo {
                    name: "system_read_linux".into(),
                    included: true,
                    grants: vec![Coverage {
                        path: "/usr".into(),
                        access: Access::Read,
                        dir: true,
                    }],
                },
                GroupInfo {
                    name: "python_runtime".into(),
                    included: false,
                    grants: vec![Coverage {
                        path: "/home/u/.cache/pip".into(),
                        access: Access::ReadWrite,
                        dir: true,
                    }],
                },
            ],
            base_grants: vec![],
            net_no_create: vec![],
        }
    }

    fn feed(model: &mut LearnModel, op: FileOp, path: &str, dir: bool, result: i32) {
        let event = Event {
            seq: 0,
            time_ns: 0,
            pid: 5,
            ppid: 1,
            exe: None,
            kind: EventKind::File {
                op,
                path: path.into(),
                path2: None,
                result,
            },
        };
        let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), dir));
        model.update(Msg::Event {
            event: Box::new(event),
            observations,
        });
    }

    fn grants(s: &[Suggestion]) -> Vec<(String, bool, Access)> {
        s.iter()
            .filter(|s| s.kind == SuggestionKind::Grant)
            .map(|s| (s.rule.clone(), s.dir, s.access.unwrap()))
            .collect()
    }

    /// The index's answers (a walk up the path's ancestors) equal a test of every
    /// rule, for every path over a small alphabet, file and directory grants at
    /// several depths, and overlapping groups.
    #[test]
    fn the_index_agrees_with_testing_every_rule() {
        let cov = |path: &str, access, dir| Coverage {
            path: path.into(),
            access,
            dir,
        };
        let ctx = LearnContext {
            home: "/h".into(),
            workdir: "/w".into(),
            base_profile: "base".into(),
            sensitive: vec![
                SensitivePath {
                    path: "/a/b".into(),
                    label: "one".into(),
                },
                SensitivePath {
                    path: "/a".into(),
                    label: "two".into(),
                },
                SensitivePath {
                    path: "/b/a/b".into(),
                    label: "three".into(),
                },
            ],
            groups: vec![
                GroupInfo {
                    name: "g0".into(),
                    included: false,
                    grants: vec![
                        cov("/a", Access::Read, true),
                        cov("/b/b", Access::Write, false),
                    ],
                },
                GroupInfo {
                    name: "g1".into(),
                    included: true,
                    grants: vec![
                        cov("/a/a", Access::ReadWrite, true),
                        cov("/b", Access::Read, true),
                    ],
                },
            ],
            base_grants: vec![
                cov("/b/a", Access::Write, true),
                cov("/a/b/a", Access::Read, false),
            ],
            net_no_create: vec![],
        };
        let mut paths = vec![PathBuf::from("/")];
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level
                .iter()
                .flat_map(|p| ["a", "b", "c"].map(|n| format!("{p}/{n}")))
                .collect();
            paths.extend(level.iter().map(PathBuf::from));
        }
        {
            let index = Index::new(&ctx);
            for path in &paths {
                assert_eq!(
                    index.sensitive(&ctx, path).map(|s| &s.label),
                    ctx.sensitive(path).map(|s| &s.label),
                    "{path:?}"
                );
                for access in [Access::Read, Access::Write, Access::ReadWrite] {
                    let mut naive = ctx
                        .base_grants
                        .iter()
                        .any(|c| covers(c, path, access))
                        .then_some(Granter::Base);
                    for (i, g) in ctx.groups.iter().enumerate() {
                        if g.grants.iter().any(|c| covers(c, path, access)) {
                            let who = if g.included {
                                Granter::Included(i)
                            } else {
                                Granter::Other(i)
                            };
                            naive = Some(naive.map_or(who, |n: Granter| n.min(who)));
                        }
                    }
                    assert_eq!(index.grant(path, access), naive, "{path:?} {access:?}");
                }
            }
        }
    }

    /// Sorting the paths on two threads gives what one thread gives: the same
    /// suggestions, in the same order, listing the same paths, and every path told to
    /// the same suggestion.
    #[test]
    fn two_threads_suggest_what_one_does() {
        let mut m = LearnModel::new(ctx());
        for i in 0..600 {
            let (op, result) = match i % 5 {
                0 => (FileOp::Write, 0),
                1 => (FileOp::Read, -2),
                _ => (FileOp::Read, 0),
            };
            let path = match i % 6 {
                0 => format!("/usr/share/d{}/f{i}", i % 7),
                1 => format!("/home/u/proj/src/f{i}"),
                2 => format!("/home/u/.ssh/k{i}"),
                3 => format!("/home/u/.cache/pip/p{i}"),
                4 => format!("/srv/data/d{}/f{i}", i % 3),
                _ => format!("/opt/t{}/f{i}", i % 40),
            };
            feed(&mut m, op, &path, false, result);
        }
        let run = |parallel_from| {
            let mut told = Vec::new();
            let s = suggest_split(&m, |p, i| told.push((p.to_path_buf(), i)), parallel_from);
            told.sort();
            (s, told)
        };
        let one = run(usize::MAX);
        assert!(one.0.len() > 5, "{:#?}", one.0);
        assert_eq!(run(0), one);
        assert_eq!(run(2), one);
    }

    #[test]
    fn sensitive_paths_are_listed_never_suggested_even_when_they_succeeded() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Read, "/home/u/.ssh/id_rsa", false, 0);
        feed(&mut m, FileOp::Read, "/home/u/.ssh/config", false, -13);
        let s = suggest(&m);
        assert!(grants(&s).is_empty(), "{s:#?}");
        let sensitive: Vec<_> = s
            .iter()
            .filter(|s| matches!(s.kind, SuggestionKind::Sensitive { .. }))
            .collect();
        assert_eq!(sensitive.len(), 1);
        assert_eq!(sensitive[0].observed.len(), 2);
        assert!(!sensitive[0].safe);
        let p = profile(&auto_approved(&s), "default", "x", "d");
        assert!(
            p.filesystem.is_none(),
            "a sensitive path reached the profile: {p:?}"
        );
    }

    #[test]
    fn home_and_root_are_never_granted_whole() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Create, "/home/u/.tool_history", false, 0);
        feed(&mut m, FileOp::Create, "/newfile", false, 0);
        let g = grants(&suggest(&m));
        assert_eq!(
            g,
            [
                ("$HOME/.tool_history".to_string(), false, Access::ReadWrite),
                ("/newfile".to_string(), false, Access::ReadWrite)
            ]
        );
    }

    #[test]
    fn created_entries_suggest_their_directory_and_siblings_collapse() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Create, "/srv/out/a.txt", false, 0);
        for f in ["a", "b", "c", "d"] {
            feed(
                &mut m,
                FileOp::Read,
                &format!("/data/set/{f}.csv"),
                false,
                0,
            );
        }
        feed(&mut m, FileOp::Read, "/data/other.txt", false, 0);
        feed(&mut m, FileOp::Read, "/nonexistent", false, -2);
        let g = grants(&suggest(&m));
        assert_eq!(
            g,
            [
                ("/data/other.txt".to_string(), false, Access::Read),
                ("/data/set".to_string(), true, Access::Read),
                // Only creation was seen: write-only is enough (least privilege).
                ("/srv/out".to_string(), true, Access::Write),
            ]
        );
    }

    #[test]
    fn groups_workdir_and_hosts() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Read, "/usr/lib/libc.so", false, 0);
        feed(&mut m, FileOp::Write, "/home/u/.cache/pip/http/x", false, 0);
        feed(&mut m, FileOp::Write, "/home/u/proj/out.txt", false, 0);
        feed(&mut m, FileOp::Read, "/home/u/proj/in.txt", false, 0);
        let dns = Event {
            seq: 1,
            time_ns: 0,
            pid: 5,
            ppid: 1,
            exe: None,
            kind: EventKind::Dns {
                name: "PyPI.org.".into(),
                qtype: "A".into(),
                server: SockAddr::Other { family: 2 },
            },
        };
        m.update(Msg::Event {
            event: Box::new(dns),
            observations: vec![],
        });
        let s = suggest(&m);
        assert!(grants(&s).is_empty(), "{s:#?}");
        let kinds: Vec<_> = s.iter().map(|s| (&s.kind, s.rule.as_str())).collect();
        assert!(kinds.contains(&(
            &SuggestionKind::IncludeGroup {
                group: "python_runtime".into()
            },
            "python_runtime"
        )));
        assert!(kinds.contains(&(&SuggestionKind::Workdir, "workdir.access = readwrite")));
        assert!(kinds.contains(&(&SuggestionKind::Host, "pypi.org")));
        assert!(kinds.contains(&(
            &SuggestionKind::Covered {
                by: "group `system_read_linux`".into()
            },
            "group `system_read_linux`"
        )));
        let p = profile(&auto_approved(&s), "default", "learned", "test");
        let text = serde_json::to_string(&p).unwrap();
        for needle in [
            "\"extends\":\"default\"",
            "python_runtime",
            "\"access\":\"readwrite\"",
            "pypi.org",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        let parsed = nono_enforcer::profile::parse(
            &text,
            "learned",
            nono_enforcer::profile::ProfileSource::Builtin,
        );
        assert!(
            parsed.is_ok(),
            "the generated profile does not parse: {parsed:?}"
        );
    }

    #[test]
    fn system_writes_are_not_auto_approved() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Write, "/etc/hosts", false, 0);
        let s = suggest(&m);
        assert_eq!(grants(&s).len(), 1);
        assert!(auto_approved(&s).is_empty(), "{s:#?}");
        let _ = PathBuf::new();
    }
}
