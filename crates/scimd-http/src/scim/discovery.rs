//! Service provider configuration (RFC 7644 §4, RFC 7643 §5): what this server supports,
//! stated exactly as it works.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::json;

use super::Authenticated;
use crate::AppState;
use crate::error::scim_json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/ServiceProviderConfig", get(service_provider_config))
}

async fn service_provider_config(
    State(state): State<AppState>,
    Extension(Authenticated(p)): Extension<Authenticated>,
) -> Response {
    let base = state.base_url(p.id.as_str());
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd",
        "patch": {"supported": false},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": false, "maxResults": 0},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
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
    scim_json(StatusCode::OK, &body)
}
