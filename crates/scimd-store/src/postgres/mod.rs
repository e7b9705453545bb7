//! The PostgreSQL store, for several scimd instances on one database. Every change and its
//! audit event commit in one transaction; read-modify-writes lock their row
//! (`SELECT ... FOR UPDATE`); uniqueness is the unique indexes' job, as in SQLite. Nothing
//! is kept in process memory but the connection pool. Connections are plain TCP (no TLS).

mod admins;
mod audit;
mod pool;
mod providers;
mod resources;
mod tls;

use std::time::Duration;

use scimd_core::StoreError;
use tokio_postgres::Config;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::filter::Param;
use pool::{Conn, Pool, describe};

/// Schema migrations, in order; `scimd_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_admin.sql"),
    include_str!("../../migrations/postgres/0003_audit_chain.sql"),
];

/// The advisory lock held while migrating, so instances starting together take turns.
const MIGRATION_LOCK: i64 = 0x5c1d_0001;

/// Connection pool size and how long to wait for a connection to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    pub pool_size: usize,
    pub timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

pub struct PgStore {
    pool: Pool,
}

pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(describe(&e))
}

/// The name of the unique index or constraint a statement violated, if that is what failed.
pub(crate) fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (*db.code() == SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}

/// The one place where a unique-index violation becomes a domain conflict.
pub(crate) fn conflict_or_backend(e: tokio_postgres::Error, what: &str) -> StoreError {
    match unique_violation(&e) {
        Some(_) => StoreError::Conflict(what.to_owned()),
        None => backend(e),
    }
}

/// A filter parameter as the driver binds it.
pub(crate) fn pg_param(p: &Param) -> &(dyn ToSql + Sync) {
    match p {
        Param::Text(s) => s,
        Param::Int(n) => n,
        Param::Real(x) => x,
        Param::Bool(b) => b,
    }
}

/// Number the `?` placeholders of generated SQL (`$1`, `$2`, ...), each cast to its
/// parameter's type so that no placeholder's type is left for the server to guess. Single-
/// quoted literals are copied as they are.
pub fn numbered(sql: &str, params: &[Param]) -> String {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut quoted = false;
    let mut n = 0;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let ty = match params.get(n) {
                    Some(Param::Text(_)) | None => "text",
                    Some(Param::Int(_)) => "int8",
                    Some(Param::Real(_)) => "float8",
                    Some(Param::Bool(_)) => "boolean",
                };
                n += 1;
                out.push_str(&format!("${n}::{ty}"));
            }
            _ => out.push(c),
        }
    }
    out
}

/// The lock appends to the audit chain take, for tools that replace the chain.
pub(crate) async fn audit_lock(c: &mut Conn<'_>) -> Result<(), StoreError> {
    audit::lock(c).await
}

/// A driver error with the server's message, when there is one.
pub(crate) fn describe_error(e: &tokio_postgres::Error) -> String {
    describe(e)
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`) and migrate.
    pub async fn open(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let unusable = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!("'{}' is not a usable PostgreSQL URL: {e}", redact(url)))
        };
        let (plain, mode, root) = tls::split_url(url).map_err(|e| unusable(&e))?;
        let mut config: Config = plain.parse().map_err(|e| unusable(&e))?;
        config.ssl_mode(mode.ssl_mode());
        let connector = tls::connector(mode, root.as_deref())?;
        let store = PgStore {
            pool: Pool::new(config, connector, options.pool_size, options.timeout),
        };
        let mut conn = store.pool.get().await?;
        migrate(&mut conn).await?;
        drop(conn);
        Ok(store)
    }

    pub(crate) fn pool_stats(&self) -> scimd_core::PoolStats {
        self.pool.stats()
    }

    pub(crate) async fn conn(&self) -> Result<Conn<'_>, StoreError> {
        self.pool.get().await
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn migrate(conn: &mut Conn<'_>) -> Result<(), StoreError> {
    conn.begin().await?;
    let outcome = migrate_in_transaction(conn).await;
    conn.end(outcome).await
}

async fn migrate_in_transaction(conn: &mut Conn<'_>) -> Result<(), StoreError> {
    conn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    conn.batch("CREATE TABLE IF NOT EXISTS scimd_schema (version integer NOT NULL)")
        .await
        .map_err(backend)?;
    let version: i32 = conn
        .query_one("SELECT coalesce(max(version), 0) FROM scimd_schema", &[])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this scimd understands ({known}); \
             upgrade scimd or use a backup made for this version"
        )));
    }
    if version == known {
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        conn.batch(sql)
            .await
            .map_err(|e| StoreError::Backend(format!("migration {} failed: {}", i + 1, describe(&e))))?;
    }
    audit::chain_unchained(conn).await?;
    conn.batch("DELETE FROM scimd_schema").await.map_err(backend)?;
    conn.execute("INSERT INTO scimd_schema (version) VALUES ($1)", &[&known])
        .await
        .map_err(backend)?;
    Ok(())
}

/// Creating and dropping databases, for tests and tooling that need a fresh one.
pub mod admin {
    use scimd_core::StoreError;
    use tokio_postgres::NoTls;

    use super::{backend, describe};

    /// `url` with its database name replaced by `name`.
    pub fn database_url(url: &str, name: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let path_start = base[authority_start..]
            .find('/')
            .map_or(base.len(), |i| authority_start + i);
        let mut out = format!("{}/{name}", &base[..path_start]);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }

    async fn admin_exec(admin_url: &str, sql: &str) -> Result<(), StoreError> {
        let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e))))?;
        let task = tokio::spawn(connection);
        let out = client.batch_execute(sql).await.map_err(backend);
        drop(client);
        let _ = task.await;
        out
    }

    /// Create the database `name` (letters, digits and `_` only) through the server at
    /// `admin_url`, and return its URL.
    pub async fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        check_name(name)?;
        admin_exec(
            admin_url,
            &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"),
        )
        .await?;
        Ok(database_url(admin_url, name))
    }

    /// Drop the database `name`, closing its connections.
    pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        admin_exec(admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
    }

    fn check_name(name: &str) -> Result<(), StoreError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::Backend(format!("'{name}' is not a plain database name")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_typed_outside_literals() {
        let params = [Param::Text("a".into()), Param::Int(1), Param::Bool(true)];
        assert_eq!(
            numbered("x = ? AND y = '?' AND z > ? AND w IS ?", &params),
            "x = $1::text AND y = '?' AND z > $2::int8 AND w IS $3::boolean"
        );
    }

    #[test]
    fn database_urls_swap_their_database() {
        assert_eq!(
            admin::database_url("postgres://u:p@h:5432/postgres", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(
            admin::database_url("postgres://u@h/postgres?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(admin::database_url("postgresql://h:1", "t1"), "postgresql://h:1/t1");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://scimd:s3cret@db:5432/scimd"),
            "postgres://scimd:***@db:5432/scimd"
        );
        assert_eq!(redact("postgres://db/scimd"), "postgres://db/scimd");
    }
}
