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
pub(crate) struct Tmux {
    socket: String,
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    pub(crate) fn new() -> Option<Tmux> {
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

    /// The server's name (`tmux -L NAME`).
    pub(crate) fn socket_name(&self) -> String {
        self.socket.clone()
    }

    /// Starts `command` (a shell command line) in a detached session of `size`
    /// (columns, rows).
    pub(crate) fn start(&mut self, command: &str, size: (u16, u16)) {
        let (w, h) = (size.0.to_string(), size.1.to_string());
        let out = self.tmux(&["new-session", "-d", "-x", &w, "-y", &h, command]);
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

    /// Resizes the window (the program in it gets SIGWINCH).
    fn resize(&self, size: (u16, u16)) {
        let (w, h) = (size.0.to_string(), size.1.to_string());
        let out = self.tmux(&["resize-window", "-t", "0", "-x", &w, "-y", &h]);
        assert!(
            out.status.success(),
            "tmux resize-window failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends keys by tmux name (`Enter`, `Escape`, `C-u`, `+`).
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys {keys:?} failed");
    }

    /// Searches (`/`) for `text`, which puts the cursor on the first row matching
    /// it, then presses `keys` there.
    fn find_then(&self, text: &str, keys: &[&str]) {
        self.keys(&["/"]);
        self.type_text(text);
        self.keys(&["Enter"]);
        if !keys.is_empty() {
            self.keys(keys);
        }
    }

    /// Types text literally.
    pub(crate) fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "0", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?} failed");
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// Waits until the screen shows `needle`; panics with the screen after `secs`.
    pub(crate) fn wait_for(&self, needle: &str, secs: u64) -> String {
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
pub(crate) fn quote(word: &str) -> String {
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
    tmux.start(&command, (120, 40));

    // The rows and the command's output appear, and the command ends.
    tmux.wait_for("exited 0", 30);
    let screen = tmux.wait_for("finished", 10);
    assert!(screen.contains("key-refused"), "{screen}");
    assert!(screen.contains("Files"), "{screen}");

    // Widen the read of a.txt to its directory, then allow it.
    tmux.find_then("a.txt", &["+"]);
    tmux.wait_for(&format!("widened to {t}/in/sub/"), 5);
    tmux.keys(&["y"]);
    tmux.wait_for(&format!("allowed {t}/in/sub/ (read)"), 5);

    // Deny the read of c.txt.
    tmux.find_then("c.txt", &["d"]);
    tmux.wait_for(&format!("denied {t}/secret/c.txt"), 5);

    // Accept the suggested rule for the directory the file was created in.
    tmux.find_then("/out", &["y"]);
    tmux.wait_for(&format!("allowed {t}/out/ (write)"), 5);

    // The key: the wrong confirmation word grants nothing.
    tmux.find_then("id_rsa", &["y"]);
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
    tmux.start(&command, (120, 40));
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

/// `nono learn -- sh -c SCRIPT` in the world, with its state (sessions) in the world
/// too, followed by its exit code on the screen.
fn learn_command(w: &World, script: &str) -> String {
    format!(
        "cd {work} && env -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME \
         XDG_STATE_HOME={state} HOME={home} NO_COLOR=1 {nono} learn -- sh -c {script}; \
         echo NONO-EXIT=$?; sleep 300",
        work = quote(p(&w.work())),
        state = quote(p(&w.dir.path().join("state"))),
        home = quote(p(&w.home())),
        nono = quote(env!("CARGO_BIN_EXE_nono")),
        script = quote(script),
    )
}

/// The last line of the screen that is not blank.
fn footer(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[test]
fn review_at_80x24_keeps_save_all_safe_whole_names_and_the_whole_help() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the review screen's 80×24 test needs it");
    };
    let w = World::new();
    let t = p(w.dir.path()).to_string();
    for name in ["settings.json", "report-2024.csv", "a/b/c/notes-long.txt"] {
        w.write(&format!("data/{name}"), "x");
    }
    let script = format!(
        "cat {t}/data/settings.json {t}/data/report-2024.csv {t}/data/a/b/c/notes-long.txt \
         >/dev/null; echo finished"
    );
    tmux.start(&learn_command(&w, &script), (80, 24));
    tmux.wait_for("finished", 30);
    tmux.wait_for("exited 0", 30);
    // The footer keeps the keys to save and to accept the safe suggestions (once a key
    // has cleared the message that the command exited).
    tmux.keys(&["j"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut screen = tmux.screen();
    while footer(&screen).contains("exited") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        screen = tmux.screen();
    }
    let last = footer(&screen);
    for hint in ["s save", "A all safe", "? help", "q quit"] {
        assert!(last.contains(hint), "no `{hint}` in the footer:\n{screen}");
    }
    // File names are readable, not cut to a few letters (each is searched for, so
    // that its row is on screen).
    for name in ["settings.json", "report-2024.csv", "notes-long.txt"] {
        tmux.find_then(name, &[]);
        let row = format!("│{}", name);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let screen = tmux.screen();
            let shown = screen
                .lines()
                .any(|l| l.contains(name) && l.contains("? ") && !l.starts_with(&row));
            if shown {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`{name}` is not shown whole with its suggestion at 80×24:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // The help fits whole: its first and last entries show, and it does not scroll.
    tmux.keys(&["?"]);
    let screen = tmux.wait_for("none: + widens to the dir", 5);
    for line in [
        "Moving",
        "j k ↓ ↑    down / up",
        "S-PgUp/Dn  scroll back / forward",
        "A          accept all safe rows",
        "s ^S       save (shows a diff first)",
        "globs      none: + widens to the dir",
    ] {
        assert!(screen.contains(line), "`{line}` not in the help:\n{screen}");
    }
    assert!(
        !screen.contains("j/k scroll"),
        "the help scrolls:\n{screen}"
    );
    // Nothing decided and the command ended: q quits without asking.
    // (Escape and q sent together would read as Alt-q.)
    tmux.keys(&["Escape"]);
    tmux.wait_for("Details", 5);
    tmux.keys(&["q"]);
    tmux.wait_for("NONO-EXIT=0", 10);
}

/// The one session the world's `nono learn` recorded.
fn only_session(w: &World) -> std::path::PathBuf {
    let dir = w.dir.path().join("state/nono/sessions");
    let sessions: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions.into_iter().next().unwrap()
}

#[test]
fn output_pane_scrolls_back_and_output_log_keeps_the_whole_output() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the output pane's scrollback test needs it");
    };
    let w = World::new();
    tmux.start(
        &learn_command(&w, "seq 1 20000 | sed 's/^/line /'; echo all-printed"),
        (80, 24),
    );
    tmux.wait_for("exited 0", 60);
    tmux.wait_for("all-printed", 10);
    // Back to the oldest line kept: at least 10,000 lines up.
    tmux.keys(&["S-Home"]);
    let screen = tmux.wait_for("lines back", 5);
    let shown: Vec<u32> = screen
        .lines()
        .filter_map(|l| l.strip_prefix("│line "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    let first = *shown
        .first()
        .unwrap_or_else(|| panic!("no lines:\n{screen}"));
    assert!(
        first <= 10_001,
        "scrolled back only to line {first}:\n{screen}"
    );
    // A page forward moves the view down (the first line leaves it, a line below the
    // view comes in), S-End goes back to the end.
    tmux.keys(&["S-NPage"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let screen = tmux.screen();
        let gone = !screen.contains(&format!("│line {first} "));
        let below = screen.contains(&format!("│line {} ", first + shown.len() as u32));
        if gone && below {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "S-PgDn did not scroll:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.keys(&["S-End"]);
    tmux.wait_for("Output — closed", 5);
    tmux.keys(&["q"]);
    tmux.wait_for("NONO-EXIT=", 10);

    // The session directory keeps every line, in order, private to the user.
    let log = only_session(&w).join("output.log");
    let text = std::fs::read_to_string(&log).expect("output.log in the session directory");
    let lines: Vec<&str> = text.split("\r\n").collect();
    let expected: Vec<String> = (1..=20_000).map(|i| format!("line {i}")).collect();
    assert_eq!(lines[..20_000], expected[..], "output.log lost lines");
    assert_eq!(lines[20_000], "all-printed");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "output.log's mode");
}

#[test]
fn the_command_sees_the_output_pane_size_and_is_told_of_resizes() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the command's terminal size test needs it");
    };
    let w = World::new();
    // The shell reports its terminal's size at the start and on every SIGWINCH.
    let script = "echo \"size $(stty size)\"; trap 'echo \"size $(stty size)\"' WINCH; \
                  echo ready; while :; do sleep 0.1; done";
    tmux.start(&learn_command(&w, script), (80, 24));
    // At 80×24 the output pane has 5 rows of 78 columns inside its border.
    let screen = tmux.wait_for("ready", 30);
    assert!(screen.contains("size 5 78"), "{screen}");
    // A bigger window: a bigger pane (a third of the body: 7 rows of 98).
    tmux.resize((100, 30));
    tmux.wait_for("size 7 98", 10);
    // Zoomed (z, then Tab into the output pane), the command gets the whole body.
    tmux.keys(&["z", "Tab"]);
    tmux.wait_for("size 25 98", 10);
    tmux.keys(&["Tab", "z", "q"]);
    tmux.wait_for("Quit?", 5);
    tmux.keys(&["y"]);
    tmux.wait_for("NONO-EXIT=", 10);
}

/// `nono learn -- sh SCRIPT` in the scratch world, for tmux: the exit status is
/// printed after it, and the pane stays open.
fn learn_script_command(w: &World, script: &Path) -> String {
    format!(
        "cd {work} && env -u XDG_CONFIG_HOME -u XDG_STATE_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME \
         HOME={home} NO_COLOR=1 {nono} learn -- sh {script}; echo NONO-EXIT=$?; sleep 300",
        work = quote(p(&w.work())),
        home = quote(p(&w.home())),
        nono = quote(env!("CARGO_BIN_EXE_nono")),
        script = quote(p(script)),
    )
}

/// Issue 13, defect 4: `d` on one file of a directory suggestion denied the whole
/// directory, and `d` on a file of the working directory dropped the workdir grant.
/// `d` denies the row only; the directory and the working directory are then allowed
/// on other rows, and the saved profile carves the denied files out — `nono run`
/// proves it.
#[test]
fn review_d_denies_the_row_only_and_the_profile_carves_it_out() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the review screen's end-to-end test needs it");
    };
    let w = World::new();
    let t = w.dir.path().display().to_string();
    let work = p(&w.work()).to_string();
    for f in ["a", "b", "c", "d"] {
        w.write(&format!("data/set/{f}.txt"), f);
    }
    w.write("work/config.ini", "secret=1");
    w.write("work/src/main.py", "print()");
    let script = w.write(
        "fixture.sh",
        &format!(
            "cat {t}/data/set/a.txt {t}/data/set/b.txt {t}/data/set/c.txt {t}/data/set/d.txt\n\
             cat config.ini src/main.py\necho finished\n"
        ),
    );
    let saved = w.dir.path().join("saved.json");
    tmux.start(&learn_script_command(&w, &script), (120, 40));
    tmux.wait_for("exited 0", 30);

    // d on one file of the four: that file only; the directory stays pending.
    tmux.find_then("b.txt", &["d"]);
    tmux.wait_for(&format!("denied {t}/data/set/b.txt (read) only;"), 5);
    // y on a sibling allows the directory and carves b.txt out, saying what it costs.
    tmux.find_then("a.txt", &["y"]);
    tmux.wait_for("1 denied path inside carved out (filesystem.deny)", 5);

    // d on a file of the working directory: that file only.
    tmux.find_then("config.ini", &["d"]);
    tmux.wait_for(&format!("denied {work}/config.ini (read) only;"), 5);
    tmux.find_then("main.py", &["y"]);
    tmux.wait_for("workdir.access = read", 5);

    tmux.keys(&["s"]);
    tmux.wait_for("Save profile", 5);
    tmux.keys(&["C-u"]);
    tmux.type_text(p(&saved));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("saved {}", p(&saved)), 5);
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("NONO-EXIT=", 10);
    assert!(screen.contains("NONO-EXIT=0"), "{screen}");

    let text = std::fs::read_to_string(&saved).expect("the profile was saved");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["filesystem"]["read"],
        serde_json::json!([format!("{t}/data/set")]),
        "{text}"
    );
    assert_eq!(
        json["filesystem"]["deny"],
        serde_json::json!([format!("{t}/data/set/b.txt"), format!("{work}/config.ini")]),
        "{text}"
    );
    assert_eq!(json["workdir"]["access"], "read", "{text}");

    let run = |file: &str| w.run(&["run", "-q", "--profile", p(&saved), "--", "cat", file]);
    for allowed in [
        format!("{t}/data/set/a.txt"),
        format!("{t}/data/set/c.txt"),
        "src/main.py".to_string(),
    ] {
        assert_code(&run(&allowed), 0, &format!("reading {allowed}"));
    }
    for denied in [format!("{t}/data/set/b.txt"), "config.ini".to_string()] {
        let out = run(&denied);
        assert_code(&out, 1, &format!("reading the denied {denied}"));
        // Refused by Landlock, or absent from the mount view built from the grants.
        assert!(
            stderr(&out).contains("Permission denied") || stderr(&out).contains("No such file"),
            "{}",
            stderr(&out)
        );
    }
}

/// Issue 13, defect 5: with the command waiting at its prompt and the review holding
/// the keys, typing `dan` denied a rule. Now the output pane takes the keys as soon as
/// the command waits (and the screen says so), the answer reaches the command, no
/// decision is made, and once the command exits `q` quits the review again.
#[test]
fn review_gives_the_keys_to_a_command_waiting_for_input_and_takes_them_back() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the review screen's end-to-end test needs it");
    };
    let w = World::new();
    let t = w.dir.path().display().to_string();
    w.write("data/x.txt", "x");
    let script = w.write(
        "fixture.sh",
        &format!("cat {t}/data/x.txt\nprintf 'Name? '\nread name\necho \"hello $name\"\n"),
    );
    tmux.start(&learn_script_command(&w, &script), (120, 40));
    let screen = tmux.wait_for("WAITING FOR INPUT", 30);
    assert!(screen.contains("keys go to it"), "{screen}");
    tmux.type_text("dan");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("hello dan", 10);
    let screen = if screen.contains("exited 0") {
        screen
    } else {
        tmux.wait_for("exited 0", 10)
    };
    assert!(
        screen.contains("0 decided"),
        "keys typed for the command became decisions:\n{screen}"
    );
    assert!(!screen.contains("WAITING FOR INPUT"), "{screen}");
    // The keys are the review's again: q quits (nothing decided, nothing runs).
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("NONO-EXIT=", 10);
    assert!(screen.contains("NONO-EXIT=0"), "{screen}");
}

/// Issue 13, defect 6: finding what to decide. After the command exits the cursor is
/// on the first pending row; `p` and `P` go to the next and previous pending rows,
/// through folded directories; a folded directory counts the pending rows inside it;
/// `A`'s message gives the header's pending count.
#[test]
fn review_p_walks_the_pending_rows_and_counts_agree() {
    let Some(mut tmux) = Tmux::new() else {
        return skip("tmux is not installed: the review screen's end-to-end test needs it");
    };
    let w = World::new();
    let t = w.dir.path().display().to_string();
    w.write("tree/x/one.txt", "1");
    w.write("tree/y/two.txt", "2");
    w.write("tree/z/three.txt", "3");
    let script = w.write(
        "fixture.sh",
        &format!("cat {t}/tree/x/one.txt {t}/tree/y/two.txt {t}/tree/z/three.txt\necho finished\n"),
    );
    tmux.start(&learn_script_command(&w, &script), (120, 40));
    let screen = tmux.wait_for("exited 0", 30);
    let screen = if screen.contains("p / P: next") {
        screen
    } else {
        tmux.wait_for("p / P: next", 5)
    };
    // The first pending row is selected: its path heads the Details pane.
    let pending: Vec<String> = [
        "fixture.sh",
        "tree/x/one.txt",
        "tree/y/two.txt",
        "tree/z/three.txt",
    ]
    .iter()
    .map(|f| format!("{t}/{f}"))
    .collect();
    let header_count = |screen: &str| -> usize {
        let at = screen
            .find(" pending │")
            .expect("the header's pending count");
        screen[..at]
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count before ` pending`:\n{screen}"))
    };
    assert_eq!(header_count(&screen), 4, "{screen}");
    let detail_path = |screen: &str| -> String {
        pending
            .iter()
            .find(|p| {
                screen
                    .lines()
                    .any(|l| l.contains(&format!("│{p}")) || l.contains(&format!("│ {p}")))
            })
            .cloned()
            .unwrap_or_default()
    };
    let first = detail_path(&screen);
    assert!(
        !first.is_empty(),
        "no pending row selected after exit:\n{screen}"
    );

    // Fold everything: the folded tree counts its pending rows, p still finds them.
    tmux.keys(&["C", "g"]);
    tmux.wait_for("pending inside", 5);
    let status_line = |screen: &str| {
        screen
            .lines()
            .find(|l| l.contains("pending rows in all"))
            .map(str::to_string)
    };
    let mut visited: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for _ in 0..4 {
        tmux.keys(&["p"]);
        // Each press goes to another row: wait for the status line to change.
        let deadline = Instant::now() + Duration::from_secs(5);
        let line = loop {
            let screen = tmux.screen();
            match status_line(&screen) {
                Some(line) if Some(&line) != last.as_ref() => break line,
                _ if Instant::now() > deadline => panic!("p did not move:\n{screen}"),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let at = pending
            .iter()
            .find(|p| line.contains(&format!("pending: {p} ")))
            .unwrap_or_else(|| panic!("p went to no pending row: {line}"));
        visited.push(at.clone());
        last = Some(line);
    }
    let mut sorted = visited.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        4,
        "p did not visit the four pending rows: {visited:?}"
    );
    tmux.keys(&["P"]);
    tmux.wait_for(&format!("pending: {} ", visited[2]), 5);

    // A accepts them all: its message and the header agree.
    tmux.keys(&["A"]);
    let screen = tmux.wait_for("pending left for you", 5);
    let said: usize = screen
        .split("; ")
        .find_map(|part| {
            part.strip_suffix(" pending left for you")
                .and_then(|n| n.parse().ok())
        })
        .or_else(|| {
            let at = screen.find(" pending left for you")?;
            screen[..at].rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no count in A's message:\n{screen}"));
    assert_eq!(said, header_count(&screen), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("Quit?", 5);
    tmux.keys(&["y"]);
    tmux.wait_for("NONO-EXIT=", 10);
}
