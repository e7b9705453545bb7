//! The core: one value that every front end (the SCIM and OAuth endpoints, the console, the
//! admin API, the CLI) goes through, holding the store, the clock, the key that seals
//! secrets and the short-lived token cache. What it does is spread by concern: `registry`
//! (providers), `grants` (activation tokens), `provisioning` (users and groups),
//! `accounts` (administrators), `browse` (administrators' reads), `request_log` (the
//! provisioning log).

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::{Clock, Timestamp};
use crate::crypto::SecretBox;
use crate::error::CoreError;
use crate::events::service::EventsState;
use crate::limiter::FailureLimiter;
use crate::request_log::LogState;
use crate::resource::MemberRef;
use crate::store::{PoolStats, Store};
use crate::token_cache::TokenCache;

/// The server-state name of the public URL a running server serves under.
const PUBLIC_URL: &str = "public_url";

pub struct Core {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) secrets: SecretBox,
    pub(crate) tokens: TokenCache,
    pub(crate) failures: FailureLimiter,
    pub(crate) events: EventsState,
    pub(crate) log: LogState,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, secrets: SecretBox) -> Self {
        Core {
            store,
            clock,
            secrets,
            tokens: TokenCache::default(),
            failures: FailureLimiter::default(),
            events: EventsState::default(),
            log: LogState::default(),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Is the database reachable and answering? (`/readyz`)
    pub async fn ping(&self) -> Result<(), CoreError> {
        Ok(self.store.ping().await?)
    }

    /// Whether the database's storage is full: the last write failed for want of space and
    /// none has committed since.
    pub fn storage_full(&self) -> bool {
        self.store.storage_full()
    }

    /// Try a small write, to learn whether space has returned (`/readyz` while the storage
    /// is full: nothing else may be writing to find out).
    pub async fn probe_storage(&self) -> Result<(), CoreError> {
        Ok(self
            .store
            .set_server_state("write_probe", &self.clock.now().to_rfc3339())
            .await?)
    }

    /// How busy the database connections are, for metrics.
    pub fn pool_stats(&self) -> Option<PoolStats> {
        self.store.pool_stats()
    }

    /// The process is about to exit: leave the database as a clean shutdown would.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// The URL a starting server serves under, recorded for the command line: `scimd provider
    /// add` in another terminal then prints the Base URL identity providers must use.
    pub async fn record_public_url(&self, url: &str) -> Result<(), CoreError> {
        Ok(self.store.set_server_state(PUBLIC_URL, url).await?)
    }

    /// The public URL the last server to start recorded, if any.
    pub async fn recorded_public_url(&self) -> Result<Option<String>, CoreError> {
        Ok(self.store.server_state(PUBLIC_URL).await?)
    }

    /// Members of each group (by `seq`), in membership order.
    pub async fn members_of(&self, groups: &[i64]) -> Result<HashMap<i64, Vec<MemberRef>>, CoreError> {
        Ok(self.store.members_of(groups).await?)
    }

    /// The groups each user or group (by `seq`) directly belongs to.
    pub async fn groups_of(&self, members: &[i64]) -> Result<HashMap<i64, Vec<MemberRef>>, CoreError> {
        Ok(self.store.groups_of(members).await?)
    }
}
