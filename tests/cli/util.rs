//! Running the real binary in a scratch directory with a fake home.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// A scratch world: a fake `$HOME` and a working directory inside a temp dir.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        World { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Writes a file (creating parents) and returns its path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `nono ARGS` with HOME and the XDG variables pointing into the scratch world.
    pub fn nono(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("nono").expect("the nono binary is built");
        cmd.current_dir(self.work())
            .env("HOME", self.home())
            .env("NO_COLOR", "1")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("SUDO_USER")
            .args(args);
        cmd
    }

    /// Runs and returns the output, asserting nono did not panic.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = self.nono(args).output().expect("running nono");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "nono panicked on {args:?}:\n{stderr}"
        );
        output
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, printing both streams when it differs.
pub fn assert_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(output)))
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// A file's text (the test fails, naming the file, if it cannot be read).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Does the test run as root (needed to switch to another user with `setpriv`)?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Can the test run nono as another user (`setpriv` needs root)? Says why not (a skip)
/// when it cannot.
pub fn can_switch_user() -> bool {
    if !is_root() {
        skip("needs root to switch to an unprivileged user");
        return false;
    }
    true
}

/// A test that needs something this machine lacks says so; under NONO_TEST_STRICT=1
/// (set by CI) that is a failure rather than a skip.
pub fn skip(why: &str) {
    if std::env::var_os("NONO_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("NONO_TEST_STRICT=1 and this test cannot run: {why}");
    }
    eprintln!("SKIP: {why}");
}
