//! The plan cache never changes a plan: random trees are written to disk, planned
//! through the cache (stored, then loaded), changed at random, and planned again; every
//! plan the cache returns must equal a fresh plan of the file system as it is then.

use std::time::Duration;

use super::*;
use crate::plan::cache::{Outcome, PlanCache};
use crate::plan::{CachingFs, PlanOptions, plan_with};

/// Writes `case`'s tree below `root` (absolute symlink targets rebased under it) and
/// returns its capability set with every path rebased the same way.
fn materialize(case: &Case, root: &Path) -> CapabilitySet {
    let rebase = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    for (path, node) in &case.fs.nodes {
        if path == Path::new("/") {
            continue;
        }
        let real = rebase(path);
        match node {
            Node::Dir => mkdir(&real),
            Node::File => touch(&real),
            Node::Link(target) if target.is_absolute() => ln(&rebase(target), &real),
            Node::Link(target) => ln(target, &real),
        }
    }
    let mut caps = case.caps.clone();
    for g in &mut caps.grants {
        g.path = rebase(&g.path);
    }
    for d in &mut caps.denies {
        d.path = rebase(&d.path);
    }
    caps
}

#[derive(Debug, Clone)]
enum Change {
    /// A new file in an existing directory.
    NewFile(Index),
    /// A new symlink in an existing directory, to an existing node.
    NewLink(Index, Index),
    /// Remove a node (a directory with everything in it).
    Remove(Index),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<Index>()).prop_map(Change::NewFile),
        (any::<Index>(), any::<Index>()).prop_map(|(d, t)| Change::NewLink(d, t)),
        (any::<Index>()).prop_map(Change::Remove),
    ]
}

/// Removes whatever `path` is (a directory with everything in it).
fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).expect("remove a directory"),
        Ok(_) => fs::remove_file(path).expect("remove a file"),
        Err(_) => {}
    }
}

fn apply(change: &Change, root: &Path) {
    let mut nodes: Vec<PathBuf> = walk(root);
    nodes.sort();
    let dirs: Vec<&PathBuf> = nodes
        .iter()
        .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect();
    match change {
        Change::NewFile(dir) => {
            let dir = if dirs.is_empty() {
                root
            } else {
                dir.get(&dirs)
            };
            remove(&dir.join("e"));
            touch(&dir.join("e"));
        }
        Change::NewLink(dir, target) => {
            let dir = if dirs.is_empty() {
                root
            } else {
                dir.get(&dirs)
            };
            let target = if nodes.is_empty() {
                root
            } else {
                target.get(&nodes)
            };
            let link = dir.join("e");
            remove(&link);
            ln(target, &link);
        }
        Change::Remove(node) => {
            if nodes.is_empty() {
                return;
            }
            remove(node.get::<PathBuf>(&nodes));
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
    }
    out
}

fn fresh(caps: &CapabilitySet, options: &PlanOptions) -> Result<Plan, String> {
    plan_with(caps, &CachingFs::new(), options).map_err(|e| e.to_string())
}

fn cached(
    cache: &PlanCache,
    caps: &CapabilitySet,
    options: &PlanOptions,
) -> Result<(Plan, Outcome), String> {
    cache.plan(caps, options).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_cached_plan_equals_a_fresh_plan(
        case in case(),
        changes in prop::collection::vec(change(), 1..=3),
        mask in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let base = fs::canonicalize(dir.path()).expect("canonicalize");
        // Deep enough that no relative symlink of the tree (three `..` at most) leads
        // out of the temporary directory.
        let root = base.join("w/x/y/z");
        let state = base.join("state");
        mkdir(&root);
        let caps = materialize(&case, &root);
        let options = PlanOptions { mask_system_denies: mask, home: Some(root.join("a")), mask_all_denies: false };
        // Directories changed a moment ago are trusted here; the sleeps below stand in
        // for the real minimum age (a change must fall in a later timestamp tick).
        let cache = PlanCache::with_min_age(&state, Duration::ZERO);

        let first = fresh(&caps, &options);
        let stored = cached(&cache, &caps, &options);
        prop_assert_eq!(stored.clone().map(|(p, _)| p), first.clone());
        if let Ok((_, outcome)) = &stored {
            prop_assert_eq!(*outcome, Outcome::Stored);
            let loaded = cached(&cache, &caps, &options);
            prop_assert_eq!(loaded.clone().map(|(p, _)| p), first);
            prop_assert_eq!(loaded.map(|(_, o)| o), Ok(Outcome::Hit));
        }
        for change in &changes {
            std::thread::sleep(Duration::from_millis(20));
            apply(change, &root);
            let now = fresh(&caps, &options);
            let from_cache = cached(&cache, &caps, &options).map(|(p, _)| p);
            prop_assert_eq!(from_cache, now, "after {:?}", change);
        }
    }
}
