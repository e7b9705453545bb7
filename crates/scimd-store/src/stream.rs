//! Providers' change streams. An append takes the next positions of the provider by moving
//! its head (`provider_stream`), which on PostgreSQL locks that one row until the change
//! commits: the provider's changes get their positions in commit order, and changes of
//! other providers do not wait for it.

use scimd_core::events::{ChangeEvent, EventType, Verb};
use scimd_core::{StoreError, Timestamp};

use serde_json::Value;

use crate::db::{Arg, Exec, Row, args};
use crate::rows::parse_kind;

pub(crate) const COLUMNS: &str = "e.seq, e.id, e.provider_id, e.population, e.position, e.time, e.txn, e.type, \
                                  e.verb, e.resource_kind, e.resource_id, e.member_id, e.attributes, e.resource";

const EVENT_COLUMNS: &str = "provider_id, position, id, time, population, txn, type, verb, resource_kind, \
                             resource_id, member_id, attributes, resource";

/// The values of an event's row after its position, in [`EVENT_COLUMNS`] order.
fn event_args<'a>(e: &'a ChangeEvent, attributes: &'a String, resource: &'a Option<String>) -> [Arg<'a>; 11] {
    [
        Arg::from(e.id.as_str()),
        Arg::from(e.time.0),
        Arg::from(e.population.as_str()),
        Arg::from(e.txn.as_str()),
        Arg::from(e.event_type.as_str()),
        Arg::from(e.verb.as_str()),
        Arg::from(e.resource_kind.map(|k| k.name())),
        Arg::from(e.resource_id.as_str()),
        Arg::from(e.member_id.as_deref()),
        Arg::from(attributes),
        Arg::from(resource),
    ]
}

fn encoded(e: &ChangeEvent) -> Result<(String, Option<String>), StoreError> {
    let attributes = serde_json::to_string(&e.attributes).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((attributes, e.resource.as_ref().map(Value::to_string)))
}

/// PostgreSQL, one event: take its position, write it, then run `then` (the change's audit
/// insert), all in one statement — one round trip instead of three while the audit chain's
/// lock is held.
pub(crate) async fn append_one_then(
    x: &mut dyn Exec,
    e: &ChangeEvent,
    then: &str,
    then_args: &[Arg<'_>],
) -> Result<(), StoreError> {
    let (attributes, resource) = encoded(e)?;
    let sql = format!(
        "WITH h AS (INSERT INTO provider_stream (provider_id, head) VALUES (?, 1) \
         ON CONFLICT (provider_id) DO UPDATE SET head = provider_stream.head + 1 RETURNING head), \
         ev AS (INSERT INTO change_event ({EVENT_COLUMNS}) SELECT ?, h.head, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM h) \
         {then}"
    );
    let mut bound = vec![Arg::from(e.provider.as_str()), Arg::from(e.provider.as_str())];
    bound.extend(event_args(e, &attributes, &resource));
    bound.extend(then_args.iter().cloned());
    x.execute(&sql, &bound).await?;
    Ok(())
}

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
        let sql = format!("INSERT INTO change_event ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        for e in these {
            position += 1;
            let (attributes, resource) = encoded(e)?;
            let mut bound = vec![Arg::from(e.provider.as_str()), Arg::from(position)];
            bound.extend(event_args(e, &attributes, &resource));
            x.execute(&sql, &bound).await?;
        }
    }
    Ok(())
}

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
