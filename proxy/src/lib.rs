//! nono's network proxy: the sandbox's one way out.
//!
//! A forward proxy for HTTP/1: `CONNECT host:port` tunnels (what HTTPS clients send to
//! `HTTPS_PROXY`) and absolute-URI requests (`GET http://host/path`, what clients send to
//! `HTTP_PROXY`). Every request is decided by host name against an allow list and a deny
//! list (deny wins), then by address: the proxy resolves the name itself, classifies every
//! address it got ([`addr::classify`]) and dials only the addresses that passed — never a
//! second lookup, so a name cannot be rebound between the check and the connect.
//!
//! ```no_run
//! use nono_proxy::{Audit, Config, Proxy};
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let mut config = Config::default();
//! config.hosts.allow.push("*.example.com".parse()?);
//! let handle = Proxy::start(listener, config, Audit::none())?;
//! println!("HTTPS_PROXY=http://{}", handle.local_addr());
//! handle.wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security model
//!
//! - Cloud metadata endpoints, link-local and reserved addresses are never dialled.
//! - Loopback and private addresses only when the allow entry that matched is that IP
//!   literal (or `localhost`, for loopback), or [`Config::allow_private`] is set.
//! - A denial is a response, never a dropped connection: **403** with an `x-nono-error`
//!   header naming the reason ([`Refusal::reason`]); nothing reaches the upstream.
//! - Headers must arrive within [`Config::header_timeout`] and fit in
//!   [`Config::max_header_bytes`] (else 431); tunnels close after
//!   [`Config::idle_timeout`] without traffic; at most [`Config::max_connections`]
//!   connections are served at once (further ones wait in the listen backlog).
//! - Every decision is recorded as it is made ([`Audit`]).
//!
//! The proxy does not confine anyone: it is only the way out when the sandbox leaves no
//! other (a network namespace with only loopback, where the listener was bound).
//!
//! # Limitations
//!
//! HTTP/1 only between client and proxy (HTTP/2 travels inside CONNECT tunnels); no
//! `Upgrade` (WebSocket) over plain-HTTP forwarding (`wss://` goes through CONNECT); one
//! upstream connection per forwarded request (no pool).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod addr;
pub mod audit;
pub mod host;
pub mod resolve;
mod server;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use audit::{Audit, Decision, Event};
pub use host::{HostMatcher, HostPattern, PatternError, Verdict};
pub use resolve::{Hosts, Resolve, SystemResolver};

use addr::AddrClass;

/// How the proxy decides and how long it waits.
#[derive(Debug, Clone)]
pub struct Config {
    /// The allow and deny lists.
    pub hosts: HostMatcher,
    /// Let allowed names reach loopback and private addresses.
    pub allow_private: bool,
    /// The whole request head must arrive within this (slowloris guard).
    pub header_timeout: Duration,
    /// A tunnel with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Lookup and connect, each, must finish within this.
    pub connect_timeout: Duration,
    /// The largest request head, in bytes (at least 8192); a larger one gets 431.
    pub max_header_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// The resolver; `None` for the system's ([`SystemResolver`]).
    pub resolver: Option<Arc<dyn Resolve>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: HostMatcher::default(),
            allow_private: false,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            resolver: None,
        }
    }
}

/// Why the proxy answered a request itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A deny entry holds the host.
    #[error("{host} is denied by `{entry}`")]
    DeniedHost {
        /// The host asked for.
        host: String,
        /// The deny entry.
        entry: HostPattern,
    },
    /// No allow entry holds the host.
    #[error("{host}:{port} is not in the allow list")]
    NotAllowed {
        /// The host asked for.
        host: String,
        /// The port asked for.
        port: u16,
    },
    /// Every address of the host is one the proxy may not dial.
    #[error("{host} is at {ip}, a {} address", class_name(*class))]
    Address {
        /// The host asked for.
        host: String,
        /// The (first) refused address.
        ip: IpAddr,
        /// Its class.
        class: AddrClass,
    },
    /// The name did not resolve.
    #[error("{host} does not resolve")]
    Resolve {
        /// The host asked for.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address accepted the connection.
    #[error("cannot connect to {host}")]
    Connect {
        /// The host asked for.
        host: String,
        /// The last connect error.
        #[source]
        source: io::Error,
    },
    /// Not a request a proxy serves (origin-form, `https://` without CONNECT, no host).
    #[error("not a proxy request: {0}")]
    BadRequest(&'static str),
    /// The upstream failed mid-request.
    #[error("the upstream failed")]
    Upstream(#[source] hyper::Error),
}

fn class_name(class: AddrClass) -> &'static str {
    match class {
        AddrClass::Public => "public",
        AddrClass::Loopback => "loopback",
        AddrClass::Private => "private",
        AddrClass::Metadata => "cloud metadata",
        AddrClass::LinkLocal => "link-local",
        AddrClass::Reserved => "reserved",
    }
}

impl Refusal {
    /// The reason's short name: the `x-nono-error` header and the audit's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::DeniedHost { .. } => "host-denied",
            Refusal::NotAllowed { .. } => "host-not-allowed",
            Refusal::Address { class, .. } => match class {
                AddrClass::Metadata => "metadata-address",
                AddrClass::LinkLocal => "link-local-address",
                AddrClass::Loopback => "loopback-address",
                AddrClass::Private => "private-address",
                AddrClass::Reserved | AddrClass::Public => "reserved-address",
            },
            Refusal::Resolve { .. } => "resolve-failed",
            Refusal::Connect { .. } => "connect-failed",
            Refusal::BadRequest(_) => "bad-request",
            Refusal::Upstream(_) => "upstream-failed",
        }
    }

    /// The status the client gets: 403 for policy, 400 for requests a proxy does not
    /// serve, 502 when the upstream could not be reached.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::DeniedHost { .. } | Refusal::NotAllowed { .. } | Refusal::Address { .. } => {
                403
            }
            Refusal::BadRequest(_) => 400,
            Refusal::Resolve { .. } | Refusal::Connect { .. } | Refusal::Upstream(_) => 502,
        }
    }
}

/// The proxy.
#[derive(Debug)]
pub struct Proxy;

impl Proxy {
    /// Serves `listener` on a thread of its own (with its own small async runtime) until
    /// the handle is stopped or dropped. The listener may have been bound anywhere —
    /// inside a network namespace, and passed over a socket — it only has to be listening.
    pub fn start(
        listener: std::net::TcpListener,
        config: Config,
        audit: Audit,
    ) -> io::Result<Handle> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
            .thread_name("nono-proxy")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let state = {
            let _guard = runtime.enter();
            server::State::new(config, audit)?
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("nono-proxy".into())
            .spawn(move || {
                runtime.block_on(server::serve(listener, state, async {
                    let _ = stopped.await;
                }));
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Handle {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Serves `listener` on the current tokio runtime until `shutdown` completes.
    pub async fn serve(
        listener: tokio::net::TcpListener,
        config: Config,
        audit: Audit,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> io::Result<()> {
        let state = server::State::new(config, audit)?;
        server::serve(listener, state, shutdown).await;
        Ok(())
    }
}

/// A listening TCP socket on `addr` with a backlog of `backlog` connections (the
/// kernel caps it at `net.core.somaxconn`); std's `bind` asks for 128, which a burst of
/// clients overflows.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// A running proxy; dropping it stops the proxy.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes the connections in flight, and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Blocks until the proxy stops (it stops only when told to, or on a fatal error).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
