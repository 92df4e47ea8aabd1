//! Adversarial tests of `nono run` and `nono wrap`: each tries an escape and asserts
//! the kernel said no, and that the files it aimed at are as they were.
//!
//! Escapes that do not depend on who runs them are tried twice (the `as_root_and_nobody!`
//! modules): as the caller (root on the test machines, where nothing but the sandbox
//! stops a write to `/etc`) and as uid 65534 through `setpriv`, for which every target
//! is made writable or readable by ordinary permissions first, so that again only the
//! sandbox can refuse. Python probes are `tests/fixtures/run/probe.py`, run with
//! Debian's `/usr/bin/python3` (a pyenv shim under /root is not granted by `default`).

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const PYTHON: &str = "/usr/bin/python3";
const NOBODY: u32 = 65534;
/// How long any single nono run may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(30);
/// What the kernel says when the sandbox refuses a file operation: Landlock (EACCES,
/// EXDEV for a reparenting link or rename), the read-only mount view (EROFS), dropped
/// capabilities or signal scoping (EPERM).
/// Outside the grants a path does not exist in the mount view at all (ENOENT).
const REFUSALS: &[&str] = &[
    "Permission denied",
    "Read-only file system",
    "Operation not permitted",
    "Invalid cross-device link",
    "No such file or directory",
    "Directory nonexistent",
];
/// Landlock's answers alone (no mount view).
const LANDLOCK_REFUSALS: &[&str] = &["Permission denied", "Invalid cross-device link"];

// ---------------------------------------------------------------------------------
// Helpers

/// The kernel's Landlock ABI, asked directly (0 when Landlock is unavailable).
fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the syscall
    // only returns the ABI version or an error; it touches no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    abi.max(0)
}

/// Sends `signal` to `pid`.
fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill takes plain integers; the pid is a child this test spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Runs `nono ARGS` (with extra `vars` in its environment) as uid/gid 65534 through
/// `setpriv`, with `HOME` at the world's fake home and the working directory at its
/// `work`. The nono binary is copied into the world first (the build tree may not be
/// traversable by 65534), and the world's directories are opened to everyone. Needs
/// root; callers check with [`Scene::new`].
fn as_nobody(w: &World, args: &[&str], vars: &[(&str, &str)]) -> Output {
    assert!(is_root(), "as_nobody needs root (callers skip first)");
    let bin = open_world_to_nobody(w);
    let mut setpriv = command_as(User::Nobody, &bin);
    setpriv.args(args);
    let output = assert_cmd::Command::from_std(setpriv)
        .current_dir(w.work())
        .env("HOME", w.home())
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .envs(vars.iter().copied())
        .timeout(TIMEOUT)
        .output()
        .expect("running setpriv");
    assert_no_panic(&output, args);
    output
}

/// Makes the world's directories traversable and writable for 65534 and puts a copy
/// of the nono binary in it; returns the copy's path.
fn open_world_to_nobody(w: &World) -> PathBuf {
    for dir in [w.dir.path().to_path_buf(), w.home(), w.work()] {
        // Only when needed: a chmod changes the directory's change time, which would
        // keep the plan cache from ever trusting it.
        if mode_of(&dir) != 0o777 {
            set_mode(&dir, 0o777);
        }
    }
    let bin_dir = w.dir.path().join("bin");
    let bin = bin_dir.join("nono");
    if !bin.exists() {
        std::fs::create_dir_all(&bin_dir).unwrap();
        set_mode(&bin_dir, 0o755);
        let built = Path::new(env!("CARGO_BIN_EXE_nono"));
        if std::fs::hard_link(built, &bin).is_err() {
            std::fs::copy(built, &bin).expect("copying the nono binary for nobody");
        }
        set_mode(&bin, 0o755);
    }
    bin
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_no_panic(output: &Output, args: &[&str]) {
    assert!(
        !stderr(output).contains("panicked"),
        "nono panicked on {args:?}:\n{}",
        stderr(output)
    );
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Who runs nono.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum User {
    /// Whoever runs the tests: root on the test machines.
    Caller,
    /// uid and gid 65534, through `setpriv`.
    Nobody,
}

/// A world prepared for one user, on a kernel with the Landlock features nono's
/// sandbox relies on.
struct Scene {
    w: World,
    user: User,
}

impl Scene {
    /// `None` (after saying why) when this machine cannot run the test.
    fn new(user: User) -> Option<Scene> {
        let abi = landlock_abi();
        if abi < 6 {
            skip(&format!(
                "needs Landlock ABI 6 or later for signal and socket scoping (the kernel has {abi})"
            ));
            return None;
        }
        if user == User::Nobody && !can_switch_user() {
            return None;
        }
        let w = World::new();
        if user == User::Nobody {
            open_world_to_nobody(&w);
        }
        Some(Scene { w, user })
    }

    /// Like [`Scene::new`], and also needs Debian's python3.
    fn with_python(user: User) -> Option<Scene> {
        if !Path::new(PYTHON).exists() {
            skip("needs /usr/bin/python3 (Debian package python3)");
            return None;
        }
        Scene::new(user)
    }

    fn uid(&self) -> u32 {
        match self.user {
            User::Caller => std::fs::metadata("/proc/self").unwrap().uid(),
            User::Nobody => NOBODY,
        }
    }

    /// `nono ARGS` as this scene's user.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    /// `nono ARGS` as this scene's user, with extra variables in nono's environment.
    fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        match self.user {
            User::Caller => {
                let output = self
                    .w
                    .nono(args)
                    .env("LC_ALL", "C")
                    .envs(vars.iter().copied())
                    .timeout(TIMEOUT)
                    .output()
                    .expect("running nono");
                assert_no_panic(&output, args);
                output
            }
            User::Nobody => as_nobody(&self.w, args, vars),
        }
    }

    /// Hands `path` (recursively, symlinks included) to this scene's user, so that only
    /// the sandbox can stop what the test tries on it.
    fn give(&self, path: &Path) {
        let uid = self.uid();
        std::os::unix::fs::lchown(path, Some(uid), Some(uid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        let meta = std::fs::symlink_metadata(path).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                self.give(&entry.unwrap().path());
            }
        }
    }

    /// A directory outside the world (a sibling in the temp dir), writable by everyone
    /// and owned by this scene's user: only the sandbox can keep the command out.
    fn outside(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        set_mode(dir.path(), 0o777);
        self.give(dir.path());
        dir
    }

    /// A file outside the world, mode 0666, owned by this scene's user.
    fn outside_file(&self, dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o666);
        self.give(&path);
        path
    }

    /// The probe script, copied into the world (outside the working directory, so it
    /// needs `--read-file`) where every user can read it.
    fn probe(&self) -> String {
        let path = self.w.dir.path().join("probe.py");
        if !path.exists() {
            let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/probe.py");
            std::fs::copy(&fixture, &path).expect("copying the probe fixture");
            set_mode(&path, 0o644);
        }
        p(&path).to_string()
    }

    /// `nono run [FLAGS] --read-file probe.py -- python3 probe.py OPERATION...`.
    fn run_probe(&self, flags: &[&str], operation: &[&str]) -> Output {
        let probe = self.probe();
        let mut args = vec!["run", "-q"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--read-file", &probe, "--", PYTHON, &probe]);
        args.extend_from_slice(operation);
        self.run(&args)
    }

    /// A name no other test uses, for files in shared places like /etc.
    fn unique(&self, what: &str) -> String {
        format!(
            "nono-test-{what}-{}",
            self.w.dir.path().file_name().unwrap().to_string_lossy()
        )
    }
}

/// Two tests from one body: `NAME::as_caller` and `NAME::as_nobody`.
macro_rules! as_root_and_nobody {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn as_caller() {
                    super::$name(super::User::Caller)
                }
                #[test]
                fn as_nobody() {
                    super::$name(super::User::Nobody)
                }
            }
        )*
    };
}

/// `sh -c` running each command in turn, printing `attempt N refused: <what it said>` or
/// `attempt N ESCAPED: <what it printed>`.
const ATTEMPTS: &str = r#"i=0
for c in "$@"; do
  i=$((i+1))
  if out=$(eval "$c" 2>&1 </dev/null); then
    echo "attempt $i ESCAPED: $(printf '%s' "$out" | tr '\n' ' ')"
  else
    echo "attempt $i refused: $(printf '%s' "$out" | tr '\n' ' ')"
  fi
done"#;

/// Runs `commands` in one sandbox made from `flags` and asserts every one was refused
/// with one of `refusals` (so a missing tool or a typo cannot pass for a denial).
fn assert_all_refused(scene: &Scene, flags: &[&str], commands: &[String], refusals: &[&str]) {
    let mut args = vec!["run", "-q"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", ATTEMPTS, "sh"]);
    args.extend(commands.iter().map(String::as_str));
    let out = scene.run(&args);
    assert_code(&out, 0, "the attempts script itself");
    let text = stdout(&out);
    for (i, command) in commands.iter().enumerate() {
        let prefix = format!("attempt {} ", i + 1);
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no result for `{command}` in:\n{text}"));
        let said = line[prefix.len()..].to_string();
        assert!(
            said.starts_with("refused:"),
            "{:?}: `{command}` was not refused with {flags:?}: {said}\n--- all attempts\n{text}",
            scene.user
        );
        assert!(
            refusals
                .iter()
                .any(|r| said.to_lowercase().contains(&r.to_lowercase())),
            "{:?}: `{command}` failed, but not with a sandbox refusal ({refusals:?}): {said}",
            scene.user
        );
    }
}

/// Removes files a broken sandbox may have created in shared places.
struct RemoveAfter(Vec<PathBuf>);

impl Drop for RemoveAfter {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A process that is killed and reaped when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `nono ARGS` started in the background (stdout piped, stderr discarded), killed and
/// reaped when the test ends.
fn spawn_nono(w: &World, args: &[&str]) -> Reaped {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_nono"))
        .args(args)
        .current_dir(w.work())
        .env("HOME", w.home())
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning nono");
    Reaped(child)
}

/// `PROGRAM` as `user`, outside any sandbox.
fn command_as(user: User, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    match user {
        User::Caller => std::process::Command::new(program),
        User::Nobody => {
            let mut setpriv = std::process::Command::new("setpriv");
            setpriv
                .arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .args(["--clear-groups", "--"])
                .arg(program);
            setpriv
        }
    }
}

/// `sleep 30` outside any sandbox, as the scene's user.
fn outside_sleeper(scene: &Scene) -> Reaped {
    let child = command_as(scene.user, "sleep")
        .arg("30")
        .spawn()
        .expect("spawning sleep");
    let child = Reaped(child);
    // setpriv changes uid, then execs: wait for the exec so the uid is final.
    let comm = format!("/proc/{}/comm", child.0.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&comm).map_or(true, |c| c.trim() != "sleep") {
        assert!(Instant::now() < deadline, "sleep did not start within 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn assert_probe_denied(out: &Output, errno: &str, what: &str) {
    assert_code(out, 1, what);
    assert!(
        stdout(out).contains(&format!("denied {errno}")),
        "{what}: expected `denied {errno}`\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

fn assert_probe_ok(out: &Output, what: &str) {
    assert_code(out, 0, what);
    assert!(stdout(out).contains("ok"), "{what}: {}", stdout(out));
}

as_root_and_nobody!(
    shadow_is_unreadable,
    cwd_is_writable,
    writes_outside_the_grants_fail,
    writes_outside_the_grants_fail_under_landlock_alone,
    renames_across_the_grant_boundary_fail,
    symlinks_out_of_the_grant_give_nothing,
    truncating_an_outside_file_fails,
    secrets_in_an_allowed_home_stay_denied,
    every_credential_store_in_an_allowed_home_stays_denied,
    system_secrets_stay_denied,
    kernel_keyrings_are_out_of_reach,
    a_symlink_planted_by_one_run_does_not_widen_the_next,
    inode_flags_cannot_change_without_the_mount_view,
    block_network_refuses_tcp_connect,
    block_network_refuses_udp_sendto,
    block_network_refuses_other_socket_kinds,
    block_network_refuses_tcp_fast_open,
    signals_to_outside_processes_are_refused,
    abstract_sockets_outside_are_unreachable,
    metadata_of_outside_files_cannot_change,
    nono_state_is_unreachable_under_allowed_home,
    supervisor_proc_entries_are_unreachable,
    mount_view_cannot_be_undone,
);

// ---------------------------------------------------------------------------------
// Reading what is denied

/// Escape: read the password hashes (root could, without the sandbox).
fn shadow_is_unreadable(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let out = scene.run(&["run", "--allow-cwd", "--", "cat", "/etc/shadow"]);
    // nono exits with cat's own code.
    assert_code(&out, 1, "cat /etc/shadow");
    assert!(
        stderr(&out).contains("/etc/shadow: Permission denied")
            // The mount view leaves it out.
            || stderr(&out).contains("/etc/shadow: No such file or directory"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("root:"),
        "shadow leaked: {}",
        stdout(&out)
    );
}

/// The entries of a built-in group, from the policy file the binary embeds.
fn policy_denies(group: &str) -> Vec<String> {
    let policy: serde_json::Value =
        serde_json::from_str(include_str!("../../enforcer/data/policy.json")).unwrap();
    policy["groups"][group]["deny"]
        .as_array()
        .unwrap_or_else(|| panic!("group {group} has no deny list"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Escape: with the whole home granted, read any of the credential stores of
/// `deny_credentials` (package managers, code hosts, ML hubs, cloud and tunnel CLIs,
/// password managers, chat clients, mobile tooling). Each is planted as a file.
fn every_credential_store_in_an_allowed_home_stays_denied(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let entries = policy_denies("deny_credentials");
    assert!(entries.len() >= 100, "{} entries", entries.len());
    let mut script = String::new();
    for entry in &entries {
        let relative = entry.strip_prefix("~/").expect("a home path");
        let path = w.write(&format!("home/{relative}"), "n0n0-credential\n");
        set_mode(&path, 0o644);
        script.push_str(&format!("cat '{}' 2>/dev/null; ", p(&path)));
    }
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let out = scene.run(&["run", "-q", "--allow", &home, "--", "sh", "-c", &script]);
    assert!(
        !stdout(&out).contains("n0n0-credential"),
        "a credential store was readable: {}",
        stdout(&out)
    );
    // `why` agrees, entry by entry.
    for entry in &entries {
        let path = entry.replacen('~', &home, 1);
        let out = scene.run(&["why", "--allow", &home, "--path", &path, "--op", "read"]);
        assert_code(&out, 1, &format!("why {path}"));
    }
}

/// Escape: read system secrets through the `/etc` (or a wider) grant; root could
/// without the sandbox. Every entry that exists here is tried for real.
fn system_secrets_stay_denied(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let entries = policy_denies("deny_system_secrets_linux");
    assert!(entries.len() >= 40, "{} entries", entries.len());
    let mut tried = 0;
    for entry in &entries {
        let out = scene.run(&["why", "--read", "/var", "--path", entry, "--op", "read"]);
        assert_code(&out, 1, &format!("why {entry}"));
        let path = Path::new(entry);
        if !path.exists() {
            continue;
        }
        tried += 1;
        let verb = if path.is_dir() { "ls" } else { "cat" };
        let out = scene.run(&["run", "-q", "--read", "/var", "--", verb, entry]);
        assert!(
            !out.status.success() && stdout(&out).is_empty(),
            "{verb} {entry} as {user:?}: {}",
            stdout(&out)
        );
    }
    assert!(
        tried > 0,
        "none of the system secrets exists here to be tried"
    );
}

/// A Python snippet that asks the kernel's key service for the session and user
/// keyrings, reads the first key of each, and tries `add_key` and `request_key`.
const KEYRING_PROBE: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    return r if r >= 0 else "errno %d" % ctypes.get_errno()
KEYCTL, ADD_KEY, REQUEST_KEY = 250, 248, 249
print("session", call(KEYCTL, 0, -3, 0))
print("user", call(KEYCTL, 0, -4, 0))
print("add_key", call(ADD_KEY, b"user", b"nono-probe", b"x", 1, -3))
print("request_key", call(REQUEST_KEY, b"user", b"nono-probe", None, 0))
"#;

/// Escape: read keys from the caller's session keyring or (as root) the user
/// keyring, or add keys for later. Refused by default; with `allow_keyring` the
/// command still gets a session keyring of its own, not the caller's.
fn kernel_keyrings_are_out_of_reach(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let out = scene.run(&["run", "-q", "--", PYTHON, "-c", KEYRING_PROBE]);
    assert_code(&out, 0, "keyring probe");
    let said = stdout(&out);
    let eacces = format!("errno {}", libc::EACCES);
    for call in ["session", "user", "add_key", "request_key"] {
        assert!(
            said.lines().any(|l| l == format!("{call} {eacces}")),
            "{call} was not refused:\n{said}"
        );
    }
    let profile = scene
        .w
        .write("keyring.json", r#"{"security": {"allow_keyring": true}}"#);
    scene.give(&profile);
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        PYTHON,
        "-c",
        KEYRING_PROBE,
    ]);
    assert_code(&out, 0, "keyring probe with allow_keyring");
    let inside = stdout(&out);
    let session = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("session "))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        session(&inside).parse::<i64>().is_ok(),
        "allow_keyring: {inside}"
    );
    if user == User::Caller {
        let outside = std::process::Command::new(PYTHON)
            .args(["-c", KEYRING_PROBE])
            .output()
            .unwrap();
        let outside = String::from_utf8_lossy(&outside.stdout).to_string();
        assert_ne!(
            session(&inside),
            session(&outside),
            "the command shares the caller's session keyring"
        );
    }
}

/// Escape: with no mount view, change a read-only granted file's inode flags
/// (`chattr +A`, or `+i` as root) — `chmod` is refused, and so must this be.
fn inode_flags_cannot_change_without_the_mount_view(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let outside = scene.outside();
    let file = scene.outside_file(&outside, "flags.txt", "data\n");
    let dir = p(outside.path()).to_string();
    let probe = format!(
        r#"
import fcntl, struct, os
fd = os.open("{}", os.O_RDONLY)
for name, req, size in (("SETFLAGS", 0x40086602, "l"), ("SETFLAGS32", 0x40046602, "i")):
    try:
        fcntl.ioctl(fd, req, struct.pack(size, 0x80))
        print(name, "ok")
    except OSError as e:
        print(name, "errno", e.errno)
try:
    fcntl.ioctl(fd, 0x401c5820, bytes(28))
    print("FSSETXATTR ok")
except OSError as e:
    print("FSSETXATTR errno", e.errno)
"#,
        p(&file)
    );
    let out = scene.run(&[
        "run",
        "-q",
        "--no-mount-view",
        "--allow-unhidden-sockets",
        "--read",
        &dir,
        "--",
        PYTHON,
        "-c",
        &probe,
    ]);
    assert_code(&out, 0, "ioctl probe");
    let said = stdout(&out);
    for name in ["SETFLAGS", "SETFLAGS32", "FSSETXATTR"] {
        assert!(
            said.lines()
                .any(|l| l == format!("{name} errno {}", libc::EACCES)),
            "{name} was not refused:\n{said}"
        );
    }
    let lsattr = std::process::Command::new("lsattr").arg(&file).output();
    if let Ok(lsattr) = lsattr {
        let flags = String::from_utf8_lossy(&lsattr.stdout);
        assert!(
            !flags.split_whitespace().next().unwrap_or("").contains('A'),
            "{flags}"
        );
    }
}

/// Escape: one run (with `~/.cache` writable) replaces `~/.cache/pip`, a directory
/// that the `python_runtime` group grants read-write, with a link to `~`; the next
/// run under a profile including that group would grant the whole home. It is
/// refused with a message naming the link; a link to a directory without denied
/// paths (a cache on another disk) keeps working; and a link inside a directory the
/// same sandbox may write is refused even for a command-line grant.
fn a_symlink_planted_by_one_run_does_not_widen_the_next(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    w.write("home/.cache/pip/wheel", "w");
    w.write("home/.ssh/id_ed25519", "PRIVATE");
    w.write(
        "home/profiles/py.json",
        r#"{"groups": {"include": ["python_runtime"]}}"#,
    );
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let cache = format!("{home}/.cache");
    let plant = format!("rm -rf {cache}/pip && ln -s {home} {cache}/pip");
    let out = scene.run(&["run", "-q", "--allow", &cache, "--", "sh", "-c", &plant]);
    assert_code(&out, 0, "the first run plants the link");
    assert!(
        std::fs::symlink_metadata(w.home().join(".cache/pip"))
            .unwrap()
            .is_symlink()
    );

    let profile = format!("{home}/profiles/py.json");
    let escape = format!("echo planted > {home}/planted; cat {home}/.ssh/id_ed25519");
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        &profile,
        "--",
        "sh",
        "-c",
        &escape,
    ]);
    assert_code(&out, 2, "the next run refuses the widened grant");
    let err = stderr(&out);
    assert!(
        err.contains("symbolic link") && err.contains(".cache/pip"),
        "{err}"
    );
    assert!(!w.home().join("planted").exists(), "the command ran");
    assert!(!stdout(&out).contains("PRIVATE"));

    // A link to a plain directory elsewhere is fine.
    let elsewhere = scene.outside();
    std::fs::remove_file(w.home().join(".cache/pip")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), w.home().join(".cache/pip")).unwrap();
    scene.give(&w.home().join(".cache/pip"));
    let use_cache = format!("echo ok > {cache}/pip/f");
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        &profile,
        "--",
        "sh",
        "-c",
        &use_cache,
    ]);
    assert_code(&out, 0, "a cache linked to another directory");
    assert_eq!(read(&elsewhere.path().join("f")), "ok\n");

    // A command-line grant through a link inside a writable grant of the same run.
    let out = scene.run(&[
        "run",
        "-q",
        "--allow",
        &cache,
        "--allow",
        &format!("{cache}/pip"),
        "--",
        "true",
    ]);
    assert_code(&out, 2, "a link the same sandbox could have planted");
    assert!(
        stderr(&out).contains("could have planted it"),
        "{}",
        stderr(&out)
    );
}

/// Escape: follow a link planted inside the grant to a file and to a directory outside.
fn symlinks_out_of_the_grant_give_nothing(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let outside = scene.outside();
    let secret = scene.outside_file(&outside, "secret.txt", "outside secret\n");
    let work = scene.w.work();
    std::os::unix::fs::symlink(&secret, work.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), work.join("dlink")).unwrap();
    scene.give(&work.join("link"));
    scene.give(&work.join("dlink"));
    let commands = [
        "cat link".to_string(),
        "echo appended >> link".into(),
        "ls dlink/".into(),
        "cat dlink/secret.txt".into(),
        "echo planted > dlink/new".into(),
        "cp link copied".into(),
    ];
    assert_all_refused(&scene, &["--allow-cwd"], &commands, REFUSALS);
    assert_eq!(read(&secret), "outside secret\n");
    assert_eq!(
        entries(outside.path()),
        BTreeSet::from(["secret.txt".to_string()])
    );
    assert!(
        !work.join("copied").exists(),
        "the secret was copied into the grant"
    );
}

/// Escape: credentials under a home the command may otherwise use, directly, by listing,
/// and through a link in the home that points at them.
fn secrets_in_an_allowed_home_stay_denied(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let key = w.write("home/.ssh/id_rsa", "-----BEGIN PRIVATE KEY-----\n");
    w.write("home/notes.txt", "my notes\n");
    std::os::unix::fs::symlink(w.home().join(".ssh"), w.home().join("link")).unwrap();
    set_mode(&w.home().join(".ssh"), 0o755);
    set_mode(&key, 0o644);
    scene.give(&w.home());
    let home = p(&w.home()).to_string();

    let out = scene.run(&[
        "run",
        "-q",
        "--allow",
        &home,
        "--",
        "cat",
        &format!("{home}/notes.txt"),
    ]);
    assert_code(&out, 0, "the rest of the home is readable");
    assert_eq!(stdout(&out), "my notes\n");

    let commands = [
        format!("cat {home}/.ssh/id_rsa"),
        format!("ls {home}/.ssh"),
        format!("ls {home}/link/"),
        format!("cat {home}/link/id_rsa"),
        format!("echo x > {home}/.ssh/authorized_keys"),
    ];
    assert_all_refused(&scene, &["--allow", &home], &commands, REFUSALS);
    assert!(!w.home().join(".ssh/authorized_keys").exists());
    assert_eq!(read(&key), "-----BEGIN PRIVATE KEY-----\n");
}

/// Escape: nono's profiles (read them, or plant one a later run would trust) and its
/// session state, under a home the command is otherwise allowed.
fn nono_state_is_unreachable_under_allowed_home(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let profile = w.write("home/.config/nono/profiles/p.json", "{}\n");
    std::fs::create_dir_all(w.home().join(".local/state/nono")).unwrap();
    w.write("home/.config/other/settings", "x\n");
    for dir in [".config/nono", ".config/nono/profiles", ".local/state/nono"] {
        set_mode(&w.home().join(dir), 0o777);
    }
    set_mode(&profile, 0o666);
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let commands = [
        format!("cat {home}/.config/nono/profiles/p.json"),
        format!("ls {home}/.config/nono"),
        format!("echo x > {home}/.local/state/nono/x"),
        format!("echo '{{}}' > {home}/.config/nono/profiles/default.json"),
        format!("echo '{{}}' > {home}/.config/nono/profiles/p.json"),
    ];
    assert_all_refused(&scene, &["--allow", &home], &commands, REFUSALS);
    assert!(!w.home().join(".local/state/nono/x").exists());
    assert!(!w.home().join(".config/nono/profiles/default.json").exists());
    assert_eq!(read(&profile), "{}\n");
}

#[test]
fn credentials_stay_denied_through_a_bind_mounted_alias_of_home() {
    // Escape: a grant on another path to the same directory. Container set-ups often
    // bind-mount the home elsewhere (here in a private mount namespace of the test's).
    // Denials are planned by path, Landlock rules apply to the directory itself.
    if !is_root() {
        skip("needs root to bind-mount in a private mount namespace");
        return;
    }
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let w = &scene.w;
    w.write("home/.ssh/id_rsa", "PRIVATE KEY\n");
    w.write("home/notes.txt", "notes\n");
    let alias = w.dir.path().join("alias");
    std::fs::create_dir_all(&alias).unwrap();
    let (home, alias) = (p(&w.home()).to_string(), p(&alias).to_string());
    let out = run_after_bind_mount(
        w,
        &home,
        &alias,
        &format!(
            "run -q --allow {alias} -- sh -c 'cat {alias}/notes.txt; cat {alias}/.ssh/id_rsa; cat {home}/.ssh/id_rsa'"
        ),
    );
    assert!(
        stdout(&out).contains("notes"),
        "the alias grant did not work at all:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("PRIVATE KEY"),
        "~/.ssh/id_rsa was readable through --allow {alias} (a bind mount of {home}):\n{}",
        stdout(&out)
    );
}

/// Runs `nono ARGS` (one shell word list) in a private mount namespace of the test's
/// own, after bind-mounting `source` on `target` there.
fn run_after_bind_mount(w: &World, source: &str, target: &str, args: &str) -> Output {
    let script = format!("mount --bind {source} {target} && exec \"$0\" {args}");
    assert_cmd::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_nono"))
        .current_dir(w.work())
        .env("HOME", w.home())
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .timeout(TIMEOUT)
        .output()
        .expect("running unshare (util-linux)")
}

#[test]
fn nono_config_cannot_be_planted_under_allowed_home() {
    // Escape: create ~/.config/nono where none exists yet, so a later run reads it.
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let w = &scene.w;
    w.write("home/.config/other/settings", "x\n");
    let home = p(&w.home()).to_string();
    let commands = [
        format!("mkdir -p {home}/.config/nono/profiles"),
        // nono may create its own state directory itself; nothing may be planted in it.
        format!("mkdir -p {home}/.local/state/nono/planted"),
    ];
    assert_all_refused(&scene, &["--allow", &home], &commands, REFUSALS);
    assert!(!w.home().join(".config/nono").exists());
    assert!(!w.home().join(".local/state/nono/planted").exists());
}

// ---------------------------------------------------------------------------------
// Writing where it is not granted

/// Not an escape: the working directory is granted and works.
fn cwd_is_writable(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let out = scene.run(&[
        "run",
        "-q",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        "echo hi > x; cat x",
    ]);
    assert_code(&out, 0, "write and read back in the cwd");
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(read(&scene.w.work().join("x")), "hi\n");
}

fn write_attempts(scene: &Scene, outside: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let etc = PathBuf::from("/etc").join(scene.unique("etc"));
    let usr = PathBuf::from("/usr/bin").join(scene.unique("usr"));
    let commands = vec![
        format!("echo escaped > {}", etc.display()),
        format!("echo escaped > {}", usr.display()),
        format!("echo escaped > {}/new", outside.display()),
        format!("mkdir {}/dir", outside.display()),
        format!("touch {}/touched", outside.display()),
    ];
    (commands, vec![etc, usr])
}

/// Escape: create files in /etc, /usr/bin and another temp directory.
fn writes_outside_the_grants_fail(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let outside = scene.outside();
    let (commands, system) = write_attempts(&scene, outside.path());
    let _cleanup = RemoveAfter(system.clone());
    assert_all_refused(&scene, &["--allow-cwd"], &commands, REFUSALS);
    for path in &system {
        assert!(!path.exists(), "{} was created", path.display());
    }
    assert!(
        entries(outside.path()).is_empty(),
        "{:?}",
        entries(outside.path())
    );
}

/// The same escapes with the mount view off: Landlock alone must refuse them.
fn writes_outside_the_grants_fail_under_landlock_alone(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let outside = scene.outside();
    let (commands, system) = write_attempts(&scene, outside.path());
    let _cleanup = RemoveAfter(system.clone());
    assert_all_refused(
        &scene,
        &["--allow-cwd", "--no-mount-view", "--allow-unhidden-sockets"],
        &commands,
        LANDLOCK_REFUSALS,
    );
    for path in &system {
        assert!(!path.exists(), "{} was created", path.display());
    }
    assert!(
        entries(outside.path()).is_empty(),
        "{:?}",
        entries(outside.path())
    );
}

/// Escape: move a granted file out of the grant (mv falls back to copy + unlink on
/// EXDEV, so both halves must fail), or an outside file in.
fn renames_across_the_grant_boundary_fail(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let outside = scene.outside();
    let theirs = scene.outside_file(&outside, "theirs.txt", "theirs\n");
    let mine = scene.w.write("work/x", "mine\n");
    scene.give(&mine);
    let out_dir = p(outside.path()).to_string();
    let probe = scene.probe();
    for extra in [
        &[][..],
        &["--no-mount-view", "--allow-unhidden-sockets"][..],
    ] {
        let mut flags = vec!["--allow-cwd", "--read-file", probe.as_str()];
        flags.extend_from_slice(extra);
        let commands = [
            format!("mv x {out_dir}/x"),
            format!("{PYTHON} {probe} rename x {out_dir}/x2"),
            format!("mv {out_dir}/theirs.txt stolen.txt"),
            format!("{PYTHON} {probe} rename {out_dir}/theirs.txt stolen2.txt"),
        ];
        assert_all_refused(&scene, &flags, &commands, REFUSALS);
        assert_eq!(read(&mine), "mine\n", "with {extra:?}");
        assert_eq!(read(&theirs), "theirs\n", "with {extra:?}");
        assert_eq!(
            entries(outside.path()),
            BTreeSet::from(["theirs.txt".to_string()]),
            "with {extra:?}"
        );
        assert!(!scene.w.work().join("stolen.txt").exists());
        assert!(!scene.w.work().join("stolen2.txt").exists());
    }
}

/// Escape: empty a file the sandbox may not write, by every path to truncation.
fn truncating_an_outside_file_fails(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let outside = scene.outside();
    let file = scene.outside_file(&outside, "keep.txt", "precious\n");
    let f = p(&file).to_string();
    let commands = [
        format!("truncate -s 0 {f}"),
        format!(": > {f}"),
        format!("{PYTHON} -c 'import os; os.truncate(\"{f}\", 0)'"),
    ];
    assert_all_refused(&scene, &["--allow-cwd"], &commands, REFUSALS);
    assert_eq!(read(&file), "precious\n");
    assert_all_refused(
        &scene,
        &["--allow-cwd", "--no-mount-view", "--allow-unhidden-sockets"],
        &commands,
        LANDLOCK_REFUSALS,
    );
    assert_eq!(read(&file), "precious\n");
}

#[test]
fn hard_link_of_an_outside_file_into_the_grant_fails() {
    // Escape: link an outside file into the writable cwd, then write through the link.
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let outside = scene.outside();
    let file = scene.outside_file(&outside, "target.txt", "original\n");
    let commands = [format!("ln {} hl && echo changed > hl", p(&file))];
    for flags in [
        &["--allow-cwd"][..],
        &["--allow-cwd", "--no-mount-view", "--allow-unhidden-sockets"][..],
    ] {
        assert_all_refused(&scene, flags, &commands, REFUSALS);
        assert!(!scene.w.work().join("hl").exists(), "with {flags:?}");
        assert_eq!(read(&file), "original\n", "with {flags:?}");
    }
}

#[test]
fn grandchildren_are_as_restricted_as_the_child() {
    // Escape: hope that a process two forks down escapes the restrictions.
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let target = PathBuf::from("/etc").join(scene.unique("grandchild"));
    let _cleanup = RemoveAfter(vec![target.clone()]);
    let inner = format!("cat /etc/shadow; echo x > {}", target.display());
    let out = scene.run(&[
        "run",
        "-q",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        &format!("sh -c '{inner}'"),
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/etc/shadow: Permission denied")
            // The mount view leaves it out.
            || stderr(&out).contains("/etc/shadow: No such file or directory"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("root:"), "{}", stdout(&out));
    assert!(
        !target.exists(),
        "the grandchild wrote {}",
        target.display()
    );
}

#[test]
fn libc_open_and_raw_openat_are_as_restricted_as_open() {
    // Escape: skip the shell and Python's os module, call open(2) through ctypes, and
    // openat by system call number.
    let Some(scene) = Scene::with_python(User::Caller) else {
        return;
    };
    let outside = scene.outside();
    let new = outside.path().join("created");
    let new = p(&new);
    for op in ["libc-open", "syscall-openat"] {
        let out = scene.run_probe(&["--allow-cwd"], &[op, new, "create"]);
        assert_code(&out, 1, &format!("{op} O_WRONLY|O_CREAT outside"));
        assert!(stdout(&out).contains("denied"), "{}", stdout(&out));
        // The mount view leaves it out; Landlock alone refuses it.
        let out = scene.run_probe(&["--allow-cwd"], &[op, "/etc/shadow", "read"]);
        assert_probe_denied(&out, "ENOENT", &format!("{op} O_RDONLY /etc/shadow"));
        let out = scene.run_probe(
            &["--allow-cwd", "--no-mount-view", "--allow-unhidden-sockets"],
            &[op, "/etc/shadow", "read"],
        );
        assert_probe_denied(
            &out,
            "EACCES",
            &format!("{op} O_RDONLY /etc/shadow, no view"),
        );
        // Controls: the probe does work where the sandbox allows it.
        let out = scene.run_probe(&["--allow-cwd"], &[op, "/etc/passwd", "read"]);
        assert_probe_ok(&out, &format!("{op} O_RDONLY /etc/passwd"));
        let out = scene.run_probe(&["--allow-cwd"], &[op, &format!("in-cwd-{op}"), "create"]);
        assert_probe_ok(&out, &format!("{op} create in the cwd"));
    }
    assert!(
        entries(outside.path()).is_empty(),
        "{:?}",
        entries(outside.path())
    );
}

// ---------------------------------------------------------------------------------
// Metadata: what Landlock does not mediate

fn has_attr_tools() -> bool {
    let found = ["setfattr", "getfattr"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        skip("needs setfattr and getfattr (Debian package attr)");
    }
    found
}

fn xattrs(path: &Path) -> String {
    let out = std::process::Command::new("getfattr")
        .args(["-d", "--absolute-names"])
        .arg(path)
        .output()
        .expect("running getfattr");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Escape: change mode, owner, times and extended attributes of a file outside the
/// write grants (Landlock does not mediate these; the read-only mount view does).
fn metadata_of_outside_files_cannot_change(user: User) {
    if !has_attr_tools() {
        return;
    }
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let outside = scene.outside();
    let control = scene.outside_file(&outside, "control", "");
    let ok = std::process::Command::new("setfattr")
        .args(["-n", "user.control", "-v", "1"])
        .arg(&control)
        .status()
        .unwrap();
    if !ok.success() {
        skip("the temp directory's file system does not support user extended attributes");
        return;
    }
    let file = scene.outside_file(&outside, "file", "content\n");
    set_mode(&file, 0o644);
    let before = std::fs::metadata(&file).unwrap();
    let inside = scene.w.write("work/inside", "x\n");
    scene.give(&inside);
    let f = p(&file).to_string();
    // Root would give the file away; nobody "changes" it to itself, which is allowed
    // to an owner and still needs a writable mount.
    let owner = match user {
        User::Caller => "1:1".to_string(),
        User::Nobody => format!("{NOBODY}:{NOBODY}"),
    };
    let commands = [
        format!("chmod 600 {f}"),
        format!("chown {owner} {f}"),
        format!("touch -d 2001-02-03 {f}"),
        format!("setfattr -n user.x -v 1 {f}"),
        format!("setfattr -x user.control {}", p(&control)),
    ];
    assert_all_refused(&scene, &["--allow-cwd"], &commands, REFUSALS);
    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(after.mode(), before.mode(), "mode changed");
    assert_eq!(
        (after.uid(), after.gid()),
        (before.uid(), before.gid()),
        "owner changed"
    );
    assert_eq!(
        after.modified().unwrap(),
        before.modified().unwrap(),
        "mtime changed"
    );
    assert!(!xattrs(&file).contains("user.x"), "{}", xattrs(&file));
    assert!(
        xattrs(&control).contains("user.control"),
        "{}",
        xattrs(&control)
    );

    // Not an escape: inside the cwd, chmod works.
    let out = scene.run(&["run", "-q", "--allow-cwd", "--", "chmod", "600", "inside"]);
    assert_code(&out, 0, "chmod inside the cwd");
    assert_eq!(mode_of(&inside), 0o600);
}

#[test]
fn without_mount_view_seccomp_refuses_chmod_outside_and_inside_the_cwd_too() {
    // Escape: turn the mount view off and change metadata outside. `--help` promises
    // seccomp then refuses metadata changes everywhere, which costs chmod inside the
    // cwd as well (seccomp cannot tell paths apart).
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let outside = scene.outside();
    let file = scene.outside_file(&outside, "file", "content\n");
    let before = std::fs::metadata(&file).unwrap();
    let inside = scene.w.write("work/inside", "x\n");
    set_mode(&inside, 0o644);
    let f = p(&file).to_string();
    let commands = [
        format!("chmod 600 {f}"),
        format!("chown 1:1 {f}"),
        format!("touch -d 2001-02-03 {f}"),
    ];
    let flags = ["--no-mount-view", "--allow-unhidden-sockets", "--allow-cwd"];
    assert_all_refused(&scene, &flags, &commands, &["Permission denied"]);
    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(after.mode(), before.mode(), "mode changed");
    assert_eq!(after.uid(), before.uid(), "owner changed");
    assert_eq!(
        after.modified().unwrap(),
        before.modified().unwrap(),
        "mtime changed"
    );

    assert_all_refused(
        &scene,
        &flags,
        &["chmod 600 inside".into()],
        &["Permission denied"],
    );
    assert_eq!(mode_of(&inside), 0o644);
}

// ---------------------------------------------------------------------------------
// Network

/// A TCP listener on 127.0.0.1 that must see no connection.
fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a TCP listener");
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    (listener, port)
}

/// Whether a connection arrives within `wait`.
fn accepted(listener: &TcpListener, wait: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    loop {
        match listener.accept() {
            Ok((mut conn, _)) => {
                use std::io::Read;
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let mut data = Vec::new();
                let _ = conn.read_to_end(&mut data);
                return Some(data);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Escape: connect to a TCP server on the loopback interface.
fn block_network_refuses_tcp_connect(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let (server, port) = listener();
    let out = scene.run_probe(&["--block-network"], &["tcp-connect", &port]);
    assert_probe_denied(&out, "EACCES", "TCP connect with --block-network");
    assert_eq!(
        accepted(&server, Duration::ZERO),
        None,
        "the server saw a connection"
    );
    // Control: the same probe connects without the block.
    let out = scene.run_probe(&[], &["tcp-connect", &port]);
    assert_probe_ok(&out, "TCP connect without --block-network");
}

/// Escape: send a UDP datagram to a socket on the loopback interface.
fn block_network_refuses_udp_sendto(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
    socket.set_nonblocking(true).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let out = scene.run_probe(&["--block-network"], &["udp-sendto", &port]);
    assert_probe_denied(&out, "EACCES", "UDP sendto with --block-network");
    let mut buf = [0u8; 64];
    match socket.recv(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the datagram arrived: {other:?}"),
    }
}

/// Escape: the sockets Landlock's TCP rules do not cover (MPTCP, SCTP, raw) and a
/// listening TCP socket. EACCES is the sandbox; without it these fail differently
/// (EPROTONOSUPPORT, EPERM) or succeed.
fn block_network_refuses_other_socket_kinds(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    for op in ["mptcp", "sctp", "raw", "tcp-bind"] {
        let out = scene.run_probe(&["--block-network"], &[op]);
        assert_probe_denied(&out, "EACCES", &format!("{op} with --block-network"));
    }
    // Control: MPTCP sockets and binding work without the block.
    for op in ["mptcp", "tcp-bind"] {
        let out = scene.run_probe(&[], &[op]);
        assert_probe_ok(&out, &format!("{op} without --block-network"));
    }
}

/// Escape: TCP Fast Open — `sendto(MSG_FASTOPEN)` connects without calling connect(),
/// and Landlock's TCP rules hook connect().
fn block_network_refuses_tcp_fast_open(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let (server, port) = listener();
    let out = scene.run_probe(&["--block-network"], &["tcp-fastopen", &port]);
    let leaked = accepted(&server, Duration::from_millis(500));
    assert_eq!(
        leaked.map(|d| String::from_utf8_lossy(&d).into_owned()),
        None,
        "with --block-network a TCP Fast Open sendto reached 127.0.0.1:{port}\n--- probe said\n{}",
        stdout(&out)
    );
    assert_probe_denied(&out, "EACCES", "TCP Fast Open with --block-network");
}

#[test]
fn block_network_refuses_listening_without_bind() {
    // Escape: listen() on a socket that was never bound binds an ephemeral port on
    // 0.0.0.0 by itself, and Landlock's TCP rules hook bind(). Anyone who can reach the
    // machine could then connect in and be served.
    use std::io::{BufRead, Read};
    let Some(scene) = Scene::with_python(User::Caller) else {
        return;
    };
    let probe = scene.probe();
    let mut nono = spawn_nono(
        &scene.w,
        &[
            "run",
            "-q",
            "--block-network",
            "--read-file",
            &probe,
            "--",
            PYTHON,
            &probe,
            "tcp-listen",
        ],
    );
    let mut lines = std::io::BufReader::new(nono.0.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // Listening inside the sandbox's own (empty) network namespace is harmless; the
    // escape is being reachable from outside.
    if let Some(port) = first.strip_prefix("listening ") {
        let port: u16 = port.trim().parse().unwrap();
        let mut served = String::new();
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = conn.read_to_string(&mut served);
            panic!(
                "with --block-network the command listened on 0.0.0.0:{port} and served \
                 a connection from outside: {served:?}"
            );
        }
        return; // isolated in its own network namespace; Reaped kills it
    }
    assert!(first.starts_with("denied EACCES"), "probe said: {first:?}");
}

// ---------------------------------------------------------------------------------
// Signals and sockets outside the sandbox

/// Escape: signal a process outside the sandbox that has the same uid.
fn signals_to_outside_processes_are_refused(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let sleeper = outside_sleeper(&scene);
    let pid = sleeper.0.id().to_string();
    // Control: outside any sandbox the same user may signal it.
    let control = command_as(scene.user, "sh")
        .args(["-c", &format!("kill -0 {pid}")])
        .output()
        .unwrap();
    assert!(control.status.success(), "control kill -0: {control:?}");
    // In its PID namespace the outside process does not even exist.
    let out = scene.run(&["run", "-q", "--", "sh", "-c", &format!("kill -0 {pid}")]);
    assert_code(&out, 1, "kill -0 of an outside process");
    assert!(stderr(&out).contains("No such process"), "{}", stderr(&out));
    // Without it (`process_info_mode: allow_all`), Landlock's signal scoping refuses.
    let profile = scene.w.write(
        "allpids.json",
        r#"{"security": {"process_info_mode": "allow_all"}}"#,
    );
    scene.give(&profile);
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "sh",
        "-c",
        &format!("kill -0 {pid}"),
    ]);
    assert_code(&out, 1, "kill -0 of an outside process (allow_all)");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn signals_inside_the_sandbox_work() {
    // Not an escape: a command may signal its own children.
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let out = scene.run(&[
        "run",
        "-q",
        "--",
        "sh",
        "-c",
        "sleep 5 & kill $!; wait $!; echo status=$?",
    ]);
    assert_code(&out, 0, "kill of an own child");
    assert_eq!(stdout(&out), "status=143\n");
}

/// Escape: connect to an abstract unix socket bound outside (D-Bus, X11 and many
/// agents use them, and they have no file permissions at all).
fn abstract_sockets_outside_are_unreachable(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let name = scene.unique("abstract");
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let server = UnixListener::bind_addr(&address).expect("binding an abstract socket");
    server.set_nonblocking(true).unwrap();
    let out = scene.run_probe(&[], &["abstract-connect", &name]);
    assert_probe_denied(&out, "EPERM", "connect to an outside abstract socket");
    match server.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the outside socket saw a connection: {other:?}"),
    }
    // Not an escape: a server and client both inside the sandbox talk.
    let out = scene.run_probe(&[], &["abstract-inside", &format!("{name}-inside")]);
    assert_probe_ok(&out, "abstract socket inside the sandbox");
}

#[test]
fn runtime_dir_sockets_are_hidden() {
    // Escape: connect to an agent's pathname socket in $XDG_RUNTIME_DIR (Landlock before
    // ABI 9 does not mediate connecting to pathname sockets; the mount view hides them).
    let Some(scene) = Scene::with_python(User::Caller) else {
        return;
    };
    let runtime = scene.w.dir.path().join("run-user");
    std::fs::create_dir_all(&runtime).unwrap();
    let socket = runtime.join("agent.sock");
    let server = UnixListener::bind(&socket).expect("binding a unix socket");
    server.set_nonblocking(true).unwrap();
    let probe = scene.probe();
    let out = scene
        .w
        .nono(&[
            "run",
            "-q",
            "--read-file",
            &probe,
            "--",
            PYTHON,
            &probe,
            "unix-connect",
            p(&socket),
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_code(&out, 1, "connect to the runtime dir's socket");
    assert!(stdout(&out).contains("denied"), "{}", stdout(&out));
    assert!(server.accept().is_err(), "the agent saw a connection");
}

#[test]
fn without_mount_view_runtime_dir_sockets_stay_hidden_or_the_status_says_so() {
    // Escape: turn the mount view off, and with it the tmpfs over $XDG_RUNTIME_DIR.
    // Either the socket stays unreachable, or the status line must say it is not.
    let Some(scene) = Scene::with_python(User::Caller) else {
        return;
    };
    let runtime = scene.w.dir.path().join("run-user");
    std::fs::create_dir_all(&runtime).unwrap();
    let socket = runtime.join("agent.sock");
    let _server = UnixListener::bind(&socket).expect("binding a unix socket");
    let probe = scene.probe();
    let out = scene
        .w
        .nono(&[
            "run",
            "--no-mount-view",
            "--read-file",
            &probe,
            "--",
            PYTHON,
            &probe,
            "unix-connect",
            p(&socket),
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let reached = out.status.code() == Some(0);
    let status = stderr(&out);
    assert!(
        !reached || status.contains("runtime") || status.contains("XDG_RUNTIME_DIR"),
        "with --no-mount-view the agent socket in $XDG_RUNTIME_DIR is reachable, and the \
         status line does not say so:\n{status}"
    );
}

/// Escape: reach the supervisor (same uid, outside the sandbox) through /proc: read its
/// environment (which still holds the credentials stripped from the child), and use its
/// root directory, in the original, writable mount namespace, to chmod an outside file.
/// In the PID namespace the parent is the namespace's init, a copy of the supervisor
/// (same environment), which must be as closed.
fn supervisor_proc_entries_are_unreachable(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let outside = scene.outside();
    let file = scene.outside_file(&outside, "file", "content\n");
    let commands = [
        "cat /proc/$PPID/environ".to_string(),
        "ls /proc/$PPID/root/".into(),
        format!("chmod 600 /proc/$PPID/root{}", p(&file)),
        format!("echo x > /proc/$PPID/root{}", p(&file)),
        "ls -l /proc/$PPID/fd/0".into(),
        "cat /proc/$PPID/maps".into(),
        "ls /proc/$PPID/cwd/".into(),
    ];
    let mut args = vec!["run", "-q", "--allow-cwd", "--", "sh", "-c", ATTEMPTS, "sh"];
    args.extend(commands.iter().map(String::as_str));
    let out = scene.run_with_env(&args, &[("OPENAI_API_KEY", "sk-supervisor-secret")]);
    let text = stdout(&out);
    assert!(!text.contains("sk-supervisor-secret"), "{text}");
    assert!(!text.contains("ESCAPED"), "{text}");
    assert_eq!(text.matches("refused:").count(), commands.len(), "{text}");
    assert_eq!(mode_of(&file), 0o666);
    assert_eq!(read(&file), "content\n");
}

/// Escape: make the mount view writable again, then write outside: mount(8) as root,
/// a new mount namespace, and the system calls themselves (remount and mount_setattr,
/// as the sandbox's root and as root of a nested user namespace).
fn mount_view_cannot_be_undone(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let outside = scene.outside();
    let o = p(outside.path()).to_string();
    let probe = scene.probe();
    let mut commands = vec![
        format!("{PYTHON} {probe} remount-write {o}"),
        format!("echo x > {o}/b"),
    ];
    if user == User::Caller {
        // mount(8) refuses other users by itself, without asking the kernel.
        commands.push("mount -o remount,rw /".into());
        commands.push("unshare -m true".into());
    }
    assert_all_refused(
        &scene,
        &["--allow-cwd", "--read-file", &probe],
        &commands,
        REFUSALS,
    );
    assert!(
        entries(outside.path()).is_empty(),
        "{:?}",
        entries(outside.path())
    );
}

/// Waits for `child` and collects its (small, piped) output, killing it after `timeout`.
fn wait_with_timeout(child: Child, timeout: Duration) -> Output {
    use std::io::Read;
    let mut child = Reaped(child);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut pipe) = child.0.stdout.take() {
        pipe.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut pipe) = child.0.stderr.take() {
        pipe.read_to_end(&mut stderr).unwrap();
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A pseudo-terminal pair: (master, slave).
fn openpty() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the integers we pass; the name,
    // termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    }
}

/// What is waiting to be read on a terminal, without blocking.
fn pending_input(tty: &std::os::fd::OwnedFd) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: tty.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    if ready <= 0 {
        return String::new();
    }
    let mut file = std::fs::File::from(tty.try_clone().unwrap());
    let mut buf = [0u8; 256];
    let n = file.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn terminal_input_cannot_be_injected_with_tiocsti() {
    // Escape: push "commands" into the controlling terminal's input queue with the
    // TIOCSTI ioctl; the user's shell reads and runs them, unsandboxed, once nono exits
    // (bubblewrap's CVE-2017-5226). A kernel with dev.tty.legacy_tiocsti=0 refuses by
    // itself; otherwise the sandbox must (a new session, or seccomp on the ioctl).
    let Some(scene) = Scene::with_python(User::Caller) else {
        return;
    };
    let (_master, slave) = openpty();
    let probe = scene.probe();
    // setsid --ctty makes the pty nono's controlling terminal, as a shell's would be.
    let child = std::process::Command::new("setsid")
        .args(["--ctty", "--wait", env!("CARGO_BIN_EXE_nono")])
        .args(["run", "-q", "--read-file", &probe, "--", PYTHON, &probe])
        .args(["tiocsti", "echo injected-by-the-sandbox"])
        .current_dir(scene.w.work())
        .env("HOME", scene.w.home())
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running setsid (util-linux)");
    let out = wait_with_timeout(child, TIMEOUT);
    let injected = pending_input(&slave);
    assert!(
        !injected.contains("injected-by-the-sandbox"),
        "the sandboxed command typed into the terminal outside it: {injected:?}\n\
         --- probe said\n{}--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_code(&out, 1, "TIOCSTI refused");
}

#[test]
fn no_nono_descriptors_leak_into_the_child() {
    // Escape: use a descriptor nono left open (its Landlock ruleset, its signalfd, the
    // pipe it reports exec errors on).
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    for verb in ["run", "wrap"] {
        let out = scene.run(&[
            verb,
            "-q",
            "--block-network",
            "--",
            "ls",
            "-l",
            "/proc/self/fd/",
        ]);
        assert_code(&out, 0, &format!("{verb}: listing descriptors"));
        let text = stdout(&out);
        assert!(!text.contains("anon_inode"), "{verb}: {text}");
        assert!(!text.contains("landlock"), "{verb}: {text}");
    }
}

// ---------------------------------------------------------------------------------
// Privileges and environment

fn status_lines(status: &str) -> Vec<(String, String)> {
    status
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn capabilities_are_all_dropped_in_run_and_wrap() {
    // Escape: keep root's capabilities (CAP_DAC_OVERRIDE reads anything, CAP_SYS_ADMIN
    // remounts) across exec.
    if !is_root() {
        skip("needs root: an unprivileged caller has no capabilities to drop");
        return;
    }
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    for verb in ["run", "wrap"] {
        let out = scene.run(&[verb, "-q", "--", "cat", "/proc/self/status"]);
        assert_code(&out, 0, &format!("{verb}: cat /proc/self/status"));
        let fields = status_lines(&stdout(&out));
        for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            let value = fields
                .iter()
                .find(|(k, _)| k == cap)
                .unwrap_or_else(|| panic!("{verb}: no {cap} in {}", stdout(&out)));
            assert_eq!(value.1, "0000000000000000", "{verb}: {cap}");
        }
        let nnp = fields.iter().find(|(k, _)| k == "NoNewPrivs").unwrap();
        assert_eq!(nnp.1, "1", "{verb}: no_new_privs");
    }
}

#[test]
fn environment_strips_injection_and_credentials() {
    // Escape: smuggle a preload library or a credential into the child's environment.
    let w = World::new();
    let vars = [
        ("LD_PRELOAD", "/nonexistent.so"),
        ("OPENAI_API_KEY", "sk-x"),
        ("AWS_REGION", "x"),
        ("GITHUB_TOKEN", "t"),
        ("FOO", "bar"),
    ];
    let out = w
        .nono(&["run", "-q", "--", "env"])
        .envs(vars)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_code(&out, 0, "env");
    let env = stdout(&out);
    assert!(env.lines().any(|l| l == "FOO=bar"), "{env}");
    for name in ["LD_PRELOAD", "OPENAI_API_KEY", "AWS_REGION", "GITHUB_TOKEN"] {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name} passed:\n{env}"
        );
    }

    let profile = w.write(
        "keep-openai.json",
        r#"{ "environment": { "allow_vars": ["OPENAI_API_KEY"] } }"#,
    );
    let out = w
        .nono(&["run", "-q", "--profile", p(&profile), "--", "env"])
        .envs(vars)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_code(&out, 0, "env with allow_vars");
    let env = stdout(&out);
    assert!(env.lines().any(|l| l == "OPENAI_API_KEY=sk-x"), "{env}");
    for name in ["LD_PRELOAD", "AWS_REGION", "GITHUB_TOKEN"] {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name} passed:\n{env}"
        );
    }
}

/// Escape: credentials under names the suffix rule missed — bare words, lower case,
/// words in the middle, URLs with a password — reach neither `env` nor
/// `/proc/self/environ` of a child of the command.
#[test]
fn environment_strips_credentials_by_word_case_and_url() {
    let w = World::new();
    let secrets = [
        ("TOKEN", "n0n0-secret-1"),
        ("PASSWORD", "n0n0-secret-2"),
        ("API_KEY", "n0n0-secret-3"),
        ("SECRET_KEY", "n0n0-secret-4"),
        ("github_token", "n0n0-secret-5"),
        ("GH_PAT", "n0n0-secret-6"),
        ("SSHPASS", "n0n0-secret-7"),
        ("SENTRY_DSN", "https://n0n0-secret-8@o1.ingest.example/1"),
        ("DOCKER_AUTH_CONFIG", "n0n0-secret-9"),
        ("TF_TOKEN_app_terraform_io", "n0n0-secret-10"),
        (
            "HTTPS_PROXY",
            "http://alice:n0n0-secret-11@proxy.example:3128",
        ),
        ("npm_config__authToken", "n0n0-secret-12"),
    ];
    let out = w
        .nono(&[
            "run",
            "-q",
            "--",
            "sh",
            "-c",
            "env; sh -c 'tr \\0 \\n < /proc/self/environ'",
        ])
        .envs(secrets)
        .env("KEEP_ME", "visible")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_code(&out, 0, "env");
    let seen = stdout(&out);
    assert!(seen.contains("KEEP_ME=visible"), "{seen}");
    assert!(
        !seen.contains("n0n0-secret"),
        "a credential passed:\n{seen}"
    );

    // Passed on purpose: named in allow_vars.
    let profile = w.write(
        "keep.json",
        r#"{ "environment": { "allow_vars": ["*", "TOKEN", "HTTPS_PROXY"] } }"#,
    );
    let out = w
        .nono(&["run", "-q", "--profile", p(&profile), "--", "env"])
        .envs(secrets)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_code(&out, 0, "env with allow_vars");
    let seen = stdout(&out);
    assert!(seen.lines().any(|l| l == "TOKEN=n0n0-secret-1"), "{seen}");
    assert!(seen.contains("n0n0-secret-11@"), "{seen}");
    assert!(!seen.contains("n0n0-secret-2"), "{seen}");
}

/// `git_config` grants `~/.gitconfig`; a token written into it is readable by the
/// command, so `nono run` says so (line and setting, never the token), even with -q.
#[test]
fn a_token_in_the_granted_gitconfig_is_named_not_printed() {
    let w = World::new();
    w.write(
        "home/.gitconfig",
        "[user]\n\tname = A\n[url \"https://ghp_n0n0token@github.com/\"]\n\tinsteadOf = https://github.com/\n[http]\n\textraHeader = Authorization: Bearer n0n0bearer\n",
    );
    let profile = w.write("g.json", r#"{"groups": {"include": ["git_config"]}}"#);
    let out = w.run(&["run", "-q", "--profile", p(&profile), "--", "true"]);
    assert_code(&out, 0, "run");
    let err = stderr(&out);
    assert!(err.contains(".gitconfig holds 3 credentials"), "{err}");
    assert!(
        err.contains("line 3") && err.contains("http.extraheader"),
        "{err}"
    );
    assert!(!err.contains("n0n0"), "the warning printed a secret: {err}");
    // Without the grant, nothing to say.
    let out = w.run(&["run", "-q", "--", "true"]);
    assert!(!stderr(&out).contains(".gitconfig"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------
// Bad input: refused before anything runs

#[test]
fn missing_profile_is_a_usage_error_naming_the_path() {
    let w = World::new();
    let out = w.run(&[
        "run",
        "--profile",
        "/nonexistent.json",
        "--",
        "touch",
        "ran",
    ]);
    assert_code(&out, 2, "missing profile");
    assert!(
        stderr(&out).contains("/nonexistent.json"),
        "{}",
        stderr(&out)
    );
    assert!(!w.work().join("ran").exists(), "the command ran");
}

#[test]
fn unknown_command_exits_127_with_a_hint() {
    let w = World::new();
    let out = w.run(&["run", "--", "nono-test-no-such-command"]);
    assert_code(&out, 127, "unknown command");
    let err = stderr(&out);
    assert!(
        err.contains("command not found: nono-test-no-such-command"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn non_executable_command_exits_126() {
    let w = World::new();
    let script = w.write("work/script.sh", "#!/bin/sh\necho ran\n");
    set_mode(&script, 0o644);
    let out = w.run(&["run", "--allow-cwd", "--", "./script.sh"]);
    assert_code(&out, 126, "non-executable file");
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("ran"));
}

#[test]
fn read_of_a_file_suggests_read_file() {
    let w = World::new();
    let file = w.write("data.txt", "x");
    let out = w.run(&["run", "--read", p(&file), "--", "true"]);
    assert_code(&out, 2, "--read FILE");
    assert!(
        stderr(&out).contains(&format!("--read-file {}", p(&file))),
        "{}",
        stderr(&out)
    );
}

#[test]
fn read_of_a_missing_path_says_it_does_not_exist() {
    let w = World::new();
    let out = w.run(&["run", "--read", "/nonexistent", "--", "true"]);
    assert_code(&out, 2, "--read /nonexistent");
    assert!(
        stderr(&out).contains("/nonexistent does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn read_of_a_denied_directory_names_the_group() {
    let w = World::new();
    w.write("home/.ssh/id_rsa", "key");
    let out = w.run(&["run", "--read", "~/.ssh", "--", "cat", "~/.ssh/id_rsa"]);
    assert_code(&out, 2, "--read ~/.ssh");
    assert!(
        stderr(&out).contains("deny_credentials"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn symlinked_grant_to_a_denied_path_is_refused() {
    // Escape: grant an innocent-looking link whose target is a denied file or directory.
    let w = World::new();
    w.write("home/.ssh/id_rsa", "key");
    let file_link = w.work().join("notes.txt");
    let dir_link = w.work().join("docs");
    std::os::unix::fs::symlink(w.home().join(".ssh/id_rsa"), &file_link).unwrap();
    std::os::unix::fs::symlink(w.home().join(".ssh"), &dir_link).unwrap();
    let out = w.run(&[
        "run",
        "--read-file",
        p(&file_link),
        "--",
        "cat",
        p(&file_link),
    ]);
    assert_code(&out, 2, "--read-file LINK-TO-KEY");
    assert!(
        stderr(&out).contains("deny_credentials"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("key"));
    let out = w.run(&["run", "--read", p(&dir_link), "--", "ls", p(&dir_link)]);
    assert_code(&out, 2, "--read LINK-TO-SSH");
    assert!(
        stderr(&out).contains("deny_credentials"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn network_allowlist_is_refused_without_the_proxy() {
    let w = World::new();
    let out = w.run(&["run", "--network-profile", "minimal", "--", "touch", "ran"]);
    assert_code(&out, 2, "--network-profile minimal");
    assert!(stderr(&out).contains("--allow-net"), "{}", stderr(&out));
    assert!(!w.work().join("ran").exists(), "the command ran");
}

// ---------------------------------------------------------------------------------
// Dry run, exit codes, status line, wrap

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let w = World::new();
    let work = std::fs::canonicalize(w.work()).unwrap();
    let out = w.run(&[
        "run",
        "--dry-run",
        "--allow-cwd",
        "--",
        "touch",
        "made-by-dry-run",
    ]);
    assert_code(&out, 0, "--dry-run");
    let plan = stdout(&out);
    for text in ["filesystem rules", p(&work), "denied", "flag --allow-cwd"] {
        assert!(plan.contains(text), "{text:?} missing from:\n{plan}");
    }
    assert!(
        !work.join("made-by-dry-run").exists(),
        "--dry-run ran the command"
    );

    let out = w.run(&[
        "run",
        "--dry-run",
        "--json",
        "--allow-cwd",
        "--",
        "touch",
        "made-by-dry-run",
    ]);
    assert_code(&out, 0, "--dry-run --json");
    let plan = json(&out);
    let rules = plan["plan"]["rules"]
        .as_array()
        .expect("plan.rules is an array");
    let cwd_rule = rules
        .iter()
        .find(|r| r["path"] == p(&work))
        .unwrap_or_else(|| panic!("no rule for the cwd in {plan}"));
    assert_eq!(cwd_rule["access"], "readwrite", "{cwd_rule}");
    assert!(
        !work.join("made-by-dry-run").exists(),
        "--dry-run --json ran the command"
    );
}

#[test]
fn exit_code_is_the_commands() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let out = scene.run(&["run", "-q", "--", "sh", "-c", "exit 7"]);
    assert_code(&out, 7, "exit 7");
    let out = scene.run(&["run", "-q", "--", "sh", "-c", "kill -TERM $$"]);
    assert_code(&out, 143, "killed by SIGTERM");
}

/// The children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The process ids below `pid` (children, their children, …): the command runs
/// under the init of its PID namespace, a child of nono.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = children(pid);
    let mut i = 0;
    while i < found.len() {
        let more = children(found[i]);
        found.extend(more);
        i += 1;
    }
    found
}

#[test]
fn sigterm_to_nono_is_forwarded_to_the_command() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let mut nono = spawn_nono(&scene.w, &["run", "-q", "--", "sleep", "30"]);
    let pid = nono.0.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let sleep = loop {
        let found = descendants(pid).into_iter().find(|c| {
            std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|s| s.trim() == "sleep")
        });
        if let Some(child) = found {
            break child;
        }
        assert!(
            Instant::now() < deadline,
            "nono did not start sleep within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    send_signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = nono.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "nono did not exit within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(143), "nono's exit status: {status:?}");
    assert!(
        !Path::new(&format!("/proc/{sleep}")).exists(),
        "sleep ({sleep}) outlived nono"
    );
}

#[test]
fn status_line_reports_full_enforcement() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let out = scene.run(&["run", "--", "true"]);
    assert_code(&out, 0, "true");
    assert!(
        stderr(&out).contains("sandbox fully enforced"),
        "{}",
        stderr(&out)
    );
    let out = scene.run(&["run", "-q", "--", "true"]);
    assert!(
        !stderr(&out).contains("nono:"),
        "-q still printed: {}",
        stderr(&out)
    );
    let out = scene.run(&["run", "--require-full", "--", "true"]);
    assert_code(&out, 0, "--require-full on a kernel with everything");
}

#[test]
fn wrap_writes_the_cwd_and_denies_shadow() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let out = scene.run(&[
        "wrap",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        "echo hi > x; cat /etc/shadow",
    ]);
    assert_code(&out, 1, "the command's exit code (cat's)");
    assert_eq!(read(&scene.w.work().join("x")), "hi\n");
    assert!(
        stderr(&out).contains("/etc/shadow: Permission denied")
            // The mount view leaves it out.
            || stderr(&out).contains("/etc/shadow: No such file or directory"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("root:"));
}

as_root_and_nobody!(block_network_enters_an_empty_network_namespace);

fn block_network_enters_an_empty_network_namespace(user: User) {
    // Escape guarded: an inet socket that never calls bind()/connect() (listen on an
    // unbound socket, TCP Fast Open) skips Landlock's hooks; in a namespace of its own
    // there is nobody to reach. The command must not share the host's namespace.
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let out = scene.run(&[
        "run",
        "-q",
        "--block-network",
        "--",
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_code(&out, 0, "readlink of the namespace");
    let inside = stdout(&out).trim().to_string();
    assert!(inside.starts_with("net:["), "{inside}");
    assert_ne!(
        inside,
        host.to_string_lossy(),
        "--block-network shares the host's network namespace"
    );
}

as_root_and_nobody!(service_sockets_outside_the_grants_are_hidden);

fn service_sockets_outside_the_grants_are_hidden(user: User) {
    // Escape: connecting to another service's pathname socket (docker.sock, an
    // ssh-agent): Landlock before ABI 9 does not mediate connect() on pathname sockets.
    // The mount view hides sockets under /run and the usual /tmp socket directories.
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("ssh-nonotest")
        .tempdir_in("/tmp")
        .unwrap();
    set_mode(dir.path(), 0o777);
    let socket = dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    set_mode(&socket, 0o777);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten().take(4) {
            use std::io::Write;
            let mut conn = conn;
            let _ = conn.write_all(b"AGENT-SECRET");
        }
    });
    let client = format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?}); print('reached', s.recv(64))\nexcept OSError as e: print('refused', e.errno)",
        socket.to_str().unwrap()
    );
    let out = scene.run(&["run", "--", PYTHON, "-c", &client]);
    assert_code(&out, 0, "client");
    assert!(
        stdout(&out).starts_with("refused"),
        "the agent socket was reachable: {}",
        stdout(&out)
    );
    // Without the mount view nothing can leave it out: nono refuses to start unless
    // asked, and then the status line says so.
    let out = scene.run(&["run", "--no-mount-view", "--", PYTHON, "-c", &client]);
    assert_code(&out, 1, "--no-mount-view without --allow-unhidden-sockets");
    assert!(
        stderr(&out).contains("--allow-unhidden-sockets") && stdout(&out).is_empty(),
        "{}",
        stderr(&out)
    );
    let out = scene.run(&[
        "run",
        "--no-mount-view",
        "--allow-unhidden-sockets",
        "--",
        PYTHON,
        "-c",
        &client,
    ]);
    assert!(
        stdout(&out).starts_with("refused") || stderr(&out).contains("pathname sockets"),
        "reachable without the status saying so:\n{}",
        stderr(&out)
    );
}

#[test]
fn credentials_stay_denied_through_a_bind_mount_below_a_grant() {
    // Escape: the home is bind-mounted *below* a granted directory, so the granted
    // tree contains the denied one under another name.
    if !is_root() {
        skip("needs root to bind-mount in a private mount namespace");
        return;
    }
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let w = &scene.w;
    w.write("home/.ssh/id_rsa", "PRIVATE KEY\n");
    w.write("granted/own.txt", "own\n");
    let granted = w.dir.path().join("granted");
    let mountpoint = granted.join("homes");
    std::fs::create_dir_all(&mountpoint).unwrap();
    let (home, granted, mountpoint) = (
        p(&w.home()).to_string(),
        p(&granted).to_string(),
        p(&mountpoint).to_string(),
    );
    let out = run_after_bind_mount(
        w,
        &home,
        &mountpoint,
        &format!(
            "run -q --allow {granted} -- sh -c 'cat {granted}/own.txt; cat {mountpoint}/.ssh/id_rsa'"
        ),
    );
    assert!(
        stdout(&out).contains("own"),
        "the grant did not work:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("PRIVATE KEY"),
        "~/.ssh/id_rsa was readable through a bind mount below --allow {granted}:\n{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------------------------
// The plan cache

as_root_and_nobody!(
    a_cached_plan_does_not_outlive_new_credentials,
    a_cached_plan_does_not_outlive_a_new_file_under_a_read_only_grant,
    hostile_plan_cache_files_are_ignored,
    the_plan_cache_is_private_and_out_of_the_commands_reach,
);

/// Runs `nono ARGS` (with `NONO_TIMING=1`) until a run reports that its plan came
/// from the cache, sleeping past the cache's minimum directory age in between (other
/// tests touch shared directories such as `/etc`). Panics when that never happens: a
/// test that means to start from a cached plan must not pass without one.
fn run_until_cached(scene: &Scene, args: &[&str]) {
    // A plan is stored only when every directory it listed has been still for 2 s, so
    // on a busy machine (other tests creating files everywhere) it may take a few
    // rounds; each round's reason is kept for the failure message.
    let mut reasons = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let out = scene.run_with_env(args, &[("NONO_TIMING", "1")]);
        let said = stderr(&out);
        if said.contains("plan cache: hit") {
            return;
        }
        reasons.push(
            said.lines()
                .find(|l| l.contains("plan cache:"))
                .unwrap_or(said.as_str())
                .to_string(),
        );
        std::thread::sleep(Duration::from_millis(2100));
    }
    panic!(
        "no run of {args:?} used a cached plan in 60 s; the runs said:\n{}",
        reasons.join("\n")
    );
}

/// Escape: a plan cached before credentials appeared, reused after. The credentials
/// appear as `~/.aws`, a symlink into a directory the cached plan granted whole; a
/// fresh plan carves the link's target out of it. `~/.ssh` appears too.
fn a_cached_plan_does_not_outlive_new_credentials(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    w.write("home/dotfiles/vimrc", "set nu\n");
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let flags = ["--allow", home.as_str()];
    let vimrc = format!("{home}/dotfiles/vimrc");
    let args = ["run", "-q", "--allow", &home, "--", "cat", &vimrc];
    run_until_cached(&scene, &args);

    let aws = w.write("home/dotfiles/aws/credentials", "aws_secret_access_key=x\n");
    std::os::unix::fs::symlink(w.home().join("dotfiles/aws"), w.home().join(".aws")).unwrap();
    let ssh = w.write("home/.ssh/id_rsa", "-----BEGIN PRIVATE KEY-----\n");
    for path in [&aws, &ssh] {
        set_mode(path, 0o644);
    }
    scene.give(&w.home());
    let commands = [
        format!("cat {home}/.aws/credentials"),
        format!("cat {home}/dotfiles/aws/credentials"),
        format!("ls {home}/dotfiles/aws"),
        format!("cat {home}/.ssh/id_rsa"),
    ];
    assert_all_refused(&scene, &flags, &commands, REFUSALS);
    let out = scene.run(&args);
    assert_code(&out, 0, "the rest of dotfiles stays readable");
}

/// Escape: a denied file that appears under a read-only grant after its plan was
/// cached. The mount view hides only denied paths that exist when planning, so a
/// cached plan from before would leave the new file readable.
fn a_cached_plan_does_not_outlive_a_new_file_under_a_read_only_grant(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    // In the world's directory rather than beside it in /tmp: a second name looked up
    // in /tmp would have the planner list /tmp, which other tests change all the time.
    let outside = w.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    set_mode(&outside, 0o777);
    scene.give(&outside);
    let dir = p(&outside).to_string();
    let secret = format!("{dir}/secret");
    w.write(
        "home/.config/nono/profiles/t.json",
        &format!(r#"{{"filesystem": {{"read": ["{dir}"], "deny": ["{secret}"]}}}}"#),
    );
    scene.give(&w.home());
    let listing = ["run", "-q", "--profile", "t", "--", "ls", &dir];
    run_until_cached(&scene, &listing);

    let planted = w.write("outside/secret", "hunter2\n");
    set_mode(&planted, 0o644);
    scene.give(&planted);
    let commands = [format!("cat {secret}")];
    assert_all_refused(&scene, &["--profile", "t"], &commands, REFUSALS);
    let out = scene.run(&listing);
    assert_code(&out, 0, "the read-only grant still works");
}

/// A cache file that is garbage, a symlink to a plan that grants everything, or a
/// directory, is not trusted: the run plans afresh, works, and keeps secrets denied.
fn hostile_plan_cache_files_are_ignored(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let key = w.write("home/.ssh/id_rsa", "-----BEGIN PRIVATE KEY-----\n");
    w.write("home/notes.txt", "my notes\n");
    set_mode(&key, 0o644);
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let notes = format!("{home}/notes.txt");
    let args = ["run", "-q", "--allow", &home, "--", "cat", &notes];
    run_until_cached(&scene, &args);
    let plans = w.home().join(".local/state/nono/plans");
    let slots: Vec<PathBuf> = std::fs::read_dir(&plans)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        !slots.is_empty(),
        "a plan was cached in {}",
        plans.display()
    );
    let good = std::fs::read(&slots[0]).unwrap();
    let elsewhere = w.dir.path().join("planted");
    std::fs::write(&elsewhere, &good).unwrap();

    for what in ["garbage", "truncated", "a symlink", "a directory"] {
        for slot in &slots {
            if slot.is_dir() {
                std::fs::remove_dir(slot).unwrap();
            }
            let _ = std::fs::remove_file(slot);
            match what {
                "garbage" => std::fs::write(slot, b"\0\xffgarbage").unwrap(),
                "truncated" => std::fs::write(slot, &good[..good.len() / 3]).unwrap(),
                "a symlink" => std::os::unix::fs::symlink(&elsewhere, slot).unwrap(),
                _ => std::fs::create_dir(slot).unwrap(),
            }
        }
        scene.give(&w.home());
        let out = scene.run_with_env(&args, &[("NONO_TIMING", "1")]);
        assert_code(&out, 0, what);
        assert_eq!(stdout(&out), "my notes\n", "{what}");
        assert!(
            !stderr(&out).contains("plan cache: hit"),
            "{what}: the damaged cache was used:\n{}",
            stderr(&out)
        );
        let denied = scene.run(&["run", "-q", "--allow", &home, "--", "cat", p(&key)]);
        assert_ne!(denied.status.code(), Some(0), "{what}: the key was read");
    }
}

/// The cache is private (0700 directory, 0600 files) and the sandboxed command can
/// neither read it nor plant a plan in it, even with the whole home allowed.
fn the_plan_cache_is_private_and_out_of_the_commands_reach(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    w.write("home/notes.txt", "my notes\n");
    scene.give(&w.home());
    let home = p(&w.home()).to_string();
    let notes = format!("{home}/notes.txt");
    run_until_cached(
        &scene,
        &["run", "-q", "--allow", &home, "--", "cat", &notes],
    );
    let plans = w.home().join(".local/state/nono/plans");
    assert_eq!(mode_of(&plans), 0o700);
    let slots: Vec<PathBuf> = std::fs::read_dir(&plans)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for slot in &slots {
        assert_eq!(mode_of(slot), 0o600, "{}", slot.display());
        assert_eq!(std::fs::metadata(slot).unwrap().uid(), scene.uid());
    }
    let dir = p(&plans).to_string();
    let commands = [
        format!("ls {dir}"),
        format!("cat {}", p(&slots[0])),
        format!("echo x > {dir}/planted"),
        format!("echo x > {}", p(&slots[0])),
    ];
    assert_all_refused(&scene, &["--allow", &home], &commands, REFUSALS);
    assert!(!plans.join("planted").exists());
}

// ---------------------------------------------------------------------------------
// Other processes, terminals and IPC

as_root_and_nobody!(
    other_terminals_are_unreachable,
    background_processes_die_with_the_run,
    other_processes_are_invisible,
    system_v_ipc_is_private,
    dev_shm_is_private,
);

/// A pseudo-terminal opened by the test, outside any sandbox: the master and the
/// slave's path (`/dev/pts/N`).
struct OutsidePty {
    master: std::os::fd::OwnedFd,
    slave: PathBuf,
}

fn outside_pty() -> OutsidePty {
    use std::os::fd::FromRawFd;
    // SAFETY: integer arguments; the descriptor is checked and owned below.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
    // SAFETY: fd was just opened and is owned by nobody else.
    let master = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: integer arguments and a buffer of the length given.
    unsafe {
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        assert_eq!(
            libc::ptsname_r(fd, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string.
    let slave = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    OutsidePty {
        master,
        slave: PathBuf::from(slave.to_str().unwrap()),
    }
}

/// What the pty's master can read now (without waiting).
fn pty_pending(pty: &OutsidePty) -> String {
    use std::os::fd::AsRawFd;
    let mut fds = [libc::pollfd {
        fd: pty.master.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let mut text = Vec::new();
    // SAFETY: polling and reading our own descriptor into a stack buffer.
    unsafe {
        while libc::poll(fds.as_mut_ptr(), 1, 200) > 0 && fds[0].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 256];
            let n = libc::read(pty.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            text.extend_from_slice(&buf[..n as usize]);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Escape: open another session's terminal (`/dev/pts/N`, the scene's user's and
/// mode 0666, so only the sandbox stands in the way), to read what is typed there or
/// write into it. The command sees a devpts instance of its own, without it.
fn other_terminals_are_unreachable(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let pty = outside_pty();
    scene.give(&pty.slave);
    set_mode(&pty.slave, 0o666);
    let slave = p(&pty.slave).to_string();
    // Control: outside any sandbox the same user can write to it.
    let control = command_as(scene.user, "sh")
        .args(["-c", &format!("printf control > {slave}")])
        .output()
        .unwrap();
    assert!(control.status.success(), "control write: {control:?}");
    assert!(pty_pending(&pty).contains("control"));
    let commands = [
        format!("printf escaped > {slave}"),
        format!("cat {slave}"),
        format!("ls -l {slave}"),
        format!("exec 3<>{slave}"),
    ];
    // Not there (or, for a write, not creatable in the sandbox's devpts).
    let refusals: Vec<&str> = REFUSALS.iter().copied().chain(["No such file"]).collect();
    assert_all_refused(&scene, &[], &commands, &refusals);
    assert!(
        !pty_pending(&pty).contains("escaped"),
        "the sandbox wrote to another terminal"
    );
    // What it sees is its own, empty instance: a terminal it opens is in it.
    let out = scene.run(&[
        "run",
        "-q",
        "--",
        "sh",
        "-c",
        "ls /dev/pts; python3 -c 'import os; m, s = os.openpty(); print(os.ttyname(s))' 2>&1 || true",
    ]);
    assert_code(&out, 0, "listing /dev/pts");
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("ptmx"), "{text}");
    if Path::new(PYTHON).exists() {
        assert!(text.contains("/dev/pts/0"), "a new terminal inside: {text}");
    }
}

/// Escape: leave a process behind that ignores SIGHUP, SIGTERM and SIGTTOU (and
/// one that left the session with `setsid`), to act after `nono run` has returned
/// (take the terminal over, or just keep running sandboxed work). In the PID
/// namespace the whole tree ends with the command. Control: with
/// `process_info_mode: allow_all` (no PID namespace) the same process survives.
fn background_processes_die_with_the_run(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let work = scene.w.work();
    // Unique to this test and user (both users' tests run at once).
    let token = format!(
        "30.{}{}",
        std::process::id() % 100_000,
        scene
            .w
            .dir
            .path()
            .to_string_lossy()
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 100_000
    );
    let script = format!(
        "trap '' HUP TERM TTOU; echo started; exec >/dev/null 2>&1 </dev/null; \
         (trap '' HUP TERM TTOU; sleep 1; echo alive > left-behind) & \
         (trap '' HUP TERM TTOU; exec sleep {token}) & \
         setsid sh -c 'exec sleep {token}' &"
    );
    // The processes running `sleep TOKEN`, by pid.
    let running = |token: &str| -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(token)
                })
            })
            .collect()
    };
    let out = scene.run(&["run", "-q", "--allow-cwd", "--", "sh", "-c", &script]);
    assert_code(&out, 0, "leaving processes behind");
    assert_eq!(stdout(&out), "started\n");
    assert_eq!(
        running(&token),
        Vec::<u32>::new(),
        "processes outlived nono"
    );
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        !work.join("left-behind").exists(),
        "a background process outlived nono run and wrote its marker"
    );
    // Control: without the PID namespace it survives (and is killed here).
    let profile = scene.w.write(
        "allpids.json",
        r#"{"security": {"process_info_mode": "allow_all"}}"#,
    );
    scene.give(&profile);
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_code(&out, 0, "leaving processes behind (allow_all)");
    let survivors = running(&token);
    for pid in &survivors {
        // SAFETY: kill with integers; these are the sleeps this test left behind.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_millis(1200));
    let _ = std::fs::remove_file(work.join("left-behind"));
    assert!(
        !survivors.is_empty(),
        "control: nothing survived without the PID namespace"
    );
}

/// Escape: read other processes' command lines (and anything else under
/// `/proc/PID`) — here a `sleep` of the same user started outside. In the PID
/// namespace `/proc` lists only the sandbox's own processes.
fn other_processes_are_invisible(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let sleeper = outside_sleeper(&scene);
    let pid = sleeper.0.id();
    let commands = [
        format!("cat /proc/{pid}/cmdline"),
        format!("cat /proc/{pid}/status"),
        format!("ls /proc/{pid}/"),
    ];
    assert_all_refused(&scene, &[], &commands, &["No such file"]);
    let out = scene.run(&["run", "-q", "--", "sh", "-c", "ls /proc"]);
    assert_code(&out, 0, "listing /proc");
    let pids: Vec<u32> = stdout(&out)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(
        !pids.contains(&pid),
        "the outside sleep is listed: {pids:?}"
    );
    // The init, the shell and ls (and nothing else).
    assert!(
        pids.len() <= 4,
        "more processes than the sandbox's: {pids:?}"
    );
    assert!(pids.contains(&1), "{pids:?}");
    // Control: with `process_info_mode: allow_all`, the host's /proc.
    let profile = scene.w.write(
        "allpids.json",
        r#"{"security": {"process_info_mode": "allow_all"}}"#,
    );
    scene.give(&profile);
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "cat",
        &format!("/proc/{pid}/cmdline"),
    ]);
    assert_code(&out, 0, "reading the command line with allow_all");
    assert!(stdout(&out).contains("sleep"), "{}", stdout(&out));
}

/// Runs `ipcmk ARGS` as `user` outside any sandbox; returns the id it printed.
fn ipcmk(user: User, args: &[&str]) -> String {
    let out = command_as(user, "ipcmk").args(args).output().unwrap();
    assert!(out.status.success(), "ipcmk {args:?}: {out:?}");
    stdout(&out)
        .split(':')
        .nth(1)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("ipcmk said {}", stdout(&out)))
}

/// Removes System V objects when the test ends.
struct IpcRemove(Vec<(&'static str, String)>);

impl Drop for IpcRemove {
    fn drop(&mut self) {
        for (kind, id) in &self.0 {
            let _ = std::process::Command::new("ipcrm")
                .args([*kind, id.as_str()])
                .output();
        }
    }
}

/// Escape: attach to System V shared memory (or a message queue) another process of
/// the same user made (mode 0666), or leave some behind for later. The IPC
/// namespace shows none of the caller's, and what the command makes ends with it.
fn system_v_ipc_is_private(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    if std::process::Command::new("ipcmk")
        .arg("-V")
        .output()
        .is_err()
    {
        return skip("needs ipcmk and ipcs (util-linux)");
    }
    let shm = ipcmk(user, &["-M", "4096", "-p", "0666"]);
    let queue = ipcmk(user, &["-Q", "-p", "0666"]);
    let _cleanup = IpcRemove(vec![("-m", shm.clone()), ("-q", queue.clone())]);
    let key = 0x6e6f_0000 + (std::process::id() as i32 % 0xffff);
    let probe = format!(
        r#"
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def err(): return os.strerror(ctypes.get_errno())
r = libc.shmat({shm}, None, 0)
print("shmat", "ok" if r not in (None, ctypes.c_void_p(-1).value) else err())
print("msgsnd", "ok" if libc.msgsnd({queue}, b"\x01\0\0\0\0\0\0\0x", 1, 0o4000) == 0 else err())
print("listed", subprocess.run(["ipcs"], capture_output=True, text=True).stdout.count("0x"))
print("created", libc.shmget({key}, 4096, 0o1000 | 0o600))
"#
    );
    let out = scene.run(&["run", "-q", "--", PYTHON, "-c", &probe]);
    assert_code(&out, 0, "System V probe");
    let text = stdout(&out);
    for line in [
        "shmat Invalid argument",
        "msgsnd Invalid argument",
        "listed 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "expected `{line}`:\n{text}"
        );
    }
    let created = text
        .lines()
        .find_map(|l| l.strip_prefix("created "))
        .and_then(|n| n.parse::<i64>().ok());
    assert!(created.is_some_and(|id| id >= 0), "shmget inside: {text}");
    // SAFETY: shmget with integer arguments only asks whether the key exists.
    let outside = unsafe { libc::shmget(key, 0, 0) };
    if outside >= 0 {
        // SAFETY: removing the segment the sandbox left behind.
        unsafe { libc::shmctl(outside, libc::IPC_RMID, std::ptr::null_mut()) };
    }
    assert!(outside < 0, "a segment made inside outlived the run");
    // Control: with `ipc_mode: full` the caller's segment is there.
    let profile = scene
        .w
        .write("ipc.json", r#"{"security": {"ipc_mode": "full"}}"#);
    scene.give(&profile);
    let out = scene.run(&["run", "-q", "--profile", p(&profile), "--", "ipcs", "-m"]);
    assert_code(&out, 0, "ipcs with ipc_mode full");
    assert!(
        stdout(&out).split_whitespace().any(|w| w == shm),
        "control: segment {shm} not listed:\n{}",
        stdout(&out)
    );
}

/// Escape: read (or plant) files in `/dev/shm`, which every process shares and
/// which outlive the run. The command gets an empty tmpfs of its own there; POSIX
/// shared memory and semaphores (`multiprocessing`) still work.
fn dev_shm_is_private(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let outside = Path::new("/dev/shm").join(scene.unique("outside"));
    let inside = Path::new("/dev/shm").join(scene.unique("inside"));
    let _cleanup = RemoveAfter(vec![outside.clone(), inside.clone()]);
    std::fs::write(&outside, "outside secret\n").unwrap();
    set_mode(&outside, 0o666);
    scene.give(&outside);
    let commands = [
        format!("cat {}", p(&outside)),
        format!("ls -l {}", p(&outside)),
    ];
    assert_all_refused(&scene, &[], &commands, &["No such file"]);
    let script = format!(
        "printf planted > {inside} && cat {inside} && echo && ls -A /dev/shm | grep -c . ; \
         {PYTHON} -c 'import multiprocessing as m\n\
p = m.Pool(2)\nprint(\"pool\", sum(p.map(abs, [-1, -2, -3])))\n\
q = m.Queue(); q.put(5); print(\"queue\", q.get())\n\
l = m.Lock(); l.acquire(); l.release(); print(\"lock ok\")'",
        inside = p(&inside)
    );
    let out = scene.run(&["run", "-q", "--", "sh", "-c", &script]);
    assert_code(&out, 0, "/dev/shm inside");
    assert_eq!(
        stdout(&out),
        "planted\n1\npool 6\nqueue 5\nlock ok\n",
        "{}",
        stderr(&out)
    );
    assert!(
        !inside.exists(),
        "a file made in /dev/shm inside outlived the run"
    );
    assert_eq!(read(&outside), "outside secret\n");
}

/// The one-line status names the isolation, and a profile's opt-outs remove it.
#[test]
fn status_line_names_process_isolation() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let out = scene.run(&["run", "--", "true"]);
    assert_code(&out, 0, "true");
    let status = stderr(&out);
    for layer in [
        "PID namespace with its own /proc",
        "IPC namespace and its own /dev/shm",
        "its own /dev/pts",
    ] {
        assert!(status.contains(layer), "{layer}: {status}");
    }
    let profile = scene.w.write(
        "open.json",
        r#"{"security": {"process_info_mode": "allow_all", "ipc_mode": "full"}}"#,
    );
    let out = scene.run(&["run", "--profile", p(&profile), "--", "true"]);
    assert_code(&out, 0, "true with opt-outs");
    let status = stderr(&out);
    assert!(status.contains("fully enforced"), "{status}");
    assert!(!status.contains("PID namespace"), "{status}");
    assert!(!status.contains("IPC namespace"), "{status}");
    assert!(status.contains("its own /dev/pts"), "{status}");
    // Without the mount view the namespaces are missing, and said to be.
    let out = scene.run(&[
        "run",
        "--no-mount-view",
        "--allow-unhidden-sockets",
        "--",
        "true",
    ]);
    let status = stderr(&out);
    assert!(
        status.contains("missing: ") && status.contains("PID namespace"),
        "{status}"
    );
    // nono wrap executes in place: no PID namespace, said so.
    let out = scene.run(&["wrap", "--", "true"]);
    let status = stderr(&out);
    assert!(
        status.contains("PID namespace (the command is executed in place"),
        "{status}"
    );
}

/// Forks a process that ignores SIGTTOU, SIGTTIN and SIGHUP, waits for `nono run` to
/// have returned, then takes the terminal's foreground (`tcsetpgrp`) and reads the
/// user's next line, writing what it got to the marker file `argv[1]`.
const HIJACKER: &str = r#"import os, signal, sys, time
for s in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
if os.fork() == 0:
    os.setpgid(0, 0)
    time.sleep(1.5)
    out = open(sys.argv[1], "w")
    out.write("alive\n"); out.flush()
    try:
        os.tcsetpgrp(0, os.getpgrp())
        out.write("foreground\n"); out.flush()
        out.write("read " + os.read(0, 200).decode(errors="replace") + "\n")
    except OSError as e:
        out.write("error %s\n" % e)
    out.close()
    os._exit(0)
print("hijacker started on", os.ttyname(0), flush=True)
"#;

as_root_and_nobody!(the_terminal_cannot_be_taken_over_after_exit);

/// Escape (bubblewrap's CVE-2017-5226): a process left behind takes the user's
/// terminal over after `nono run` returns and reads the next line typed at the
/// shell. In a real terminal (tmux): the command's tree ends with it (PID
/// namespace), and it was on a pseudo-terminal of its own anyway (the relay) — the
/// control without the PID namespace shows the survivor gets nothing from the user's
/// terminal.
fn the_terminal_cannot_be_taken_over_after_exit(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let Some(mut tmux) = crate::learn_tui::Tmux::new() else {
        return skip("tmux is not installed: the terminal takeover test needs it");
    };
    use crate::learn_tui::quote;
    let script = scene.w.write("hijack.py", HIJACKER);
    set_mode(&script, 0o644);
    let profile = scene.w.write(
        "allpids.json",
        r#"{"security": {"process_info_mode": "allow_all"}}"#,
    );
    scene.give(&profile);
    let bin = match user {
        User::Caller => PathBuf::from(env!("CARGO_BIN_EXE_nono")),
        User::Nobody => open_world_to_nobody(&scene.w),
    };
    let setpriv = match user {
        User::Caller => String::new(),
        User::Nobody => format!("setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups -- "),
    };
    tmux.start("sh", (120, 40));
    let run = |tmux: &crate::learn_tui::Tmux, round: &str, flags: &str| -> (String, String) {
        let marker = scene.w.work().join(format!("marker-{round}"));
        let line = format!(
            "cd {work} && HOME={home} NO_COLOR=1 {setpriv}{bin} run -q --allow-cwd {flags} \
             --read-file {script} -- {PYTHON} {script} {marker}; echo nono-exited-$?-{round}",
            work = quote(p(&scene.w.work())),
            home = quote(p(&scene.w.home())),
            bin = quote(p(&bin)),
            script = quote(p(&script)),
            marker = quote(p(&marker)),
        );
        tmux.type_text(&line);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&format!("nono-exited-0-{round}"), 30);
        // The survivor (if any) takes the terminal 1.5 s after the start.
        std::thread::sleep(Duration::from_millis(2500));
        let typed = format!("typed-by-user-{round}");
        tmux.type_text(&format!("echo {typed}"));
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for(&format!("\n{typed}"), 10);
        (screen, std::fs::read_to_string(&marker).unwrap_or_default())
    };
    let (screen, marker) = run(&tmux, "default", "");
    // On a terminal of its own, from the sandbox's devpts.
    assert!(
        screen.contains("hijacker started on /dev/pts/0"),
        "the command did not run on its own terminal:\n{screen}"
    );
    assert_eq!(marker, "", "a process outlived nono run:\n{marker}");
    // Control: without the PID namespace the process survives, but on the relayed
    // terminal, which is gone: the user's line reached the shell, not it.
    let (screen, marker) = run(
        &tmux,
        "control",
        &format!("--profile {}", quote(p(&profile))),
    );
    assert!(marker.starts_with("alive\n"), "control: {marker}\n{screen}");
    assert!(
        !marker.contains("typed-by-user"),
        "control: the survivor read the line: {marker}"
    );
}

/// Not an escape: on a real terminal (tmux) the relay passes typed input to the
/// command and its output back, the command's terminal has the user's size (and
/// follows a resize), and the user's terminal is back in its own mode afterwards.
#[test]
fn the_relayed_terminal_works_and_is_restored() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let Some(mut tmux) = crate::learn_tui::Tmux::new() else {
        return skip("tmux is not installed: the terminal relay test needs it");
    };
    use crate::learn_tui::quote;
    tmux.start("sh", (120, 40));
    tmux.type_text(&format!(
        "cd {} && stty -g > before; HOME={} {} run -q -- sh -c 'tty; stty size; read x; echo got:$x; sleep 1; stty size'; stty -g > after; echo relay-$((1+1))-done",
        quote(p(&scene.w.work())),
        quote(p(&scene.w.home())),
        quote(env!("CARGO_BIN_EXE_nono")),
    ));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("40 120", 30);
    assert!(screen.contains("/dev/pts/0"), "{screen}");
    tmux.type_text("hello relay");
    tmux.keys(&["Enter"]);
    tmux.wait_for("got:hello relay", 10);
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &tmux.socket_name(),
            "resize-window",
            "-x",
            "100",
            "-y",
            "30",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "tmux resize-window: {out:?}");
    let screen = tmux.wait_for("relay-2-done", 10);
    assert!(
        screen.contains("30 100"),
        "the resize did not reach the command:\n{screen}"
    );
    let work = scene.w.work();
    assert_eq!(
        read(&work.join("before")),
        read(&work.join("after")),
        "the terminal's settings were not restored"
    );
}

/// Not an escape: job control across the relay. The command stops (here it sends
/// itself SIGSTOP, as `Ctrl-Z` on its terminal would stop it): nono stops too, the
/// shell gets the user's terminal back in its own mode, and `fg` continues both.
#[test]
fn a_relayed_command_can_be_stopped_and_continued() {
    let Some(scene) = Scene::new(User::Caller) else {
        return;
    };
    let Some(mut tmux) = crate::learn_tui::Tmux::new() else {
        return skip("tmux is not installed: the terminal relay test needs it");
    };
    use crate::learn_tui::quote;
    tmux.start("sh", (120, 40));
    tmux.type_text(&format!(
        "cd {} && HOME={} {} run -q -- sh -c 'echo before-$((1+1)); kill -STOP $$; echo after-$((2+3))'",
        quote(p(&scene.w.work())),
        quote(p(&scene.w.home())),
        quote(env!("CARGO_BIN_EXE_nono")),
    ));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Stopped", 30);
    assert!(
        screen.contains("before-2"),
        "output before the stop:\n{screen}"
    );
    assert!(!screen.contains("after-5"), "{screen}");
    // The shell has the terminal, in its own (echoing) mode: what is typed shows.
    tmux.type_text("fg");
    tmux.keys(&["Enter"]);
    tmux.wait_for("after-5", 10);
}

as_root_and_nobody!(wrap_keeps_ipc_and_terminals_private);

/// Escape, under `nono wrap` (which unshares in place instead of cloning): reach a
/// file in the host's `/dev/shm`, the user's System V shared memory, or another
/// terminal. `wrap` has no PID namespace (said in the status line), but the rest holds.
fn wrap_keeps_ipc_and_terminals_private(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    if std::process::Command::new("ipcmk")
        .arg("-V")
        .output()
        .is_err()
    {
        return skip("needs ipcmk and ipcs (util-linux)");
    }
    let shm = ipcmk(user, &["-M", "4096", "-p", "0666"]);
    let _cleanup = IpcRemove(vec![("-m", shm.clone())]);
    let outside = Path::new("/dev/shm").join(scene.unique("wrap"));
    let _remove = RemoveAfter(vec![outside.clone()]);
    std::fs::write(&outside, "outside\n").unwrap();
    set_mode(&outside, 0o666);
    scene.give(&outside);
    let pty = outside_pty();
    scene.give(&pty.slave);
    set_mode(&pty.slave, 0o666);
    let script = format!(
        "ls -A /dev/shm | grep -c . ; ipcs -m | grep -c 0x; ls /dev/pts; cat {} 2>&1; printf x > {} 2>&1; true",
        p(&outside),
        p(&pty.slave)
    );
    let out = scene.run(&["wrap", "--", "sh", "-c", &script]);
    assert_code(&out, 0, "wrap probe");
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0"), "files in /dev/shm: {text}");
    assert_eq!(lines.next(), Some("0"), "shared memory segments: {text}");
    assert_eq!(lines.next(), Some("ptmx"), "/dev/pts: {text}");
    assert!(text.contains("No such file"), "{text}");
    assert!(!text.contains("outside\n"), "{text}");
    assert!(
        !pty_pending(&pty).contains('x'),
        "wrote to another terminal"
    );
    assert!(
        stderr(&out).contains("missing: PID namespace"),
        "{}",
        stderr(&out)
    );
}

mod mountview;
mod session;
