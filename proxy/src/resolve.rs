//! Name resolution, done by the proxy itself: the addresses it checks are the
//! addresses it dials (no second lookup that a rebinding server could answer
//! differently).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;

/// A lookup in progress.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Something that turns a host name into addresses.
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// The addresses of `host` (a normalized name, never an IP literal).
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a>;
}

/// The system's DNS configuration (`/etc/resolv.conf`), asked by hickory, with
/// `localhost` and its subdomains answered locally (RFC 6761) and never sent out.
pub struct SystemResolver {
    inner: hickory_resolver::TokioResolver,
}

impl std::fmt::Debug for SystemResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemResolver")
    }
}

impl SystemResolver {
    /// Reads the system configuration.
    pub fn new() -> io::Result<Self> {
        let builder = hickory_resolver::TokioResolver::builder_tokio().map_err(io::Error::other)?;
        Ok(SystemResolver {
            inner: builder.build(),
        })
    }
}

fn localhost(host: &str) -> Option<Vec<IpAddr>> {
    (host == "localhost" || host.ends_with(".localhost")).then(|| {
        vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
    })
}

impl Resolve for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            if let Some(addrs) = localhost(host) {
                return Ok(addrs);
            }
            // A trailing dot: the name is absolute, no search domains are tried.
            let lookup = self
                .inner
                .lookup_ip(format!("{host}."))
                .await
                .map_err(io::Error::other)?;
            Ok(lookup.iter().collect())
        })
    }
}

/// A fixed table of names, for tests and for callers that resolve elsewhere; names not in
/// it do not resolve. `localhost` is answered as by [`SystemResolver`].
#[derive(Debug, Clone, Default)]
pub struct Hosts(pub Arc<HashMap<String, Vec<IpAddr>>>);

impl Hosts {
    /// A table from `(name, addresses)` pairs.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, Vec<IpAddr>)>) -> Self {
        Hosts(Arc::new(
            entries
                .into_iter()
                .map(|(name, addrs)| (crate::host::normalize(name), addrs))
                .collect(),
        ))
    }
}

impl Resolve for Hosts {
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            if let Some(addrs) = self.0.get(host) {
                return Ok(addrs.clone());
            }
            localhost(host).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host}: not in the hosts table"),
                )
            })
        })
    }
}
