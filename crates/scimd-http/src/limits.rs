//! What one request may cost before a handler sees it: a body of bounded size that arrives
//! within a time limit, so a slow or endless upload cannot hold a connection and its memory.
//! Refusals speak the route's protocol: a SCIM Error (RFC 7644 §3.12) under `/scim`, OAuth
//! error JSON (RFC 6749 §5.2) elsewhere.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scim_proto::error::ScimError;

use crate::AppState;
use crate::error::{ApiError, OAuthError};

/// How long a client may take to send a request body once its headers arrived.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies outside SCIM are a few form fields (token requests, revocations).
pub const MAX_FORM_BODY: usize = 64 * 1024;

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

/// Read the whole body within the size and time limits, then hand the request on.
pub async fn read_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let scim = req.uri().path().starts_with("/scim/");
    let max = if scim {
        crate::scim::MAX_PAYLOAD_SIZE
    } else {
        MAX_FORM_BODY
    };
    let refuse = |status: StatusCode, detail: String| -> Response {
        if scim {
            ApiError::from(ScimError::new(status.as_u16(), None, detail)).into_response()
        } else {
            OAuthError::with_status(status, "invalid_request", detail).into_response()
        }
    };
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than this server accepts ({max} bytes)"),
        )
    };
    // No refusal on the declared length alone: a client still sending would see its
    // connection reset instead of the answer. The limit stops reading past `max`.
    let (parts, body) = req.into_parts();
    let timeout = state.limits.body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) if exceeds_limit(&e) => too_large(),
        Ok(Err(_)) => refuse(StatusCode::BAD_REQUEST, "the request body could not be read".into()),
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} ms", timeout.as_millis()),
        ),
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
