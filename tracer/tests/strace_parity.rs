//! The tracer sees what `strace -f` sees: one fixture exercising dirfd-relative opens,
//! `renameat2`, `unlinkat`, threads, `posix_spawn` (vfork), `chdir`, a DNS question to
//! 127.0.0.1:53 and a TCP connect, traced once by strace and once by nono; the counts
//! per kind of operation must agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use nono_tracer::event::{EventKind, FileOp};
use nono_tracer::ptrace::{TraceCommand, trace};

const PYTHON: &str = "/usr/bin/python3";

fn skip(why: &str) {
    if std::env::var_os("NONO_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("NONO_TEST_STRICT=1 and this test cannot run: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// The fixture (shared with the eBPF backend's parity test).
const FIXTURE: &str = include_str!("fixtures/parity.py");

/// strace's syscall names grouped the way nono's events are.
fn strace_kind(name: &str) -> Option<&'static str> {
    Some(match name {
        "openat" | "open" | "creat" => "open",
        "mkdir" | "mkdirat" => "mkdir",
        "rename" | "renameat" | "renameat2" => "rename",
        "unlink" | "unlinkat" => "unlink",
        "chdir" => "chdir",
        "execve" | "execveat" => "exec",
        "connect" => "connect",
        "sendto" => "dns",
        _ => return None,
    })
}

/// The first path argument of an strace line, made absolute with the directory strace
/// printed for its dirfd (`-y`): `openat(3</t>, "a", …)` is `/t/a`.
fn first_path(call: &str) -> Option<std::path::PathBuf> {
    let open = call.find('(')?;
    let args = &call[open + 1..];
    let quote = args.find('"')?;
    let rest = &args[quote + 1..];
    let path = &rest[..rest.find('"')?];
    if path.starts_with('/') {
        return Some(path.into());
    }
    // The dirfd decoration just before the path: `N</dir>, "`.
    let before = &args[..quote];
    let dir = before
        .rfind('<')
        .zip(before.rfind('>'))
        .map(|(a, b)| &before[a + 1..b])?;
    Some(Path::new(dir).join(path))
}

#[test]
fn counts_match_strace_for_the_same_syscalls() {
    if !Path::new(PYTHON).exists() {
        return skip("needs /usr/bin/python3 (Debian package python3)");
    }
    if Command::new("strace").arg("-V").output().is_err() {
        return skip("needs strace (Debian package strace)");
    }
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in listener.incoming().take(2) {});
    let script = root.join("fixture.py");
    std::fs::write(&script, FIXTURE).unwrap();
    let run_dir = |name: &str| {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };

    // strace, with -y so dirfd-relative paths show their directory.
    let traced_by_strace = run_dir("strace");
    let log = root.join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&log)
        .args(["-e", "trace=openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,chdir,execve,execveat,connect,sendto"])
        .arg(PYTHON)
        .arg(&script)
        .arg(&traced_by_strace)
        .arg(&port)
        .status()
        .unwrap();
    assert!(status.success(), "fixture failed under strace");
    let mut strace_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines() {
        // "PID name(args) = result"; skip "<... name resumed>" halves of split lines.
        // strace pads the PID column: trim the gap after it.
        let Some(call) = line.split_once(' ').map(|(_, rest)| rest.trim_start()) else {
            continue;
        };
        if call.starts_with("<...") || call.starts_with("+++") || call.starts_with("---") {
            continue;
        }
        let Some(name) = call.split('(').next() else {
            continue;
        };
        let Some(kind) = strace_kind(name) else {
            continue;
        };
        let relevant = match kind {
            "connect" => call.contains(&format!("sin_port=htons({port})")),
            "dns" => call.contains("sin_port=htons(53)"),
            "exec" => call.contains("/usr/bin/true"),
            _ => first_path(call).is_some_and(|p| p.starts_with(&traced_by_strace)),
        };
        if relevant {
            *strace_counts.entry(kind).or_default() += 1;
        }
    }

    // nono's tracer.
    let traced_by_nono = run_dir("nono");
    let (tx, rx) = std::sync::mpsc::channel();
    let cmd = TraceCommand::new(
        PYTHON,
        [
            PYTHON.into(),
            script.clone().into_os_string(),
            traced_by_nono.clone().into_os_string(),
            port.clone().into(),
        ],
    );
    let outcome = trace(cmd, tx).expect("trace");
    assert_eq!(outcome.exit_code, 0, "fixture failed under nono");
    let mut nono_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for event in rx {
        let kind = match &event.kind {
            EventKind::File { op, path, .. }
                if path.starts_with(&traced_by_nono)
                    || *op == FileOp::Chdir && path == &traced_by_nono =>
            {
                match op {
                    FileOp::Read
                    | FileOp::Write
                    | FileOp::ReadWrite
                    | FileOp::Create
                    | FileOp::CreateReadWrite => "open",
                    FileOp::Mkdir => "mkdir",
                    FileOp::Rename => "rename",
                    FileOp::Unlink => "unlink",
                    FileOp::Chdir => "chdir",
                    _ => continue,
                }
            }
            EventKind::Exec { path, .. } if path == Path::new("/usr/bin/true") => "exec",
            EventKind::Connect { addr, .. }
                if addr.port().map(|p| p.to_string()) == Some(port.clone()) =>
            {
                "connect"
            }
            EventKind::Dns { name, .. } if name == "example.org" => "dns",
            _ => continue,
        };
        *nono_counts.entry(kind).or_default() += 1;
    }
    // The fixture's own expectations, so a test that saw nothing cannot pass.
    assert_eq!(nono_counts.get("rename"), Some(&1), "{nono_counts:?}");
    assert_eq!(nono_counts.get("exec"), Some(&1), "{nono_counts:?}");
    assert!(
        nono_counts.get("open").copied().unwrap_or(0) >= 3 + 1 + 20,
        "{nono_counts:?}"
    );
    assert_eq!(
        nono_counts, strace_counts,
        "nono (left) and strace -f (right) disagree"
    );
}
