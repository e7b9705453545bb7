//! The SQLite store: WAL mode, `synchronous=FULL` (acknowledged means on disk), one writer
//! thread doing group commit, and a small pool of read connections. The CLI and a running
//! server may open the same file at once: SQLite's locking keeps them apart.

mod admins;
mod audit;
mod providers;
mod resources;
mod writer;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use scimd_core::StoreError;
use tokio::sync::Semaphore;

use writer::Writer;

use crate::filter::{Param, fold};

/// Schema migrations, in order; the database's `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_admin.sql"),
    include_str!("../../migrations/sqlite/0003_audit_chain.sql"),
];

const READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    id: u64,
    writer: Writer,
    readers: Arc<ReadPool>,
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The one place where a unique-index violation becomes a domain conflict.
pub(crate) fn conflict_or_backend(e: rusqlite::Error, what: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(what.to_owned())
        }
        _ => backend(e),
    }
}

/// Register the SQL functions the filter fragments use on a connection:
/// `scim_fold(text) -> text` (deterministic, NULL-preserving, the same as [`fold`]).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("scim_fold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Value::Text(fold(&String::from_utf8_lossy(t))),
            other => Value::from(other),
        })
    })
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Int(n) => ToSqlOutput::Owned(Value::Integer(*n)),
            Param::Real(x) => ToSqlOutput::Owned(Value::Real(*x)),
            Param::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        })
    }
}

impl SqliteStore {
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open the database '{path}': {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        // WAL lets readers (and another process such as the CLI) read while one writes.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| StoreError::Backend(format!("cannot use the database '{path}': {e}")))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "the database '{path}' cannot use WAL mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(backend)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(backend)?;
        register_functions(&conn).map_err(backend)?;
        migrate(&conn)?;
        Ok(SqliteStore {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            writer: Writer::start(conn)?,
            readers: Arc::new(ReadPool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(READERS)),
            }),
        })
    }

    /// The pool of connections for longer reads (short reads use each thread's own).
    pub(crate) fn read_pool_stats(&self) -> scimd_core::PoolStats {
        let in_use = READERS.saturating_sub(self.readers.permits.available_permits());
        scimd_core::PoolStats {
            size: READERS,
            in_use,
            idle: self.readers.idle.lock().map(|i| i.len()).unwrap_or(0),
        }
    }

    pub(crate) async fn write<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Copy the write-ahead log into the database file and empty it, on a connection of its
    /// own (the writer's runs every job in a transaction, where checkpoints are refused).
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        let path = self.readers.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path).map_err(backend)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(backend)?;
            if busy != 0 {
                return Err(StoreError::Backend(
                    "another connection kept the checkpoint from finishing".into(),
                ));
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the checkpoint failed: {e}")))?
    }

    /// A short read (an indexed lookup of a few rows) on the calling thread's own
    /// connection. Reads that may scan go through [`SqliteStore::read`] instead.
    pub(crate) fn read_now<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<StoreError>,
    {
        LOCAL_READERS.with(|cell| {
            let mut local = cell
                .try_borrow_mut()
                .map_err(|_| StoreError::Backend("nested read".into()))?;
            let at = match local.iter().position(|(id, _)| *id == self.id) {
                Some(at) => at,
                None => {
                    local.push((self.id, open_reader(&self.readers.path)?));
                    local.len() - 1
                }
            };
            work(&local[at].1)
        })
    }

    /// A read that may take a while, on the blocking pool so it never stalls a request.
    pub(crate) async fn read<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        let permit = Arc::clone(&pool.permits)
            .acquire_owned()
            .await
            .map_err(|_| E::from(StoreError::Backend("the read pool is closed".into())))?;
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = work(&conn);
            pool.give_back(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| E::from(StoreError::Backend(format!("a database read failed: {e}"))))?
    }
}

struct ReadPool {
    path: String,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// A read-only connection with scimd's SQL functions.
fn open_reader(path: &str) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.execute_batch("PRAGMA query_only = ON;").map_err(backend)?;
    // Plans must not depend on bound values: otherwise SQLite re-prepares a cached
    // statement whenever a parameter changes (profiled: a third of a lookup's cost).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
    register_functions(&conn).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

thread_local! {
    /// Each runtime worker thread keeps its own read connection per store, so short reads
    /// run where the request runs: no hand-off to another thread, no lock.
    static LOCAL_READERS: RefCell<Vec<(u64, Connection)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl ReadPool {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        open_reader(&self.path)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let result = (|| {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(backend)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Backend(format!(
                "the database has schema version {version}, newer than this scimd understands ({known}); \
                 upgrade scimd or use a backup made for this version"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            conn.execute_batch(sql)
                .map_err(|e| StoreError::Backend(format!("migration {} failed: {e}", i + 1)))?;
        }
        if version < known {
            audit::chain_unchained(conn)?;
        }
        conn.pragma_update(None, "user_version", known).map_err(backend)?;
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(backend),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
