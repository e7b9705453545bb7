//! The connection loop of `scimd serve`: HTTP/1.1 with a time limit on request headers (a
//! client trickling bytes cannot hold a connection: "slowloris"), or, under TLS, HTTP/2 or
//! HTTP/1.1 as ALPN agreed; a cap on open connections (past it a plain connection is answered
//! 503 and closed, a TLS one closed); and a graceful shutdown that stops accepting, closes idle
//! connections and lets requests in flight finish, up to a drain time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long requests in flight may take to finish once shutdown began.
    pub shutdown_timeout: Duration,
}

/// Serve `app` on `listener` until `shutdown` completes, then drain.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(peer = %peer, limit = limits.max_connections, "too many connections; refused one");
            if tls.is_none() {
                tokio::spawn(refuse(stream));
            }
            continue;
        };
        let (app, tls, stop) = (app.clone(), tls.clone(), stop_rx.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, app, limits, stop).await,
                Some(acceptor) => {
                    if let Some(stream) = crate::tls::handshake(&acceptor, stream, peer).await {
                        connection(stream, peer, app, limits, stop).await;
                    }
                }
            }
            drop(slot);
        });
    }
    // New connections are refused from here on.
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = limits.max_connections - slots.available_permits(),
            "requests still in flight after the shutdown time-out; stopping anyway"
        );
    }
}

/// Run a connection to its end; when shutdown begins, ask it to finish what is in flight and
/// take nothing new.
macro_rules! drive {
    ($conn:ident, $stop:ident) => {{
        let mut stopping = false;
        loop {
            tokio::select! {
                result = $conn.as_mut() => break result,
                _ = $stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    $conn.as_mut().graceful_shutdown();
                }
            }
        }
    }};
}

/// Serve one connection until it ends or, once shutdown began, until its requests in flight
/// are answered.
async fn connection<S: Transport>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        tower_service::Service::call(&mut app.clone(), req)
    });
    let io = TokioIo::new(stream);
    let result = if io.inner().h2() {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(io, service);
        tokio::pin!(conn);
        drive!(conn, stop)
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        drive!(conn, stop)
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
