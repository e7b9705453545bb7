//! Providers, their access tokens, and the audit log's reads.

use std::sync::LazyLock;

use async_trait::async_trait;
use scimd_core::rekey::{Reseal, Sealed};
use scimd_core::store::StoreResult;
use scimd_core::{
    AuditEvent, AuditLink, AuditQuery, Cidr, ClientId, PoolStats, Provider, ProviderId, ProviderStore, StoreError,
    StoredAuditEvent, Timestamp, TokenRecord,
};

use super::SqlStore;
use crate::audit;
use crate::db::{Arg, Cell, Db, Exec, Row, args, cells, conflict};

const PROVIDER_COLUMNS: &str = "id, name, population, enabled, description, tags, token_ttl_seconds, \
     allowed_networks, client_id, secret_sealed, secret_hash, created, modified, settings";

const TOKEN_COLUMNS: &str = "t.id, t.provider_id, t.hash, t.created, t.expires, t.last_used, t.revoked, t.setup_link";

/// [`PROVIDER_COLUMNS`] of a provider joined as `p`, for reads that fetch a row and its
/// provider at once.
pub(crate) static JOINED_PROVIDER_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    PROVIDER_COLUMNS
        .split(", ")
        .map(|col| format!("p.{col}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// A token and its provider in one indexed read: the hot path of every SCIM request.
static TOKEN_WITH_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TOKEN_COLUMNS}, {} FROM access_token t JOIN provider p ON p.id = t.provider_id WHERE t.hash = ?",
        *JOINED_PROVIDER_COLUMNS
    )
});

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable row: {what}"))
}

/// A provider from [`PROVIDER_COLUMNS`], starting at column `at`.
pub(crate) fn provider_from_row(row: &Row, at: usize) -> Result<Provider, StoreError> {
    let text = |i: usize| row.text(at + i);
    let tags: Vec<String> = serde_json::from_str(&text(5)?).map_err(corrupt)?;
    let networks: Vec<String> = serde_json::from_str(&text(7)?).map_err(corrupt)?;
    Ok(Provider {
        id: ProviderId::parse(&text(0)?).map_err(corrupt)?,
        name: text(1)?,
        population: text(2)?.parse().map_err(corrupt)?,
        enabled: row.bool(at + 3)?,
        description: text(4)?,
        tags,
        token_ttl_seconds: row.int(at + 6)?,
        allowed_networks: networks
            .iter()
            .map(|n| n.parse::<Cidr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?,
        client_id: ClientId::parse(&text(8)?).ok_or_else(|| corrupt("bad client id"))?,
        secret_sealed: row.bytes(at + 9)?,
        secret_hash: row.hash32(at + 10)?,
        created: Timestamp(row.int(at + 11)?),
        modified: Timestamp(row.int(at + 12)?),
        settings: serde_json::from_str(&text(13)?).map_err(corrupt)?,
    })
}

fn token_from_row(row: &Row) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.text(0)?,
        provider: ProviderId::parse(&row.text(1)?).map_err(corrupt)?,
        hash: row.hash32(2)?,
        created: Timestamp(row.int(3)?),
        expires: Timestamp(row.int(4)?),
        last_used: row.opt_int(5)?.map(Timestamp),
        revoked: row.opt_int(6)?.map(Timestamp),
        setup_link: row.opt_text(7)?,
    })
}

fn settings_json(p: &Provider) -> StoreResult<String> {
    serde_json::to_string(&p.settings).map_err(|e| StoreError::Backend(e.to_string()))
}

fn json_list<T: ToString>(items: &[T]) -> String {
    serde_json::Value::from(items.iter().map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

/// The provider whose `id` (or whose `client_id`) is `value`.
async fn one_provider(x: &mut dyn Exec, by_client_id: bool, value: &str) -> StoreResult<Option<Provider>> {
    static BY_ID: LazyLock<String> = LazyLock::new(|| format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE id = ?"));
    static BY_CLIENT_ID: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {PROVIDER_COLUMNS} FROM provider WHERE client_id = ?"));
    let sql = if by_client_id { &BY_CLIENT_ID } else { &BY_ID };
    x.query_opt(sql, args![value])
        .await?
        .map(|r| provider_from_row(&r, 0))
        .transpose()
}

impl SqlStore {
    /// One statement and its audit event in one transaction, the event only when the
    /// statement changed a row; how many it changed. A violated unique index is
    /// `Conflict(unique)`.
    pub(crate) async fn changing(
        &self,
        event: &AuditEvent,
        sql: &'static str,
        values: Vec<Cell>,
        unique: &'static str,
    ) -> StoreResult<u64> {
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    let bound: Vec<Arg<'_>> = values.iter().map(Cell::arg).collect();
                    x.execute(sql, &bound).await.map_err(conflict(unique))
                })
            },
            |n| *n > 0,
        )
        .await
    }

    /// One change and its audit event in one transaction; the event only when `changed` says
    /// the change did something.
    pub(crate) async fn with_event<T, F>(&self, event: &AuditEvent, work: F, changed: fn(&T) -> bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'x> FnOnce(&'x mut dyn Exec) -> futures_util::future::BoxFuture<'x, StoreResult<T>> + Send + 'static,
    {
        let event = event.clone();
        self.db
            .write(move |x| {
                Box::pin(async move {
                    let out = work(&mut *x).await?;
                    if changed(&out) {
                        audit::append(x, &event).await?;
                    }
                    Ok(out)
                })
            })
            .await
    }
}

#[async_trait]
impl ProviderStore for SqlStore {
    fn storage_full(&self) -> bool {
        crate::db::storage_full()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    x.query_one("SELECT 1", &[]).await?;
                    Ok(())
                })
            })
            .await
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        Some(match &self.db {
            Db::Sqlite(db) => db.pool_stats(),
            Db::Postgres(db) => db.pool_stats(),
        })
    }

    async fn close(&self) {
        if let Db::Sqlite(db) = &self.db
            && let Err(e) = db.checkpoint().await
        {
            tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
        }
    }

    async fn server_state(&self, name: &str) -> StoreResult<Option<String>> {
        let name = name.to_owned();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    match x
                        .query_opt("SELECT value FROM server_state WHERE name = ?", args![&name])
                        .await?
                    {
                        Some(row) => Ok(Some(row.text(0)?)),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn set_server_state(&self, name: &str, value: &str) -> StoreResult<()> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "INSERT INTO server_state (name, value) VALUES (?, ?) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        args![&name, &value],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn create_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        let p = p.clone();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    x.execute(
                        &format!(
                            "INSERT INTO provider ({PROVIDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        ),
                        args![
                            p.id.as_str(),
                            &p.name,
                            p.population.as_str(),
                            p.enabled,
                            &p.description,
                            &json_list(&p.tags),
                            p.token_ttl_seconds,
                            &json_list(&p.allowed_networks),
                            p.client_id.as_str(),
                            &p.secret_sealed,
                            &p.secret_hash,
                            p.created.0,
                            p.modified.0,
                            &settings_json(&p)?
                        ],
                    )
                    .await
                    .map_err(conflict("provider id"))?;
                    Ok(())
                })
            },
            |_| true,
        )
        .await
    }

    async fn provider(&self, id: &ProviderId) -> StoreResult<Option<Provider>> {
        let id = id.clone();
        self.db
            .read_now(move |x| Box::pin(async move { one_provider(x, false, id.as_str()).await }))
            .await
    }

    async fn provider_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Provider>> {
        let client_id = client_id.clone();
        self.db
            .read_now(move |x| Box::pin(async move { one_provider(x, true, client_id.as_str()).await }))
            .await
    }

    async fn providers(&self) -> StoreResult<Vec<Provider>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    let sql = format!("SELECT {PROVIDER_COLUMNS} FROM provider ORDER BY id");
                    x.query(&sql, &[])
                        .await?
                        .iter()
                        .map(|r| provider_from_row(r, 0))
                        .collect()
                })
            })
            .await
    }

    async fn update_provider(&self, p: &Provider, event: &AuditEvent) -> StoreResult<()> {
        let p = p.clone();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    let n = x
                        .execute(
                            "UPDATE provider SET name = ?, enabled = ?, description = ?, tags = ?, token_ttl_seconds = ?, \
                             allowed_networks = ?, secret_sealed = ?, secret_hash = ?, modified = ?, settings = ? \
                             WHERE id = ?",
                            args![
                                &p.name,
                                p.enabled,
                                &p.description,
                                &json_list(&p.tags),
                                p.token_ttl_seconds,
                                &json_list(&p.allowed_networks),
                                &p.secret_sealed,
                                &p.secret_hash,
                                p.modified.0,
                                &settings_json(&p)?,
                                p.id.as_str()
                            ],
                        )
                        .await?;
                    if n == 0 {
                        return Err(StoreError::Stale);
                    }
                    // A changed retention applies to what is already soft-deleted too.
                    x.execute(
                        "UPDATE deleted_resource SET purge_after = deleted + ? WHERE provider_id = ? \
                         AND purge_after <> deleted + ?",
                        args![p.settings.retention_seconds * 1000, p.id.as_str(), p.settings.retention_seconds * 1000],
                    )
                    .await?;
                    Ok(())
                })
            },
            |_| true,
        )
        .await
    }

    async fn delete_provider(&self, id: &ProviderId, event: &AuditEvent) -> StoreResult<bool> {
        let sql = "DELETE FROM provider WHERE id = ?";
        Ok(self.changing(event, sql, cells![id.as_str()], "provider").await? > 0)
    }

    async fn create_token(&self, t: &TokenRecord, event: &AuditEvent) -> StoreResult<()> {
        let sql =
            "INSERT INTO access_token (id, provider_id, hash, created, expires, setup_link) VALUES (?, ?, ?, ?, ?, ?)";
        let values = cells![
            t.id.as_str(),
            t.provider.as_str(),
            t.hash,
            t.created.0,
            t.expires.0,
            t.setup_link.clone()
        ];
        self.changing(event, sql, values, "token").await.map(drop)
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(TokenRecord, Provider)>> {
        let hash = *hash;
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    match x.query_opt(&TOKEN_WITH_PROVIDER, args![&hash]).await? {
                        Some(r) => Ok(Some((token_from_row(&r)?, provider_from_row(&r, 8)?))),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn tokens(&self, provider: &ProviderId) -> StoreResult<Vec<TokenRecord>> {
        let provider = provider.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {TOKEN_COLUMNS} FROM access_token t WHERE t.provider_id = ? ORDER BY t.created, t.id"
                    );
                    x.query(&sql, args![provider.as_str()])
                        .await?
                        .iter()
                        .map(token_from_row)
                        .collect()
                })
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
        let sql = "UPDATE access_token SET revoked = ?1 WHERE provider_id = ?2 \
                   AND (CAST(?3 AS TEXT) IS NULL OR id = ?3) AND revoked IS NULL";
        let values = cells![at.0, provider.as_str(), token_id.map(str::to_owned)];
        self.changing(event, sql, values, "token").await
    }

    async fn revoke_token_by_hash(&self, hash: &[u8; 32], at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let sql = "UPDATE access_token SET revoked = ? WHERE hash = ? AND revoked IS NULL";
        Ok(self.changing(event, sql, cells![at.0, *hash], "token").await? > 0)
    }

    async fn touch_token(&self, token_id: &str, at: Timestamp) -> StoreResult<()> {
        let token_id = token_id.to_owned();
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "UPDATE access_token SET last_used = ? WHERE id = ?",
                        args![at.0, &token_id],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn reseal(&self, changes: &[Reseal], event: &AuditEvent) -> StoreResult<()> {
        let changes = changes.to_vec();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    for c in &changes {
                        let (sql, key) = match &c.target {
                            Sealed::ProviderSecret(id) => (
                                "UPDATE provider SET secret_sealed = ? WHERE id = ? AND secret_sealed = ?",
                                id,
                            ),
                            Sealed::WebhookSecret(id) => {
                                ("UPDATE subscription SET secret = ? WHERE id = ? AND secret = ?", id)
                            }
                            Sealed::OldWebhookSecret(id) => (
                                "UPDATE subscription SET old_secret = ? WHERE id = ? AND old_secret = ?",
                                id,
                            ),
                            Sealed::SigningKey(kid) => (
                                "UPDATE signing_key SET private_key = ? WHERE kid = ? AND private_key = ?",
                                kid,
                            ),
                        };
                        if x.execute(sql, args![&c.to, key, &c.from]).await? != 1 {
                            return Err(StoreError::Stale);
                        }
                    }
                    Ok(())
                })
            },
            |()| true,
        )
        .await
    }

    async fn record(&self, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(event, |_| Box::pin(async { Ok(()) }), |_| true).await
    }

    async fn audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let q = q.clone();
        self.db
            .read(move |x| Box::pin(async move { audit::events(x, &q).await }))
            .await
    }

    async fn audit_chain(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditLink>> {
        self.db
            .read(move |x| Box::pin(async move { audit::chain_page(x, after_seq, limit).await }))
            .await
    }
}
