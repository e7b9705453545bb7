//! The admin API's provisioning log: a provider's authenticated SCIM requests, filtered as
//! in the console and `scimd provider log`, newest first a page at a time (or oldest first
//! after a cursor, to follow it).

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::get;
use scimd_core::request_log::LogQuery;
use scimd_core::views::{log_entry_json, log_health_json};
use serde_json::json;

use super::{ApiResult, Route, ok, route};
use crate::AppState;

/// Entries returned when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;

const LOG_QUERY: &[(&str, &str)] = &[
    (
        "failed",
        "true: failed requests only (a status of 400 or more, or a Bulk some of whose operations failed)",
    ),
    ("status", "a status class (2xx, 4xx, 5xx), one status (409), or failed"),
    (
        "path",
        "paths (relative to the Base URL, with the query) starting with this, in any case: /Users",
    ),
    ("since", "RFC 3339 time or YYYY-MM-DD (inclusive)"),
    ("until", "RFC 3339 time or YYYY-MM-DD (exclusive)"),
    (
        "before",
        "cursor: entries older than this seq (next_before of the previous page)",
    ),
    (
        "after",
        "cursor: entries newer than this seq, oldest first (to follow the log)",
    ),
    ("limit", "entries to return (default 100, at most 1000)"),
];

/// This module's rows of the admin API's route table.
pub(super) fn table() -> Vec<Route> {
    vec![Route {
        query: LOG_QUERY,
        ..route(
            Method::GET,
            "/providers/{id}/log",
            "The provider's provisioning log: its authenticated SCIM requests with status, latency, client, \
                 and for failures the SCIM error and the request body with secrets masked; with the count of \
                 requests refused before authentication",
            get(provider_log),
        )
    }]
}

async fn provider_log(State(state): State<AppState>, Path(id): Path<String>, Query(q): Query<LogQuery>) -> ApiResult {
    let page = state.core.provider_log(&id, &q.filter(DEFAULT_LIMIT)?).await?;
    let health = state.core.log_health(&id).await?;
    ok(json!({
        "provider": id,
        "entries": page.entries.iter().map(log_entry_json).collect::<Vec<_>>(),
        "next_before": page.next_before,
        "requests": log_health_json(&health),
    }))
}
