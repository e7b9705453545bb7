//! Providers, access tokens and the audit log in SQLite.

use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use scimd_core::store::StoreResult;
use scimd_core::{
    AuditEvent, AuditLink, AuditQuery, Cidr, ClientId, Provider, ProviderId, ProviderStore, StoreError,
    StoredAuditEvent, Timestamp, TokenRecord,
};

use super::{SqliteStore, backend, conflict_or_backend};
use crate::admin_sql::{AUDIT, AuditParams};

const PROVIDER_COLUMNS: &str = "id, name, population, enabled, description, tags, token_ttl_seconds, \
     allowed_networks, client_id, secret_sealed, secret_hash, created, modified";

fn provider_from_row(row: &Row<'_>, offset: usize) -> rusqlite::Result<Provider> {
    let text = |i: usize| -> rusqlite::Result<String> { row.get(offset + i) };
    let corrupt = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(offset + i, rusqlite::types::Type::Text, what.into())
    };
    let id = ProviderId::parse(&text(0)?).map_err(|e| corrupt(0, e))?;
    let population = text(2)?.parse().map_err(|e| corrupt(2, e))?;
    let tags: Vec<String> = serde_json::from_str(&text(5)?).map_err(|e| corrupt(5, e.to_string()))?;
    let networks: Vec<String> = serde_json::from_str(&text(7)?).map_err(|e| corrupt(7, e.to_string()))?;
    let allowed_networks = networks
        .iter()
        .map(|n| n.parse::<Cidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(7, e))?;
    let client_id = ClientId::parse(&text(8)?).ok_or_else(|| corrupt(8, "bad client id".into()))?;
    let hash: Vec<u8> = row.get(offset + 10)?;
    let secret_hash: [u8; 32] = hash.try_into().map_err(|_| corrupt(10, "bad secret hash".into()))?;
    Ok(Provider {
        id,
        name: text(1)?,
        population,
        enabled: row.get(offset + 3)?,
        description: text(4)?,
        tags,
        token_ttl_seconds: row.get(offset + 6)?,
        allowed_networks,
        client_id,
        secret_sealed: row.get(offset + 9)?,
        secret_hash,
        created: Timestamp(row.get(offset + 11)?),
        modified: Timestamp(row.get(offset + 12)?),
    })
}

/// A token and its provider in one indexed read: the hot path of every SCIM request.
static TOKEN_WITH_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TOKEN_COLUMNS}, {} FROM access_token t JOIN provider p ON p.id = t.provider_id WHERE t.hash = ?1",
        PROVIDER_COLUMNS
            .split(", ")
            .map(|col| format!("p.{col}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

const TOKEN_COLUMNS: &str = "t.id, t.provider_id, t.hash, t.created, t.expires, t.last_used, t.revoked";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let provider: String = row.get(1)?;
    let hash: Vec<u8> = row.get(2)?;
    let bad = |i, what: &str| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into());
    Ok(TokenRecord {
        id: row.get(0)?,
        provider: ProviderId::parse(&provider).map_err(|_| bad(1, "bad provider id"))?,
        hash: hash.try_into().map_err(|_| bad(2, "bad token hash"))?,
        created: Timestamp(row.get(3)?),
        expires: Timestamp(row.get(4)?),
        last_used: row.get::<_, Option<i64>>(5)?.map(Timestamp),
        revoked: row.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

pub(crate) fn insert_audit(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    super::audit::append(conn, e)
}

fn json_list<T: ToString>(items: &[T]) -> String {
    serde_json::Value::from(items.iter().map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await
    }

    async fn close(&self) {
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
        }
    }

    fn pool_stats(&self) -> Option<scimd_core::PoolStats> {
        Some(self.read_pool_stats())
    }

    async fn create_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        let (p, event) = (p.clone(), event.clone());
        self.write(move |c| {
            let taken: bool = c
                .query_row("SELECT EXISTS (SELECT 1 FROM provider WHERE id = ?1)", [p.id.as_str()], |r| r.get(0))
                .map_err(backend)?;
            if taken {
                return Err(StoreError::Conflict("provider id".into()));
            }
            c.execute(
                &format!("INSERT INTO provider ({PROVIDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
                params![
                    p.id.as_str(),
                    p.name,
                    p.population.as_str(),
                    p.enabled,
                    p.description,
                    json_list(&p.tags),
                    p.token_ttl_seconds,
                    json_list(&p.allowed_networks),
                    p.client_id.as_str(),
                    p.secret_sealed,
                    p.secret_hash.as_slice(),
                    p.created.0,
                    p.modified.0
                ],
            )
            .map_err(|e| conflict_or_backend(e, "provider id"))?;
            insert_audit(c, &event)
        })
        .await
    }

    async fn provider(&self, id: &ProviderId) -> StoreResult<Option<Provider>> {
        self.read_now(|c| {
            c.prepare_cached(&format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id.as_str()], |r| provider_from_row(r, 0)).optional())
                .map_err(backend)
        })
    }

    async fn provider_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Provider>> {
        self.read_now(|c| {
            c.prepare_cached(&format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE client_id = ?1"))
                .and_then(|mut s| {
                    s.query_row([client_id.as_str()], |r| provider_from_row(r, 0))
                        .optional()
                })
                .map_err(backend)
        })
    }

    async fn providers(&self) -> StoreResult<Vec<Provider>> {
        self.read(|c| {
            let mut s = c
                .prepare_cached(&format!("SELECT {PROVIDER_COLUMNS} FROM provider ORDER BY id"))
                .map_err(backend)?;
            let rows = s.query_map([], |r| provider_from_row(r, 0)).map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn update_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        let (p, event) = (p.clone(), event.clone());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE provider SET name = ?2, enabled = ?3, description = ?4, tags = ?5, token_ttl_seconds = ?6, \
                     allowed_networks = ?7, secret_sealed = ?8, secret_hash = ?9, modified = ?10 WHERE id = ?1",
                    params![
                        p.id.as_str(),
                        p.name,
                        p.enabled,
                        p.description,
                        json_list(&p.tags),
                        p.token_ttl_seconds,
                        json_list(&p.allowed_networks),
                        p.secret_sealed,
                        p.secret_hash.as_slice(),
                        p.modified.0
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Stale);
            }
            insert_audit(c, &event)
        })
        .await
    }

    async fn delete_provider(&self, id: &ProviderId, event: &AuditEvent) -> StoreResult<bool> {
        let (id, event) = (id.clone(), event.clone());
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM provider WHERE id = ?1", [id.as_str()])
                .map_err(backend)?;
            if n > 0 {
                insert_audit(c, &event)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn create_token(&self, t: &TokenRecord, event: &AuditEvent) -> StoreResult<()> {
        let (t, event) = (t.clone(), event.clone());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO access_token (id, provider_id, hash, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.id,
                    t.provider.as_str(),
                    t.hash.as_slice(),
                    t.created.0,
                    t.expires.0
                ])
            })
            .map_err(|e| conflict_or_backend(e, "token"))?;
            insert_audit(c, &event)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(TokenRecord, Provider)>> {
        self.read_now(|c| {
            c.prepare_cached(&TOKEN_WITH_PROVIDER)
                .and_then(|mut s| {
                    s.query_row([hash.as_slice()], |r| {
                        Ok((token_from_row(r)?, provider_from_row(r, 7)?))
                    })
                    .optional()
                })
                .map_err(backend)
        })
    }

    async fn tokens(&self, provider: &ProviderId) -> StoreResult<Vec<TokenRecord>> {
        let provider = provider.clone();
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_token t WHERE t.provider_id = ?1 ORDER BY t.created, t.id"
                ))
                .map_err(backend)?;
            let rows = s.query_map([provider.as_str()], token_from_row).map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn revoke_tokens(
        &self,
        provider: &ProviderId,
        token_id: Option<&str>,
        at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<u64> {
        let (provider, token_id, event) = (provider.clone(), token_id.map(str::to_owned), event.clone());
        self.write(move |c| {
            let n = match &token_id {
                Some(t) => c.execute(
                    "UPDATE access_token SET revoked = ?3 WHERE provider_id = ?1 AND id = ?2 AND revoked IS NULL",
                    params![provider.as_str(), t, at.0],
                ),
                None => c.execute(
                    "UPDATE access_token SET revoked = ?2 WHERE provider_id = ?1 AND revoked IS NULL",
                    params![provider.as_str(), at.0],
                ),
            }
            .map_err(backend)?;
            if n > 0 {
                insert_audit(c, &event)?;
            }
            Ok(n as u64)
        })
        .await
    }

    async fn revoke_token_by_hash(&self, hash: &[u8; 32], at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let (hash, event) = (*hash, event.clone());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE access_token SET revoked = ?2 WHERE hash = ?1 AND revoked IS NULL",
                    params![hash.as_slice(), at.0],
                )
                .map_err(backend)?;
            if n > 0 {
                insert_audit(c, &event)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn touch_token(&self, token_id: &str, at: Timestamp) -> StoreResult<()> {
        let token_id = token_id.to_owned();
        self.write(move |c| {
            c.prepare_cached("UPDATE access_token SET last_used = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![token_id, at.0]))
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn record(&self, event: &AuditEvent) -> StoreResult<()> {
        let event = event.clone();
        self.write(move |c| insert_audit(c, &event)).await
    }

    async fn audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let p = AuditParams::of(q);
        self.read(move |c| {
            let mut s = c.prepare_cached(AUDIT).map_err(backend)?;
            let rows = s
                .query_map(
                    params![
                        p.provider, p.action, p.actor, p.resource, p.since, p.until, p.before, p.limit
                    ],
                    super::audit::event_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn audit_chain(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditLink>> {
        self.read(move |c| super::audit::chain_page(c, after_seq, limit)).await
    }
}
