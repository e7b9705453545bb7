//! The storage port. Every mutating call carries its audit event, and the store commits the
//! two together in one transaction: there is no change without its record.

use std::collections::HashMap;

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;

use crate::audit::AuditEvent;
use crate::clock::Timestamp;
use crate::error::{CoreError, StoreError};
use crate::provider::{ClientId, Population, Provider, ProviderId};
use crate::resource::{ListQuery, MemberRef, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn};
use crate::token::TokenRecord;

pub type StoreResult<T> = Result<T, StoreError>;

/// A page of audit events, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub provider: Option<String>,
    pub action: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEvent {
    pub seq: i64,
    pub time: Timestamp,
    pub actor: String,
    pub action: String,
    pub provider: Option<String>,
    pub resource: Option<String>,
    pub population: Option<String>,
    pub attributes: Vec<String>,
}

impl StoredAuditEvent {
    pub fn chain_fields(&self) -> crate::audit::ChainFields<'_> {
        crate::audit::ChainFields {
            time: self.time.0,
            actor: &self.actor,
            action: &self.action,
            provider: self.provider.as_deref(),
            resource: self.resource.as_deref(),
            population: self.population.as_deref(),
            attributes: &self.attributes,
        }
    }
}

/// An audit event with its links: the hash of the event before it and its own hash
/// (absent on rows nobody chained, which verification reports as broken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLink {
    pub event: StoredAuditEvent,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Option<Vec<u8>>,
}

/// How busy the database connections are, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Most connections open at once.
    pub size: usize,
    /// Connections lent out to a request now.
    pub in_use: usize,
    /// Open connections waiting to be lent.
    pub idle: usize,
}

/// Everything scimd persists. Split by concern so each backend module implements one part.
pub trait Store: ProviderStore + ResourceStore + Send + Sync + 'static {}

impl<T: ProviderStore + ResourceStore + Send + Sync + 'static> Store for T {}

/// Users, groups and their memberships. Uniqueness (userName per population, group
/// displayName per provider) is enforced by the database and reported as
/// `CoreError::Conflict`; unknown member ids as `CoreError::Scim` (400 invalidValue).
#[async_trait]
pub trait ResourceStore: Send + Sync {
    async fn create_resource(&self, new: NewResource, event: AuditEvent) -> Result<ResourceRecord, CoreError>;
    async fn resource(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>>;
    /// Apply `update` to the current record in one transaction. `if_match` is the version
    /// the client saw (412 when it is no longer current). The event's attributes are filled
    /// from the change.
    async fn update_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        modified: Timestamp,
        update: UpdateFn,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError>;
    async fn delete_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        event: AuditEvent,
    ) -> Result<(), CoreError>;
    async fn list_resources(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        query: ListQuery,
    ) -> Result<Page, CoreError>;
    /// Members of each group, in membership order.
    async fn members_of(&self, groups: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>>;
    /// Groups each user (or group) directly belongs to.
    async fn groups_of(&self, members: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>>;
    /// Resources of a population across providers, in creation order, after `after_seq`.
    async fn population_resources(
        &self,
        population: Population,
        kind: ResourceKind,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>>;
}

/// Providers, their tokens and the audit log.
#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Is the database reachable and answering?
    async fn ping(&self) -> StoreResult<()>;
    /// The connection pool's use, when the backend has one.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }

    /// Insert a provider. `Conflict("provider id")` when the id is taken.
    async fn create_provider(&self, provider: &Provider, event: &AuditEvent) -> StoreResult<()>;
    async fn provider(&self, id: &ProviderId) -> StoreResult<Option<Provider>>;
    async fn provider_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Provider>>;
    async fn providers(&self) -> StoreResult<Vec<Provider>>;
    /// Write back the mutable fields (name, enabled, description, tags, token lifetime,
    /// networks, sealed secret and its hash, modified). The population never changes.
    async fn update_provider(&self, provider: &Provider, event: &AuditEvent) -> StoreResult<()>;
    /// Delete a provider with its tokens and everything it provisioned. `false` if absent.
    async fn delete_provider(&self, id: &ProviderId, event: &AuditEvent) -> StoreResult<bool>;

    async fn create_token(&self, token: &TokenRecord, event: &AuditEvent) -> StoreResult<()>;
    /// The token with this digest and its provider, in one read.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(TokenRecord, Provider)>>;
    async fn tokens(&self, provider: &ProviderId) -> StoreResult<Vec<TokenRecord>>;
    /// Revoke one token (by id) or all live tokens of the provider; returns how many.
    async fn revoke_tokens(
        &self,
        provider: &ProviderId,
        token_id: Option<&str>,
        at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<u64>;
    /// Revoke the token with this digest (RFC 7009); `false` if unknown or already revoked.
    async fn revoke_token_by_hash(&self, hash: &[u8; 32], at: Timestamp, event: &AuditEvent) -> StoreResult<bool>;
    async fn touch_token(&self, token_id: &str, at: Timestamp) -> StoreResult<()>;

    /// An event with no other change attached (e.g. a secret reveal).
    async fn record(&self, event: &AuditEvent) -> StoreResult<()>;
    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>>;
    /// Up to `limit` events with their chain links, oldest first, after `after_seq`.
    async fn audit_chain(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditLink>>;
}
