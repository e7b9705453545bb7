//! `/Users` and `/Groups` (RFC 7644 §3.3 create, §3.4 query and search, §3.5 replace and
//! patch, §3.6 delete), with ETags (§3.14).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use scim_proto::error::ScimError;
use scim_proto::list::list_response;
use scim_proto::projection::Projection;
use scim_proto::schema::ResourceKind;
use scimd_core::provider::GroupPatchResponse;
use scimd_core::{CoreError, Provider, ResourceRecord};

use super::Authenticated;
use super::body::ScimJson;
use super::query::{ListParams, RawParams, encode_cursor};
use super::render;
use crate::AppState;
use crate::error::{ScimFailure, scim_json};

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let ep = kind.endpoint();
        router = router
            .route(
                ep,
                get(move |s, a, q| list(kind, s, a, q)).post(move |s, a, q, b| create(kind, s, a, q, b)),
            )
            .route(&format!("{ep}/.search"), post(move |s, a, b| search(kind, s, a, b)))
            .route(
                &format!("{ep}/{{id}}"),
                get(move |s, a, p, q, h| read(kind, s, a, p, q, h))
                    .put(move |s, a, p, q, h, b| update(kind, Update::Replace, s, a, p, q, h, b))
                    .patch(move |s, a, p, q, h, b| update(kind, Update::Patch, s, a, p, q, h, b))
                    .delete(move |s, a, p, h| delete(kind, s, a, p, h)),
            );
    }
    router
}

type Result<T> = std::result::Result<T, ScimFailure>;

/// `If-Match: W/"7"` (or `"7"`) names version 7; `*` or no header names none. An ETag this
/// server never issued can match nothing, which is a failed precondition.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(raw) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(None);
    }
    parse_etag(raw)
        .map(Some)
        .ok_or_else(|| CoreError::PreconditionFailed(raw.to_owned()).into())
}

fn parse_etag(raw: &str) -> Option<i64> {
    raw.trim().trim_start_matches("W/").trim_matches('"').parse().ok()
}

fn single(status: StatusCode, base: &str, rec: &ResourceRecord, doc: serde_json::Value) -> Response {
    let mut resp = scim_json(status, &doc);
    if let Ok(v) = HeaderValue::from_str(&rec.etag()) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&scimd_core::views::location(base, rec.kind, &rec.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn render_one(
    state: &AppState,
    p: &Provider,
    rec: &ResourceRecord,
    projection: &Projection,
) -> Result<serde_json::Value> {
    let base = state.base_url(p.id.as_str());
    let schemas = p.schemas(rec.kind);
    let mut docs = render::resources(&state.core, &base, &schemas, std::slice::from_ref(rec), projection).await?;
    Ok(docs.pop().unwrap_or_default())
}

async fn list(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let params = RawParams::from_query(q.as_deref())?.list()?;
    respond_list(&state, &p, kind, params).await
}

async fn search(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response> {
    let params = RawParams::from_search(&body)?.list()?;
    respond_list(&state, &p, kind, params).await
}

async fn respond_list(
    state: &AppState,
    p: &scimd_core::Provider,
    kind: ResourceKind,
    params: ListParams,
) -> Result<Response> {
    let base = state.base_url(p.id.as_str());
    let page = state.core.list_resources(p, kind, params.query).await?;
    let docs = render::resources(&state.core, &base, &p.schemas(kind), &page.items, &params.projection).await?;
    let next = if params.cursor_mode {
        page.more_after.map(encode_cursor)
    } else {
        None
    };
    Ok(scim_json(
        StatusCode::OK,
        &list_response(page.total, params.start_index, docs, next),
    ))
}

async fn create(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    RawQuery(q): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response> {
    let projection = RawParams::from_query(q.as_deref())?.projection()?;
    let rec = state.core.create_resource(&p, kind, &body).await?;
    let base = state.base_url(p.id.as_str());
    let doc = render_one(&state, &p, &rec, &projection).await?;
    Ok(single(StatusCode::CREATED, &base, &rec, doc))
}

async fn read(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let projection = RawParams::from_query(q.as_deref())?.projection()?;
    let rec = state.core.get_resource(&p, kind, &id).await?;
    if let Some(tags) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && tags
            .split(',')
            .any(|t| t.trim() == "*" || parse_etag(t) == Some(rec.version))
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&rec.etag()) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    let base = state.base_url(p.id.as_str());
    if kind == ResourceKind::Group && projection.is_default() {
        return whole_group(&state, &p, &base, &rec).await;
    }
    let doc = render_one(&state, &p, &rec, &projection).await?;
    Ok(single(StatusCode::OK, &base, &rec, doc))
}

/// A group read whole: its members are written as text straight from their rows.
async fn whole_group(state: &AppState, p: &Provider, base: &str, rec: &ResourceRecord) -> Result<Response> {
    let mut members = state.core.members_of(&[rec.seq]).await?;
    let list = members.remove(&rec.seq).unwrap_or_default();
    let mut doc = scimd_core::views::scim_resource(base, rec, state.core.now());
    Projection::default().apply(&p.schemas(rec.kind), &mut doc);
    let body = render::group_with_members(base, &doc, &list).map_err(|e| {
        tracing::error!(error = %e, "cannot render a group");
        ScimFailure::from(ScimError::new(500, None, "internal server error"))
    })?;
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::error::SCIM_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&rec.etag()) {
        headers.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// PUT and PATCH differ only in what the core does with the body.
#[derive(Clone, Copy)]
enum Update {
    Replace,
    Patch,
}

#[allow(clippy::too_many_arguments)]
async fn update(
    kind: ResourceKind,
    how: Update,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response> {
    let projection = RawParams::from_query(q.as_deref())?.projection()?;
    let version = if_match(&headers)?;
    let rec = match how {
        Update::Replace => state.core.replace_resource(&p, kind, &id, &body, version).await?,
        Update::Patch => state.core.patch_resource(&p, kind, &id, &body, version).await?,
    };
    // RFC 7644 §3.5.2: a PATCH answers 200 with the resource "or MAY return 204", and 200
    // when `attributes` was asked for. A group's whole body carries every member: answering
    // it to each one-member PATCH of a 100,000-member group is quadratic work, so a group
    // PATCH that asks for no projection gets 204 (unless the provider wants the body).
    if matches!(how, Update::Patch)
        && kind == ResourceKind::Group
        && projection.is_default()
        && p.settings.group_patch_response == GroupPatchResponse::NoContent
    {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&rec.etag()) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    let base = state.base_url(p.id.as_str());
    let doc = render_one(&state, &p, &rec, &projection).await?;
    Ok(single(StatusCode::OK, &base, &rec, doc))
}

async fn delete(
    kind: ResourceKind,
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    state.core.delete_resource(&p, kind, &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
