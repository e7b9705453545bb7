//! scimd's storage: the [`Store`](scimd_core::Store) for SQLite, the embedded default, and
//! for PostgreSQL, for several instances on one database — one implementation of every
//! operation (`store`), over an executor layer that holds what the two databases do
//! differently (`db`). A database URL selects the backend: `sqlite://path/to/file.db` (or a
//! bare path), or `postgres://user:pass@host/db`.

mod audit;
pub mod backup;
mod db;
pub mod filter;
mod migrations;
mod page;
mod rows;
mod store;
mod stream;

use std::sync::Arc;

use scimd_core::{Store, StoreError};

pub use db::postgres::PgOptions;
pub use store::SqlStore;

/// What only PostgreSQL has: making and dropping databases (tests, tooling), and URLs
/// without their passwords for messages.
pub mod postgres {
    pub use crate::db::postgres::{PgOptions, admin, redact};
}

/// Is `url` a PostgreSQL URL?
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Open the database named by `url`, creating and migrating it as needed. `options` size
/// the PostgreSQL connection pool; SQLite has its own fixed arrangement.
pub async fn open(url: &str, options: PgOptions) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(open_sql(url, options).await?))
}

pub(crate) async fn open_sql(url: &str, options: PgOptions) -> Result<SqlStore, StoreError> {
    if is_postgres(url) {
        return SqlStore::postgres(url, options).await;
    }
    SqlStore::sqlite(&sqlite_path(url)?)
}

/// `sqlite://./scimd.db`, `sqlite:scimd.db`, `sqlite:///abs/path.db` or a plain path.
pub fn sqlite_path(url: &str) -> Result<String, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::Backend(format!("'{url}' names no database file")));
    }
    if url.contains("://") && !url.starts_with("sqlite://") {
        return Err(StoreError::Backend(format!(
            "'{url}' is not a supported database URL: use sqlite://FILE or postgres://USER:PASSWORD@HOST/DATABASE"
        )));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite://./scimd.db").ok().as_deref(), Some("./scimd.db"));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/scimd.db").ok().as_deref(),
            Some("/var/lib/scimd.db")
        );
        assert_eq!(sqlite_path("data.db").ok().as_deref(), Some("data.db"));
        assert!(sqlite_path("mysql://x").is_err());
        assert!(sqlite_path("sqlite://").is_err());
    }
}
