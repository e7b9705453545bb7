//! Change events over HTTP, for receivers: the JSON Web Key Set that verifies scimd's
//! Security Event Tokens (`/.well-known/jwks.json`), and RFC 8936 poll delivery
//! (`POST /events/poll/{subscription}`).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use scimd_core::events::service::PollRequest;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::problem;

/// How long a poll with `returnImmediately: false` waits for an event before answering
/// with none (RFC 8936 §2.4: the transmitter decides).
const LONG_POLL: Duration = Duration::from_secs(20);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/events/poll/{subscription}", post(poll))
}

async fn jwks(State(state): State<AppState>) -> Response {
    match state.core.jwks().await {
        Ok(set) => (
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwk-set+json"),
                ),
            ],
            Json(set),
        )
            .into_response(),
        Err(e) => {
            let p = problem(&e);
            p.with_retry_after((p.status, Json(json!({"error": p.detail}))).into_response())
        }
    }
}

/// An RFC 8935/8936 error: `{"err", "description"}`.
fn poll_error(status: StatusCode, err: &str, description: impl Into<String>) -> Response {
    let mut resp = (status, Json(json!({"err": err, "description": description.into()}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimd-events\""),
        );
    }
    resp
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The poll request's members (RFC 8936 §2.4.1); anything malformed is the receiver's error.
fn parse_request(body: &[u8]) -> Result<PollRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PollRequest::default());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let o = v.as_object().ok_or("the body must be a JSON object")?;
    let mut req = PollRequest {
        return_immediately: false,
        ..PollRequest::default()
    };
    if let Some(ack) = o.get("ack") {
        let list = ack.as_array().ok_or("ack must be a list of jti strings")?;
        for a in list {
            req.ack
                .push(a.as_str().ok_or("ack must be a list of jti strings")?.to_owned());
        }
    }
    if let Some(errs) = o.get("setErrs") {
        let map: &Map<String, Value> = errs.as_object().ok_or("setErrs must be an object keyed by jti")?;
        for (jti, e) in map {
            let why = e.get("description").and_then(Value::as_str).unwrap_or("");
            let code = e.get("err").and_then(Value::as_str).unwrap_or("error");
            req.errors
                .push((jti.clone(), format!("{code} {why}").trim().to_owned()));
        }
    }
    if let Some(m) = o.get("maxEvents") {
        let n = m.as_u64().ok_or("maxEvents must be a non-negative integer")?;
        req.max_events = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(r) = o.get("returnImmediately") {
        req.return_immediately = r.as_bool().ok_or("returnImmediately must be true or false")?;
    }
    Ok(req)
}

async fn poll(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers) else {
        return poll_error(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "a poll token is required",
        );
    };
    let sub = match state.core.poll_subscription(&id, token).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return poll_error(
                StatusCode::UNAUTHORIZED,
                "authentication_failed",
                "unknown subscription or wrong poll token",
            );
        }
        Err(e) => return poll_error(problem(&e).status, "temporarily_unavailable", e.to_string()),
    };
    let req = match parse_request(&body) {
        Ok(r) => r,
        Err(why) => return poll_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    let wait = !req.return_immediately && req.max_events != Some(0);
    let mut appended = state.core.appended();
    let mut answer = match state.core.poll(&sub, req).await {
        Ok(a) => a,
        Err(e) => return poll_error(problem(&e).status, "invalid_request", e.to_string()),
    };
    if answer.sets.is_empty() && wait {
        let deadline = tokio::time::Instant::now() + LONG_POLL;
        while answer.sets.is_empty() {
            let woke = tokio::time::timeout_at(deadline, appended.changed()).await;
            if !matches!(woke, Ok(Ok(()))) {
                break;
            }
            answer = match state.core.poll(&sub, PollRequest::default()).await {
                Ok(a) => a,
                Err(e) => return poll_error(problem(&e).status, "invalid_request", e.to_string()),
            };
        }
    }
    let sets: Map<String, Value> = answer
        .sets
        .into_iter()
        .map(|(jti, jwt)| (jti, Value::String(jwt)))
        .collect();
    Json(json!({"sets": sets, "moreAvailable": answer.more_available})).into_response()
}
