//! What administrators and the background job do with the lifecycle: list, restore, purge
//! and erase soft-deleted resources, release a tripped guard, renew access, and announce
//! access that is about to end or has ended.

use scim_proto::schema::ResourceKind;

use super::access::{EXPIRING_WARNING_SECONDS, Notice};
use super::{DeletedQuery, DeletedRecord, GuardRefusal, GuardState};
use crate::audit::{Actor, AuditEvent};
use crate::error::CoreError;
use crate::provider::Population;
use crate::resource::{ResourceKey, ResourceRecord, index_entries};
use crate::service::Core;

/// Soft-deleted resources are purged this many to a transaction, so that purging 100,000
/// never holds the database (SQLite's one writer) from the identity providers for long.
const PURGE_BATCH: u32 = 200;
/// Users' access end dates are examined this many at a time.
const ACCESS_BATCH: u32 = 200;
/// Change events are searched for an erased user's values this many stored events at a time.
const ERASE_CHUNK: i64 = 20_000;

/// What a purge did, or (dry run) would do.
#[derive(Debug, Clone, Default)]
pub struct PurgeReport {
    pub purged: u64,
    /// A dry run: what is past its retention now (at most a page of it).
    pub due: Vec<DeletedRecord>,
}

/// What one round of the access job announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryRound {
    pub expiring: u64,
    pub expired: u64,
}

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

impl Core {
    /// A page of a population's soft-deleted users or groups, newest deletion first.
    pub async fn deleted_page(&self, mut query: DeletedQuery) -> Result<(u64, Vec<DeletedRecord>), CoreError> {
        query.limit = query.limit.clamp(1, crate::browse::MAX_PAGE);
        Ok(self.store().deleted_page(&query).await?)
    }

    pub async fn deleted_resource(&self, kind: ResourceKind, id: &str) -> Result<DeletedRecord, CoreError> {
        self.store()
            .deleted_resource(kind, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("deleted {} '{id}'", noun(kind))))
    }

    /// Bring a soft-deleted user or group back with its id and attributes; it rejoins the
    /// groups (gets back the members) that still exist. Refused when its name was taken since.
    pub async fn restore(&self, kind: ResourceKind, id: &str, actor: &Actor) -> Result<ResourceRecord, CoreError> {
        let d = self.deleted_resource(kind, id).await?;
        let provider = self.provider(d.record.provider.as_str()).await?;
        let index = index_entries(&provider.schemas(kind), &d.record.data);
        let event = self.resource_event_by(actor, &provider, kind, "restore", id);
        let rec = self.store().restore_resource(kind, id, index, event).await?;
        self.announce();
        Ok(rec)
    }

    /// Purge what is past its retention now, a batch per transaction; a dry run only says
    /// what that is.
    pub async fn purge(&self, dry_run: bool) -> Result<PurgeReport, CoreError> {
        let now = self.now();
        if dry_run {
            let due = self.store().purge_due(now, crate::browse::MAX_PAGE).await?;
            return Ok(PurgeReport { purged: 0, due });
        }
        let event = AuditEvent::new(now, &Actor::System, "purge");
        let mut purged = 0;
        loop {
            let n = self.store().purge(now, PURGE_BATCH, &event).await?;
            purged += n;
            if n < u64::from(PURGE_BATCH) {
                return Ok(PurgeReport {
                    purged,
                    due: Vec::new(),
                });
            }
            // Let other work reach the database between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Erase a user for good on a data subject's request: live or soft-deleted, with the
    /// values change events kept of it. The audit log keeps ids and attribute names only.
    pub async fn erase_user(&self, id: &str, actor: &Actor) -> Result<(), CoreError> {
        let found = match self.store().resource_by_id(ResourceKind::User, id).await? {
            Some(rec) => Some((rec.provider, rec.population)),
            None => self
                .store()
                .deleted_resource(ResourceKind::User, id)
                .await?
                .map(|d| (d.record.provider, d.record.population)),
        };
        let Some((provider, population)) = found else {
            return Err(CoreError::NotFound(format!("user '{id}'")));
        };
        let event = AuditEvent::new(self.now(), actor, "user.erase")
            .provider(provider.as_str())
            .resource(format!("User/{id}"))
            .population(population);
        if !self.store().erase_user(id, event).await? {
            return Err(CoreError::NotFound(format!("user '{id}'")));
        }
        self.announce();
        let mut after = 0;
        loop {
            let top = self
                .store()
                .blank_event_values(ResourceKind::User, id, after, after + ERASE_CHUNK)
                .await?;
            after += ERASE_CHUNK;
            if top <= after {
                return Ok(());
            }
        }
    }

    pub async fn guard_state(&self, provider: &str) -> Result<GuardState, CoreError> {
        let p = self.provider(provider).await?;
        Ok(self.store().guard_state(&p.id).await?)
    }

    /// Every tripped guard, for the console's banner.
    pub async fn tripped_guards(&self) -> Result<Vec<GuardRefusal>, CoreError> {
        Ok(self.store().tripped_guards().await?)
    }

    /// Lift a provider's tripped guard: the deletes and deactivations it refused go through
    /// when the identity provider retries them, and counting starts afresh.
    pub async fn release_guard(&self, provider: &str, actor: &Actor) -> Result<(), CoreError> {
        let p = self.provider(provider).await?;
        let event = self.provider_event(actor, "provider.guard.release", &p);
        if self.store().release_guard(&p.id, self.now(), &event).await? {
            Ok(())
        } else {
            Err(CoreError::Conflict(format!(
                "the mass-deletion guard of provider '{}' is not tripped; there is nothing to release",
                p.id
            )))
        }
    }

    /// Renew a user's access for `seconds` from now, as `actor`.
    pub async fn renew_user(&self, id: &str, seconds: i64, actor: &Actor) -> Result<ResourceRecord, CoreError> {
        let rec = self
            .store()
            .resource_by_id(ResourceKind::User, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("user '{id}'")))?;
        self.renew(&rec, seconds, actor).await
    }

    async fn renew(&self, rec: &ResourceRecord, seconds: i64, actor: &Actor) -> Result<ResourceRecord, CoreError> {
        let provider = self.provider(rec.provider.as_str()).await?;
        let now = self.now();
        let event = self.resource_event_by(actor, &provider, ResourceKind::User, "access.renew", &rec.id);
        let key = ResourceKey::new(&rec.provider, ResourceKind::User, &rec.id);
        let renewed = self
            .store()
            .renew_access(key, now.plus_seconds(seconds), now, event)
            .await?;
        self.announce();
        Ok(renewed)
    }

    /// Renew the access of every user in a group (those whose access ends); returns how many.
    pub async fn renew_group(&self, id: &str, seconds: i64, actor: &Actor) -> Result<u64, CoreError> {
        let group = self
            .store()
            .resource_by_id(ResourceKind::Group, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("group '{id}'")))?;
        let members = self
            .members_of(&[group.seq])
            .await?
            .remove(&group.seq)
            .unwrap_or_default();
        let mut renewed = 0;
        for m in members.iter().filter(|m| m.kind == ResourceKind::User) {
            let Some(user) = self.store().resource_by_id(ResourceKind::User, &m.id).await? else {
                continue;
            };
            if user.access_end.is_some() {
                self.renew(&user, seconds, actor).await?;
                renewed += 1;
            }
        }
        Ok(renewed)
    }

    /// Users of a population whose access ends within two weeks, or ended, soonest first.
    pub async fn access_ending(&self, population: Population) -> Result<Vec<ResourceRecord>, CoreError> {
        let horizon = self.now().plus_seconds(EXPIRING_WARNING_SECONDS);
        Ok(self
            .store()
            .access_ending(population, horizon, crate::browse::MAX_PAGE)
            .await?)
    }

    /// Per provider, how many users' access ends within two weeks (not yet ended).
    pub async fn access_ending_counts(&self) -> Result<Vec<(String, u64)>, CoreError> {
        let now = self.now();
        Ok(self
            .store()
            .access_ending_counts(now, now.plus_seconds(EXPIRING_WARNING_SECONDS))
            .await?)
    }

    /// Announce, once each, access that ends within two weeks (`user.access_expiring`) and
    /// access that ended (`user.access_expired`), audited as the system's.
    pub async fn expire_access(&self) -> Result<ExpiryRound, CoreError> {
        let now = self.now();
        let horizon = now.plus_seconds(EXPIRING_WARNING_SECONDS);
        let mut round = ExpiryRound::default();
        loop {
            let due = self.store().access_due(now, horizon, ACCESS_BATCH).await?;
            let mut progressed = false;
            for (rec, announced) in &due {
                let Some(end) = rec.access_end else { continue };
                let notice = Notice::due(end, now);
                if notice <= *announced {
                    continue;
                }
                let provider = self.provider(rec.provider.as_str()).await?;
                let verb = match notice {
                    Notice::Expired => "access.expire",
                    _ => "access.expiring",
                };
                let event = self.resource_event_by(&Actor::System, &provider, ResourceKind::User, verb, &rec.id);
                let key = ResourceKey::new(&rec.provider, ResourceKind::User, &rec.id);
                if self.store().record_access_notice(key, end, notice, event).await? {
                    progressed = true;
                    match notice {
                        Notice::Expired => round.expired += 1,
                        _ => round.expiring += 1,
                    }
                }
            }
            if !progressed || due.len() < ACCESS_BATCH as usize {
                if round != ExpiryRound::default() {
                    self.announce();
                }
                return Ok(round);
            }
        }
    }

    /// Take or renew the lease on background job `name` for `ttl`.
    pub async fn take_job_lease(&self, name: &str, holder: &str, ttl: std::time::Duration) -> Result<bool, CoreError> {
        let now = self.now();
        let until = crate::clock::Timestamp(now.0.saturating_add(ttl.as_millis() as i64));
        Ok(self.store().take_job_lease(name, holder, now, until).await?)
    }
}
