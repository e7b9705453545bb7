//! A short-lived cache of authenticated tokens. Every SCIM request presents a token; most
//! present the same few. Entries live for [`TOKEN_CACHE_TTL_MS`], and every change this
//! process makes to tokens or providers empties the cache at once, so a revocation here is
//! immediate and one made elsewhere (the CLI, another instance) takes effect within the TTL.

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
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl TokenCache {
    pub(crate) fn get(&self, hash: &[u8; 32], now: Timestamp) -> Option<(TokenRecord, Arc<Provider>)> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(hash)?;
        let age = now.millis() - e.fetched.millis();
        (0..TOKEN_CACHE_TTL_MS)
            .contains(&age)
            .then(|| (e.record.clone(), Arc::clone(&e.provider)))
    }

    pub(crate) fn put(&self, hash: [u8; 32], record: TokenRecord, provider: Arc<Provider>, now: Timestamp) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
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
            && let Some(e) = entries.get_mut(hash)
        {
            e.record.last_used = Some(at);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
