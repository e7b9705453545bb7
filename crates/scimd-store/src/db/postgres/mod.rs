//! PostgreSQL, for several scimd instances on one database: connections from a
//! deadpool-postgres pool, each with its prepared-statement cache; `?` placeholders numbered
//! and typed (`$1::text`) from the values bound to them. Nothing is kept in process memory
//! but the pool. A connection handed back in the middle of a transaction (its request was
//! cancelled) is closed, never reused: closing it makes the server roll the transaction back.

mod tls;

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use scimd_core::{PoolStats, StoreError};
use tokio_postgres::Config;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Arg, Cell, DbError, Dialect, Exec, Row, Work};

/// How long a request waits for a free connection at least. Waiting is the pool's
/// backpressure (a Bulk request of 1,000 creations queues 1,000 transactions); only a server
/// that stops answering should turn it into an error.
const MIN_QUEUE_WAIT: Duration = Duration::from_secs(60);

/// Prepared statements kept per connection; filters make many distinct texts, so the cache
/// is emptied when it grows past this.
const STATEMENT_CACHE: usize = 256;

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

/// A driver error with the server's message, when there is one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut source = StdError::source(e);
            while let Some(inner) = source {
                s.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            s
        }
    }
}

/// A lost or refused connection, or a server shutting down or refusing connections
/// (SQLSTATE class 08, 57P01-57P03, 53300): the database is unavailable, not the request wrong.
fn unreachable(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
        }
        None => e.is_closed() || StdError::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

fn db_error(e: tokio_postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error()
        && *db.code() == SqlState::UNIQUE_VIOLATION
    {
        return DbError::Unique(db.constraint().unwrap_or("").to_owned());
    }
    if unreachable(&e) {
        return DbError::Unavailable(describe(&e));
    }
    if e.as_db_error().is_some_and(|db| *db.code() == SqlState::DISK_FULL) {
        super::storage_filled();
        return DbError::Full(describe(&e));
    }
    DbError::Other(describe(&e))
}

impl ToSql for Arg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Arg::Text(v) => v.to_sql(ty, out),
            Arg::Int(v) => v.to_sql(ty, out),
            Arg::Real(v) => v.to_sql(ty, out),
            Arg::Bool(v) => v.to_sql(ty, out),
            Arg::Bytes(v) => v.to_sql(ty, out),
            Arg::Json(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn type_of(arg: Option<&Arg<'_>>) -> &'static str {
    match arg {
        Some(Arg::Text(_)) | None => "text",
        Some(Arg::Int(_)) => "int8",
        Some(Arg::Real(_)) => "float8",
        Some(Arg::Bool(_)) => "boolean",
        Some(Arg::Bytes(_)) => "bytea",
        Some(Arg::Json(_)) => "jsonb",
    }
}

/// Number the placeholders of `sql` the PostgreSQL way: `?` in order, `?N` as given, each
/// cast to its value's type so that none is left for the server to guess. Single-quoted
/// literals are copied as they are.
pub(crate) fn numbered(sql: &str, args: &[Arg<'_>]) -> String {
    let mut out = String::with_capacity(sql.len() + args.len() * 8);
    let mut quoted = false;
    let mut next = 0usize;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = match digits.parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => {
                        next += 1;
                        next
                    }
                };
                out.push_str(&format!("${n}::{}", type_of(args.get(n.wrapping_sub(1)))));
            }
            _ => out.push(c),
        }
    }
    out
}

fn cell(row: &tokio_postgres::Row, i: usize) -> Result<Cell, tokio_postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |n| Cell::Int(n.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map_or(Cell::Null, |n| Cell::Int(n.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map_or(Cell::Null, Cell::Bool)
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map_or(Cell::Null, Cell::Real)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Cell::Null, Cell::Bytes)
    } else if *ty == Type::JSONB || *ty == Type::JSON {
        row.try_get::<_, Option<serde_json::Value>>(i)?
            .map_or(Cell::Null, Cell::Json)
    } else {
        row.try_get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text)
    })
}

/// A pooled connection as an [`Exec`].
pub(crate) struct PgConn {
    client: Option<Object>,
    in_transaction: bool,
}

impl PgConn {
    fn client(&self) -> Result<&Object, DbError> {
        self.client
            .as_ref()
            .ok_or_else(|| DbError::Other("a pooled connection used after release".into()))
    }

    async fn statement(&self, sql: &str, args: &[Arg<'_>]) -> Result<tokio_postgres::Statement, DbError> {
        let client = self.client()?;
        if client.statement_cache.size() >= STATEMENT_CACHE {
            client.statement_cache.clear();
        }
        client.prepare_cached(&numbered(sql, args)).await.map_err(db_error)
    }

    pub(crate) async fn begin(&mut self) -> Result<(), StoreError> {
        self.in_transaction = true;
        self.batch("BEGIN").await.map_err(StoreError::from)
    }

    /// Commit when `outcome` is a success, roll back otherwise; the outcome (or the commit's
    /// failure) is the result.
    pub(crate) async fn end<T, E: From<StoreError>>(&mut self, outcome: Result<T, E>) -> Result<T, E> {
        let finish = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let done = self.batch(finish).await;
        if done.is_ok() {
            self.in_transaction = false;
            if finish == "COMMIT" {
                crate::db::storage_committed();
            }
        }
        match (outcome, done) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(StoreError::from(e).into()),
            (Err(e), _) => Err(e),
        }
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if self.in_transaction
            && let Some(client) = self.client.take()
        {
            // Out of the pool for good: dropping the client closes the connection.
            drop(Object::take(client));
        }
    }
}

#[async_trait]
impl Exec for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        let stmt = self.statement(sql, args).await?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        self.client()?.execute(&stmt, &params).await.map_err(db_error)
    }

    async fn insert(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, DbError> {
        let row = self.query_opt(&format!("{sql} RETURNING seq"), args).await?;
        match row.map(|r| r.int(0)) {
            Some(Ok(seq)) => Ok(seq),
            _ => Err(DbError::Other(format!("no seq from: {sql}"))),
        }
    }

    async fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        let stmt = self.statement(sql, args).await?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let rows = self.client()?.query(&stmt, &params).await.map_err(db_error)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
                    .map_err(db_error)
            })
            .collect()
    }

    async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client()?.batch_execute(sql).await.map_err(db_error)
    }
}

pub(crate) struct PgDb {
    pool: Pool,
}

impl PgDb {
    /// A pool of connections to `url` (`postgres://user:password@host:port/database`, with
    /// libpq's `sslmode` and `sslrootcert`); none is made yet.
    pub(crate) fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let unusable = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!("'{}' is not a usable PostgreSQL URL: {e}", redact(url)))
        };
        let (plain, mode, root) = tls::split_url(url).map_err(|e| unusable(&e))?;
        let mut config: Config = plain.parse().map_err(|e| unusable(&e))?;
        config.ssl_mode(mode.ssl_mode());
        config.connect_timeout(options.timeout);
        config.application_name("scimd");
        let connector = tls::connector(mode, root.as_deref())?;
        let manager = Manager::from_config(
            config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout.max(MIN_QUEUE_WAIT)))
            .create_timeout(Some(options.timeout))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot make the connection pool: {e}")))?;
        Ok(PgDb { pool })
    }

    pub(crate) fn pool_stats(&self) -> PoolStats {
        let s = self.pool.status();
        PoolStats {
            size: s.max_size,
            in_use: s.size.saturating_sub(s.available),
            idle: s.available,
        }
    }

    pub(crate) async fn conn(&self) -> Result<PgConn, StoreError> {
        let client = self.pool.get().await.map_err(|e| {
            let why = match &e {
                deadpool_postgres::PoolError::Timeout(_) => {
                    "no database connection became free in time (raise --db-pool-size?)".to_owned()
                }
                deadpool_postgres::PoolError::Backend(e) => format!("cannot connect to PostgreSQL: {}", describe(e)),
                other => format!("cannot connect to PostgreSQL: {other}"),
            };
            StoreError::Unavailable(why)
        })?;
        Ok(PgConn {
            client: Some(client),
            in_transaction: false,
        })
    }

    pub(crate) async fn transaction<T, E: From<StoreError>>(&self, work: Work<T, E>) -> Result<T, E> {
        let mut c = self.conn().await?;
        c.begin().await?;
        let outcome = work(&mut c).await;
        c.end(outcome).await
    }

    pub(crate) async fn read<T, E: From<StoreError>>(&self, work: Work<T, E>) -> Result<T, E> {
        let mut c = self.conn().await?;
        work(&mut c).await
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

/// Creating and dropping databases, for tests and tooling that need a fresh one.
pub mod admin {
    use scimd_core::StoreError;
    use tokio_postgres::NoTls;

    use super::describe;

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
        let out = client
            .batch_execute(sql)
            .await
            .map_err(|e| StoreError::Backend(describe(&e)));
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
        let args = [Arg::Text(Some("a")), Arg::Int(Some(1)), Arg::Bool(None)];
        assert_eq!(
            numbered("x = ? AND y = '?' AND z > ? AND w IS ?", &args),
            "x = $1::text AND y = '?' AND z > $2::int8 AND w IS $3::boolean"
        );
        assert_eq!(
            numbered("a = ?2 OR b = ?1 OR c = ?2", &args),
            "a = $2::int8 OR b = $1::text OR c = $2::int8"
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
