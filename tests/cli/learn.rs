//! `nono learn`: trace a fixture, check the suggestions and the saved profile, then
//! check that `nono run --profile` on that profile allows what was learned and nothing
//! the command did not do.

use std::path::Path;

use crate::util::*;

/// A fixture tree: data to read, a project to write in, a fake home with a key.
fn fixture(w: &World) {
    for f in ["a", "b", "c", "d", "e"] {
        w.write(&format!("data/{f}.csv"), f);
    }
    w.write("other/untouched.txt", "not part of the learned run");
    w.write("home/.ssh/id_rsa", "PRIVATE KEY");
}

fn script(w: &World) -> String {
    let d = w.dir.path().display();
    format!(
        "cat {d}/data/*.csv > out.txt; mkdir -p build && echo x > build/artifact; \
         cat {d}/home/.ssh/id_rsa 2>/dev/null || echo key-refused; cat /nonexistent-nono 2>/dev/null; echo done"
    )
}

#[test]
fn learned_profile_lets_the_command_run_again_and_nothing_more() {
    round_trip("ptrace");
}

#[test]
fn learned_profile_round_trip_with_the_ebpf_backend() {
    if !is_root() {
        skip("the eBPF backend needs root");
        return;
    }
    round_trip("ebpf");
}

fn round_trip(backend: &str) {
    let w = World::new();
    fixture(&w);
    let profile = w.dir.path().join("learned.json");
    let out = w.run(&[
        "learn",
        "--backend",
        backend,
        "--output",
        p(&profile),
        "--",
        "sh",
        "-c",
        &script(&w),
    ]);
    assert_code(&out, 0, "learn");
    // The command's own output passes through untouched; nono speaks on stderr.
    assert_eq!(
        stdout(&out),
        "key-refused\ndone\n",
        "stderr:\n{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&profile).expect("the profile was written");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["extends"], "default");
    let data = format!("{}/data", w.dir.path().display());
    assert!(
        json["filesystem"]["read"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &serde_json::json!(data)),
        "{text}"
    );
    assert!(json["workdir"]["access"].is_string(), "{text}");
    // The description quotes the command; the rules must not name the key.
    assert!(
        !json["filesystem"].to_string().contains(".ssh"),
        "a sensitive path reached the profile:\n{text}"
    );
    assert_code(
        &w.run(&["profiles", "validate", p(&profile)]),
        0,
        "the learned profile validates",
    );

    // Run it again under the learned profile: works.
    std::fs::remove_file(w.work().join("out.txt")).unwrap();
    let again = w.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "sh",
        "-c",
        &script(&w),
    ]);
    assert_code(&again, 0, "run under the learned profile");
    assert_eq!(stdout(&again), "key-refused\ndone\n");
    assert_eq!(
        std::fs::read_to_string(w.work().join("out.txt")).unwrap(),
        "abcde"
    );
    // Something the command did not do stays denied.
    let other = format!("{}/other/untouched.txt", w.dir.path().display());
    let denied = w.run(&["run", "-q", "--profile", p(&profile), "--", "cat", &other]);
    assert_code(&denied, 1, "an unlearned read");
    assert!(
        stderr(&denied).contains("Permission denied")
            // Outside the grants a path does not exist in the mount view.
            || stderr(&denied).contains("No such file or directory"),
        "{}",
        stderr(&denied)
    );
}

#[test]
fn safety_net_withholds_secrets_and_reports_them_as_sensitive() {
    let w = World::new();
    fixture(&w);
    let key = w.home().join(".ssh/id_rsa");
    let report = w.dir.path().join("report.json");
    let out = w.run(&["learn", "--report", p(&report), "--", "cat", p(&key)]);
    assert_code(&out, 1, "cat of the key fails under the safety net");
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sensitive: Vec<_> = report["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == "sensitive")
        .collect();
    assert_eq!(sensitive.len(), 1, "{report:#}");
    assert_eq!(sensitive[0]["safe"], false);
    assert!(
        sensitive[0]["label"]
            .as_str()
            .unwrap()
            .contains("deny_credentials")
    );
    assert!(report["profile"]["filesystem"].is_null(), "{report:#}");

    // Without the safety net the key is readable (and nono warns).
    let out = w.run(&["learn", "--no-safety-net", "--", "cat", p(&key)]);
    assert_code(&out, 0, "no safety net");
    assert_eq!(stdout(&out), "PRIVATE KEY");
    assert!(stderr(&out).contains("--no-safety-net"), "{}", stderr(&out));
}

#[test]
fn json_report_sessions_and_exit_code() {
    let w = World::new();
    fixture(&w);
    let out = w.run(&[
        "learn",
        "--json",
        "--",
        "sh",
        "-c",
        "cat ../data/a.csv >/dev/null; exit 7",
    ]);
    assert_code(&out, 7, "the command's exit code");
    // The report is stdout's whole content (the command printed nothing there), so
    // `nono learn --json -- CMD | jq .` works; nono's own lines stay on stderr.
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    assert!(
        !stderr(&out).contains("\"observations\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["exit_code"], 7);
    assert!(report["events"].as_u64().unwrap() > 0);
    assert!(
        report["observations"]["execs"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.ends_with("/cat"))
    );
    let session = Path::new(report["session"].as_str().unwrap()).to_path_buf();
    assert!(
        session.starts_with(w.home().join(".local/state/nono/sessions")),
        "{}",
        session.display()
    );
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(session.join("session.json")).unwrap())
            .unwrap();
    assert_eq!(info["kind"], "learn");
    assert_eq!(info["exit_code"], 7);
    let events = std::fs::read_to_string(session.join("events.jsonl")).unwrap();
    assert!(
        events.lines().count() as u64
            >= report["events"].as_u64().unwrap() - report["dropped"].as_u64().unwrap()
    );
    assert!(events.contains("a.csv"), "events.jsonl lacks the read");
}

#[test]
fn dns_questions_become_host_suggestions() {
    let w = World::new();
    // A real DNS question for example.org sent to a local port 53 (nothing answers).
    let py = "import socket\nq=bytes.fromhex('abcd01000001000000000000076578616d706c65036f72670000010001')\n\
              s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(q, ('127.0.0.1', 53))\n";
    let report = w.dir.path().join("r.json");
    let out = w.run(&[
        "learn",
        "--report",
        p(&report),
        "--",
        "/usr/bin/python3",
        "-c",
        py,
    ]);
    assert_code(&out, 0, "learn");
    let text = std::fs::read_to_string(&report).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        report["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "host" && s["rule"] == "example.org"),
        "{report:#}"
    );
    assert_eq!(
        report["profile"]["network"]["allow_domain"],
        serde_json::json!(["example.org"])
    );
}

#[test]
fn output_is_never_overwritten_without_force() {
    let w = World::new();
    let existing = w.write("mine.json", "{\"meta\": {\"name\": \"mine\"}}");
    let out = w.run(&["learn", "--output", p(&existing), "--", "true"]);
    assert_code(&out, 2, "existing output");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "{\"meta\": {\"name\": \"mine\"}}"
    );
    let out = w.run(&["learn", "--force", "--output", p(&existing), "--", "true"]);
    assert_code(&out, 0, "--force");
    assert!(
        std::fs::read_to_string(&existing)
            .unwrap()
            .contains("\"extends\"")
    );
}

#[test]
fn learn_works_unprivileged() {
    if !can_switch_user() {
        return;
    }
    let w = World::new();
    let out = run_as_nobody(
        &w,
        &format!(
            "learn --report {}/r.json -- sh -c 'echo hi > f; cat f'",
            w.dir.path().display()
        ),
    );
    assert_code(&out, 0, "learn as uid 65534");
    assert_eq!(stdout(&out), "hi\n");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.dir.path().join("r.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["profile"]["workdir"]["access"], "readwrite",
        "{report:#}"
    );
}

/// Runs `nono ARGS` (shell words) as uid 65534, from a copy of the binary inside the
/// world (the build tree may not be traversable by 65534).
fn run_as_nobody(w: &World, args: &str) -> std::process::Output {
    run_copy_as_nobody(w, args, |_| {})
}

/// [`run_as_nobody`], with `prepare` applied to the private copy of the binary first
/// (file capabilities must not land on the shared build output).
fn run_copy_as_nobody(w: &World, args: &str, prepare: impl FnOnce(&Path)) -> std::process::Output {
    let bin = w.dir.path().join("nono");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_nono"), &bin).unwrap();
        prepare(&bin);
    }
    // A child another test thread forked while the copy was open for writing holds that
    // descriptor until it execs, and executing the copy meanwhile fails with ETXTBSY
    // ("Text file busy"): try again shortly.
    for _ in 0..20 {
        let out = nobody_runs(w, &bin, &w.home(), args);
        if !(out.status.code() == Some(126) && stderr(&out).contains("Text file busy")) {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nobody_runs(w, &bin, &w.home(), args)
}

fn nobody_runs(w: &World, bin: &Path, home: &Path, args: &str) -> std::process::Output {
    runs_as(65534, w, home, &format!("{} {args}", bin.display()))
}

/// Runs the shell words `command` as `uid` (and the same gid) in the world's working
/// directory, with `HOME` set, after opening the world up to every user.
fn runs_as(uid: u32, w: &World, home: &Path, command: &str) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let shell = format!(
        "chmod -R a+rwX {root} && cd {work} && setpriv --reuid={uid} --regid={uid} --clear-groups env HOME={home} {command}",
        root = w.dir.path().display(),
        work = w.work().display(),
        home = home.display(),
    );
    std::process::Command::new("sh")
        .args(["-c", &shell])
        .output()
        .unwrap()
}

/// A trace that fails before anything is traced (here the process limit stops the
/// tracer's thread or its fork) leaves no empty session behind; the same learn without
/// the limit keeps one. Run as a uid no other test uses, whose process count is only
/// this test's.
#[test]
fn a_trace_that_fails_leaves_no_session() {
    if !can_switch_user() {
        return;
    }
    const UID: u32 = 65533;
    let w = World::new();
    assert_code(&run_as_nobody(&w, "--version"), 0, "the copy runs");
    let bin = w.dir.path().join("nono");
    let sessions = w.home().join(".local/state/nono/sessions");
    let count = || std::fs::read_dir(&sessions).map_or(0, |d| d.count());
    let learn = format!("{} learn --no-tui --backend ptrace -- true", bin.display());

    let out = runs_as(UID, &w, &w.home(), &learn);
    assert_code(&out, 0, "learn without a limit");
    assert_eq!(count(), 1, "a learn keeps its session");
    std::fs::remove_dir_all(&sessions).unwrap();

    let mut failed = 0;
    for limit in 1..=6 {
        let out = runs_as(
            UID,
            &w,
            &w.home(),
            &format!("prlimit --nproc={limit} {learn}"),
        );
        let err = stderr(&out);
        if err.contains("tracing failed") || err.contains("cannot start the tracer thread") {
            failed += 1;
            assert_eq!(
                count(),
                0,
                "with --nproc={limit}, a session was left: {err}"
            );
        }
        let _ = std::fs::remove_dir_all(&sessions);
    }
    assert!(failed > 0, "no process limit made the trace itself fail");
}

/// `su`/`setpriv` without resetting `HOME`: the error names the variable, not only the
/// file it could not read (for `learn`, planning fails; for `run`, opening a rule).
#[test]
fn a_home_of_another_user_is_named_in_the_error() {
    use std::os::unix::fs::PermissionsExt;
    if !can_switch_user() {
        return;
    }
    let w = World::new();
    // Root's, mode 0700, outside the world (which is opened up for uid 65534).
    let foreign = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(foreign.path().join(".local/state/nono")).unwrap();
    std::fs::set_permissions(foreign.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_code(&run_as_nobody(&w, "--version"), 0, "the copy runs");
    let bin = w.dir.path().join("nono");
    let hint = format!(
        "hint: HOME is {}, which belongs to uid 0, but nono runs as uid 65534",
        foreign.path().display()
    );
    for (args, code) in [
        ("learn --no-tui --backend ptrace -- true", 1),
        // run needs nothing from the state directory (the plan cache is skipped).
        ("run --allow-cwd -- true", 0),
    ] {
        let out = nobody_runs(&w, &bin, foreign.path(), args);
        assert_code(&out, code, args);
        assert!(
            code == 0 || stderr(&out).contains(&hint),
            "{args}: {}",
            stderr(&out)
        );
    }
    // The same HOME through a symbolic link: the paths in the errors are resolved.
    let link = w.dir.path().join("home-link");
    std::os::unix::fs::symlink(foreign.path(), &link).unwrap();
    let hint = format!(
        "hint: HOME is {}, which belongs to uid 0, but nono runs as uid 65534",
        link.display()
    );
    for (args, code) in [
        ("learn --no-tui --backend ptrace -- true", 1),
        ("run --allow-cwd -- true", 0),
    ] {
        let out = nobody_runs(&w, &bin, &link, args);
        assert_code(&out, code, args);
        assert!(
            code == 0 || stderr(&out).contains(&hint),
            "through a link, {args}: {}",
            stderr(&out)
        );
    }
    // Not for a HOME of one's own.
    let out = run_as_nobody(&w, "run --allow-cwd -- true");
    assert_code(&out, 0, "run with the world's HOME");
}

#[test]
fn unprivileged_ebpf_names_the_capability_and_auto_falls_back_to_ptrace() {
    if !can_switch_user() {
        return;
    }
    let w = World::new();
    let sessions = w.home().join(".local/state/nono/sessions");
    let count = || std::fs::read_dir(&sessions).map_or(0, |d| d.count());
    let out = run_as_nobody(&w, "learn --no-tui --backend ebpf -- true");
    assert_code(&out, 1, "--backend ebpf as uid 65534");
    assert_eq!(count(), 0, "a trace that never started leaves no session");
    assert!(
        stderr(&out).contains("CAP_BPF") && stderr(&out).contains("CAP_PERFMON"),
        "the missing capability is named: {}",
        stderr(&out)
    );
    let out = run_as_nobody(&w, "learn --no-tui -- sh -c 'echo traced'");
    assert_code(&out, 0, "--backend auto as uid 65534");
    assert_eq!(count(), 1, "the fallback trace's session is kept");
    assert_eq!(stdout(&out), "traced\n");
    assert!(
        stderr(&out).contains("tracing with ptrace (eBPF is not available: ")
            && stderr(&out).contains("CAP_BPF"),
        "auto says it fell back, and why: {}",
        stderr(&out)
    );
}

/// Can this test give a copy of nono file capabilities and run it as another user?
/// Says why not (a skip) when it cannot.
fn can_setcap() -> bool {
    if !can_switch_user() {
        return false;
    }
    if !Path::new("/usr/sbin/setcap").exists() && !Path::new("/sbin/setcap").exists() {
        skip("needs setcap (Debian package libcap2-bin)");
        return false;
    }
    true
}

/// `setcap cap_bpf,cap_perfmon+ep` on a private copy of the binary.
fn give_ebpf_capabilities(bin: &Path) {
    let status = std::process::Command::new("setcap")
        .args(["cap_bpf,cap_perfmon+ep"])
        .arg(bin)
        .status()
        .unwrap();
    assert!(status.success(), "setcap");
}

#[test]
fn ebpf_as_a_user_given_cap_bpf_and_cap_perfmon_runs_the_command_as_that_user() {
    if !can_setcap() {
        return;
    }
    let w = World::new();
    w.write("home/.ssh/id_rsa", "PRIVATE KEY");
    let args = format!(
        "learn --no-tui --backend ebpf -- sh -c 'id -u; grep CapEff /proc/self/status; cat {}/.ssh/id_rsa 2>/dev/null || echo key-refused'",
        w.home().display()
    );
    let out = run_copy_as_nobody(&w, &args, give_ebpf_capabilities);
    assert_code(
        &out,
        0,
        "learn --backend ebpf as uid 65534 with file capabilities",
    );
    assert!(
        stderr(&out).contains("nono: tracing with eBPF"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        "65534\nCapEff:\t0000000000000000\nkey-refused\n",
        "the command runs as the user, without capabilities, under the safety net"
    );
}

/// The eBPF offsets cache is a file its user owns, and the offsets steer what the
/// programs read in the kernel: a nono given file capabilities must not trust it. With
/// a cache whose system-call number offset is wrong, root's learn (which may use it)
/// misses the command's open; a capable copy run as uid 65534 (which must ignore it)
/// sees the open and leaves the file as it found it.
#[test]
fn a_poisoned_offsets_cache_is_ignored_by_a_copy_with_file_capabilities() {
    if !can_setcap() {
        return;
    }
    let w = World::new();
    let marker = w.write("work/marker.txt", "x");
    let cache = w.home().join(".local/state/nono/ebpf-offsets");
    let opened = |report: &Path| read(report).contains(&format!("\"{}\"", marker.display()));

    // Root's learn writes the cache; it sees the open.
    let report = w.dir.path().join("report.json");
    let learn_as_root = || {
        w.nono(&[
            "learn",
            "--no-tui",
            "--backend",
            "ebpf",
            "--report",
            p(&report),
        ])
        .args(["--", "cat", "marker.txt"])
        .output()
        .unwrap()
    };
    let out = learn_as_root();
    assert_code(&out, 0, "learn as root");
    assert!(opened(&report), "root's learn sees the open");
    // The offsets are the last line; the fourteenth is the system-call number's
    // (KernelOffsets: seven task/file fields, six argument registers, then the number).
    let text = read(&cache);
    let (key, line) = text
        .trim_end()
        .rsplit_once('\n')
        .expect("key, then offsets");
    let mut words: Vec<&str> = line.split(' ').collect();
    assert!(words.len() > 13 && words[13] != "0", "offsets line: {line}");
    words[13] = "0";
    let poisoned = format!("{key}\n{}\n", words.join(" "));
    std::fs::write(&cache, &poisoned).unwrap();

    let out = learn_as_root();
    assert_code(&out, 0, "learn as root with the poisoned cache");
    assert!(
        !opened(&report),
        "the poisoned cache steers root's programs (else this test proves nothing)"
    );

    let report = w.work().join("nobody-report.json");
    let out = run_copy_as_nobody(
        &w,
        &format!(
            "learn --no-tui --backend ebpf --report {} -- cat marker.txt",
            report.display()
        ),
        give_ebpf_capabilities,
    );
    assert_code(&out, 0, "learn as uid 65534 with file capabilities");
    assert!(
        opened(&report),
        "the capable copy ignores the cache: {}",
        stderr(&out)
    );
    assert_eq!(read(&cache), poisoned, "and leaves it alone");
}

#[test]
fn learning_through_sudo_warns_whose_secrets_the_safety_net_guards() {
    if !is_root() {
        skip("the warning is about running as root");
        return;
    }
    let w = World::new();
    let out = w
        .nono(&["learn", "--no-tui", "--", "true"])
        .env("SUDO_USER", "alice")
        .output()
        .unwrap();
    assert_code(&out, 0, "learn through sudo");
    let err = stderr(&out);
    assert!(
        err.contains("running through sudo")
            && err.contains("not alice's")
            && err.contains("setcap cap_bpf,cap_perfmon+ep"),
        "{err}"
    );
    let plain = w.run(&["learn", "--no-tui", "--", "true"]);
    assert!(
        !stderr(&plain).contains("sudo"),
        "no warning without sudo: {}",
        stderr(&plain)
    );
}

#[test]
fn auto_uses_ebpf_where_it_can_and_says_so() {
    let w = World::new();
    let report = w.dir.path().join("r.json");
    let out = w.run(&[
        "learn",
        "--no-tui",
        "--report",
        p(&report),
        "--",
        "cat",
        "/etc/hostname",
    ]);
    assert_code(&out, 0, "learn");
    let err = stderr(&out);
    if err.contains("tracing with ptrace (eBPF is not available") {
        skip(&format!("eBPF tracing is not available here: {err}"));
        return;
    }
    assert!(err.contains("nono: tracing with eBPF"), "{err}");
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("/etc/hostname"),
        "the read was traced: {report}"
    );
    let sessions = w.home().join(".local/state/nono/sessions");
    let info = std::fs::read_dir(&sessions)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("session.json")).ok())
        .next()
        .expect("a session was recorded");
    assert!(
        info.contains("\"ebpf\""),
        "the session names its backend: {info}"
    );
}

#[test]
fn python_round_trip_and_nothing_sensitive_or_whole_is_ever_suggested() {
    let w = World::new();
    if !Path::new("/usr/bin/python3").exists() {
        skip("needs /usr/bin/python3 (Debian package python3)");
        return;
    }
    w.write("data/in.txt", "payload\n");
    w.write("data/extra.txt", "not read while learning\n");
    w.write("home/.ssh/config", "Host *\n");
    let fixture = w.write(
        "fixture.py",
        "import os, sys\n\
         data = os.path.join(os.path.dirname(__file__), 'data')\n\
         text = open(os.path.join(data, 'in.txt')).read()\n\
         open('out.txt', 'w').write(text.upper())\n\
         try:\n    open(os.path.expanduser('~/.ssh/config')).read(); print('ssh config READ')\n\
         except (PermissionError, FileNotFoundError):\n    print('ssh config refused')\n\
         if len(sys.argv) > 1:\n    open(os.path.join(data, 'extra.txt')).read()\n\
         print('ok')\n",
    );
    let profile = w.dir.path().join("p.json");
    let out = w.run(&[
        "learn",
        "--output",
        p(&profile),
        "--",
        "/usr/bin/python3",
        p(&fixture),
    ]);
    assert_code(&out, 0, "learn");
    assert_eq!(
        stdout(&out),
        "ssh config refused\nok\n",
        "the safety net let the read through:\n{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&profile).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rules: Vec<String> = [
        "read",
        "write",
        "allow",
        "read_file",
        "write_file",
        "allow_file",
    ]
    .iter()
    .flat_map(|k| {
        json["filesystem"][*k]
            .as_array()
            .cloned()
            .unwrap_or_default()
    })
    .map(|v| v.as_str().unwrap().to_string())
    .collect();
    for rule in &rules {
        assert!(
            rule != "/" && rule != "$HOME" && rule != p(&w.home()),
            "whole / or $HOME suggested: {text}"
        );
        assert!(
            !rule.contains(".ssh"),
            "a sensitive path was suggested: {text}"
        );
    }
    // The same program runs under the learned profile…
    std::fs::remove_file(w.work().join("out.txt")).unwrap();
    let again = w.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "/usr/bin/python3",
        p(&fixture),
    ]);
    assert_code(&again, 0, "run under the learned profile");
    assert_eq!(stdout(&again), "ssh config refused\nok\n");
    assert_eq!(
        std::fs::read_to_string(w.work().join("out.txt")).unwrap(),
        "PAYLOAD\n"
    );
    // …and a variant that reads one more file is refused.
    let variant = w.run(&[
        "run",
        "-q",
        "--profile",
        p(&profile),
        "--",
        "/usr/bin/python3",
        p(&fixture),
        "extra",
    ]);
    assert_ne!(
        variant.status.code(),
        Some(0),
        "the unlearned read succeeded"
    );
    assert!(
        stderr(&variant).contains("PermissionError")
            // The learned file grant leaves its directory out of the mount view.
            || stderr(&variant).contains("FileNotFoundError"),
        "{}",
        stderr(&variant)
    );
}

/// Regression: `--report /dev/null` once renamed a regular file over /dev/null. Only a
/// regular file may be replaced; a FIFO is written in place, a symlink keeps pointing
/// where it did.
#[test]
fn report_and_output_never_replace_special_files_or_links() {
    let w = World::new();
    let fifo = w.dir.path().join("report.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = w.run(&["learn", "--report", p(&fifo), "--", "true"]);
    assert_code(&out, 0, "learn with a FIFO report");
    let text = reader.join().unwrap();
    assert!(
        text.contains("\"suggestions\""),
        "the report did not go through the FIFO: {text}"
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );

    let real = w.write("profiles/real.json", "{}");
    let link = w.dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = w.run(&["learn", "--force", "--output", p(&link), "--", "true"]);
    assert_code(&out, 0, "learn through a symlink");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink was replaced"
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("\"extends\""),
        "the link's target was not written"
    );
}

#[test]
fn output_paths_are_checked_before_the_command_runs() {
    let w = World::new();
    let marker = w.work().join("ran");
    let script = format!("touch {}", p(&marker));
    for (flag, path, says) in [
        ("--output", "missing-dir/p.json", "does not exist"),
        ("--output", ".", "is a directory"),
        ("--report", "missing-dir/r.json", "does not exist"),
    ] {
        let out = w.run(&["learn", "--no-tui", flag, path, "--", "sh", "-c", &script]);
        assert_code(&out, 2, flag);
        assert!(
            stderr(&out).contains(says),
            "{flag} {path}: {}",
            stderr(&out)
        );
        assert!(
            !marker.exists(),
            "{flag} {path}: the command ran before the check"
        );
    }
    w.write("work/taken.json", "{}");
    let out = w.run(&[
        "learn",
        "--no-tui",
        "-o",
        "taken.json",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_code(&out, 2, "an existing --output without --force");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(!marker.exists());
}

#[test]
fn the_saved_profile_is_named_after_the_real_program_and_replays_in_full() {
    let w = World::new();
    let out = w.run(&[
        "learn",
        "--no-tui",
        "--json",
        "--",
        "sh",
        "-c",
        "cd . && FOO='a b' ls >/dev/null",
    ]);
    assert_code(&out, 0, "learn");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    assert_eq!(report["profile"]["meta"]["name"], "learned-ls");
    assert_eq!(
        report["profile"]["meta"]["description"],
        r"Learned from `sh -c 'cd . && FOO='\''a b'\'' ls >/dev/null'`"
    );
    let out = w.run(&[
        "learn",
        "--no-tui",
        "-o",
        "mine.json",
        "--",
        "sh",
        "-c",
        "echo 'hi there'",
    ]);
    assert_code(&out, 0, "learn -o");
    let err = stderr(&out);
    assert!(
        err.contains(r"then replay: nono run --profile mine.json -- sh -c 'echo '\''hi there'\'''"),
        "{err}"
    );
    assert!(!err.contains("-- …"), "{err}");
}
