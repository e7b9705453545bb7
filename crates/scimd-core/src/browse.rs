//! What administrators read across providers: a population's users and groups, a group's
//! members a page at a time, and the audit log. One set of calls for the console and the
//! admin API.

use scim_proto::schema::ResourceKind;

use crate::audit::GENESIS;
use crate::error::CoreError;
use crate::provider::Population;
use crate::resource::{MemberRef, ResourceRecord};
use crate::service::Core;
use crate::store::{AuditQuery, MemberRow, PopulationPage, PopulationQuery, StoredAuditEvent};

/// Most rows one page may hold.
pub const MAX_PAGE: u32 = 1000;

/// One resource with what an administrator wants to see next to it.
#[derive(Debug, Clone)]
pub struct ResourceView {
    pub record: ResourceRecord,
    /// Groups: how many members. Users: how many groups they belong to.
    pub count: u64,
}

pub struct ResourceDetail {
    pub record: ResourceRecord,
    /// A user's groups (a group's members are paged apart).
    pub groups: Vec<MemberRef>,
    pub member_count: u64,
    pub history: Vec<StoredAuditEvent>,
}

impl Core {
    pub async fn population_page(&self, mut query: PopulationQuery) -> Result<(u64, Vec<ResourceView>), CoreError> {
        query.limit = query.limit.clamp(1, MAX_PAGE);
        query.text = query.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let PopulationPage { total, items } = self.store().search_population(&query).await?;
        let counts = match query.kind {
            ResourceKind::Group => {
                self.store()
                    .member_counts(&items.iter().map(|r| r.seq).collect::<Vec<_>>())
                    .await?
            }
            ResourceKind::User => Default::default(),
        };
        let views = items
            .into_iter()
            .map(|record| ResourceView {
                count: counts.get(&record.seq).copied().unwrap_or(0),
                record,
            })
            .collect();
        Ok((total, views))
    }

    /// One resource of a population.
    pub async fn population_record(
        &self,
        population: Population,
        kind: ResourceKind,
        id: &str,
    ) -> Result<ResourceRecord, CoreError> {
        self.store()
            .population_resource(population, kind, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("{} '{id}' in the {population} population", kind.name())))
    }

    /// One resource of a population, with its groups, member count and audit history.
    pub async fn population_resource(
        &self,
        population: Population,
        kind: ResourceKind,
        id: &str,
    ) -> Result<ResourceDetail, CoreError> {
        let record = self.population_record(population, kind, id).await?;
        let groups = self
            .store()
            .groups_of(&[record.seq])
            .await?
            .remove(&record.seq)
            .unwrap_or_default();
        let member_count = match kind {
            ResourceKind::Group => self
                .store()
                .member_counts(&[record.seq])
                .await?
                .get(&record.seq)
                .copied()
                .unwrap_or(0),
            ResourceKind::User => 0,
        };
        let history = self
            .audit(AuditQuery {
                resource: Some(format!("{}/{}", kind.name(), record.id)),
                limit: 100,
                ..AuditQuery::default()
            })
            .await?;
        Ok(ResourceDetail {
            record,
            groups,
            member_count,
            history,
        })
    }

    /// A page of a group's members, after the position a previous page ended at.
    pub async fn member_page(
        &self,
        group: &ResourceRecord,
        after: i64,
        limit: u32,
    ) -> Result<Vec<MemberRow>, CoreError> {
        Ok(self
            .store()
            .member_page(group.seq, after, limit.clamp(1, MAX_PAGE))
            .await?)
    }

    pub async fn audit(&self, mut query: AuditQuery) -> Result<Vec<StoredAuditEvent>, CoreError> {
        query.limit = query.limit.clamp(1, MAX_PAGE);
        Ok(self.store().audit_events(&query).await?)
    }
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events whose links held, up to the first broken one.
    pub verified: u64,
    /// The first event whose link does not hold, and why.
    pub broken: Option<(i64, &'static str)>,
    /// The hash of the last verified event: kept elsewhere, it shows later that no event was
    /// cut off the end (which the chain alone cannot).
    pub head: Option<Vec<u8>>,
}

impl Core {
    /// Walk the whole audit chain, oldest first, a page at a time; stop at the first event
    /// whose recorded predecessor hash or own hash is not what its contents and predecessor
    /// give.
    pub async fn verify_audit(&self) -> Result<ChainReport, CoreError> {
        verify_chain(self.store().as_ref()).await.map_err(CoreError::from)
    }
}

async fn verify_chain(store: &dyn crate::Store) -> Result<ChainReport, crate::StoreError> {
    const PAGE: u32 = 1000;
    let mut expected_prev = GENESIS.to_vec();
    let (mut after, mut verified) = (0i64, 0u64);
    loop {
        let page = store.audit_chain(after, PAGE).await?;
        for link in &page {
            let seq = link.event.seq;
            let (Some(prev), Some(hash)) = (&link.prev_hash, &link.hash) else {
                return Ok(report(
                    verified,
                    Some((seq, "the event carries no hash")),
                    &expected_prev,
                ));
            };
            if *prev != expected_prev {
                let why = "the event does not follow the one before it (an event was removed, added or changed)";
                return Ok(report(verified, Some((seq, why)), &expected_prev));
            }
            if hash.as_slice() != link.event.chain_fields().hash(prev) {
                let why = "the event's contents do not match its hash (it was changed)";
                return Ok(report(verified, Some((seq, why)), &expected_prev));
            }
            expected_prev.clone_from(hash);
            verified += 1;
            after = seq;
        }
        if page.len() < PAGE as usize {
            return Ok(report(verified, None, &expected_prev));
        }
    }
}

fn report(verified: u64, broken: Option<(i64, &'static str)>, head: &[u8]) -> ChainReport {
    ChainReport {
        verified,
        broken,
        head: (verified > 0).then(|| head.to_vec()),
    }
}
