//! Denials that must not depend on a mount: a denied file or socket replaced from
//! outside during the run, pathname sockets outside the grants, the profile file in a
//! writable working directory, names inside denied directories. Each is tried as root
//! and as uid 65534.

use super::*;

as_root_and_nobody!(
    hidden_file_replaced_by_rename_stays_denied,
    hidden_socket_replaced_by_a_new_listener_stays_unreachable,
    sockets_outside_the_grants_are_unreachable,
    the_profile_and_its_bases_cannot_be_changed_from_inside,
    denied_directory_names_do_not_show_through_inotify,
);

/// What a refused change of a read-only bind mount says: a write, truncate or chmod
/// (`EROFS`), a rename over or unlink of the mount point (`EBUSY`).
const PROFILE_REFUSALS: &[&str] = &[
    "Read-only file system",
    "Device or resource busy",
    "Permission denied",
    "Operation not permitted",
];

/// `nono ARGS` started in the background as the scene's user (stdout and stderr
/// piped), in the world's working directory.
fn spawn_as(scene: &Scene, args: &[&str]) -> Child {
    let program = match scene.user {
        User::Caller => PathBuf::from(env!("CARGO_BIN_EXE_nono")),
        User::Nobody => open_world_to_nobody(&scene.w),
    };
    command_as(scene.user, program)
        .args(args)
        .current_dir(scene.w.work())
        .env("HOME", scene.w.home())
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning nono")
}

/// Waits until `path` exists (the sandboxed command made it), failing after TIMEOUT
/// or when the command ended first.
fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + TIMEOUT;
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "the command ended ({status}) before it made {}:\n{err}",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A profile `t` (in the world's home) reading `dir` and denying `denied` inside it.
fn read_with_denial(scene: &Scene, dir: &Path, denied: &Path) {
    scene.w.write(
        "home/.config/nono/profiles/t.json",
        &format!(
            r#"{{"filesystem": {{"read": ["{}"], "deny": ["{}"]}}}}"#,
            p(dir),
            p(denied)
        ),
    );
    scene.give(&scene.w.home());
}

/// Escape: a denied file inside a read grant (`/etc/shadow` under `/etc`, here a test
/// directory outside the home) is replaced by rename while the command runs, as
/// `passwd` and package managers write it. A mount hiding it would be dropped by the
/// kernel; the command then reads the new file. It must not.
fn hidden_file_replaced_by_rename_stays_denied(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let sys = w.dir.path().join("sys");
    let public = w.write("sys/public", "public-text\n");
    let secret = w.write("sys/secret", "old-secret\n");
    for file in [&public, &secret] {
        set_mode(file, 0o644);
    }
    read_with_denial(&scene, &sys, &secret);
    let script = format!(
        "cat {s}/public; : > ready; while [ ! -e go ]; do sleep 0.05; done; \
         cat {s}/secret; ls {s}; echo done",
        s = p(&sys)
    );
    let mut child = spawn_as(
        &scene,
        &[
            "run",
            "-q",
            "--profile",
            "t",
            "--allow-cwd",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    wait_for(&w.work().join("ready"), &mut child);
    // From outside, as `passwd` does: write a new file, rename it over the old one.
    let new = w.write("sys/secret.new", "new-secret\n");
    set_mode(&new, 0o644);
    std::fs::rename(&new, &secret).unwrap();
    std::fs::write(w.work().join("go"), "").unwrap();
    let out = wait_with_timeout(child, TIMEOUT);
    let text = stdout(&out);
    assert!(
        text.contains("public-text") && text.contains("done"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(
        !text.contains("secret\n") && !text.contains("-secret"),
        "{user:?}: the replaced denied file was read or listed:\n{text}"
    );
    assert!(stderr(&out).contains("secret"), "{}", stderr(&out));
    assert_eq!(read(&secret), "new-secret\n");
}

/// Escape: a denied service socket inside a read grant is replaced by a new listener
/// (the service restarted: unlink, bind again) while the command runs. A mount hiding
/// the old socket would be dropped; Landlock before ABI 9 does not mediate connecting.
fn hidden_socket_replaced_by_a_new_listener_stays_unreachable(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let w = &scene.w;
    let sys = w.dir.path().join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    set_mode(&sys, 0o755);
    let socket = sys.join("svc.sock");
    let old = UnixListener::bind(&socket).unwrap();
    set_mode(&socket, 0o777);
    read_with_denial(&scene, &sys, &socket);
    let client = format!(
        "import os, socket, time\n\
         open('ready', 'w').close()\n\
         while not os.path.exists('go'): time.sleep(0.05)\n\
         s = socket.socket(socket.AF_UNIX)\n\
         try:\n    s.connect({:?}); print('reached', s.recv(64))\n\
         except OSError as e: print('refused', e.errno)\n",
        p(&socket)
    );
    let mut child = spawn_as(
        &scene,
        &[
            "run",
            "-q",
            "--profile",
            "t",
            "--allow-cwd",
            "--",
            PYTHON,
            "-c",
            &client,
        ],
    );
    wait_for(&w.work().join("ready"), &mut child);
    // The service restarts.
    drop(old);
    std::fs::remove_file(&socket).unwrap();
    let new = UnixListener::bind(&socket).unwrap();
    set_mode(&socket, 0o777);
    new.set_nonblocking(true).unwrap();
    std::fs::write(w.work().join("go"), "").unwrap();
    let out = wait_with_timeout(child, TIMEOUT);
    assert!(
        stdout(&out).starts_with("refused"),
        "{user:?}: the restarted service's socket was reachable: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    match new.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the service saw a connection: {other:?}"),
    }
}

/// Escape: connect to pathname sockets outside every grant (before Landlock ABI 9
/// nothing but the mount view stops it): one in a directory outside the grants, one
/// in a denied directory inside a granted home (an ssh ControlMaster socket), one six
/// levels deep, and one in an `ssh-*` directory behind 5,000 other files (which once
/// made the socket scan give up).
fn sockets_outside_the_grants_are_unreachable(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let w = &scene.w;
    let outside = scene.outside();
    let ssh = w.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let tmp = w.dir.path().join("tmp/ssh-nonotest");
    std::fs::create_dir_all(&tmp).unwrap();
    for i in 0..5_000 {
        std::fs::write(tmp.join(format!("planted-{i}")), "").unwrap();
    }
    let deep = outside.path().join("a/b/c/d/e/f");
    std::fs::create_dir_all(&deep).unwrap();
    let paths = [
        outside.path().join("svc.sock"),
        ssh.join("cm-git@example.com:22"),
        deep.join("deep.sock"),
        tmp.join("agent.sock"),
    ];
    let mut listeners = Vec::new();
    for path in &paths {
        let listener = UnixListener::bind(path).unwrap();
        set_mode(path, 0o777);
        listener.set_nonblocking(true).unwrap();
        listeners.push(listener);
    }
    scene.give(&w.home());
    scene.give(&w.dir.path().join("tmp"));
    let client = "import socket, sys\n\
         for path in sys.argv[1:]:\n\
         \x20   s = socket.socket(socket.AF_UNIX)\n\
         \x20   try:\n        s.connect(path); print('REACHED', path)\n\
         \x20   except OSError as e: print('refused', e.errno, path)\n";
    let home = p(&w.home()).to_string();
    let mut args = vec!["run", "--read", &home, "--", PYTHON, "-c", &client];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = scene.run(&args);
    assert_code(&out, 0, "the client");
    let text = stdout(&out);
    assert_eq!(
        text.matches("refused").count(),
        paths.len(),
        "{user:?}:\n{text}"
    );
    assert!(!text.contains("REACHED"), "{user:?}:\n{text}");
    for (listener, path) in listeners.iter().zip(&paths) {
        match listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{} saw a connection: {other:?}", path.display()),
        }
    }
    // Nothing is left to a scan that could stop early.
    assert!(!stderr(&out).contains("missing"), "{}", stderr(&out));
}

/// Escape: with `--profile ./nono.json --allow-cwd`, rewrite the profile (add a
/// `bypass_protection` for `~/.ssh`, say) so that the next run trusts it: overwrite,
/// append, truncate, rename over, delete, replace by a link, chmod — the profile and
/// the base it extends.
fn the_profile_and_its_bases_cannot_be_changed_from_inside(user: User) {
    let Some(scene) = Scene::new(user) else {
        return;
    };
    let w = &scene.w;
    let profile_text = "{\"extends\": [\"base.json\"]}\n";
    let base_text = "{\"filesystem\": {\"read\": []}}\n";
    let profile = w.write("work/nono.json", profile_text);
    let base = w.write("work/base.json", base_text);
    for file in [&profile, &base] {
        set_mode(file, 0o666);
        scene.give(file);
    }
    let evil = r#"{"filesystem": {"bypass_protection": ["~/.ssh"]}}"#;
    let mut commands = Vec::new();
    for name in ["nono.json", "base.json"] {
        commands.extend([
            format!("echo '{evil}' > {name}"),
            format!("echo x >> {name}"),
            format!("truncate -s 0 {name}"),
            format!("echo '{evil}' > evil-{name} && mv -f evil-{name} {name}"),
            format!("rm -f {name}"),
            format!("ln -f evil-{name} {name}"),
            format!("chmod 600 {name}"),
            format!("touch -d 2000-01-01 {name}"),
        ]);
    }
    assert_all_refused(
        &scene,
        &["--profile", "./nono.json", "--allow-cwd"],
        &commands,
        PROFILE_REFUSALS,
    );
    assert_eq!(read(&profile), profile_text);
    assert_eq!(read(&base), base_text);
    assert_eq!(mode_of(&profile), 0o666);
    assert_eq!(mode_of(&base), 0o666);
    // Not an escape: the rest of the working directory stays writable.
    let out = scene.run(&[
        "run",
        "-q",
        "--profile",
        "./nono.json",
        "--allow-cwd",
        "--",
        "sh",
        "-c",
        "echo ok > other.txt && cat nono.json",
    ]);
    assert_code(&out, 0, "writing next to the profile");
    assert_eq!(read(&w.work().join("other.txt")), "ok\n");
    assert_eq!(stdout(&out), profile_text, "the profile stays readable");
}

/// Escape: `inotify_add_watch` on a denied directory inside a granted home, then watch
/// the names of the files created there (Landlock does not mediate inotify).
fn denied_directory_names_do_not_show_through_inotify(user: User) {
    let Some(scene) = Scene::with_python(user) else {
        return;
    };
    let w = &scene.w;
    w.write("home/.ssh/id_ed25519", "PRIVATE KEY\n");
    w.write("home/notes.txt", "notes\n");
    scene.give(&w.home());
    let ssh = w.home().join(".ssh");
    let watcher = format!(
        "import ctypes, os, select, struct\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         fd = libc.inotify_init1(0)\n\
         wd = libc.inotify_add_watch(fd, {ssh:?}.encode(), 0xfff)\n\
         print('watch', 'refused %d' % ctypes.get_errno() if wd < 0 else 'set')\n\
         try:\n    print('listed', os.listdir({ssh:?}))\n\
         except OSError as e: print('list refused', e.errno)\n\
         open('ready', 'w').close()\n\
         while not os.path.exists('go'): select.select([], [], [], 0.05)\n\
         names = []\n\
         while wd >= 0 and select.select([fd], [], [], 2)[0]:\n\
         \x20   data = os.read(fd, 65536)\n\
         \x20   i = 0\n\
         \x20   while i < len(data):\n\
         \x20       _, _, _, n = struct.unpack_from('iIII', data, i)\n\
         \x20       names.append(data[i + 16:i + 16 + n].rstrip(b'\\0').decode())\n\
         \x20       i += 16 + n\n\
         print('events', names)\n\
         print(open('{notes}').read().strip())\n",
        ssh = p(&ssh),
        notes = p(&w.home().join("notes.txt")),
    );
    let home = p(&w.home()).to_string();
    let mut child = spawn_as(
        &scene,
        &[
            "run",
            "-q",
            "--read",
            &home,
            "--allow-cwd",
            "--",
            PYTHON,
            "-c",
            &watcher,
        ],
    );
    wait_for(&w.work().join("ready"), &mut child);
    std::fs::write(ssh.join("id_new_secret_name"), "KEY\n").unwrap();
    std::fs::write(w.work().join("go"), "").unwrap();
    let out = wait_with_timeout(child, TIMEOUT);
    let text = stdout(&out);
    assert!(
        text.contains("notes"),
        "the home stays readable:\n{text}\n{}",
        stderr(&out)
    );
    assert!(text.contains("list refused"), "{user:?}:\n{text}");
    assert!(
        !text.contains("id_new_secret_name") && !text.contains("id_ed25519"),
        "{user:?}: names in the denied directory showed:\n{text}"
    );
}
