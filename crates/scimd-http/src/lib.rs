//! scimd's HTTP surface: the OAuth 2.0 token endpoint, every provider's SCIM 2.0 Base URL,
//! and health probes. [`app`] builds the whole service, so tests can serve it on port 0.

pub mod admin;
pub mod client_addr;
pub mod error;
mod events;
mod fallback;
mod health;
pub mod limits;
pub mod metrics;
mod oauth;
pub mod request_id;
mod scim;
pub mod security_headers;
pub mod setup;

use std::sync::Arc;

use axum::Router;
use scimd_core::Core;
use scimd_core::views::Urls;

pub use error::{Problem, ScimFailure, problem};

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub metrics: Arc<metrics::Metrics>,
    /// The externally visible origin: Base URLs and Token URLs are derived from it.
    pub urls: Arc<Urls>,
    pub limits: limits::Limits,
    /// Mark console cookies `Secure`: set when the public URL is https (or scimd terminates
    /// TLS itself), so a session cookie never travels in clear.
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` is believed (see [`client_addr`]).
    pub trusted_proxies: Arc<[scimd_core::Cidr]>,
    /// scimd terminates TLS itself: responses carry `Strict-Transport-Security`.
    pub https: bool,
}

impl AppState {
    pub fn new(core: Arc<Core>, public_url: &str) -> Self {
        AppState {
            core,
            metrics: Arc::default(),
            urls: Arc::new(Urls::new(public_url)),
            limits: limits::Limits::default(),
            secure_cookies: public_url.starts_with("https://"),
            trusted_proxies: Arc::new([]),
            https: false,
        }
    }

    /// scimd serves HTTPS itself: responses carry HSTS, and console cookies are `Secure`.
    pub fn serving_https(mut self, https: bool) -> Self {
        self.https = https;
        self.secure_cookies |= https;
        self
    }

    /// Believe `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: Vec<scimd_core::Cidr>) -> Self {
        self.trusted_proxies = proxies.into();
        self
    }

    pub fn with_limits(self, limits: limits::Limits) -> Self {
        AppState { limits, ..self }
    }

    /// The hook for TLS termination inside scimd: cookies are `Secure` when it is on.
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    pub fn base_url(&self, provider: &str) -> String {
        self.urls.base(provider)
    }

    pub fn token_url(&self) -> String {
        self.urls.token()
    }
}

/// The whole service. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`:
/// network rules need the peer address.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(oauth::routes().layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::read_form_body,
        )))
        .merge(scim::routes(state.clone()))
        .merge(events::routes())
        .merge(admin::routes(state.clone()))
        .merge(setup::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .fallback(fallback::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn_with_state(
            security_headers::Https(state.https),
            security_headers::every_response,
        ))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}
