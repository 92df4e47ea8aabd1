//! The eBPF backend against the real kernel: the same events as the ptrace backend for
//! the same fixtures, io_uring opens, nothing from processes outside the traced tree,
//! and dropped records counted. Needs root and a build with the eBPF programs; without
//! them each test says why it skipped (a failure under `NONO_TEST_STRICT=1`).
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use nono_tracer::TraceCommand;
use nono_tracer::ebpf::{self, EbpfOptions};
use nono_tracer::event::{Event, EventKind};
use nono_tracer::{ptrace, support};

const PYTHON: &str = "/usr/bin/python3";
const FIXTURE: &str = include_str!("fixtures/parity.py");
const URING_FIXTURE: &str = include_str!("fixtures/uring_open.c");

fn skip(why: &str) {
    if std::env::var_os("NONO_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("NONO_TEST_STRICT=1 and this test cannot run: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// Whether eBPF tracing can run here; says why not.
fn ready() -> bool {
    if !ebpf::built() {
        skip(&format!(
            "this build has no eBPF programs ({})",
            ebpf::HOW_TO_BUILD
        ));
        return false;
    }
    let support = support::probe_ebpf();
    if !support.available {
        skip(&format!(
            "eBPF tracing is not available: {}",
            support.detail
        ));
        return false;
    }
    true
}

fn command(program: &str, argv: &[&str], cwd: &Path) -> TraceCommand {
    let mut cmd = TraceCommand::new(program, argv.iter().copied());
    cmd.cwd = cwd.to_path_buf();
    cmd
}

fn run_ebpf(cmd: TraceCommand) -> (i32, Vec<Event>) {
    let (tx, rx) = mpsc::channel();
    let outcome = ebpf::trace(cmd, tx).expect("eBPF trace");
    assert_eq!(outcome.dropped, 0, "nothing dropped in a small trace");
    (outcome.exit_code, rx.into_iter().collect())
}

fn run_ptrace(cmd: TraceCommand) -> (i32, Vec<Event>) {
    let (tx, rx) = mpsc::channel();
    let outcome = ptrace::trace(cmd, tx).expect("ptrace trace");
    (outcome.exit_code, rx.into_iter().collect())
}

/// The (operation, path, result) facts of a trace, with `dir` written as `<T>`.
fn facts(events: &[Event], dir: &Path) -> BTreeSet<String> {
    let dir = dir.display().to_string();
    let norm = |p: &Path| p.display().to_string().replace(&dir, "<T>");
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::File {
                op,
                path,
                path2,
                result,
            } => Some(format!(
                "file {op:?} {} {} {result}",
                norm(path),
                path2.as_deref().map(norm).unwrap_or_default()
            )),
            EventKind::Exec { path, argv, result } => {
                Some(format!("exec {} {argv:?} {result}", norm(path)).replace(&dir, "<T>"))
            }
            EventKind::Connect { addr, result } => Some(format!("connect {addr:?} {result}")),
            EventKind::Bind { addr, result } => Some(format!("bind {addr:?} {result}")),
            EventKind::Dns {
                name,
                qtype,
                server,
            } => Some(format!("dns {name} {qtype} {server:?}")),
            EventKind::ProcessStart { .. } | EventKind::ProcessExit { .. } => None,
        })
        .collect()
}

fn processes(events: &[Event]) -> (usize, usize) {
    let starts = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ProcessStart { .. }))
        .count();
    let exits = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ProcessExit { .. }))
        .count();
    (starts, exits)
}

#[test]
fn the_parity_fixture_gives_the_same_events_as_ptrace() {
    if !ready() {
        return;
    }
    if !Path::new(PYTHON).exists() {
        return skip("needs /usr/bin/python3");
    }
    let root = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root.path()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in listener.incoming().take(2) {});
    let script = root.join("fixture.py");
    std::fs::write(&script, FIXTURE).unwrap();
    let mut results = Vec::new();
    for (name, backend) in [("ptrace", run_ptrace as fn(_) -> _), ("ebpf", run_ebpf)] {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        let args = [
            PYTHON,
            script.to_str().unwrap(),
            dir.to_str().unwrap(),
            port.as_str(),
        ];
        let (code, events) = backend(command(PYTHON, &args, &root));
        assert_eq!(code, 0, "the fixture failed under {name}");
        results.push((facts(&events, &dir), processes(&events)));
    }
    let (ebpf, ebpf_procs) = results.pop().unwrap();
    let (ptrace, ptrace_procs) = results.pop().unwrap();
    // The fixture's own expectations, so a trace that saw nothing cannot pass.
    for needle in [
        "file Rename <T>/rel0.txt <T>/sub/moved.txt 0",
        "file Create <T>/rel1.txt  0",
        "file Unlink <T>/rel1.txt  0",
        "file Read <T>/missing.txt  -2",
        "file Mkdir <T>/sub  0",
        "file Chdir <T>  0",
        "dns example.org A",
    ] {
        assert!(
            ebpf.iter().any(|f| f.starts_with(needle)),
            "eBPF missed `{needle}`"
        );
    }
    let only_ptrace: Vec<_> = ptrace.difference(&ebpf).collect();
    let only_ebpf: Vec<_> = ebpf.difference(&ptrace).collect();
    assert!(
        only_ptrace.is_empty() && only_ebpf.is_empty(),
        "backends disagree:\nonly ptrace: {only_ptrace:#?}\nonly eBPF: {only_ebpf:#?}"
    );
    assert_eq!(ebpf_procs, ptrace_procs, "process starts and exits");
}

#[test]
fn exec_from_a_thread_and_grandchildren_match_ptrace() {
    if !ready() {
        return;
    }
    if !Path::new(PYTHON).exists() {
        return skip("needs /usr/bin/python3");
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    // A child whose second thread executes a shell, which runs a grandchild.
    let code = r#"
import os, threading
pid = os.fork()
if pid == 0:
    t = threading.Thread(target=lambda: os.execv("/bin/sh", ["sh", "-c", "cat ./marker >/dev/null; true"]))
    t.start(); t.join()
else:
    os.waitpid(pid, 0)
"#;
    std::fs::write(dir.join("marker"), "m").unwrap();
    let args = [PYTHON, "-c", code];
    let (p_code, p_events) = run_ptrace(command(PYTHON, &args, &dir));
    let (e_code, e_events) = run_ebpf(command(PYTHON, &args, &dir));
    assert_eq!((p_code, e_code), (0, 0));
    let p = facts(&p_events, &dir);
    let e = facts(&e_events, &dir);
    assert!(
        e.iter().any(|f| f.starts_with("exec /bin/sh")),
        "the exec from a thread: {e:#?}"
    );
    assert!(
        e.contains("file Read <T>/marker  0"),
        "the grandchild's read: {e:#?}"
    );
    assert_eq!(p, e, "backends disagree");
    assert_eq!(processes(&p_events), processes(&e_events));
}

#[test]
fn io_uring_opens_are_seen() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    let source = dir.join("uring_open.c");
    std::fs::write(&source, URING_FIXTURE).unwrap();
    let binary = dir.join("uring_open");
    match Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
    {
        Ok(status) if status.success() => {}
        other => {
            return skip(&format!(
                "cannot compile the io_uring fixture with cc: {other:?}"
            ));
        }
    }
    std::fs::write(dir.join("secret.txt"), "through the ring\n").unwrap();
    let program = binary.to_str().unwrap();
    let cmd = || command(program, &[program, "secret.txt"], &dir);
    let output = Command::new(&binary)
        .arg("secret.txt")
        .current_dir(&dir)
        .output()
        .unwrap();
    if output.status.code() == Some(2) {
        return skip("io_uring is disabled on this kernel");
    }
    let (code, events) = run_ebpf(cmd());
    assert_eq!(code, 0);
    assert!(
        facts(&events, &dir).contains("file Read <T>/secret.txt  0"),
        "the io_uring open: {:#?}",
        facts(&events, &dir)
    );
    // ptrace cannot see it: no system call names the file.
    let (_, ptraced) = run_ptrace(cmd());
    assert!(
        !facts(&ptraced, &dir)
            .iter()
            .any(|f| f.starts_with("file") && f.contains("secret.txt")),
        "ptrace was not expected to see an io_uring open"
    );
}

#[test]
fn processes_outside_the_tree_are_never_reported() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir: PathBuf = std::fs::canonicalize(dir.path()).unwrap();
    let noise = dir.join("noise-marker");
    std::fs::write(&noise, "x").unwrap();
    // A busy neighbour opening a marker file in a loop, started before and running
    // throughout the trace.
    let mut neighbour = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "while :; do cat {} >/dev/null; done",
            noise.display()
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (code, events) = run_ebpf(command(
        "/bin/sh",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do cat /etc/hostname >/dev/null; done",
        ],
        &dir,
    ));
    let _ = neighbour.kill();
    let _ = neighbour.wait();
    assert_eq!(code, 0);
    let facts = facts(&events, &dir);
    assert!(
        facts.iter().any(|f| f.contains("/etc/hostname")),
        "the traced reads: {facts:#?}"
    );
    assert!(
        !facts.iter().any(|f| f.contains("noise-marker")),
        "a neighbour's access was reported"
    );
    // Every pid belongs to the tree: the root or a child announced by a start.
    let root = events[0].pid;
    let mut tree: BTreeSet<i32> = [root].into();
    for event in &events {
        if let EventKind::ProcessStart { parent } = event.kind
            && tree.contains(&parent)
        {
            tree.insert(event.pid);
        }
        assert!(tree.contains(&event.pid), "event from outside: {event:?}");
    }
    assert_eq!(tree.len(), 6, "sh and its five cats");
}

#[test]
fn records_that_do_not_fit_are_counted_as_dropped() {
    if !ready() {
        return;
    }
    // One page of ring, and 3,000 opens in a few milliseconds: the reader, which
    // polls every 20 ms when nobody wakes it, cannot keep up.
    let (tx, rx) = mpsc::channel();
    let options = EbpfOptions {
        ring_bytes: Some(4096),
        ..EbpfOptions::default()
    };
    let files = vec!["/etc/hostname"; 3000].join(" ");
    let progress = std::sync::Arc::new(nono_tracer::TraceProgress::default());
    // The flood, then a second of quiet during which the count must already show.
    let mut cmd = command(
        "/bin/sh",
        &["sh", "-c", &format!("cat {files} > /dev/null; sleep 1")],
        Path::new("/"),
    );
    cmd.progress = Some(std::sync::Arc::clone(&progress));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let progress = std::sync::Arc::clone(&progress);
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if progress.dropped.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                    return Some(std::time::Instant::now());
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            None
        })
    };
    let outcome = ebpf::trace_with(cmd, tx, &options).expect("eBPF trace");
    let ended = std::time::Instant::now();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let first_seen = watcher.join().unwrap().expect("a drop count was published");
    assert!(
        ended.duration_since(first_seen) >= std::time::Duration::from_millis(500),
        "the drop count was published while the command still ran ({:?} before the end)",
        ended.duration_since(first_seen)
    );
    assert_eq!(
        progress.dropped.load(std::sync::atomic::Ordering::Relaxed),
        outcome.dropped,
        "the final count is published too"
    );
    assert_eq!(outcome.exit_code, 0);
    let events: Vec<Event> = rx.into_iter().collect();
    let opens = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::File { path, .. } if path == Path::new("/etc/hostname"))
        })
        .count() as u64;
    assert!(
        outcome.dropped > 0 && opens < 3000,
        "records were dropped and counted: {outcome:?}, {opens} opens seen"
    );
    assert!(
        opens + outcome.dropped >= 3000,
        "every open is either seen or counted: {opens} seen, {} dropped",
        outcome.dropped
    );
}

#[test]
fn a_missing_program_is_a_launch_error_before_anything_runs() {
    if !ready() {
        return;
    }
    let (tx, _rx) = mpsc::channel();
    let err = ebpf::trace(
        command("/nonexistent/program", &["program"], Path::new("/")),
        tx,
    )
    .expect_err("cannot execute");
    assert!(err.to_string().contains("could not execute"), "{err}");
}
