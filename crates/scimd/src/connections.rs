//! The connection loop of `scimd serve`: HTTP/1.1 with a time limit on request headers (a
//! client trickling bytes cannot hold a connection: "slowloris"), or, under TLS, HTTP/2 or
//! HTTP/1.1 as ALPN agreed; a cap on open connections sized from the file-descriptor limit,
//! and a cap per address on connections that have not yet sent a complete request. Past a cap
//! the oldest pending (or, for the total, idle) connection is closed to make room, so a flood
//! of idle connections from one address cannot lock others out; only when every connection is
//! answering a request is a new one refused (plain HTTP: 503; TLS: closed). A graceful
//! shutdown stops accepting, closes idle connections and lets requests in flight finish, up
//! to a drain time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections one address may hold before they have sent a complete request.
pub const DEFAULT_MAX_PENDING_PER_ADDRESS: usize = 64;
/// The default cap on open connections is what the file-descriptor limit allows, up to this
/// many (an idle connection costs some KiB of buffers).
const MAX_DEFAULT_CONNECTIONS: u64 = 10_000;
/// Descriptors kept for the database, log and key files, and outgoing deliveries.
const RESERVED_DESCRIPTORS: u64 = 256;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// How many connections one address may hold that have not sent a complete request.
    pub max_pending_per_address: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long requests in flight may take to finish once shutdown began.
    pub shutdown_timeout: Duration,
}

/// Raise the soft limit on open files to the hard one (idle connections are cheap; running
/// out of descriptors is not), and size the default connection cap from it.
pub fn default_max_connections() -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), maximum) = (limit.current, limit.maximum)
        && maximum.is_none_or(|m| m > current)
    {
        let raised = Rlimit {
            current: maximum.or(Some(1 << 20)),
            maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "cannot raise the open-file limit");
        }
    }
    let files = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let cap = files
        .saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(64, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(cap).unwrap_or(64)
}

/// What the accept loop knows of one open connection.
#[derive(Default)]
struct ConnState {
    /// A complete request arrived: it is no longer "pending".
    served: AtomicBool,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Asked to close, to make room.
    shed: AtomicBool,
    wake: Notify,
}

impl ConnState {
    /// May be closed to make room: it has sent nothing complete yet, or it is idle between
    /// requests.
    fn sheddable(&self) -> bool {
        !self.shed.load(Ordering::Relaxed)
            && (!self.served.load(Ordering::Relaxed) || self.busy.load(Ordering::Relaxed) == 0)
    }

    fn shed(&self) {
        self.shed.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// Every open connection, oldest first, and per address the ones still pending (accepted,
/// no complete request yet), oldest first.
#[derive(Default)]
struct Registry {
    next: u64,
    open: BTreeMap<u64, (IpAddr, Arc<ConnState>)>,
    pending: HashMap<IpAddr, VecDeque<u64>>,
}

struct Tracker {
    registry: Mutex<Registry>,
    limits: ConnectionLimits,
    /// How many are open, for the shutdown to wait on.
    count: watch::Sender<usize>,
}

/// A connection's place in the tracker; leaving it (dropped) closes the books on it.
struct Admitted {
    tracker: Arc<Tracker>,
    id: u64,
    ip: IpAddr,
    state: Arc<ConnState>,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take a connection from `ip`. An address past its share of pending connections loses
    /// its oldest pending one; past the total, the oldest pending or idle connection of any
    /// address is closed; only when every open connection is answering a request is the new
    /// one refused.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut r = self.lock();
        let Registry { open, pending, .. } = &mut *r;
        if let Some(queue) = pending.get(&ip)
            && queue.len() >= self.limits.max_pending_per_address
            && let Some(state) = queue
                .iter()
                .filter_map(|id| open.get(id))
                .map(|(_, s)| s)
                .find(|s| s.sheddable())
        {
            tracing::debug!(%ip, "too many pending connections from one address; closed its oldest");
            state.shed();
        }
        if open.len() >= self.limits.max_connections {
            let oldest = open.values().map(|(_, s)| s).find(|s| s.sheddable());
            match oldest {
                Some(state) => state.shed(),
                None => return None,
            }
        }
        r.next += 1;
        let (id, state) = (r.next, Arc::new(ConnState::default()));
        r.open.insert(id, (ip, Arc::clone(&state)));
        r.pending.entry(ip).or_default().push_back(id);
        self.count.send_replace(r.open.len());
        Some(Admitted {
            tracker: Arc::clone(self),
            id,
            ip,
            state,
        })
    }

    fn unpend(r: &mut Registry, ip: IpAddr, id: u64) {
        if let Some(queue) = r.pending.get_mut(&ip) {
            queue.retain(|p| *p != id);
            if queue.is_empty() {
                r.pending.remove(&ip);
            }
        }
    }
}

impl Admitted {
    /// A request arrived complete: from now on the connection is shed only when idle.
    fn request_started(&self) {
        self.state.busy.fetch_add(1, Ordering::Relaxed);
        if !self.state.served.swap(true, Ordering::Relaxed) {
            Tracker::unpend(&mut self.tracker.lock(), self.ip, self.id);
        }
    }

    fn request_answered(&self) {
        self.state.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut r = self.tracker.lock();
        r.open.remove(&self.id);
        Tracker::unpend(&mut r, self.ip, self.id);
        self.tracker.count.send_replace(r.open.len());
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then drain.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let (count, mut open) = watch::channel(0usize);
    let tracker = Arc::new(Tracker {
        registry: Mutex::default(),
        limits,
        count,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Small answers go out at once rather than waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let Some(admitted) = tracker.admit(peer.ip()) else {
            tracing::warn!(peer = %peer, limit = limits.max_connections, "every connection is busy; refused one");
            if tls.is_none() {
                tokio::spawn(refuse(stream));
            }
            continue;
        };
        let (app, tls, stop) = (app.clone(), tls.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let admitted = Arc::new(admitted);
            match tls {
                None => connection(stream, peer, app, limits, stop, admitted).await,
                Some(acceptor) => {
                    let shaken = tokio::select! {
                        s = crate::tls::handshake(&acceptor, stream, peer) => s,
                        () = admitted.state.wake.notified() => None,
                    };
                    if let Some(stream) = shaken {
                        connection(stream, peer, app, limits, stop, admitted).await;
                    }
                }
            }
        });
    }
    // New connections are refused from here on.
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(limits.shutdown_timeout, open.wait_for(|n| *n == 0))
        .await
        .is_err()
    {
        tracing::warn!(
            open = *open.borrow(),
            "requests still in flight after the shutdown time-out; stopping anyway"
        );
    }
}

/// Run a connection to its end. When shutdown begins, or the connection is shed to make
/// room, it finishes what is in flight and takes nothing new; shed before it sent a
/// complete request, it is simply closed.
macro_rules! drive {
    ($conn:ident, $stop:ident, $admitted:ident) => {{
        let mut closing = false;
        loop {
            tokio::select! {
                result = $conn.as_mut() => break result,
                _ = $stop.wait_for(|s| *s), if !closing => {
                    closing = true;
                    $conn.as_mut().graceful_shutdown();
                }
                () = $admitted.state.wake.notified(), if !closing => {
                    if !$admitted.state.served.load(Ordering::Relaxed) {
                        break Ok(());
                    }
                    closing = true;
                    $conn.as_mut().graceful_shutdown();
                }
            }
        }
    }};
}

/// Serve one connection until it ends, or until it is closed to shut down or make room.
async fn connection<S: Transport>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    admitted: Arc<Admitted>,
) {
    let books = Arc::clone(&admitted);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        books.request_started();
        let books = Arc::clone(&books);
        let answer = tower_service::Service::call(&mut app.clone(), req);
        async move {
            let resp = answer.await;
            books.request_answered();
            resp
        }
    });
    let io = TokioIo::new(stream);
    let result = if io.inner().h2() {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(io, service);
        tokio::pin!(conn);
        drive!(conn, stop, admitted)
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        drive!(conn, stop, admitted)
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}

/// What a connection is carried over: plain TCP, or TLS on TCP (which knows what ALPN agreed).
trait Transport: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {
    fn h2(&self) -> bool;
}

impl Transport for TcpStream {
    fn h2(&self) -> bool {
        false
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn h2(&self) -> bool {
        crate::tls::is_h2(self)
    }
}

/// Past the connection limit: read the request head briefly (so the answer does not race a
/// reset), answer 503 in the protocol of the path, and close.
async fn refuse(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() > 16 * 1024 {
                break;
            }
        }
    })
    .await;
    let path = head.split(|b| *b == b' ').nth(1).unwrap_or_default();
    let detail = "the server has too many open connections; retry shortly";
    let (media, body) = if path.starts_with(b"/scim/") {
        (
            scimd_http::error::SCIM_CONTENT_TYPE,
            scim_proto::error::ScimError::new(503, None, detail).to_json(),
        )
    } else {
        (
            "application/json",
            serde_json::json!({"error": "temporarily_unavailable", "error_description": detail}),
        )
    };
    let body = body.to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {media}\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
