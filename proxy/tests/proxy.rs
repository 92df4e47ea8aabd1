//! The proxy against origins started here, on 127.0.0.1 and ::1 only. Names resolve
//! through a hosts table (never DNS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nono_proxy::{Audit, Config, Handle, Hosts, Proxy};

/// An origin: answers every request with `ok` and remembers the request lines; with
/// `echo`, echoes whatever it receives instead (a tunnel's far end).
struct Origin {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    fn start(bind: &str, echo: bool) -> Origin {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                std::thread::spawn(move || {
                    if echo {
                        let mut buf = [0u8; 65536];
                        while let Ok(n) = stream.read(&mut buf) {
                            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        return;
                    }
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    r.lock().unwrap().push(head);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                });
            }
        });
        Origin {
            addr,
            connections,
            requests,
        }
    }

    fn seen(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn proxy(allow: &[&str], deny: &[&str], tweak: impl FnOnce(&mut Config)) -> Handle {
    proxy_with_audit(allow, deny, tweak, Audit::none())
}

fn proxy_with_audit(
    allow: &[&str],
    deny: &[&str],
    tweak: impl FnOnce(&mut Config),
    audit: Audit,
) -> Handle {
    let mut config = Config::default();
    config.hosts.allow = allow.iter().map(|a| a.parse().unwrap()).collect();
    config.hosts.deny = deny.iter().map(|a| a.parse().unwrap()).collect();
    let table = [
        ("loop.test", vec!["127.0.0.1".parse::<IpAddr>().unwrap()]),
        ("meta.test", vec!["169.254.169.254".parse().unwrap()]),
        (
            "mixed.test",
            vec![
                "169.254.169.254".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
        ),
    ];
    config.resolver = Some(Arc::new(Hosts::new(table)));
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Proxy::start(listener, config, audit).unwrap()
}

/// Sends `request` raw and reads the whole answer (the proxy closes, or the origin does).
fn send(proxy: &Handle, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(proxy: &Handle, url: &str, host: &str) -> String {
    send(
        proxy,
        &format!("GET {url} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"),
    )
}

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

fn nono_error(answer: &str) -> Option<&str> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("x-nono-error: "))
        .map(str::trim)
}

#[test]
fn an_allowed_name_reaches_the_origin() {
    let origin = Origin::start("127.0.0.1:0", false);
    let proxy = proxy(&["localhost"], &[], |_| {});
    let port = origin.addr.port();
    let answer = get(
        &proxy,
        &format!("http://localhost:{port}/x?y=1"),
        "localhost",
    );
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    let requests = origin.requests.lock().unwrap();
    assert!(
        requests[0].starts_with("GET /x?y=1 HTTP/1.1\r\n"),
        "{requests:?}"
    );
    assert!(
        !requests[0].to_ascii_lowercase().contains("proxy-"),
        "{requests:?}"
    );
}

#[test]
fn a_denied_name_gets_403_and_the_origin_sees_nothing() {
    let origin = Origin::start("127.0.0.1:0", false);
    let proxy = proxy(&["localhost", "*.localhost"], &["bad.localhost"], |_| {});
    let port = origin.addr.port();
    let answer = get(
        &proxy,
        &format!("http://BAD.localhost.:{port}/"),
        "bad.localhost",
    );
    assert_eq!(status(&answer), "403", "{answer}");
    assert_eq!(nono_error(&answer), Some("host-denied"), "{answer}");
    let answer = send(
        &proxy,
        &format!("CONNECT bad.localhost:{port} HTTP/1.1\r\n\r\n"),
    );
    assert_eq!(status(&answer), "403", "{answer}");
    let answer = get(&proxy, &format!("http://other.test:{port}/"), "other.test");
    assert_eq!(nono_error(&answer), Some("host-not-allowed"), "{answer}");
    assert_eq!(origin.seen(), 0);
}

#[test]
fn loopback_needs_the_literal_localhost_or_allow_private() {
    let origin = Origin::start("127.0.0.1:0", false);
    let port = origin.addr.port();
    // `localhost` is allowed; the literal 127.0.0.1 is a different host.
    let proxy1 = proxy(&["localhost"], &[], |_| {});
    let answer = get(&proxy1, &format!("http://127.0.0.1:{port}/"), "127.0.0.1");
    assert_eq!(nono_error(&answer), Some("host-not-allowed"), "{answer}");
    // An allowed name that resolves to loopback.
    let proxy2 = proxy(&["*.test"], &[], |_| {});
    let answer = get(&proxy2, &format!("http://loop.test:{port}/"), "loop.test");
    assert_eq!(status(&answer), "403", "{answer}");
    assert_eq!(nono_error(&answer), Some("loopback-address"), "{answer}");
    assert_eq!(origin.seen(), 0);
    // The literal itself, or allow_private.
    let proxy3 = proxy(&["127.0.0.1"], &[], |_| {});
    let answer = get(&proxy3, &format!("http://127.0.0.1:{port}/"), "127.0.0.1");
    assert_eq!(status(&answer), "200", "{answer}");
    let proxy4 = proxy(&["*.test"], &[], |c| c.allow_private = true);
    let answer = get(&proxy4, &format!("http://loop.test:{port}/"), "loop.test");
    assert_eq!(status(&answer), "200", "{answer}");
    assert_eq!(origin.seen(), 2);
}

#[test]
fn metadata_is_refused_even_with_allow_private() {
    let proxy = proxy(&["*.test", "169.254.169.254"], &[], |c| {
        c.allow_private = true
    });
    let answer = get(&proxy, "http://meta.test/latest/", "meta.test");
    assert_eq!(nono_error(&answer), Some("metadata-address"), "{answer}");
    let answer = get(&proxy, "http://169.254.169.254/latest/", "169.254.169.254");
    assert_eq!(nono_error(&answer), Some("metadata-address"), "{answer}");
}

#[test]
fn only_the_checked_addresses_are_dialled() {
    // mixed.test resolves to metadata and loopback; with allow_private only loopback
    // passes, and the metadata address is never dialled.
    let origin = Origin::start("127.0.0.1:0", false);
    let port = origin.addr.port();
    let proxy = proxy(&["mixed.test"], &[], |c| c.allow_private = true);
    let answer = get(&proxy, &format!("http://mixed.test:{port}/"), "mixed.test");
    assert_eq!(status(&answer), "200", "{answer}");
}

#[test]
fn ipv6_literal_origin() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        assert!(
            std::env::var_os("NONO_TEST_STRICT").is_none(),
            "no ::1 here"
        );
        eprintln!("skipped: cannot bind ::1");
        return;
    };
    drop(probe);
    let origin = Origin::start("[::1]:0", false);
    let port = origin.addr.port();
    let proxy = proxy(&["::1"], &[], |_| {});
    let answer = get(&proxy, &format!("http://[::1]:{port}/six"), "[::1]");
    assert_eq!(status(&answer), "200", "{answer}");
}

#[test]
fn connect_tunnels_bytes_both_ways_and_audits_them() {
    let origin = Origin::start("127.0.0.1:0", true);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("network.jsonl");
    let proxy = proxy_with_audit(&["localhost"], &[], |_| {}, Audit::to_file(&log).unwrap());
    let mut stream = TcpStream::connect(proxy.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = origin.addr.port();
    write!(
        stream,
        "CONNECT localhost:{port} HTTP/1.1\r\nhost: localhost:{port}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let payload = vec![7u8; 300_000];
    let mut writer = stream.try_clone().unwrap();
    let sent = payload.clone();
    let t = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut back = vec![0u8; payload.len()];
    stream.read_exact(&mut back).unwrap();
    t.join().unwrap();
    assert_eq!(back, payload);
    stream.shutdown(Shutdown::Both).unwrap();
    drop(stream);
    // The tunnel's line is written when it closes.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["v"], 1);
            assert_eq!(v["decision"], "allow");
            assert_eq!(v["method"], "CONNECT");
            assert_eq!(v["host"], "localhost");
            assert_eq!(v["port"], port);
            assert_eq!(v["status"], 200);
            assert_eq!(v["bytes_up"], 300_000);
            assert_eq!(v["bytes_down"], 300_000);
            break;
        }
        assert!(Instant::now() < deadline, "no audit line");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refusals_are_audited_as_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("network.jsonl");
    let proxy = proxy_with_audit(&["localhost"], &[], |_| {}, Audit::to_file(&log).unwrap());
    get(&proxy, "http://nope.test/secret/path", "nope.test");
    // Read while the proxy still runs: nothing is held back until it stops.
    let text = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["reason"], "host-not-allowed");
    assert_eq!(v["status"], 403);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/secret/path");
    assert_eq!(v["port"], 80);
    drop(proxy);
}

#[test]
fn a_huge_header_gets_431() {
    let origin = Origin::start("127.0.0.1:0", false);
    let proxy = proxy(&["localhost"], &[], |_| {});
    let port = origin.addr.port();
    let big = "a".repeat(1024 * 1024);
    let mut stream = TcpStream::connect(proxy.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The proxy may answer and close before reading it all: write errors are expected.
    let _ = write!(
        stream,
        "GET http://localhost:{port}/ HTTP/1.1\r\nhost: localhost\r\nx-big: {big}\r\n\r\n"
    );
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status(&answer), "431", "{answer}");
    assert_eq!(origin.seen(), 0);
}

#[test]
fn a_slowloris_client_is_cut_off() {
    let proxy = proxy(&["localhost"], &[], |c| {
        c.header_timeout = Duration::from_millis(500);
    });
    let mut stream = TcpStream::connect(proxy.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let start = Instant::now();
    // One byte every 100 ms: the head never completes.
    let mut cut = false;
    for byte in
        b"GET http://localhost/ HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    {
        if stream.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let mut rest = Vec::new();
    let closed = cut || stream.read_to_end(&mut rest).is_ok();
    assert!(closed, "the connection stayed open");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_idle_tunnel_is_closed() {
    let origin = Origin::start("127.0.0.1:0", true);
    let proxy = proxy(&["localhost"], &[], |c| {
        c.idle_timeout = Duration::from_millis(300)
    });
    let mut stream = TcpStream::connect(proxy.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "CONNECT localhost:{} HTTP/1.1\r\n\r\n",
        origin.addr.port()
    )
    .unwrap();
    let start = Instant::now();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn origin_form_and_https_forwarding_are_bad_requests() {
    let proxy = proxy(&["localhost"], &[], |_| {});
    let answer = send(&proxy, "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
    assert_eq!(status(&answer), "400", "{answer}");
    assert_eq!(nono_error(&answer), Some("bad-request"), "{answer}");
    let answer = get(&proxy, "https://localhost/", "localhost");
    assert_eq!(status(&answer), "400", "{answer}");
}

#[test]
fn a_thousand_concurrent_connections_complete() {
    let origin = Origin::start("127.0.0.1:0", false);
    let port = origin.addr.port();
    let proxy = Arc::new(proxy(&["localhost"], &[], |c| c.max_connections = 256));
    let threads: Vec<_> = (0..1000)
        .map(|_| {
            let proxy = proxy.clone();
            std::thread::spawn(move || {
                let answer = get(&proxy, &format!("http://localhost:{port}/"), "localhost");
                status(&answer) == "200"
            })
        })
        .collect();
    let ok = threads
        .into_iter()
        .filter(|_| true)
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(ok, 1000);
}
