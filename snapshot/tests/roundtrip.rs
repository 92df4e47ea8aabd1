//! Snapshot, change, restore: the tree ends as it was, excluded paths as they were left.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use nono_snapshot::{Budget, Filter, Kind, Manifest, Store, Summary, diff, restore, snapshot};

fn fixture(root: &Path) {
    fs::write(root.join("keep.txt"), "keep\n").unwrap();
    fs::write(root.join("edit.txt"), "one\ntwo\n").unwrap();
    fs::write(root.join("gone.txt"), "bye\n").unwrap();
    fs::write(root.join("old-name"), "moved\n").unwrap();
    fs::write(root.join("mode.sh"), "#!/bin/sh\n").unwrap();
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::write(root.join("dir/sub/deep"), [0u8, 1, 2, 255]).unwrap();
    symlink("keep.txt", root.join("link")).unwrap();
    fs::write(root.join(".gitignore"), "build/\n").unwrap();
    fs::create_dir_all(root.join("sub/build")).unwrap();
    fs::write(root.join("sub/.gitignore"), "*.log\n").unwrap();
    fs::write(root.join("sub/build/out"), "built\n").unwrap();
    fs::write(root.join("sub/x.log"), "log\n").unwrap();
    fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
    fs::write(root.join("node_modules/pkg/i.js"), "1").unwrap();
}

fn agent(root: &Path) {
    fs::write(root.join("edit.txt"), "one\n2\n").unwrap();
    fs::remove_file(root.join("gone.txt")).unwrap();
    fs::rename(root.join("old-name"), root.join("new-name")).unwrap();
    fs::set_permissions(root.join("mode.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("dir/sub/deep"), [9u8; 3000]).unwrap();
    fs::create_dir_all(root.join("made/a/b")).unwrap();
    fs::write(root.join("made/a/b/f"), "f").unwrap();
    fs::remove_file(root.join("link")).unwrap();
    symlink("elsewhere", root.join("newlink")).unwrap();
    fs::write(root.join(OsStr::from_bytes(b"new\nline")), "n").unwrap();
    fs::write(root.join(OsStr::from_bytes(b"bad\xffbyte")), "b").unwrap();
    fs::write(root.join("sub/build/out"), "rebuilt\n").unwrap();
    fs::write(root.join("sub/y.log"), "log2\n").unwrap();
    // Removing the .gitignore must not make the restore treat build/ as created.
    fs::remove_file(root.join(".gitignore")).unwrap();
    fs::set_permissions(root.join("dir"), fs::Permissions::from_mode(0o500)).unwrap();
}

fn setup() -> (tempfile::TempDir, Store, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("objects")).unwrap();
    let root = tmp.path().join("work");
    fs::create_dir(&root).unwrap();
    fixture(&root);
    (tmp, store, vec![root])
}

/// Path, kind, mode, hash, link target.
type Row = (Vec<u8>, Kind, u32, Option<String>, Option<Vec<u8>>);

fn comparable(m: &Manifest) -> Vec<Row> {
    m.entries
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                e.kind,
                e.mode,
                e.hash.map(|h| h.to_hex()),
                e.target.clone(),
            )
        })
        .collect()
}

#[test]
fn restore_undoes_every_kind_of_change_and_leaves_excluded_paths_alone() {
    let (tmp, store, roots) = setup();
    let root = roots[0].clone();
    let (base, filter) =
        snapshot::baseline(&store, &roots, Filter::new(vec![]), None, Budget::default()).unwrap();
    assert!(base.root_matches());
    assert_eq!(filter.gitignores.len(), 2);
    assert!(
        !base
            .entries
            .iter()
            .any(|e| e.path.starts_with(b"node_modules"))
    );
    assert!(
        !base
            .entries
            .iter()
            .any(|e| e.path.starts_with(b"sub/build"))
    );
    agent(&root);
    let after = snapshot::take(&store, &roots, &filter, Some(&base), Budget::default()).unwrap();
    let s = Summary::of(&diff(&base, &after));
    assert!(
        s.created >= 6 && s.deleted >= 3 && s.modified >= 2 && s.mode_changed >= 2,
        "{s:?}"
    );
    let journal = tmp.path().join("journal");
    let report = restore::restore(&store, &base, &filter, &journal, false).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.verified);
    assert!(!journal.exists());
    let again = snapshot::take(&store, &roots, &filter, None, Budget::default()).unwrap();
    assert_eq!(comparable(&again), comparable(&base));
    assert_eq!(again.merkle_root, base.merkle_root);
    // Excluded paths are exactly as the agent left them.
    assert_eq!(
        fs::read_to_string(root.join("sub/build/out")).unwrap(),
        "rebuilt\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("sub/y.log")).unwrap(),
        "log2\n"
    );
    assert!(root.join("node_modules/pkg/i.js").exists());
    assert_eq!(
        fs::read_link(root.join("link")).unwrap(),
        Path::new("keep.txt")
    );
    // A second restore has nothing to do.
    let r2 = restore::restore(&store, &base, &filter, &journal, false).unwrap();
    assert!(r2.planned.is_empty());
}

#[test]
fn an_interrupted_restore_run_again_ends_like_an_uninterrupted_one() {
    let (tmp, store, roots) = setup();
    let root = roots[0].clone();
    let (base, filter) =
        snapshot::baseline(&store, &roots, Filter::new(vec![]), None, Budget::default()).unwrap();
    agent(&root);
    // The state a kill -9 may leave: a journal, a half-written temporary file.
    let journal = tmp.path().join("journal");
    fs::write(
        &journal,
        format!(
            r#"{{"target":"{}","pid":1,"temp_dirs":[{{"root":0,"dir":"dir/sub"}}]}}"#,
            base.merkle_root
        ),
    )
    .unwrap();
    fs::set_permissions(root.join("dir"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("dir/sub/.nono-restore.1.0"), "half").unwrap();
    let report = restore::restore(&store, &base, &filter, &journal, false).unwrap();
    assert!(report.resumed);
    assert!(report.verified, "{:?}", report.failures);
    assert!(!root.join("dir/sub/.nono-restore.1.0").exists());
}

#[test]
fn a_symlinked_parent_is_not_written_through() {
    let (tmp, store, roots) = setup();
    let root = roots[0].clone();
    let (base, filter) =
        snapshot::baseline(&store, &roots, Filter::new(vec![]), None, Budget::default()).unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::set_permissions(root.join("dir"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_dir_all(root.join("dir")).unwrap();
    symlink(&outside, root.join("dir")).unwrap();
    let report = restore::restore(&store, &base, &filter, &tmp.path().join("j"), false).unwrap();
    assert!(!outside.join("sub/deep").exists());
    // The symlink was tracked, so it is removed and the directory recreated.
    assert!(report.verified, "{:?}", report.failures);
    assert!(fs::symlink_metadata(root.join("dir")).unwrap().is_dir());
}

#[test]
fn incremental_snapshots_reuse_hashes_and_a_budget_refuses_big_trees() {
    let (_tmp, store, roots) = setup();
    let (base, filter) = snapshot::baseline(
        &store,
        &roots,
        Filter::new(vec!["*.txt".into()]),
        None,
        Budget::default(),
    )
    .unwrap();
    assert!(!base.entries.iter().any(|e| e.path.ends_with(b".txt")));
    let again = snapshot::take(&store, &roots, &filter, Some(&base), Budget::default()).unwrap();
    assert_eq!(again.merkle_root, base.merkle_root);
    let err = snapshot::baseline(
        &store,
        &roots,
        Filter::new(vec![]),
        None,
        Budget {
            max_entries: 3,
            max_bytes: u64::MAX,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("over the budget of 3 entries"),
        "{err}"
    );
}
