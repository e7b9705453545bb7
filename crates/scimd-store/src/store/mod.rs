//! The [`Store`](scimd_core::Store) for both databases, each operation written once against
//! [`Exec`](crate::db::Exec): providers and tokens (`providers`), users, groups and
//! memberships (`resources`), administrators and the console's reads (`admins`), and the
//! audit chain every change appends to (`audit`).

pub(crate) mod admins;
pub(crate) mod audit;
pub(crate) mod providers;
pub(crate) mod resources;

use scimd_core::StoreError;

use crate::db::Db;
use crate::db::postgres::{PgDb, PgOptions};
use crate::db::sqlite::SqliteDb;

/// scimd's store on SQLite or PostgreSQL.
pub struct SqlStore {
    pub(crate) db: Db,
}

impl SqlStore {
    /// Open (creating if needed) and migrate the SQLite database file at `path`.
    pub fn sqlite(path: &str) -> Result<Self, StoreError> {
        Ok(SqlStore {
            db: Db::Sqlite(SqliteDb::open(path)?),
        })
    }

    /// Connect to PostgreSQL at `url` and migrate.
    pub async fn postgres(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        Ok(SqlStore {
            db: Db::Postgres(PgDb::open(url, options).await?),
        })
    }
}
