//! Users, groups and memberships in SQLite. Writes run in the group-commit writer, each
//! read-modify-write inside its transaction; uniqueness is the unique indexes' job.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use scim_proto::error::{ScimError, ScimType};
use scim_proto::filter::{CompareOp, Filter};
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::schema::ResourceKind;
use scimd_core::resource::{ListQuery, MemberRef, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, Population, ProviderId, ResourceStore, StoreError, Timestamp};

use super::providers::insert_audit;
use super::{SqliteStore, backend};
use crate::filter::{Dialect, Param, member_filter_sql};
use crate::page::{finish_page, page_sql};
use crate::rows::{COLUMNS, Columns, Unique, check_version, created, not_found, owned, parse_kind};

fn kind_str(kind: ResourceKind) -> &'static str {
    kind.name()
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<ResourceRecord> {
    let bad =
        |i: usize, what: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into());
    let provider: String = row.get(2)?;
    let population: String = row.get(3)?;
    let kind: String = row.get(4)?;
    let data: String = row.get(5)?;
    Ok(ResourceRecord {
        seq: row.get(0)?,
        id: row.get(1)?,
        provider: ProviderId::parse(&provider).map_err(|e| bad(2, e))?,
        population: population.parse().map_err(|e| bad(3, e))?,
        kind: parse_kind(&kind).ok_or_else(|| bad(4, format!("unknown kind {kind}")))?,
        data: serde_json::from_str(&data).map_err(|e| bad(5, e.to_string()))?,
        created: Timestamp(row.get(6)?),
        modified: Timestamp(row.get(7)?),
        version: row.get(8)?,
    })
}

/// A unique-index violation named in the domain's words; anything else stays a backend error.
fn write_error(e: rusqlite::Error, kind: ResourceKind, cols: &Columns) -> CoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        if msg.contains("user_name_folded") {
            return cols.conflict(Unique::UserName);
        }
        if msg.contains("display_name_folded") && kind == ResourceKind::Group {
            return cols.conflict(Unique::GroupName);
        }
    }
    CoreError::Store(backend(e))
}

fn load(conn: &Connection, provider: &str, kind: ResourceKind, id: &str) -> Result<Option<ResourceRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM resource r WHERE r.id = ?1"))
        .and_then(|mut s| s.query_row(params![id], record_from_row).optional())
        .map(|rec| owned(rec, provider, kind))
        .map_err(backend)
}

/// Resolve member ids of the provider to their rows; an unknown id is the client's error.
fn member_seq(conn: &Connection, provider: &str, group_seq: i64, id: &str) -> Result<i64, CoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq, provider_id FROM resource WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row(params![id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .optional()
        })
        .map(|row| row.filter(|(_, p)| p == provider).map(|(seq, _)| seq))
        .map_err(|e| CoreError::Store(backend(e)))?;
    match seq {
        Some(s) if s == group_seq => {
            Err(ScimError::bad_request(ScimType::InvalidValue, "a group cannot be a member of itself").into())
        }
        Some(s) => Ok(s),
        None => Err(ScimError::bad_request(ScimType::InvalidValue, format!("member '{id}' does not exist")).into()),
    }
}

fn add_members(conn: &Connection, provider: &str, group_seq: i64, members: &[NewMember]) -> Result<(), CoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO membership (group_seq, member_seq, display) VALUES (?1, ?2, ?3) \
             ON CONFLICT (group_seq, member_seq) DO UPDATE SET display = coalesce(excluded.display, display)",
        )
        .map_err(|e| CoreError::Store(backend(e)))?;
    for m in members {
        let member = member_seq(conn, provider, group_seq, &m.id)?;
        insert
            .execute(params![group_seq, member, m.display])
            .map_err(|e| CoreError::Store(backend(e)))?;
    }
    Ok(())
}

fn apply_member_ops(conn: &Connection, provider: &str, group_seq: i64, ops: &[MemberOp]) -> Result<(), CoreError> {
    let db = |e: rusqlite::Error| CoreError::Store(backend(e));
    for op in ops {
        match op {
            MemberOp::Add(ids) => add_members(conn, provider, group_seq, ids)?,
            MemberOp::Remove(ids) => {
                let mut delete = conn
                    .prepare_cached(
                        "DELETE FROM membership WHERE group_seq = ?1 AND member_seq = \
                         (SELECT seq FROM resource WHERE id = ?2 AND provider_id = ?3)",
                    )
                    .map_err(db)?;
                for id in ids {
                    delete.execute(params![group_seq, id, provider]).map_err(db)?;
                }
            }
            MemberOp::RemoveWhere(filter) => {
                let frag = member_filter_sql(Dialect::Sqlite, filter)?;
                let sql = format!(
                    "DELETE FROM membership WHERE group_seq = ? AND member_seq IN \
                     (SELECT x.seq FROM membership mm JOIN resource x ON x.seq = mm.member_seq \
                      WHERE mm.group_seq = ? AND ({}))",
                    frag.sql
                );
                let mut params: Vec<Param> = vec![group_seq.into(), group_seq.into()];
                params.extend(frag.params);
                conn.execute(&sql, params_from_iter(params)).map_err(db)?;
            }
            MemberOp::RemoveAll => {
                conn.execute("DELETE FROM membership WHERE group_seq = ?1", [group_seq])
                    .map_err(db)?;
            }
            MemberOp::ReplaceAll(ids) => {
                conn.execute("DELETE FROM membership WHERE group_seq = ?1", [group_seq])
                    .map_err(db)?;
                add_members(conn, provider, group_seq, ids)?;
            }
        }
    }
    Ok(())
}

fn memberships(conn: &Connection, sql: &str, keys: &[i64]) -> Result<HashMap<i64, Vec<MemberRef>>, StoreError> {
    let mut out: HashMap<i64, Vec<MemberRef>> = HashMap::new();
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    for &key in keys {
        let rows = stmt
            .query_map([key], |r| {
                let kind: String = r.get(1)?;
                Ok(MemberRef {
                    id: r.get(0)?,
                    kind: parse_kind(&kind).unwrap_or(ResourceKind::User),
                    display: r.get(2)?,
                })
            })
            .map_err(backend)?;
        let list = rows.collect::<Result<Vec<_>, _>>().map_err(backend)?;
        out.insert(key, list);
    }
    Ok(out)
}

#[async_trait]
impl ResourceStore for SqliteStore {
    async fn create_resource(&self, new: NewResource, event: AuditEvent) -> Result<ResourceRecord, CoreError> {
        self.write(move |c| {
            let cols = Columns::of(new.kind, &new.data);
            let data = new.data.to_string();
            c.prepare_cached(
                "INSERT INTO resource (id, provider_id, population, kind, user_name, user_name_folded, external_id, \
                 display_name, display_name_folded, active, created, modified, version, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, 1, ?12)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    new.id,
                    new.provider.as_str(),
                    new.population.as_str(),
                    kind_str(new.kind),
                    cols.user_name,
                    cols.user_name_folded,
                    cols.external_id,
                    cols.display_name,
                    cols.display_name_folded,
                    cols.active,
                    new.created.0,
                    data
                ])
            })
            .map_err(|e| write_error(e, new.kind, &cols))?;
            let seq = c.last_insert_rowid();
            if !new.members.is_empty() {
                add_members(c, new.provider.as_str(), seq, &new.members)?;
            }
            insert_audit(c, &event)?;
            Ok(created(new, seq))
        })
        .await
    }

    async fn resource(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>> {
        self.read_now(|c| load(c, provider.as_str(), kind, id))
    }

    async fn update_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        modified: Timestamp,
        update: UpdateFn,
        mut event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError> {
        let ResourceKey { provider, kind, id } = key;
        self.write(move |c| {
            let rec = load(c, provider.as_str(), kind, &id)?.ok_or_else(|| not_found(kind, &id))?;
            check_version(&rec, if_match)?;
            let change = update(&rec)?;
            if change.data == rec.data && change.members.is_empty() {
                return Ok(rec);
            }
            let cols = Columns::of(kind, &change.data);
            let version = rec.version + 1;
            c.prepare_cached(
                "UPDATE resource SET user_name = ?2, user_name_folded = ?3, external_id = ?4, display_name = ?5, \
                 display_name_folded = ?6, active = ?7, modified = ?8, version = ?9, data = ?10 WHERE seq = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    rec.seq,
                    cols.user_name,
                    cols.user_name_folded,
                    cols.external_id,
                    cols.display_name,
                    cols.display_name_folded,
                    cols.active,
                    modified.0,
                    version,
                    change.data.to_string()
                ])
            })
            .map_err(|e| write_error(e, kind, &cols))?;
            apply_member_ops(c, provider.as_str(), rec.seq, &change.members)?;
            event.attributes = change.attributes;
            insert_audit(c, &event)?;
            Ok(ResourceRecord {
                data: change.data,
                modified,
                version,
                ..rec
            })
        })
        .await
    }

    async fn delete_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        event: AuditEvent,
    ) -> Result<(), CoreError> {
        let ResourceKey { provider, kind, id } = key;
        self.write(move |c| {
            let rec = load(c, provider.as_str(), kind, &id)?.ok_or_else(|| not_found(kind, &id))?;
            check_version(&rec, if_match)?;
            c.execute("DELETE FROM resource WHERE seq = ?1", [rec.seq])
                .map_err(|e| CoreError::Store(backend(e)))?;
            insert_audit(c, &event)?;
            Ok(())
        })
        .await
    }

    async fn list_resources(&self, provider: &ProviderId, kind: ResourceKind, q: ListQuery) -> Result<Page, CoreError> {
        // An indexed equality (Okta's and Entra's lookups) is answered in place; anything
        // that may scan goes to the blocking pool.
        if q.filter.as_ref().is_some_and(|f| is_point_lookup(kind, f)) && q.count <= 100 {
            return self.read_now(|c| list_page(c, provider, kind, &q));
        }
        let provider = provider.clone();
        self.read(move |c| list_page(c, &provider, kind, &q)).await
    }

    async fn members_of(&self, groups: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        let groups = groups.to_vec();
        self.read(move |c| {
            memberships(
                c,
                "SELECT x.id, x.kind, m.display FROM membership m \
                 JOIN resource x ON x.seq = m.member_seq WHERE m.group_seq = ?1 ORDER BY m.member_seq",
                &groups,
            )
        })
        .await
    }

    async fn groups_of(&self, members: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        const SQL: &str = "SELECT g.id, g.kind, g.display_name FROM membership m \
                 JOIN resource g ON g.seq = m.group_seq WHERE m.member_seq = ?1 ORDER BY m.group_seq";
        // A user belongs to few groups: one user's are an indexed read done in place.
        if members.len() <= 1 {
            return self.read_now(|c| memberships(c, SQL, members));
        }
        let members = members.to_vec();
        self.read(move |c| memberships(c, SQL, &members)).await
    }

    async fn population_resources(
        &self,
        population: Population,
        kind: ResourceKind,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>> {
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM resource r WHERE r.population = ?1 AND r.kind = ?2 AND r.seq > ?3 ORDER BY r.seq LIMIT ?4"
                ))
                .map_err(backend)?;
            let rows = s
                .query_map(params![population.as_str(), kind_str(kind), after_seq, limit], record_from_row)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }
}

/// Is the filter an equality on an indexed attribute, possibly and-ed with anything?
fn is_point_lookup(kind: ResourceKind, f: &Filter) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            ..
        } if path.sub.is_none() => {
            let indexed: &[&str] = match kind {
                ResourceKind::User => &["id", "userName", "externalId"],
                ResourceKind::Group => &["id", "displayName", "externalId"],
            };
            indexed.iter().any(|a| a.eq_ignore_ascii_case(&path.name))
        }
        Filter::And(a, b) => is_point_lookup(kind, a) || is_point_lookup(kind, b),
        _ => false,
    }
}

fn list_page(c: &Connection, provider: &ProviderId, kind: ResourceKind, q: &ListQuery) -> Result<Page, CoreError> {
    let plan = page_sql(Dialect::Sqlite, provider, kind, q, COLUMNS)?;
    let db = |e: rusqlite::Error| CoreError::Store(backend(e));
    let count_all = || -> Result<u64, CoreError> {
        let n: i64 = c
            .prepare_cached(&plan.count_sql)
            .and_then(|mut s| {
                s.query_row(params_from_iter(plan.page_params[..plan.count_params].iter()), |r| {
                    r.get(0)
                })
            })
            .map_err(db)?;
        Ok(n.max(0) as u64)
    };
    let Some(sql) = &plan.page_sql else {
        return Ok(Page {
            total: count_all()?,
            items: Vec::new(),
            more_after: None,
        });
    };
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map(params_from_iter(plan.page_params.iter()), record_from_row)
        .map_err(db)?;
    let items = rows.collect::<Result<Vec<_>, _>>().map_err(db)?;
    let (items, more_after, total) = finish_page(q, items);
    let total = match total {
        Some(n) => n,
        None => count_all()?,
    };
    Ok(Page {
        total,
        items,
        more_after,
    })
}
