//! The administrators' side: the console (server-rendered HTML under `/admin`) and the
//! admin API (`/admin/api/v1`), sharing one set of core calls, the input and view types of
//! `scimd_core::{input, views}`, and one error table.

pub mod api;
pub(crate) mod auth;
mod console;
pub(crate) mod failure;
pub(crate) mod html;

use axum::Router;

use crate::AppState;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(api::routes(state.clone()))
        .merge(console::routes(state))
        .layer(axum::middleware::from_fn(auth::no_store))
        .layer(axum::middleware::from_fn(crate::security_headers::pages))
}

/// The provider's Postman collection (v2.1) as a download. It holds the client secret, so
/// building it is an audited reveal.
async fn postman_download(
    state: &AppState,
    id: &str,
    actor: &scimd_core::Actor,
) -> Result<axum::response::Response, scimd_core::CoreError> {
    let (p, collection) = state.core.postman_collection(id, &state.urls, actor).await?;
    Ok(postman_attachment(&p.id, &collection))
}

/// A Postman collection as a file to save, `{provider}.postman_collection.json`, never cached.
pub(crate) fn postman_attachment(
    provider: &scimd_core::ProviderId,
    collection: &serde_json::Value,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let body = serde_json::to_string_pretty(collection).unwrap_or_default();
    let disposition = format!("attachment; filename=\"{provider}.postman_collection.json\"");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
