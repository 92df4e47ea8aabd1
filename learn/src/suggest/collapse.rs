//! Collapsing candidate grants into directories, and listing what each one covers.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;

use crate::model::path_order;

use super::place::Candidate;
use super::{COLLAPSE_SIBLINGS, MAX_LISTED};

/// Reports every observed path of the suggestion about to be pushed at `index`, and
/// keeps the first [`MAX_LISTED`].
pub(super) fn listed<P: AsRef<Path>>(
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
pub(super) fn collapse(
    candidates: Vec<Candidate>,
    home: &Path,
    ctx: &crate::model::LearnContext,
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
