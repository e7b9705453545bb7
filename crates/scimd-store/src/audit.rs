//! The audit log as a hash chain: an append reads the head and links to it inside the
//! change's transaction, so the chain is linear in `seq` order. SQLite has one writer at a
//! time (across processes too: `BEGIN IMMEDIATE`); on PostgreSQL, several instances append
//! at once, so an append first takes a transaction-scoped advisory lock, held until its
//! transaction ends — the append is the last statement of each change's transaction.

use scimd_core::audit::GENESIS;
use scimd_core::{AuditEvent, AuditLink, AuditQuery, StoreError, StoredAuditEvent, Timestamp};

use crate::db::{Exec, Row, args};

/// The advisory lock that serialises appends to the chain on PostgreSQL.
const CHAIN_LOCK: i64 = 0x5c1d_0002;

const SELECT: &str =
    "SELECT seq, time, actor, action, provider_id, resource, population, attributes, prev_hash, hash FROM audit_event";

/// Hold the chain for the rest of the transaction (PostgreSQL; SQLite's writer already is
/// the only one), for appends and for tools that replace the chain.
pub(crate) async fn lock(x: &mut dyn Exec) -> Result<(), StoreError> {
    if x.is_postgres() {
        x.execute("SELECT pg_advisory_xact_lock(?)", args![CHAIN_LOCK]).await?;
    }
    Ok(())
}

/// Append `e`, linked to the newest event, and the change events it carries to their
/// providers' streams. Runs inside the caller's write transaction.
pub(crate) async fn append(x: &mut dyn Exec, e: &AuditEvent) -> Result<(), StoreError> {
    let attributes = serde_json::to_string(&e.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
    lock(x).await?;
    let prev = head(x, i64::MAX).await?;
    let hash = e.chain_fields().hash(&prev);
    const INSERT: &str = "INSERT INTO audit_event (time, actor, action, provider_id, resource, population, attributes, \
                          prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let bound = args![
        e.time.0,
        &e.actor,
        &e.action,
        &e.provider,
        &e.resource,
        e.population.map(|p| p.as_str()),
        &attributes,
        &prev,
        &hash
    ];
    match &e.changes[..] {
        [one] if x.is_postgres() => crate::stream::append_one_then(x, one, INSERT, bound).await,
        changes => {
            x.execute(INSERT, bound).await?;
            crate::stream::append(x, changes).await
        }
    }
}

/// The hash of the newest event before `seq` (the genesis value when there is none).
async fn head(x: &mut dyn Exec, before: i64) -> Result<Vec<u8>, StoreError> {
    let row = x
        .query_opt(
            "SELECT hash FROM audit_event WHERE seq < ? ORDER BY seq DESC LIMIT 1",
            args![before],
        )
        .await?;
    Ok(match row {
        Some(r) => r.opt_bytes(0)?.unwrap_or_else(|| GENESIS.to_vec()),
        None => GENESIS.to_vec(),
    })
}

/// Chain the events written before the chain existed (right after the migration that added
/// it, in the migration's transaction). Returns how many.
pub(crate) async fn chain_unchained(x: &mut dyn Exec) -> Result<u64, StoreError> {
    lock(x).await?;
    let rows = x
        .query(&format!("{SELECT} WHERE hash IS NULL ORDER BY seq"), &[])
        .await?;
    for row in &rows {
        let link = link_from_row(row)?;
        let prev = head(x, link.event.seq).await?;
        let hash = link.event.chain_fields().hash(&prev);
        x.execute(
            "UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?",
            args![&prev, &hash, link.event.seq],
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// An audit event's stored attribute list; text that is no list is kept whole, so that a
/// damaged row cannot hash like an empty list.
fn attributes(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_else(|_| vec![format!("\u{0}unreadable:{stored}")])
}

/// An event from the first eight columns of [`SELECT`] (the order every audit read uses).
fn event_from_row(r: &Row) -> Result<StoredAuditEvent, StoreError> {
    Ok(StoredAuditEvent {
        seq: r.int(0)?,
        time: Timestamp(r.int(1)?),
        actor: r.text(2)?,
        action: r.text(3)?,
        provider: r.opt_text(4)?,
        resource: r.opt_text(5)?,
        population: r.opt_text(6)?,
        attributes: attributes(&r.text(7)?),
    })
}

fn link_from_row(r: &Row) -> Result<AuditLink, StoreError> {
    Ok(AuditLink {
        event: event_from_row(r)?,
        prev_hash: r.opt_bytes(8)?,
        hash: r.opt_bytes(9)?,
    })
}

/// Up to `limit` events with their links, oldest first, after `after`.
pub(crate) async fn chain_page(x: &mut dyn Exec, after: i64, limit: u32) -> Result<Vec<AuditLink>, StoreError> {
    x.query(
        &format!("{SELECT} WHERE seq > ? ORDER BY seq LIMIT ?"),
        args![after, limit],
    )
    .await?
    .iter()
    .map(link_from_row)
    .collect()
}

/// A page of the filtered log, newest first. Each filter narrows it; `action` and `actor`
/// match exactly or, ending in `*`, by prefix.
pub(crate) async fn events(x: &mut dyn Exec, q: &AuditQuery) -> Result<Vec<StoredAuditEvent>, StoreError> {
    let action = AuditQuery::like_pattern(&q.action);
    let actor = AuditQuery::like_pattern(&q.actor);
    x.query(
        "SELECT seq, time, actor, action, provider_id, resource, population, attributes \
         FROM audit_event WHERE (CAST(?1 AS TEXT) IS NULL OR provider_id = ?1) \
         AND (CAST(?2 AS TEXT) IS NULL OR action LIKE ?2 ESCAPE '\\') \
         AND (CAST(?3 AS TEXT) IS NULL OR actor LIKE ?3 ESCAPE '\\') \
         AND (CAST(?4 AS TEXT) IS NULL OR resource = ?4) \
         AND (CAST(?5 AS BIGINT) IS NULL OR time >= ?5) AND (CAST(?6 AS BIGINT) IS NULL OR time < ?6) \
         AND (CAST(?7 AS BIGINT) IS NULL OR seq < ?7) ORDER BY seq DESC LIMIT ?8",
        args![
            &q.provider,
            &action,
            &actor,
            &q.resource,
            q.since.map(|t| t.0),
            q.until.map(|t| t.0),
            q.before_seq,
            q.limit.max(1)
        ],
    )
    .await?
    .iter()
    .map(event_from_row)
    .collect()
}
