//! Sorting the observed paths into buckets (sensitive, working directory, covered,
//! group, candidate grants), on two threads for a big trace.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;

use crate::model::{Files, LearnModel, PathNode};
use crate::observe::Need;

use super::display;
use super::index::{Granter, Index};
use super::place::{Candidate, FOLDED_CREATED, FOLDED_TEMPORARY, Lasting, Place, needed};

/// From how many observed paths [`suggest`] sorts them on two threads.
pub(super) const PARALLEL_FROM: usize = 8192;

/// Observed paths sorted by what they need: borrowed from the model; only the few
/// listed in a suggestion are copied.
#[derive(Default)]
pub(super) struct Buckets<'m> {
    pub(super) sensitive: BTreeMap<String, Vec<&'m PathBuf>>,
    pub(super) workdir: Option<(Access, Vec<&'m PathBuf>)>,
    /// By granter (`None`: the base profile); named at the end.
    pub(super) covered: HashMap<Option<usize>, Vec<&'m PathBuf>>,
    pub(super) include: BTreeMap<String, Vec<&'m PathBuf>>,
    pub(super) candidates: Vec<Candidate>,
}

impl<'m> Buckets<'m> {
    pub(super) fn merge(&mut self, other: Buckets<'m>) {
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
    ctx: &crate::model::LearnContext,
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

/// [`sort_files`] over every observed path: on two threads, each with a half of the
/// paths, from `parallel_from` paths (the order of the paths does not matter: what is
/// listed is put in path order after).
pub(super) fn sort_all<'m>(
    files: &[(&'m PathBuf, &'m PathNode)],
    model: &'m LearnModel,
    lasting: &Lasting<'_>,
    index: &Index<'_>,
    parallel_from: usize,
) -> Buckets<'m> {
    let ctx = &model.ctx;
    if files.len() >= parallel_from {
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
        sort_files(files, &model.files, lasting, index, ctx)
    }
}
