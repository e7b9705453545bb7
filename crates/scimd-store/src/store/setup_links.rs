//! Setup links: made and revoked by administrators, opened through their code.

use std::sync::LazyLock;

use async_trait::async_trait;
use scimd_core::setup::{Received, SetupLink};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, Provider, ProviderId, SetupStore, StoreError, Timestamp};

use super::SqlStore;
use super::providers::{JOINED_PROVIDER_COLUMNS, corrupt, provider_from_row};
use crate::db::{Row, args, cells, conflict};

const LINK_COLUMNS: &str = "l.id, l.provider_id, l.hash, l.created, l.created_by, l.expires, l.revoked, l.reveal_secret, \
     l.secret_revealed, l.first_viewed";
/// Columns of [`LINK_COLUMNS`]: where a joined provider starts.
const LINK_WIDTH: usize = 10;

/// A link and its provider in one read: every view of a setup page and every refresh of its
/// status panel.
static LINK_WITH_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {LINK_COLUMNS}, {} FROM setup_link l JOIN provider p ON p.id = l.provider_id WHERE l.hash = ?",
        *JOINED_PROVIDER_COLUMNS
    )
});

fn link_from_row(row: &Row) -> Result<SetupLink, StoreError> {
    Ok(SetupLink {
        id: row.text(0)?,
        provider: ProviderId::parse(&row.text(1)?).map_err(corrupt)?,
        hash: row.hash32(2)?,
        created: Timestamp(row.int(3)?),
        created_by: row.text(4)?,
        expires: Timestamp(row.int(5)?),
        revoked: row.opt_int(6)?.map(Timestamp),
        reveal_secret: row.bool(7)?,
        secret_revealed: row.opt_int(8)?.map(Timestamp),
        first_viewed: row.opt_int(9)?.map(Timestamp),
    })
}

#[async_trait]
impl SetupStore for SqlStore {
    async fn create_setup_link(&self, link: &SetupLink, event: &AuditEvent) -> StoreResult<()> {
        let l = link.clone();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    x.execute(
                        "INSERT INTO setup_link (id, provider_id, hash, created, created_by, expires, reveal_secret) \
                         VALUES (?, ?, ?, ?, ?, ?, ?)",
                        args![
                            &l.id,
                            l.provider.as_str(),
                            &l.hash,
                            l.created.0,
                            &l.created_by,
                            l.expires.0,
                            l.reveal_secret
                        ],
                    )
                    .await
                    .map_err(conflict("setup link"))
                })
            },
            |_| true,
        )
        .await
        .map(drop)
    }

    async fn setup_link_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<(SetupLink, Provider)>> {
        let hash = *hash;
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    match x.query_opt(&LINK_WITH_PROVIDER, args![&hash]).await? {
                        Some(r) => Ok(Some((link_from_row(&r)?, provider_from_row(&r, LINK_WIDTH)?))),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn setup_links(&self, provider: &ProviderId) -> StoreResult<Vec<SetupLink>> {
        let provider = provider.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {LINK_COLUMNS} FROM setup_link l WHERE l.provider_id = ? ORDER BY l.created DESC, l.id"
                    );
                    x.query(&sql, args![provider.as_str()])
                        .await?
                        .iter()
                        .map(link_from_row)
                        .collect()
                })
            })
            .await
    }

    async fn revoke_setup_link(
        &self,
        provider: &ProviderId,
        link_id: &str,
        tokens: &[String],
        at: Timestamp,
        event: &AuditEvent,
    ) -> StoreResult<u64> {
        let (provider, link_id, tokens) = (provider.clone(), link_id.to_owned(), tokens.to_vec());
        let (_, revoked) = self
            .with_event(
                event,
                move |x| {
                    Box::pin(async move {
                        let link = x
                            .execute(
                                "UPDATE setup_link SET revoked = ? WHERE provider_id = ? AND id = ? AND revoked IS NULL",
                                args![at.0, provider.as_str(), &link_id],
                            )
                            .await?;
                        let mut revoked = 0;
                        for t in &tokens {
                            revoked += x
                                .execute(
                                    "UPDATE access_token SET revoked = ? \
                                     WHERE provider_id = ? AND id = ? AND setup_link = ? AND revoked IS NULL",
                                    args![at.0, provider.as_str(), t, &link_id],
                                )
                                .await?;
                        }
                        Ok((link, revoked))
                    })
                },
                |(link, revoked)| link + revoked > 0,
            )
            .await?;
        Ok(revoked)
    }

    async fn mark_setup_link_viewed(&self, link_id: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<()> {
        let sql = "UPDATE setup_link SET first_viewed = ? WHERE id = ? AND first_viewed IS NULL";
        self.changing(event, sql, cells![at.0, link_id], "setup link")
            .await
            .map(drop)
    }

    async fn claim_setup_secret(&self, link_id: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let link_id = link_id.to_owned();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    x.execute(
                        "UPDATE setup_link SET secret_revealed = ? \
                         WHERE id = ? AND reveal_secret = ? AND secret_revealed IS NULL",
                        args![at.0, &link_id, true],
                    )
                    .await
                    .map_err(StoreError::from)
                })
            },
            |n| *n > 0,
        )
        .await
        .map(|n| n > 0)
    }

    async fn received(&self, provider: &ProviderId) -> StoreResult<Received> {
        let provider = provider.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT kind, count(*) FROM resource WHERE provider_id = ? GROUP BY kind",
                            args![provider.as_str()],
                        )
                        .await?;
                    let mut out = Received::default();
                    for r in rows {
                        let n = u64::try_from(r.int(1)?).unwrap_or(0);
                        match r.text(0)?.as_str() {
                            "User" => out.users = n,
                            _ => out.groups = n,
                        }
                    }
                    Ok(out)
                })
            })
            .await
    }
}
