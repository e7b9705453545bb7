//! The admin API, `/admin/api/v1/...`: everything the console does, as JSON, for
//! automation; authenticated with admin API tokens. The routes are one table from which
//! both the router and the OpenAPI document are built, so the document cannot miss one.

mod lifecycle;
mod openapi;
mod provider_log;
mod providers;
mod resources;
mod setup_links;
mod subscriptions;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use axum::{Json, Router};
use scimd_core::CoreError;
use serde_json::Value;

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

/// A JSON body that may be left out (or sent empty): then `T::default()`. Given, it is read
/// as strictly as [`Body`].
pub(super) struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> axum::extract::FromRequest<S> for OptionalBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| api_error(&CoreError::Invalid(rejection.body_text())))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalBody)
            .map_err(|e| api_error(&CoreError::Invalid(format!("the body is not valid: {e}"))))
    }
}

pub(super) fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

pub(super) fn created(v: Value) -> ApiResult {
    Ok((axum::http::StatusCode::CREATED, Json(v)).into_response())
}

/// One route: how it is called, what it is for, and its handler.
struct Route {
    method: Method,
    path: &'static str,
    summary: &'static str,
    query: &'static [(&'static str, &'static str)],
    /// The request body's schema in the document's components.
    body: Option<&'static str>,
    /// Whether the body may be left out (then its fields take their defaults).
    body_optional: bool,
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

/// A route without query parameters or body, answering 200; the others are written as
/// `Route { body: ..., ..route(...) }`.
fn route(method: Method, path: &'static str, summary: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        summary,
        query: &[],
        body: None,
        body_optional: false,
        status: 200,
        handler,
    }
}

fn table() -> Vec<Route> {
    let r = route;
    let mut table = vec![
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
    ];
    table.extend(lifecycle::table());
    table.extend(setup_links::table());
    table.extend(provider_log::table());
    table.extend(subscriptions::table());
    table
}

pub fn routes(state: AppState) -> Router<AppState> {
    let mut authed = Router::new();
    for route in table() {
        authed = authed.route(&format!("{PREFIX}{}", route.path), route.handler);
    }
    authed = authed.layer(axum::middleware::from_fn_with_state(state, auth::api_token));
    Router::new()
        .route(&format!("{PREFIX}/openapi.json"), get(openapi_json))
        .merge(authed)
}

async fn openapi_json() -> Response {
    Json(openapi::document()).into_response()
}
