//! `scimd serve`: bind, say where, serve until SIGINT or SIGTERM, then finish in-flight work.

use std::net::SocketAddr;

use anyhow::Context;
use axum::serve::ListenerExt;
use scimd_http::{AppState, app};
use tokio::net::TcpListener;

use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    // Certificate problems are reported before anything else happens.
    let tls = settings.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let core = crate::open_core(settings).await?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr()?;
    let public_url = settings.public_url_for(&local.to_string());
    let state = AppState::new(core, &public_url)
        .with_trusted_proxies(settings.trusted_proxies.clone())
        .serving_https(tls.is_some());
    let scheme = if tls.is_some() { "https" } else { "http" };

    println!("scimd {} listening on {scheme}://{local}", env!("CARGO_PKG_VERSION"));
    println!("  database:   {}", scimd_store::postgres::redact(&settings.database));
    println!("  public URL: {public_url}");
    println!("  token URL:  {}", state.token_url());
    println!("Register a first identity provider with:");
    println!("  scimd provider add --name \"Okta\" --population internal");
    tracing::info!(address = %local, "serving");

    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the server stopped with an error")?,
        Some(acceptor) => {
            // `tap_io` lends the TLS listener axum's peer-address plumbing.
            let listener = crate::tls::TlsListener::new(listener, acceptor)?.tap_io(|_| ());
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("the server stopped with an error")?
        }
    }
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
