//! `nono run --snapshot` and `nono session rollback|verify`: the issue's acceptance fixture,
//! as root and as uid 65534.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use super::*;

as_root_and_nobody!(
    rollback_latest_restores_every_change_and_leaves_excluded_files_as_left,
    verify_detects_a_flipped_byte_in_an_object_and_in_a_manifest,
    a_restore_killed_and_run_again_ends_like_an_uninterrupted_one,
);

/// (path, kind, mode, content or link target) of every path under `root`, leaving out the
/// built-in heavy directories and `sub/build` (ignored by `sub/.gitignore`).
fn manifest(root: &Path) -> BTreeSet<(Vec<u8>, char, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<(Vec<u8>, char, u32, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            if rel == b"node_modules" || rel == b"sub/build" || rel.ends_with(b".log") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                out.insert((rel, 'l', 0, t.as_os_str().as_bytes().to_vec()));
            } else if meta.is_dir() {
                out.insert((rel, 'd', mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.insert((rel, 'f', mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn fixture(scene: &Scene) -> PathBuf {
    let w = scene.w.work();
    std::fs::write(w.join("edit.txt"), "one\ntwo\n").unwrap();
    std::fs::write(w.join("gone.txt"), "bye\n").unwrap();
    std::fs::write(w.join("old-name"), "moved\n").unwrap();
    std::fs::write(w.join("mode.sh"), "#!/bin/sh\n").unwrap();
    std::fs::create_dir_all(w.join("dir/sub")).unwrap();
    std::fs::write(w.join("dir/sub/deep"), [0u8, 1, 2, 255]).unwrap();
    std::os::unix::fs::symlink("edit.txt", w.join("link")).unwrap();
    std::fs::create_dir_all(w.join("sub/build")).unwrap();
    std::fs::write(w.join("sub/.gitignore"), "build/\n*.log\n").unwrap();
    std::fs::write(w.join("sub/build/out"), "built\n").unwrap();
    std::fs::create_dir_all(w.join("node_modules/pkg")).unwrap();
    std::fs::write(w.join("node_modules/pkg/i.js"), "1").unwrap();
    scene.give(&w);
    w
}

const AGENT: &str = r#"set -e
printf 'one\n2\n' > edit.txt
rm gone.txt
mv old-name new-name
chmod 755 mode.sh
head -c 3000 /dev/zero | tr '\0' '\377' > dir/sub/deep
mkdir -p made/a/b && echo f > made/a/b/f
rm link && ln -s elsewhere newlink
echo n > "$(printf 'new\nline')"
echo b > "$(printf 'bad\377byte')"
echo rebuilt > sub/build/out
echo log > sub/y.log
rm sub/.gitignore
chmod 700 dir
"#;

fn snapshot_run(scene: &Scene) -> Output {
    let out = scene.run(&[
        "run",
        "-q",
        "--snapshot",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        AGENT,
    ]);
    assert_code(&out, 0, "the agent under --snapshot");
    out
}

fn rollback_latest_restores_every_change_and_leaves_excluded_files_as_left(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = fixture(&scene);
    let before = manifest(&w);
    let out = snapshot_run(&scene);
    let err = stderr(&out);
    assert!(
        err.contains("created,") && err.contains("mode changed"),
        "{err}"
    );
    assert!(err.contains("nono session rollback "), "{err}");
    assert_ne!(manifest(&w), before);
    // No terminal, no --yes: refused, nothing changed.
    let refused = scene.run(&["session", "rollback", "latest"]);
    assert_code(&refused, 2, "rollback without --yes and without a terminal");
    assert!(
        stderr(&refused).contains("pass --yes"),
        "{}",
        stderr(&refused)
    );
    let out = scene.run(&["session", "rollback", "latest", "--yes"]);
    assert_code(&out, 0, "rollback latest --yes");
    let after = manifest(&w);
    assert_eq!(
        after, before,
        "{:?}: the tree after rollback differs",
        scene.user
    );
    assert!(
        w.join(OsStr::from_bytes(b"bad\xffbyte"))
            .symlink_metadata()
            .is_err()
    );
    // Excluded paths: as the agent left them.
    assert_eq!(read(&w.join("sub/build/out")), "rebuilt\n");
    assert_eq!(read(&w.join("sub/y.log")), "log\n");
    assert!(w.join("node_modules/pkg/i.js").exists());
    // Session directories 0700, objects 0600.
    let state = scene.w.home().join(".local/state/nono");
    for s in std::fs::read_dir(state.join("sessions")).unwrap() {
        assert_eq!(mode_of(&s.unwrap().path()), 0o700);
    }
    let fan = std::fs::read_dir(state.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().len() == 2)
        .unwrap();
    assert_eq!(mode_of(&fan), 0o700);
    let obj = std::fs::read_dir(&fan)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode_of(&obj), 0o600);
    assert_eq!(std::fs::metadata(&obj).unwrap().uid(), scene.uid());
}

fn verify_detects_a_flipped_byte_in_an_object_and_in_a_manifest(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    fixture(&scene);
    snapshot_run(&scene);
    assert_code(
        &scene.run(&["session", "verify", "latest"]),
        0,
        "verify of an intact session",
    );
    let state = scene.w.home().join(".local/state/nono");
    let flip = |path: &Path, at: usize| {
        let mut b = std::fs::read(path).unwrap();
        let i = at.min(b.len() - 1);
        b[i] ^= 1;
        std::fs::write(path, b).unwrap();
    };
    // An object.
    let fan = std::fs::read_dir(state.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().len() == 2)
        .unwrap();
    let obj = std::fs::read_dir(&fan)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&obj).unwrap();
    flip(&obj, 0);
    let out = scene.run(&["session", "verify", "latest"]);
    assert_code(&out, 1, "verify with a flipped byte in an object");
    assert!(stdout(&out).contains("corrupt"), "{}", stdout(&out));
    std::fs::write(&obj, good).unwrap();
    // A manifest: a byte in the middle (a mode, a time or a name).
    let sessions: Vec<_> = std::fs::read_dir(state.join("sessions")).unwrap().collect();
    let dir = sessions[0].as_ref().unwrap().path();
    let m = dir.join("snapshots/0.json");
    let len = std::fs::metadata(&m).unwrap().len() as usize;
    flip(&m, len / 2);
    let out = scene.run(&["session", "verify", "latest"]);
    assert_code(&out, 1, "verify with a flipped byte in a manifest");
}

fn a_restore_killed_and_run_again_ends_like_an_uninterrupted_one(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = fixture(&scene);
    std::fs::create_dir(w.join("many")).unwrap();
    for i in 0..3000 {
        std::fs::write(w.join(format!("many/{i}")), format!("{i}\n")).unwrap();
    }
    std::fs::write(w.join("big"), vec![7u8; 64 << 20]).unwrap();
    scene.give(&w);
    let before = manifest(&w);
    let agent = format!("{AGENT}\nfor f in many/*; do echo x >> \"$f\"; done; rm big");
    let out = scene.run(&[
        "run",
        "-q",
        "--snapshot",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        &agent,
    ]);
    assert_code(&out, 0, "the agent");
    let program = match scene.user {
        User::Caller => PathBuf::from(env!("CARGO_BIN_EXE_nono")),
        User::Nobody => open_world_to_nobody(&scene.w),
    };
    let mut child = command_as(scene.user, &program)
        .args(["session", "rollback", "latest", "--yes"])
        .current_dir(w.clone())
        .env("HOME", scene.w.home())
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = child.kill();
    let _ = child.wait();
    let out = scene.run(&["session", "rollback", "latest", "--yes"]);
    assert_code(&out, 0, "the rollback run again");
    assert_eq!(
        manifest(&w),
        before,
        "{:?}: resumed restore differs",
        scene.user
    );
}
