//! The storage port. Every mutating call carries its audit event, and the store commits the
//! two together in one transaction: there is no change without its record.

use std::collections::HashMap;

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;

use crate::admin::{AdminRecord, ApiTokenRecord, SessionRecord};
use crate::audit::AuditEvent;
use crate::clock::Timestamp;
use crate::error::{CoreError, StoreError};
use crate::events::ChangeEvent;
use crate::events::subscription::{Attempt, Cursor, DeadLetter, EventQuery, Progress, SigningKeyRecord, Subscription};
use crate::lifecycle::{DeletedQuery, DeletedRecord, GuardRefusal, GuardState, Notice, Removal};
use crate::provider::{ClientId, Population, Provider, ProviderId};
use crate::request_log::{LogBatch, LogEntry, LogFilter, LogHealth, LogLimits};
use crate::resource::{
    Discovered, IndexEntry, ListQuery, MemberRef, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn,
};
use crate::setup::{Received, SetupLink};
use crate::token::TokenRecord;

pub type StoreResult<T> = Result<T, StoreError>;

/// A page of audit events, newest first. Each filter given narrows the page; `action` and
/// `actor` match exactly or, ending in `*`, by prefix (`provider.*`, `admin:*`).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub provider: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub resource: Option<String>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    /// Events older than this one (the cursor of the next page).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

impl AuditQuery {
    /// A filter value as a SQL `LIKE` pattern: exact, or a prefix when it ends in `*`.
    pub fn like_pattern(value: &Option<String>) -> Option<String> {
        value.as_ref().map(|v| {
            let (body, prefix) = match v.strip_suffix('*') {
                Some(b) => (b, true),
                None => (v.as_str(), false),
            };
            let mut out = like_escape(body);
            if prefix {
                out.push('%');
            }
            out
        })
    }
}

/// Escape `\`, `%` and `_` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Users or groups of one population, optionally matching a search text, a page at a time.
#[derive(Debug, Clone)]
pub struct PopulationQuery {
    pub population: Population,
    pub kind: ResourceKind,
    /// Case-insensitive substring of userName, displayName, name, email; or the exact externalId.
    pub text: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct PopulationPage {
    pub total: u64,
    pub items: Vec<ResourceRecord>,
}

/// One member of a group, with its position for keyset paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub seq: i64,
    pub member: MemberRef,
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
pub trait Store:
    ProviderStore + ResourceStore + AdminStore + EventStore + LogStore + SetupStore + LifecycleStore + Send + Sync + 'static
{
}

impl<
    T: ProviderStore
        + ResourceStore
        + AdminStore
        + EventStore
        + LogStore
        + SetupStore
        + LifecycleStore
        + Send
        + Sync
        + 'static,
> Store for T
{
}

/// The provisioning log: entries written a batch at a time, read by provider, pruned by
/// each provider's budgets; and the per-provider counters the providers list shows.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Write a flush's entries and counters in one transaction (those of providers that no
    /// longer exist are left out). Returns how many entries were written.
    async fn append_log(&self, batch: LogBatch) -> StoreResult<u64>;
    /// A provider's entries as the filter asks: newest first, or oldest first after a cursor.
    async fn log_entries(&self, provider: &ProviderId, filter: &LogFilter) -> StoreResult<Vec<LogEntry>>;
    /// Each provider's counters (only providers that have some).
    async fn log_health(&self) -> StoreResult<Vec<(String, LogHealth)>>;
    /// Delete up to `chunk` of each of the provider's entries past its limits at `now`:
    /// failures older than the retention or beyond their count, successes beyond theirs.
    /// Returns how many went, and whether more are due.
    async fn prune_log(
        &self,
        provider: &ProviderId,
        limits: &LogLimits,
        now: Timestamp,
        chunk: u32,
    ) -> StoreResult<(u64, bool)>;
}

/// Soft-deleted resources (restore, purge, erasure), the mass-deletion guard, users' access
/// end dates, and the leases that let one of several instances run a background job.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// A user or group by its id alone, whichever provider holds it.
    async fn resource_by_id(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<ResourceRecord>>;
    /// A page of soft-deleted resources, newest deletion first, and how many there are.
    async fn deleted_page(&self, query: &DeletedQuery) -> StoreResult<(u64, Vec<DeletedRecord>)>;
    async fn deleted_resource(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<DeletedRecord>>;
    /// Bring a soft-deleted resource back under its id, with `index` as its indexed
    /// values; it rejoins the groups (a group: gets back the members) of its recorded
    /// memberships that still exist. `CoreError::Conflict` when its name was taken since.
    async fn restore_resource(
        &self,
        kind: ResourceKind,
        id: &str,
        index: Vec<IndexEntry>,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError>;
    /// Soft-deleted resources whose retention ended by `now`, oldest first.
    async fn purge_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<DeletedRecord>>;
    /// Purge up to `limit` of them for good, each with an audit event made from `event`
    /// (its action, resource, provider and population filled in). Returns how many.
    async fn purge(&self, now: Timestamp, limit: u32, event: &AuditEvent) -> StoreResult<u64>;
    /// Remove user `id` for good, live (with the events of a delete) or soft-deleted, with
    /// the memberships recorded for restores that name it. `false` when there is none.
    async fn erase_user(&self, id: &str, event: AuditEvent) -> Result<bool, CoreError>;
    /// Drop the resource values kept in change events about `kind`/`id` whose storage order
    /// is in `after_seq..=upto_seq`; returns the highest order stored, to page on.
    async fn blank_event_values(&self, kind: ResourceKind, id: &str, after_seq: i64, upto_seq: i64)
    -> StoreResult<i64>;

    /// The provider's mass-deletion guard.
    async fn guard_state(&self, provider: &ProviderId) -> StoreResult<GuardState>;
    /// Every tripped guard.
    async fn tripped_guards(&self) -> StoreResult<Vec<GuardRefusal>>;
    /// Record that a removal tripped the guard (once: `false` if it already was).
    async fn trip_guard(&self, refusal: &GuardRefusal, event: &AuditEvent) -> StoreResult<bool>;
    /// Lift a tripped guard and start counting afresh; `false` if it was not tripped.
    async fn release_guard(&self, provider: &ProviderId, at: Timestamp, event: &AuditEvent) -> StoreResult<bool>;

    /// Set a user's access end date (a renewal), version moved on; `CoreError::Invalid` when
    /// the user has none to renew.
    async fn renew_access(
        &self,
        key: ResourceKey,
        until: Timestamp,
        modified: Timestamp,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError>;
    /// Users whose access ended by `now` or ends by `horizon` and whose end has not been
    /// announced as such yet, soonest first, with what was announced.
    async fn access_due(
        &self,
        now: Timestamp,
        horizon: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(ResourceRecord, Notice)>>;
    /// Record that `notice` was announced for user `key` whose end is still `end` (an
    /// expiry also moves its version on); `false`, and nothing written, when the end moved
    /// or it was announced already.
    async fn record_access_notice(
        &self,
        key: ResourceKey,
        end: Timestamp,
        notice: Notice,
        event: AuditEvent,
    ) -> Result<bool, CoreError>;
    /// Users of a population whose access ends by `horizon` (or ended), soonest first.
    async fn access_ending(
        &self,
        population: Population,
        horizon: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>>;
    /// Per provider, how many users' access ends after `now` and by `horizon`.
    async fn access_ending_counts(&self, now: Timestamp, horizon: Timestamp) -> StoreResult<Vec<(String, u64)>>;

    /// Take or renew the lease on background job `name` until `until`, when it is free,
    /// expired at `now` or already `holder`'s.
    async fn take_job_lease(&self, name: &str, holder: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool>;
}

/// Setup links: made and revoked by administrators, opened by the identity provider's own
/// administrator through their code.
#[async_trait]
pub trait SetupStore: Send + Sync {
    /// Insert a link (its id and code digest are fresh random values).
    async fn create_setup_link(&self, link: &SetupLink, event: &AuditEvent) -> StoreResult<()>;
    /// The link with this code digest and its provider, in one read, whatever its state.
    async fn setup_link_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(SetupLink, Provider)>>;
    /// A provider's links, newest first.
    async fn setup_links(&self, provider: &ProviderId) -> StoreResult<Vec<SetupLink>>;
    /// Revoke the link if it is not yet, and the live tokens named in `tokens` (made through
    /// it); the event is written when either changed. Returns how many tokens were revoked.
    async fn revoke_setup_link(
        &self,
        provider: &ProviderId,
        link_id: &str,
        tokens: &[String],
        at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<u64>;
    /// Record the first view (the event only if this call is the first).
    async fn mark_setup_link_viewed(&self, link_id: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<()>;
    /// Claim the link's one reveal of the client secret: `true` (and the event written) for
    /// exactly one caller, `false` if it may not or already did.
    async fn claim_setup_secret(&self, link_id: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool>;
    /// How many users and groups a provider holds.
    async fn received(&self, provider: &ProviderId) -> StoreResult<Received>;
}

/// The change streams (appended by the other stores, with each change), subscriptions and
/// their progress, and the keys that sign Security Event Tokens.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// A page of events with their storage order (`seq`).
    async fn events(&self, query: &EventQuery) -> StoreResult<Vec<(i64, ChangeEvent)>>;
    /// The events with these ids (those still kept).
    async fn events_by_id(&self, ids: &[String]) -> StoreResult<Vec<ChangeEvent>>;
    /// Each provider's newest position and the time of that event.
    async fn stream_heads(&self) -> StoreResult<Vec<(String, i64, Timestamp)>>;
    /// The next events after each of the subscription's cursors (a provider without one
    /// starts at its first event), at most `per_provider` of each provider whose cursor is
    /// not waiting to retry at `now`, with the cursors they follow.
    async fn pending(
        &self,
        subscription: &Subscription,
        now: Timestamp,
        per_provider: u32,
    ) -> StoreResult<Vec<(Cursor, Vec<ChangeEvent>)>>;

    /// Store a new subscription; it starts at the head of every existing stream.
    async fn create_subscription(&self, s: &Subscription, event: &AuditEvent) -> StoreResult<()>;
    async fn subscription(&self, id: &str) -> StoreResult<Option<Subscription>>;
    async fn subscriptions(&self) -> StoreResult<Vec<Subscription>>;
    /// Replace what an administrator may change (state, secrets, poll token); `false` when
    /// it is gone.
    async fn update_subscription(&self, s: &Subscription, event: &AuditEvent) -> StoreResult<bool>;
    async fn delete_subscription(&self, id: &str, event: &AuditEvent) -> StoreResult<bool>;
    async fn cursors(&self, subscription: &str) -> StoreResult<Vec<Cursor>>;
    /// Deliver again from `position` (inclusive): of one provider, or of every provider.
    async fn rewind(
        &self,
        subscription: &str,
        provider: Option<&str>,
        position: i64,
        event: &AuditEvent,
    ) -> StoreResult<u64>;
    /// Record a round of delivery; `false` (and nothing written) when `holder` no longer
    /// holds the subscription's lease. A cursor moves only from the position it had when
    /// the round read it, so a replay asked for meanwhile is not undone.
    async fn record_progress(&self, subscription: &str, holder: Option<&str>, progress: Progress) -> StoreResult<bool>;
    /// Take or renew the subscription's delivery lease until `until`, when it is free,
    /// expired at `now` or already `holder`'s.
    async fn take_lease(&self, subscription: &str, holder: &str, now: Timestamp, until: Timestamp)
    -> StoreResult<bool>;
    /// The newest attempts, newest first.
    async fn attempts(&self, subscription: &str, limit: u32) -> StoreResult<Vec<Attempt>>;
    async fn dead_letters(&self, subscription: &str) -> StoreResult<Vec<DeadLetter>>;
    /// Take dead letters back into delivery: rewind to the oldest of them per provider and
    /// forget them. Returns how many.
    async fn retry_dead_letters(&self, subscription: &str, event: &AuditEvent) -> StoreResult<u64>;
    /// Delete events stored before `before`, except those a subscription covering their
    /// provider has not delivered, unless they are older than `hold_limit`. Returns how many.
    async fn prune_events(&self, before: Timestamp, hold_limit: Timestamp) -> StoreResult<u64>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Add `key` as the newest; the keys before it retire at `retire_at`.
    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<()>;
}

/// Administrators, their sessions and API tokens, and the reads the console and the admin
/// API make across providers.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// `Conflict("admin name")` when the name is taken.
    async fn create_admin(&self, admin: &AdminRecord, event: &AuditEvent) -> StoreResult<()>;
    async fn admin(&self, name: &str) -> StoreResult<Option<AdminRecord>>;
    async fn create_session(&self, session: &SessionRecord, event: &AuditEvent) -> StoreResult<()>;
    async fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>>;
    /// Move a session's end later (never earlier); not an audit event.
    async fn extend_session(&self, hash: &[u8; 32], expires: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, hash: &[u8; 32], event: &AuditEvent) -> StoreResult<bool>;
    /// `Conflict("api token name")` when a live token has the name.
    async fn create_api_token(&self, token: &ApiTokenRecord, event: &AuditEvent) -> StoreResult<()>;
    async fn api_token(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>>;
    /// Revoke the live API token with this name; `false` if there is none.
    async fn revoke_api_token(&self, name: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool>;

    async fn search_population(&self, query: &PopulationQuery) -> StoreResult<PopulationPage>;
    async fn population_resource(
        &self,
        population: Population,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>>;
    /// How many members each group has.
    async fn member_counts(&self, groups: &[i64]) -> StoreResult<HashMap<i64, u64>>;
    /// Members of a group after position `after_seq`, in membership order: one index range
    /// scan however large the group.
    async fn member_page(&self, group: i64, after_seq: i64, limit: u32) -> StoreResult<Vec<MemberRow>>;
}

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
    /// Delete the resource, softly or for good as `how` says (a soft delete keeps it, and
    /// the memberships it leaves, for a restore).
    async fn delete_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        how: Removal,
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

    /// The provider's resources of `kind` whose document holds the top-level key `key` (an
    /// extension URN), in creation order after `after_seq`.
    async fn resources_holding(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        key: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>>;

    /// Set the index rows of resource `seq` for the attributes `attrs` to `entries` (a
    /// `uniqueness: server` value another resource holds is a 409 `CoreError::Scim`).
    async fn reindex(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        seq: i64,
        attrs: Vec<String>,
        entries: Vec<IndexEntry>,
    ) -> Result<(), CoreError>;

    /// Forget the index rows of these attributes for all the provider's resources.
    async fn clear_index(&self, provider: &ProviderId, kind: ResourceKind, attrs: Vec<String>) -> StoreResult<()>;

    /// What the provider sent that no schema declares, by resource type, extension URN
    /// (empty for top-level attributes) and name.
    async fn discovered(&self, provider: &ProviderId) -> StoreResult<Vec<Discovered>>;

    /// Forget what was discovered under `uri` (it is declared now).
    async fn forget_discovered(&self, provider: &ProviderId, kind: ResourceKind, uri: &str) -> StoreResult<()>;
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

    /// Whether a write failed for want of space and none has committed since.
    fn storage_full(&self) -> bool {
        false
    }

    /// The process is about to exit: leave the database as a clean shutdown would (SQLite
    /// moves its write-ahead log into the database file). Nothing else is written after it.
    async fn close(&self) {}

    /// A value the running server recorded about itself (`public_url`), for the command line.
    async fn server_state(&self, name: &str) -> StoreResult<Option<String>>;
    /// Record (or replace) such a value; not audited: it is bookkeeping, rewritten each start.
    async fn set_server_state(&self, name: &str, value: &str) -> StoreResult<()>;

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

    /// Write each value sealed again under a new key where the old one still stands, all in
    /// one transaction with `event`; `Stale` (and nothing written) if one changed meanwhile.
    async fn reseal(&self, changes: &[crate::rekey::Reseal], event: &AuditEvent) -> StoreResult<()>;

    /// An event with no other change attached (e.g. a secret reveal).
    async fn record(&self, event: &AuditEvent) -> StoreResult<()>;
    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>>;
    /// Up to `limit` events with their chain links, oldest first, after `after_seq`.
    async fn audit_chain(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditLink>>;
}
