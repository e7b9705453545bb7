//! Soft-deleted resources: kept out of the `resource` table (so no SCIM read, filter or
//! uniqueness check sees them) with the memberships they left, restored under their id,
//! purged in batches past their retention, erased on request. And the leases that let one
//! of several instances run a background job.

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;
use scimd_core::lifecycle::{DeletedQuery, DeletedRecord, GuardRefusal, GuardState, Notice};
use scimd_core::resource::{IndexEntry, ResourceKey, ResourceRecord};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, LifecycleStore, Population, ProviderId, StoreError, Timestamp, events};

use super::SqlStore;
use super::resources::{load, record_from_row, remove, write_error, write_index};
use crate::audit;
use crate::db::{Exec, Row, args};
use crate::rows::{COLUMNS, Columns};

pub(crate) use super::guard::admit as guard_admit;

/// [`COLUMNS`]' order (a deleted resource holds no `seq`), then who deleted it, when, and
/// when it is purged.
const DELETED_COLUMNS: &str = "0, d.id, d.provider_id, d.population, d.kind, d.data, d.created, d.modified, \
                               d.version, d.access_end, d.deleted, d.deleted_by, d.purge_after";

fn deleted_from_row(mut r: Row) -> Result<DeletedRecord, StoreError> {
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
    let cols = Columns::of(rec.kind, &rec.data);
    x.execute(
        "INSERT INTO deleted_resource (id, provider_id, population, kind, user_name, display_name, external_id, \
         created, modified, version, data, access_end, deleted, deleted_by, purge_after) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        args![
            rec.id.as_str(),
            rec.provider.as_str(),
            rec.population.as_str(),
            rec.kind.name(),
            &cols.user_name,
            &cols.display_name,
            &cols.external_id,
            rec.created.0,
            rec.modified.0,
            rec.version,
            &rec.data,
            rec.access_end.map(|t| t.0),
            event.time.0,
            event.actor.as_str(),
            purge_after.0
        ],
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

async fn restore(
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
    let old = d.record;
    let cols = Columns::of(kind, &old.data);
    let at = event.time;
    let seq = x
        .insert(
            "INSERT INTO resource (id, provider_id, population, kind, user_name, user_name_folded, external_id, \
             display_name, display_name_folded, active, created, modified, version, data, access_end) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            args![
                old.id.as_str(),
                old.provider.as_str(),
                old.population.as_str(),
                kind.name(),
                &cols.user_name,
                &cols.user_name_folded,
                &cols.external_id,
                &cols.display_name,
                &cols.display_name_folded,
                cols.active,
                old.created.0,
                at.0,
                old.version + 1,
                &old.data,
                old.access_end.map(|t| t.0)
            ],
        )
        .await
        .map_err(|e| match write_error(e, kind, &cols) {
            CoreError::Scim(s) if s.status == 409 => CoreError::Conflict(format!(
                "cannot restore {} '{id}': its name has been taken since it was deleted ({})",
                kind.name().to_lowercase(),
                s.detail
            )),
            other => other,
        })?;
    write_index(x, &old.provider, kind, seq, None, &index)
        .await
        .map_err(|e| match e {
            CoreError::Scim(s) if s.status == 409 => {
                CoreError::Conflict(format!("cannot restore '{id}': {}", s.detail))
            }
            other => other,
        })?;
    // Back into the groups that still exist; a group gets back the members that do.
    let groups = recorded(x, &old.provider, id, true).await?;
    let members = match kind {
        ResourceKind::Group => recorded(x, &old.provider, id, false).await?,
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
    let rec = ResourceRecord {
        seq,
        modified: at,
        version: old.version + 1,
        ..old
    };
    let ids = |l: &[(i64, String, Option<String>)]| l.iter().map(|(_, id, _)| id.clone()).collect::<Vec<_>>();
    event.changes = events::resource_restored(&event, &rec, &ids(&members), &ids(&groups));
    audit::append(x, &event).await?;
    Ok(rec)
}

/// Purge up to `limit` resources whose retention ended by `now`, each audited.
async fn purge(x: &mut dyn Exec, now: Timestamp, limit: u32, proto: &AuditEvent) -> StoreResult<u64> {
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
async fn erase(x: &mut dyn Exec, id: &str, mut event: AuditEvent) -> Result<bool, CoreError> {
    let live = x
        .query_opt(&format!("SELECT {COLUMNS} FROM resource r WHERE r.id = ?"), args![id])
        .await?
        .map(record_from_row)
        .transpose()?
        .filter(|r| r.kind == ResourceKind::User);
    // Recorded as a member of soft-deleted groups, with the display the client sent.
    x.execute("DELETE FROM deleted_membership WHERE member_id = ?", args![id])
        .await?;
    // TODO(#16 erasure): provisioning log — erasing a user must also clear the requests and
    // answers the per-provider provisioning log kept of it, here, in this transaction.
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

#[async_trait]
impl LifecycleStore for SqlStore {
    async fn resource_by_id(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<ResourceRecord>> {
        let id = id.to_owned();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let row = x
                        .query_opt(
                            &format!("SELECT {COLUMNS} FROM resource r WHERE r.id = ?"),
                            args![id.as_str()],
                        )
                        .await?;
                    Ok(row.map(record_from_row).transpose()?.filter(|r| r.kind == kind))
                })
            })
            .await
    }

    async fn deleted_page(&self, q: &DeletedQuery) -> StoreResult<(u64, Vec<DeletedRecord>)> {
        let q = q.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let (population, kind) = (q.population.as_str(), q.kind.name());
                    let total = x
                        .query_one(
                            "SELECT count(*) FROM deleted_resource WHERE population = ? AND kind = ?",
                            args![population, kind],
                        )
                        .await?
                        .int(0)?;
                    let rows = x
                        .query(
                            &format!(
                                "SELECT {DELETED_COLUMNS} FROM deleted_resource d WHERE d.population = ? \
                                 AND d.kind = ? ORDER BY d.deleted DESC, d.id LIMIT ? OFFSET ?"
                            ),
                            args![population, kind, q.limit, i64::try_from(q.offset).unwrap_or(i64::MAX)],
                        )
                        .await?;
                    let items = rows.into_iter().map(deleted_from_row).collect::<Result<_, _>>()?;
                    Ok((total.max(0) as u64, items))
                })
            })
            .await
    }

    async fn deleted_resource(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<DeletedRecord>> {
        let id = id.to_owned();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    x.query_opt(
                        &format!("SELECT {DELETED_COLUMNS} FROM deleted_resource d WHERE d.id = ? AND d.kind = ?"),
                        args![id.as_str(), kind.name()],
                    )
                    .await?
                    .map(deleted_from_row)
                    .transpose()
                })
            })
            .await
    }

    async fn restore_resource(
        &self,
        kind: ResourceKind,
        id: &str,
        index: Vec<IndexEntry>,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError> {
        let id = id.to_owned();
        self.db
            .write(move |x| Box::pin(async move { restore(x, kind, &id, index, event).await }))
            .await
    }

    async fn purge_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<DeletedRecord>> {
        self.db
            .read(move |x| {
                Box::pin(async move {
                    x.query(
                        &format!(
                            "SELECT {DELETED_COLUMNS} FROM deleted_resource d WHERE d.purge_after <= ? \
                             ORDER BY d.purge_after, d.id LIMIT ?"
                        ),
                        args![now.0, limit],
                    )
                    .await?
                    .into_iter()
                    .map(deleted_from_row)
                    .collect()
                })
            })
            .await
    }

    async fn purge(&self, now: Timestamp, limit: u32, event: &AuditEvent) -> StoreResult<u64> {
        let event = event.clone();
        self.db
            .write(move |x| Box::pin(async move { purge(x, now, limit, &event).await }))
            .await
    }

    async fn erase_user(&self, id: &str, event: AuditEvent) -> Result<bool, CoreError> {
        let id = id.to_owned();
        self.db
            .write(move |x| Box::pin(async move { erase(x, &id, event).await }))
            .await
    }

    async fn blank_event_values(
        &self,
        kind: ResourceKind,
        id: &str,
        after_seq: i64,
        upto_seq: i64,
    ) -> StoreResult<i64> {
        let id = id.to_owned();
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "UPDATE change_event SET resource = NULL WHERE seq > ? AND seq <= ? \
                         AND resource_kind = ? AND resource_id = ? AND resource IS NOT NULL",
                        args![after_seq, upto_seq, kind.name(), id.as_str()],
                    )
                    .await?;
                    let top = x.query_one("SELECT max(seq) FROM change_event", &[]).await?;
                    Ok(top.opt_int(0)?.unwrap_or(0))
                })
            })
            .await
    }

    async fn guard_state(&self, provider: &ProviderId) -> StoreResult<GuardState> {
        self.guard_state_of(provider).await
    }

    async fn tripped_guards(&self) -> StoreResult<Vec<GuardRefusal>> {
        self.tripped_guard_list().await
    }

    async fn trip_guard(&self, refusal: &GuardRefusal, event: &AuditEvent) -> StoreResult<bool> {
        self.trip(refusal, event).await
    }

    async fn release_guard(&self, provider: &ProviderId, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        self.release(provider, at, event).await
    }

    async fn renew_access(
        &self,
        key: ResourceKey,
        until: Timestamp,
        modified: Timestamp,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError> {
        self.db
            .write(move |x| Box::pin(async move { super::access::renew(x, key, until, modified, event).await }))
            .await
    }

    async fn access_due(
        &self,
        now: Timestamp,
        horizon: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(ResourceRecord, Notice)>> {
        self.db
            .read(move |x| Box::pin(async move { super::access::due(x, now, horizon, limit).await }))
            .await
    }

    async fn record_access_notice(
        &self,
        key: ResourceKey,
        end: Timestamp,
        notice: Notice,
        event: AuditEvent,
    ) -> Result<bool, CoreError> {
        self.db
            .write(move |x| Box::pin(async move { super::access::notice(x, key, end, notice, event).await }))
            .await
    }

    async fn access_ending(
        &self,
        population: Population,
        horizon: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>> {
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            &format!(
                                "SELECT {COLUMNS} FROM resource r WHERE r.access_end IS NOT NULL \
                                 AND r.access_end <= ? AND r.population = ? ORDER BY r.access_end, r.seq LIMIT ?"
                            ),
                            args![horizon.0, population.as_str(), limit],
                        )
                        .await?;
                    rows.into_iter().map(record_from_row).collect()
                })
            })
            .await
    }

    async fn access_ending_counts(&self, now: Timestamp, horizon: Timestamp) -> StoreResult<Vec<(String, u64)>> {
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT provider_id, count(*) FROM resource WHERE access_end IS NOT NULL \
                             AND access_end > ? AND access_end <= ? GROUP BY provider_id ORDER BY provider_id",
                            args![now.0, horizon.0],
                        )
                        .await?;
                    rows.into_iter()
                        .map(|mut r| Ok((r.take_text(0)?, r.int(1)?.max(0) as u64)))
                        .collect()
                })
            })
            .await
    }

    async fn take_job_lease(&self, name: &str, holder: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let n = x
                        .execute(
                            "INSERT INTO job_lease (name, holder, lease_until) VALUES (?1, ?2, ?3) \
                             ON CONFLICT (name) DO UPDATE SET holder = ?2, lease_until = ?3 \
                             WHERE job_lease.holder = ?2 OR job_lease.lease_until < ?4",
                            args![name.as_str(), holder.as_str(), until.0, now.0],
                        )
                        .await?;
                    Ok(n > 0)
                })
            })
            .await
    }
}

/// `load` for the access module: the user behind `key`, locked for the change.
pub(crate) async fn locked_user(x: &mut dyn Exec, key: &ResourceKey) -> Result<ResourceRecord, CoreError> {
    load(x, &key.provider, ResourceKind::User, &key.id, true)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("user '{}'", key.id)))
}
