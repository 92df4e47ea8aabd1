//! The ptrace backend against the real kernel: real programs (sh, coreutils, python3)
//! traced end to end.
//!
//! These tests run as root in CI and must also pass unprivileged;
//! `unprivileged_trace_as_nobody` re-runs a scenario of this binary as uid 65534. A
//! test that needs something absent (python3, setpriv, a C compiler) prints
//! `SKIP: <why>` and passes, or fails when `NONO_TEST_STRICT=1`.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nono_tracer::event::{Event, EventKind, FileOp, SockAddr};
use nono_tracer::ptrace::{self, TraceCommand, TraceError, TraceOutcome};

const PYTHON: &str = "/usr/bin/python3";
/// Every traced command gets this long before the test fails instead of hanging.
const SAFETY_TIMEOUT: Duration = Duration::from_secs(60);

/// A finished trace.
struct Trace {
    outcome: TraceOutcome,
    events: Vec<Event>,
}

impl Trace {
    fn files(&self) -> impl Iterator<Item = (&Event, FileOp, &Path, Option<&Path>, i32)> {
        self.events.iter().filter_map(|event| match &event.kind {
            EventKind::File {
                op,
                path,
                path2,
                result,
            } => Some((event, *op, path.as_path(), path2.as_deref(), *result)),
            _ => None,
        })
    }

    /// Panics, listing the file events that name `path`, unless (op, path, result) is
    /// among them.
    fn assert_file(&self, op: FileOp, path: &Path, result: i32) -> &Event {
        if let Some((event, ..)) = self
            .files()
            .find(|&(_, o, p, _, r)| o == op && p == path && r == result)
        {
            return event;
        }
        let seen: Vec<String> = self
            .files()
            .filter(|&(_, _, p, p2, _)| p == path || p2 == Some(path))
            .map(|(_, o, p, p2, r)| format!("  {o:?} {} {p2:?} -> {r}", p.display()))
            .collect();
        panic!(
            "expected {op:?} {} -> {result}; events naming it:\n{}",
            path.display(),
            seen.join("\n")
        );
    }

    fn assert_file2(&self, op: FileOp, path: &Path, path2: &Path) {
        assert!(
            self.files()
                .any(|(_, o, p, p2, r)| o == op && p == path && p2 == Some(path2) && r == 0),
            "expected {op:?} {} {} -> 0 among\n{}",
            path.display(),
            path2.display(),
            self.dump()
        );
    }

    fn execs(&self) -> impl Iterator<Item = (&Event, &Path, &[String], i32)> {
        self.events.iter().filter_map(|event| match &event.kind {
            EventKind::Exec { path, argv, result } => {
                Some((event, path.as_path(), argv.as_slice(), *result))
            }
            _ => None,
        })
    }

    fn exits(&self) -> impl Iterator<Item = (&Event, i32)> {
        self.events.iter().filter_map(|event| match event.kind {
            EventKind::ProcessExit { code } => Some((event, code)),
            _ => None,
        })
    }

    fn starts(&self) -> impl Iterator<Item = (&Event, i32)> {
        self.events.iter().filter_map(|event| match event.kind {
            EventKind::ProcessStart { parent } => Some((event, parent)),
            _ => None,
        })
    }

    /// The traced command's own process.
    fn root_pid(&self) -> i32 {
        self.starts()
            .next()
            .expect("a ProcessStart for the command")
            .0
            .pid
    }

    fn dump(&self) -> String {
        let lines: Vec<String> = self
            .events
            .iter()
            .filter(|e| !matches!(&e.kind, EventKind::File { path, .. } if is_noise(path)))
            .map(|e| serde_json::to_string(e).expect("serialize"))
            .collect();
        lines.join("\n")
    }
}

/// Dynamic-loader and locale probes that drown the interesting events in a dump.
fn is_noise(path: &Path) -> bool {
    [
        "/usr/lib",
        "/lib",
        "/etc/ld.so",
        "/usr/share/locale",
        "/work/main/target",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

fn command(program: &str, argv: &[&str], cwd: &Path) -> TraceCommand {
    let mut cmd = TraceCommand::new(program, argv.iter().copied());
    cmd.cwd = cwd.to_path_buf();
    cmd.timeout = Some(SAFETY_TIMEOUT);
    // Keep the loader from probing the target directory for every library.
    cmd.env.retain(|(name, _)| name != "LD_LIBRARY_PATH");
    cmd
}

fn trace(cmd: TraceCommand) -> Trace {
    let what = format!("{:?}", cmd.argv);
    let (sink, events) = mpsc::channel();
    let outcome = match ptrace::trace(cmd, sink) {
        Ok(outcome) => outcome,
        Err(err) => panic!("tracing {what} failed: {err} ({err:?})"),
    };
    assert!(
        !outcome.timed_out,
        "{what} hit the {SAFETY_TIMEOUT:?} safety timeout"
    );
    Trace {
        outcome,
        events: events.try_iter().collect(),
    }
}

fn sh(script: &str, cwd: &Path) -> Trace {
    trace(command("/bin/sh", &["sh", "-c", script], cwd))
}

/// Skips (or fails under NONO_TEST_STRICT=1) when `what` is missing.
fn require(available: bool, why: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("NONO_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("SKIP not allowed under NONO_TEST_STRICT=1: {why}");
    }
    println!("SKIP: {why}");
    false
}

fn have_python() -> bool {
    require(
        Path::new(PYTHON).exists(),
        "/usr/bin/python3 is not installed",
    )
}

fn python(code: &str, cwd: &Path) -> Trace {
    trace(command(PYTHON, &["python3", "-S", "-c", code], cwd))
}

/// A temporary directory by its canonical path (what /proc/PID/cwd shows).
fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let path = dir
        .path()
        .canonicalize()
        .expect("canonicalize the temp dir");
    (dir, path)
}

fn write_file(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[test]
fn file_operations_in_a_temp_dir_are_recorded_with_absolute_paths_and_results() {
    let (_guard, dir) = temp_dir();
    write_file(&dir.join("existing"), "x");
    let script = "echo hi > new.txt; cat new.txt > /dev/null; echo more >> new.txt; \
                  mkdir sub; mv new.txt sub/moved.txt; rm sub/moved.txt; rmdir sub; \
                  ln -s target-text link; ln existing hard; cat /nonexistent 2>/dev/null; \
                  cd /; cat existing 2>/dev/null; exit 0";
    let t = sh(script, &dir);
    assert_eq!(t.outcome.exit_code, 0, "script exit code");
    t.assert_file(FileOp::Create, &dir.join("new.txt"), 0);
    let read = t.assert_file(FileOp::Read, &dir.join("new.txt"), 0);
    assert_eq!(
        read.exe.as_deref(),
        Some(Path::new("/usr/bin/cat")),
        "the read is attributed to cat"
    );
    t.assert_file(FileOp::Write, &dir.join("new.txt"), 0);
    t.assert_file(FileOp::Mkdir, &dir.join("sub"), 0);
    t.assert_file2(
        FileOp::Rename,
        &dir.join("new.txt"),
        &dir.join("sub/moved.txt"),
    );
    t.assert_file(FileOp::Unlink, &dir.join("sub/moved.txt"), 0);
    t.assert_file(FileOp::Rmdir, &dir.join("sub"), 0);
    t.assert_file2(FileOp::Symlink, &dir.join("link"), Path::new("target-text"));
    t.assert_file2(FileOp::Link, &dir.join("hard"), &dir.join("existing"));
    t.assert_file(FileOp::Read, Path::new("/nonexistent"), -libc::ENOENT);
    // After `cd /`, the relative name resolves against the new working directory.
    t.assert_file(FileOp::Read, Path::new("/existing"), -libc::ENOENT);
    t.assert_file(FileOp::Chdir, Path::new("/"), 0);
    for (event, op, path, ..) in t.files() {
        assert!(
            path.is_absolute(),
            "{op:?} path {} must be absolute ({event:?})",
            path.display()
        );
    }
    assert!(
        t.events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "seq numbers are consecutive"
    );
    assert_eq!(t.outcome.events, t.events.len() as u64, "events counter");
    assert_eq!(t.outcome.dropped, 0, "nothing dropped");
}

#[test]
fn relative_paths_resolve_against_the_directory_descriptor_and_cwd() {
    if !have_python() {
        return;
    }
    let (_guard, dir) = temp_dir();
    write_file(&dir.join("rel"), "r");
    std::fs::create_dir(dir.join("d")).expect("mkdir d");
    let code = format!(
        "import os\n\
         fd = os.open({dir:?}, os.O_RDONLY | os.O_DIRECTORY)\n\
         os.chdir('/')\n\
         os.close(os.open('rel', os.O_RDONLY, dir_fd=fd))\n\
         os.chdir({dir:?} + '/d')\n\
         try: open('../missing')\n\
         except FileNotFoundError: pass\n\
         os.stat('./../rel')\n\
         os.access('../rel', os.W_OK)\n\
         os.truncate('../rel', 0)\n",
        dir = dir.display().to_string()
    );
    let t = python(&code, Path::new("/"));
    assert_eq!(t.outcome.exit_code, 0, "python exit code\n{}", t.dump());
    t.assert_file(FileOp::Read, &dir.join("rel"), 0);
    t.assert_file(FileOp::Read, &dir.join("missing"), -libc::ENOENT);
    t.assert_file(FileOp::Stat, &dir.join("rel"), 0);
    t.assert_file(FileOp::Access, &dir.join("rel"), 0);
    t.assert_file(FileOp::Truncate, &dir.join("rel"), 0);
}

#[test]
fn opens_from_many_threads_are_all_seen() {
    if !have_python() {
        return;
    }
    let (_guard, dir) = temp_dir();
    for i in 0..8 {
        write_file(&dir.join(format!("f{i}")), "x");
    }
    let code = format!(
        "import threading\n\
         def work(i):\n\
         \x20   for _ in range(25):\n\
         \x20       open({dir:?} + '/f%d' % i).close()\n\
         ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n\
         [t.start() for t in ts]\n\
         [t.join() for t in ts]\n",
        dir = dir.display().to_string()
    );
    let t = python(&code, &dir);
    assert_eq!(t.outcome.exit_code, 0, "python exit code");
    let root = t.root_pid();
    for i in 0..8 {
        let path = dir.join(format!("f{i}"));
        let opens = t
            .files()
            .filter(|&(e, op, p, _, r)| op == FileOp::Read && p == path && r == 0 && e.pid == root)
            .count();
        assert_eq!(
            opens,
            25,
            "opens of {} by threads of {root}",
            path.display()
        );
    }
    assert_eq!(
        t.starts().count(),
        1,
        "threads are not processes: only the command's own ProcessStart"
    );
}

#[test]
fn grandchildren_are_followed_through_fork_and_exec() {
    let (_guard, dir) = temp_dir();
    write_file(&dir.join("f"), "x");
    // The trailing `; true` keeps each shell from exec'ing its last command in place.
    let t = sh("sh -c 'cat f > /dev/null; true'; true", &dir);
    assert_eq!(t.outcome.exit_code, 0, "exit code");
    let read = t.assert_file(FileOp::Read, &dir.join("f"), 0);
    assert_eq!(read.exe.as_deref(), Some(Path::new("/usr/bin/cat")), "exe");
    // Walk the parent chain from cat to the command.
    let root = t.root_pid();
    let parent_of = |pid: i32| {
        t.starts()
            .find(|(e, _)| e.pid == pid)
            .map(|(_, parent)| parent)
            .unwrap_or_else(|| panic!("no ProcessStart for {pid}\n{}", t.dump()))
    };
    let inner_sh = parent_of(read.pid);
    assert_eq!(
        read.ppid, inner_sh,
        "an event's ppid is its process's parent"
    );
    assert_eq!(
        parent_of(inner_sh),
        root,
        "the inner sh is the command's child"
    );
    let programs: Vec<&Path> = t.execs().filter(|e| e.3 == 0).map(|e| e.1).collect();
    assert!(
        programs.iter().filter(|p| p.ends_with("sh")).count() >= 2
            && programs.iter().any(|p| p.ends_with("cat")),
        "execs of sh, sh and cat: {programs:?}"
    );
    let exit_pids: Vec<i32> = t.exits().map(|(e, _)| e.pid).collect();
    for pid in [root, inner_sh, read.pid] {
        assert!(
            exit_pids.contains(&pid),
            "ProcessExit of {pid}: {exit_pids:?}"
        );
    }
    assert_eq!(
        t.exits().last().map(|(e, code)| (e.pid, code)),
        Some((root, 0)),
        "the command's exit comes last"
    );
}

#[test]
fn many_short_lived_children_each_start_and_exit_once() {
    let (_guard, dir) = temp_dir();
    // Children that exit at once race their parent's fork event to the tracer.
    let t = sh(
        "i=0; while [ $i -lt 60 ]; do /bin/true & i=$((i+1)); done; wait",
        &dir,
    );
    assert_eq!(t.outcome.exit_code, 0, "exit code");
    let root = t.root_pid();
    let mut started = std::collections::HashSet::new();
    let mut exited = std::collections::HashSet::new();
    for event in &t.events {
        match event.kind {
            EventKind::ProcessStart { parent } => {
                assert!(started.insert(event.pid), "{} started twice", event.pid);
                assert_eq!(event.ppid, parent, "ppid of a start is its parent");
                if event.pid != root {
                    assert_eq!(parent, root, "every child's parent is the shell");
                }
            }
            EventKind::ProcessExit { code } => {
                assert_eq!(code, 0, "{} exit code", event.pid);
                assert!(exited.insert(event.pid), "{} exited twice", event.pid);
            }
            _ => {}
        }
        assert!(
            started.contains(&event.pid) && !exited.contains(&event.pid)
                || matches!(event.kind, EventKind::ProcessExit { .. }),
            "event of {} outside its lifetime: {event:?}",
            event.pid
        );
    }
    assert_eq!(started.len(), 61, "the shell and 60 children");
    assert_eq!(started, exited, "every process that started exited");
    let trues = t
        .execs()
        .filter(|e| e.1 == Path::new("/bin/true") && e.3 == 0)
        .count();
    assert_eq!(trues, 60, "60 execs of /bin/true");
}

#[test]
fn vfork_children_of_posix_spawn_are_traced() {
    if !have_python() {
        return;
    }
    let (_guard, dir) = temp_dir();
    write_file(&dir.join("spawned"), "x");
    let code = format!(
        "import os\n\
         pid = os.posix_spawn('/bin/cat', ['cat', {path:?}], {{}}, file_actions=[(os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)])\n\
         _, status = os.waitpid(pid, 0)\n\
         raise SystemExit(os.waitstatus_to_exitcode(status))\n",
        path = dir.join("spawned").display().to_string()
    );
    let t = python(&code, &dir);
    assert_eq!(t.outcome.exit_code, 0, "python exit code\n{}", t.dump());
    let read = t.assert_file(FileOp::Read, &dir.join("spawned"), 0);
    assert_eq!(read.exe.as_deref(), Some(Path::new("/usr/bin/cat")), "exe");
    assert_eq!(read.ppid, t.root_pid(), "cat's parent is python");
}

#[test]
fn exec_from_a_non_leader_thread_keeps_the_process() {
    if !have_python() {
        return;
    }
    let (_guard, dir) = temp_dir();
    write_file(&dir.join("after-exec"), "x");
    let code = format!(
        "import os, threading, time\n\
         def go():\n\
         \x20   os.dup2(os.open('/dev/null', os.O_WRONLY), 1)\n\
         \x20   os.execv('/bin/cat', ['cat', {path:?}])\n\
         threading.Thread(target=go).start()\n\
         time.sleep(30)\n",
        path = dir.join("after-exec").display().to_string()
    );
    let started = Instant::now();
    let t = python(&code, &dir);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the exec ended the sleeping main thread"
    );
    assert_eq!(t.outcome.exit_code, 0, "cat's exit code\n{}", t.dump());
    let root = t.root_pid();
    let exec = t
        .execs()
        .find(|e| e.1 == Path::new("/bin/cat"))
        .unwrap_or_else(|| panic!("an exec of /bin/cat\n{}", t.dump()));
    assert_eq!(
        (exec.0.pid, exec.3),
        (root, 0),
        "exec of cat by the python process"
    );
    assert_eq!(
        exec.0.exe.as_deref(),
        Some(Path::new("/usr/bin/cat")),
        "exe after exec"
    );
    let read = t.assert_file(FileOp::Read, &dir.join("after-exec"), 0);
    assert_eq!(read.pid, root, "the process id survives the exec");
    assert_eq!(t.exits().count(), 1, "one process, one exit");
}

#[test]
fn the_program_gets_default_signal_dispositions_and_an_empty_mask() {
    // Rust's runtime ignores SIGPIPE in this process; the traced program must not inherit
    // that: `yes` must die of SIGPIPE when `head` exits.
    let (_guard, dir) = temp_dir();
    let started = Instant::now();
    let t = sh(
        "yes | head -n 1 > /dev/null; grep -E '^Sig(Ign|Blk)' /proc/self/status > status",
        &dir,
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "yes | head ends promptly"
    );
    assert_eq!(t.outcome.exit_code, 0, "exit code");
    let yes = t
        .exits()
        .find(|(e, _)| e.exe.as_deref() == Some(Path::new("/usr/bin/yes")))
        .unwrap_or_else(|| panic!("yes exited\n{}", t.dump()));
    assert_eq!(yes.1, 128 + libc::SIGPIPE, "yes died of SIGPIPE");
    let status = std::fs::read_to_string(dir.join("status")).expect("read status");
    assert_eq!(
        status, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
        "no blocked or ignored signals in the traced program"
    );
}

#[test]
fn group_stops_are_kept_and_do_not_hang_the_tracer() {
    let (_guard, dir) = temp_dir();
    let started = Instant::now();
    // The shell stops itself; a background child continues it 300 ms later. Then a
    // stopped and continued sleep is killed.
    let t = sh(
        "(sleep 0.3; kill -CONT $$) & kill -STOP $$; echo resumed > out; \
         sleep 5 & p=$!; kill -STOP $p; kill -CONT $p; kill $p; wait $p 2>/dev/null; echo $? >> out",
        &dir,
    );
    let elapsed = started.elapsed();
    assert_eq!(t.outcome.exit_code, 0, "exit code\n{}", t.dump());
    let out = std::fs::read_to_string(dir.join("out")).expect("read out");
    assert_eq!(out, "resumed\n143\n", "script output");
    assert!(
        elapsed >= Duration::from_millis(300),
        "the stop really stopped the shell ({elapsed:?})"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "nothing hung ({elapsed:?})"
    );
}

#[test]
fn connects_are_recorded_with_address_and_result() {
    if !have_python() {
        return;
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a listener");
    let port = listener.local_addr().expect("local addr").port();
    let closed = {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a probe");
        probe.local_addr().expect("probe addr").port()
    };
    let code = format!(
        "import socket\n\
         socket.create_connection(('127.0.0.1', {port})).close()\n\
         try: socket.create_connection(('127.0.0.1', {closed}))\n\
         except ConnectionRefusedError: pass\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         s.bind(('127.0.0.1', 0))\n"
    );
    let t = python(&code, Path::new("/"));
    assert_eq!(t.outcome.exit_code, 0, "python exit code\n{}", t.dump());
    let connects: Vec<(SockAddr, i32)> = t
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Connect { addr, result } => Some((addr.clone(), *result)),
            _ => None,
        })
        .collect();
    let inet = |port| SockAddr::Inet {
        ip: Ipv4Addr::LOCALHOST.into(),
        port,
    };
    assert!(
        connects.contains(&(inet(port), 0)),
        "connect to the listener: {connects:?}"
    );
    assert!(
        connects.contains(&(inet(closed), -libc::ECONNREFUSED)),
        "refused connect: {connects:?}"
    );
    assert!(
        t.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Bind { addr, result: 0 } if *addr == inet(0))),
        "bind to 127.0.0.1:0\n{}",
        t.dump()
    );
}

#[test]
fn dns_questions_sent_to_port_53_are_decoded() {
    if !have_python() {
        return;
    }
    // No server is needed: the question is read from the send, not the answer.
    let code = "import socket, struct\n\
         def q(name, qtype, ident):\n\
         \x20   labels = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.'))\n\
         \x20   return struct.pack('>HHHHHH', ident, 0x0100, 1, 0, 0, 0) + labels + b'\\0' + struct.pack('>HH', qtype, 1)\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto(q('example.com', 1, 0x1234), ('127.0.0.1', 53))\n\
         s.sendto(b'not dns at all', ('127.0.0.1', 53))\n\
         c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         c.connect(('127.0.0.1', 53))\n\
         for send in (lambda: c.send(q('connected.example', 28, 0x2345)), lambda: c.sendmsg([q('msg.example', 65, 7)])):\n\
         \x20   try: send()\n\
         \x20   except ConnectionRefusedError: pass\n";
    let t = python(code, Path::new("/"));
    assert_eq!(t.outcome.exit_code, 0, "python exit code\n{}", t.dump());
    let server = SockAddr::Inet {
        ip: Ipv4Addr::LOCALHOST.into(),
        port: 53,
    };
    let questions: Vec<(String, String, SockAddr)> = t
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Dns {
                name,
                qtype,
                server,
            } => Some((name.clone(), qtype.clone(), server.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        questions,
        vec![
            ("example.com".to_owned(), "A".to_owned(), server.clone()),
            (
                "connected.example".to_owned(),
                "AAAA".to_owned(),
                server.clone()
            ),
            ("msg.example".to_owned(), "HTTPS".to_owned(), server),
        ],
        "sendto with an address, send and sendmsg on a connected socket; junk ignored"
    );
}

#[test]
fn exit_codes_and_deaths_by_signal_are_returned() {
    let (_guard, dir) = temp_dir();
    assert_eq!(sh("exit 7", &dir).outcome.exit_code, 7, "exit 7");
    assert_eq!(
        sh("kill -TERM $$", &dir).outcome.exit_code,
        128 + libc::SIGTERM,
        "killed by SIGTERM"
    );
}

#[test]
fn the_timeout_kills_the_whole_tree() {
    let (_guard, dir) = temp_dir();
    let mut cmd = command(
        "/bin/sh",
        &["sh", "-c", "sleep 30 & sleep 30 & (sleep 30; true) & wait"],
        &dir,
    );
    cmd.timeout = Some(Duration::from_millis(500));
    let (sink, events) = mpsc::channel();
    let started = Instant::now();
    let outcome = ptrace::trace(cmd, sink).expect("trace");
    let events: Vec<Event> = events.try_iter().collect();
    assert!(outcome.timed_out, "the outcome reports the timeout");
    assert_eq!(outcome.exit_code, 128 + libc::SIGKILL, "killed by SIGKILL");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the tree died promptly ({:?})",
        started.elapsed()
    );
    let starts = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ProcessStart { .. }))
        .count();
    let killed = events
        .iter()
        .filter(
            |e| matches!(e.kind, EventKind::ProcessExit { code } if code == 128 + libc::SIGKILL),
        )
        .count();
    assert!(
        starts >= 5,
        "sh, three children and a sleep started ({starts})"
    );
    assert_eq!(killed, starts, "every process of the tree was killed");
}

#[test]
fn events_for_a_gone_receiver_are_counted_as_dropped() {
    let (_guard, dir) = temp_dir();
    let (sink, events) = mpsc::channel();
    drop(events);
    let cmd = command(
        "/bin/sh",
        &["sh", "-c", "cat /etc/hostname > /dev/null"],
        &dir,
    );
    let outcome = ptrace::trace(cmd, sink).expect("trace");
    assert_eq!(outcome.events, 0, "nothing delivered");
    assert!(
        outcome.dropped > 3,
        "events were dropped: {}",
        outcome.dropped
    );
}

#[test]
fn the_pre_exec_hook_runs_untraced_and_its_failure_is_reported() {
    let (_guard, dir) = temp_dir();
    let mut cmd = command("/bin/sh", &["sh", "-c", "echo x > made"], &dir);
    cmd.pre_exec = Some(Box::new(|| {
        // SAFETY: umask and access are async-signal-safe; the path is a static C string.
        unsafe {
            libc::umask(0o077);
            libc::access(c"/nono-hook-probe".as_ptr(), libc::F_OK);
        }
        Ok(())
    }));
    let t = trace(cmd);
    assert_eq!(t.outcome.exit_code, 0, "exit code");
    let mode = std::fs::metadata(dir.join("made"))
        .expect("stat made")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the hook's umask applied to the program"
    );
    assert!(
        !t.files()
            .any(|(_, _, p, ..)| p == Path::new("/nono-hook-probe")),
        "the hook's own system calls are not recorded"
    );

    let mut failing = command("/bin/true", &["true"], &dir);
    failing.pre_exec = Some(Box::new(|| Err(libc::EPERM)));
    match ptrace::trace(failing, mpsc::channel().0) {
        Err(TraceError::PreExec { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EPERM), "the hook's errno")
        }
        other => panic!("expected a PreExec error, got {other:?}"),
    }
}

#[test]
fn launch_failures_are_typed_errors() {
    let (_guard, dir) = temp_dir();
    match ptrace::trace(
        command("/nonexistent/program", &["x"], &dir),
        mpsc::channel().0,
    ) {
        Err(TraceError::Exec {
            source, program, ..
        }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "ENOENT");
            assert_eq!(program, PathBuf::from("/nonexistent/program"), "program");
        }
        other => panic!("expected an Exec error, got {other:?}"),
    }
    let mut cmd = command("/bin/true", &["true"], &dir);
    cmd.cwd = dir.join("missing-dir");
    match ptrace::trace(cmd, mpsc::channel().0) {
        Err(TraceError::Chdir { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "ENOENT")
        }
        other => panic!("expected a Chdir error, got {other:?}"),
    }
    let mut cmd = command("/bin/true", &["true"], &dir);
    cmd.argv.push(OsString::from("a\0b"));
    assert!(
        matches!(
            ptrace::trace(cmd, mpsc::channel().0),
            Err(TraceError::NulByte { .. })
        ),
        "a NUL in an argument"
    );
}

/// Scenarios that need this test binary to run as a separate process (with its own
/// standard streams, or as another user). The parent test re-executes the binary with
/// `NONO_TRACER_SCENARIO` set, running only `scenario_child`.
const SCENARIO_VAR: &str = "NONO_TRACER_SCENARIO";
const BEGIN: &str = "<<nono-tracer-begin>>";
const END: &str = "<<nono-tracer-end>>";

/// The child half of the scenarios; run directly (without the variable) it runs the
/// unprivileged scenario as the current user, which is a useful test in itself.
#[test]
fn scenario_child() {
    let scenario = std::env::var(SCENARIO_VAR).unwrap_or_else(|_| "tree".to_owned());
    let (_guard, dir) = temp_dir();
    match scenario.as_str() {
        // Trace a small tree that reads and writes; report the uid it ran as.
        "tree" => {
            write_file(&dir.join("in"), "data");
            let t = sh(
                "cat in > out; mkdir d; sh -c 'cat out; true' > /dev/null",
                &dir,
            );
            assert_eq!(t.outcome.exit_code, 0, "exit code\n{}", t.dump());
            t.assert_file(FileOp::Read, &dir.join("in"), 0);
            t.assert_file(FileOp::Create, &dir.join("out"), 0);
            t.assert_file(FileOp::Mkdir, &dir.join("d"), 0);
            t.assert_file(FileOp::Read, &dir.join("out"), 0);
            // SAFETY: getuid cannot fail and takes no arguments.
            let uid = unsafe { libc::getuid() };
            println!("scenario tree ok as uid {uid}");
        }
        // Standard streams: everything between the markers is the traced command's.
        "stdio" => {
            let stdout = std::io::stdout();
            let stderr = std::io::stderr();
            writeln!(stdout.lock(), "{BEGIN}").expect("write");
            writeln!(stderr.lock(), "{BEGIN}").expect("write");
            let t = sh("read line; echo \"got $line\"; echo oops >&2", &dir);
            writeln!(stdout.lock(), "{END}").expect("write");
            writeln!(stderr.lock(), "{END}").expect("write");
            assert_eq!(t.outcome.exit_code, 0, "exit code");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Runs `scenario_child` of this binary in a new process.
fn run_scenario(scenario: &str, wrapper: &[&str], stdin: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("current exe");
    let mut argv: Vec<OsString> = wrapper.iter().map(OsString::from).collect();
    argv.push(exe.into_os_string());
    argv.extend(
        [
            "scenario_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]
        .iter()
        .map(OsString::from),
    );
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env(SCENARIO_VAR, scenario)
        .env_remove("LD_LIBRARY_PATH")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for the scenario")
}

fn between_markers(stream: &[u8]) -> String {
    let text = String::from_utf8_lossy(stream);
    let start = text.find(BEGIN).map(|i| i + BEGIN.len() + 1);
    let end = text.find(END);
    match (start, end) {
        (Some(start), Some(end)) if start <= end => text[start..end].to_owned(),
        _ => panic!("markers missing in {text:?}"),
    }
}

#[test]
fn standard_streams_pass_through_and_the_tracer_prints_nothing() {
    let output = run_scenario("stdio", &[], "hello\n");
    assert!(
        output.status.success(),
        "scenario failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(between_markers(&output.stdout), "got hello\n", "stdout");
    assert_eq!(between_markers(&output.stderr), "oops\n", "stderr");
}

#[test]
fn unprivileged_trace_as_nobody() {
    // SAFETY: geteuid cannot fail and takes no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    let wrapper: &[&str] = if root {
        if !require(
            Path::new("/usr/bin/setpriv").exists(),
            "setpriv (util-linux) is needed to drop to uid 65534",
        ) {
            return;
        }
        &[
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]
    } else {
        &[]
    };
    let output = run_scenario("tree", wrapper, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the scenario failed unprivileged: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected_uid = if root {
        65534
    } else {
        // SAFETY: getuid cannot fail and takes no arguments.
        unsafe { libc::getuid() }
    };
    assert!(
        stdout.contains(&format!("scenario tree ok as uid {expected_uid}")),
        "ran as uid {expected_uid}: {stdout}"
    );
}
