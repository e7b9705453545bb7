//! The audit chain in SQLite: appends read the head and link to it inside the write
//! transaction (one writer at a time, across processes: `BEGIN IMMEDIATE`), so the chain is
//! linear; reads walk it in `seq` order.

use rusqlite::{Connection, OptionalExtension, Row, params};
use scimd_core::audit::GENESIS;
use scimd_core::{AuditEvent, AuditLink, StoreError, StoredAuditEvent, Timestamp};

use super::backend;

/// Append `e`, linked to the newest event. Runs inside the caller's write transaction.
pub(crate) fn append(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    let attributes = serde_json::to_string(&e.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
    let prev = head(conn, i64::MAX)?;
    let hash = e.chain_fields().hash(&prev);
    conn.prepare_cached(
        "INSERT INTO audit_event (time, actor, action, provider_id, resource, population, attributes, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.time.0,
            e.actor,
            e.action,
            e.provider,
            e.resource,
            e.population.map(|p| p.as_str()),
            attributes,
            prev.as_slice(),
            hash.as_slice()
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// The hash of the newest event before `seq` (the genesis value when there is none).
fn head(conn: &Connection, before: i64) -> Result<Vec<u8>, StoreError> {
    let found: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT hash FROM audit_event WHERE seq < ?1 ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([before], |r| r.get(0)).optional())
        .map_err(backend)?;
    Ok(found.flatten().unwrap_or_else(|| GENESIS.to_vec()))
}

/// Chain the events written before the chain existed (right after the migration that added
/// it, in the migration's transaction). Returns how many.
pub(crate) fn chain_unchained(conn: &Connection) -> Result<u64, StoreError> {
    let links = {
        let mut s = conn
            .prepare(&format!("{SELECT} WHERE hash IS NULL ORDER BY seq"))
            .map_err(backend)?;
        let rows = s.query_map([], link_from_row).map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
    };
    for link in &links {
        let prev = head(conn, link.event.seq)?;
        let hash = link.event.chain_fields().hash(&prev);
        conn.execute(
            "UPDATE audit_event SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![link.event.seq, prev, hash.as_slice()],
        )
        .map_err(backend)?;
    }
    Ok(links.len() as u64)
}

const SELECT: &str =
    "SELECT seq, time, actor, action, provider_id, resource, population, attributes, prev_hash, hash FROM audit_event";

/// An event from the first eight columns of [`SELECT`] (the order every audit read uses).
pub(crate) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredAuditEvent> {
    let attrs: String = r.get(7)?;
    Ok(StoredAuditEvent {
        seq: r.get(0)?,
        time: Timestamp(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        provider: r.get(4)?,
        resource: r.get(5)?,
        population: r.get(6)?,
        attributes: crate::rows::audit_attributes(&attrs),
    })
}

fn link_from_row(r: &Row<'_>) -> rusqlite::Result<AuditLink> {
    Ok(AuditLink {
        event: event_from_row(r)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

pub(crate) fn chain_page(conn: &Connection, after: i64, limit: u32) -> Result<Vec<AuditLink>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))
        .map_err(backend)?;
    let rows = s.query_map(params![after, limit], link_from_row).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
