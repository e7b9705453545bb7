//! The admin API's reads across providers: users and groups by population, a group's
//! members, the audit log.

use axum::extract::{Path, Query, State};
use scim_proto::schema::ResourceKind;
use scimd_core::PopulationQuery;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, ok};
use crate::AppState;
use scimd_core::input::{AuditFilter, parse_population};
use scimd_core::views::{audit_json, member_json, resource_json};

#[derive(Deserialize, Default)]
pub(super) struct ListParams {
    q: Option<String>,
    offset: Option<u64>,
    count: Option<u32>,
}

async fn list(state: &AppState, kind: ResourceKind, population: &str, p: ListParams) -> ApiResult {
    let query = PopulationQuery {
        population: parse_population(population)?,
        kind,
        text: p.q,
        offset: p.offset.unwrap_or(0),
        limit: p.count.unwrap_or(100),
    };
    let (total, items) = state.core.population_page(query).await?;
    let now = state.core.now();
    ok(json!({
        "total": total,
        "offset": p.offset.unwrap_or(0),
        "items": items.iter().map(|v| resource_json(&state.urls, v, now)).collect::<Vec<_>>(),
    }))
}

pub(super) async fn users_list(
    State(state): State<AppState>,
    Path(population): Path<String>,
    Query(p): Query<ListParams>,
) -> ApiResult {
    list(&state, ResourceKind::User, &population, p).await
}

pub(super) async fn groups_list(
    State(state): State<AppState>,
    Path(population): Path<String>,
    Query(p): Query<ListParams>,
) -> ApiResult {
    list(&state, ResourceKind::Group, &population, p).await
}

async fn show(state: &AppState, kind: ResourceKind, population: &str, id: &str) -> ApiResult {
    let d = state
        .core
        .population_resource(parse_population(population)?, kind, id)
        .await?;
    let view = scimd_core::browse::ResourceView {
        count: d.member_count,
        record: d.record,
    };
    let mut v = resource_json(&state.urls, &view, state.core.now());
    if kind == ResourceKind::User {
        v["groups"] = d
            .groups
            .iter()
            .map(|g| json!({"value": g.id, "display": g.display}))
            .collect();
    }
    v["history"] = d.history.iter().map(audit_json).collect();
    ok(v)
}

pub(super) async fn users_show(
    State(state): State<AppState>,
    Path((population, id)): Path<(String, String)>,
) -> ApiResult {
    show(&state, ResourceKind::User, &population, &id).await
}

pub(super) async fn groups_show(
    State(state): State<AppState>,
    Path((population, id)): Path<(String, String)>,
) -> ApiResult {
    show(&state, ResourceKind::Group, &population, &id).await
}

#[derive(Deserialize, Default)]
pub(super) struct MemberParams {
    after: Option<i64>,
    count: Option<u32>,
}

pub(super) async fn group_members(
    State(state): State<AppState>,
    Path((population, id)): Path<(String, String)>,
    Query(p): Query<MemberParams>,
) -> ApiResult {
    let group = state
        .core
        .population_record(parse_population(&population)?, ResourceKind::Group, &id)
        .await?;
    let count = p.count.unwrap_or(100).clamp(1, scimd_core::browse::MAX_PAGE);
    let members = state.core.member_page(&group, p.after.unwrap_or(0), count).await?;
    let next = (members.len() as u32 == count)
        .then(|| members.last().map(|m| m.seq))
        .flatten();
    ok(json!({
        "members": members.iter().map(member_json).collect::<Vec<_>>(),
        "next_after": next,
    }))
}

pub(super) async fn audit_list(State(state): State<AppState>, Query(f): Query<AuditFilter>) -> ApiResult {
    let q = f.query(100)?;
    let events = state.core.audit(q.clone()).await?;
    let next = (events.len() as u32 == q.limit.clamp(1, scimd_core::browse::MAX_PAGE))
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    ok(json!({
        "events": events.iter().map(audit_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}
