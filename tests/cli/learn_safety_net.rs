//! `nono learn`'s safety net on ordinary programs: with a mount view, every existing
//! withheld path is hidden by a mount, so `/tmp` and `$HOME` stay writable while the
//! withheld paths stay out of reach; a refusal the safety net cannot avoid (a withheld
//! path that does not exist yet) is explained. As root and as uid 65534, with ptrace
//! and (as root) eBPF.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::*;

const KEY: &str = "PRIVATE-KEY-nono-safety-net";
const BASHRC: &str = "# bashrc of the test\n";

/// Who runs nono, and with which tracer.
#[derive(Clone, Copy, Debug)]
enum As {
    Root(&'static str),
    Nobody,
}

/// A scratch world whose home holds `~/.ssh/id_ed25519` and `~/.bashrc`; with `full`,
/// every other withheld path of the default profile under `$HOME` exists too.
fn world(full: bool) -> World {
    let w = World::new();
    w.write("home/.ssh/id_ed25519", KEY);
    w.write("home/.bashrc", BASHRC);
    if full {
        for path in withheld_in_home(&w) {
            if path.exists() {
                continue;
            }
            // A withheld path with another below it is a directory, the rest files.
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
        }
    }
    w
}

/// Every withheld path of the default profile below `$HOME` (deny groups and nono's
/// own directories), deepest first resolved as directories.
fn withheld_in_home(w: &World) -> Vec<PathBuf> {
    let out = w.run(&["profiles", "show", "default", "--json"]);
    assert_code(&out, 0, "profiles show");
    let report = json_stdout(&out);
    let mut paths: Vec<PathBuf> = vec![
        w.home().join(".config/nono"),
        w.home().join(".local/state/nono"),
    ];
    for group in report["groups"].as_array().unwrap() {
        if group["applies_here"] != true {
            continue;
        }
        for deny in group["group"]["deny"].as_array().into_iter().flatten() {
            if let Some(rest) = deny.as_str().and_then(|d| d.strip_prefix("~/")) {
                paths.push(w.home().join(rest));
            }
        }
    }
    // Directories first: a path with another withheld path below it.
    let dirs: Vec<PathBuf> = paths
        .iter()
        .filter(|p| paths.iter().any(|q| q != *p && q.starts_with(p)))
        .cloned()
        .collect();
    for dir in dirs.iter().chain(&paths[..2]) {
        std::fs::create_dir_all(dir).unwrap();
    }
    paths
}

fn json_stdout(out: &Output) -> serde_json::Value {
    let text = stdout(out);
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&stderr(out)))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Runs `nono learn --no-tui ARGS -- sh -c SCRIPT` in `cwd`, as `who`.
fn learn(w: &World, who: As, cwd: &Path, script: &str) -> Output {
    let bin = w.dir.path().join("nono");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_nono"), &bin).unwrap();
    }
    let backend = match who {
        As::Root(backend) => backend,
        As::Nobody => "ptrace",
    };
    let mut cmd = std::process::Command::new(match who {
        As::Root(_) => "env",
        As::Nobody => "setpriv",
    });
    if let As::Nobody = who {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let status = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(w.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"]);
    }
    cmd.current_dir(cwd)
        .env("HOME", w.home())
        .env("NO_COLOR", "1")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("TMPDIR")
        .env_remove("SUDO_USER")
        .arg(&bin)
        .args([
            "learn",
            "--no-tui",
            "--backend",
            backend,
            "--",
            "sh",
            "-c",
            script,
        ]);
    // A child another test thread forked while the copy was open for writing holds that
    // descriptor until it execs ("Text file busy"): try again shortly.
    for _ in 0..20 {
        let out = cmd.output().unwrap();
        if !(out.status.code() == Some(126) && stderr(&out).contains("Text file busy")) {
            assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cmd.output().unwrap()
}

fn who_can_run() -> Vec<As> {
    if !is_root() {
        skip("the safety-net tests switch to uid 65534 and use eBPF: they need root");
        return Vec::new();
    }
    vec![As::Root("ptrace"), As::Root("ebpf"), As::Nobody]
}

/// The events of the session the output names.
fn session_events(out: &Output) -> String {
    let err = stderr(out);
    let dir = err
        .lines()
        .find_map(|l| l.strip_prefix("session: "))
        .unwrap_or_else(|| panic!("no session line:\n{err}"));
    read(&Path::new(dir).join("events.jsonl"))
}

/// A C file built with make: gcc creates its temporary files in /tmp (mkstemp).
fn c_project(w: &World) {
    w.write("work/hello.c", "int main(void) { return 0; }\n");
    w.write("work/Makefile", "hello: hello.c\n\tcc -o hello hello.c\n");
}

#[test]
fn with_every_withheld_path_present_make_builds_in_tmp_while_learning() {
    for who in who_can_run() {
        let w = world(true);
        c_project(&w);
        let out = learn(&w, who, &w.work(), "make");
        assert_code(&out, 0, &format!("make under the safety net ({who:?})"));
        assert!(w.work().join("hello").exists(), "{who:?}");
        let err = stderr(&out);
        assert!(!err.contains("nono: note:"), "{who:?}: {err}");
        assert!(!err.contains("REFUSED BY THE SAFETY NET"), "{who:?}: {err}");
        let events = session_events(&out);
        let refused: Vec<&str> = events
            .lines()
            .filter(|l| l.contains("\"path\":\"/tmp/") && l.contains("\"result\":-13"))
            .collect();
        assert!(refused.is_empty(), "{who:?}: EACCES in /tmp: {refused:#?}");
    }
}

#[test]
fn with_every_withheld_path_present_the_command_writes_in_home() {
    for who in who_can_run() {
        let w = world(true);
        let out = learn(
            &w,
            who,
            &w.home(),
            "/usr/bin/python3 -c 'open(\"out.txt\", \"w\").write(\"x\")'",
        );
        assert_code(&out, 0, &format!("python in $HOME ({who:?})"));
        assert_eq!(read(&w.home().join("out.txt")), "x", "{who:?}");
    }
}

/// A fresh home lacks nearly every withheld path; the directories on the way to them
/// ($HOME, and /tmp above it) get no right to create entries. gcc then fails, and nono
/// says why: before the command starts, and at the refused paths in the summary.
#[test]
fn in_a_fresh_home_the_refusals_are_explained() {
    for who in who_can_run() {
        let w = world(false);
        c_project(&w);
        let out = learn(&w, who, &w.work(), "make");
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{who:?}: {err}");
        assert!(
            err.contains(
                "nono: note: the safety net lets the command create nothing directly in ~,"
            ) && err.contains("/tmp, /:"),
            "{who:?}: {err}"
        );
        assert!(err.contains("REFUSED BY THE SAFETY NET"), "{who:?}: {err}");
        assert!(
            err.lines().any(|l| l.trim_start().starts_with("/tmp/")
                && l.contains("refused by the safety net (/tmp is on the way to withheld names that do not exist yet: ~/")
                && l.contains("--no-safety-net")),
            "{who:?}: {err}"
        );

        let out = learn(
            &w,
            who,
            &w.home(),
            "/usr/bin/python3 -c 'open(\"out.txt\", \"w\").write(\"x\")'",
        );
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{who:?}: {err}");
        let line = format!(
            "{}/out.txt  — refused by the safety net (~ holds withheld names that do not exist yet: ~/.",
            w.home().display()
        );
        assert!(err.contains(&line), "{who:?}: {err}");
        assert!(
            err.contains(
                "create the entry before learning, learn in a subdirectory, or use --no-safety-net"
            ),
            "{who:?}: {err}"
        );
        assert!(!w.home().join("out.txt").exists());
    }
}

/// Everything withheld stays withheld when /tmp and $HOME are writable: reading and
/// listing, creating inside a withheld directory, writing a withheld file, and the
/// ways around a path check (a symlink and a hard link from a writable directory,
/// renaming the withheld directory or the home that holds it, unmounting the mask).
#[test]
fn the_safety_net_still_withholds_every_withheld_path() {
    for who in who_can_run() {
        let w = world(true);
        let h = w.home();
        let h = h.display();
        let moved = format!("{}/moved-home", w.dir.path().display());
        let script = format!(
            "cd {work}; \
             cat {h}/.ssh/id_ed25519; \
             ls {h}/.ssh; \
             echo planted > {h}/.ssh/authorized_keys; \
             echo planted >> {h}/.bashrc; \
             ln -s {h}/.ssh/id_ed25519 link; cat link; \
             ln {h}/.ssh/id_ed25519 hard; cat hard; \
             ln {h}/.bashrc hardrc; echo planted >> hardrc; \
             mv {h}/.ssh ssh-moved; cat ssh-moved/id_ed25519; \
             rm -rf {h}/.ssh; \
             umount {h}/.ssh; umount -l {h}/.ssh; cat {h}/.ssh/id_ed25519; \
             mv {h} {moved} && {{ cat {moved}/.ssh/id_ed25519; mv {moved} {h}; }}; \
             true",
            work = w.work().display(),
        );
        let out = learn(&w, who, &w.work(), &script);
        assert_code(&out, 0, &format!("the probes ({who:?})"));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(KEY), "{who:?}: the key leaked:\n{all}");
        assert!(
            !all.contains("authorized_keys\n"),
            "{who:?}: listed ~/.ssh:\n{all}"
        );
        let home = w.home();
        assert_eq!(read(&home.join(".ssh/id_ed25519")), KEY, "{who:?}");
        assert!(!home.join(".ssh/authorized_keys").exists(), "{who:?}");
        assert_eq!(read(&home.join(".bashrc")), BASHRC, "{who:?}");
        assert!(!w.work().join("ssh-moved").exists(), "{who:?}");
        assert!(home.exists(), "{who:?}");
    }
}
