//! Every provider's SCIM 2.0 Base URL, `/scim/v2/{provider}` (RFC 7644), behind bearer
//! authentication (RFC 6750 §3): the token must be that provider's own. Authenticated
//! requests go to the provider's provisioning log; refused ones are only counted.

mod body;
mod bulk;
mod discovery;
mod log;
mod query;
mod render;
mod resources;
mod search;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use scim_proto::error::ScimError;
use scimd_core::Provider;
use scimd_core::grants::AuthFailure;

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::error::ScimFailure;

/// The authenticated provider of a SCIM request, put in the request's extensions.
#[derive(Clone)]
pub struct Authenticated(pub Arc<Provider>);

pub fn routes(state: AppState) -> Router<AppState> {
    let base = Router::new()
        .merge(discovery::routes())
        .merge(resources::routes())
        .merge(bulk::routes())
        .merge(search::routes())
        .layer(axum::extract::DefaultBodyLimit::max(crate::limits::MAX_SCIM_BODY))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, authenticate));
    Router::new().nest("/scim/v2/{provider}", base)
}

async fn not_found() -> ScimFailure {
    ScimError::new(404, None, "no such SCIM endpoint").into()
}

/// The resource type a SCIM path addresses, for metrics.
fn resource_kind(path: &str) -> &'static str {
    let rest = path
        .strip_prefix("/scim/v2/")
        .and_then(|r| r.split_once('/'))
        .map(|(_, r)| r)
        .unwrap_or("");
    match rest.split('/').next().unwrap_or("") {
        "Users" => "User",
        "Groups" => "Group",
        "Bulk" => "Bulk",
        _ => "other",
    }
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), if that is what
/// the request carries.
pub(crate) fn bearer_token(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

const CHALLENGE: &str = "Bearer realm=\"scimd\"";

/// RFC 6750 §3.1: no credentials -> 401 with a bare challenge; a bad token -> 401 with
/// `error="invalid_token"`. The SCIM body says the same in RFC 7644's words. Only once the
/// token is accepted is the body read, and the request then goes to the provider's log.
async fn authenticate(
    State(state): State<AppState>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    // Inside `nest` the URI has lost its prefix; the provider segment is in the original.
    let original = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let path_provider = original
        .path()
        .strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_owned();
    let bearer = bearer_token(req.headers());
    let Some(token) = bearer else {
        state.core.count_unauthenticated(&path_provider);
        return ScimFailure::from(ScimError::new(
            401,
            None,
            "authentication required: send Authorization: Bearer <token>",
        ))
        .with_header(header::WWW_AUTHENTICATE, CHALLENGE)
        .into_response();
    };
    match state.core.authenticate_bearer(&token, &path_provider, peer).await {
        Ok(provider) => {
            let (method, kind) = (req.method().clone(), resource_kind(original.path()));
            let seen = log::Seen::of(&state, &req, &original, provider.id.as_str(), peer, started);
            let (mut req, body) = match crate::limits::read_scim_body(&state, req).await {
                Ok(read) => read,
                Err(refused) => {
                    if let Some(seen) = &seen {
                        seen.record(&state, &refused, &[]);
                    }
                    return refused;
                }
            };
            req.extensions_mut().insert(Authenticated(Arc::clone(&provider)));
            let resp = next.run(req).await;
            if resp.status().is_success() && method != axum::http::Method::GET && method != axum::http::Method::HEAD {
                state.metrics.provisioned(provider.id.as_str(), kind, method.as_str());
            }
            if let Some(seen) = &seen {
                seen.record(&state, &resp, &body);
            }
            resp
        }
        Err(AuthFailure::InvalidToken) => {
            state.core.count_unauthenticated(&path_provider);
            invalid_token("the access token is invalid, expired or revoked")
        }
        // No provider may take an endpoint's name: the Base URL was copied without its provider.
        Err(AuthFailure::OtherProvider) if scimd_core::provider::is_scim_endpoint(&path_provider) => {
            let rest = original.path().strip_prefix("/scim/v2").unwrap_or("");
            let base = state.urls.base("{provider}");
            let why =
                format!("this URL leaves out the provider: a Base URL is {base}, so this request goes to {base}{rest}");
            ScimFailure::from(ScimError::new(404, None, why)).into_response()
        }
        Err(AuthFailure::OtherProvider) => {
            state.core.count_unauthenticated(&path_provider);
            invalid_token(
                "the access token belongs to another provider: use it at that provider's Base URL, or get a token for this one",
            )
        }
        // A token that could not be checked is no verdict on it: an identity provider told
        // 401 raises an alert and may stop provisioning until a person re-enters it.
        Err(AuthFailure::Unavailable) => ScimFailure::from(ScimError::new(
            503,
            None,
            "the database is unavailable; retry in a few seconds",
        ))
        .with_header(header::RETRY_AFTER, &crate::error::UNAVAILABLE_RETRY_AFTER.to_string())
        .into_response(),
        // The provider's own valid token, from elsewhere: its log shows the refusal (a
        // network rule left behind when the identity provider's addresses changed).
        Err(AuthFailure::NetworkNotAllowed) => {
            let resp = ScimFailure::from(ScimError::new(
                403,
                None,
                format!("requests from {} are not allowed for this provider", peer),
            ))
            .into_response();
            if let Some(seen) = log::Seen::of(&state, &req, &original, &path_provider, peer, started) {
                seen.record(&state, &resp, &[]);
            }
            resp
        }
    }
}

/// RFC 6750 §3.1 `invalid_token`, with the reason in the challenge and in the SCIM body.
fn invalid_token(why: &str) -> Response {
    ScimFailure::from(ScimError::new(401, None, why))
        .with_header(
            header::WWW_AUTHENTICATE,
            &format!("{CHALLENGE}, error=\"invalid_token\", error_description=\"{why}\""),
        )
        .into_response()
}
