//! SQLite: WAL mode, `synchronous=FULL` (acknowledged means on disk), one writer thread doing
//! group commit, and read connections — one per runtime thread for short reads, a small
//! pool for longer ones. The CLI and a running server may open the same file at once:
//! SQLite's locking keeps them apart. Statements run synchronously: the futures [`Exec`]
//! returns here are ready at once, and [`run_now`] drives them in place.

mod writer;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql, params_from_iter};
use scimd_core::{PoolStats, StoreError};
use tokio::sync::Semaphore;

use super::{Arg, Cell, DbError, Dialect, Exec, Row, Work, run_now};
use crate::filter::fold;
use writer::Writer;

const READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A SQLite connection as an [`Exec`]. It owns its connection (one thread uses it at a
/// time), so that it may be handed to work as `&mut dyn Exec`.
pub(crate) struct SqliteConn {
    conn: Connection,
}

/// Is this SQLite's "database or disk is full"?
pub(crate) fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DiskFull)
}

fn db_error(e: rusqlite::Error) -> DbError {
    if is_full(&e) {
        super::storage_filled();
        return DbError::Full(e.to_string());
    }
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == ErrorCode::ConstraintViolation
        && matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return DbError::Unique(msg.clone().unwrap_or_default());
    }
    DbError::Other(e.to_string())
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    if is_full(&e) {
        super::storage_filled();
        return StoreError::Full(e.to_string());
    }
    StoreError::Backend(e.to_string())
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let null = ToSqlOutput::Owned(SqlValue::Null);
        Ok(match *self {
            Arg::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Int(Some(n)) => ToSqlOutput::Owned(SqlValue::Integer(n)),
            Arg::Real(Some(x)) => ToSqlOutput::Owned(SqlValue::Real(x)),
            Arg::Bool(Some(b)) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(b))),
            Arg::Bytes(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Arg::Json(v) => ToSqlOutput::Owned(SqlValue::Text(v.to_string())),
            Arg::Text(None) | Arg::Int(None) | Arg::Real(None) | Arg::Bool(None) | Arg::Bytes(None) => null,
        })
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(t) => Cell::Text(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    }
}

impl SqliteConn {
    /// The connection itself, for what only SQLite does (transactions, pragmas, checkpoints).
    pub(crate) fn raw(&self) -> &Connection {
        &self.conn
    }

    /// The rows of a query, at most `limit` of them.
    fn run_query(&self, sql: &str, args: &[Arg<'_>], limit: usize) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_error)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(args.iter())).map_err(db_error)?;
        let mut out = Vec::new();
        while out.len() < limit
            && let Some(r) = rows.next().map_err(db_error)?
        {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(cell(r.get_ref(i).map_err(db_error)?));
            }
            out.push(Row(cells));
        }
        Ok(out)
    }
}

#[async_trait]
impl Exec for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_error)?;
        let n = stmt.execute(params_from_iter(args.iter())).map_err(db_error)?;
        Ok(n as u64)
    }

    async fn insert(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_error)?;
        stmt.execute(params_from_iter(args.iter())).map_err(db_error)?;
        Ok(self.conn.last_insert_rowid())
    }

    async fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        self.run_query(sql, args, usize::MAX)
    }

    async fn query_opt(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.run_query(sql, args, 1)?.pop())
    }

    async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(db_error)
    }
}

/// Register the SQL functions the filter fragments use on a connection:
/// `scim_fold(text) -> text` (deterministic, NULL-preserving, the same as [`fold`]).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("scim_fold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => SqlValue::Text(fold(&String::from_utf8_lossy(t))),
            other => SqlValue::from(other),
        })
    })
}

/// A read-write connection with scimd's settings and SQL functions (not yet migrated).
pub(crate) fn open_conn(path: &str) -> Result<SqliteConn, StoreError> {
    let conn =
        Connection::open(path).map_err(|e| StoreError::Backend(format!("cannot open the database '{path}': {e}")))?;
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
    // Plans must not depend on bound values: otherwise SQLite re-prepares a cached
    // statement whenever a parameter changes (profiled: a third of a lookup's cost).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
    register_functions(&conn).map_err(backend)?;
    Ok(SqliteConn { conn })
}

/// A read-only connection with scimd's SQL functions.
fn open_reader(path: &str) -> Result<SqliteConn, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.execute_batch("PRAGMA query_only = ON;").map_err(backend)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
    register_functions(&conn).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(SqliteConn { conn })
}

/// Run `work` in one transaction on a connection of one's own (`BEGIN IMMEDIATE`: the
/// write lock at once, so that two processes migrating take turns).
pub(crate) fn exclusive<T>(conn: &mut SqliteConn, work: Work<T, StoreError>) -> Result<T, StoreError> {
    conn.conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    match run_now(work(conn)) {
        Ok(v) => {
            conn.conn.execute_batch("COMMIT").map_err(backend)?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

pub(crate) struct SqliteDb {
    id: u64,
    path: String,
    writer: Writer,
    readers: Arc<ReadPool>,
}

impl SqliteDb {
    /// The database file at `path`, its writer thread owning `conn` (opened with
    /// [`open_conn`], and migrated).
    pub(crate) fn start(path: &str, conn: SqliteConn) -> Result<Self, StoreError> {
        Ok(SqliteDb {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_owned(),
            writer: Writer::start(conn)?,
            readers: Arc::new(ReadPool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(READERS)),
            }),
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The pool of connections for longer reads (short reads use each thread's own).
    pub(crate) fn pool_stats(&self) -> PoolStats {
        let in_use = READERS.saturating_sub(self.readers.permits.available_permits());
        PoolStats {
            size: READERS,
            in_use,
            idle: self.readers.idle.lock().map(|i| i.len()).unwrap_or(0),
        }
    }

    pub(crate) async fn write<T, E>(&self, work: Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.writer.write(move |c| run_now(work(c))).await
    }

    pub(crate) fn read_now<T, E>(&self, work: Work<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        LOCAL_READERS.with(|cell| {
            let mut local = cell
                .try_borrow_mut()
                .map_err(|_| StoreError::Backend("nested read".into()))?;
            let at = match local.iter().position(|(id, _)| *id == self.id) {
                Some(at) => at,
                None => {
                    local.push((self.id, open_reader(&self.path)?));
                    local.len() - 1
                }
            };
            run_now(work(&mut local[at].1))
        })
    }

    pub(crate) async fn read<T, E>(&self, work: Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        let permit = Arc::clone(&pool.permits)
            .acquire_owned()
            .await
            .map_err(|_| E::from(StoreError::Backend("the read pool is closed".into())))?;
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.take()?;
            let out = run_now(work(&mut conn));
            pool.give_back(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| E::from(StoreError::Backend(format!("a database read failed: {e}"))))?
    }

    /// Copy the write-ahead log into the database file and empty it, on a connection of its
    /// own (the writer's runs every job in a transaction, where checkpoints are refused).
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
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
}

struct ReadPool {
    path: String,
    idle: Mutex<Vec<SqliteConn>>,
    permits: Arc<Semaphore>,
}

thread_local! {
    /// Each runtime worker thread keeps its own read connection per store, so short reads
    /// run where the request runs: no hand-off to another thread, no lock.
    static LOCAL_READERS: RefCell<Vec<(u64, SqliteConn)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl ReadPool {
    fn take(&self) -> Result<SqliteConn, StoreError> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        open_reader(&self.path)
    }

    fn give_back(&self, conn: SqliteConn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}
