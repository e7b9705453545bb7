//! The lifecycle's part of the store: soft-deleted resources (`deleted`), the mass-deletion
//! guard (`guard`), users' access end dates (`access`), and the leases that let one of
//! several instances run a background job.

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;
use scimd_core::lifecycle::{DeletedQuery, DeletedRecord, GuardRefusal, GuardState, Notice};
use scimd_core::resource::{IndexEntry, ResourceKey, ResourceRecord};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, LifecycleStore, Population, ProviderId, Timestamp};

use super::SqlStore;
use super::deleted::{DELETED_COLUMNS, deleted_from_row, erase, purge, restore};
use super::resources::record_from_row;
use crate::db::args;
use crate::rows::COLUMNS;

pub(crate) use super::deleted::keep_deleted;
pub(crate) use super::guard::admit as guard_admit;

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
