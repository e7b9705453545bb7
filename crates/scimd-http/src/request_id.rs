//! A request id on every request: taken from `X-Request-Id` when a proxy set a sane one,
//! made up otherwise, returned in the response header and attached to every log line
//! written while the request is handled.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The request's id, in its extensions (the provisioning log records it).
#[derive(Debug, Clone)]
pub struct RequestId(pub std::sync::Arc<str>);

pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| scimd_core::crypto::random_alphanumeric(16));
    req.extensions_mut().insert(RequestId(id.as_str().into()));
    let path = crate::setup::loggable_path(req.uri().path());
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %path, client = tracing::field::Empty);
    let mut resp = async move {
        tracing::debug!("received");
        let resp = next.run(req).await;
        tracing::debug!(status = resp.status().as_u16(), "answered");
        resp
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}
