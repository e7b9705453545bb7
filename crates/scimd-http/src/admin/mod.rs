//! The administrators' side: the console (server-rendered HTML under `/admin`) and the
//! admin API (`/admin/api/v1`), sharing one set of core calls and one JSON shape.

pub mod api;
mod auth;
mod console;
mod html;
pub mod shared;

use axum::Router;

use crate::AppState;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(api::routes(state.clone()))
        .merge(console::routes(state))
        .layer(axum::middleware::from_fn(auth::security_headers))
}
