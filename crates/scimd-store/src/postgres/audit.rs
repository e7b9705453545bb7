//! The audit chain in PostgreSQL. Several instances append at once, so an append takes a
//! transaction-scoped advisory lock before it reads the head and links to it: appends are
//! serialised until their transactions end, and the chain stays linear in `seq` order. The
//! append is the last statement of each change's transaction, so the lock is held only for
//! the insert and the commit.

use scimd_core::audit::GENESIS;
use scimd_core::{AuditEvent, AuditLink, StoreError, StoredAuditEvent, Timestamp};
use tokio_postgres::Row;

use super::backend;
use super::pool::Conn;
use super::providers::get;

/// The advisory lock that serialises appends to the chain.
const CHAIN_LOCK: i64 = 0x5c1d_0002;

/// Append `e`, linked to the newest event. Must run inside a transaction.
pub(crate) async fn append(c: &mut Conn<'_>, e: &AuditEvent) -> Result<(), StoreError> {
    let attributes = serde_json::to_string(&e.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
    lock(c).await?;
    let prev = head(c, i64::MAX).await?;
    let hash = e.chain_fields().hash(&prev);
    c.execute(
        "INSERT INTO audit_event (time, actor, action, provider_id, resource, population, attributes, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &e.time.0,
            &e.actor,
            &e.action,
            &e.provider,
            &e.resource,
            &e.population.map(|p| p.as_str()),
            &attributes,
            &prev,
            &hash.as_slice(),
        ],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn lock(c: &mut Conn<'_>) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
        .await
        .map_err(backend)?;
    Ok(())
}

/// The hash of the newest event before `seq` (the genesis value when there is none).
async fn head(c: &mut Conn<'_>, before: i64) -> Result<Vec<u8>, StoreError> {
    let row = c
        .query_opt(
            "SELECT hash FROM audit_event WHERE seq < $1 ORDER BY seq DESC LIMIT 1",
            &[&before],
        )
        .await
        .map_err(backend)?;
    Ok(match row {
        Some(r) => get::<Option<Vec<u8>>>(&r, 0)?.unwrap_or_else(|| GENESIS.to_vec()),
        None => GENESIS.to_vec(),
    })
}

/// Chain the events written before the chain existed (right after the migration that added
/// it, in the migration's transaction). Returns how many.
pub(crate) async fn chain_unchained(c: &mut Conn<'_>) -> Result<u64, StoreError> {
    lock(c).await?;
    let rows = c
        .query(&format!("{SELECT} WHERE hash IS NULL ORDER BY seq"), &[])
        .await
        .map_err(backend)?;
    for row in &rows {
        let link = link_from_row(row)?;
        let prev = head(c, link.event.seq).await?;
        let hash = link.event.chain_fields().hash(&prev);
        c.execute(
            "UPDATE audit_event SET prev_hash = $2, hash = $3 WHERE seq = $1",
            &[&link.event.seq, &prev, &hash.as_slice()],
        )
        .await
        .map_err(backend)?;
    }
    Ok(rows.len() as u64)
}

const SELECT: &str =
    "SELECT seq, time, actor, action, provider_id, resource, population, attributes, prev_hash, hash FROM audit_event";

/// An event from the first eight columns of [`SELECT`] (the order every audit read uses).
pub(crate) fn event_from_row(r: &Row) -> Result<StoredAuditEvent, StoreError> {
    let attrs: String = get(r, 7)?;
    Ok(StoredAuditEvent {
        seq: get(r, 0)?,
        time: Timestamp(get(r, 1)?),
        actor: get(r, 2)?,
        action: get(r, 3)?,
        provider: get(r, 4)?,
        resource: get(r, 5)?,
        population: get(r, 6)?,
        attributes: crate::rows::audit_attributes(&attrs),
    })
}

fn link_from_row(r: &Row) -> Result<AuditLink, StoreError> {
    Ok(AuditLink {
        event: event_from_row(r)?,
        prev_hash: get(r, 8)?,
        hash: get(r, 9)?,
    })
}

pub(crate) async fn chain_page(c: &mut Conn<'_>, after: i64, limit: u32) -> Result<Vec<AuditLink>, StoreError> {
    let rows = c
        .query(
            &format!("{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &i64::from(limit)],
        )
        .await
        .map_err(backend)?;
    rows.iter().map(link_from_row).collect()
}
