//! `scimd`: the server and its command line.

mod cli;
mod clock;
mod commands;
mod config;
mod connections;
mod delivery;
mod keys;
mod lifecycle;
mod request_log;
mod serve;
mod table;
mod tls;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use scimd_core::{Actor, Core, SecretBox};

use cli::{Cli, Command, KeyCmd};
use config::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.log_format.unwrap_or(cli::LogFormat::Text));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error: `RUST_LOG` filters them (default `info`); each line of a
/// request carries its request id.
fn init_logging(format: cli::LogFormat) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(with_quiet_wire(&spec))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, never in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

/// Libraries that see the wire (HTTP framing, TLS, the database protocol) may log headers
/// and bodies, Authorization values among them, at their debug and trace levels. They stay
/// at `info` unless `RUST_LOG` names them explicitly: `RUST_LOG=trace` means scimd's trace.
fn with_quiet_wire(spec: &str) -> String {
    const WIRE: [&str; 7] = [
        "h2",
        "hyper",
        "hyper_util",
        "rustls",
        "tokio_rustls",
        "tokio_postgres",
        "ureq",
    ];
    let mut out = spec.to_owned();
    for krate in WIRE {
        let named = spec
            .split(',')
            .any(|d| d.trim().split(['=', '[', ':']).next() == Some(krate));
        if !named {
            out.push_str(&format!(",{krate}=info"));
        }
    }
    out
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_args = match &cli.command {
        Command::Serve(args) => Some(args),
        _ => None,
    };
    let settings = Settings::resolve(&cli.global, serve_args)?;
    match cli.command {
        // `token` talks to a server; it needs neither database nor key.
        Command::Token(args) => commands::token::run(args),
        Command::Push(args) => commands::push::run(args),
        Command::Serve(_) => serve::run(&settings).await,
        Command::Migrate => {
            open_core(&settings).await?;
            println!(
                "database {} is up to date",
                scimd_store::postgres::redact(&settings.database)
            );
            Ok(())
        }
        Command::Users(cmd) => {
            let core = open_core(&settings).await?;
            commands::population::users(&core, &settings, cmd).await
        }
        Command::Groups(cmd) => {
            let core = open_core(&settings).await?;
            commands::population::groups(&core, &settings, cmd).await
        }
        Command::Purge { dry_run, json } => {
            let core = open_core(&settings).await?;
            commands::lifecycle::purge(&core, &settings, dry_run, json).await
        }
        Command::Admin(cmd) => {
            let core = open_core(&settings).await?;
            commands::admin::run(&core, cmd).await
        }
        Command::Key(KeyCmd::Rotate { new_key_file }) => commands::key::rotate(&settings, &new_key_file).await,
        Command::Backup { file, with_logs } => commands::backup::backup(&settings, &file, with_logs).await,
        Command::Restore { file, force } => commands::backup::restore(&settings, &file, force).await,
        Command::Audit(cmd) => {
            let core = open_core(&settings).await?;
            commands::audit::run(&core, cmd).await
        }
        Command::Provider(cmd) => {
            let core = open_core(&settings).await?;
            commands::provider::run(&core, &settings, cmd).await
        }
        Command::Subscription(cmd) => {
            let core = open_core(&settings).await?;
            let public_url = public_url(&core, &settings, false).await?;
            delivery::configure(&core, &settings, &public_url);
            let urls = scimd_core::views::Urls::new(&public_url);
            commands::events::subscription(&core, &urls, cmd).await
        }
        Command::Events(cmd) => {
            let core = open_core(&settings).await?;
            commands::events::events(&core, cmd).await
        }
    }
}

/// The public URL a command prints Base and Token URLs with: `--public-url` (flag,
/// `SCIMD_PUBLIC_URL` or the configuration file), else the one the server recorded when it
/// started, else one derived from the listen address. Unless given, which one was taken is
/// said on standard error (when `say`), so that a wrong URL is seen before it reaches an
/// identity provider.
pub async fn public_url(core: &Core, settings: &Settings, say: bool) -> anyhow::Result<String> {
    if let Some(url) = &settings.public_url {
        return Ok(url.clone());
    }
    if let Some(url) = core.recorded_public_url().await? {
        if say {
            eprintln!("using the public URL the server recorded: {url} (--public-url to change it)");
        }
        return Ok(url);
    }
    let url = settings.public_url_for(&settings.listen);
    if say {
        eprintln!(
            "using the public URL {url}, derived from the listen address: no server has started on this \
             database yet (--public-url to change it)"
        );
    }
    Ok(url)
}

/// Open the database (migrating it) and the key, and build the domain service.
pub async fn open_core(settings: &Settings) -> anyhow::Result<Arc<Core>> {
    let options = scimd_store::PgOptions {
        pool_size: settings.db_pool_size,
        timeout: settings.db_timeout,
    };
    let store = scimd_store::open(&settings.database, options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A missing key file is made anew only when nothing was sealed with the old one: a new
    // key would make every client secret unreadable in silence.
    let key_missing = !settings.key_file.exists();
    let sealed = if key_missing {
        let failed = |e: scimd_core::StoreError| anyhow::anyhow!("{e}");
        let secrets = store.providers().await.map_err(failed)?.len();
        let webhooks = store.subscriptions().await.map_err(failed)?;
        let webhooks = webhooks.iter().filter(|s| s.secret.is_some()).count();
        secrets + webhooks + store.signing_keys().await.map_err(failed)?.len()
    } else {
        0
    };
    if sealed > 0 && !settings.accept_new_key {
        anyhow::bail!(
            "the key file {} is missing, but the database holds {sealed} sealed secret{} (client secrets, \
             webhook secrets, SET signing keys): \
             put the key file back, or start once with `scimd serve --accept-new-key` to make a new key \
             (every provider's secret is then marked lost and must be rotated)",
            settings.key_file.display(),
            if sealed == 1 { "" } else { "s" }
        );
    }
    config::load_or_create_key(&settings.key_file)?;
    let (keys, source) = keys::KeyFiles::open(&settings.key_file)?;
    let secrets = SecretBox::from_source(&keys, Box::new(source));
    let core = Arc::new(Core::new(store, clock::clock(&settings.key_file), secrets));
    if sealed > 0 {
        let n = core.mark_secrets_lost(&Actor::System).await?;
        tracing::warn!(
            key_file = %settings.key_file.display(),
            providers = n,
            "started with a new key: every provider's client secret is lost; rotate each one"
        );
    }
    Ok(core)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_libraries_stay_at_info_unless_named() {
        let spec = super::with_quiet_wire("trace,h2=debug");
        assert!(spec.starts_with("trace,h2=debug,hyper=info,"), "{spec}");
        assert!(!spec.contains("h2=info"));
        assert!(spec.contains("tokio_postgres=info"));
    }
}
