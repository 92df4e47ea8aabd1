//! Real programs learned and replayed: `nono learn --no-tui -o PROFILE -- CMD`, the
//! starting state put back, then `nono run --profile PROFILE -- CMD` must succeed, the
//! profile must grant neither `/`, `$HOME` nor a name that only existed during the
//! trace (a temporary file), and files the program did not touch stay denied.
//!
//! Each case gets a fresh world: a home, a working directory, inputs beside it
//! (`data/`) and files nobody touches (`other/untouched.txt`, `home/notes.txt`). The
//! world lives outside `/tmp` and `/var/tmp`: under the safety net a command cannot
//! create entries in `$HOME` or the directories above it, so a home below `/tmp`
//! would refuse every temporary file there while learning (a case below checks that
//! too, once that is mended).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::*;

/// A world for one case.
struct Corpus {
    dir: tempfile::TempDir,
    /// Runs nono as uid 65534 (from a copy of the binary inside the world).
    nobody: bool,
    /// `TMPDIR` for the commands, when set.
    tmpdir: Option<PathBuf>,
    /// `--backend` for the learn (auto when unset).
    backend: Option<&'static str>,
}

/// Where worlds are made: the build's temporary directory, unless that is below a
/// temporary directory of the system (a worktree under /tmp); then `/srv` (root only).
fn base() -> Option<PathBuf> {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let in_temp = |p: &Path| p.starts_with("/tmp") || p.starts_with("/var/tmp");
    // Every directory on the way must be searchable by uid 65534.
    let searchable = |p: &Path| {
        p.ancestors()
            .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
    };
    if !in_temp(&target) && searchable(&target) {
        return Some(target);
    }
    if is_root() && Path::new("/srv").is_dir() && searchable(Path::new("/srv")) {
        return Some(PathBuf::from("/srv"));
    }
    None
}

impl Corpus {
    /// A world outside the temporary directories, or `None` (said as a skip).
    fn new(nobody: bool) -> Option<Corpus> {
        if nobody && !can_switch_user() {
            return None;
        }
        let Some(base) = base() else {
            skip(
                "needs a directory outside /tmp and /var/tmp for the corpus (CARGO_TARGET_TMPDIR is below /tmp; /srv needs root)",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("nono-corpus-")
            .tempdir_in(base)
            .expect("creating the corpus world");
        Some(Corpus::at(dir, nobody))
    }

    fn at(dir: tempfile::TempDir, nobody: bool) -> Corpus {
        let c = Corpus {
            dir,
            nobody,
            tmpdir: None,
            backend: None,
        };
        for d in ["home", "work", "data", "other"] {
            std::fs::create_dir_all(c.root().join(d)).unwrap();
        }
        c.write("other/untouched.txt", "beside the inputs, never read\n");
        c.write("home/notes.txt", "in $HOME, never read\n");
        if nobody {
            std::fs::copy(env!("CARGO_BIN_EXE_nono"), c.root().join("nono")).unwrap();
        }
        c
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Hands the world to uid 65534 (for a case run as that user).
    fn give_away(&self) {
        if !self.nobody {
            return;
        }
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(self.root())
            .status()
            .expect("running chown");
        assert!(status.success(), "chown of the world failed");
    }

    /// `nono ARGS` in the working directory, with this world's HOME, a plain PATH and
    /// `TMPDIR` as the case sets it.
    fn nono(&self, args: &[&str]) -> Output {
        let mut cmd = if self.nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(self.root().join("nono"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_nono"))
        };
        cmd.current_dir(self.work())
            .env("HOME", self.home())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env("LC_ALL", "C")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("SUDO_USER")
            .env_remove("TMPDIR")
            .args(args);
        if let Some(t) = &self.tmpdir {
            cmd.env("TMPDIR", t);
        }
        let out = cmd.output().expect("running nono");
        assert!(
            !stderr(&out).contains("panicked"),
            "nono panicked on {args:?}:\n{}",
            stderr(&out)
        );
        out
    }

    /// Empties the working directory and puts the starting state back.
    fn reset(&self, setup: &dyn Fn(&Corpus)) {
        for entry in std::fs::read_dir(self.work()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        setup(self);
        self.give_away();
    }
}

/// One program of the corpus: the starting state and the shell script to learn.
struct Case<'a> {
    name: &'a str,
    /// Programs the case needs (skipped, or failed under NONO_TEST_STRICT=1, without).
    needs: &'a [&'a str],
    setup: &'a dyn Fn(&Corpus),
    script: &'a str,
    /// What the script prints (stdout), when it is fixed.
    stdout: Option<&'a str>,
}

fn missing(needs: &[&str]) -> Option<String> {
    needs
        .iter()
        .find(|p| {
            !["/usr/bin", "/usr/local/bin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(p).exists())
        })
        .map(|p| p.to_string())
}

/// Every filesystem rule of a profile, `$HOME` expanded.
fn rules(profile: &serde_json::Value, home: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for key in [
        "read",
        "write",
        "allow",
        "read_file",
        "write_file",
        "allow_file",
    ] {
        for rule in profile["filesystem"][key].as_array().into_iter().flatten() {
            let text = rule.as_str().expect("rules are strings").to_string();
            let path = match text.strip_prefix("$HOME") {
                Some(rest) => PathBuf::from(format!("{}{rest}", home.display())),
                None => PathBuf::from(&text),
            };
            out.push((key.to_string(), path));
        }
    }
    out
}

/// Learns the case, checks the profile, resets, replays it, and checks that what the
/// program did not touch stays denied. Returns the profile.
fn learn_and_replay(c: &Corpus, case: &Case<'_>) -> Option<serde_json::Value> {
    if let Some(program) = missing(case.needs) {
        skip(&format!(
            "corpus case {}: needs {program} (see .ci/run)",
            case.name
        ));
        return None;
    }
    (case.setup)(c);
    c.give_away();
    let profile = c.root().join(format!("{}.json", case.name));
    let learned = c.nono(&[
        "learn",
        "--backend",
        c.backend.unwrap_or("auto"),
        "--no-tui",
        "-o",
        p(&profile),
        "--",
        "sh",
        "-c",
        case.script,
    ]);
    assert_code(&learned, 0, &format!("{}: learn", case.name));
    if let Some(want) = case.stdout {
        assert_eq!(stdout(&learned), want, "{}: learn output", case.name);
    }
    let text = read(&profile);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let home = c.home();
    c.reset(case.setup);
    for (key, path) in rules(&json, &home) {
        assert!(
            path != Path::new("/") && path != home,
            "{}: {key} grants {} whole:\n{text}",
            case.name,
            path.display()
        );
        // A name that only existed during the trace (a temporary) would not match
        // again: every rule names something of the starting state.
        assert!(
            path.exists(),
            "{}: {key} names {}, which is not there when the command starts:\n{text}\n{}",
            case.name,
            path.display(),
            stderr(&learned)
        );
        assert!(
            path == Path::new("/tmp") || !path.starts_with("/tmp"),
            "{}: {key} names a path inside /tmp instead of /tmp:\n{text}",
            case.name
        );
    }
    let replay = c.nono(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "sh",
        "-c",
        case.script,
    ]);
    assert_code(
        &replay,
        0,
        &format!(
            "{}: replay under the learned profile\n{text}\n--- learn\n{}",
            case.name,
            stderr(&learned)
        ),
    );
    if let Some(want) = case.stdout {
        assert_eq!(stdout(&replay), want, "{}: replay output", case.name);
    }
    for untouched in [
        c.root().join("other/untouched.txt"),
        c.home().join("notes.txt"),
    ] {
        let denied = c.nono(&[
            "run",
            "-q",
            "--profile",
            p(&profile),
            "--",
            "cat",
            p(&untouched),
        ]);
        assert_ne!(
            denied.status.code(),
            Some(0),
            "{}: {} was readable under the learned profile:\n{text}",
            case.name,
            untouched.display()
        );
        assert!(
            stderr(&denied).contains("Permission denied")
                || stderr(&denied).contains("No such file"),
            "{}: {}",
            case.name,
            stderr(&denied)
        );
    }
    Some(json)
}

fn make_setup(c: &Corpus) {
    c.write(
        "work/main.c",
        "#include <stdio.h>\nint twice(int);\nint main(void){printf(\"%d\\n\", twice(21));return 0;}\n",
    );
    c.write("work/twice.c", "int twice(int x){return 2*x;}\n");
    c.write(
        "work/Makefile",
        "prog: main.o twice.o\n\tcc -o prog main.o twice.o\n%.o: %.c\n\tcc -c -o $@ $<\n",
    );
}

const MAKE: &str = "make -s && ./prog";

fn make_case() -> Case<'static> {
    Case {
        name: "make",
        needs: &["make", "cc"],
        setup: &make_setup,
        script: MAKE,
        stdout: Some("42\n"),
    }
}

/// gcc writes its assembly and objects to /tmp (mkstemp: read-write opens) and
/// removes them: the profile grants /tmp read-write and names none of them.
#[test]
fn corpus_make_with_gcc() {
    let Some(c) = Corpus::new(false) else { return };
    let json = learn_and_replay(&c, &make_case());
    if let Some(json) = json {
        let allow = json["filesystem"]["allow"].to_string();
        assert!(allow.contains("\"/tmp\""), "{json:#}");
    }
}

#[test]
fn corpus_make_with_gcc_as_nobody() {
    let Some(c) = Corpus::new(true) else { return };
    learn_and_replay(&c, &make_case());
}

// HOME below /tmp with withheld paths missing there cannot be learned under the safety
// net (Landlock cannot let /tmp take new entries and refuse ~/.aws below it); the
// refusal is explained instead: tests/cli/learn_safety_net.rs checks that.

fn git_setup(c: &Corpus) {
    c.write("work/repo/README", "hello\n");
}

fn git_case() -> Case<'static> {
    Case {
        name: "git",
        needs: &["git"],
        setup: &git_setup,
        script: "cd repo && git init -q -b main && git add README \
                 && git -c user.name=t -c user.email=t@example.invalid commit -q -m first \
                 && git log --format=%s",
        stdout: Some("first\n"),
    }
}

#[test]
fn corpus_git_init_add_commit() {
    let Some(c) = Corpus::new(false) else { return };
    learn_and_replay(&c, &git_case());
}

fn tar_setup(c: &Corpus) {
    for (f, text) in [
        ("a.txt", "alpha\n"),
        ("b.txt", "beta\n"),
        ("sub/c.txt", "gamma\n"),
    ] {
        c.write(&format!("data/{f}"), text);
    }
}

fn tar_case() -> Case<'static> {
    Case {
        name: "tar",
        needs: &["tar", "gzip"],
        setup: &tar_setup,
        script: "tar -czf inputs.tar.gz -C ../data . && mkdir out \
                 && tar -xzf inputs.tar.gz -C out && cat out/sub/c.txt",
        stdout: Some("gamma\n"),
    }
}

#[test]
fn corpus_tar_create_and_extract() {
    let Some(c) = Corpus::new(false) else { return };
    learn_and_replay(&c, &tar_case());
}

fn nothing(_: &Corpus) {}

/// sqlite3 keeps a journal beside the database and, for a big sort, an unlinked
/// temporary file (`etilqs_…`) in /var/tmp.
fn sqlite_case() -> Case<'static> {
    Case {
        name: "sqlite3",
        needs: &["sqlite3"],
        setup: &nothing,
        script: "sqlite3 db.sqlite 'PRAGMA temp_store=FILE; PRAGMA cache_size=2; \
                 CREATE TABLE t(x); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c LIMIT 20000) \
                 INSERT INTO t SELECT randomblob(100) FROM c; CREATE INDEX i ON t(x); \
                 SELECT count(*) FROM t;'",
        stdout: Some("20000\n"),
    }
}

#[test]
fn corpus_sqlite3() {
    let Some(c) = Corpus::new(false) else { return };
    let json = learn_and_replay(&c, &sqlite_case());
    if let Some(json) = json {
        let allow = json["filesystem"]["allow"].to_string();
        assert!(allow.contains("\"/var/tmp\""), "{json:#}");
    }
}

fn python_setup(c: &Corpus) {
    c.write("work/pkg/__init__.py", "");
    c.write("work/pkg/mod.py", "def answer():\n    return 42\n");
}

fn python_case() -> Case<'static> {
    Case {
        name: "python",
        needs: &["python3"],
        setup: &python_setup,
        script: "/usr/bin/python3 -m compileall -q pkg && /usr/bin/python3 -m venv --without-pip venv \
                 && venv/bin/python -c 'import pkg.mod, sys; print(pkg.mod.answer(), sys.prefix != sys.base_prefix)'",
        stdout: Some("42 True\n"),
    }
}

#[test]
fn corpus_python_compileall_and_venv() {
    let Some(c) = Corpus::new(false) else { return };
    learn_and_replay(&c, &python_case());
}

fn words_setup(c: &Corpus) {
    let words = ["pear", "apple", "fig", "apple", "kiwi", "pear", "apple"];
    let text: String = (0..6000)
        .map(|i| format!("{}\n", words[i % words.len()]))
        .collect();
    c.write("data/words.txt", &text);
}

/// A pipeline; sort with a tiny buffer spills to temporary files in /tmp.
const PIPELINE: &str = "sort -S 4k ../data/words.txt | uniq -c | sort -rn | tee counts.txt \
                        | head -n 1 | tr -s ' ' && wc -l < counts.txt";

fn pipeline_case() -> Case<'static> {
    Case {
        name: "coreutils",
        needs: &["sort", "uniq", "tee", "wc", "tr", "head"],
        setup: &words_setup,
        script: PIPELINE,
        stdout: Some(" 2571 apple\n4\n"),
    }
}

#[test]
fn corpus_coreutils_pipeline() {
    let Some(c) = Corpus::new(false) else { return };
    learn_and_replay(&c, &pipeline_case());
}

#[test]
fn corpus_coreutils_pipeline_as_nobody() {
    let Some(c) = Corpus::new(true) else { return };
    learn_and_replay(&c, &pipeline_case());
}

/// Python's tempfile (tmpfile-style O_TMPFILE, mkstemp, mkdtemp, NamedTemporaryFile)
/// and mktemp(1).
const TEMPFILES: &str = "/usr/bin/python3 -c '
import os, shutil, tempfile
with tempfile.TemporaryFile() as f:
    f.write(b\"x\"); f.seek(0); assert f.read() == b\"x\"
fd, path = tempfile.mkstemp(suffix=\".dat\"); os.write(fd, b\"y\"); os.close(fd)
assert open(path).read() == \"y\"; os.unlink(path)
d = tempfile.mkdtemp(); open(os.path.join(d, \"inner\"), \"w\").write(\"z\"); shutil.rmtree(d)
with tempfile.NamedTemporaryFile(\"w+\") as g:
    g.write(\"w\"); g.flush(); assert open(g.name).read() == \"w\"
print(\"python ok\")
' && t=$(mktemp) && echo data > \"$t\" && cat \"$t\" && rm \"$t\" \
  && d=$(mktemp -d) && touch \"$d/f\" && rm -r \"$d\" && echo done";

fn tempfile_case() -> Case<'static> {
    Case {
        name: "tempfiles",
        needs: &["python3", "mktemp"],
        setup: &nothing,
        script: TEMPFILES,
        stdout: Some("python ok\ndata\ndone\n"),
    }
}

#[test]
fn corpus_mkstemp_and_tmpfile() {
    let Some(c) = Corpus::new(false) else { return };
    let json = learn_and_replay(&c, &tempfile_case());
    if let Some(json) = json {
        // No network was used: the profile says so.
        assert_eq!(json["network"]["block"], true, "{json:#}");
    }
}

#[test]
fn corpus_mkstemp_and_tmpfile_as_nobody() {
    let Some(c) = Corpus::new(true) else { return };
    learn_and_replay(&c, &tempfile_case());
}

/// With TMPDIR pointing at a directory of the world (outside the working directory),
/// that directory is granted, not the names made in it, and a file beside it stays
/// denied.
#[test]
fn corpus_tempfiles_in_tmpdir() {
    let Some(mut c) = Corpus::new(false) else {
        return;
    };
    let tmpdir = c.root().join("scratch");
    std::fs::create_dir(&tmpdir).unwrap();
    c.tmpdir = Some(tmpdir.clone());
    let json = learn_and_replay(&c, &tempfile_case());
    if let Some(json) = json {
        let all: Vec<PathBuf> = rules(&json, &c.home())
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert!(all.contains(&tmpdir), "TMPDIR is not granted: {json:#}");
        assert!(
            !all.iter().any(|p| p.starts_with(&tmpdir) && *p != tmpdir),
            "a name inside TMPDIR is granted: {json:#}"
        );
    }
}

/// Learns `script` with `-o` in a fresh world; returns the world, the profile, and
/// learn's stderr.
fn learn_network(script: &str) -> Option<(Corpus, PathBuf, serde_json::Value, String)> {
    if missing(&["python3"]).is_some() {
        skip("needs python3");
        return None;
    }
    let c = Corpus::new(false)?;
    let profile = c.root().join("net.json");
    let out = c.nono(&[
        "learn",
        "--no-tui",
        "-o",
        p(&profile),
        "--",
        "/usr/bin/python3",
        "-c",
        script,
    ]);
    assert_code(&out, 0, "learn");
    let json: serde_json::Value = serde_json::from_str(&read(&profile)).unwrap();
    Some((c, profile, json, stderr(&out)))
}

/// A program whose only socket is a unix one uses no network: the profile blocks it,
/// and the program still runs under it.
#[test]
fn a_unix_socket_is_not_network_use() {
    let script = "import socket, os\ns = socket.socket(socket.AF_UNIX)\ns.bind('sock')\n\
                  s.close(); os.unlink('sock'); print('ok')\n";
    let Some((c, profile, json, _)) = learn_network(script) else {
        return;
    };
    assert_eq!(json["network"]["block"], true, "{json:#}");
    let replay = c.nono(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "/usr/bin/python3",
        "-c",
        script,
    ]);
    assert_code(&replay, 0, "replay");
    assert_eq!(stdout(&replay), "ok\n");
}

/// A loopback connection is network use: no block (it would refuse the connection).
#[test]
fn a_loopback_connection_leaves_the_network_open() {
    let script = "import socket\nl = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
                  c = socket.create_connection(l.getsockname()); a, _ = l.accept()\n\
                  c.sendall(b'hi'); print(a.recv(2).decode())\n";
    let Some((c, profile, json, _)) = learn_network(script) else {
        return;
    };
    assert!(json["network"]["block"].is_null(), "{json:#}");
    let replay = c.nono(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "/usr/bin/python3",
        "-c",
        script,
    ]);
    assert_code(&replay, 0, "replay");
    assert_eq!(stdout(&replay), "hi\n");
}

/// A name looked up gives allow_domain, which this build cannot enforce: the `-o`
/// line says so plainly, and `nono run` refuses the profile (until the proxy lands).
#[test]
fn allow_domain_is_saved_with_a_plain_note() {
    // A DNS question for example.org sent to a local port 53 (nothing answers).
    let script = "import socket\nq=bytes.fromhex('abcd01000001000000000000076578616d706c65036f72670000010001')\n\
                  s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(q, ('127.0.0.1', 53))\n";
    let Some((c, profile, json, learned)) = learn_network(script) else {
        return;
    };
    assert_eq!(
        json["network"],
        serde_json::json!({"allow_domain": ["example.org"]})
    );
    assert!(
        learned.contains(
            "allow_domain needs nono's network proxy, which this build does not have yet"
        ) && learned.contains("--allow-net or --block-network"),
        "{learned}"
    );
    let replay = c.nono(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "/usr/bin/python3",
        "-c",
        script,
    ]);
    assert_ne!(replay.status.code(), Some(0), "{}", stderr(&replay));
    assert!(stderr(&replay).contains("proxy"), "{}", stderr(&replay));
}

/// A temporary made directly in $HOME cannot be granted (that would take the whole of
/// $HOME, and its name never comes again): the summary and the report say so, and
/// the profile has no rule for it. Learned without the safety net, which refuses
/// creations in $HOME.
#[test]
fn a_temporary_directly_in_home_is_said_not_granted() {
    let Some(c) = Corpus::new(false) else { return };
    let profile = c.root().join("p.json");
    let report = c.root().join("r.json");
    let out = c.nono(&[
        "learn",
        "--no-tui",
        "--no-safety-net",
        "-o",
        p(&profile),
        "--report",
        p(&report),
        "--",
        "sh",
        "-c",
        "t=$(mktemp -p \"$HOME\") && echo x > \"$t\" && rm \"$t\"",
    ]);
    assert_code(&out, 0, "learn");
    let err = stderr(&out);
    assert!(
        err.contains("NOT GRANTED (1)") && err.contains("made directly in $HOME"),
        "{err}"
    );
    let text = read(&profile);
    assert!(
        !text.contains("tmp."),
        "a temporary name reached the profile: {text}"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (key, path) in rules(&json, &c.home()) {
        assert!(path != c.home(), "{key} grants $HOME: {text}");
    }
    let report: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    assert_eq!(
        report["not_granted"][0]["dir"],
        serde_json::json!(p(&c.home())),
        "{:#}",
        report["not_granted"]
    );
}

/// Every case again with the ptrace backend (the cases above use eBPF where it loads,
/// as root): both must see what a creating open asked for.
#[test]
fn corpus_every_case_with_ptrace() {
    for case in [
        make_case(),
        git_case(),
        tar_case(),
        sqlite_case(),
        python_case(),
        pipeline_case(),
        tempfile_case(),
    ] {
        let Some(mut c) = Corpus::new(false) else {
            return;
        };
        c.backend = Some("ptrace");
        learn_and_replay(&c, &case);
    }
}
