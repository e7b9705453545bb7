//! `scimd serve`: bind, say where, serve until SIGINT or SIGTERM, then finish in-flight work
//! and let go of the database.

use std::sync::Arc;

use anyhow::Context;
use scimd_http::limits::Limits;
use scimd_http::{AppState, app};
use tokio::net::TcpListener;

use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let core = crate::open_core(settings).await?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr()?;
    let public_url = settings.public_url_for(&local.to_string());
    // Console cookies are `Secure` when browsers reach scimd over https. When scimd
    // terminates TLS itself (--tls-cert/--tls-key), pass `true` here too.
    let secure_cookies = public_url.starts_with("https://");
    let state = AppState::new(Arc::clone(&core), &public_url)
        .with_secure_cookies(secure_cookies)
        .with_limits(Limits {
            body_timeout: settings.body_timeout,
        });

    println!("scimd {} listening on http://{local}", env!("CARGO_PKG_VERSION"));
    println!("  database:   {}", scimd_store::postgres::redact(&settings.database));
    println!("  public URL: {public_url}");
    println!("  token URL:  {}", state.token_url());
    println!("  console:    {public_url}/admin (create an administrator: scimd admin add NAME --password-stdin)");
    println!("Register a first identity provider with:");
    println!("  scimd provider add --name \"Okta\" --population internal");
    tracing::info!(address = %local, "serving");

    crate::connections::serve(listener, app(state), settings.connections, shutdown_signal()).await;
    core.store().close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
