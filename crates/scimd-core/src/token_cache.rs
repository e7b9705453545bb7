//! A short-lived cache of authenticated tokens. Every SCIM request presents a token; most
//! present the same few. Entries live for [`TOKEN_CACHE_TTL_MS`], and every change this
//! process makes to tokens or providers empties the cache at once, so a revocation here is
//! immediate and one made elsewhere (the CLI, another instance) takes effect within the TTL.
//!
//! A lookup that read the database before a revocation committed must not put its stale
//! answer in the cache after the revocation emptied it: every emptying starts a new
//! generation, and an answer fetched in an older generation is not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;
use crate::provider::Provider;
use crate::token::TokenRecord;

pub const TOKEN_CACHE_TTL_MS: i64 = 2_000;
/// More distinct live tokens than this at once is unusual; past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    record: TokenRecord,
    provider: Arc<Provider>,
    fetched: Timestamp,
}

#[derive(Default)]
struct Entries {
    map: HashMap<[u8; 32], Entry>,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<Entries>,
}

/// The cache's generation when a database lookup started; see [`TokenCache::put`].
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

impl TokenCache {
    pub(crate) fn get(&self, hash: &[u8; 32], now: Timestamp) -> Option<(TokenRecord, Arc<Provider>)> {
        let entries = self.entries.lock().ok()?;
        let e = entries.map.get(hash)?;
        let age = now.millis() - e.fetched.millis();
        (0..TOKEN_CACHE_TTL_MS)
            .contains(&age)
            .then(|| (e.record.clone(), Arc::clone(&e.provider)))
    }

    /// Take before reading a token from the database, and hand to [`TokenCache::put`].
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.entries.lock().map_or(u64::MAX, |e| e.generation))
    }

    /// Keep a token read from the database, unless the cache was emptied since `seen`
    /// (a revocation may have committed after the read).
    pub(crate) fn put(
        &self,
        seen: Generation,
        hash: [u8; 32],
        record: TokenRecord,
        provider: Arc<Provider>,
        now: Timestamp,
    ) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.generation != seen.0 {
                return;
            }
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
            entries.map.insert(
                hash,
                Entry {
                    record,
                    provider,
                    fetched: now,
                },
            );
        }
    }

    pub(crate) fn touched(&self, hash: &[u8; 32], at: Timestamp) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(e) = entries.map.get_mut(hash)
        {
            e.record.last_used = Some(at);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.clear();
            entries.generation = entries.generation.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ClientId, Population, ProviderId};

    fn entry() -> (TokenRecord, Arc<Provider>) {
        let id = ProviderId::slug_of("okta");
        let record = TokenRecord {
            id: "t1".into(),
            provider: id.clone(),
            hash: [7; 32],
            created: Timestamp(0),
            expires: Timestamp(i64::MAX),
            last_used: None,
            revoked: None,
            setup_link: None,
        };
        let provider = Provider {
            id,
            name: "Okta".into(),
            population: Population::Internal,
            enabled: true,
            description: String::new(),
            tags: Vec::new(),
            token_ttl_seconds: 60,
            allowed_networks: Vec::new(),
            client_id: ClientId::generate(),
            secret_sealed: Vec::new(),
            secret_hash: [0; 32],
            created: Timestamp(0),
            modified: Timestamp(0),
            settings: Default::default(),
        };
        (record, Arc::new(provider))
    }

    #[test]
    fn a_lookup_that_started_before_a_revocation_is_not_kept() {
        let cache = TokenCache::default();
        let (record, provider) = entry();
        let seen = cache.generation();
        // The revocation commits and empties the cache while the lookup is reading.
        cache.clear();
        cache.put(seen, [7; 32], record.clone(), Arc::clone(&provider), Timestamp(1));
        assert!(cache.get(&[7; 32], Timestamp(2)).is_none());
        // A lookup that started afterwards is kept.
        let seen = cache.generation();
        cache.put(seen, [7; 32], record, provider, Timestamp(3));
        assert!(cache.get(&[7; 32], Timestamp(4)).is_some());
    }
}
