//! `nono proxy`, driven with curl and raw sockets against servers started here on
//! 127.0.0.1 only. Each test runs as the caller and, when root, again as uid 65534.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::{can_switch_user, skip};

const NOBODY: u32 = 65534;

/// A server that answers `ok` and counts connections.
struct Origin {
    addr: SocketAddr,
    seen: Arc<AtomicUsize>,
}

impl Origin {
    fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                });
            }
        });
        Origin { addr, seen }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

/// A running `nono proxy`, stopped with SIGTERM when dropped.
struct Running {
    child: Child,
    port: u16,
    _home: tempfile::TempDir,
}

impl Running {
    fn start(args: &[&str], nobody: bool) -> Running {
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let bin = assert_cmd::cargo::cargo_bin("nono");
        let mut cmd = if nobody {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .args(["--clear-groups", "--"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.arg("proxy")
            .args(args)
            .current_dir(home.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("starting nono proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the first line is not JSON ({e}): {line:?}"));
        let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
        let url = format!("http://127.0.0.1:{port}");
        assert_eq!(v["env"]["HTTP_PROXY"], url.as_str());
        assert_eq!(v["env"]["https_proxy"], url.as_str());
        assert_eq!(v["env"]["NO_PROXY"], "");
        Running {
            child,
            port,
            _home: home,
        }
    }

    /// curl through the proxy: (status, x-nono-error).
    fn curl(&self, url: &str, extra: &[&str]) -> (String, Option<String>) {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-", "--max-time", "20", "-x"])
            .arg(format!("http://127.0.0.1:{}", self.port))
            .args(extra)
            .arg(url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .expect("running curl");
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = head.split(' ').nth(1).unwrap_or("").to_owned();
        let error = head
            .lines()
            .find_map(|l| l.strip_prefix("x-nono-error: "))
            .map(|s| s.trim().to_owned());
        (status, error)
    }

    fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

fn has_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("curl is not installed");
    }
    ok
}

/// Runs `body` as the caller, then as uid 65534 when the tests run as root.
fn as_both(body: impl Fn(bool)) {
    body(false);
    if can_switch_user() {
        body(true);
    }
}

#[test]
fn proxy_allowed_host_reaches_the_server_and_denied_ones_get_403() {
    if !has_curl() {
        return;
    }
    as_both(|nobody| {
        let origin = Origin::start();
        let port = origin.port();
        let proxy = Running::start(
            &[
                "--allow-domain",
                "localhost",
                "--proxy-allow",
                "*.localhost",
                "--deny-domain",
                "bad.localhost",
            ],
            nobody,
        );
        let (status, _) = proxy.curl(&format!("http://localhost:{port}/"), &[]);
        assert_eq!(status, "200", "as nobody: {nobody}");
        assert_eq!(origin.seen(), 1);
        let (status, error) = proxy.curl(&format!("http://bad.localhost:{port}/"), &[]);
        assert_eq!(
            (status.as_str(), error.as_deref()),
            ("403", Some("host-denied"))
        );
        // Allowed by `*.localhost`, but that is no explicit local entry: loopback is refused.
        let (status, error) = proxy.curl(&format!("http://a.localhost:{port}/"), &[]);
        assert_eq!(
            (status.as_str(), error.as_deref()),
            ("403", Some("loopback-address"))
        );
        let (status, error) = proxy.curl(&format!("http://127.0.0.1:{port}/"), &[]);
        assert_eq!(
            (status.as_str(), error.as_deref()),
            ("403", Some("host-not-allowed"))
        );
        // HTTPS through CONNECT is decided the same way, before any byte goes out.
        let (status, error) = proxy.curl(
            &format!("https://bad.localhost:{port}/"),
            &["--proxy-insecure"],
        );
        assert_eq!(
            (status.as_str(), error.as_deref()),
            ("403", Some("host-denied"))
        );
        assert_eq!(origin.seen(), 1, "the server saw a denied request");
    });
}

#[test]
fn proxy_loopback_literal_is_refused_unless_allowed() {
    if !has_curl() {
        return;
    }
    as_both(|nobody| {
        let origin = Origin::start();
        let url = format!("http://127.0.0.1:{}/", origin.port());
        let proxy = Running::start(&["--allow-domain", "example.com"], nobody);
        assert_eq!(proxy.curl(&url, &[]).0, "403");
        assert_eq!(origin.seen(), 0);
        drop(proxy);
        let proxy = Running::start(&["--allow-domain", "127.0.0.1"], nobody);
        assert_eq!(proxy.curl(&url, &[]).0, "200");
        assert_eq!(origin.seen(), 1);
    });
}

#[test]
fn proxy_reads_the_profile_network_keys() {
    if !has_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let write = |name: &str, private: bool| {
        let path = dir.path().join(name);
        let text = serde_json::json!({
            "meta": { "name": name },
            "network": {
                "allow_domain": ["*.localhost"],
                "deny_domain": ["bad.localhost"],
                "allow_private": private,
            }
        });
        std::fs::write(&path, text.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (strict, open) = (write("strict.json", false), write("open.json", true));
    as_both(|nobody| {
        let origin = Origin::start();
        let port = origin.port();
        let proxy = Running::start(&["--profile", &strict], nobody);
        let good = format!("http://good.localhost:{port}/");
        assert_eq!(
            proxy.curl(&good, &[]).1.as_deref(),
            Some("loopback-address")
        );
        drop(proxy);
        let proxy = Running::start(&["--profile", &open], nobody);
        assert_eq!(proxy.curl(&good, &[]).0, "200");
        let bad = format!("http://bad.localhost:{port}/");
        assert_eq!(proxy.curl(&bad, &[]).1.as_deref(), Some("host-denied"));
        assert_eq!(origin.seen(), 1);
    });
}

#[test]
fn proxy_network_profile_minimal_refuses_other_hosts() {
    if !has_curl() {
        return;
    }
    let origin = Origin::start();
    let proxy = Running::start(&["--network-profile", "minimal"], false);
    let (status, error) = proxy.curl(&format!("http://localhost:{}/", origin.port()), &[]);
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("403", Some("host-not-allowed"))
    );
    assert_eq!(origin.seen(), 0);
}

#[test]
fn proxy_bad_input_is_a_usage_error_naming_it() {
    let world = crate::util::World::new();
    let out = world.run(&["proxy", "--allow-domain", "a b"]);
    crate::util::assert_code(&out, 2, "bad pattern");
    assert!(
        crate::util::stderr(&out).contains("`a b`"),
        "{}",
        crate::util::stderr(&out)
    );
    let out = world.run(&["proxy", "--network-profile", "nope"]);
    crate::util::assert_code(&out, 2, "unknown network profile");
    assert!(crate::util::stderr(&out).contains("nope"));
    let out = world.run(&["proxy", "--header-timeout", "0"]);
    crate::util::assert_code(&out, 2, "zero timeout");
}

#[test]
fn proxy_huge_header_gets_431() {
    if !has_curl() {
        return;
    }
    as_both(|nobody| {
        let origin = Origin::start();
        let proxy = Running::start(&["--allow-domain", "localhost"], nobody);
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        // The proxy answers and closes before reading it all: a write error is expected.
        let _ = write!(
            stream,
            "GET http://localhost:{}/ HTTP/1.1\r\nhost: localhost\r\nx-big: {}\r\n\r\n",
            origin.port(),
            "a".repeat(1024 * 1024)
        );
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert_eq!(origin.seen(), 0);
    });
}

#[test]
fn proxy_cuts_off_a_slowloris_client() {
    as_both(|nobody| {
        let proxy = Running::start(
            &["--allow-domain", "localhost", "--header-timeout", "1"],
            nobody,
        );
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let start = Instant::now();
        let mut cut = false;
        for byte in b"GET http://localhost/ HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if stream.write_all(&[*byte]).is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if start.elapsed() > Duration::from_secs(4) {
                break;
            }
        }
        let mut rest = Vec::new();
        assert!(cut || stream.read_to_end(&mut rest).is_ok(), "still open");
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn proxy_completes_a_thousand_concurrent_connections() {
    let origin = Origin::start();
    let port = origin.port();
    let proxy = Running::start(&["--allow-domain", "localhost"], false);
    let proxy_port = proxy.port;
    let threads: Vec<_> = (0..1000)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", proxy_port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                write!(
                    s,
                    "GET http://localhost:{port}/ HTTP/1.1\r\nhost: localhost\r\n\r\n"
                )
                .unwrap();
                let mut answer = Vec::new();
                let _ = s.read_to_end(&mut answer);
                let ok = answer.starts_with(b"HTTP/1.1 200");
                if !ok {
                    eprintln!(
                        "{:?}",
                        String::from_utf8_lossy(&answer[..answer.len().min(200)])
                    );
                }
                ok
            })
        })
        .collect();
    let ok = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(ok, 1000);
}

#[test]
fn proxy_audit_survives_kill_9_and_sigint_exits_0() {
    if !has_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("network.jsonl");
    let origin = Origin::start();
    let mut proxy = Running::start(
        &[
            "--allow-domain",
            "localhost",
            "--audit",
            log.to_str().unwrap(),
        ],
        false,
    );
    for path in ["a", "b", "c"] {
        assert_eq!(
            proxy
                .curl(&format!("http://localhost:{}/{path}", origin.port()), &[])
                .0,
            "200"
        );
    }
    assert_eq!(proxy.curl("http://denied.test/", &[]).0, "403");
    let status = proxy.signal("-KILL");
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines.iter().all(|l| l["v"] == 1));
    assert_eq!(lines[0]["path"], "/a");
    assert_eq!(lines[0]["bytes_down"], 2);
    assert_eq!(lines[3]["decision"], "deny");
    assert_eq!(lines[3]["host"], "denied.test");
    let mut proxy = Running::start(&["--audit", log.to_str().unwrap()], false);
    assert_eq!(proxy.signal("-INT").code(), Some(0));
}
