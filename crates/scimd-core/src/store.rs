//! The storage port. Every mutating call carries its audit event, and the store commits the
//! two together in one transaction: there is no change without its record.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::provider::{ClientId, Provider, ProviderId};
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

/// Everything scimd persists. Split by concern so each backend module implements one part.
pub trait Store: ProviderStore + Send + Sync + 'static {}

impl<T: ProviderStore + Send + Sync + 'static> Store for T {}

/// Providers, their tokens and the audit log.
#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Is the database reachable and answering?
    async fn ping(&self) -> StoreResult<()>;

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
}
