//! Providers, access tokens and the audit log in PostgreSQL.

use std::sync::LazyLock;

use async_trait::async_trait;
use scimd_core::store::StoreResult;
use scimd_core::{
    AuditEvent, AuditLink, AuditQuery, Cidr, ClientId, Provider, ProviderId, ProviderStore, StoreError,
    StoredAuditEvent, Timestamp, TokenRecord,
};
use tokio_postgres::Row;

use super::pool::Conn;
use super::{PgStore, backend, conflict_or_backend};
use crate::admin_sql::{AuditParams, PG_AUDIT};

const PROVIDER_COLUMNS: &str = "id, name, population, enabled, description, tags, token_ttl_seconds, \
     allowed_networks, client_id, secret_sealed, secret_hash, created, modified";

const TOKEN_COLUMNS: &str = "t.id, t.provider_id, t.hash, t.created, t.expires, t.last_used, t.revoked";

/// A token and its provider in one indexed read: the hot path of every SCIM request.
static TOKEN_WITH_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TOKEN_COLUMNS}, {} FROM access_token t JOIN provider p ON p.id = t.provider_id WHERE t.hash = $1",
        PROVIDER_COLUMNS
            .split(", ")
            .map(|col| format!("p.{col}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable row: {what}"))
}

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(backend)
}

fn provider_from_row(row: &Row, offset: usize) -> Result<Provider, StoreError> {
    let text = |i: usize| -> Result<String, StoreError> { get(row, offset + i) };
    let id = ProviderId::parse(&text(0)?).map_err(corrupt)?;
    let population = text(2)?.parse().map_err(corrupt)?;
    let tags: Vec<String> = serde_json::from_str(&text(5)?).map_err(corrupt)?;
    let networks: Vec<String> = serde_json::from_str(&text(7)?).map_err(corrupt)?;
    let allowed_networks = networks
        .iter()
        .map(|n| n.parse::<Cidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    let client_id = ClientId::parse(&text(8)?).ok_or_else(|| corrupt("bad client id"))?;
    let hash: Vec<u8> = get(row, offset + 10)?;
    let secret_hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("bad secret hash"))?;
    Ok(Provider {
        id,
        name: text(1)?,
        population,
        enabled: get(row, offset + 3)?,
        description: text(4)?,
        tags,
        token_ttl_seconds: get(row, offset + 6)?,
        allowed_networks,
        client_id,
        secret_sealed: get(row, offset + 9)?,
        secret_hash,
        created: Timestamp(get(row, offset + 11)?),
        modified: Timestamp(get(row, offset + 12)?),
    })
}

fn token_from_row(row: &Row) -> Result<TokenRecord, StoreError> {
    let provider: String = get(row, 1)?;
    let hash: Vec<u8> = get(row, 2)?;
    Ok(TokenRecord {
        id: get(row, 0)?,
        provider: ProviderId::parse(&provider).map_err(corrupt)?,
        hash: hash.try_into().map_err(|_| corrupt("bad token hash"))?,
        created: Timestamp(get(row, 3)?),
        expires: Timestamp(get(row, 4)?),
        last_used: get::<Option<i64>>(row, 5)?.map(Timestamp),
        revoked: get::<Option<i64>>(row, 6)?.map(Timestamp),
    })
}

pub(crate) async fn insert_audit(c: &mut Conn<'_>, e: &AuditEvent) -> Result<(), StoreError> {
    super::audit::append(c, e).await
}

fn json_list<T: ToString>(items: &[T]) -> String {
    serde_json::Value::from(items.iter().map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

impl PgStore {
    /// One statement and its audit event, in one transaction; the event only when `changed`
    /// says the statement did something.
    pub(crate) async fn with_event<T: Send>(
        &self,
        event: &AuditEvent,
        work: impl for<'c> AsyncFnOnce(&mut Conn<'c>) -> Result<T, StoreError>,
        changed: impl Fn(&T) -> bool,
    ) -> StoreResult<T> {
        let mut c = self.conn().await?;
        c.begin().await?;
        let outcome = async {
            let out = work(&mut c).await?;
            if changed(&out) {
                insert_audit(&mut c, event).await?;
            }
            Ok(out)
        }
        .await;
        c.end(outcome).await
    }
}

#[async_trait]
impl ProviderStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        let mut c = self.conn().await?;
        c.query_one("SELECT 1", &[]).await.map_err(backend)?;
        Ok(())
    }

    fn pool_stats(&self) -> Option<scimd_core::PoolStats> {
        Some(self.pool_stats())
    }

    async fn create_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO provider ({PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        self.with_event(
            event,
            async |c| {
                c.execute(
                    &sql,
                    &[
                        &p.id.as_str(),
                        &p.name,
                        &p.population.as_str(),
                        &p.enabled,
                        &p.description,
                        &json_list(&p.tags),
                        &p.token_ttl_seconds,
                        &json_list(&p.allowed_networks),
                        &p.client_id.as_str(),
                        &p.secret_sealed,
                        &p.secret_hash.as_slice(),
                        &p.created.0,
                        &p.modified.0,
                    ],
                )
                .await
                .map_err(|e| conflict_or_backend(e, "provider id"))?;
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn provider(&self, id: &ProviderId) -> StoreResult<Option<Provider>> {
        let mut c = self.conn().await?;
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE id = $1");
        let row = c.query_opt(&sql, &[&id.as_str()]).await.map_err(backend)?;
        row.map(|r| provider_from_row(&r, 0)).transpose()
    }

    async fn provider_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Provider>> {
        let mut c = self.conn().await?;
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE client_id = $1");
        let row = c.query_opt(&sql, &[&client_id.as_str()]).await.map_err(backend)?;
        row.map(|r| provider_from_row(&r, 0)).transpose()
    }

    async fn providers(&self) -> StoreResult<Vec<Provider>> {
        let mut c = self.conn().await?;
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM provider ORDER BY id");
        let rows = c.query(&sql, &[]).await.map_err(backend)?;
        rows.iter().map(|r| provider_from_row(r, 0)).collect()
    }

    async fn update_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(
            event,
            async |c| {
                let n = c
                    .execute(
                        "UPDATE provider SET name = $2, enabled = $3, description = $4, tags = $5, \
                         token_ttl_seconds = $6, allowed_networks = $7, secret_sealed = $8, secret_hash = $9, \
                         modified = $10 WHERE id = $1",
                        &[
                            &p.id.as_str(),
                            &p.name,
                            &p.enabled,
                            &p.description,
                            &json_list(&p.tags),
                            &p.token_ttl_seconds,
                            &json_list(&p.allowed_networks),
                            &p.secret_sealed,
                            &p.secret_hash.as_slice(),
                            &p.modified.0,
                        ],
                    )
                    .await
                    .map_err(backend)?;
                if n == 0 {
                    return Err(StoreError::Stale);
                }
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn delete_provider(&self, id: &ProviderId, event: &AuditEvent) -> StoreResult<bool> {
        self.with_event(
            event,
            async |c| {
                let n = c
                    .execute("DELETE FROM provider WHERE id = $1", &[&id.as_str()])
                    .await
                    .map_err(backend)?;
                Ok(n > 0)
            },
            |deleted| *deleted,
        )
        .await
    }

    async fn create_token(&self, t: &TokenRecord, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(
            event,
            async |c| {
                c.execute(
                    "INSERT INTO access_token (id, provider_id, hash, created, expires) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &t.id,
                        &t.provider.as_str(),
                        &t.hash.as_slice(),
                        &t.created.0,
                        &t.expires.0,
                    ],
                )
                .await
                .map_err(|e| conflict_or_backend(e, "token"))?;
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(TokenRecord, Provider)>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(&TOKEN_WITH_PROVIDER, &[&hash.as_slice()])
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(Some((token_from_row(&r)?, provider_from_row(&r, 7)?))),
            None => Ok(None),
        }
    }

    async fn tokens(&self, provider: &ProviderId) -> StoreResult<Vec<TokenRecord>> {
        let mut c = self.conn().await?;
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM access_token t WHERE t.provider_id = $1 ORDER BY t.created, t.id");
        let rows = c.query(&sql, &[&provider.as_str()]).await.map_err(backend)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_tokens(
        &self,
        provider: &ProviderId,
        token_id: Option<&str>,
        at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<u64> {
        self.with_event(
            event,
            async |c| {
                match token_id {
                    Some(t) => {
                        c.execute(
                            "UPDATE access_token SET revoked = $3 WHERE provider_id = $1 AND id = $2 AND revoked IS NULL",
                            &[&provider.as_str(), &t, &at.0],
                        )
                        .await
                    }
                    None => {
                        c.execute(
                            "UPDATE access_token SET revoked = $2 WHERE provider_id = $1 AND revoked IS NULL",
                            &[&provider.as_str(), &at.0],
                        )
                        .await
                    }
                }
                .map_err(backend)
            },
            |n| *n > 0,
        )
        .await
    }

    async fn revoke_token_by_hash(&self, hash: &[u8; 32], at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        self.with_event(
            event,
            async |c| {
                let n = c
                    .execute(
                        "UPDATE access_token SET revoked = $2 WHERE hash = $1 AND revoked IS NULL",
                        &[&hash.as_slice(), &at.0],
                    )
                    .await
                    .map_err(backend)?;
                Ok(n > 0)
            },
            |revoked| *revoked,
        )
        .await
    }

    async fn touch_token(&self, token_id: &str, at: Timestamp) -> StoreResult<()> {
        let mut c = self.conn().await?;
        c.execute(
            "UPDATE access_token SET last_used = $2 WHERE id = $1",
            &[&token_id, &at.0],
        )
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn record(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut c = self.conn().await?;
        // The chain's lock lasts until the transaction ends: an append needs one.
        c.begin().await?;
        let outcome = insert_audit(&mut c, event).await;
        c.end(outcome).await
    }

    async fn audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let p = AuditParams::of(q);
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &PG_AUDIT,
                &[
                    &p.provider,
                    &p.action,
                    &p.actor,
                    &p.resource,
                    &p.since,
                    &p.until,
                    &p.before,
                    &p.limit,
                ],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(super::audit::event_from_row).collect()
    }

    async fn audit_chain(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditLink>> {
        let mut c = self.conn().await?;
        super::audit::chain_page(&mut c, after_seq, limit).await
    }
}
