//! `scimd serve`: bind, say where, serve until SIGINT or SIGTERM, then finish in-flight work,
//! write the provisioning log's last entries, and let go of the database.

use std::sync::Arc;

use anyhow::Context;
use scimd_http::limits::Limits;
use scimd_http::{AppState, app};
use tokio::net::TcpListener;

use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    // Certificate problems are reported before anything else happens.
    let (tls, certificate) = match settings.tls.as_ref().map(crate::tls::acceptor).transpose()? {
        Some((acceptor, certificate)) => (Some(acceptor), Some(certificate)),
        None => (None, None),
    };
    let core = crate::open_core(settings).await?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr()?;
    let public_url = settings.public_url_for(&local.to_string());
    // `scimd provider add` in another terminal prints its Base URL with this one.
    core.record_public_url(&public_url).await?;
    crate::delivery::configure(&core, settings, &public_url);
    core.configure_log(settings.log);
    let state = AppState::new(Arc::clone(&core), &public_url)
        .with_trusted_proxies(settings.trusted_proxies.clone())
        .serving_https(tls.is_some())
        .with_limits(Limits {
            body_timeout: settings.body_timeout,
        });
    let scheme = if tls.is_some() { "https" } else { "http" };

    println!("scimd {} listening on {scheme}://{local}", env!("CARGO_PKG_VERSION"));
    println!("  database:   {}", scimd_store::postgres::redact(&settings.database));
    println!("  public URL: {public_url}");
    println!("  token URL:  {}", state.token_url());
    println!("  console:    {public_url}/admin (create an administrator: scimd admin add NAME --password-stdin)");
    println!("Register a first identity provider with:");
    println!("  scimd provider add --name \"Okta\" --population internal");
    tracing::info!(address = %local, "serving");
    let holder = crate::delivery::holder();
    let deliverer = crate::delivery::start(Arc::clone(&core), Arc::clone(&state.metrics), holder.clone());
    let lifecycle = crate::lifecycle::start(Arc::clone(&core), holder);
    let watcher = certificate.map(crate::tls::Certificate::watch);
    let log_writer = crate::request_log::start(Arc::clone(&core), Arc::clone(&state.metrics));

    crate::connections::serve(listener, app(state), settings.connections, tls, shutdown_signal()).await;
    deliverer.abort();
    lifecycle.abort();
    if let Some(w) = watcher {
        w.abort();
    }
    log_writer.finish().await;
    core.close().await;
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
