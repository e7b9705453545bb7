//! The authorization server side: the client-credentials grant (RFC 6749 §4.4, client
//! authentication per §2.3.1), token revocation (RFC 7009) and server metadata (RFC 8414).

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::error::OAuthError;

/// The scope a token carries: the SCIM API of its provider. Requested scopes are accepted
/// and answered with this one (RFC 6749 §3.3 lets the server narrow them).
const SCOPE: &str = "scim";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token).fallback(method_not_allowed))
        .route("/oauth2/revoke", post(revoke).fallback(method_not_allowed))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

async fn method_not_allowed() -> Response {
    let mut resp = OAuthError::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "use POST with an application/x-www-form-urlencoded body",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

struct Credentials {
    id: String,
    secret: String,
    basic: bool,
}

impl Credentials {
    /// A refusal in OAuth terms; a failed authentication is answered in the way the client
    /// authenticated (401 with a Basic challenge for the Authorization header).
    fn refused(&self, e: scimd_core::CoreError) -> OAuthError {
        let e = OAuthError::from(e);
        if e.code == "invalid_client" && e.retry_after.is_none() {
            OAuthError::invalid_client(self.basic)
        } else {
            e
        }
    }
}

/// The form body as name/value pairs; each parameter at most once (RFC 6749 §3.2).
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ctype.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| OAuthError::invalid_request("the body is not a valid form"))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(OAuthError::invalid_request(format!(
                "the parameter '{name}' is repeated"
            )));
        }
    }
    Ok(pairs)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Client authentication: HTTP Basic (each part form-urlencoded, RFC 6749 §2.3.1) or
/// `client_id`/`client_secret` in the body — one method only, and never in the query.
fn credentials(
    headers: &HeaderMap,
    query: Option<&str>,
    pairs: &[(String, String)],
) -> Result<Credentials, OAuthError> {
    if let Some(q) = query {
        let q: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        if q.iter().any(|(n, _)| n == "client_secret" || n == "client_id") {
            return Err(OAuthError::invalid_request(
                "client credentials must not be sent in the URL",
            ));
        }
    }
    let in_body = param(pairs, "client_secret").is_some();
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth {
        Some(value) => {
            if in_body {
                return Err(OAuthError::invalid_request(
                    "use either the Authorization header or the body for client credentials, not both",
                ));
            }
            let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(true));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client(true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client(true))?;
            Ok(Credentials {
                id: scimd_core::input::form_decode(id),
                secret: scimd_core::input::form_decode(secret),
                basic: true,
            })
        }
        None => match (param(pairs, "client_id"), param(pairs, "client_secret")) {
            (Some(id), Some(secret)) => Ok(Credentials {
                id: id.to_owned(),
                secret: secret.to_owned(),
                basic: false,
            }),
            _ => Err(OAuthError::invalid_client(true)),
        },
    }
}

/// The token endpoint, counted: every refusal by its reason and provider (when the client id
/// names one), every token by its provider.
async fn token(
    State(state): State<AppState>,
    peer: Extension<ClientAddr>,
    query: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut client_id = None;
    match issue(&state, peer, query, headers, body, &mut client_id).await {
        Ok(resp) => resp,
        Err(e) => {
            let reason = if e.retry_after.is_some() {
                "rate_limited"
            } else {
                e.code
            };
            // A refused request is looked up once more only while it is not being limited.
            let provider = match client_id.as_deref() {
                Some(id) if reason != "rate_limited" => state.core.provider_of_client(id).await,
                _ => None,
            };
            state
                .metrics
                .token_failed(provider.as_ref().map_or("", |p| p.as_str()), reason);
            e.into_response()
        }
    }
}

async fn issue(
    state: &AppState,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
    client_id: &mut Option<String>,
) -> Result<Response, OAuthError> {
    let pairs = form(&headers, &body)?;
    let creds = credentials(&headers, query.as_deref(), &pairs)?;
    *client_id = Some(creds.id.clone());
    match param(&pairs, "grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ));
        }
    }
    let issued = state
        .core
        .issue_token(&creds.id, &creds.secret, peer)
        .await
        .map_err(|e| creds.refused(e))?;
    state.metrics.token_issued(issued.provider.id.as_str());
    let expires_in = (issued.record.expires.seconds() - issued.record.created.seconds()).max(0);
    let mut body = json!({
        "access_token": issued.token.as_str(),
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if param(&pairs, "scope").is_some() {
        body["scope"] = json!(SCOPE);
    }
    tracing::info!(provider = %issued.provider.id, token_id = %issued.record.id, "issued an access token");
    Ok(no_store(Json(body).into_response()))
}

fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// RFC 7009: the client proves who it is; an unknown token is answered 200 all the same.
async fn revoke(
    State(state): State<AppState>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let pairs = form(&headers, &body)?;
    let creds = credentials(&headers, query.as_deref(), &pairs)?;
    let token = param(&pairs, "token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?
        .to_owned();
    let provider = state
        .core
        .authenticate_client(&creds.id, &creds.secret, peer)
        .await
        .map_err(|e| creds.refused(e))?;
    state
        .core
        .revoke_presented(&provider, &token)
        .await
        .map_err(OAuthError::from)?;
    Ok(no_store(StatusCode::OK.into_response()))
}

async fn metadata(State(state): State<AppState>) -> Json<serde_json::Value> {
    let base = state.urls.public();
    Json(json!({
        "issuer": base,
        "token_endpoint": state.token_url(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": [SCOPE],
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}
