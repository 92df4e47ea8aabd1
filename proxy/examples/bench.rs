//! `cargo run --release -p nono-proxy --example bench`: the latency a small HTTP request
//! gains through the proxy (p50 over fresh connections, loopback) and CONNECT throughput.
//! Origins and proxy on 127.0.0.1 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use nono_proxy::{Audit, Config, Proxy};

fn origin(sink: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            std::thread::spawn(move || {
                if sink {
                    let mut buf = vec![0u8; 1 << 20];
                    let mut total = 0u64;
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        total += n as u64;
                    }
                    let _ = stream.write_all(&total.to_le_bytes());
                    return;
                }
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
    addr
}

fn request(to: SocketAddr, target: &str) -> Duration {
    let start = Instant::now();
    let mut s = TcpStream::connect(to).unwrap();
    s.set_nodelay(true).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    start.elapsed()
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let gib: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let http = origin(false);
    let sink = origin(true);
    let mut config = Config::default();
    config.hosts.allow.push("localhost".parse().unwrap());
    let proxy = Proxy::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        config,
        Audit::none(),
    )
    .unwrap();
    let via = proxy.local_addr();
    let url = format!("http://localhost:{}/", http.port());
    for _ in 0..200 {
        request(http, "/");
        request(via, &url);
    }
    // Interleaved, so that load on the machine falls on both alike.
    let (mut direct, mut proxied) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        direct.push(request(http, "/"));
        proxied.push(request(via, &url));
    }
    let (d, p) = (p50(direct), p50(proxied));
    println!(
        "http p50 direct {:.1} µs, via proxy {:.1} µs, added {:.1} µs (n={n})",
        d.as_secs_f64() * 1e6,
        p.as_secs_f64() * 1e6,
        (p.as_secs_f64() - d.as_secs_f64()) * 1e6
    );

    let mut s = TcpStream::connect(via).unwrap();
    write!(s, "CONNECT localhost:{} HTTP/1.1\r\n\r\n", sink.port()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let chunk = vec![0x5au8; 1 << 20];
    let total = gib << 30;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        s.write_all(&chunk).unwrap();
        sent += chunk.len() as u64;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = [0u8; 8];
    s.read_exact(&mut got).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(u64::from_le_bytes(got), total);
    println!(
        "CONNECT upload {:.2} GB/s ({} GiB in {secs:.2} s)",
        total as f64 / secs / 1e9,
        gib
    );
}
