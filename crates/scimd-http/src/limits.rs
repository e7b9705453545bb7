//! What one request may cost before a handler sees it: a body of bounded size that arrives
//! within a time limit, so a slow or endless upload cannot hold a connection and its memory.
//! Refusals speak the route's protocol: a SCIM Error (RFC 7644 §3.12) under `/scim`, OAuth
//! error JSON (RFC 6749 §5.2) elsewhere.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scim_proto::error::ScimError;

use crate::AppState;
use crate::error::{OAuthError, ScimFailure};

/// How long a client may take to send a request body once its headers arrived.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies outside SCIM are a few form fields (token requests, revocations).
pub const MAX_FORM_BODY: usize = 64 * 1024;
/// The body limit of every SCIM request, advertised as Bulk's `maxPayloadSize`.
pub const MAX_SCIM_BODY: usize = 4 * 1024 * 1024;

/// The limits an operator may set.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// A body at a SCIM Base URL, read after authentication (anonymous clients never make the
/// server buffer a body): the request to hand on, and the bytes it carries (shared, not
/// copied) for the provisioning log.
pub async fn read_scim_body(state: &AppState, req: Request) -> Result<(Request, Bytes), Response> {
    collect(state, Protocol::Scim, req).await
}

/// Bodies at the token and revocation endpoints.
pub async fn read_form_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    read_body(&state, Protocol::OAuth, req, next).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Scim,
    OAuth,
}

/// Read the whole body within the size and time limits, then hand the request on.
async fn read_body(state: &AppState, protocol: Protocol, req: Request, next: Next) -> Response {
    match collect(state, protocol, req).await {
        Ok((req, _)) => next.run(req).await,
        Err(refused) => refused,
    }
}

/// Read the whole body within the size and time limits: the request with its body in
/// memory, and the bytes; or the refusal.
async fn collect(state: &AppState, protocol: Protocol, req: Request) -> Result<(Request, Bytes), Response> {
    let max = match protocol {
        Protocol::Scim => MAX_SCIM_BODY,
        Protocol::OAuth => MAX_FORM_BODY,
    };
    let refuse = |status: StatusCode, detail: String| -> Response {
        match protocol {
            Protocol::Scim => ScimFailure::from(ScimError::new(status.as_u16(), None, detail)).into_response(),
            Protocol::OAuth => OAuthError::with_status(status, "invalid_request", detail).into_response(),
        }
    };
    // No refusal on the declared length alone: a client still sending would see its
    // connection reset instead of the answer. The limit stops reading past `max`.
    let (parts, body) = req.into_parts();
    let timeout = state.limits.body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes)),
        Ok(Err(e)) if exceeds_limit(&e) => Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than this server accepts ({max} bytes)"),
        )),
        Ok(Err(_)) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "the request body could not be read".into(),
        )),
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} ms", timeout.as_millis()),
        )),
    }
}

fn exceeds_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}
