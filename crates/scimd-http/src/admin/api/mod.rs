//! The admin API, `/admin/api/v1/...`: everything the console does, as JSON, for
//! automation; authenticated with admin API tokens. The routes are one table from which
//! both the router and the OpenAPI document are built, so the document cannot miss one.

mod providers;
mod resources;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use axum::{Json, Router};
use scimd_core::CoreError;
use serde_json::{Value, json};

use super::auth;
use super::failure::api_error;
use crate::AppState;
use providers::{
    providers_create, providers_delete, providers_disable, providers_enable, providers_list, providers_postman,
    providers_reveal, providers_rotate, providers_show, providers_update, schemas_declare, schemas_list,
    schemas_remove, tokens_issue, tokens_list, tokens_revoke, tokens_revoke_all,
};
use resources::{audit_list, group_members, groups_list, groups_show, users_list, users_show};

pub const PREFIX: &str = "/admin/api/v1";

pub(super) type ApiResult = Result<Response, AdminApiFailure>;

/// A domain error as the admin API answers it: `{"error", "detail"}` with the mapped status.
pub struct AdminApiFailure(CoreError);

impl From<CoreError> for AdminApiFailure {
    fn from(e: CoreError) -> Self {
        AdminApiFailure(e)
    }
}

impl IntoResponse for AdminApiFailure {
    fn into_response(self) -> Response {
        api_error(&self.0)
    }
}

/// A JSON body; a malformed one (bad JSON, an unknown field, a wrong type) is a 400 in the
/// API's own error shape.
pub(super) struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(api_error(&CoreError::Invalid(rejection.body_text()))),
        }
    }
}

pub(super) fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

/// One route: how it is called, what it is for, and its handler.
struct Route {
    method: Method,
    path: &'static str,
    summary: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
    /// Success status.
    status: u16,
    handler: MethodRouter<AppState>,
}

const LIST_QUERY: &[(&str, &str)] = &[
    (
        "q",
        "case-insensitive text in userName, displayName, name or email; or the exact externalId",
    ),
    ("offset", "rows to skip (default 0)"),
    ("count", "rows to return (default 100, at most 1000)"),
];

const AUDIT_QUERY: &[(&str, &str)] = &[
    ("provider", "provider id"),
    ("actor", "exact actor, or a prefix ending in * (admin:*)"),
    ("action", "exact action, or a prefix ending in * (provider.*)"),
    ("resource", "e.g. User/<id>, Provider/<id>"),
    ("since", "RFC 3339 time or YYYY-MM-DD (inclusive)"),
    ("until", "RFC 3339 time or YYYY-MM-DD (exclusive)"),
    (
        "before",
        "cursor: events older than this seq (next_before of the previous page)",
    ),
    ("count", "events to return (default 100, at most 1000)"),
];

fn table() -> Vec<Route> {
    let r = |method: Method, path, summary, handler| Route {
        method,
        path,
        summary,
        query: &[],
        body: None,
        status: 200,
        handler,
    };
    vec![
        r(
            Method::GET,
            "/providers",
            "List identity providers with their token expiry",
            get(providers_list),
        ),
        Route {
            body: Some("ProviderInput"),
            status: 201,
            ..r(
                Method::POST,
                "/providers",
                "Register a provider; the answer holds its client secret",
                post(providers_create),
            )
        },
        r(
            Method::GET,
            "/providers/{id}",
            "A provider's details (secret not included)",
            get(providers_show),
        ),
        Route {
            body: Some("ProviderInput"),
            ..r(
                Method::PATCH,
                "/providers/{id}",
                "Change a provider's settings (not its population)",
                patch(providers_update),
            )
        },
        Route {
            status: 204,
            ..r(
                Method::DELETE,
                "/providers/{id}",
                "Delete a provider with its tokens and everything it provisioned",
                delete(providers_delete),
            )
        },
        r(
            Method::POST,
            "/providers/{id}/reveal",
            "The client secret in clear (audited)",
            post(providers_reveal),
        ),
        r(
            Method::POST,
            "/providers/{id}/rotate",
            "Replace the client secret; issued tokens stay valid",
            post(providers_rotate),
        ),
        r(
            Method::POST,
            "/providers/{id}/enable",
            "Enable a provider",
            post(providers_enable),
        ),
        r(
            Method::POST,
            "/providers/{id}/disable",
            "Disable a provider: its tokens are refused",
            post(providers_disable),
        ),
        r(
            Method::GET,
            "/providers/{id}/tokens",
            "Tokens issued to the provider",
            get(tokens_list),
        ),
        Route {
            status: 201,
            ..r(
                Method::POST,
                "/providers/{id}/tokens",
                "Generate an activation token (client-credentials grant on the provider's behalf)",
                post(tokens_issue),
            )
        },
        r(
            Method::DELETE,
            "/providers/{id}/tokens",
            "Revoke every live token of the provider",
            delete(tokens_revoke_all),
        ),
        Route {
            status: 204,
            ..r(
                Method::DELETE,
                "/providers/{id}/tokens/{token_id}",
                "Revoke one token",
                delete(tokens_revoke),
            )
        },
        r(
            Method::GET,
            "/providers/{id}/schemas",
            "The provider's extension schemas, and the attributes it sent that none declares",
            get(schemas_list),
        ),
        Route {
            body: Some("ExtensionInput"),
            status: 201,
            query: &[(
                "force",
                "true: drop stored values that do not fit instead of refusing (audited)",
            )],
            ..r(
                Method::POST,
                "/providers/{id}/schemas",
                "Declare an extension schema (RFC 7643 section 7) for the provider's users or groups",
                post(schemas_declare),
            )
        },
        Route {
            status: 204,
            query: &[(
                "force",
                "true: also delete the values resources hold for it (each change audited)",
            )],
            ..r(
                Method::DELETE,
                "/providers/{id}/schemas/{urn}",
                "Remove an extension schema (refused with 409 while resources hold values for it)",
                delete(schemas_remove),
            )
        },
        r(
            Method::GET,
            "/providers/{id}/postman",
            "The provider's Postman collection v2.1 (holds the secret; audited)",
            get(providers_postman),
        ),
        Route {
            query: LIST_QUERY,
            ..r(
                Method::GET,
                "/users/{population}",
                "Users of a population (internal or third-party)",
                get(users_list),
            )
        },
        r(
            Method::GET,
            "/users/{population}/{id}",
            "A user, its groups and its audit history",
            get(users_show),
        ),
        Route {
            query: LIST_QUERY,
            ..r(
                Method::GET,
                "/groups/{population}",
                "Groups of a population, with member counts (third-party: vendors)",
                get(groups_list),
            )
        },
        r(
            Method::GET,
            "/groups/{population}/{id}",
            "A group, its member count and its audit history",
            get(groups_show),
        ),
        Route {
            query: &[
                (
                    "after",
                    "cursor: members after this position (next_after of the previous page)",
                ),
                ("count", "members to return (default 100, at most 1000)"),
            ],
            ..r(
                Method::GET,
                "/groups/{population}/{id}/members",
                "A group's members, a page at a time",
                get(group_members),
            )
        },
        Route {
            query: AUDIT_QUERY,
            ..r(Method::GET, "/audit", "The audit log, newest first", get(audit_list))
        },
    ]
}

pub fn routes(state: AppState) -> Router<AppState> {
    let mut authed = Router::new();
    for route in table() {
        authed = authed.route(&format!("{PREFIX}{}", route.path), route.handler);
    }
    authed = authed.layer(axum::middleware::from_fn_with_state(state, auth::api_token));
    Router::new()
        .route(&format!("{PREFIX}/openapi.json"), get(openapi))
        .merge(authed)
}

/// OpenAPI 3.1, built from the route table.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in table() {
        let mut params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(
            route
                .query
                .iter()
                .map(|(name, d)| json!({"name": name, "in": "query", "required": false, "description": d, "schema": {"type": "string"}})),
        );
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method.as_str().to_lowercase(), route.path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            "security": [{"adminToken": []}],
            "responses": {
                route.status.to_string(): {"description": "success"},
                "401": {"description": "no or an invalid admin API token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(body) = route.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        let path = format!("{PREFIX}{}", route.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    paths.insert(
        format!("{PREFIX}/openapi.json"),
        json!({"get": {"summary": "This document", "operationId": "get_openapi", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}),
    );
    let list = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "scimd admin API", "version": "1", "description": "Everything the admin console does, as JSON. Authenticate with an admin API token (`scimd admin token create NAME`)."},
        "paths": paths,
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "an admin API token, scimdadm_..."}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
                "ProviderInput": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "population": {"type": "string", "enum": ["internal", "third-party"], "description": "on creation only; fixed once saved"},
                    "enabled": {"type": "boolean"},
                    "description": {"type": "string"},
                    "tags": list("tags"),
                    "token_ttl": {"type": "string", "description": "token lifetime, e.g. 365d"},
                    "token_expiry_date": {"type": "string", "format": "date", "description": "or the date tokens issued today expire"},
                    "allowed_networks": list("CIDR networks allowed to request tokens and push; empty: any"),
                    "group_patch_response": {"type": "string", "enum": ["no-content", "full"], "description": "the answer to a group PATCH without attributes: 204, or 200 with the whole group"},
                    "undeclared": {"type": "string", "enum": ["keep", "reject"], "description": "attributes no schema declares: kept as sent, or refused"}
                }},
                "ExtensionInput": {"type": "object", "additionalProperties": false, "required": ["schema"], "properties": {
                    "schema": {"type": "object", "description": "an RFC 7643 section 7 schema: id (a URN), name, description, attributes"},
                    "resourceType": {"type": "string", "enum": ["User", "Group"], "description": "default User"},
                    "required": {"type": "boolean", "description": "every resource of the type must carry it"},
                    "index": list("string attributes to index for fast equality lookups")
                }}
            }
        }
    })
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}
