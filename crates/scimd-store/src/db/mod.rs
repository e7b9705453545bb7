//! The executor layer: what differs between SQLite and PostgreSQL, and nothing else. Every
//! store operation (`crate::ops`) is written once against [`Exec`], a connection inside a
//! transaction (or a read) that runs SQL with `?` placeholders and answers neutral rows.
//! Each backend says how it binds values, numbers placeholders, reads columns, recognises a
//! violated unique index, and where its connections come from: SQLite's group-commit writer
//! thread and per-thread readers, PostgreSQL's pool.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use scimd_core::StoreError;
use serde_json::Value;

pub use crate::filter::Dialect;
use crate::filter::Param;

/// A value bound to a placeholder. Nulls carry their type: PostgreSQL must know it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Bytes(Option<&'a [u8]>),
    /// A JSON document: TEXT in SQLite, `jsonb` in PostgreSQL.
    Json(&'a Value),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(Some(s))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(Some(s))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Arg::Text(s)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(s: &'a Option<String>) -> Self {
        Arg::Text(s.as_deref())
    }
}
impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Int(Some(n))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(n: Option<i64>) -> Self {
        Arg::Int(n)
    }
}
impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Int(Some(i64::from(n)))
    }
}
impl From<bool> for Arg<'_> {
    fn from(b: bool) -> Self {
        Arg::Bool(Some(b))
    }
}
impl From<Option<bool>> for Arg<'_> {
    fn from(b: Option<bool>) -> Self {
        Arg::Bool(b)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(b: &'a [u8]) -> Self {
        Arg::Bytes(Some(b))
    }
}
impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Arg::Bytes(Some(b))
    }
}
impl<'a> From<&'a [u8; 32]> for Arg<'a> {
    fn from(b: &'a [u8; 32]) -> Self {
        Arg::Bytes(Some(b))
    }
}
impl<'a> From<&'a Option<Vec<u8>>> for Arg<'a> {
    fn from(b: &'a Option<Vec<u8>>) -> Self {
        Arg::Bytes(b.as_deref())
    }
}
impl<'a> From<&'a Value> for Arg<'a> {
    fn from(v: &'a Value) -> Self {
        Arg::Json(v)
    }
}
impl<'a> From<&'a Param> for Arg<'a> {
    fn from(p: &'a Param) -> Self {
        match p {
            Param::Text(s) => Arg::Text(Some(s)),
            Param::Int(n) => Arg::Int(Some(*n)),
            Param::Real(x) => Arg::Real(Some(*x)),
            Param::Bool(b) => Arg::Bool(Some(*b)),
        }
    }
}

/// `args![a, b, c]`: a slice of placeholders' values, each converted with `Arg::from`.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::db::Arg::from($v)),*][..] };
}
pub(crate) use args;

/// A column's value as read back, whatever the database called its type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    Json(Value),
}

impl Cell {
    /// The cell as a value to bind (a null binds as text, which every backend casts).
    pub(crate) fn arg(&self) -> Arg<'_> {
        match self {
            Cell::Null => Arg::Text(None),
            Cell::Int(n) => Arg::Int(Some(*n)),
            Cell::Real(x) => Arg::Real(Some(*x)),
            Cell::Bool(b) => Arg::Bool(Some(*b)),
            Cell::Text(s) => Arg::Text(Some(s)),
            Cell::Bytes(b) => Arg::Bytes(Some(b)),
            Cell::Json(v) => Arg::Json(v),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Null, Cell::Text)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}
impl From<[u8; 32]> for Cell {
    fn from(b: [u8; 32]) -> Self {
        Cell::Bytes(b.to_vec())
    }
}

/// `cells![a, b, c]`: owned values for a statement run later (in a write transaction).
macro_rules! cells {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Cell::from($v)),*] };
}
pub(crate) use cells;

/// One row of a result, read by position with the type the query promised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(pub Vec<Cell>);

fn unreadable(i: usize, want: &str, got: &Cell) -> StoreError {
    StoreError::Backend(format!("unreadable row: column {i} is not {want} ({got:?})"))
}

impl Row {
    fn cell(&self, i: usize) -> &Cell {
        self.0.get(i).unwrap_or(&Cell::Null)
    }

    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Int(n) => Ok(Some(*n)),
            other => Err(unreadable(i, "an integer", other)),
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?.ok_or_else(|| unreadable(i, "an integer", &Cell::Null))
    }

    pub(crate) fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Bool(b) => Ok(Some(*b)),
            // SQLite keeps booleans as 0 and 1.
            Cell::Int(n) => Ok(Some(*n != 0)),
            other => Err(unreadable(i, "a boolean", other)),
        }
    }

    pub(crate) fn bool(&self, i: usize) -> Result<bool, StoreError> {
        self.opt_bool(i)?.ok_or_else(|| unreadable(i, "a boolean", &Cell::Null))
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            other => Err(unreadable(i, "text", other)),
        }
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| unreadable(i, "text", &Cell::Null))
    }

    pub(crate) fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Bytes(b) => Ok(Some(b.clone())),
            other => Err(unreadable(i, "bytes", other)),
        }
    }

    pub(crate) fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.opt_bytes(i)?.ok_or_else(|| unreadable(i, "bytes", &Cell::Null))
    }

    pub(crate) fn hash32(&self, i: usize) -> Result<[u8; 32], StoreError> {
        self.bytes(i)?
            .try_into()
            .map_err(|_| StoreError::Backend(format!("unreadable row: column {i} is not a 32-byte hash")))
    }

    /// Take text out of the row without copying it.
    pub(crate) fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get_mut(i).map(|c| std::mem::replace(c, Cell::Null)) {
            None | Some(Cell::Null) => Ok(None),
            Some(Cell::Text(s)) => Ok(Some(s)),
            Some(other) => Err(unreadable(i, "text", &other)),
        }
    }

    pub(crate) fn take_text(&mut self, i: usize) -> Result<String, StoreError> {
        self.take_opt_text(i)?.ok_or_else(|| unreadable(i, "text", &Cell::Null))
    }

    /// Take a JSON document out of the row without copying it.
    pub(crate) fn take_json(&mut self, i: usize) -> Result<Value, StoreError> {
        match self.0.get_mut(i).map(|c| std::mem::replace(c, Cell::Null)) {
            Some(Cell::Json(v)) => Ok(v),
            Some(Cell::Text(s)) => serde_json::from_str(&s)
                .map_err(|e| StoreError::Backend(format!("unreadable row: column {i} is not JSON: {e}"))),
            Some(other) => Err(unreadable(i, "JSON", &other)),
            None => Err(unreadable(i, "JSON", &Cell::Null)),
        }
    }
}

/// What went wrong running a statement, in the terms the operations care about.
#[derive(Debug, Clone)]
pub(crate) enum DbError {
    /// A unique index or constraint was violated; the text names it (PostgreSQL: the
    /// constraint; SQLite: the message, which names the columns).
    Unique(String),
    /// The database could not be reached or dropped the connection.
    Unavailable(String),
    /// The disk (or the database's quota) is full.
    Full(String),
    /// Anything else, described with the server's message.
    Other(String),
}

/// Whether the last write failed for want of space and none has committed since: one flag for
/// the process (it has one database), read by `/readyz` and the metrics.
static STORAGE_FULL: AtomicBool = AtomicBool::new(false);

/// A write failed because the storage is full.
pub(crate) fn storage_filled() {
    if !STORAGE_FULL.swap(true, Ordering::Relaxed) {
        tracing::error!("the database's storage is full: writes are refused (503) until space returns");
    }
}

/// A write committed: there is space (again).
pub(crate) fn storage_committed() {
    if STORAGE_FULL.swap(false, Ordering::Relaxed) {
        tracing::info!("the database's storage has space again: writes succeed");
    }
}

pub(crate) fn storage_full() -> bool {
    STORAGE_FULL.load(Ordering::Relaxed)
}

impl DbError {
    /// Did the violated unique index involve this column or constraint name?
    pub(crate) fn violates(&self, name: &str) -> bool {
        matches!(self, DbError::Unique(what) if what.contains(name))
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unique(what) => StoreError::Backend(format!("unique constraint violated: {what}")),
            DbError::Unavailable(msg) => StoreError::Unavailable(msg),
            DbError::Full(msg) => StoreError::Full(msg),
            DbError::Other(msg) => StoreError::Backend(msg),
        }
    }
}

impl From<DbError> for scimd_core::CoreError {
    fn from(e: DbError) -> Self {
        scimd_core::CoreError::Store(e.into())
    }
}

/// A unique violation becomes `Conflict(what)`; anything else a backend error.
pub(crate) fn conflict(what: &str) -> impl Fn(DbError) -> StoreError + '_ {
    move |e| match e {
        DbError::Unique(_) => StoreError::Conflict(what.to_owned()),
        other => other.into(),
    }
}

/// A connection, in a transaction when it writes. SQL uses `?` (or `?N`) placeholders.
#[async_trait]
pub(crate) trait Exec: Send {
    fn dialect(&self) -> Dialect;

    /// Run a statement; how many rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError>;

    /// Run an INSERT into a table whose key is a generated `seq`; the new row's `seq`.
    /// (SQLite reads it back as the last rowid; `RETURNING` would cost it a temporary table.)
    async fn insert(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, DbError>;

    /// Run a query; its rows.
    async fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError>;

    /// Run a query; its first row, if any.
    async fn query_opt(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, args).await?.into_iter().next())
    }

    /// Statements without parameters, separated by `;` (migrations, savepoints).
    async fn batch(&mut self, sql: &str) -> Result<(), DbError>;
}

impl dyn Exec + '_ {
    /// The one row a query always returns (an aggregate, say).
    pub(crate) async fn query_one(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, args)
            .await?
            .ok_or_else(|| DbError::Other(format!("no row from: {sql}")))
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.dialect() == Dialect::Postgres
    }
}

/// Work on a connection: a closure the store hands to a backend, which runs it in a
/// transaction (writes) or on a read connection.
pub(crate) type Work<T, E> = Box<dyn for<'x> FnOnce(&'x mut dyn Exec) -> BoxFuture<'x, Result<T, E>> + Send>;

/// Work held in a variable before it is handed over: gives the closure its
/// higher-ranked signature (any connection borrow), which a plain `let` would not.
pub(crate) fn work<T, E, F>(f: F) -> F
where
    F: for<'x> FnOnce(&'x mut dyn Exec) -> BoxFuture<'x, Result<T, E>>,
{
    f
}

/// The two backends behind one face.
pub(crate) enum Db {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

impl Db {
    /// Run `work` in a write transaction: committed with everything it wrote when it
    /// succeeds, rolled back when it fails. On SQLite it shares the transaction (and the
    /// fsync) with whatever else waits to be written, each in its own savepoint.
    pub(crate) async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'x> FnOnce(&'x mut dyn Exec) -> BoxFuture<'x, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.write(Box::new(work)).await,
            Db::Postgres(db) => db.transaction(Box::new(work)).await,
        }
    }

    /// A read that may take a while (SQLite: on the blocking pool, so it never stalls a
    /// request).
    pub(crate) async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'x> FnOnce(&'x mut dyn Exec) -> BoxFuture<'x, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.read(Box::new(work)).await,
            Db::Postgres(db) => db.read(Box::new(work)).await,
        }
    }

    /// A short read (an indexed lookup of a few rows). SQLite runs it on the calling thread's
    /// own connection: handing a 20 µs query to another thread costs more than the query.
    pub(crate) async fn read_now<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'x> FnOnce(&'x mut dyn Exec) -> BoxFuture<'x, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.read_now(Box::new(work)),
            Db::Postgres(db) => db.read(Box::new(work)).await,
        }
    }
}

/// Run work whose every await is ready at once (SQLite's): the statements run on this
/// thread, now.
pub(crate) fn run_now<T, E: From<StoreError>>(fut: BoxFuture<'_, Result<T, E>>) -> Result<T, E> {
    use futures_util::FutureExt;
    fut.now_or_never()
        .unwrap_or_else(|| Err(StoreError::Backend("a SQLite operation waited on something".into()).into()))
}
