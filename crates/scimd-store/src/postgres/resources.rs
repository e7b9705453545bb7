//! Users, groups and memberships in PostgreSQL. A read-modify-write locks its row
//! (`SELECT ... FOR UPDATE`) so concurrent changes queue instead of overwriting each other;
//! uniqueness is the unique indexes' job.

use std::collections::HashMap;

use async_trait::async_trait;
use scim_proto::error::{ScimError, ScimType};
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::schema::ResourceKind;
use scimd_core::resource::{ListQuery, MemberRef, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, Population, ProviderId, ResourceStore, StoreError, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::pool::Conn;
use super::providers::{get, insert_audit};
use super::{PgStore, backend, numbered, pg_param, unique_violation};
use crate::filter::{Dialect, Param, member_filter_sql};
use crate::page::{finish_page, page_sql};
use crate::rows::{COLUMNS, Columns, Unique, check_version, created, not_found, owned, parse_kind};

fn record_from_row(row: &Row) -> Result<ResourceRecord, StoreError> {
    let corrupt = |what: String| StoreError::Backend(format!("unreadable resource row: {what}"));
    let provider: String = get(row, 2)?;
    let population: String = get(row, 3)?;
    let kind: String = get(row, 4)?;
    Ok(ResourceRecord {
        seq: get(row, 0)?,
        id: get(row, 1)?,
        provider: ProviderId::parse(&provider).map_err(corrupt)?,
        population: population.parse().map_err(corrupt)?,
        kind: parse_kind(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind}")))?,
        data: get(row, 5)?,
        created: Timestamp(get(row, 6)?),
        modified: Timestamp(get(row, 7)?),
        version: get(row, 8)?,
    })
}

/// A unique-index violation named in the domain's words; anything else stays a backend error.
fn write_error(e: tokio_postgres::Error, kind: ResourceKind, cols: &Columns) -> CoreError {
    match unique_violation(&e) {
        Some("resource_user_name_unique") => cols.conflict(Unique::UserName),
        Some("resource_group_name_unique") if kind == ResourceKind::Group => cols.conflict(Unique::GroupName),
        _ => db(e),
    }
}

fn db(e: tokio_postgres::Error) -> CoreError {
    CoreError::Store(backend(e))
}

async fn load(
    c: &mut Conn<'_>,
    provider: &str,
    kind: ResourceKind,
    id: &str,
    lock: bool,
) -> Result<Option<ResourceRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM resource r WHERE r.id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = c.query_opt(&sql, &[&id]).await.map_err(backend)?;
    Ok(owned(row.map(|r| record_from_row(&r)).transpose()?, provider, kind))
}

/// Resolve a member id of the provider to its row; an unknown id is the client's error.
async fn member_seq(c: &mut Conn<'_>, provider: &str, group_seq: i64, id: &str) -> Result<i64, CoreError> {
    let row = c
        .query_opt("SELECT seq, provider_id FROM resource WHERE id = $1", &[&id])
        .await
        .map_err(db)?;
    let row = row.filter(|r| r.try_get::<_, &str>(1).is_ok_and(|p| p == provider));
    match row.map(|r| get::<i64>(&r, 0)).transpose()? {
        Some(s) if s == group_seq => {
            Err(ScimError::bad_request(ScimType::InvalidValue, "a group cannot be a member of itself").into())
        }
        Some(s) => Ok(s),
        None => Err(ScimError::bad_request(ScimType::InvalidValue, format!("member '{id}' does not exist")).into()),
    }
}

async fn add_members(c: &mut Conn<'_>, provider: &str, group_seq: i64, members: &[NewMember]) -> Result<(), CoreError> {
    for m in members {
        let member = member_seq(c, provider, group_seq, &m.id).await?;
        c.execute(
            "INSERT INTO membership (group_seq, member_seq, display) VALUES ($1, $2, $3) \
             ON CONFLICT (group_seq, member_seq) DO UPDATE SET display = coalesce(excluded.display, membership.display)",
            &[&group_seq, &member, &m.display],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn apply_member_ops(c: &mut Conn<'_>, provider: &str, group_seq: i64, ops: &[MemberOp]) -> Result<(), CoreError> {
    for op in ops {
        match op {
            MemberOp::Add(ids) => add_members(c, provider, group_seq, ids).await?,
            MemberOp::Remove(ids) => {
                for id in ids {
                    c.execute(
                        "DELETE FROM membership WHERE group_seq = $1 AND member_seq = \
                         (SELECT seq FROM resource WHERE id = $2 AND provider_id = $3)",
                        &[&group_seq, id, &provider],
                    )
                    .await
                    .map_err(db)?;
                }
            }
            MemberOp::RemoveWhere(filter) => {
                let frag = member_filter_sql(Dialect::Postgres, filter)?;
                let mut params: Vec<Param> = vec![group_seq.into(), group_seq.into()];
                params.extend(frag.params);
                let sql = numbered(
                    &format!(
                        "DELETE FROM membership WHERE group_seq = ? AND member_seq IN \
                         (SELECT x.seq FROM membership mm JOIN resource x ON x.seq = mm.member_seq \
                          WHERE mm.group_seq = ? AND ({}))",
                        frag.sql
                    ),
                    &params,
                );
                let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(pg_param).collect();
                c.execute(&sql, &bound).await.map_err(db)?;
            }
            MemberOp::RemoveAll => {
                c.execute("DELETE FROM membership WHERE group_seq = $1", &[&group_seq])
                    .await
                    .map_err(db)?;
            }
            MemberOp::ReplaceAll(ids) => {
                c.execute("DELETE FROM membership WHERE group_seq = $1", &[&group_seq])
                    .await
                    .map_err(db)?;
                add_members(c, provider, group_seq, ids).await?;
            }
        }
    }
    Ok(())
}

/// Memberships of each key (a group's members, or a member's groups), in one query.
async fn memberships(c: &mut Conn<'_>, sql: &str, keys: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
    let mut out: HashMap<i64, Vec<MemberRef>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    if keys.is_empty() {
        return Ok(out);
    }
    let rows = c.query(sql, &[&keys]).await.map_err(backend)?;
    for r in rows {
        let key: i64 = get(&r, 0)?;
        let kind: String = get(&r, 2)?;
        out.entry(key).or_default().push(MemberRef {
            id: get(&r, 1)?,
            kind: parse_kind(&kind).unwrap_or(ResourceKind::User),
            display: get(&r, 3)?,
        });
    }
    Ok(out)
}

async fn create(c: &mut Conn<'_>, new: NewResource, event: &AuditEvent) -> Result<ResourceRecord, CoreError> {
    let cols = Columns::of(new.kind, &new.data);
    let row = c
        .query_one(
            "INSERT INTO resource (id, provider_id, population, kind, user_name, user_name_folded, external_id, \
             display_name, display_name_folded, active, created, modified, version, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1, $12) RETURNING seq",
            &[
                &new.id,
                &new.provider.as_str(),
                &new.population.as_str(),
                &new.kind.name(),
                &cols.user_name,
                &cols.user_name_folded,
                &cols.external_id,
                &cols.display_name,
                &cols.display_name_folded,
                &cols.active,
                &new.created.0,
                &new.data,
            ],
        )
        .await
        .map_err(|e| write_error(e, new.kind, &cols))?;
    let seq: i64 = get(&row, 0)?;
    if !new.members.is_empty() {
        add_members(c, new.provider.as_str(), seq, &new.members).await?;
    }
    insert_audit(c, event).await?;
    Ok(created(new, seq))
}

async fn update(
    c: &mut Conn<'_>,
    key: ResourceKey,
    if_match: Option<i64>,
    modified: Timestamp,
    update: UpdateFn,
    mut event: AuditEvent,
) -> Result<ResourceRecord, CoreError> {
    let ResourceKey { provider, kind, id } = key;
    let rec = load(c, provider.as_str(), kind, &id, true)
        .await?
        .ok_or_else(|| not_found(kind, &id))?;
    check_version(&rec, if_match)?;
    let change = update(&rec)?;
    if change.data == rec.data && change.members.is_empty() {
        return Ok(rec);
    }
    let cols = Columns::of(kind, &change.data);
    let version = rec.version + 1;
    c.execute(
        "UPDATE resource SET user_name = $2, user_name_folded = $3, external_id = $4, display_name = $5, \
         display_name_folded = $6, active = $7, modified = $8, version = $9, data = $10 WHERE seq = $1",
        &[
            &rec.seq,
            &cols.user_name,
            &cols.user_name_folded,
            &cols.external_id,
            &cols.display_name,
            &cols.display_name_folded,
            &cols.active,
            &modified.0,
            &version,
            &change.data,
        ],
    )
    .await
    .map_err(|e| write_error(e, kind, &cols))?;
    apply_member_ops(c, provider.as_str(), rec.seq, &change.members).await?;
    event.attributes = change.attributes;
    insert_audit(c, &event).await?;
    Ok(ResourceRecord {
        data: change.data,
        modified,
        version,
        ..rec
    })
}

async fn delete(
    c: &mut Conn<'_>,
    key: ResourceKey,
    if_match: Option<i64>,
    event: &AuditEvent,
) -> Result<(), CoreError> {
    let ResourceKey { provider, kind, id } = key;
    let rec = load(c, provider.as_str(), kind, &id, true)
        .await?
        .ok_or_else(|| not_found(kind, &id))?;
    check_version(&rec, if_match)?;
    c.execute("DELETE FROM resource WHERE seq = $1", &[&rec.seq])
        .await
        .map_err(db)?;
    insert_audit(c, event).await?;
    Ok(())
}

#[async_trait]
impl ResourceStore for PgStore {
    async fn create_resource(&self, new: NewResource, event: AuditEvent) -> Result<ResourceRecord, CoreError> {
        let mut c = self.conn().await?;
        c.begin().await?;
        let outcome = create(&mut c, new, &event).await;
        c.end(outcome).await
    }

    async fn resource(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>> {
        let mut c = self.conn().await?;
        load(&mut c, provider.as_str(), kind, id, false).await
    }

    async fn update_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        modified: Timestamp,
        update_fn: UpdateFn,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError> {
        let mut c = self.conn().await?;
        c.begin().await?;
        let outcome = update(&mut c, key, if_match, modified, update_fn, event).await;
        c.end(outcome).await
    }

    async fn delete_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        event: AuditEvent,
    ) -> Result<(), CoreError> {
        let mut c = self.conn().await?;
        c.begin().await?;
        let outcome = delete(&mut c, key, if_match, &event).await;
        c.end(outcome).await
    }

    async fn list_resources(&self, provider: &ProviderId, kind: ResourceKind, q: ListQuery) -> Result<Page, CoreError> {
        let mut c = self.conn().await?;
        list_page(&mut c, provider, kind, &q).await
    }

    async fn members_of(&self, groups: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        let mut c = self.conn().await?;
        memberships(
            &mut c,
            "SELECT m.group_seq, x.id, x.kind, m.display FROM membership m \
             JOIN resource x ON x.seq = m.member_seq WHERE m.group_seq = ANY($1) ORDER BY m.group_seq, m.member_seq",
            groups,
        )
        .await
    }

    async fn groups_of(&self, members: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        let mut c = self.conn().await?;
        memberships(
            &mut c,
            "SELECT m.member_seq, g.id, g.kind, g.display_name FROM membership m \
             JOIN resource g ON g.seq = m.group_seq WHERE m.member_seq = ANY($1) ORDER BY m.member_seq, m.group_seq",
            members,
        )
        .await
    }

    async fn population_resources(
        &self,
        population: Population,
        kind: ResourceKind,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>> {
        let mut c = self.conn().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM resource r WHERE r.population = $1 AND r.kind = $2 AND r.seq > $3 \
             ORDER BY r.seq LIMIT $4"
        );
        let rows = c
            .query(
                &sql,
                &[&population.as_str(), &kind.name(), &after_seq, &i64::from(limit)],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(record_from_row).collect()
    }
}

async fn query_params(c: &mut Conn<'_>, sql: &str, params: &[Param]) -> Result<Vec<Row>, CoreError> {
    let sql = numbered(sql, params);
    let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(pg_param).collect();
    c.query(&sql, &bound).await.map_err(db)
}

async fn list_page(
    c: &mut Conn<'_>,
    provider: &ProviderId,
    kind: ResourceKind,
    q: &ListQuery,
) -> Result<Page, CoreError> {
    let plan = page_sql(Dialect::Postgres, provider, kind, q, COLUMNS)?;
    let counted = &plan.page_params[..plan.count_params];
    let Some(sql) = &plan.page_sql else {
        return Ok(Page {
            total: count_all(c, &plan.count_sql, counted).await?,
            items: Vec::new(),
            more_after: None,
        });
    };
    let rows = query_params(c, sql, &plan.page_params).await?;
    let items = rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?;
    let (items, more_after, total) = finish_page(q, items);
    let total = match total {
        Some(n) => n,
        None => count_all(c, &plan.count_sql, counted).await?,
    };
    Ok(Page {
        total,
        items,
        more_after,
    })
}

async fn count_all(c: &mut Conn<'_>, sql: &str, params: &[Param]) -> Result<u64, CoreError> {
    let rows = query_params(c, sql, params).await?;
    let n: i64 = rows.first().map(|r| get(r, 0)).transpose()?.unwrap_or(0);
    Ok(n.max(0) as u64)
}
