//! Configuration: flags, then `SCIMD_*` variables (clap reads both), then the TOML file,
//! then defaults. Unknown keys in the file are refused, so a typo never passes silently.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use scimd_core::request_log::{LogConfig, LogLimits, parse_max, parse_retention};
use serde::Deserialize;

use crate::cli::{GlobalOpts, ServeArgs, Switch};
use crate::connections::{
    ConnectionLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_PENDING_PER_ADDRESS, DEFAULT_SHUTDOWN_TIMEOUT,
    default_max_connections,
};
use crate::tls::TlsFiles;

pub const DEFAULT_DATABASE: &str = "sqlite://./scimd.db";
pub const DEFAULT_KEY_FILE: &str = "./scimd.key";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DB_POOL_SIZE: usize = 16;
pub const DEFAULT_DB_TIMEOUT: &str = "5s";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database: Option<String>,
    db_pool_size: Option<usize>,
    db_timeout: Option<String>,
    key_file: Option<PathBuf>,
    public_url: Option<String>,
    listen: Option<String>,
    max_connections: Option<usize>,
    max_pending_per_address: Option<usize>,
    header_timeout: Option<String>,
    body_timeout: Option<String>,
    shutdown_timeout: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    receiver_allow: Option<Vec<String>>,
    delivery_give_up: Option<String>,
    delivery_first_retry: Option<String>,
    event_retention: Option<String>,
    provisioning_log: Option<Switch>,
    log_failure_retention: Option<String>,
    log_failure_max: Option<u64>,
    log_success_max: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: String,
    /// PostgreSQL connection pool: size, and the wait for a connection.
    pub db_pool_size: usize,
    pub db_timeout: std::time::Duration,
    pub key_file: PathBuf,
    /// `serve --accept-new-key`: a missing key file may be replaced although sealed secrets
    /// exist.
    pub accept_new_key: bool,
    /// As configured; `None` means "derive from the listen address".
    pub public_url: Option<String>,
    pub listen: String,
    /// `scimd serve`: connections, and the time clients have to send a request.
    pub connections: ConnectionLimits,
    pub body_timeout: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<scimd_core::Cidr>,
    /// The certificate chain and key files to serve HTTPS with; `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Receivers of change events may be at these addresses (and reached over plain http).
    pub receiver_allow: Vec<scimd_core::Cidr>,
    pub delivery_give_up: std::time::Duration,
    pub delivery_first_retry: std::time::Duration,
    pub event_retention: std::time::Duration,
    /// The provisioning log: on or off, and the server's retention.
    pub log: LogConfig,
}

impl Settings {
    pub fn resolve(global: &GlobalOpts, serve: Option<&ServeArgs>) -> anyhow::Result<Settings> {
        let file = match &global.config {
            Some(path) => {
                let text = fs::read_to_string(path)
                    .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?
            }
            None => FileConfig::default(),
        };
        let log = log_config(serve, &file)?;
        let serve_flag = |get: fn(&ServeArgs) -> Option<String>| serve.and_then(get);
        let listen = serve_flag(|a| a.listen.clone())
            .or_else(|| std::env::var("SCIMD_LISTEN").ok().filter(|s| !s.is_empty()))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let public_url = global.public_url.clone().or(file.public_url);
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("the public URL '{url}' must start with http:// or https://");
        }
        let db_pool_size = global
            .db_pool_size
            .or(file.db_pool_size)
            .unwrap_or(DEFAULT_DB_POOL_SIZE);
        if db_pool_size == 0 {
            bail!("the database pool size must be at least 1");
        }
        let db_timeout = global
            .db_timeout
            .clone()
            .or(file.db_timeout)
            .unwrap_or_else(|| DEFAULT_DB_TIMEOUT.to_owned());
        let db_timeout = duration("database timeout", &db_timeout)?;
        let max_connections = serve
            .and_then(|a| a.max_connections)
            .or(file.max_connections)
            .unwrap_or_else(|| serve.map_or(0, |_| default_max_connections()));
        if max_connections == 0 && serve.is_some() {
            bail!("the connection limit must be at least 1");
        }
        let max_pending_per_address = serve
            .and_then(|a| a.max_pending_per_address)
            .or(file.max_pending_per_address)
            .unwrap_or(DEFAULT_MAX_PENDING_PER_ADDRESS);
        if max_pending_per_address == 0 {
            bail!("the pending connections allowed per address must be at least 1");
        }
        let timeout = |name: &str, flag: Option<String>, file: Option<String>, default: std::time::Duration| {
            flag.or(file).map_or(Ok(default), |t| duration(name, &t))
        };
        let connections = ConnectionLimits {
            max_connections,
            max_pending_per_address,
            header_timeout: timeout(
                "header timeout",
                serve_flag(|a| a.header_timeout.clone()),
                file.header_timeout,
                DEFAULT_HEADER_TIMEOUT,
            )?,
            shutdown_timeout: timeout(
                "shutdown timeout",
                serve_flag(|a| a.shutdown_timeout.clone()),
                file.shutdown_timeout,
                DEFAULT_SHUTDOWN_TIMEOUT,
            )?,
        };
        let body_timeout = timeout(
            "body timeout",
            serve_flag(|a| a.body_timeout.clone()),
            file.body_timeout,
            scimd_http::limits::DEFAULT_BODY_TIMEOUT,
        )?;
        let trusted_proxies = match serve.and_then(|s| s.trusted_proxies.as_deref()) {
            Some(list) => parse_cidrs("trusted proxies", list.split(','))?,
            None => parse_cidrs(
                "trusted proxies",
                file.trusted_proxies.iter().flatten().map(String::as_str),
            )?,
        };
        let receiver_allow = match global.receiver_allow.as_deref() {
            Some(list) => parse_cidrs("receiver allow", list.split(','))?,
            None => parse_cidrs(
                "receiver allow",
                file.receiver_allow.iter().flatten().map(String::as_str),
            )?,
        };
        let delivery_give_up = timeout(
            "delivery give-up",
            serve_flag(|a| a.delivery_give_up.clone()),
            file.delivery_give_up,
            std::time::Duration::from_secs(3 * 86_400),
        )?;
        let delivery_first_retry = timeout(
            "delivery first retry",
            serve_flag(|a| a.delivery_first_retry.clone()),
            file.delivery_first_retry,
            std::time::Duration::from_secs(1),
        )?;
        let event_retention = timeout(
            "event retention",
            serve_flag(|a| a.event_retention.clone()),
            file.event_retention,
            std::time::Duration::from_secs(7 * 86_400),
        )?;
        let tls = match (
            serve.and_then(|s| s.tls_cert.clone()).or(file.tls_cert),
            serve.and_then(|s| s.tls_key.clone()).or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate chain)"),
        };
        Ok(Settings {
            trusted_proxies,
            tls,
            receiver_allow,
            delivery_give_up,
            delivery_first_retry,
            event_retention,
            log,
            database: global
                .database
                .clone()
                .or(file.database)
                .unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
            db_pool_size,
            db_timeout,
            key_file: global
                .key_file
                .clone()
                .or(file.key_file)
                .unwrap_or_else(|| DEFAULT_KEY_FILE.into()),
            accept_new_key: serve.is_some_and(|s| s.accept_new_key),
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            listen,
            connections,
            body_timeout,
        })
    }

    /// The public URL, or one derived from where the server listens (an unspecified address
    /// becomes `localhost`).
    pub fn public_url_for(&self, listen: &str) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host_port = match listen.rsplit_once(':') {
            Some((host, port)) if host == "0.0.0.0" || host == "[::]" || host == "::" => format!("localhost:{port}"),
            _ => listen.to_owned(),
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host_port}")
    }
}

/// The provisioning log's settings: flags (or their variables), then the file, then the
/// defaults (on; failures 7 days and 100,000, successes 10,000 per provider).
fn log_config(serve: Option<&ServeArgs>, file: &FileConfig) -> anyhow::Result<LogConfig> {
    let defaults = LogLimits::default();
    let enabled = serve.and_then(|s| s.provisioning_log).or(file.provisioning_log) != Some(Switch::Off);
    let retention = match serve
        .and_then(|s| s.log_failure_retention.clone())
        .or_else(|| file.log_failure_retention.clone())
    {
        Some(t) => parse_retention(&t).map_err(|e| anyhow::anyhow!("--log-failure-retention: {e}"))?,
        None => defaults.failure_retention_seconds,
    };
    let count = |flag: Option<&String>, file: Option<u64>, name: &str, default: u64| -> anyhow::Result<u64> {
        match (flag, file) {
            (Some(t), _) => parse_max(name, t).map_err(|e| anyhow::anyhow!("{e}")),
            (None, Some(n)) => parse_max(name, &n.to_string()).map_err(|e| anyhow::anyhow!("{e}")),
            (None, None) => Ok(default),
        }
    };
    Ok(LogConfig {
        enabled,
        limits: LogLimits {
            failure_retention_seconds: retention,
            failure_max: count(
                serve.and_then(|s| s.log_failure_max.as_ref()),
                file.log_failure_max,
                "--log-failure-max",
                defaults.failure_max,
            )?,
            success_max: count(
                serve.and_then(|s| s.log_success_max.as_ref()),
                file.log_success_max,
                "--log-success-max",
                defaults.success_max,
            )?,
        },
    })
}

/// A duration typed in a command's flag (`24h`, `7d`, ...), with the flag's name in the error.
pub fn parse_duration_flag(name: &str, text: &str) -> anyhow::Result<std::time::Duration> {
    duration(name, text)
}

fn duration(name: &str, text: &str) -> anyhow::Result<std::time::Duration> {
    parse_timeout(text)
        .ok_or_else(|| anyhow::anyhow!("the {name} '{text}' is not a duration such as 5s, 500ms, 1m, 24h or 7d"))
}

/// CIDR blocks from a list, blanks skipped; the first bad one is the error.
fn parse_cidrs<'a>(setting: &str, items: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<scimd_core::Cidr>> {
    items
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e: String| anyhow::anyhow!("{setting}: {e}")))
        .collect()
}

/// A positive duration: `500ms`, `5s`, `2m`, or a number of seconds.
fn parse_timeout(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => n,
        "" | "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// Read the 32-byte key, creating it (mode 0600, never overwriting) when absent.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    match fs::read(path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "the key file {} must hold exactly 32 bytes (it has {})",
                    path.display(),
                    bytes.len()
                )
            })?;
            warn_if_readable_by_others(path);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            scimd_core::crypto::random_bytes(&mut key);
            // Written whole under a temporary name, then linked into place: another process
            // starting at the same moment sees either no key or the complete one.
            let tmp = crate::keys::write_beside(path, &key)
                .with_context(|| format!("cannot create the key file {}", path.display()))?;
            let linked = fs::hard_link(&tmp, path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "created a new key file");
                    Ok(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(path),
                Err(e) => Err(e).with_context(|| format!("cannot create the key file {}", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the key file is readable by other users; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(trusted: Option<&str>) -> ServeArgs {
        ServeArgs {
            trusted_proxies: trusted.map(str::to_owned),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn trusted_proxies_and_tls_come_from_the_flag_else_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("scimd.toml");
        fs::write(
            &file,
            "trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let global = GlobalOpts {
            config: Some(file),
            ..GlobalOpts::default()
        };
        let from_file = Settings::resolve(&global, Some(&serve_args(None))).unwrap_or_else(|e| panic!("{e}"));
        let shown: Vec<String> = from_file.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32"]);
        assert!(from_file.tls.is_some());
        assert!(
            from_file
                .public_url_for("0.0.0.0:8443")
                .starts_with("https://localhost:8443")
        );
        let flag =
            Settings::resolve(&global, Some(&serve_args(Some(" 192.0.2.1 ,")))).unwrap_or_else(|e| panic!("{e}"));
        let shown: Vec<String> = flag.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["192.0.2.1/32"],
            "the flag (or SCIMD_TRUSTED_PROXIES) replaces the file's list"
        );
        assert!(Settings::resolve(&global, Some(&serve_args(Some("10.0.0.0/99")))).is_err());
    }

    #[test]
    fn database_timeouts_take_a_unit() {
        use std::time::Duration;
        assert_eq!(parse_timeout("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_timeout("0s"), None);
        assert_eq!(parse_timeout("soon"), None);
    }

    #[test]
    fn serve_limits_come_from_flags_then_the_file_then_defaults() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scimd.toml");
        fs::write(
            &file,
            "max_connections = 7\nheader_timeout = \"2s\"\nbody_timeout = \"3s\"\n",
        )
        .unwrap();
        let global = GlobalOpts {
            config: Some(file),
            ..GlobalOpts::default()
        };
        let serve = ServeArgs {
            header_timeout: Some("500ms".into()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(&global, Some(&serve)).unwrap();
        assert_eq!(s.connections.max_connections, 7);
        assert_eq!(s.connections.header_timeout, Duration::from_millis(500));
        assert_eq!(s.body_timeout, Duration::from_secs(3));
        assert_eq!(s.connections.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
        let bad = ServeArgs {
            max_connections: Some(0),
            ..serve
        };
        assert!(Settings::resolve(&global, Some(&bad)).is_err());
    }
}
