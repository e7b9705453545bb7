//! Schema migrations, applied in order when a store opens, in one transaction that also holds
//! off any other instance migrating at the same time. Each change is two files, one per
//! dialect, that the `schema_parity` test proves identical in effect (tables, columns,
//! indexes, constraints, triggers). SQLite counts what it applied in `user_version`,
//! PostgreSQL in the `scimd_schema` table.

use scimd_core::StoreError;

use crate::db::{Dialect, Exec, args};

const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_admin.sql"),
    include_str!("../migrations/sqlite/0003_audit_chain.sql"),
    include_str!("../migrations/sqlite/0004_provider_settings.sql"),
    include_str!("../migrations/sqlite/0005_extension_attributes.sql"),
    include_str!("../migrations/sqlite/0006_change_events.sql"),
    include_str!("../migrations/sqlite/0007_server_state.sql"),
    include_str!("../migrations/sqlite/0008_provisioning_log.sql"),
    include_str!("../migrations/sqlite/0009_setup_links.sql"),
    include_str!("../migrations/sqlite/0010_lifecycle.sql"),
];

const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_admin.sql"),
    include_str!("../migrations/postgres/0003_audit_chain.sql"),
    include_str!("../migrations/postgres/0004_provider_settings.sql"),
    include_str!("../migrations/postgres/0005_extension_attributes.sql"),
    include_str!("../migrations/postgres/0006_change_events.sql"),
    include_str!("../migrations/postgres/0007_server_state.sql"),
    include_str!("../migrations/postgres/0008_provisioning_log.sql"),
    include_str!("../migrations/postgres/0009_setup_links.sql"),
    include_str!("../migrations/postgres/0010_lifecycle.sql"),
];

/// The advisory lock held while migrating PostgreSQL, so instances starting together take
/// turns (SQLite's `BEGIN IMMEDIATE` does the same there).
const MIGRATION_LOCK: i64 = 0x5c1d_0001;

fn list(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

/// The schema version this build knows.
pub(crate) fn known() -> i64 {
    debug_assert_eq!(SQLITE.len(), POSTGRES.len());
    SQLITE.len() as i64
}

/// The schema version the database is at.
pub(crate) async fn version(x: &mut dyn Exec) -> Result<i64, StoreError> {
    let row = match x.dialect() {
        Dialect::Sqlite => x.query_one("PRAGMA user_version", &[]).await?,
        Dialect::Postgres => {
            x.query_one("SELECT coalesce(max(version), 0)::int8 FROM scimd_schema", &[])
                .await?
        }
    };
    row.int(0)
}

/// Bring the database up to [`known`]. Runs inside the caller's transaction.
pub(crate) async fn migrate(x: &mut dyn Exec) -> Result<(), StoreError> {
    if x.is_postgres() {
        x.execute("SELECT pg_advisory_xact_lock(?)", args![MIGRATION_LOCK])
            .await?;
        x.batch("CREATE TABLE IF NOT EXISTS scimd_schema (version integer NOT NULL)")
            .await?;
    }
    let at = version(x).await?;
    let known = known();
    if at > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {at}, newer than this scimd understands ({known}); \
             upgrade scimd or use a backup made for this version"
        )));
    }
    if at == known {
        return Ok(());
    }
    for (i, sql) in list(x.dialect()).iter().enumerate().skip(at.max(0) as usize) {
        x.batch(sql)
            .await
            .map_err(|e| StoreError::Backend(format!("migration {} failed: {}", i + 1, StoreError::from(e))))?;
    }
    crate::audit::chain_unchained(x).await?;
    match x.dialect() {
        Dialect::Sqlite => x.batch(&format!("PRAGMA user_version = {known}")).await?,
        Dialect::Postgres => {
            x.batch("DELETE FROM scimd_schema").await?;
            x.execute("INSERT INTO scimd_schema (version) VALUES (?::int4)", args![known])
                .await?;
        }
    }
    Ok(())
}
