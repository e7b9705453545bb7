//! Administrators, sessions, admin API tokens and the cross-provider reads in SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use scim_proto::schema::ResourceKind;
use scimd_core::admin::{AdminRecord, ApiTokenRecord, SessionRecord};
use scimd_core::resource::ResourceRecord;
use scimd_core::store::StoreResult;
use scimd_core::{AdminStore, AuditEvent, MemberRow, Population, PopulationPage, PopulationQuery, Timestamp};

use super::providers::insert_audit;
use super::resources::record_from_row;
use super::{SqliteStore, backend, conflict_or_backend};
use crate::admin_sql::{MEMBER_COUNT, MEMBER_PAGE, POPULATION_RESOURCE, SQLITE_SEARCH, search_params};
use crate::rows::member_row;

fn hash32(row: &Row<'_>, i: usize) -> rusqlite::Result<[u8; 32]> {
    let v: Vec<u8> = row.get(i)?;
    v.try_into()
        .map_err(|_| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, "bad hash".into()))
}

fn api_token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        hash: hash32(row, 2)?,
        created: Timestamp(row.get(3)?),
        revoked: row.get::<_, Option<i64>>(4)?.map(Timestamp),
    })
}

const API_TOKEN_COLUMNS: &str = "id, name, hash, created, revoked";

#[async_trait]
impl AdminStore for SqliteStore {
    async fn create_admin(&self, a: &AdminRecord, event: &AuditEvent) -> StoreResult<()> {
        let (a, event) = (a.clone(), event.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO admin (name, password_hash, created) VALUES (?1, ?2, ?3)",
                params![a.name, a.password_hash, a.created.0],
            )
            .map_err(|e| conflict_or_backend(e, "admin name"))?;
            insert_audit(c, &event)
        })
        .await
    }

    async fn admin(&self, name: &str) -> StoreResult<Option<AdminRecord>> {
        self.read_now(|c| {
            c.prepare_cached("SELECT name, password_hash, created FROM admin WHERE name = ?1")
                .and_then(|mut s| {
                    s.query_row([name], |r| {
                        Ok(AdminRecord {
                            name: r.get(0)?,
                            password_hash: r.get(1)?,
                            created: Timestamp(r.get(2)?),
                        })
                    })
                    .optional()
                })
                .map_err(backend)
        })
    }

    async fn create_session(&self, s: &SessionRecord, event: &AuditEvent) -> StoreResult<()> {
        let (s, event) = (s.clone(), event.clone());
        self.write(move |c| {
            // Expired sessions go as new ones come: the table stays the size of its use.
            c.execute("DELETE FROM admin_session WHERE expires < ?1", [s.created.0])
                .map_err(backend)?;
            c.execute(
                "INSERT INTO admin_session (hash, admin_name, created, expires) VALUES (?1, ?2, ?3, ?4)",
                params![s.hash.as_slice(), s.admin, s.created.0, s.expires.0],
            )
            .map_err(backend)?;
            insert_audit(c, &event)
        })
        .await
    }

    async fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        self.read_now(|c| {
            c.prepare_cached("SELECT hash, admin_name, created, expires FROM admin_session WHERE hash = ?1")
                .and_then(|mut s| {
                    s.query_row([hash.as_slice()], |r| {
                        Ok(SessionRecord {
                            hash: hash32(r, 0)?,
                            admin: r.get(1)?,
                            created: Timestamp(r.get(2)?),
                            expires: Timestamp(r.get(3)?),
                        })
                    })
                    .optional()
                })
                .map_err(backend)
        })
    }

    async fn extend_session(&self, hash: &[u8; 32], expires: Timestamp) -> StoreResult<()> {
        let hash = *hash;
        self.write(move |c| {
            c.execute(
                "UPDATE admin_session SET expires = ?2 WHERE hash = ?1 AND expires < ?2",
                params![hash.as_slice(), expires.0],
            )
            .map(drop)
            .map_err(backend)
        })
        .await
    }

    async fn delete_session(&self, hash: &[u8; 32], event: &AuditEvent) -> StoreResult<bool> {
        let (hash, event) = (*hash, event.clone());
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM admin_session WHERE hash = ?1", [hash.as_slice()])
                .map_err(backend)?;
            if n > 0 {
                insert_audit(c, &event)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn create_api_token(&self, t: &ApiTokenRecord, event: &AuditEvent) -> StoreResult<()> {
        let (t, event) = (t.clone(), event.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO admin_api_token (id, name, hash, created) VALUES (?1, ?2, ?3, ?4)",
                params![t.id, t.name, t.hash.as_slice(), t.created.0],
            )
            .map_err(|e| conflict_or_backend(e, "api token name"))?;
            insert_audit(c, &event)
        })
        .await
    }

    async fn api_token(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "SELECT {API_TOKEN_COLUMNS} FROM admin_api_token WHERE hash = ?1"
            ))
            .and_then(|mut s| s.query_row([hash.as_slice()], api_token_from_row).optional())
            .map_err(backend)
        })
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        self.read(|c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {API_TOKEN_COLUMNS} FROM admin_api_token ORDER BY created, id"
                ))
                .map_err(backend)?;
            let rows = s.query_map([], api_token_from_row).map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn revoke_api_token(&self, name: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let (name, event) = (name.to_owned(), event.clone());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE admin_api_token SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
                    params![name, at.0],
                )
                .map_err(backend)?;
            if n > 0 {
                insert_audit(c, &event)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn search_population(&self, q: &PopulationQuery) -> StoreResult<PopulationPage> {
        let q = q.clone();
        self.read(move |c| {
            let sp = search_params(&q);
            let (pop, kind) = (q.population.as_str(), q.kind.name());
            let total: i64 = c
                .prepare_cached(&SQLITE_SEARCH.count)
                .and_then(|mut s| s.query_row(params![pop, kind, sp.pattern, sp.raw, sp.prefilter], |r| r.get(0)))
                .map_err(backend)?;
            let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
            let mut s = c.prepare_cached(&SQLITE_SEARCH.page).map_err(backend)?;
            let rows = s
                .query_map(
                    params![pop, kind, sp.pattern, sp.raw, sp.prefilter, q.limit, offset],
                    record_from_row,
                )
                .map_err(backend)?;
            let items = rows.collect::<Result<Vec<_>, _>>().map_err(backend)?;
            Ok(PopulationPage {
                total: total.max(0) as u64,
                items,
            })
        })
        .await
    }

    async fn population_resource(
        &self,
        population: Population,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>> {
        self.read_now(|c| {
            c.prepare_cached(POPULATION_RESOURCE)
                .and_then(|mut s| {
                    s.query_row(params![population.as_str(), kind.name(), id], record_from_row)
                        .optional()
                })
                .map_err(backend)
        })
    }

    async fn member_counts(&self, groups: &[i64]) -> StoreResult<HashMap<i64, u64>> {
        let groups = groups.to_vec();
        self.read(move |c| {
            let mut s = c.prepare_cached(MEMBER_COUNT).map_err(backend)?;
            let mut out = HashMap::new();
            for g in groups {
                let n: i64 = s.query_row([g], |r| r.get(0)).map_err(backend)?;
                out.insert(g, n.max(0) as u64);
            }
            Ok(out)
        })
        .await
    }

    async fn member_page(&self, group: i64, after_seq: i64, limit: u32) -> StoreResult<Vec<MemberRow>> {
        self.read(move |c| {
            let mut s = c.prepare_cached(MEMBER_PAGE).map_err(backend)?;
            let rows = s
                .query_map(params![group, after_seq, limit], |r| {
                    let kind: String = r.get(2)?;
                    Ok(member_row(r.get(0)?, r.get(1)?, &kind, r.get(3)?))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }
}
