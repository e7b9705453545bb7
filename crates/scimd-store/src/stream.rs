//! Providers' change streams. An append takes the next positions of the provider by moving
//! its head (`provider_stream`), which on PostgreSQL locks that one row until the change
//! commits: the provider's changes get their positions in commit order, and changes of
//! other providers do not wait for it.

use scimd_core::events::{ChangeEvent, EventType, Verb};
use scimd_core::{StoreError, Timestamp};

use crate::db::{Exec, Row, args};
use crate::rows::parse_kind;

pub(crate) const COLUMNS: &str = "e.seq, e.id, e.provider_id, e.population, e.position, e.time, e.txn, e.type, \
                                  e.verb, e.resource_kind, e.resource_id, e.member_id, e.attributes, e.resource";

/// Append `changes` (of one change) to their providers' streams. Runs in the change's
/// transaction, with its audit event.
pub(crate) async fn append(x: &mut dyn Exec, changes: &[ChangeEvent]) -> Result<(), StoreError> {
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let run = rest.iter().take_while(|e| e.provider == first.provider).count();
        let (these, next) = rest.split_at(run);
        rest = next;
        let head = x
            .query_one(
                "INSERT INTO provider_stream (provider_id, head) VALUES (?, ?) \
                 ON CONFLICT (provider_id) DO UPDATE SET head = provider_stream.head + excluded.head RETURNING head",
                args![first.provider.as_str(), run as i64],
            )
            .await?
            .int(0)?;
        let mut position = head - run as i64;
        for e in these {
            position += 1;
            let attributes = serde_json::to_string(&e.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
            let resource = e.resource.as_ref().map(Value::to_string);
            x.execute(
                "INSERT INTO change_event (provider_id, position, id, time, population, txn, type, verb, \
                 resource_kind, resource_id, member_id, attributes, resource) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    e.provider.as_str(),
                    position,
                    e.id.as_str(),
                    e.time.0,
                    e.population.as_str(),
                    e.txn.as_str(),
                    e.event_type.as_str(),
                    e.verb.as_str(),
                    e.resource_kind.map(|k| k.name()),
                    e.resource_id.as_str(),
                    e.member_id.as_deref(),
                    &attributes,
                    &resource
                ],
            )
            .await?;
        }
    }
    Ok(())
}

use serde_json::Value;

/// An event row read with [`COLUMNS`], and its `seq`.
pub(crate) fn event_from_row(mut row: Row) -> Result<(i64, ChangeEvent), StoreError> {
    let corrupt = |what: String| StoreError::Backend(format!("unreadable change event: {what}"));
    let event_type: EventType = row.text(7)?.parse().map_err(corrupt)?;
    let verb = row.text(8)?;
    let verb = Verb::parse(&verb).ok_or_else(|| corrupt(format!("unknown verb {verb}")))?;
    let resource_kind = row.take_opt_text(9)?.and_then(|k| parse_kind(&k));
    let attributes: Vec<String> = serde_json::from_str(&row.text(12)?).map_err(|e| corrupt(e.to_string()))?;
    let resource = row
        .take_opt_text(13)?
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok((
        row.int(0)?,
        ChangeEvent {
            id: row.take_text(1)?,
            provider: row.take_text(2)?,
            population: row.text(3)?.parse().map_err(corrupt)?,
            position: row.int(4)?,
            time: Timestamp(row.int(5)?),
            txn: row.take_text(6)?,
            event_type,
            verb,
            resource_kind,
            resource_id: row.take_text(10)?,
            member_id: row.take_opt_text(11)?,
            attributes,
            resource,
        },
    ))
}
