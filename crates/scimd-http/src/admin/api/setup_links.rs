//! The admin API's setup links: make one for a provider (its URL in the answer only), list
//! them, revoke one with or without the tokens made through it.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{delete, get, post};
use scimd_core::input::{SetupLinkInput, setup_link_ttl};
use scimd_core::views::{created_setup_link_json, setup_link_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, OptionalBody, Route, created, ok, route};
use crate::AppState;
use crate::admin::auth::ApiAdmin;

/// This module's rows of the admin API's route table.
pub(super) fn table() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/providers/{id}/setup-links",
            "The provider's setup links, newest first, with the tokens made through each",
            get(links_list),
        ),
        Route {
            body: Some("SetupLinkInput"),
            body_optional: true,
            status: 201,
            ..route(
                Method::POST,
                "/providers/{id}/setup-links",
                "Make a setup link; the answer holds its URL (shown once)",
                post(links_create),
            )
        },
        Route {
            query: &[(
                "revoke_tokens",
                "true: also revoke the live tokens made through the link",
            )],
            ..route(
                Method::DELETE,
                "/providers/{id}/setup-links/{link_id}",
                "Revoke a setup link (and, asked, its tokens); answers how many tokens were revoked",
                delete(links_revoke),
            )
        },
    ]
}

async fn links_list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let links = state.core.setup_links(&id).await?;
    let tokens = state.core.tokens(&id).await?;
    let now = state.core.now();
    let out = links
        .iter()
        .map(|l| {
            let n = tokens.iter().filter(|t| t.setup_link.as_deref() == Some(&l.id)).count();
            setup_link_json(l, n, now)
        })
        .collect();
    ok(Value::Array(out))
}

async fn links_create(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path(id): Path<String>,
    OptionalBody(input): OptionalBody<SetupLinkInput>,
) -> ApiResult {
    let ttl = setup_link_ttl(input.expires.as_deref())?;
    let c = state
        .core
        .create_setup_link(&id, ttl, input.reveal_secret, &t.actor())
        .await?;
    created(created_setup_link_json(&state.urls, &c))
}

#[derive(Deserialize)]
struct RevokeQuery {
    #[serde(default)]
    revoke_tokens: bool,
}

async fn links_revoke(
    State(state): State<AppState>,
    Extension(ApiAdmin(t)): Extension<ApiAdmin>,
    Path((id, link)): Path<(String, String)>,
    Query(q): Query<RevokeQuery>,
) -> ApiResult {
    let n = state
        .core
        .revoke_setup_link(&id, &link, q.revoke_tokens, &t.actor())
        .await?;
    ok(json!({"id": link, "revoked": true, "revoked_tokens": n}))
}
