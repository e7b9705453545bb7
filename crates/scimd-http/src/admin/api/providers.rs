//! The admin API's provider routes: registration, settings, the secret, activation
//! tokens and the Postman collection.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use scimd_core::extensions::ExtensionInput;
use scimd_core::views::{discovered_json, extension_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, Body, ok};
use crate::AppState;
use crate::admin::auth::ApiAdmin;
use scimd_core::input::ProviderInput;
use scimd_core::views::{TokenStatus, guard_json, issued_json, log_health_json, provider_json, token_json};

pub(super) async fn providers_list(State(state): State<AppState>) -> ApiResult {
    let now = state.core.now();
    let health = state.core.log_health_all().await?;
    let mut out = Vec::new();
    for p in state.core.providers().await? {
        let tokens = state.core.tokens(p.id.as_str()).await?;
        let mut v = provider_json(&state.urls, &p, Some(&TokenStatus::of(&tokens, now)), None);
        v["requests"] = log_health_json(&health.get(p.id.as_str()).copied().unwrap_or_default());
        out.push(v);
    }
    ok(Value::Array(out))
}

pub(super) async fn providers_create(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Body(input): Body<ProviderInput>,
) -> ApiResult {
    let new = input.into_new(state.core.now())?;
    let (p, secret) = state.core.register(new, &t.actor()).await?;
    let v = provider_json(&state.urls, &p, None, Some(&secret));
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn provider_with_status(state: &AppState, id: &str) -> ApiResult {
    let p = state.core.provider(id).await?;
    let tokens = state.core.tokens(id).await?;
    let mut v = provider_json(&state.urls, &p, Some(&TokenStatus::of(&tokens, state.core.now())), None);
    v["requests"] = log_health_json(&state.core.log_health(id).await?);
    v["guard_state"] = guard_json(&state.core.guard_state(id).await?);
    ok(v)
}

pub(super) async fn providers_show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    provider_with_status(&state, &id).await
}

pub(super) async fn providers_update(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    Body(input): Body<ProviderInput>,
) -> ApiResult {
    let (update, enabled) = input.into_update(state.core.now())?;
    state.core.update_provider(&id, update, &t.actor()).await?;
    if let Some(e) = enabled {
        state.core.set_enabled(&id, e, &t.actor()).await?;
    }
    provider_with_status(&state, &id).await
}

pub(super) async fn providers_delete(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    state.core.delete_provider(&id, &t.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn providers_reveal(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({"client_secret": state.core.reveal_secret(&id, &t.actor()).await?}))
}

pub(super) async fn providers_rotate(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({"client_secret": state.core.rotate_secret(&id, &t.actor()).await?}))
}

pub(super) async fn set_enabled(state: &AppState, t: &ApiAdmin, id: &str, enabled: bool) -> ApiResult {
    state.core.set_enabled(id, enabled, &t.0.actor()).await?;
    provider_with_status(state, id).await
}

pub(super) async fn providers_enable(
    State(state): State<AppState>,
    Extension(t): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    set_enabled(&state, &t, &id, true).await
}

pub(super) async fn providers_disable(
    State(state): State<AppState>,
    Extension(t): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    set_enabled(&state, &t, &id, false).await
}

pub(super) async fn tokens_list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let now = state.core.now();
    let tokens = state.core.tokens(&id).await?;
    ok(Value::Array(tokens.iter().map(|t| token_json(t, now)).collect()))
}

pub(super) async fn tokens_issue(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    let issued = state.core.issue_token_as_admin(&id, &t.actor()).await?;
    Ok((StatusCode::CREATED, Json(issued_json(&issued))).into_response())
}

pub(super) async fn tokens_revoke_all(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({"revoked": state.core.revoke(&id, None, &t.actor()).await?}))
}

pub(super) async fn tokens_revoke(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path((id, token_id)): Path<(String, String)>,
) -> ApiResult {
    state.core.revoke(&id, Some(&token_id), &t.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn providers_postman(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(super::super::postman_download(&state, &id, &t.actor()).await?)
}

pub(super) async fn schemas_list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let p = state.core.provider(&id).await?;
    let discovered = state.core.discovered(&p).await?;
    ok(json!({
        "extensions": p.settings.extensions.iter().map(extension_json).collect::<Vec<_>>(),
        "discovered": discovered.iter().map(discovered_json).collect::<Vec<_>>(),
        "undeclared": p.settings.undeclared.as_str(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExtensionBody {
    schema: Value,
    resource_type: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    index: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct ForceParam {
    #[serde(default)]
    force: bool,
}

pub(super) async fn schemas_declare(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    Query(q): Query<ForceParam>,
    Body(b): Body<ExtensionBody>,
) -> ApiResult {
    let input = ExtensionInput {
        schema: b.schema,
        resource_type: b.resource_type,
        required: b.required,
        index: b.index,
        force: q.force,
    };
    let (p, report) = state.core.declare_extension(&id, input, &t.actor()).await?;
    let mut v = p.settings.extensions.last().map(extension_json).unwrap_or_default();
    v["checked"] = json!(report.checked);
    v["cleaned"] = json!(report.cleaned);
    v["indexed"] = json!(report.indexed);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn schemas_remove(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path((id, urn)): Path<(String, String)>,
    Query(q): Query<ForceParam>,
) -> ApiResult {
    state.core.remove_extension(&id, &urn, q.force, &t.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
