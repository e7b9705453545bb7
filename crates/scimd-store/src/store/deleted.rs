//! Soft-deleted resources in the store: kept out of the `resource` table (so no SCIM read,
//! filter or uniqueness check sees them) with the memberships they left, restored under
//! their id, purged in batches past their retention, erased on request.

use scim_proto::schema::ResourceKind;
use scimd_core::lifecycle::DeletedRecord;
use scimd_core::resource::{IndexEntry, ResourceRecord};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, ProviderId, StoreError, Timestamp, events};

use super::resources::{insert_row, record_from_row, remove, write_index};
use crate::audit;
use crate::db::{Dialect, Exec, Row, args};
use crate::rows::COLUMNS;

/// [`COLUMNS`]' order (a deleted resource holds no `seq`), then who deleted it, when, and
/// when it is purged.
pub(crate) const DELETED_COLUMNS: &str = "0, d.id, d.provider_id, d.population, d.kind, d.data, d.created, d.modified, \
                               d.version, d.access_end, d.deleted, d.deleted_by, d.purge_after";

pub(crate) fn deleted_from_row(mut r: Row) -> Result<DeletedRecord, StoreError> {
    let (deleted, deleted_by, purge_after) = (Timestamp(r.int(10)?), r.take_text(11)?, Timestamp(r.int(12)?));
    Ok(DeletedRecord {
        record: record_from_row(r)?,
        deleted,
        deleted_by,
        purge_after,
    })
}

/// Keep `rec`, about to be deleted by `event`, until `purge_after`, with the memberships its
/// deletion ends (as a group, and as a member). Runs in the delete's transaction.
pub(crate) async fn keep_deleted(
    x: &mut dyn Exec,
    rec: &ResourceRecord,
    event: &AuditEvent,
    purge_after: Timestamp,
) -> StoreResult<()> {
    // The row as it is, copied before the delete removes it.
    x.execute(
        "INSERT INTO deleted_resource (id, provider_id, population, kind, user_name, display_name, external_id, \
         created, modified, version, data, access_end, deleted, deleted_by, purge_after) \
         SELECT id, provider_id, population, kind, user_name, display_name, external_id, created, modified, \
         version, data, access_end, ?, ?, ? FROM resource WHERE seq = ?",
        args![event.time.0, event.actor.as_str(), purge_after.0, rec.seq],
    )
    .await?;
    for (end, other) in [("group_seq", "member_seq"), ("member_seq", "group_seq")] {
        x.execute(
            &format!(
                "INSERT INTO deleted_membership (resource_id, group_id, member_id, display) \
                 SELECT ?, g.id, m.id, ms.display FROM membership ms \
                 JOIN resource g ON g.seq = ms.group_seq JOIN resource m ON m.seq = ms.member_seq \
                 WHERE ms.{end} = ? ORDER BY ms.{other}"
            ),
            args![rec.id.as_str(), rec.seq],
        )
        .await?;
    }
    Ok(())
}

/// The recorded memberships of deleted resource `id` whose other end exists now in
/// `provider`: (that end's seq, its id, the display sent). `as_member`: the groups `id` was
/// in; otherwise the members it had.
async fn recorded(
    x: &mut dyn Exec,
    provider: &ProviderId,
    id: &str,
    as_member: bool,
) -> StoreResult<Vec<(i64, String, Option<String>)>> {
    let (mine, theirs) = if as_member {
        ("member_id", "group_id")
    } else {
        ("group_id", "member_id")
    };
    let rows = x
        .query(
            &format!(
                "SELECT o.seq, o.id, d.display FROM deleted_membership d JOIN resource o ON o.id = d.{theirs} \
                 WHERE d.resource_id = ?1 AND d.{mine} = ?1 AND o.provider_id = ?2 {} ORDER BY o.seq",
                if as_member { "AND o.kind = 'Group'" } else { "" }
            ),
            args![id, provider.as_str()],
        )
        .await?;
    rows.into_iter()
        .map(|mut r| Ok((r.int(0)?, r.take_text(1)?, r.take_opt_text(2)?)))
        .collect()
}

pub(crate) async fn restore(
    x: &mut dyn Exec,
    kind: ResourceKind,
    id: &str,
    index: Vec<IndexEntry>,
    mut event: AuditEvent,
) -> Result<ResourceRecord, CoreError> {
    let sql = format!("SELECT {DELETED_COLUMNS} FROM deleted_resource d WHERE d.id = ? AND d.kind = ?");
    let sql = if x.is_postgres() {
        format!("{sql} FOR UPDATE")
    } else {
        sql
    };
    let d = x
        .query_opt(&sql, args![id, kind.name()])
        .await?
        .map(deleted_from_row)
        .transpose()?
        .ok_or_else(|| CoreError::NotFound(format!("deleted {} '{id}'", kind.name().to_lowercase())))?;
    // Its name (or a unique extension value) taken since: the 409 says so.
    let taken = |e: CoreError| match e {
        CoreError::Scim(s) if s.status == 409 => CoreError::Conflict(format!(
            "cannot restore {} '{id}': its name has been taken since it was deleted ({})",
            kind.name().to_lowercase(),
            s.detail
        )),
        other => other,
    };
    let mut rec = ResourceRecord {
        modified: event.time,
        version: d.record.version + 1,
        ..d.record
    };
    rec.seq = insert_row(x, &rec).await.map_err(taken)?;
    let seq = rec.seq;
    write_index(x, &rec.provider, kind, seq, None, &index)
        .await
        .map_err(taken)?;
    // Back into the groups that still exist; a group gets back the members that do.
    let groups = recorded(x, &rec.provider, id, true).await?;
    let members = match kind {
        ResourceKind::Group => recorded(x, &rec.provider, id, false).await?,
        ResourceKind::User => Vec::new(),
    };
    for (g, _, display) in &groups {
        x.execute(
            "INSERT INTO membership (group_seq, member_seq, display) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            args![*g, seq, display],
        )
        .await?;
    }
    for (m, _, display) in &members {
        x.execute(
            "INSERT INTO membership (group_seq, member_seq, display) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            args![seq, *m, display],
        )
        .await?;
    }
    x.execute("DELETE FROM deleted_membership WHERE resource_id = ?", args![id])
        .await?;
    x.execute("DELETE FROM deleted_resource WHERE id = ?", args![id])
        .await?;
    let ids = |l: &[(i64, String, Option<String>)]| l.iter().map(|(_, id, _)| id.clone()).collect::<Vec<_>>();
    event.changes = events::resource_restored(&event, &rec, &ids(&members), &ids(&groups));
    audit::append(x, &event).await?;
    Ok(rec)
}

/// Purge up to `limit` resources whose retention ended by `now`, each audited.
pub(crate) async fn purge(x: &mut dyn Exec, now: Timestamp, limit: u32, proto: &AuditEvent) -> StoreResult<u64> {
    let rows = x
        .query(
            "SELECT id, kind, provider_id, population FROM deleted_resource WHERE purge_after <= ? \
             ORDER BY purge_after, id LIMIT ?",
            args![now.0, limit],
        )
        .await?;
    let n = rows.len() as u64;
    for mut r in rows {
        let (id, kind, provider, population) = (r.take_text(0)?, r.take_text(1)?, r.take_text(2)?, r.take_text(3)?);
        x.execute(
            "DELETE FROM deleted_membership WHERE resource_id = ?",
            args![id.as_str()],
        )
        .await?;
        x.execute("DELETE FROM deleted_resource WHERE id = ?", args![id.as_str()])
            .await?;
        let mut event = proto.clone();
        event.action = format!("{}.purge", kind.to_lowercase());
        event.provider = Some(provider);
        event.resource = Some(format!("{kind}/{id}"));
        event.population = population.parse().ok();
        audit::append(x, &event).await?;
    }
    Ok(n)
}

/// Remove user `id`, live or soft-deleted, and what restores kept of it.
pub(crate) async fn erase(x: &mut dyn Exec, id: &str, mut event: AuditEvent) -> Result<bool, CoreError> {
    let live = x
        .query_opt(&format!("SELECT {COLUMNS} FROM resource r WHERE r.id = ?"), args![id])
        .await?
        .map(record_from_row)
        .transpose()?
        .filter(|r| r.kind == ResourceKind::User);
    // Recorded as a member of soft-deleted groups, with the display the client sent.
    x.execute("DELETE FROM deleted_membership WHERE member_id = ?", args![id])
        .await?;
    // What the provisioning log kept of it goes too, in this transaction.
    let named = match &live {
        Some(rec) => Some((
            rec.provider.to_string(),
            ["userName", "externalId"]
                .iter()
                .filter_map(|a| rec.data.get(*a).and_then(|v| v.as_str()).map(str::to_owned))
                .collect::<Vec<_>>(),
        )),
        None => x
            .query_opt(
                "SELECT provider_id, user_name, external_id FROM deleted_resource WHERE id = ? AND kind = 'User'",
                args![id],
            )
            .await?
            .map(|mut r| -> Result<_, StoreError> {
                let provider = r.take_text(0)?;
                Ok((
                    provider,
                    [r.take_opt_text(1)?, r.take_opt_text(2)?]
                        .into_iter()
                        .flatten()
                        .collect(),
                ))
            })
            .transpose()?,
    };
    if let Some((provider, mut names)) = named {
        names.push(id.to_owned());
        forget_in_log(x, &provider, &names).await?;
    }
    if let Some(rec) = live {
        remove(x, rec, event).await?;
        return Ok(true);
    }
    x.execute("DELETE FROM deleted_membership WHERE resource_id = ?", args![id])
        .await?;
    let n = x
        .execute("DELETE FROM deleted_resource WHERE id = ? AND kind = 'User'", args![id])
        .await?;
    if n == 0 {
        return Ok(false);
    }
    event.changes.clear();
    audit::append(x, &event).await?;
    Ok(true)
}

/// Delete the provisioning log's entries of `provider` whose path, error or masked body names
/// any of `names` (a user's id, userName, externalId), in any case, as sent or
/// percent-encoded (a filter in a query string).
async fn forget_in_log(x: &mut dyn Exec, provider: &str, names: &[String]) -> Result<(), StoreError> {
    let find = match x.dialect() {
        Dialect::Sqlite => "instr",
        Dialect::Postgres => "strpos",
    };
    let sql = format!(
        "DELETE FROM request_log WHERE provider_id = ?1 AND ({find}(lower(path), ?2) > 0 \
         OR {find}(lower(coalesce(detail, '')), ?2) > 0 OR {find}(lower(coalesce(body, '')), ?2) > 0)"
    );
    for name in names {
        let plain = name.to_lowercase();
        let encoded = percent_encoded(&plain);
        for needle in [plain.clone(), encoded] {
            // Too short to name anyone: it would erase unrelated entries.
            if needle.chars().count() >= 3 {
                x.execute(&sql, args![provider, needle.as_str()]).await?;
            }
        }
    }
    Ok(())
}

/// `s` as it appears percent-encoded in a query string (RFC 3986 unreserved kept).
fn percent_encoded(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}
