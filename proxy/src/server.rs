//! The server: accept, decide, tunnel or forward, answer refusals in one place.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::addr::{AddrClass, classify};
use crate::audit::{Audit, Decision, Event};
use crate::host::{HostName, HostPattern, Verdict, ip_literal, normalize};
use crate::resolve::{Resolve, SystemResolver};
use crate::{Config, Refusal};

type ProxyBody = BoxBody<Bytes, hyper::Error>;

pub(crate) struct State {
    config: Config,
    resolver: Arc<dyn Resolve>,
    audit: Audit,
}

impl State {
    pub(crate) fn new(config: Config, audit: Audit) -> io::Result<Arc<Self>> {
        let resolver = match &config.resolver {
            Some(r) => r.clone(),
            None => Arc::new(SystemResolver::new()?),
        };
        Ok(Arc::new(State {
            config,
            resolver,
            audit,
        }))
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let limit = Arc::new(Semaphore::new(state.config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // A permit first: past the limit, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            () = &mut shutdown => return,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // EMFILE and friends: back off rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, state.clone(), permit));
    }
}

async fn connection(stream: TcpStream, state: Arc<State>, permit: OwnedSemaphorePermit) {
    let permit = Arc::new(permit);
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |req| {
        let state = service_state.clone();
        let permit = permit.clone();
        async move { Ok::<_, Infallible>(handle(state, req, permit).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_timeout)
        .max_buf_size(state.config.max_header_bytes.max(8192))
        .preserve_header_case(true);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let _ = conn.await;
}

/// Where a request wants to go.
struct Target {
    host: String,
    port: u16,
}

fn target(req: &Request<Incoming>) -> Result<Target, Refusal> {
    let uri = req.uri();
    if req.method() != Method::CONNECT {
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => {
                return Err(Refusal::BadRequest(
                    "only http:// is forwarded; use CONNECT",
                ));
            }
            None => {
                return Err(Refusal::BadRequest(
                    "the request names no host (absolute URI)",
                ));
            }
        }
    }
    let authority = uri
        .authority()
        .ok_or(Refusal::BadRequest("the request names no host"))?;
    let port = match authority.port_u16() {
        Some(p) => p,
        None if req.method() == Method::CONNECT => {
            return Err(Refusal::BadRequest("CONNECT needs host:port"));
        }
        None => 80,
    };
    let host = authority.host();
    if host.is_empty() || port == 0 {
        return Err(Refusal::BadRequest("the request names no host"));
    }
    Ok(Target {
        host: host.to_owned(),
        port,
    })
}

/// What the lists and the addresses allow: the addresses to dial and the entry.
async fn admit(state: &State, target: &Target) -> Result<(Vec<IpAddr>, String), Refusal> {
    let entry = match state.config.hosts.verdict(&target.host, target.port) {
        Verdict::Denied(entry) => {
            return Err(Refusal::DeniedHost {
                host: target.host.clone(),
                entry,
            });
        }
        Verdict::NotAllowed => {
            return Err(Refusal::NotAllowed {
                host: target.host.clone(),
                port: target.port,
            });
        }
        Verdict::Allowed(entry) => entry,
    };
    let addrs = match ip_literal(&target.host) {
        Some(ip) => vec![ip],
        None => {
            let name = normalize(&target.host);
            let lookup = state.resolver.lookup(&name);
            let resolve_error = |source| Refusal::Resolve {
                host: target.host.clone(),
                source,
            };
            match tokio::time::timeout(state.config.connect_timeout, lookup).await {
                Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
                Ok(Ok(_)) => {
                    return Err(resolve_error(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no addresses",
                    )));
                }
                Ok(Err(e)) => return Err(resolve_error(e)),
                Err(_) => {
                    return Err(resolve_error(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "lookup timed out",
                    )));
                }
            }
        }
    };
    let mut first_refused = None;
    let mut allowed = Vec::with_capacity(addrs.len());
    for ip in addrs {
        let class = classify(ip);
        if address_allowed(state, &entry, ip, class) {
            allowed.push(ip);
        } else if first_refused.is_none() {
            first_refused = Some((ip, class));
        }
    }
    match (allowed.is_empty(), first_refused) {
        (true, Some((ip, class))) => Err(Refusal::Address {
            host: target.host.clone(),
            ip,
            class,
        }),
        _ => Ok((allowed, entry_name(&entry))),
    }
}

fn entry_name(entry: &HostPattern) -> String {
    match &entry.host {
        // The observe-mode catch-all.
        HostName::Suffix(s) if s.is_empty() => "*".into(),
        _ => entry.to_string(),
    }
}

fn address_allowed(state: &State, entry: &HostPattern, ip: IpAddr, class: AddrClass) -> bool {
    match class {
        AddrClass::Public => true,
        AddrClass::Metadata | AddrClass::LinkLocal | AddrClass::Reserved => false,
        AddrClass::Loopback | AddrClass::Private => {
            state.config.allow_private
                || match &entry.host {
                    HostName::Ip(literal) => *literal == ip,
                    HostName::Exact(name) => name == "localhost" && class == AddrClass::Loopback,
                    HostName::Suffix(_) => false,
                }
        }
    }
}

async fn dial(
    state: &State,
    host: &str,
    port: u16,
    addrs: &[IpAddr],
) -> Result<TcpStream, Refusal> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for ip in addrs {
        let addr = SocketAddr::new(*ip, port);
        match tokio::time::timeout(state.config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, format!("{addr}: timed out")),
        }
    }
    Err(Refusal::Connect {
        host: host.to_owned(),
        source: last,
    })
}

/// The one place refusals become responses.
fn refusal_response(refusal: &Refusal) -> Response<ProxyBody> {
    let mut message = refusal.to_string();
    let mut source = std::error::Error::source(refusal);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message.push('\n');
    let mut response = Response::new(full(message));
    *response.status_mut() =
        StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-nono-error"),
        HeaderValue::from_static(refusal.reason()),
    );
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn full(text: String) -> ProxyBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

struct Pending {
    state: Arc<State>,
    event: Event,
    start: Instant,
}

impl Pending {
    fn finish(mut self, status: u16, reason: String, up: u64, down: u64) {
        self.event.status = status;
        self.event.reason = reason;
        self.event.bytes_up = up;
        self.event.bytes_down = down;
        self.event.duration = self.start.elapsed();
        self.state.audit.record(&self.event);
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    permit: Arc<OwnedSemaphorePermit>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let is_connect = req.method() == Method::CONNECT;
    let mut pending = Pending {
        state: state.clone(),
        event: Event {
            time: SystemTime::now(),
            decision: Decision::Deny,
            host: String::new(),
            port: 0,
            method: req.method().to_string(),
            path: (!is_connect).then(|| req.uri().path().to_owned()),
            reason: String::new(),
            status: 0,
            bytes_up: 0,
            bytes_down: 0,
            duration: Duration::ZERO,
        },
        start,
    };
    let target = match target(&req) {
        Ok(t) => t,
        Err(refusal) => return refuse(pending, &refusal),
    };
    pending.event.host = target.host.clone();
    pending.event.port = target.port;
    let (addrs, entry) = match admit(&state, &target).await {
        Ok(ok) => ok,
        Err(refusal) => return refuse(pending, &refusal),
    };
    let upstream = match dial(&state, &target.host, target.port, &addrs).await {
        Ok(s) => s,
        Err(refusal) => return refuse(pending, &refusal),
    };
    pending.event.decision = Decision::Allow;
    if is_connect {
        let idle = state.config.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => {
                    let (up, down) = tunnel(TokioIo::new(upgraded), upstream, idle).await;
                    pending.finish(200, entry, up, down);
                }
                Err(_) => pending.finish(200, entry, 0, 0),
            }
        });
        return Response::new(full(String::new()));
    }
    forward(req, upstream, &target, pending, entry).await
}

fn refuse(pending: Pending, refusal: &Refusal) -> Response<ProxyBody> {
    let response = refusal_response(refusal);
    pending.finish(refusal.status(), refusal.reason().to_owned(), 0, 0);
    response
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own, never passed on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Prepares the upstream request (origin-form URI, `Host`, no hop-by-hop headers) and
/// sends it on its own connection.
async fn forward(
    req: Request<Incoming>,
    upstream: TcpStream,
    target: &Target,
    pending: Pending,
    entry: String,
) -> Response<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    let origin_form = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let host_header = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| target.host.clone());
    parts.uri = match origin_form.parse() {
        Ok(uri) => uri,
        Err(_) => {
            return refuse(
                pending,
                &Refusal::BadRequest("the path cannot be forwarded"),
            );
        }
    };
    strip_hop_by_hop(&mut parts.headers);
    if let Ok(value) = HeaderValue::from_str(&host_header) {
        parts.headers.insert(header::HOST, value);
    }
    let up = Arc::new(AtomicU64::new(0));
    let body = Metered {
        inner: body,
        count: up.clone(),
        done: None,
    };
    let request = Request::from_parts(parts, body);
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await {
            Ok(pair) => pair,
            Err(e) => return refuse(pending, &Refusal::Upstream(e)),
        };
    tokio::spawn(conn);
    match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let body = Metered {
                inner: body,
                count: Arc::new(AtomicU64::new(0)),
                done: Some(Box::new(move |down| {
                    pending.finish(status, entry, up.load(Ordering::Relaxed), down);
                })),
            };
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => refuse(pending, &Refusal::Upstream(e)),
    }
}

/// A body that counts its bytes, and reports the count once when it ends or is dropped.
struct Metered<B> {
    inner: B,
    count: Arc<AtomicU64>,
    done: Option<Box<dyn FnOnce(u64) + Send + Sync>>,
}

impl<B> Metered<B> {
    fn report(&mut self) {
        if let Some(done) = self.done.take() {
            done(self.count.load(Ordering::Relaxed));
        }
    }
}

impl<B> Drop for Metered<B> {
    fn drop(&mut self) {
        self.report();
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Metered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(None) => self.report(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Copies both ways until both sides have closed, or nothing moved for `idle`.
/// Returns the bytes sent up (client → upstream) and down.
async fn tunnel<A, B>(mut client: A, mut upstream: B, idle: Duration) -> (u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut up, mut down) = (0u64, 0u64);
    let mut a_buf = vec![0u8; 64 * 1024];
    let mut b_buf = vec![0u8; 64 * 1024];
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open {
        let step = tokio::time::timeout(idle, async {
            tokio::select! {
                read = client.read(&mut a_buf), if a_open => match read {
                    Ok(0) | Err(_) => { a_open = false; let _ = upstream.shutdown().await; Ok(()) }
                    Ok(n) => { up += n as u64; upstream.write_all(&a_buf[..n]).await }
                },
                read = upstream.read(&mut b_buf), if b_open => match read {
                    Ok(0) | Err(_) => { b_open = false; let _ = client.shutdown().await; Ok(()) }
                    Ok(n) => { down += n as u64; client.write_all(&b_buf[..n]).await }
                },
            }
        })
        .await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    (up, down)
}
