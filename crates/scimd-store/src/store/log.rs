//! The provisioning log: a flush's entries written with multi-row inserts in one
//! transaction, read by provider a page at a time, pruned a bounded number of rows per
//! statement; and the per-provider counters (refused requests, the last ten outcomes). One
//! key, `(provider_id, failed, seq)`, serves writes, reads and both budgets: every entry
//! written is also deleted later, so each b-tree costs twice (SQLite keeps the table
//! itself in that order: one b-tree).

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use scimd_core::request_log::{LogBatch, LogEntry, LogFilter, LogHealth, LogLimits, RECENT, StatsDelta};
use scimd_core::store::{StoreResult, like_escape};
use scimd_core::{LogStore, ProviderId, StoreError, Timestamp};

use super::SqlStore;
use crate::db::{Arg, Exec, Row, args};

const COLUMNS: &str = "provider_id, time, failed, method, path, status, latency_us, request_id, client, \
                       user_agent, scim_type, detail, body";
/// What an insert writes: the columns and the entry's `seq`.
const WIDTH: usize = 14;
/// Rows per INSERT statement: few statement texts, few round trips.
const ROWS_PER_INSERT: usize = 100;

/// A multi-row `INSERT` of `rows` entries, in their order.
fn insert_sql(rows: usize) -> String {
    let row = format!("({})", vec!["?"; WIDTH].join(", "));
    format!(
        "INSERT INTO request_log ({COLUMNS}, seq) VALUES {}",
        vec![row; rows].join(", ")
    )
}

fn entry_args(e: &LogEntry, seq: i64) -> [Arg<'_>; WIDTH] {
    [
        Arg::from(e.provider.as_str()),
        Arg::from(e.time.0),
        Arg::from(e.failed),
        Arg::from(e.method.as_str()),
        Arg::from(e.path.as_str()),
        Arg::from(i64::from(e.status)),
        Arg::from(e.latency_us),
        Arg::from(e.request_id.as_str()),
        Arg::from(e.client.as_str()),
        Arg::from(&e.user_agent),
        Arg::from(&e.scim_type),
        Arg::from(&e.detail),
        Arg::from(&e.body),
        Arg::from(seq),
    ]
}

fn entry_from_row(mut r: Row) -> Result<LogEntry, StoreError> {
    Ok(LogEntry {
        seq: r.int(0)?,
        provider: r.take_text(1)?,
        time: Timestamp(r.int(2)?),
        failed: r.bool(3)?,
        method: r.take_text(4)?,
        path: r.take_text(5)?,
        status: u16::try_from(r.int(6)?).unwrap_or(0),
        latency_us: r.int(7)?,
        request_id: r.take_text(8)?,
        client: r.take_text(9)?,
        user_agent: r.take_opt_text(10)?,
        scim_type: r.take_opt_text(11)?,
        detail: r.take_opt_text(12)?,
        body: r.take_opt_text(13)?,
    })
}

/// A provider's next `seq`s (`head` moves by the number of entries: on PostgreSQL the row
/// stays locked until commit, so one provider's entries are numbered in commit order) and
/// its counters, which add up across flushes and instances; the window of outcomes shifts
/// by the flush's count (multiplying by `2^count`: `<<` is typed differently in the two
/// databases).
const STATS_UPSERT: &str = "INSERT INTO request_log_stats \
     (provider_id, head, unauthenticated, last_unauthenticated, recent, recent_count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (provider_id) DO UPDATE SET \
     head = request_log_stats.head + excluded.head, \
     unauthenticated = request_log_stats.unauthenticated + excluded.unauthenticated, \
     last_unauthenticated = coalesce(excluded.last_unauthenticated, request_log_stats.last_unauthenticated), \
     recent = (request_log_stats.recent * ?7 + excluded.recent) % ?8, \
     recent_count = CASE WHEN request_log_stats.recent_count + excluded.recent_count > ?9 THEN ?9 \
     ELSE request_log_stats.recent_count + excluded.recent_count END \
     RETURNING head";

async fn append(x: &mut dyn Exec, batch: &LogBatch) -> Result<u64, StoreError> {
    // Entries and counters of a provider deleted since the flush read the providers are
    // left out (one must not cost the batch its foreign key check); on PostgreSQL the
    // providers stay until this commits.
    let lock = if x.is_postgres() { " FOR KEY SHARE" } else { "" };
    let known: HashSet<String> = x
        .query(&format!("SELECT id FROM provider{lock}"), &[])
        .await?
        .into_iter()
        .map(|mut r| r.take_text(0))
        .collect::<Result<_, _>>()?;
    let mut per_provider: BTreeMap<&str, (Vec<&LogEntry>, Option<&StatsDelta>)> = BTreeMap::new();
    for e in batch.entries.iter().filter(|e| known.contains(&e.provider)) {
        per_provider.entry(e.provider.as_str()).or_default().0.push(e);
    }
    for d in batch.stats.iter().filter(|d| known.contains(&d.provider)) {
        per_provider.entry(d.provider.as_str()).or_default().1 = Some(d);
    }
    let mut rows: Vec<(&LogEntry, i64)> = Vec::with_capacity(batch.entries.len());
    for (provider, (entries, delta)) in per_provider {
        let n = entries.len() as i64;
        let (unauthenticated, last, recent, count) = delta.map_or((0, None, 0, 0), |d| {
            let count = d.recent_count.clamp(0, i64::from(RECENT));
            (d.unauthenticated, d.last_unauthenticated, d.recent, count)
        });
        let head = x
            .query_one(
                STATS_UPSERT,
                args![
                    provider,
                    n,
                    i64::try_from(unauthenticated).unwrap_or(i64::MAX),
                    last.map(|t| t.0),
                    recent,
                    count,
                    1i64 << count,
                    1i64 << RECENT,
                    i64::from(RECENT)
                ],
            )
            .await?
            .int(0)?;
        rows.extend(entries.into_iter().zip(head - n + 1..));
    }
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let bound: Vec<Arg<'_>> = chunk.iter().flat_map(|(e, seq)| entry_args(e, *seq)).collect();
        written += x.execute(&insert_sql(chunk.len()), &bound).await?;
    }
    Ok(written)
}

/// The filters of a read, for one kind of entry (failed or not): SQL conditions and values.
fn conditions<'a>(provider: &'a str, failed: bool, f: &LogFilter, pattern: Option<&'a str>) -> (String, Vec<Arg<'a>>) {
    let mut sql = "provider_id = ? AND failed = ?".to_owned();
    let mut bound: Vec<Arg<'a>> = vec![Arg::from(provider), Arg::from(failed)];
    if let Some((from, to)) = f.status {
        sql.push_str(" AND status >= ? AND status < ?");
        bound.extend([Arg::from(i64::from(from)), Arg::from(i64::from(to))]);
    }
    if let Some(p) = pattern {
        sql.push_str(" AND lower(path) LIKE ? ESCAPE '\\'");
        bound.push(Arg::from(p));
    }
    for (clause, value) in [
        (" AND time >= ?", f.since.map(|t| t.0)),
        (" AND time < ?", f.until.map(|t| t.0)),
        (" AND seq < ?", f.before),
        (" AND seq > ?", f.after),
    ] {
        if let Some(v) = value {
            sql.push_str(clause);
            bound.push(Arg::from(v));
        }
    }
    (sql, bound)
}

/// Failures and successes are read apart, each along its own index range, and merged: the
/// table needs no third index for the reads of both.
async fn entries(x: &mut dyn Exec, provider: &str, f: &LogFilter) -> Result<Vec<LogEntry>, StoreError> {
    // A path prefix in any case, compared the same way in both databases (LIKE is not).
    let pattern = f
        .path
        .as_ref()
        .map(|p| format!("{}%", like_escape(&p.to_ascii_lowercase())));
    let order = if f.after.is_some() { "ASC" } else { "DESC" };
    let kinds: &[bool] = if f.failed { &[true] } else { &[false, true] };
    let mut parts = Vec::new();
    let mut bound: Vec<Arg<'_>> = Vec::new();
    for (i, failed) in kinds.iter().enumerate() {
        let (cond, values) = conditions(provider, *failed, f, pattern.as_deref());
        parts.push(format!(
            "SELECT * FROM (SELECT seq, {COLUMNS} FROM request_log WHERE {cond} ORDER BY seq {order} LIMIT ?) k{i}"
        ));
        bound.extend(values);
        bound.push(Arg::from(f.limit));
    }
    let sql = format!("{} ORDER BY seq {order} LIMIT ?", parts.join(" UNION ALL "));
    bound.push(Arg::from(f.limit));
    x.query(&sql, &bound).await?.into_iter().map(entry_from_row).collect()
}

/// Delete the provider's entries of one kind (failed or not) up to `upto`, at most `chunk`
/// of them: one range of the key.
async fn delete_upto(x: &mut dyn Exec, p: &str, failed: bool, upto: i64, chunk: u32) -> Result<u64, StoreError> {
    let end = x
        .query_opt(
            "SELECT seq FROM request_log WHERE provider_id = ? AND failed = ? AND seq <= ? \
             ORDER BY seq LIMIT 1 OFFSET ?",
            args![p, failed, upto, i64::from(chunk) - 1],
        )
        .await?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(upto);
    Ok(x.execute(
        "DELETE FROM request_log WHERE provider_id = ? AND failed = ? AND seq <= ?",
        args![p, failed, end],
    )
    .await?)
}

async fn prune(
    x: &mut dyn Exec,
    p: &str,
    limits: &LogLimits,
    now: Timestamp,
    chunk: u32,
) -> Result<(u64, bool), StoreError> {
    // Failures past their age: of the oldest `chunk` (at most that many rows looked at),
    // those older than the retention.
    let cutoff = now
        .0
        .saturating_sub(limits.failure_retention_seconds.saturating_mul(1000));
    let aged = x
        .execute(
            "DELETE FROM request_log WHERE provider_id = ?1 AND failed = ?2 AND seq IN (SELECT o.seq FROM \
             (SELECT seq, time FROM request_log WHERE provider_id = ?1 AND failed = ?2 ORDER BY seq LIMIT ?3) o \
             WHERE o.time < ?4)",
            args![p, true, chunk, cutoff],
        )
        .await?;
    let mut deleted = aged;
    let mut more = aged >= u64::from(chunk);
    // Each kind beyond its count: everything up to the newest entry past the budget.
    for (failed, max) in [(true, limits.failure_max), (false, limits.success_max)] {
        let edge = x
            .query_opt(
                "SELECT seq FROM request_log WHERE provider_id = ? AND failed = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                args![p, failed, i64::try_from(max).unwrap_or(i64::MAX)],
            )
            .await?;
        if let Some(edge) = edge {
            let n = delete_upto(x, p, failed, edge.int(0)?, chunk).await?;
            deleted += n;
            more |= n >= u64::from(chunk);
        }
    }
    Ok((deleted, more))
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_log(&self, batch: LogBatch) -> StoreResult<u64> {
        if batch.entries.is_empty() && batch.stats.is_empty() {
            return Ok(0);
        }
        self.db
            .write(move |x| Box::pin(async move { append(x, &batch).await }))
            .await
    }

    async fn log_entries(&self, provider: &ProviderId, filter: &LogFilter) -> StoreResult<Vec<LogEntry>> {
        let (provider, filter) = (provider.as_str().to_owned(), filter.clone());
        self.db
            .read(move |x| Box::pin(async move { entries(x, &provider, &filter).await }))
            .await
    }

    async fn log_health(&self) -> StoreResult<Vec<(String, LogHealth)>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    x.query(
                        "SELECT provider_id, unauthenticated, last_unauthenticated, recent, recent_count \
                         FROM request_log_stats ORDER BY provider_id",
                        &[],
                    )
                    .await?
                    .into_iter()
                    .map(|mut r| {
                        let health = LogHealth::from_window(
                            u64::try_from(r.int(1)?).unwrap_or(0),
                            r.opt_int(2)?.map(Timestamp),
                            r.int(3)?,
                            r.int(4)?,
                        );
                        Ok((r.take_text(0)?, health))
                    })
                    .collect()
                })
            })
            .await
    }

    async fn prune_log(
        &self,
        provider: &ProviderId,
        limits: &LogLimits,
        now: Timestamp,
        chunk: u32,
    ) -> StoreResult<(u64, bool)> {
        let (provider, limits) = (provider.as_str().to_owned(), *limits);
        self.db
            .write(move |x| Box::pin(async move { prune(x, &provider, &limits, now, chunk).await }))
            .await
    }
}
