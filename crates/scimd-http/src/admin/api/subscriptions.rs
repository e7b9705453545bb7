//! The admin API's change-event subscriptions (issue #14): who receives which events, how
//! far behind each receiver is, its deliveries and dead letters, and the actions on it.
//! The secret or poll token is in the answer to the creation only.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use scimd_core::events::subscription::Subscription;
use scimd_core::input::{SubscriptionInput, secret_overlap};
use scimd_core::views::{attempt_json, created_subscription_json, dead_letter_json, subscription_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, Body, OptionalBody, Route, created, ok, route};
use crate::AppState;
use crate::admin::auth::ApiAdmin;

/// Delivery attempts listed when `count` is not given, and the most that are.
const DELIVERIES_DEFAULT: u32 = 20;
const DELIVERIES_MAX: u32 = 1000;

/// This module's rows of the admin API's route table.
pub(super) fn table() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/subscriptions",
            "Change-event subscriptions with their state and lag (events and seconds behind)",
            get(subscriptions_list),
        ),
        Route {
            body: Some("SubscriptionInput"),
            status: 201,
            ..route(
                Method::POST,
                "/subscriptions",
                "Subscribe a receiver; the answer holds its webhook secret or poll token (shown once)",
                post(subscriptions_create),
            )
        },
        route(
            Method::GET,
            "/subscriptions/{id}",
            "A subscription: state and reason, lag, last success, last error with the receiver's answer",
            get(subscriptions_show),
        ),
        Route {
            status: 204,
            ..route(
                Method::DELETE,
                "/subscriptions/{id}",
                "Remove a subscription (its cursors, attempts and dead letters with it)",
                axum::routing::delete(subscriptions_delete),
            )
        },
        route(
            Method::POST,
            "/subscriptions/{id}/pause",
            "Stop delivering; events are held for it up to 30 days",
            post(subscriptions_pause),
        ),
        route(
            Method::POST,
            "/subscriptions/{id}/resume",
            "Deliver again from where it stopped",
            post(subscriptions_resume),
        ),
        Route {
            body: Some("RotateInput"),
            body_optional: true,
            ..route(
                Method::POST,
                "/subscriptions/{id}/rotate-secret",
                "A new webhook signing secret; the old one signs alongside it for the overlap",
                post(subscriptions_rotate),
            )
        },
        Route {
            body: Some("ReplayInput"),
            ..route(
                Method::POST,
                "/subscriptions/{id}/replay",
                "Deliver again from a stream position (inclusive), of one provider or of all",
                post(subscriptions_replay),
            )
        },
        Route {
            query: &[("count", "attempts to return, newest first (default 20, at most 1000)")],
            ..route(
                Method::GET,
                "/subscriptions/{id}/deliveries",
                "The last delivery attempts: status, latency, the receiver's answer",
                get(subscriptions_deliveries),
            )
        },
        route(
            Method::GET,
            "/subscriptions/{id}/dead-letters",
            "Events the receiver kept refusing, set aside so that later ones flow",
            get(subscriptions_dead_letters),
        ),
        route(
            Method::POST,
            "/subscriptions/{id}/retry",
            "Take the dead letters back into delivery (from the oldest, per provider)",
            post(subscriptions_retry),
        ),
    ]
}

/// A subscription as listed and shown: with how far behind it is.
async fn with_lag(state: &AppState, s: &Subscription) -> Result<Value, scimd_core::CoreError> {
    let lag = state.core.lag(s).await?;
    Ok(subscription_json(&state.urls, s, Some(&lag)))
}

async fn subscriptions_list(State(state): State<AppState>) -> ApiResult {
    let mut out = Vec::new();
    for s in state.core.subscriptions().await? {
        out.push(with_lag(&state, &s).await?);
    }
    ok(Value::Array(out))
}

async fn subscriptions_create(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Body(input): Body<SubscriptionInput>,
) -> ApiResult {
    let made = state.core.add_subscription(input.into_new()?, &t.actor()).await?;
    created(created_subscription_json(&state.urls, &made))
}

async fn subscriptions_show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let s = state.core.subscription(&id).await?;
    ok(with_lag(&state, &s).await?)
}

async fn subscriptions_delete(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    state.core.remove_subscription(&id, &t.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_state(state: &AppState, t: &ApiAdmin, id: &str, active: bool) -> ApiResult {
    let s = state.core.set_subscription_state(id, active, &t.0.actor()).await?;
    ok(with_lag(state, &s).await?)
}

async fn subscriptions_pause(
    State(state): State<AppState>,
    Extension(t): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    set_state(&state, &t, &id, false).await
}

async fn subscriptions_resume(
    State(state): State<AppState>,
    Extension(t): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    set_state(&state, &t, &id, true).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    overlap: Option<String>,
}

async fn subscriptions_rotate(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<RotateBody>,
) -> ApiResult {
    let overlap = secret_overlap(b.overlap.as_deref())?;
    let secret = state.core.rotate_subscription_secret(&id, overlap, &t.actor()).await?;
    ok(json!({"id": id, "secret": secret, "overlap_seconds": overlap.as_secs()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    from: i64,
    provider: Option<String>,
}

async fn subscriptions_replay(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    Body(b): Body<ReplayBody>,
) -> ApiResult {
    let provider = b.provider.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let rewound = state.core.replay(&id, provider, b.from, &t.actor()).await?;
    ok(json!({"id": id, "from": b.from, "provider": provider, "streams_rewound": rewound}))
}

#[derive(Deserialize, Default)]
struct CountParam {
    count: Option<u32>,
}

async fn subscriptions_deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CountParam>,
) -> ApiResult {
    let count = q.count.unwrap_or(DELIVERIES_DEFAULT).clamp(1, DELIVERIES_MAX);
    let attempts = state.core.deliveries(&id, count).await?;
    ok(Value::Array(attempts.iter().map(attempt_json).collect()))
}

async fn subscriptions_dead_letters(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let dead = state.core.dead_letters(&id).await?;
    ok(Value::Array(dead.iter().map(dead_letter_json).collect()))
}

async fn subscriptions_retry(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    let retried = state.core.retry_dead_letters(&id, &t.actor()).await?;
    ok(json!({"id": id, "retried": retried}))
}
