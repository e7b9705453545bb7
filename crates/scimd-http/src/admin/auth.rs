//! Who is asking: a console session (cookie, with a CSRF token on every POST) or an admin
//! API token (bearer). Also the security headers every admin response carries.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use scimd_core::admin::{AdminSession, ApiTokenRecord};
use scimd_core::{Actor, crypto};
use serde_json::json;

use crate::AppState;

pub const SESSION_COOKIE: &str = "scimd_session";
/// The sign-in form's double-submit token, before any session exists.
pub const LOGIN_COOKIE: &str = "scimd_login";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in administrator of a console request.
#[derive(Clone)]
pub struct ConsoleAdmin {
    pub session: AdminSession,
    /// The session id from the cookie, needed to end the session.
    pub id: String,
}

impl ConsoleAdmin {
    pub fn actor(&self) -> Actor {
        self.session.actor()
    }
}

/// The API token of an admin API request.
#[derive(Clone)]
pub struct ApiAdmin(pub ApiTokenRecord);

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path-limited to the console, and
/// Secure when the server is reached over TLS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A fresh random value for the sign-in form's double-submit cookie.
pub fn login_nonce() -> String {
    crypto::random_alphanumeric(32)
}

pub fn same(a: &str, b: &str) -> bool {
    crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

pub fn forbidden(msg: &str) -> Response {
    (StatusCode::FORBIDDEN, super::html::message_page("Refused", msg)).into_response()
}

/// Console pages need a live session; POSTs also the session's CSRF token, in the form's
/// `csrf` field or the `X-CSRF-Token` header (the page's own script).
pub async fn console_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = cookie(req.headers(), SESSION_COOKIE).unwrap_or_default();
    let session = match state.core.session(&id).await {
        Ok(s) => s,
        Err(e) => return super::failure::error_page(&e),
    };
    let Some(session) = session else {
        if req.method() == Method::GET {
            let next_path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/admin");
            return Redirect::to(&format!("/admin/login?next={}", urlencode(next_path))).into_response();
        }
        return forbidden("Your session has ended. Sign in again.");
    };
    let (mut parts, body) = req.into_parts();
    let body = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
        };
        let from_header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let presented = from_header.or_else(|| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|f| f.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v))
        });
        if !presented.is_some_and(|p| session.csrf_ok(&p)) {
            tracing::warn!(admin = %session.admin, path = %parts.uri.path(), "refused a console POST without a valid CSRF token");
            return forbidden(
                "This form is missing its CSRF token or the token does not belong to your session. Reload the page and try again.",
            );
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(ConsoleAdmin { session, id });
    next.run(Request::from_parts(parts, body)).await
}

/// The admin API takes `Authorization: Bearer scimdadm_...` and nothing else.
pub async fn api_token(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = crate::scim::bearer_token(req.headers());
    let challenge = |error: Option<&str>| {
        let (msg, www) = match error {
            None => (
                "authentication required: send Authorization: Bearer <admin API token>",
                "Bearer realm=\"scimd-admin\"".to_owned(),
            ),
            Some(e) => (
                "the admin API token is invalid or revoked",
                format!("Bearer realm=\"scimd-admin\", error=\"{e}\""),
            ),
        };
        let mut resp = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized", "detail": msg})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&www) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let Some(token) = bearer else {
        return challenge(None);
    };
    match state.core.authenticate_api_token(&token).await {
        Ok(Some(t)) => {
            req.extensions_mut().insert(ApiAdmin(t));
            next.run(req).await
        }
        Ok(None) => challenge(Some("invalid_token")),
        Err(e) => super::failure::api_error(&e),
    }
}

/// What every admin response carries besides the page headers
/// ([`crate::security_headers::pages`]: the CSP, no framing, no referrer): no caching of
/// pages that show secrets.
pub async fn no_store(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// `s` percent-encoded for a query parameter (path slashes kept readable).
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
