//! The review screen of `nono learn`, driven for real: the binary runs in a tmux pane
//! (a real terminal), keys go in with `send-keys`, the screen comes back with
//! `capture-pane`. One fixture reads, writes and creates files and reaches for an SSH
//! key; the test widens one rule, denies one path, accepts one, refuses the key with a
//! wrong confirmation word, saves, and then checks that `nono run` on the saved profile
//! allows exactly what was approved.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::util::*;

/// A private tmux server, killed (and its socket removed) when dropped, also when
/// the test fails.
struct Tmux {
    socket: String,
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    fn new() -> Option<Tmux> {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        found.then(|| Tmux {
            // One server per test: tests run in parallel and one kills its server.
            socket: {
                static NEXT: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("nono-test-{}-{n}", std::process::id())
            },
            socket_path: None,
        })
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Starts `command` (a shell command line) in a detached 120×40 session.
    fn start(&mut self, command: &str) {
        let out = self.tmux(&["new-session", "-d", "-x", "120", "-y", "40", command]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = self
            .tmux(&["display-message", "-p", "#{socket_path}"])
            .stdout;
        let path = String::from_utf8_lossy(&path).trim().to_string();
        self.socket_path = (!path.is_empty()).then(|| path.into());
    }

    /// Sends keys by tmux name (`Enter`, `Escape`, `C-u`, `+`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys {keys:?} failed");
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "0", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?} failed");
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// Waits until the screen shows `needle`; panics with the screen after `secs`.
    fn wait_for(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("waited {secs}s for `{needle}`; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Single-quotes a word for the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[test]
fn review_screen_widens_denies_saves_and_the_profile_enforces_exactly_that() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the review screen's end-to-end test needs it");
    };
    let w = World::new();
    let t = w.dir.path().display().to_string();
    w.write("in/sub/a.txt", "A");
    w.write("in/sub/b.txt", "B");
    w.write("in/other.txt", "O");
    w.write("secret/c.txt", "C");
    w.write("home/.ssh/id_rsa", "PRIVATE KEY");
    std::fs::create_dir_all(w.dir.path().join("out")).unwrap();
    let script = w.write(
        "fixture.sh",
        &format!(
            "cat {t}/in/sub/a.txt\ncat {t}/secret/c.txt\necho new > {t}/out/new.txt\n\
             cat \"$HOME/.ssh/id_rsa\" 2>/dev/null || echo key-refused\necho finished\n"
        ),
    );
    let saved = w.dir.path().join("saved.json");
    let nono = env!("CARGO_BIN_EXE_nono");
    let command = format!(
        "cd {work} && env -u XDG_CONFIG_HOME -u XDG_STATE_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME \
         HOME={home} NO_COLOR=1 {nono} learn -- sh {script}; echo NONO-EXIT=$?; sleep 300",
        work = quote(p(&w.work())),
        home = quote(p(&w.home())),
        nono = quote(nono),
        script = quote(p(&script)),
    );
    tmux.start(&command);

    // The rows and the command's output appear, and the command ends.
    tmux.wait_for("exited 0", 30);
    let screen = tmux.wait_for("finished", 10);
    assert!(screen.contains("key-refused"), "{screen}");
    assert!(screen.contains("Files"), "{screen}");

    // Widen the read of a.txt to its directory, then allow it.
    tmux.keys(&["/"]);
    tmux.type_text("a.txt");
    tmux.keys(&["Enter", "+"]);
    tmux.wait_for(&format!("widened to {t}/in/sub/"), 5);
    tmux.keys(&["y"]);
    tmux.wait_for(&format!("allowed {t}/in/sub/ (read)"), 5);

    // Deny the read of c.txt.
    tmux.keys(&["/"]);
    tmux.type_text("c.txt");
    tmux.keys(&["Enter", "d"]);
    tmux.wait_for(&format!("denied {t}/secret/c.txt"), 5);

    // Accept the suggested rule for the directory the file was created in.
    tmux.keys(&["/"]);
    tmux.type_text("/out");
    tmux.keys(&["Enter", "y"]);
    tmux.wait_for(&format!("allowed {t}/out/ (write)"), 5);

    // The key: the wrong confirmation word grants nothing.
    tmux.keys(&["/"]);
    tmux.type_text("id_rsa");
    tmux.keys(&["Enter", "y"]);
    tmux.wait_for("Sensitive path", 5);
    tmux.type_text("yes");
    tmux.keys(&["Enter"]);
    tmux.wait_for("nothing was granted", 5);
    tmux.keys(&["Escape"]);
    tmux.wait_for("not granted", 5);

    // Save to a path, then quit.
    tmux.keys(&["s"]);
    tmux.wait_for("Save profile", 5);
    tmux.keys(&["C-u"]);
    tmux.type_text(p(&saved));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("saved {}", p(&saved)), 5);
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("NONO-EXIT=", 10);
    assert!(
        screen.contains("NONO-EXIT=0"),
        "nono learn did not exit 0:\n{screen}"
    );
    assert!(screen.contains("nono: saved"), "{screen}");

    // The profile holds exactly the approved rules.
    let text = std::fs::read_to_string(&saved).expect("the profile was saved");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["extends"], "default", "{text}");
    let fs = &json["filesystem"];
    assert_eq!(
        fs["read"],
        serde_json::json!([format!("{t}/in/sub")]),
        "{text}"
    );
    assert_eq!(
        fs["write"],
        serde_json::json!([format!("{t}/out")]),
        "{text}"
    );
    for key in [
        "allow",
        "read_file",
        "write_file",
        "allow_file",
        "bypass_protection",
    ] {
        assert!(fs.get(key).is_none(), "unexpected `{key}` in\n{text}");
    }
    assert!(!text.contains(".ssh") && !text.contains("secret"), "{text}");
    assert_code(
        &w.run(&["profiles", "validate", p(&saved)]),
        0,
        "the saved profile validates",
    );

    // `nono run` on it: the approved accesses work (the widened rule covers a sibling),
    // the denied one and everything else fail.
    let run = |args: &[&str]| {
        let mut all = vec!["run", "-q", "--profile", p(&saved), "--"];
        all.extend_from_slice(args);
        w.run(&all)
    };
    let a = run(&["cat", &format!("{t}/in/sub/a.txt")]);
    assert_code(&a, 0, "reading the approved file");
    assert_eq!(stdout(&a), "A");
    assert_code(
        &run(&["cat", &format!("{t}/in/sub/b.txt")]),
        0,
        "reading a file of the widened directory",
    );
    assert_code(
        &run(&["sh", "-c", &format!("echo again > {t}/out/second.txt")]),
        0,
        "creating a file where creation was approved",
    );
    for denied in [
        format!("{t}/secret/c.txt"),
        format!("{t}/in/other.txt"),
        format!("{}/.ssh/id_rsa", p(&w.home())),
    ] {
        let out = run(&["cat", &denied]);
        assert_code(&out, 1, &format!("reading {denied}"));
        assert!(
            stderr(&out).contains("Permission denied")
            // Outside the grants a path does not exist in the mount view.
            || stderr(&out).contains("No such file or directory"),
            "{denied}: {}",
            stderr(&out)
        );
    }
    assert!(Path::new(&format!("{t}/out/second.txt")).exists());
}

/// Regression: when its terminal went away (the terminal emulator closed), the review
/// screen's key reader spun inside crossterm on `read() == 0` and `nono learn` never
/// exited. It must exit, and take the traced command with it.
#[test]
fn review_exits_when_its_terminal_goes_away() {
    let Some(mut tmux) = Tmux::new() else {
        skip("needs tmux (Debian package tmux)");
        return;
    };
    let w = World::new();
    let marker = format!("nono-hangup-{}", std::process::id());
    let command = format!(
        "cd {} && HOME={} {} learn -- sh -c {}",
        quote(p(&w.work())),
        quote(p(&w.home())),
        quote(env!("CARGO_BIN_EXE_nono")),
        quote(&format!("echo started; exec -a {marker} sleep 60"))
    );
    tmux.start(&command);
    tmux.wait_for("Files", 20);
    let alive = || {
        Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .is_ok_and(|o| o.status.success())
            || Command::new("pgrep")
                .args(["-f", "nono learn -- sh -c echo started"])
                .output()
                .is_ok_and(|o| o.status.success())
    };
    let _ = tmux.tmux(&["kill-server"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !alive(),
        "nono learn (or its command) outlived its terminal"
    );
}
