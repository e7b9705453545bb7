//! A small connection pool: at most `size` connections (a semaphore), idle ones kept for
//! reuse, each with its own prepared-statement cache. A connection handed back in the middle
//! of a transaction (its request was cancelled) or broken is closed, never reused: closing
//! it makes the server roll the transaction back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scimd_core::StoreError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::backend;

/// How long a request waits for a free connection at least. Waiting is the pool's
/// backpressure (a Bulk request of 1,000 creations queues 1,000 transactions); only a server
/// that stops answering should turn it into an error.
const MIN_QUEUE_WAIT: Duration = Duration::from_secs(60);

/// Prepared statements kept per connection; filters make many distinct texts, so the cache
/// is emptied when it grows past this.
const STATEMENT_CACHE: usize = 256;

pub(crate) struct Pool {
    config: Config,
    size: usize,
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<Pooled>>,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A connection taken from the pool; it goes back when dropped.
pub(crate) struct Conn<'p> {
    pooled: Option<Pooled>,
    pool: &'p Pool,
    in_transaction: bool,
    _permit: OwnedSemaphorePermit,
}

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Pool {
    pub(crate) fn new(mut config: Config, tls: MakeRustlsConnect, size: usize, timeout: Duration) -> Pool {
        config.connect_timeout(timeout);
        config.application_name("scimd");
        Pool {
            config,
            size: size.max(1),
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
            timeout,
        }
    }

    pub(crate) fn stats(&self) -> scimd_core::PoolStats {
        scimd_core::PoolStats {
            size: self.size,
            in_use: self.size.saturating_sub(self.permits.available_permits()),
            idle: self.idle.lock().map(|i| i.len()).unwrap_or(0),
        }
    }

    pub(crate) async fn get(&self) -> Result<Conn<'_>, StoreError> {
        let wait = self.timeout.max(MIN_QUEUE_WAIT);
        let permit = tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| {
                StoreError::Backend(format!(
                    "no database connection became free within {wait:?} (raise --db-pool-size?)"
                ))
            })?
            .map_err(|_| StoreError::Backend("the connection pool is closed".into()))?;
        let reused = loop {
            let next = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match next {
                Some(p) if p.client.is_closed() => continue,
                other => break other,
            }
        };
        let pooled = match reused {
            Some(p) => p,
            None => self.connect().await?,
        };
        Ok(Conn {
            pooled: Some(pooled),
            pool: self,
            in_transaction: false,
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<Pooled, StoreError> {
        let (client, connection) = tokio::time::timeout(self.timeout, self.config.connect(self.tls.clone()))
            .await
            .map_err(|_| StoreError::Backend(format!("cannot connect to PostgreSQL within {:?}", self.timeout)))?
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e))))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %describe(&e), "PostgreSQL connection closed");
            }
        });
        Ok(Pooled {
            client,
            statements: HashMap::new(),
        })
    }
}

/// A driver error with the server's message, when there is one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            s
        }
    }
}

impl Conn<'_> {
    fn pooled(&self) -> &Pooled {
        match &self.pooled {
            Some(p) => p,
            // `pooled` is only taken in `drop`.
            None => unreachable!("a pooled connection used after drop"),
        }
    }

    async fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        let p = self.pooled();
        if let Some(s) = p.statements.get(sql) {
            return Ok(s.clone());
        }
        p.client.prepare(sql).await
    }

    fn remember(&mut self, sql: &str, statement: &Statement) {
        if let Some(p) = &mut self.pooled
            && !p.statements.contains_key(sql)
        {
            if p.statements.len() >= STATEMENT_CACHE {
                p.statements.clear();
            }
            p.statements.insert(sql.to_owned(), statement.clone());
        }
    }

    pub(crate) async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, tokio_postgres::Error> {
        let s = self.statement(sql).await?;
        self.remember(sql, &s);
        self.pooled().client.query(&s, params).await
    }

    pub(crate) async fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let s = self.statement(sql).await?;
        self.remember(sql, &s);
        self.pooled().client.query_opt(&s, params).await
    }

    pub(crate) async fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, tokio_postgres::Error> {
        let s = self.statement(sql).await?;
        self.remember(sql, &s);
        self.pooled().client.query_one(&s, params).await
    }

    pub(crate) async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, tokio_postgres::Error> {
        let s = self.statement(sql).await?;
        self.remember(sql, &s);
        self.pooled().client.execute(&s, params).await
    }

    pub(crate) async fn batch(&mut self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.pooled().client.batch_execute(sql).await
    }

    pub(crate) async fn begin(&mut self) -> Result<(), StoreError> {
        self.in_transaction = true;
        self.batch("BEGIN").await.map_err(backend)
    }

    /// Commit when `outcome` is a success, roll back otherwise; the outcome (or the commit's
    /// failure) is the result.
    pub(crate) async fn end<T, E: From<StoreError>>(&mut self, outcome: Result<T, E>) -> Result<T, E> {
        let finish = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let done = self.batch(finish).await;
        if done.is_ok() {
            self.in_transaction = false;
        }
        match (outcome, done) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(backend(e).into()),
            (Err(e), _) => Err(e),
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pooled.take()
            && !self.in_transaction
            && !p.client.is_closed()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(p);
        }
    }
}
