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
//!    [`Place`]), so a directory where files were created gets the union of what was
//!    done to them (`mkstemp`'s read-write files make `/tmp` read-write). `/` and
//!    `$HOME` are never granted whole: a lasting entry created directly in them is
//!    suggested as a single file, a temporary there gets no rule and is told by
//!    [`unnamed_temporaries`].
//!
//! Host names (from DNS and the proxy) become `network.allow_domain` suggestions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use serde::Serialize;

use super::model::{Files, LearnModel, PathNode, path_order};
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
    /// Which reason wins when candidates for one directory merge: the higher.
    rank: u8,
}

/// The reason of a directory that temporary files fold into.
const FOLDED_TEMPORARY: &str =
    "temporary files used here (created and removed, or named at random): no rule can name them";
/// The reason of a directory that lasting new entries fold into.
const FOLDED_CREATED: &str = "entries created here, with what was done to them";

/// The access a node's successful accesses need; a path the trace created needs
/// write access too (its creation, granted on the directory it folds into).
fn needed(node: &PathNode) -> Option<Access> {
    match (node.ok.access(), node.created) {
        (Some(access), true) => Some(access.union(Access::Write)),
        (None, true) => Some(Access::Write),
        (access, false) => access,
    }
}

/// Where a path's grant goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// On the path itself.
    Itself,
    /// On `dir`, the nearest directory above it that existed before the trace and is
    /// no temporary: the path, or a directory on its way up, was created during the
    /// trace (a rule naming it would not match before it is created again) or has a
    /// random name in a temporary directory.
    Into {
        /// The lasting directory.
        dir: PathBuf,
        /// Is what folds a temporary (removed again, or named at random)?
        temporary: bool,
    },
    /// That directory is `/` or `$HOME`, which is never granted whole: `top` is the
    /// entry in it.
    Forbidden {
        /// `/` or `$HOME`.
        dir: PathBuf,
        /// The entry created in it.
        top: PathBuf,
        /// The entry is a temporary: it gets no rule.
        temporary: bool,
    },
}

/// The paths the trace created, for [`Lasting::place`]: usually few, so most paths
/// are placed without a walk up their ancestors.
struct Lasting<'a> {
    created: PathMap<&'a PathNode>,
    ctx: &'a super::model::LearnContext,
}

impl<'a> Lasting<'a> {
    fn new<'p>(
        files: impl Iterator<Item = (&'p PathBuf, &'a PathNode)>,
        ctx: &'a super::model::LearnContext,
    ) -> Self {
        let mut created = PathMap::new();
        for (path, node) in files {
            if node.created {
                created.insert(path.clone(), node);
            }
        }
        Lasting { created, ctx }
    }

    /// Where the grant of `path` (observed as `node`) goes (see [`Place`]): the walk
    /// goes up from the path to the nearest temporary directory, `$HOME` or `/`, and
    /// the highest entry on the way that was created (or, for the file itself, has a
    /// random name below a temporary directory) is what folds into its parent.
    fn place(&self, path: &Path, node: &PathNode) -> Place {
        let home = self.ctx.home.as_path();
        let below = |dir: &Path| {
            let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
            p.len() > d.len() && p.starts_with(d) && (d == b"/" || p[d.len()] == b'/')
        };
        let temp_dir = self
            .ctx
            .temp_dirs
            .iter()
            .filter(|t| below(t))
            .max_by_key(|t| t.as_os_str().len());
        // A random name counts for the file itself only: a directory that was there
        // before (a project in a `mktemp -d` directory) lasts, whatever its name; one
        // made during the trace counts as created.
        let random = temp_dir.is_some() && !node.dir && path.file_name().is_some_and(random_name);
        let mut top: Option<(&Path, bool)> = random.then_some((path, true));
        let mut temporary = random;
        if !self.created.is_empty() {
            for at in path.ancestors() {
                if at == Path::new("/") || at == home || temp_dir.is_some_and(|t| at == t) {
                    break;
                }
                if let Some(created) = self.created.get(at) {
                    let removed = created.removed || (at == path && random);
                    top = Some((at, removed));
                    temporary |= removed;
                }
            }
        }
        let Some((top, top_temporary)) = top else {
            return Place::Itself;
        };
        let dir = top.parent().unwrap_or(Path::new("/"));
        if dir == Path::new("/") || dir == home {
            return Place::Forbidden {
                dir: dir.to_path_buf(),
                top: top.to_path_buf(),
                temporary: top_temporary,
            };
        }
        Place::Into {
            dir: dir.to_path_buf(),
            temporary,
        }
    }
}

/// Does a file name look made at random, as temporary files' names are
/// (`ccAcOUPF.o` from gcc, `tmp.5Ag3kLq9Zx` from mktemp, `tmpk3j_4x9a` from Python's
/// tempfile, `sortH7d2Qa` from sort, a hexadecimal id)? Only asked of names below a
/// temporary directory, where a wrong "yes" costs little: the grant goes to the
/// temporary directory instead of the file.
pub fn random_name(name: &std::ffi::OsStr) -> bool {
    let Some(name) = name.to_str() else {
        // Not UTF-8: no name a person gave.
        return true;
    };
    name.split(['.', '-', '+', '#', ',', '~', ' '])
        .any(random_token)
}

fn random_token(token: &str) -> bool {
    if token.len() < 6 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    let count = |f: fn(&char) -> bool| token.chars().filter(f).count();
    let (upper, lower, digits) = (
        count(char::is_ascii_uppercase),
        count(char::is_ascii_lowercase),
        count(char::is_ascii_digit),
    );
    (digits >= 2 && upper + lower >= 2)
        || (upper >= 2 && lower >= 2)
        || (token.len() >= 9 && token.starts_with("tmp"))
}

/// Temporary files made directly in one directory that is never granted whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotGranted {
    /// `/` or `$HOME`.
    pub dir: PathBuf,
    /// The temporaries (observed paths).
    pub files: Vec<PathBuf>,
}

/// Temporary files created directly in `/` or `$HOME`, by directory: no rule can
/// name them and the directory is never granted whole, so the profile cannot let them
/// be created again. Said in the summary and the report instead of a rule.
pub fn unnamed_temporaries(model: &LearnModel) -> Vec<NotGranted> {
    let ctx = &model.ctx;
    let lasting = Lasting::new(model.files.unordered(), ctx);
    let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for (path, node) in model.files.iter() {
        let Some(access) = needed(node) else { continue };
        if !path.is_absolute() || ctx.sensitive(path).is_some() || path.starts_with(&ctx.workdir) {
            continue;
        }
        if let Place::Forbidden {
            dir,
            top,
            temporary: true,
        } = lasting.place(path, node)
            && covered_by(ctx, &top, access).is_none()
        {
            by_dir.entry(dir).or_default().push(path.clone());
        }
    }
    by_dir
        .into_iter()
        .map(|(dir, files)| NotGranted { dir, files })
        .collect()
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
    model_files: &Files,
    lasting: &Lasting<'_>,
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
        let Some(access) = needed(node) else {
            continue;
        };
        // A path the tracer could not make absolute (an eBPF trace of a call relative
        // to a descriptor it did not see opened) names nothing a rule could.
        if !path.is_absolute() {
            continue;
        }
        if path.starts_with(&ctx.workdir) {
            let entry = workdir.get_or_insert((access, Vec::new()));
            entry.0 = entry.0.union(access);
            entry.1.push(path);
            continue;
        }
        if node.dir && (path == Path::new("/") || path == home) {
            // Never the whole of / or $HOME: what was created there is placed below.
            continue;
        }
        let place = lasting.place(path, node);
        let target: &Path = match &place {
            Place::Itself => path,
            Place::Into { dir, .. } => dir,
            Place::Forbidden { top, .. } => top,
        };
        match index.grant(target, access) {
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
        match place {
            Place::Itself => {}
            Place::Into { dir, temporary } => {
                candidates.push(Candidate {
                    path: dir,
                    dir: true,
                    access,
                    reason: Cow::Borrowed(if temporary {
                        FOLDED_TEMPORARY
                    } else {
                        FOLDED_CREATED
                    }),
                    observed: vec![path.clone()],
                    rank: 1,
                });
                continue;
            }
            // Said by `unnamed_temporaries`, never a rule.
            Place::Forbidden {
                temporary: true, ..
            } => continue,
            Place::Forbidden { dir, top, .. } => {
                // A lasting entry made directly in / or $HOME: that entry alone.
                candidates.push(Candidate {
                    dir: model_files.get(&top).is_some_and(|n| n.dir),
                    path: top,
                    access: Access::ReadWrite,
                    reason: Cow::Owned(format!(
                        "created in {} (which is never granted whole)",
                        display(&dir, home)
                    )),
                    observed: vec![path.clone()],
                    rank: 0,
                });
                continue;
            }
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
        candidates.push(Candidate {
            path: path.clone(),
            dir: node.dir,
            access,
            reason,
            observed: vec![path.clone()],
            rank: 0,
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
    let lasting = Lasting::new(files.iter().copied(), ctx);
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
            let all = &model.files;
            let lasting = &lasting;
            let other = scope.spawn(move || sort_files(second, all, lasting, index, ctx));
            let mut buckets = sort_files(first, all, lasting, index, ctx);
            // A panic in the other half is this thread's panic.
            let rest = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            buckets.merge(rest);
            buckets
        })
    } else {
        sort_files(&files, &model.files, &lasting, &index, ctx)
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
                rank: 0,
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
                // One reason whatever order the candidates came in.
                if (d.rank, std::cmp::Reverse(&d.reason))
                    > (existing.rank, std::cmp::Reverse(&existing.reason))
                {
                    existing.reason = d.reason;
                    existing.rank = d.rank;
                }
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
    use crate::model::{Coverage, GroupInfo, LearnContext, LearnModel, Msg, SensitivePath};
    use crate::observe::classify;
    use crate::output::{auto_approved, profile, summary};

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
            temp_dirs: vec!["/tmp".into(), "/var/tmp".into()],
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
            temp_dirs: vec![],
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
        let p = profile(&auto_approved(&s), "default", "x", "d", false);
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
        let p = profile(&auto_approved(&s), "default", "learned", "test", true);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("block"),
            "hosts are allowed, not blocked: {text}"
        );
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

    fn rename(model: &mut LearnModel, from: &str, to: &str) {
        let event = Event {
            seq: 0,
            time_ns: 0,
            pid: 5,
            ppid: 1,
            exe: None,
            kind: EventKind::File {
                op: FileOp::Rename,
                path: from.into(),
                path2: Some(to.into()),
                result: 0,
            },
        };
        let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
        model.update(Msg::Event {
            event: Box::new(event),
            observations,
        });
    }

    #[test]
    fn temporary_names_are_recognised() {
        for name in [
            "ccAcOUPF.o",
            "cc2qRIVN.s",
            "tmp.5Ag3kLq9Zx",
            "tmpk3j_4x9a",
            "tmpqwertyui",
            "sortH7d2Qa",
            "systemd-private-3f9a1c0d2e",
            "pymp-x8w2k1q0",
        ] {
            assert!(random_name(name.as_ref()), "{name} should look random");
        }
        for name in [
            "out.txt",
            "build",
            "python3",
            "report-2024.csv",
            "a.o",
            "Makefile",
            "x86_64",
            ".X11-unix",
        ] {
            assert!(!random_name(name.as_ref()), "{name} should not look random");
        }
    }

    /// The gcc case: mkstemp's O_RDWR creation in /tmp, the files written and read
    /// again by the next program, then removed. The directory gets read-write (what the
    /// opens of the files made there needed), and no random name is a rule.
    #[test]
    fn a_directory_gets_the_union_of_what_its_created_files_needed() {
        let mut m = LearnModel::new(ctx());
        for f in ["ccAcOUPF.s", "ccvah7Fv.o"] {
            let path = format!("/tmp/{f}");
            feed(&mut m, FileOp::CreateReadWrite, &path, false, 0);
            feed(&mut m, FileOp::Write, &path, false, 0);
            feed(&mut m, FileOp::Read, &path, false, 0);
            feed(&mut m, FileOp::Unlink, &path, false, 0);
        }
        // Written only: write is enough.
        feed(&mut m, FileOp::Create, "/srv/out/report.txt", false, 0);
        // Created, then read back: read-write, on the directory (the file does not
        // exist when the command starts again).
        feed(&mut m, FileOp::Create, "/srv/db/new.db", false, 0);
        feed(&mut m, FileOp::Read, "/srv/db/new.db", false, 0);
        let s = suggest(&m);
        assert_eq!(
            grants(&s),
            [
                ("/srv/db".to_string(), true, Access::ReadWrite),
                ("/srv/out".to_string(), true, Access::Write),
                ("/tmp".to_string(), true, Access::ReadWrite),
            ],
            "{s:#?}"
        );
        let tmp = s.iter().find(|s| s.rule == "/tmp").unwrap();
        assert!(tmp.reason.contains("temporary"), "{}", tmp.reason);
        assert!(tmp.safe);
        assert!(
            tmp.observed.iter().any(|p| p.ends_with("ccvah7Fv.o")),
            "the temporaries are listed under their directory: {tmp:#?}"
        );
        let p = profile(&auto_approved(&s), "default", "x", "d", false);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("cc"),
            "a temporary name reached the profile: {text}"
        );
    }

    #[test]
    fn temporaries_fold_into_their_lasting_directory() {
        let mut m = LearnModel::new(ctx());
        // mktemp -d, a file in it, all removed: /tmp, never the random directory.
        feed(&mut m, FileOp::Mkdir, "/tmp/tmp.5Ag3kLq9Zx", false, 0);
        feed(&mut m, FileOp::Create, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
        feed(&mut m, FileOp::Read, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
        feed(&mut m, FileOp::Unlink, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
        // An atomic save: a temporary beside the file, renamed over it.
        feed(&mut m, FileOp::Read, "/srv/conf/app.conf", false, 0);
        feed(&mut m, FileOp::Create, "/srv/conf/.app.conf.swp", false, 0);
        rename(&mut m, "/srv/conf/.app.conf.swp", "/srv/conf/app.conf");
        // A random name in /var/tmp that was there before: its directory.
        feed(&mut m, FileOp::Read, "/var/tmp/sess-Qx81Kd9a", false, 0);

        let g = grants(&suggest(&m));
        assert_eq!(
            g,
            [
                // The swap file needs write in the directory; the file was there
                // before (read first), so its own rule reads it.
                ("/srv/conf".to_string(), true, Access::Write),
                ("/srv/conf/app.conf".to_string(), false, Access::Read),
                ("/tmp".to_string(), true, Access::ReadWrite),
                ("/var/tmp".to_string(), true, Access::Read),
            ]
        );
    }

    /// A directory with a random name that was there before (a project made with
    /// `mktemp -d`) lasts: its files are rules as anywhere else.
    #[test]
    fn a_lasting_directory_with_a_random_name_keeps_its_rules() {
        let mut m = LearnModel::new(ctx());
        feed(&mut m, FileOp::Read, "/tmp/.tmpdxTnQX/data", true, 0);
        feed(&mut m, FileOp::Read, "/tmp/.tmpdxTnQX/in.csv", false, 0);
        assert_eq!(
            grants(&suggest(&m)),
            [
                ("/tmp/.tmpdxTnQX/data".to_string(), true, Access::Read),
                ("/tmp/.tmpdxTnQX/in.csv".to_string(), false, Access::Read),
            ]
        );
    }

    /// A temporary created directly in $HOME can get no rule ($HOME is never granted
    /// whole, and its name never comes again): it is said, not suggested.
    #[test]
    fn temporaries_directly_in_home_are_said_not_granted() {
        let mut m = LearnModel::new(ctx());
        feed(
            &mut m,
            FileOp::CreateReadWrite,
            "/home/u/.lock.Xy12",
            false,
            0,
        );
        feed(&mut m, FileOp::Unlink, "/home/u/.lock.Xy12", false, 0);
        feed(&mut m, FileOp::Create, "/home/u/.tool_history", false, 0);
        let s = suggest(&m);
        assert_eq!(
            grants(&s),
            [("$HOME/.tool_history".to_string(), false, Access::ReadWrite)]
        );
        let notes = unnamed_temporaries(&m);
        assert_eq!(
            notes,
            [NotGranted {
                dir: PathBuf::from("/home/u"),
                files: vec![PathBuf::from("/home/u/.lock.Xy12")]
            }]
        );
        assert!(
            summary(&m, &s).contains("/home/u/.lock.Xy12"),
            "{}",
            summary(&m, &s)
        );
    }

    #[test]
    fn a_trace_without_network_use_blocks_the_network() {
        let socket = |m: &mut LearnModel, addr: SockAddr| {
            let event = Event {
                seq: 0,
                time_ns: 0,
                pid: 5,
                ppid: 1,
                exe: None,
                kind: EventKind::Bind { addr, result: 0 },
            };
            m.update(Msg::Event {
                event: Box::new(event),
                observations: vec![],
            });
        };
        let mut m = LearnModel::new(ctx());
        socket(
            &mut m,
            SockAddr::Unix {
                path: "/run/x.sock".into(),
            },
        );
        socket(&mut m, SockAddr::AbstractUnix { name: "x".into() });
        socket(&mut m, SockAddr::Other { family: 16 });
        assert!(
            !m.network_used(),
            "unix and netlink sockets are no network use"
        );
        let s = suggest(&m);
        let p = profile(&auto_approved(&s), "default", "x", "d", !m.network_used());
        assert_eq!(p.network.and_then(|n| n.block), Some(true));
        socket(
            &mut m,
            SockAddr::Inet {
                ip: std::net::Ipv4Addr::LOCALHOST.into(),
                port: 8080,
            },
        );
        assert!(m.network_used(), "a loopback bind is network use");
        let p = profile(&auto_approved(&s), "default", "x", "d", !m.network_used());
        assert!(p.network.is_none(), "{:?}", p.network);
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
