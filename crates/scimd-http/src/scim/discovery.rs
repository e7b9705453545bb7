//! Discovery (RFC 7644 §4, RFC 7643 §5-7): the service provider configuration, resource
//! types and schemas, stated exactly as they work; with RFC 9967 §4's `securityEvents` while
//! Security Event Tokens are delivered for the provider.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use scim_proto::error::ScimError;
use scim_proto::list::list_response;
use scim_proto::schema::{ResourceKind, ResourceSchemas, Schema};
use scimd_core::events::set::EVENT_URIS;
use scimd_core::resource::Discovered;
use serde_json::{Value, json};

use super::Authenticated;
use super::bulk::MAX_OPERATIONS;
use super::query::MAX_COUNT;
use crate::AppState;
use crate::error::{ScimFailure, scim_json};
use crate::limits::MAX_SCIM_BODY;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{uri}", get(schema))
}

async fn service_provider_config(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
) -> Result<Response, ScimFailure> {
    let base = state.base_url(p.id.as_str());
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": MAX_SCIM_BODY},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": super::query::DEFAULT_COUNT,
            "maxPageSize": MAX_COUNT
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token from the client-credentials grant at the Token URL",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "documentationUri": state.token_url(),
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    });
    // RFC 9967 §4: "when absent indicates the SCIM Service Provider does not support or is
    // not currently configured for Security Events". Present only while a SET subscription
    // takes this provider's events, because clients built on RFC 7643's schema alone refuse
    // a configuration with an attribute it does not define (scim2-models, under scim2-cli
    // and scim2-tester): providers nobody receives SETs for keep working with them.
    if state.core.sets_configured(p.id.as_str(), p.population).await? {
        body["securityEvents"] = security_events();
    }
    Ok(scim_json(StatusCode::OK, &body))
}

/// RFC 9967 §4's `securityEvents`. `eventUris`: every event a SET subscription can receive,
/// pushed (RFC 8935) or polled (RFC 8936). `asyncRequest` "none": every request completes
/// before its response; `Prefer: respond-async` (§2.5.1.1) is a preference, which a server
/// is free not to honour (RFC 7240), and scimd does not.
fn security_events() -> Value {
    json!({"asyncRequest": "none", "eventUris": EVENT_URIS})
}

/// A resource type with its extensions: built-in and declared ones, then those the provider
/// sent without declaring them (kept as sent, so resources list them in `schemas`).
fn resource_type_json(base: &str, schemas: &ResourceSchemas, discovered: &[Discovered]) -> Value {
    let kind = schemas.kind;
    let mut extensions: Vec<Value> = schemas
        .extensions()
        .iter()
        .map(|e| json!({"schema": e.schema.id, "required": e.required}))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for d in discovered.iter().filter(|d| d.kind == kind && !d.uri.is_empty()) {
        if schemas.declared(&d.uri).is_none() && !seen.iter().any(|u| u.eq_ignore_ascii_case(&d.uri)) {
            seen.push(&d.uri);
            extensions.push(json!({"schema": d.uri, "required": false}));
        }
    }
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": match kind { ResourceKind::User => "User Account", ResourceKind::Group => "Group" },
        "schema": kind.core_schema().id,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    });
    if !extensions.is_empty() {
        v["schemaExtensions"] = Value::Array(extensions);
    }
    v
}

async fn resource_types(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
) -> Result<Response, ScimFailure> {
    let base = state.base_url(p.id.as_str());
    let discovered = state.core.discovered(&p).await?;
    let all: Vec<Value> = [ResourceKind::User, ResourceKind::Group]
        .iter()
        .map(|k| resource_type_json(&base, &p.schemas(*k), &discovered))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(all.len() as u64, 1, all, None),
    ))
}

async fn resource_type(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    let kind = [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(&name))
        .ok_or_else(|| ScimError::new(404, None, format!("resource type '{name}' not found")))?;
    let discovered = state.core.discovered(&p).await?;
    Ok(scim_json(
        StatusCode::OK,
        &resource_type_json(&state.base_url(p.id.as_str()), &p.schemas(kind), &discovered),
    ))
}

fn schema_json(base: &str, s: &Schema) -> Value {
    let mut v = s.to_json();
    v["meta"] = json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)});
    v
}

async fn schemas(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
) -> Result<Response, ScimFailure> {
    let base = state.base_url(p.id.as_str());
    let all: Vec<Value> = state
        .core
        .provider_schemas(&p)
        .await?
        .iter()
        .map(|s| schema_json(&base, s))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(all.len() as u64, 1, all, None),
    ))
}

async fn schema(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
    Path((_, uri)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    let all = state.core.provider_schemas(&p).await?;
    let s = all
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&uri))
        .ok_or_else(|| ScimError::new(404, None, format!("schema '{uri}' not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &schema_json(&state.base_url(p.id.as_str()), s),
    ))
}
