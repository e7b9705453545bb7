//! Users' access end dates: renewed by administrators, announced by the expiry job once
//! when they come within two weeks and once when they pass (`resource.access_notice`).

use scim_proto::schema::ResourceKind;
use scimd_core::events::{self, EventType};
use scimd_core::lifecycle::access::access_attribute;
use scimd_core::lifecycle::{AccessState, Notice};
use scimd_core::resource::{ResourceKey, ResourceRecord};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, Timestamp};

use super::resources::{load, record_from_row};
use crate::audit;
use crate::db::{Exec, args};
use crate::rows::COLUMNS;

/// Set the user's end date to `until` (and forget what was announced of the old one).
pub(crate) async fn renew(
    x: &mut dyn Exec,
    key: ResourceKey,
    until: Timestamp,
    modified: Timestamp,
    mut event: AuditEvent,
) -> Result<ResourceRecord, CoreError> {
    let before = locked_user(x, &key).await?;
    if before.access_end.is_none() {
        return Err(CoreError::Invalid(format!(
            "user '{}' has no access end date to renew: its provider '{}' gives none (--access-ttl)",
            before.id, before.provider
        )));
    }
    let version = before.version + 1;
    x.execute(
        "UPDATE resource SET access_end = ?, access_notice = 0, modified = ?, version = ? WHERE seq = ?",
        args![until.0, modified.0, version, before.seq],
    )
    .await?;
    let after = ResourceRecord {
        access_end: Some(until),
        modified,
        version,
        ..before.clone()
    };
    let mut attributes = vec![access_attribute("accessEnd")];
    let expired = |r: &ResourceRecord| AccessState::of(r, event.time) == AccessState::Expired;
    if expired(&before) != expired(&after) {
        attributes.push(access_attribute("state"));
    }
    event.attributes.clone_from(&attributes);
    event.changes = events::access_changed(&event, EventType::UserAccessRenewed, &after, &attributes);
    audit::append(x, &event).await?;
    Ok(after)
}

/// Users whose end passed by `now` or comes by `horizon` and was not announced as such.
pub(crate) async fn due(
    x: &mut dyn Exec,
    now: Timestamp,
    horizon: Timestamp,
    limit: u32,
) -> StoreResult<Vec<(ResourceRecord, Notice)>> {
    let rows = x
        .query(
            &format!(
                "SELECT {COLUMNS}, r.access_notice FROM resource r WHERE r.access_end IS NOT NULL \
                 AND r.access_end <= ? AND r.kind = 'User' \
                 AND ((r.access_end <= ? AND r.access_notice < 2) OR r.access_notice < 1) \
                 ORDER BY r.access_end, r.seq LIMIT ?"
            ),
            args![horizon.0, now.0, limit],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let notice = Notice::from_stored(r.int(10)?);
            Ok((record_from_row(r)?, notice))
        })
        .collect()
}

/// Announce `notice` of the user's end `end`, unless it moved or was announced already. An
/// expiry changes what the identity provider reads (`state`), so its version moves on.
pub(crate) async fn notice(
    x: &mut dyn Exec,
    key: ResourceKey,
    end: Timestamp,
    notice: Notice,
    mut event: AuditEvent,
) -> Result<bool, CoreError> {
    let rec = locked_user(x, &key).await?;
    let stored = x
        .query_one("SELECT access_notice FROM resource WHERE seq = ?", args![rec.seq])
        .await?
        .int(0)?;
    if rec.access_end != Some(end) || Notice::from_stored(stored) >= notice {
        return Ok(false);
    }
    let (after, event_type, attributes) = match notice {
        Notice::Expired => {
            let after = ResourceRecord {
                version: rec.version + 1,
                modified: event.time,
                ..rec
            };
            (after, EventType::UserAccessExpired, vec![access_attribute("state")])
        }
        _ => (rec, EventType::UserAccessExpiring, Vec::new()),
    };
    x.execute(
        "UPDATE resource SET access_notice = ?, version = ?, modified = ? WHERE seq = ?",
        args![notice as i64, after.version, after.modified.0, after.seq],
    )
    .await?;
    event.attributes.clone_from(&attributes);
    event.changes = events::access_changed(&event, event_type, &after, &attributes);
    audit::append(x, &event).await?;
    Ok(true)
}

/// The user behind `key`, locked for the change.
async fn locked_user(x: &mut dyn Exec, key: &ResourceKey) -> Result<ResourceRecord, CoreError> {
    load(x, &key.provider, ResourceKind::User, &key.id, true)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("user '{}'", key.id)))
}
