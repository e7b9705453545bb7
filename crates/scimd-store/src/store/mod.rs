//! The [`Store`](scimd_core::Store) for both databases, each operation written once against
//! [`Exec`](crate::db::Exec): providers and tokens (`providers`), users, groups and
//! memberships (`resources`), administrators and the console's reads (`admins`); every
//! change appends to the audit chain (`crate::audit`) in its transaction.

pub(crate) mod access;
pub(crate) mod admins;
pub(crate) mod deleted;
pub(crate) mod events;
pub(crate) mod guard;
pub(crate) mod lifecycle;
pub(crate) mod log;
pub(crate) mod providers;
pub(crate) mod resources;
pub(crate) mod setup_links;

use scimd_core::StoreError;

use crate::db::Db;
use crate::db::postgres::{PgDb, PgOptions};
use crate::db::sqlite::{self, SqliteDb};
use crate::migrations;

/// scimd's store on SQLite or PostgreSQL.
pub struct SqlStore {
    pub(crate) db: Db,
}

impl SqlStore {
    /// Open (creating if needed) and migrate the SQLite database file at `path`.
    pub fn sqlite(path: &str) -> Result<Self, StoreError> {
        let mut conn = sqlite::open_conn(path)?;
        sqlite::exclusive(&mut conn, Box::new(|x| Box::pin(migrations::migrate(x))))?;
        Ok(SqlStore {
            db: Db::Sqlite(SqliteDb::start(path, conn)?),
        })
    }

    /// Connect to PostgreSQL at `url` and migrate.
    pub async fn postgres(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let db = PgDb::connect(url, options)?;
        db.transaction(Box::new(|x| Box::pin(migrations::migrate(x)))).await?;
        Ok(SqlStore { db: Db::Postgres(db) })
    }
}
