//! `POST {base}/.search` (RFC 7644 §3.4.3): one query over users and groups together. The
//! page runs over users first, then groups, each in its own stable order.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use scim_proto::error::{ScimError, ScimType};
use scim_proto::list::list_response;
use scim_proto::schema::ResourceKind;
use scimd_core::resource::{ListRequest, PageStart};

use super::Authenticated;
use super::body::ScimJson;
use super::query::RawParams;
use super::render;
use crate::AppState;
use crate::error::{ScimFailure, scim_json};

pub fn routes() -> Router<AppState> {
    Router::new().route("/.search", post(search_all))
}

async fn search_all(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimFailure> {
    let params = RawParams::from_search(&body)?.list()?;
    if params.cursor_mode || params.query.sort.is_some() {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "a search across resource types pages by startIndex in creation order; search /Users or /Groups to sort or use cursors",
        )
        .into());
    }
    let base = state.base_url(p.id.as_str());
    let mut offset = params.start_index.saturating_sub(1);
    let mut remaining = params.query.count;
    let mut total = 0u64;
    let mut docs = Vec::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        // A filter naming an attribute one type lacks matches nothing of that type.
        let schemas = p.schemas(kind);
        let filter = match &params.query.filter {
            Some(f) if f.validate(&schemas).is_err() => continue,
            other => other.clone(),
        };
        let query = ListRequest {
            filter,
            sort: None,
            start: PageStart::Index(offset + 1),
            count: remaining,
        };
        let page = state.core.list_resources(&p, kind, query).await?;
        total += page.total;
        offset = offset.saturating_sub(page.total);
        remaining -= page.items.len() as u64;
        docs.extend(render::resources(&state.core, &base, &schemas, &page.items, &params.projection).await?);
    }
    Ok(scim_json(
        StatusCode::OK,
        &list_response(total, params.start_index, docs, None),
    ))
}
