//! The admin API's lifecycle routes: soft-deleted users and groups (list, restore), erasure,
//! access renewal and the users whose access ends soon, and releasing a provider's tripped
//! mass-deletion guard.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use scim_proto::schema::ResourceKind;
use scimd_core::browse::ResourceView;
use scimd_core::input::{parse_population, renewal};
use scimd_core::lifecycle::DeletedQuery;
use scimd_core::views::{deleted_json, guard_json, resource_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, Body, Route, ok, route};
use crate::AppState;
use crate::admin::auth::ApiAdmin;

const DELETED_QUERY: &[(&str, &str)] = &[
    ("offset", "rows to skip (default 0)"),
    ("count", "rows to return (default 100, at most 1000)"),
];

/// This module's rows of the admin API's route table.
pub(super) fn table() -> Vec<Route> {
    let mut rows = Vec::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        rows.push(Route {
            query: DELETED_QUERY,
            ..route(
                Method::GET,
                match kind {
                    ResourceKind::User => "/deleted/users/{population}",
                    ResourceKind::Group => "/deleted/groups/{population}",
                },
                match kind {
                    ResourceKind::User => "Soft-deleted users of a population, newest deletion first",
                    ResourceKind::Group => "Soft-deleted groups of a population, newest deletion first",
                },
                get(move |s, p, q| deleted_list(kind, s, p, q)),
            )
        });
        rows.push(route(
            Method::POST,
            match kind {
                ResourceKind::User => "/users/{id}/restore",
                ResourceKind::Group => "/groups/{id}/restore",
            },
            match kind {
                ResourceKind::User => {
                    "Restore a soft-deleted user (same id and attributes; it rejoins its groups that still exist); 409 when its userName was taken since"
                }
                ResourceKind::Group => {
                    "Restore a soft-deleted group (same id and attributes, with its members that still exist); 409 when its displayName was taken since"
                }
            },
            post(move |s, a, p| restore(kind, s, a, p)),
        ));
        rows.push(Route {
            body: Some("RenewInput"),
            ..route(
                Method::POST,
                match kind {
                    ResourceKind::User => "/users/{id}/renew",
                    ResourceKind::Group => "/groups/{id}/renew",
                },
                match kind {
                    ResourceKind::User => "Renew a user's access for a period from now",
                    ResourceKind::Group => "Renew the access of every user in a group; answers how many",
                },
                post(move |s, a, p, b| renew(kind, s, a, p, b)),
            )
        });
    }
    rows.push(Route {
        status: 204,
        ..route(
            Method::POST,
            "/users/{id}/erase",
            "Erase a user for good (live or soft-deleted), with the values change events kept of it",
            post(erase),
        )
    });
    rows.push(route(
        Method::GET,
        "/access/{population}",
        "Users of a population whose access ends within two weeks, or ended, soonest first",
        get(access_ending),
    ));
    rows.push(route(
        Method::POST,
        "/providers/{id}/guard/release",
        "Release the provider's tripped mass-deletion guard: the deletes and deactivations it refused go through when retried",
        post(guard_release),
    ));
    rows
}

#[derive(Deserialize, Default)]
struct PageParams {
    offset: Option<u64>,
    count: Option<u32>,
}

async fn deleted_list(
    kind: ResourceKind,
    State(state): State<AppState>,
    Path(population): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult {
    let query = DeletedQuery {
        population: parse_population(&population)?,
        kind,
        offset: p.offset.unwrap_or(0),
        limit: p.count.unwrap_or(100),
    };
    let (total, items) = state.core.deleted_page(query).await?;
    let now = state.core.now();
    ok(json!({
        "total": total,
        "offset": p.offset.unwrap_or(0),
        "items": items.iter().map(|d| deleted_json(&state.urls, d, now)).collect::<Vec<_>>(),
    }))
}

fn view(state: &AppState, record: scimd_core::ResourceRecord) -> Value {
    resource_json(&state.urls, &ResourceView { record, count: 0 }, state.core.now())
}

async fn restore(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    let rec = state.core.restore(kind, &id, &t.actor()).await?;
    ok(view(&state, rec))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewInput {
    #[serde(rename = "for")]
    period: String,
}

async fn renew(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    Body(input): Body<RenewInput>,
) -> ApiResult {
    let seconds = renewal(&input.period)?;
    match kind {
        ResourceKind::User => {
            let rec = state.core.renew_user(&id, seconds, &t.actor()).await?;
            ok(view(&state, rec))
        }
        ResourceKind::Group => {
            let n = state.core.renew_group(&id, seconds, &t.actor()).await?;
            ok(json!({"renewed": n}))
        }
    }
}

async fn erase(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    state.core.erase_user(&id, &t.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn access_ending(State(state): State<AppState>, Path(population): Path<String>) -> ApiResult {
    let users = state.core.access_ending(parse_population(&population)?).await?;
    ok(Value::Array(users.into_iter().map(|r| view(&state, r)).collect()))
}

async fn guard_release(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    state.core.release_guard(&id, &t.actor()).await?;
    ok(guard_json(&state.core.guard_state(&id).await?))
}
