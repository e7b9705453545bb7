//! Subscriptions, their cursors, attempts and dead letters, the streams they read, and the
//! keys that sign Security Event Tokens.

use async_trait::async_trait;
use scimd_core::events::subscription::{
    Attempt, Cursor, DeadLetter, EventQuery, Progress, SigningKeyRecord, State, Subscription,
};
use scimd_core::events::{ChangeEvent, EventType};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, EventStore, StoreError, Timestamp};

use super::SqlStore;
use crate::audit;
use crate::db::{Arg, Exec, Row, args};
use crate::stream::{COLUMNS, event_from_row};

/// How many delivery attempts are kept per subscription.
const ATTEMPTS_KEPT: i64 = 100;

const SUBSCRIPTION_COLUMNS: &str = "id, format, url, providers, population, events, payload, secret, old_secret, \
     old_until, poll_hash, state, state_reason, created, last_success, last_error, last_error_at";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable subscription: {what}"))
}

fn json_list(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

fn subscription_from_row(mut row: Row) -> Result<Subscription, StoreError> {
    let providers: Vec<String> = serde_json::from_str(&row.text(3)?).map_err(corrupt)?;
    let events: Vec<String> = serde_json::from_str(&row.text(5)?).map_err(corrupt)?;
    let events = events
        .iter()
        .map(|e| e.parse::<EventType>())
        .collect::<Result<_, _>>()
        .map_err(corrupt)?;
    Ok(Subscription {
        id: row.take_text(0)?,
        format: row.text(1)?.parse().map_err(corrupt)?,
        url: row.take_opt_text(2)?,
        providers,
        population: row.take_opt_text(4)?.map(|p| p.parse()).transpose().map_err(corrupt)?,
        events,
        payload: row.text(6)?.parse().map_err(corrupt)?,
        secret: row.opt_bytes(7)?,
        old_secret: row.opt_bytes(8)?,
        old_until: row.opt_int(9)?.map(Timestamp),
        poll_hash: row.opt_bytes(10)?,
        state: match row.text(11)?.as_str() {
            "paused" => State::Paused,
            _ => State::Active,
        },
        state_reason: row.take_opt_text(12)?,
        created: Timestamp(row.int(13)?),
        last_success: row.opt_int(14)?.map(Timestamp),
        last_error: row.take_opt_text(15)?,
        last_error_at: row.opt_int(16)?.map(Timestamp),
    })
}

fn cursor_from_row(mut row: Row) -> Result<Cursor, StoreError> {
    Ok(Cursor {
        provider: row.take_text(0)?,
        position: row.int(1)?,
        attempts: row.int(2)?,
        retry_at: row.opt_int(3)?.map(Timestamp),
        failing_since: row.opt_int(4)?.map(Timestamp),
    })
}

/// The subscription's lease is `holder`'s (always true without a holder: polling and the
/// administrators' own changes need none). Locks the row on PostgreSQL until commit.
async fn holds(x: &mut dyn Exec, id: &str, holder: Option<&str>) -> Result<bool, StoreError> {
    let sql = if x.is_postgres() {
        "SELECT lease_holder FROM subscription WHERE id = ? FOR UPDATE"
    } else {
        "SELECT lease_holder FROM subscription WHERE id = ?"
    };
    let Some(row) = x.query_opt(sql, args![id]).await? else {
        return Ok(false);
    };
    Ok(match holder {
        None => true,
        Some(h) => row.opt_text(0)?.as_deref() == Some(h),
    })
}

async fn write_cursor(x: &mut dyn Exec, id: &str, from: Option<i64>, c: &Cursor) -> Result<(), StoreError> {
    // The cursor moves only from where the round found it (a replay meanwhile wins).
    x.execute(
        "INSERT INTO subscription_cursor (subscription_id, provider_id, position, attempts, retry_at, failing_since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (subscription_id, provider_id) DO UPDATE SET \
         position = excluded.position, attempts = excluded.attempts, retry_at = excluded.retry_at, \
         failing_since = excluded.failing_since \
         WHERE CAST(?7 AS BIGINT) IS NULL OR subscription_cursor.position = ?7",
        args![
            id,
            c.provider.as_str(),
            c.position,
            c.attempts,
            c.retry_at.map(|t| t.0),
            c.failing_since.map(|t| t.0),
            from
        ],
    )
    .await?;
    Ok(())
}

async fn progress(x: &mut dyn Exec, id: &str, holder: Option<&str>, p: Progress) -> Result<bool, StoreError> {
    if !holds(x, id, holder).await? {
        return Ok(false);
    }
    for (from, c) in &p.cursors {
        write_cursor(x, id, Some(*from), c).await?;
    }
    for a in &p.attempts {
        x.execute(
            "INSERT INTO delivery_attempt (subscription_id, event_id, provider_id, position, time, status, \
             latency_ms, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            args![
                id,
                a.event_id.as_str(),
                a.provider.as_str(),
                a.position,
                a.time.0,
                a.status.map(i64::from),
                a.latency_ms,
                &a.answer
            ],
        )
        .await?;
    }
    if !p.attempts.is_empty() {
        x.execute(
            "DELETE FROM delivery_attempt WHERE subscription_id = ?1 AND seq < \
             (SELECT min(seq) FROM (SELECT seq FROM delivery_attempt WHERE subscription_id = ?1 \
              ORDER BY seq DESC LIMIT ?2) kept)",
            args![id, ATTEMPTS_KEPT],
        )
        .await?;
    }
    for d in &p.dead {
        x.execute(
            "INSERT INTO dead_letter (subscription_id, event_id, provider_id, position, time, reason) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscription_id, event_id) DO NOTHING",
            args![
                id,
                d.event_id.as_str(),
                d.provider.as_str(),
                d.position,
                d.time.0,
                d.reason.as_str()
            ],
        )
        .await?;
    }
    if let Some(t) = p.last_success {
        x.execute("UPDATE subscription SET last_success = ? WHERE id = ?", args![t.0, id])
            .await?;
    }
    if let Some((t, e)) = &p.last_error {
        x.execute(
            "UPDATE subscription SET last_error = ?, last_error_at = ? WHERE id = ?",
            args![e.as_str(), t.0, id],
        )
        .await?;
    }
    if let Some(reason) = &p.pause {
        x.execute(
            "UPDATE subscription SET state = 'paused', state_reason = ?, lease_holder = NULL WHERE id = ?",
            args![reason.as_str(), id],
        )
        .await?;
    }
    Ok(true)
}

async fn rewind(x: &mut dyn Exec, id: &str, provider: Option<&str>, position: i64) -> Result<u64, StoreError> {
    let before = (position - 1).max(0);
    let moved = x
        .execute(
            "UPDATE subscription_cursor SET position = CASE WHEN position > ?1 THEN ?1 ELSE position END, \
             attempts = 0, retry_at = NULL, failing_since = NULL \
             WHERE subscription_id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR provider_id = ?3)",
            args![before, id, provider],
        )
        .await?;
    if let Some(p) = provider
        && moved == 0
    {
        write_cursor(x, id, None, &Cursor::start(p, before)).await?;
        return Ok(1);
    }
    Ok(moved)
}

#[async_trait]
impl EventStore for SqlStore {
    async fn events(&self, q: &EventQuery) -> StoreResult<Vec<(i64, ChangeEvent)>> {
        let q = q.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = match &q.provider {
                        Some(p) => {
                            x.query(
                                &format!(
                                    "SELECT {COLUMNS} FROM change_event e WHERE e.provider_id = ? AND e.position >= ? \
                                     ORDER BY e.position LIMIT ?"
                                ),
                                args![p.as_str(), q.from.unwrap_or(1), q.limit],
                            )
                            .await?
                        }
                        None => {
                            x.query(
                                &format!("SELECT {COLUMNS} FROM change_event e WHERE e.seq > ? ORDER BY e.seq LIMIT ?"),
                                args![q.after_seq, q.limit],
                            )
                            .await?
                        }
                    };
                    rows.into_iter().map(event_from_row).collect()
                })
            })
            .await
    }

    async fn events_by_id(&self, ids: &[String]) -> StoreResult<Vec<ChangeEvent>> {
        /// Ids per query; a shorter list is padded with its last id, so one statement text
        /// serves every list (and its plan stays cached).
        const CHUNK: usize = 100;
        static BY_IDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {COLUMNS} FROM change_event e WHERE e.id IN ({})",
                vec!["?"; CHUNK].join(", ")
            )
        });
        let ids = ids.to_vec();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(CHUNK) {
                        let bound: Vec<Arg<'_>> = (0..CHUNK)
                            .map(|i| Arg::from(chunk[i.min(chunk.len() - 1)].as_str()))
                            .collect();
                        for row in x.query(&BY_IDS, &bound).await? {
                            out.push(event_from_row(row)?.1);
                        }
                    }
                    Ok(out)
                })
            })
            .await
    }

    async fn stream_heads(&self) -> StoreResult<Vec<(String, i64, Timestamp)>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT s.provider_id, s.head, coalesce((SELECT e.time FROM change_event e \
                             WHERE e.provider_id = s.provider_id AND e.position = s.head), 0) \
                             FROM provider_stream s ORDER BY s.provider_id",
                            &[],
                        )
                        .await?;
                    rows.into_iter()
                        .map(|mut r| Ok((r.take_text(0)?, r.int(1)?, Timestamp(r.int(2)?))))
                        .collect()
                })
            })
            .await
    }

    async fn pending(
        &self,
        s: &Subscription,
        now: Timestamp,
        per_provider: u32,
    ) -> StoreResult<Vec<(Cursor, Vec<ChangeEvent>)>> {
        let s = s.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT st.provider_id, coalesce(c.position, 0), coalesce(c.attempts, 0), c.retry_at, \
                             c.failing_since FROM provider_stream st LEFT JOIN subscription_cursor c \
                             ON c.subscription_id = ? AND c.provider_id = st.provider_id \
                             WHERE st.head > coalesce(c.position, 0) AND (c.retry_at IS NULL OR c.retry_at <= ?) \
                             ORDER BY st.provider_id",
                            args![s.id.as_str(), now.0],
                        )
                        .await?;
                    let mut out = Vec::new();
                    for row in rows {
                        let cursor = cursor_from_row(row)?;
                        if !s.covers_provider(&cursor.provider) {
                            continue;
                        }
                        let events = x
                            .query(
                                &format!(
                                    "SELECT {COLUMNS} FROM change_event e WHERE e.provider_id = ? AND e.position > ? \
                                     ORDER BY e.position LIMIT ?"
                                ),
                                args![cursor.provider.as_str(), cursor.position, per_provider],
                            )
                            .await?
                            .into_iter()
                            .map(|r| event_from_row(r).map(|(_, e)| e))
                            .collect::<Result<Vec<_>, _>>()?;
                        out.push((cursor, events));
                    }
                    Ok(out)
                })
            })
            .await
    }

    async fn create_subscription(&self, s: &Subscription, event: &AuditEvent) -> StoreResult<()> {
        let (s, event) = (s.clone(), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        &format!(
                            "INSERT INTO subscription ({SUBSCRIPTION_COLUMNS}) VALUES \
                             (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        ),
                        args![
                            s.id.as_str(),
                            s.format.as_str(),
                            &s.url,
                            &json_list(&s.providers),
                            s.population.map(|p| p.as_str()),
                            &json_list(&s.events.iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>()),
                            s.payload.as_str(),
                            &s.secret,
                            &s.old_secret,
                            s.old_until.map(|t| t.0),
                            &s.poll_hash,
                            s.state.as_str(),
                            &s.state_reason,
                            s.created.0,
                            s.last_success.map(|t| t.0),
                            &s.last_error,
                            s.last_error_at.map(|t| t.0)
                        ],
                    )
                    .await?;
                    // From now on: every stream's present head is where it starts.
                    x.execute(
                        "INSERT INTO subscription_cursor (subscription_id, provider_id, position) \
                         SELECT ?, provider_id, head FROM provider_stream",
                        args![s.id.as_str()],
                    )
                    .await?;
                    audit::append(x, &event).await
                })
            })
            .await
    }

    async fn subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        let id = id.to_owned();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscription WHERE id = ?");
                    x.query_opt(&sql, args![id.as_str()])
                        .await?
                        .map(subscription_from_row)
                        .transpose()
                })
            })
            .await
    }

    async fn subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscription ORDER BY created, id");
                    x.query(&sql, &[])
                        .await?
                        .into_iter()
                        .map(subscription_from_row)
                        .collect()
                })
            })
            .await
    }

    async fn update_subscription(&self, s: &Subscription, event: &AuditEvent) -> StoreResult<bool> {
        let (s, event) = (s.clone(), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let n = x
                        .execute(
                            "UPDATE subscription SET state = ?, state_reason = ?, secret = ?, old_secret = ?, \
                             old_until = ?, poll_hash = ? WHERE id = ?",
                            args![
                                s.state.as_str(),
                                &s.state_reason,
                                &s.secret,
                                &s.old_secret,
                                s.old_until.map(|t| t.0),
                                &s.poll_hash,
                                s.id.as_str()
                            ],
                        )
                        .await?;
                    if n > 0 {
                        audit::append(x, &event).await?;
                    }
                    Ok(n > 0)
                })
            })
            .await
    }

    async fn delete_subscription(&self, id: &str, event: &AuditEvent) -> StoreResult<bool> {
        let (id, event) = (id.to_owned(), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let n = x
                        .execute("DELETE FROM subscription WHERE id = ?", args![id.as_str()])
                        .await?;
                    if n > 0 {
                        audit::append(x, &event).await?;
                    }
                    Ok(n > 0)
                })
            })
            .await
    }

    async fn cursors(&self, subscription: &str) -> StoreResult<Vec<Cursor>> {
        let id = subscription.to_owned();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    x.query(
                        "SELECT provider_id, position, attempts, retry_at, failing_since FROM subscription_cursor \
                         WHERE subscription_id = ? ORDER BY provider_id",
                        args![id.as_str()],
                    )
                    .await?
                    .into_iter()
                    .map(cursor_from_row)
                    .collect()
                })
            })
            .await
    }

    async fn rewind(
        &self,
        subscription: &str,
        provider: Option<&str>,
        position: i64,
        event: &AuditEvent,
    ) -> StoreResult<u64> {
        let (id, provider, event) = (subscription.to_owned(), provider.map(str::to_owned), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let n = rewind(x, &id, provider.as_deref(), position).await?;
                    audit::append(x, &event).await?;
                    Ok(n)
                })
            })
            .await
    }

    async fn record_progress(&self, subscription: &str, holder: Option<&str>, p: Progress) -> StoreResult<bool> {
        let (id, holder) = (subscription.to_owned(), holder.map(str::to_owned));
        self.db
            .write(move |x| Box::pin(async move { progress(x, &id, holder.as_deref(), p).await }))
            .await
    }

    async fn take_lease(
        &self,
        subscription: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let (id, holder) = (subscription.to_owned(), holder.to_owned());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let n = x
                        .execute(
                            "UPDATE subscription SET lease_holder = ?1, lease_until = ?2 WHERE id = ?3 \
                             AND state = 'active' AND (lease_holder IS NULL OR lease_holder = ?1 OR lease_until < ?4)",
                            args![holder.as_str(), until.0, id.as_str(), now.0],
                        )
                        .await?;
                    Ok(n > 0)
                })
            })
            .await
    }

    async fn attempts(&self, subscription: &str, limit: u32) -> StoreResult<Vec<Attempt>> {
        let id = subscription.to_owned();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    x.query(
                        "SELECT event_id, provider_id, position, time, status, latency_ms, answer \
                         FROM delivery_attempt WHERE subscription_id = ? ORDER BY seq DESC LIMIT ?",
                        args![id.as_str(), limit],
                    )
                    .await?
                    .into_iter()
                    .map(|mut r| {
                        Ok(Attempt {
                            event_id: r.take_text(0)?,
                            provider: r.take_text(1)?,
                            position: r.int(2)?,
                            time: Timestamp(r.int(3)?),
                            status: r.opt_int(4)?.and_then(|s| u16::try_from(s).ok()),
                            latency_ms: r.int(5)?,
                            answer: r.take_opt_text(6)?,
                        })
                    })
                    .collect()
                })
            })
            .await
    }

    async fn dead_letters(&self, subscription: &str) -> StoreResult<Vec<DeadLetter>> {
        let id = subscription.to_owned();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    x.query(
                        "SELECT event_id, provider_id, position, time, reason FROM dead_letter \
                         WHERE subscription_id = ? ORDER BY provider_id, position",
                        args![id.as_str()],
                    )
                    .await?
                    .into_iter()
                    .map(|mut r| {
                        Ok(DeadLetter {
                            event_id: r.take_text(0)?,
                            provider: r.take_text(1)?,
                            position: r.int(2)?,
                            time: Timestamp(r.int(3)?),
                            reason: r.take_text(4)?,
                        })
                    })
                    .collect()
                })
            })
            .await
    }

    async fn retry_dead_letters(&self, subscription: &str, event: &AuditEvent) -> StoreResult<u64> {
        let (id, event) = (subscription.to_owned(), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let oldest = x
                        .query(
                            "SELECT provider_id, min(position), count(*) FROM dead_letter WHERE subscription_id = ? \
                             GROUP BY provider_id",
                            args![id.as_str()],
                        )
                        .await?;
                    let mut n = 0;
                    for mut row in oldest {
                        let provider = row.take_text(0)?;
                        rewind(x, &id, Some(&provider), row.int(1)?).await?;
                        n += row.int(2)? as u64;
                    }
                    x.execute("DELETE FROM dead_letter WHERE subscription_id = ?", args![id.as_str()])
                        .await?;
                    if n > 0 {
                        audit::append(x, &event).await?;
                    }
                    Ok(n)
                })
            })
            .await
    }

    async fn prune_events(&self, before: Timestamp, hold_limit: Timestamp) -> StoreResult<u64> {
        let subscriptions = self.subscriptions().await?;
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let streams = x.query("SELECT provider_id FROM provider_stream", &[]).await?;
                    let cursors = x
                        .query(
                            "SELECT subscription_id, provider_id, position FROM subscription_cursor",
                            &[],
                        )
                        .await?;
                    let mut pruned = 0;
                    for row in streams {
                        let provider = row.text(0)?;
                        // The oldest position a subscription covering the provider still needs.
                        let mut hold = i64::MAX;
                        for s in subscriptions.iter().filter(|s| s.covers_provider(&provider)) {
                            let at = cursors
                                .iter()
                                .find(|c| {
                                    c.text(0).ok().as_deref() == Some(s.id.as_str())
                                        && c.text(1).ok().as_deref() == Some(provider.as_str())
                                })
                                .map(|c| c.int(2))
                                .transpose()?
                                .unwrap_or(0);
                            hold = hold.min(at);
                        }
                        pruned += x
                            .execute(
                                "DELETE FROM change_event WHERE provider_id = ?1 AND time < ?2 AND \
                                 ((position <= ?3 AND id NOT IN (SELECT event_id FROM dead_letter)) OR time < ?4)",
                                args![provider.as_str(), before.0, hold, hold_limit.0],
                            )
                            .await?;
                    }
                    Ok(pruned)
                })
            })
            .await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    x.query(
                        "SELECT kid, private_key, public_jwk, created, retires FROM signing_key ORDER BY created DESC",
                        &[],
                    )
                    .await?
                    .into_iter()
                    .map(|mut r| {
                        Ok(SigningKeyRecord {
                            kid: r.take_text(0)?,
                            sealed: r.bytes(1)?,
                            public_jwk: serde_json::from_str(&r.text(2)?).map_err(corrupt)?,
                            created: Timestamp(r.int(3)?),
                            retires: r.opt_int(4)?.map(Timestamp),
                        })
                    })
                    .collect()
                })
            })
            .await
    }

    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let (key, event) = (key.clone(), event.clone());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "UPDATE signing_key SET retires = ? WHERE retires IS NULL OR retires > ?",
                        args![retire_at.0, retire_at.0],
                    )
                    .await?;
                    x.execute(
                        "INSERT INTO signing_key (kid, private_key, public_jwk, created, retires) VALUES (?, ?, ?, ?, NULL)",
                        args![
                            key.kid.as_str(),
                            &key.sealed,
                            &key.public_jwk.to_string(),
                            key.created.0
                        ],
                    )
                    .await?;
                    audit::append(x, &event).await
                })
            })
            .await
    }
}
