//! What a path that names no endpoint gets: a JSON 404 in the admin API's error shape for
//! every API client, and the console's sign-in (then its 404 page) only for a browser asking
//! for an HTML page under `/admin`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use scimd_core::CoreError;
use serde_json::json;

use crate::AppState;
use crate::admin::{self, auth};

/// The fallback of the whole service.
pub async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if (path == "/admin" || path.starts_with("/admin/")) && wants_html(&req) {
        let id = auth::cookie(req.headers(), auth::SESSION_COOKIE).unwrap_or_default();
        let target = req.uri().path_and_query().map_or("/admin", |p| p.as_str()).to_owned();
        return console_not_found(&state, &id, req.method() == Method::GET, &target).await;
    }
    let mut detail = format!("no endpoint at {path}");
    if path.starts_with("/scim") {
        detail.push_str(&format!("; a SCIM Base URL is {}", state.urls.base("{provider}")));
    }
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "detail": detail})),
    )
        .into_response()
}

/// A browser navigating: its `Accept` names HTML (API clients send JSON or `*/*`).
fn wants_html(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// As any console page: someone not signed in is sent to sign in (and back), someone signed
/// in sees that the page does not exist.
async fn console_not_found(state: &AppState, session: &str, get: bool, target: &str) -> Response {
    match state.core.session(session).await {
        Err(e) => admin::failure::error_page(&e),
        Ok(None) if get => Redirect::to(&format!("/admin/login?next={}", auth::urlencode(target))).into_response(),
        Ok(_) => {
            let path = target.split('?').next().unwrap_or(target);
            admin::failure::error_page(&CoreError::NotFound(format!("the page {path}")))
        }
    }
}
