//! Administrators, sessions, admin API tokens and the cross-provider reads in PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;
use scimd_core::admin::{AdminRecord, ApiTokenRecord, SessionRecord};
use scimd_core::resource::ResourceRecord;
use scimd_core::store::StoreResult;
use scimd_core::{
    AdminStore, AuditEvent, MemberRow, Population, PopulationPage, PopulationQuery, StoreError, Timestamp,
};
use tokio_postgres::Row;

use super::providers::get;
use super::resources::record_from_row;
use super::{PgStore, backend, conflict_or_backend};
use crate::admin_sql::{MEMBER_COUNT, MEMBER_PAGE, PG_SEARCH, POPULATION_RESOURCE, pg, search_params};
use crate::rows::member_row;

fn hash32(row: &Row, i: usize) -> Result<[u8; 32], StoreError> {
    let v: Vec<u8> = get(row, i)?;
    v.try_into()
        .map_err(|_| StoreError::Backend("unreadable row: bad hash".into()))
}

fn api_token_from_row(row: &Row) -> Result<ApiTokenRecord, StoreError> {
    Ok(ApiTokenRecord {
        id: get(row, 0)?,
        name: get(row, 1)?,
        hash: hash32(row, 2)?,
        created: Timestamp(get(row, 3)?),
        revoked: get::<Option<i64>>(row, 4)?.map(Timestamp),
    })
}

const API_TOKEN_COLUMNS: &str = "id, name, hash, created, revoked";

#[async_trait]
impl AdminStore for PgStore {
    async fn create_admin(&self, a: &AdminRecord, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(
            event,
            async |c| {
                c.execute(
                    "INSERT INTO admin (name, password_hash, created) VALUES ($1, $2, $3)",
                    &[&a.name, &a.password_hash, &a.created.0],
                )
                .await
                .map_err(|e| conflict_or_backend(e, "admin name"))?;
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn admin(&self, name: &str) -> StoreResult<Option<AdminRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                "SELECT name, password_hash, created FROM admin WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(AdminRecord {
                name: get(&r, 0)?,
                password_hash: get(&r, 1)?,
                created: Timestamp(get(&r, 2)?),
            })
        })
        .transpose()
    }

    async fn create_session(&self, s: &SessionRecord, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(
            event,
            async |c| {
                // Expired sessions go as new ones come: the table stays the size of its use.
                c.execute("DELETE FROM admin_session WHERE expires < $1", &[&s.created.0])
                    .await
                    .map_err(backend)?;
                c.execute(
                    "INSERT INTO admin_session (hash, admin_name, created, expires) VALUES ($1, $2, $3, $4)",
                    &[&s.hash.as_slice(), &s.admin, &s.created.0, &s.expires.0],
                )
                .await
                .map_err(backend)?;
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                "SELECT hash, admin_name, created, expires FROM admin_session WHERE hash = $1",
                &[&hash.as_slice()],
            )
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(SessionRecord {
                hash: hash32(&r, 0)?,
                admin: get(&r, 1)?,
                created: Timestamp(get(&r, 2)?),
                expires: Timestamp(get(&r, 3)?),
            })
        })
        .transpose()
    }

    async fn extend_session(&self, hash: &[u8; 32], expires: Timestamp) -> StoreResult<()> {
        self.conn()
            .await?
            .execute(
                "UPDATE admin_session SET expires = $2 WHERE hash = $1 AND expires < $2",
                &[&hash.as_slice(), &expires.0],
            )
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn delete_session(&self, hash: &[u8; 32], event: &AuditEvent) -> StoreResult<bool> {
        self.with_event(
            event,
            async |c| {
                let n = c
                    .execute("DELETE FROM admin_session WHERE hash = $1", &[&hash.as_slice()])
                    .await
                    .map_err(backend)?;
                Ok(n > 0)
            },
            |deleted| *deleted,
        )
        .await
    }

    async fn create_api_token(&self, t: &ApiTokenRecord, event: &AuditEvent) -> StoreResult<()> {
        self.with_event(
            event,
            async |c| {
                c.execute(
                    "INSERT INTO admin_api_token (id, name, hash, created) VALUES ($1, $2, $3, $4)",
                    &[&t.id, &t.name, &t.hash.as_slice(), &t.created.0],
                )
                .await
                .map_err(|e| conflict_or_backend(e, "api token name"))?;
                Ok(())
            },
            |_| true,
        )
        .await
    }

    async fn api_token(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                &format!("SELECT {API_TOKEN_COLUMNS} FROM admin_api_token WHERE hash = $1"),
                &[&hash.as_slice()],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(api_token_from_row).transpose()
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT {API_TOKEN_COLUMNS} FROM admin_api_token ORDER BY created, id"),
                &[],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(api_token_from_row).collect()
    }

    async fn revoke_api_token(&self, name: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        self.with_event(
            event,
            async |c| {
                let n = c
                    .execute(
                        "UPDATE admin_api_token SET revoked = $2 WHERE name = $1 AND revoked IS NULL",
                        &[&name, &at.0],
                    )
                    .await
                    .map_err(backend)?;
                Ok(n > 0)
            },
            |revoked| *revoked,
        )
        .await
    }

    async fn search_population(&self, q: &PopulationQuery) -> StoreResult<PopulationPage> {
        let sp = search_params(q);
        let (pop, kind) = (q.population.as_str(), q.kind.name());
        let mut c = self.conn().await?;
        let total: i64 = get(
            &c.query_one(&PG_SEARCH.count, &[&pop, &kind, &sp.pattern, &sp.raw, &sp.prefilter])
                .await
                .map_err(backend)?,
            0,
        )?;
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let rows = c
            .query(
                &PG_SEARCH.page,
                &[
                    &pop,
                    &kind,
                    &sp.pattern,
                    &sp.raw,
                    &sp.prefilter,
                    &i64::from(q.limit),
                    &offset,
                ],
            )
            .await
            .map_err(backend)?;
        Ok(PopulationPage {
            total: total.max(0) as u64,
            items: rows.iter().map(record_from_row).collect::<Result<_, _>>()?,
        })
    }

    async fn population_resource(
        &self,
        population: Population,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(&pg(POPULATION_RESOURCE), &[&population.as_str(), &kind.name(), &id])
            .await
            .map_err(backend)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn member_counts(&self, groups: &[i64]) -> StoreResult<HashMap<i64, u64>> {
        let mut c = self.conn().await?;
        let sql = pg(MEMBER_COUNT);
        let mut out = HashMap::new();
        for &g in groups {
            let n: i64 = get(&c.query_one(&sql, &[&g]).await.map_err(backend)?, 0)?;
            out.insert(g, n.max(0) as u64);
        }
        Ok(out)
    }

    async fn member_page(&self, group: i64, after_seq: i64, limit: u32) -> StoreResult<Vec<MemberRow>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(&pg(MEMBER_PAGE), &[&group, &after_seq, &i64::from(limit)])
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, 2)?;
                Ok(member_row(get(r, 0)?, get(r, 1)?, &kind, get(r, 3)?))
            })
            .collect()
    }
}
