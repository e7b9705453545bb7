//! Administrators, console sessions, admin API tokens, and the reads the console and the
//! admin API make across providers: population search, a group's members by keyset, member
//! counts.

use std::collections::HashMap;

use async_trait::async_trait;
use scim_proto::schema::ResourceKind;
use scimd_core::admin::{AdminRecord, ApiTokenRecord, SessionRecord};
use scimd_core::resource::ResourceRecord;
use scimd_core::store::StoreResult;
use scimd_core::{
    AdminStore, AuditEvent, MemberRow, Population, PopulationPage, PopulationQuery, StoreError, Timestamp,
};

use super::SqlStore;
use super::resources::{record_from_row, records};
use crate::db::{Dialect, Row, args, cells};
use crate::filter::fold;
use crate::rows::{COLUMNS, member_row};

const API_TOKEN_COLUMNS: &str = "id, name, hash, created, revoked";

fn api_token_from_row(row: &Row) -> Result<ApiTokenRecord, StoreError> {
    Ok(ApiTokenRecord {
        id: row.text(0)?,
        name: row.text(1)?,
        hash: row.hash32(2)?,
        created: Timestamp(row.int(3)?),
        revoked: row.opt_int(4)?.map(Timestamp),
    })
}

/// The population search's condition. Parameters: ?1 population, ?2 kind, ?3 folded `LIKE`
/// pattern or NULL, ?4 the raw text (exact externalId) or NULL, ?5 the same pattern as a
/// prefilter on the whole document's text, or NULL. Every match has the search text
/// somewhere in its document, so the prefilter (a substring scan) drops most rows before
/// any JSON is parsed: 100,000 users are searched in a fraction of the time.
fn search_where(dialect: Dialect) -> String {
    let (given, family, formatted, emails, doc) = match dialect {
        Dialect::Sqlite => (
            "scim_fold(json_extract(r.data, '$.name.givenName'))",
            "scim_fold(json_extract(r.data, '$.name.familyName'))",
            "scim_fold(json_extract(r.data, '$.name.formatted'))",
            "SELECT 1 FROM json_each(r.data, '$.emails') e \
             WHERE scim_fold(json_extract(e.value, '$.value')) LIKE ?3 ESCAPE '\\'",
            "scim_fold(r.data)",
        ),
        Dialect::Postgres => (
            "scim_fold(r.data #>> '{name,givenName}')",
            "scim_fold(r.data #>> '{name,familyName}')",
            "scim_fold(r.data #>> '{name,formatted}')",
            "SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.data -> 'emails') = 'array' \
             THEN r.data -> 'emails' ELSE '[]'::jsonb END) e WHERE scim_fold(e ->> 'value') LIKE ?3 ESCAPE '\\'",
            "scim_fold(r.data::text)",
        ),
    };
    format!(
        "r.population = ?1 AND r.kind = ?2 \
         AND (CAST(?5 AS TEXT) IS NULL OR {doc} LIKE ?5 ESCAPE '\\') AND (CAST(?3 AS TEXT) IS NULL \
         OR r.user_name_folded LIKE ?3 ESCAPE '\\' OR r.display_name_folded LIKE ?3 ESCAPE '\\' \
         OR r.external_id = ?4 OR {given} LIKE ?3 ESCAPE '\\' OR {family} LIKE ?3 ESCAPE '\\' \
         OR {formatted} LIKE ?3 ESCAPE '\\' OR EXISTS ({emails}))"
    )
}

/// The search text as bound parameters: the folded substring pattern, the raw text, and
/// the prefilter pattern. Text that JSON escapes (quotes, backslashes, control characters)
/// would not appear as such in the document, so it goes without the prefilter.
struct SearchText {
    pattern: Option<String>,
    raw: Option<String>,
    prefilter: Option<String>,
}

impl SearchText {
    fn of(q: &PopulationQuery) -> SearchText {
        let Some(t) = &q.text else {
            return SearchText {
                pattern: None,
                raw: None,
                prefilter: None,
            };
        };
        let pattern = format!("%{}%", scimd_core::store::like_escape(&fold(t)));
        let plain = !t.chars().any(|c| c == '"' || c == '\\' || c.is_control());
        SearchText {
            prefilter: plain.then(|| pattern.clone()),
            pattern: Some(pattern),
            raw: Some(t.clone()),
        }
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn create_admin(&self, a: &AdminRecord, event: &AuditEvent) -> StoreResult<()> {
        let sql = "INSERT INTO admin (name, password_hash, created) VALUES (?, ?, ?)";
        let values = cells![a.name.as_str(), a.password_hash.as_str(), a.created.0];
        self.changing(event, sql, values, "admin name").await.map(drop)
    }

    async fn admin(&self, name: &str) -> StoreResult<Option<AdminRecord>> {
        let name = name.to_owned();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let row = x
                        .query_opt(
                            "SELECT name, password_hash, created FROM admin WHERE name = ?",
                            args![&name],
                        )
                        .await?;
                    row.map(|r| {
                        Ok(AdminRecord {
                            name: r.text(0)?,
                            password_hash: r.text(1)?,
                            created: Timestamp(r.int(2)?),
                        })
                    })
                    .transpose()
                })
            })
            .await
    }

    async fn create_session(&self, s: &SessionRecord, event: &AuditEvent) -> StoreResult<()> {
        let s = s.clone();
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    // Expired sessions go as new ones come: the table stays the size of its use.
                    x.execute("DELETE FROM admin_session WHERE expires < ?", args![s.created.0])
                        .await?;
                    x.execute(
                        "INSERT INTO admin_session (hash, admin_name, created, expires) VALUES (?, ?, ?, ?)",
                        args![&s.hash, &s.admin, s.created.0, s.expires.0],
                    )
                    .await?;
                    Ok(())
                })
            },
            |_| true,
        )
        .await
    }

    async fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let hash = *hash;
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let row = x
                        .query_opt(
                            "SELECT hash, admin_name, created, expires FROM admin_session WHERE hash = ?",
                            args![&hash],
                        )
                        .await?;
                    row.map(|r| {
                        Ok(SessionRecord {
                            hash: r.hash32(0)?,
                            admin: r.text(1)?,
                            created: Timestamp(r.int(2)?),
                            expires: Timestamp(r.int(3)?),
                        })
                    })
                    .transpose()
                })
            })
            .await
    }

    async fn extend_session(&self, hash: &[u8; 32], expires: Timestamp) -> StoreResult<()> {
        let hash = *hash;
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "UPDATE admin_session SET expires = ?1 WHERE hash = ?2 AND expires < ?1",
                        args![expires.0, &hash],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn delete_session(&self, hash: &[u8; 32], event: &AuditEvent) -> StoreResult<bool> {
        let sql = "DELETE FROM admin_session WHERE hash = ?";
        Ok(self.changing(event, sql, cells![*hash], "session").await? > 0)
    }

    async fn create_api_token(&self, t: &ApiTokenRecord, event: &AuditEvent) -> StoreResult<()> {
        let sql = "INSERT INTO admin_api_token (id, name, hash, created) VALUES (?, ?, ?, ?)";
        let values = cells![t.id.as_str(), t.name.as_str(), t.hash, t.created.0];
        self.changing(event, sql, values, "api token name").await.map(drop)
    }

    async fn api_token(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        let hash = *hash;
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM admin_api_token WHERE hash = ?");
                    x.query_opt(&sql, args![&hash])
                        .await?
                        .map(|r| api_token_from_row(&r))
                        .transpose()
                })
            })
            .await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        self.db
            .read(|x| {
                Box::pin(async move {
                    let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM admin_api_token ORDER BY created, id");
                    x.query(&sql, &[]).await?.iter().map(api_token_from_row).collect()
                })
            })
            .await
    }

    async fn revoke_api_token(&self, name: &str, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let sql = "UPDATE admin_api_token SET revoked = ? WHERE name = ? AND revoked IS NULL";
        Ok(self.changing(event, sql, cells![at.0, name], "api token name").await? > 0)
    }

    async fn search_population(&self, q: &PopulationQuery) -> StoreResult<PopulationPage> {
        let q = q.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let w = search_where(x.dialect());
                    let t = SearchText::of(&q);
                    let (pop, kind) = (q.population.as_str(), q.kind.name());
                    let total = x
                        .query_one(
                            &format!("SELECT count(*) FROM resource r WHERE {w}"),
                            args![pop, kind, &t.pattern, &t.raw, &t.prefilter],
                        )
                        .await?
                        .int(0)?;
                    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
                    let rows = x
                        .query(
                            &format!("SELECT {COLUMNS} FROM resource r WHERE {w} ORDER BY r.seq LIMIT ?6 OFFSET ?7"),
                            args![pop, kind, &t.pattern, &t.raw, &t.prefilter, q.limit, offset],
                        )
                        .await?;
                    Ok(PopulationPage {
                        total: total.max(0) as u64,
                        items: records(rows)?,
                    })
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
        let id = id.to_owned();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let sql =
                        format!("SELECT {COLUMNS} FROM resource r WHERE r.population = ? AND r.kind = ? AND r.id = ?");
                    x.query_opt(&sql, args![population.as_str(), kind.name(), &id])
                        .await?
                        .map(record_from_row)
                        .transpose()
                })
            })
            .await
    }

    async fn member_counts(&self, groups: &[i64]) -> StoreResult<HashMap<i64, u64>> {
        let groups = groups.to_vec();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let mut out = HashMap::new();
                    for g in groups {
                        let n = x
                            .query_one("SELECT count(*) FROM membership WHERE group_seq = ?", args![g])
                            .await?
                            .int(0)?;
                        out.insert(g, n.max(0) as u64);
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// One range of the membership primary key, however large the group.
    async fn member_page(&self, group: i64, after_seq: i64, limit: u32) -> StoreResult<Vec<MemberRow>> {
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT m.member_seq, x.id, x.kind, coalesce(m.display, x.user_name, x.display_name) \
                             FROM membership m JOIN resource x ON x.seq = m.member_seq \
                             WHERE m.group_seq = ? AND m.member_seq > ? ORDER BY m.member_seq LIMIT ?",
                            args![group, after_seq, limit],
                        )
                        .await?;
                    rows.iter()
                        .map(|r| Ok(member_row(r.int(0)?, r.text(1)?, &r.text(2)?, r.opt_text(3)?)))
                        .collect()
                })
            })
            .await
    }
}
