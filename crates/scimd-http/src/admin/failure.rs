//! A domain error as the administrators' surfaces answer it, from the one table in
//! [`crate::error::problem`]: the admin API as `{"error", "detail"}` JSON, the console as an
//! HTML page; both with `Retry-After` where it applies.

use axum::Json;
use axum::response::{IntoResponse, Response};
use scimd_core::CoreError;
use serde_json::json;

use super::html;
use crate::error::problem;

/// The admin API's answer to a domain error.
pub fn api_error(e: &CoreError) -> Response {
    let p = problem(e);
    let reason = p
        .status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "_");
    p.with_retry_after((p.status, Json(json!({"error": reason, "detail": p.detail}))).into_response())
}

/// The console's page for a domain error.
pub fn error_page(e: &CoreError) -> Response {
    let p = problem(e);
    let page = (
        p.status,
        html::message_page(p.status.canonical_reason().unwrap_or("Error"), &p.detail),
    );
    p.with_retry_after(page.into_response())
}
