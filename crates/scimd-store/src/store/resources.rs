//! Users, groups and memberships. A read-modify-write reads its row inside the write
//! transaction (locked on PostgreSQL, `FOR UPDATE`; SQLite has one writer) so concurrent
//! changes queue instead of overwriting each other; uniqueness is the unique indexes' job.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use scim_proto::error::{ScimError, ScimType};
use scim_proto::filter::{CompareOp, Filter};
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::schema::{ResourceKind, ResourceSchemas};
use scimd_core::events;
use scimd_core::lifecycle::Removal;
use scimd_core::resource::{
    Discovered, IndexEntry, Kept, ListQuery, MemberRef, NewResource, Page, ResourceKey, ResourceRecord, UpdateFn,
};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, Population, ProviderId, ResourceStore, StoreError, Timestamp};

use super::{SqlStore, lifecycle};
use crate::audit;
use crate::db::{Arg, DbError, Exec, Row, args, work};
use crate::filter::member_filter_sql;
use crate::page::{finish_page, page_sql};
use crate::rows::{COLUMNS, Columns, Unique, check_version, created, not_found, owned, parse_kind};

pub(crate) fn record_from_row(mut row: Row) -> Result<ResourceRecord, StoreError> {
    let corrupt = |what: String| StoreError::Backend(format!("unreadable resource row: {what}"));
    let kind = row.take_text(4)?;
    Ok(ResourceRecord {
        seq: row.int(0)?,
        id: row.take_text(1)?,
        provider: ProviderId::parse(&row.take_text(2)?).map_err(corrupt)?,
        population: row.take_text(3)?.parse().map_err(corrupt)?,
        kind: parse_kind(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind}")))?,
        data: row.take_json(5)?,
        created: Timestamp(row.int(6)?),
        modified: Timestamp(row.int(7)?),
        version: row.int(8)?,
        access_end: row.opt_int(9)?.map(Timestamp),
    })
}

pub(crate) fn records(rows: Vec<Row>) -> Result<Vec<ResourceRecord>, StoreError> {
    rows.into_iter().map(record_from_row).collect()
}

/// A unique-index violation named in the domain's words; anything else stays a backend error.
pub(crate) fn write_error(e: DbError, kind: ResourceKind, cols: &Columns) -> CoreError {
    if e.violates("user_name") {
        return cols.conflict(Unique::UserName);
    }
    if kind == ResourceKind::Group && (e.violates("display_name") || e.violates("group_name")) {
        return cols.conflict(Unique::GroupName);
    }
    e.into()
}

pub(crate) async fn load(
    x: &mut dyn Exec,
    provider: &ProviderId,
    kind: ResourceKind,
    id: &str,
    lock: bool,
) -> Result<Option<ResourceRecord>, StoreError> {
    static BY_ID: LazyLock<String> = LazyLock::new(|| format!("SELECT {COLUMNS} FROM resource r WHERE r.id = ?"));
    static LOCKED: LazyLock<String> = LazyLock::new(|| format!("{} FOR UPDATE", *BY_ID));
    let sql = if lock && x.is_postgres() { &LOCKED } else { &BY_ID };
    let row = x.query_opt(sql, args![id]).await?;
    Ok(owned(row.map(record_from_row).transpose()?, provider.as_str(), kind))
}

/// Resolve a member id of the provider to its row; an unknown id is the client's error.
async fn member_seq(x: &mut dyn Exec, provider: &ProviderId, group_seq: i64, id: &str) -> Result<i64, CoreError> {
    let row = x
        .query_opt("SELECT seq, provider_id FROM resource WHERE id = ?", args![id])
        .await?;
    let seq = match row {
        Some(r) if r.text(1)? == provider.as_str() => Some(r.int(0)?),
        _ => None,
    };
    match seq {
        Some(s) if s == group_seq => {
            Err(ScimError::bad_request(ScimType::InvalidValue, "a group cannot be a member of itself").into())
        }
        Some(s) => Ok(s),
        None => Err(ScimError::bad_request(ScimType::InvalidValue, format!("member '{id}' does not exist")).into()),
    }
}

/// What member operations did: the ids that joined and the ids that left, in order.
#[derive(Debug, Default)]
struct Delta {
    added: Vec<String>,
    removed: Vec<String>,
}

async fn add_members(
    x: &mut dyn Exec,
    provider: &ProviderId,
    group_seq: i64,
    members: &[NewMember],
    delta: &mut Delta,
) -> Result<(), CoreError> {
    for m in members {
        let member = member_seq(x, provider, group_seq, &m.id).await?;
        let joined = x
            .execute(
                "INSERT INTO membership (group_seq, member_seq, display) VALUES (?, ?, ?) \
                 ON CONFLICT (group_seq, member_seq) DO NOTHING",
                args![group_seq, member, &m.display],
            )
            .await?;
        if joined > 0 {
            delta.added.push(m.id.clone());
        } else if m.display.is_some() {
            x.execute(
                "UPDATE membership SET display = ? WHERE group_seq = ? AND member_seq = ?",
                args![&m.display, group_seq, member],
            )
            .await?;
        }
    }
    Ok(())
}

/// The group's members (id and row) that `filter` selects, or all of them.
async fn members_where(
    x: &mut dyn Exec,
    group_seq: i64,
    filter: Option<&Filter>,
) -> Result<Vec<(String, i64)>, CoreError> {
    let mut sql = "SELECT x.id, x.seq FROM membership mm JOIN resource x ON x.seq = mm.member_seq \
                   WHERE mm.group_seq = ?"
        .to_owned();
    let mut bound = vec![Arg::from(group_seq)];
    let frag = filter.map(|f| member_filter_sql(x.dialect(), f)).transpose()?;
    if let Some(frag) = &frag {
        sql.push_str(&format!(" AND ({})", frag.sql));
        bound.extend(frag.params.iter().map(Arg::from));
    }
    sql.push_str(" ORDER BY mm.member_seq");
    let rows = x.query(&sql, &bound).await?;
    rows.into_iter()
        .map(|mut r| Ok((r.take_text(0)?, r.int(1)?)))
        .collect::<Result<_, StoreError>>()
        .map_err(CoreError::from)
}

async fn remove_members(
    x: &mut dyn Exec,
    group_seq: i64,
    leaving: Vec<(String, i64)>,
    delta: &mut Delta,
) -> Result<(), CoreError> {
    for (id, seq) in leaving {
        x.execute(
            "DELETE FROM membership WHERE group_seq = ? AND member_seq = ?",
            args![group_seq, seq],
        )
        .await?;
        delta.removed.push(id);
    }
    Ok(())
}

async fn apply_member_ops(
    x: &mut dyn Exec,
    provider: &ProviderId,
    group_seq: i64,
    ops: &[MemberOp],
) -> Result<Delta, CoreError> {
    let mut delta = Delta::default();
    for op in ops {
        match op {
            MemberOp::Add(ids) => add_members(x, provider, group_seq, ids, &mut delta).await?,
            MemberOp::Remove(ids) => {
                for id in ids {
                    let left = x
                        .execute(
                            "DELETE FROM membership WHERE group_seq = ? AND member_seq = \
                             (SELECT seq FROM resource WHERE id = ? AND provider_id = ?)",
                            args![group_seq, id, provider.as_str()],
                        )
                        .await?;
                    if left > 0 {
                        delta.removed.push(id.clone());
                    }
                }
            }
            MemberOp::RemoveWhere(filter) => {
                let leaving = members_where(x, group_seq, Some(filter)).await?;
                remove_members(x, group_seq, leaving, &mut delta).await?;
            }
            MemberOp::RemoveAll => {
                let leaving = members_where(x, group_seq, None).await?;
                remove_members(x, group_seq, leaving, &mut delta).await?;
            }
            MemberOp::ReplaceAll(ids) => {
                // Only who actually leaves or joins changes (and is told as an event).
                let staying: std::collections::HashSet<&str> = ids.iter().map(|m| m.id.as_str()).collect();
                let leaving = members_where(x, group_seq, None)
                    .await?
                    .into_iter()
                    .filter(|(id, _)| !staying.contains(id.as_str()))
                    .collect();
                remove_members(x, group_seq, leaving, &mut delta).await?;
                add_members(x, provider, group_seq, ids, &mut delta).await?;
            }
        }
    }
    Ok(delta)
}

/// Replace the index rows of resource `seq` for the attributes `scope` (all of them when
/// `None`) with `entries`. A value another resource holds for a `uniqueness: server`
/// attribute is the client's 409.
pub(crate) async fn write_index(
    x: &mut dyn Exec,
    provider: &ProviderId,
    kind: ResourceKind,
    seq: i64,
    scope: Option<&[String]>,
    entries: &[IndexEntry],
) -> Result<(), CoreError> {
    match scope {
        None => {}
        Some([]) => {}
        Some(attrs) => {
            for attr in attrs {
                x.execute(
                    "DELETE FROM attribute_index WHERE seq = ? AND attr = ?",
                    args![seq, attr],
                )
                .await?;
            }
        }
    }
    for e in entries {
        x.execute(
            "INSERT INTO attribute_index (seq, provider_id, kind, attr, value, is_unique) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (seq, attr, value) DO NOTHING",
            args![seq, provider.as_str(), kind.name(), &e.attr, &e.value, e.unique],
        )
        .await
        .map_err(|err| match err {
            DbError::Unique(_) => CoreError::Scim(ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                format!("'{}' {:?} is already taken in this provider", e.attr, e.value),
            )),
            other => other.into(),
        })?;
    }
    Ok(())
}

/// Remember what the provider sent that no schema declares (first sighting only).
async fn record_kept(
    x: &mut dyn Exec,
    provider: &ProviderId,
    kind: ResourceKind,
    kept: &[Kept],
    at: Timestamp,
) -> StoreResult<()> {
    for k in kept {
        x.execute(
            "INSERT INTO discovered_attribute (provider_id, kind, uri, name, json_type, first_seen) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider_id, kind, uri, name) DO NOTHING",
            args![
                provider.as_str(),
                kind.name(),
                k.uri.as_deref().unwrap_or(""),
                &k.name,
                k.json_type,
                at.0
            ],
        )
        .await?;
    }
    Ok(())
}

/// Insert `rec`'s row with its extracted columns (its `seq` is ignored); the new `seq`. A
/// name another resource holds is the uniqueness rule's 409.
pub(crate) async fn insert_row(x: &mut dyn Exec, rec: &ResourceRecord) -> Result<i64, CoreError> {
    let cols = Columns::of(rec.kind, &rec.data);
    x.insert(
        "INSERT INTO resource (id, provider_id, population, kind, user_name, user_name_folded, external_id, \
         display_name, display_name_folded, active, created, modified, version, data, access_end) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        args![
            rec.id.as_str(),
            rec.provider.as_str(),
            rec.population.as_str(),
            rec.kind.name(),
            &cols.user_name,
            &cols.user_name_folded,
            &cols.external_id,
            &cols.display_name,
            &cols.display_name_folded,
            cols.active,
            rec.created.0,
            rec.modified.0,
            rec.version,
            &rec.data,
            rec.access_end.map(|t| t.0)
        ],
    )
    .await
    .map_err(|e| write_error(e, rec.kind, &cols))
}

async fn create(x: &mut dyn Exec, mut new: NewResource, mut event: AuditEvent) -> Result<ResourceRecord, CoreError> {
    let (members, index, kept) = (
        std::mem::take(&mut new.members),
        std::mem::take(&mut new.index),
        std::mem::take(&mut new.kept),
    );
    let mut rec = created(new, 0);
    rec.seq = insert_row(x, &rec).await?;
    let mut delta = Delta::default();
    add_members(x, &rec.provider, rec.seq, &members, &mut delta).await?;
    write_index(x, &rec.provider, rec.kind, rec.seq, None, &index).await?;
    record_kept(x, &rec.provider, rec.kind, &kept, rec.created).await?;
    event.changes = events::resource_created(&event, &rec, &delta.added);
    audit::append(x, &event).await?;
    Ok(rec)
}

async fn update(
    x: &mut dyn Exec,
    key: ResourceKey,
    if_match: Option<i64>,
    modified: Timestamp,
    update: UpdateFn,
    mut event: AuditEvent,
) -> Result<ResourceRecord, CoreError> {
    let ResourceKey { provider, kind, id } = key;
    let rec = load(x, &provider, kind, &id, true)
        .await?
        .ok_or_else(|| not_found(kind, &id))?;
    check_version(&rec, if_match)?;
    let change = update(&rec)?;
    if change.data == rec.data && change.members.is_empty() {
        return Ok(rec);
    }
    let cols = Columns::of(kind, &change.data);
    // A deactivation by the provider counts against its mass-deletion guard.
    if let Some(guard) = &change.guard
        && kind == ResourceKind::User
        && rec.data.get("active").and_then(serde_json::Value::as_bool) != Some(false)
        && cols.active == Some(false)
    {
        lifecycle::guard_admit(x, &provider, kind, guard, modified).await?;
    }
    let version = rec.version + 1;
    x.execute(
        "UPDATE resource SET user_name = ?, user_name_folded = ?, external_id = ?, display_name = ?, \
         display_name_folded = ?, active = ?, modified = ?, version = ?, data = ? WHERE seq = ?",
        args![
            &cols.user_name,
            &cols.user_name_folded,
            &cols.external_id,
            &cols.display_name,
            &cols.display_name_folded,
            cols.active,
            modified.0,
            version,
            &change.data,
            rec.seq
        ],
    )
    .await
    .map_err(|e| write_error(e, kind, &cols))?;
    let delta = apply_member_ops(x, &provider, rec.seq, &change.members).await?;
    write_index(x, &provider, kind, rec.seq, Some(&change.indexed), &change.index).await?;
    record_kept(x, &provider, kind, &change.kept, modified).await?;
    event.attributes = change.attributes;
    let after = ResourceRecord {
        data: change.data,
        modified,
        version,
        ..rec.clone()
    };
    event.changes = events::resource_updated(&event, &rec, &after, &delta.added, &delta.removed);
    audit::append(x, &event).await?;
    Ok(after)
}

async fn delete(
    x: &mut dyn Exec,
    key: ResourceKey,
    if_match: Option<i64>,
    how: Removal,
    event: AuditEvent,
) -> Result<(), CoreError> {
    let ResourceKey { provider, kind, id } = key;
    let rec = load(x, &provider, kind, &id, true)
        .await?
        .ok_or_else(|| not_found(kind, &id))?;
    check_version(&rec, if_match)?;
    if let Some(guard) = &how.guard {
        lifecycle::guard_admit(x, &provider, kind, guard, event.time).await?;
    }
    if let Some(purge_after) = how.keep_until {
        lifecycle::keep_deleted(x, &rec, &event, purge_after).await?;
    }
    remove(x, rec, event).await
}

/// Delete a resource's row (its memberships and index rows go with it), with the events of
/// a delete: a user also leaves each group it was in.
pub(crate) async fn remove(x: &mut dyn Exec, rec: ResourceRecord, mut event: AuditEvent) -> Result<(), CoreError> {
    let (kind, id) = (rec.kind, rec.id.as_str());
    // The groups a user leaves with it, for their member_removed events.
    let left = match kind {
        ResourceKind::User => x
            .query(
                "SELECT g.id FROM membership m JOIN resource g ON g.seq = m.group_seq \
                 WHERE m.member_seq = ? ORDER BY m.group_seq",
                args![rec.seq],
            )
            .await?
            .into_iter()
            .map(|mut r| r.take_text(0))
            .collect::<Result<Vec<_>, _>>()?,
        ResourceKind::Group => Vec::new(),
    };
    x.execute("DELETE FROM resource WHERE seq = ?", args![rec.seq]).await?;
    event.changes = events::resource_deleted(&event, kind, id, &left);
    audit::append(x, &event).await?;
    Ok(())
}

/// A membership query for each chunk width: `{keys}` in its text becomes that many `?`.
struct Widths([String; 3]);

/// Chunks of keys are padded to these sizes, so that three statement texts serve every list.
const WIDTHS: [usize; 3] = [1, 8, 64];

impl Widths {
    fn of(select: &str) -> Widths {
        Widths(WIDTHS.map(|w| select.replace("{keys}", &vec!["?"; w].join(", "))))
    }
}

/// Memberships of each key (a group's members, or a member's groups). The query answers
/// the key, then the other end's id, kind and display name, for the keys in `IN (...)`.
async fn memberships(x: &mut dyn Exec, select: &Widths, keys: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
    let mut out: HashMap<i64, Vec<MemberRef>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for chunk in keys.chunks(WIDTHS[2]) {
        let at = WIDTHS.iter().position(|w| *w >= chunk.len()).unwrap_or(2);
        let bound: Vec<Arg<'_>> = (0..WIDTHS[at])
            .map(|i| Arg::from(chunk[i.min(chunk.len() - 1)]))
            .collect();
        for mut r in x.query(&select.0[at], &bound).await? {
            out.entry(r.int(0)?).or_default().push(MemberRef {
                id: r.take_text(1)?,
                kind: parse_kind(&r.take_text(2)?).unwrap_or(ResourceKind::User),
                display: r.take_opt_text(3)?,
            });
        }
    }
    Ok(out)
}

static MEMBERS_OF: LazyLock<Widths> = LazyLock::new(|| {
    Widths::of(
        "SELECT m.group_seq, x.id, x.kind, m.display FROM membership m \
         JOIN resource x ON x.seq = m.member_seq WHERE m.group_seq IN ({keys}) ORDER BY m.group_seq, m.member_seq",
    )
});

static GROUPS_OF: LazyLock<Widths> = LazyLock::new(|| {
    Widths::of(
        "SELECT m.member_seq, g.id, g.kind, g.display_name FROM membership m \
         JOIN resource g ON g.seq = m.group_seq WHERE m.member_seq IN ({keys}) ORDER BY m.member_seq, m.group_seq",
    )
});

#[async_trait]
impl ResourceStore for SqlStore {
    async fn create_resource(&self, new: NewResource, event: AuditEvent) -> Result<ResourceRecord, CoreError> {
        self.db
            .write(move |x| Box::pin(async move { create(x, new, event).await }))
            .await
    }

    async fn resource(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<Option<ResourceRecord>> {
        let (provider, id) = (provider.clone(), id.to_owned());
        self.db
            .read_now(move |x| Box::pin(async move { load(x, &provider, kind, &id, false).await }))
            .await
    }

    async fn update_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        modified: Timestamp,
        update_fn: UpdateFn,
        event: AuditEvent,
    ) -> Result<ResourceRecord, CoreError> {
        self.db
            .write(move |x| Box::pin(async move { update(x, key, if_match, modified, update_fn, event).await }))
            .await
    }

    async fn delete_resource(
        &self,
        key: ResourceKey,
        if_match: Option<i64>,
        how: Removal,
        event: AuditEvent,
    ) -> Result<(), CoreError> {
        self.db
            .write(move |x| Box::pin(async move { delete(x, key, if_match, how, event).await }))
            .await
    }

    async fn list_resources(&self, provider: &ProviderId, kind: ResourceKind, q: ListQuery) -> Result<Page, CoreError> {
        let provider = provider.clone();
        let point_lookup = q.filter.as_ref().is_some_and(|f| is_point_lookup(&q.schemas, f)) && q.count <= 100;
        let work = work(move |x| Box::pin(async move { list_page(x, &provider, kind, &q).await }));
        // An indexed equality (Okta's and Entra's lookups) is answered in place; anything
        // that may scan goes to the read pool.
        if point_lookup {
            self.db.read_now(work).await
        } else {
            self.db.read(work).await
        }
    }

    async fn members_of(&self, groups: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        let groups = groups.to_vec();
        self.db
            .read(move |x| Box::pin(async move { memberships(x, &MEMBERS_OF, &groups).await }))
            .await
    }

    async fn groups_of(&self, members: &[i64]) -> StoreResult<HashMap<i64, Vec<MemberRef>>> {
        let members = members.to_vec();
        let single = members.len() <= 1;
        let work = work(move |x| Box::pin(async move { memberships(x, &GROUPS_OF, &members).await }));
        // A user belongs to few groups: one user's are an indexed read done in place.
        if single {
            self.db.read_now(work).await
        } else {
            self.db.read(work).await
        }
    }

    async fn population_resources(
        &self,
        population: Population,
        kind: ResourceKind,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>> {
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM resource r WHERE r.population = ? AND r.kind = ? AND r.seq > ? \
                         ORDER BY r.seq LIMIT ?"
                    );
                    records(
                        x.query(&sql, args![population.as_str(), kind.name(), after_seq, limit])
                            .await?,
                    )
                })
            })
            .await
    }

    async fn resources_holding(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        key: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ResourceRecord>> {
        let (provider, key) = (provider.clone(), key.to_owned());
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let holds = x.dialect().present("r.data", &[key.as_str()]);
                    let sql = format!(
                        "SELECT {COLUMNS} FROM resource r WHERE r.provider_id = ? AND r.kind = ? AND r.seq > ? \
                         AND {holds} ORDER BY r.seq LIMIT ?"
                    );
                    records(
                        x.query(&sql, args![provider.as_str(), kind.name(), after_seq, limit])
                            .await?,
                    )
                })
            })
            .await
    }

    async fn reindex(
        &self,
        provider: &ProviderId,
        kind: ResourceKind,
        seq: i64,
        attrs: Vec<String>,
        entries: Vec<IndexEntry>,
    ) -> Result<(), CoreError> {
        let provider = provider.clone();
        self.db
            .write(move |x| Box::pin(async move { write_index(x, &provider, kind, seq, Some(&attrs), &entries).await }))
            .await
    }

    async fn clear_index(&self, provider: &ProviderId, kind: ResourceKind, attrs: Vec<String>) -> StoreResult<()> {
        let provider = provider.clone();
        self.db
            .write(move |x| {
                Box::pin(async move {
                    for attr in &attrs {
                        x.execute(
                            "DELETE FROM attribute_index WHERE provider_id = ? AND kind = ? AND attr = ?",
                            args![provider.as_str(), kind.name(), attr],
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn discovered(&self, provider: &ProviderId) -> StoreResult<Vec<Discovered>> {
        let provider = provider.clone();
        self.db
            .read(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT kind, uri, name, json_type, first_seen FROM discovered_attribute \
                             WHERE provider_id = ? ORDER BY kind, uri, first_seen, name",
                            args![provider.as_str()],
                        )
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Discovered {
                                kind: parse_kind(&r.text(0)?).unwrap_or(ResourceKind::User),
                                uri: r.text(1)?,
                                name: r.text(2)?,
                                json_type: r.text(3)?,
                                first_seen: Timestamp(r.int(4)?),
                            })
                        })
                        .collect()
                })
            })
            .await
    }

    async fn forget_discovered(&self, provider: &ProviderId, kind: ResourceKind, uri: &str) -> StoreResult<()> {
        let (provider, uri) = (provider.clone(), uri.to_owned());
        self.db
            .write(move |x| {
                Box::pin(async move {
                    x.execute(
                        "DELETE FROM discovered_attribute WHERE provider_id = ? AND kind = ? AND uri = ?",
                        args![provider.as_str(), kind.name(), &uri],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }
}

/// Is the filter an equality on an indexed attribute, possibly and-ed with anything?
fn is_point_lookup(schemas: &ResourceSchemas, f: &Filter) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            ..
        } if path.sub.is_none() => {
            let indexed: &[&str] = match schemas.kind {
                ResourceKind::User => &["id", "userName", "externalId"],
                ResourceKind::Group => &["id", "displayName", "externalId"],
            };
            (path.uri.is_none() && indexed.iter().any(|a| a.eq_ignore_ascii_case(&path.name)))
                || schemas.resolve(path).is_some_and(|r| {
                    r.is_extension() && schemas.declared(&r.schema.id).is_some_and(|e| e.is_indexed(r.attr))
                })
        }
        Filter::And(a, b) => is_point_lookup(schemas, a) || is_point_lookup(schemas, b),
        _ => false,
    }
}

async fn list_page(
    x: &mut dyn Exec,
    provider: &ProviderId,
    kind: ResourceKind,
    q: &ListQuery,
) -> Result<Page, CoreError> {
    let plan = page_sql(x.dialect(), provider, kind, q, COLUMNS)?;
    let bound: Vec<Arg<'_>> = plan.page_params.iter().map(Arg::from).collect();
    let counted = &bound[..plan.count_params];
    let Some(sql) = &plan.page_sql else {
        return Ok(Page {
            total: count_all(x, &plan.count_sql, counted).await?,
            items: Vec::new(),
            more_after: None,
        });
    };
    let items = records(x.query(sql, &bound).await?)?;
    let (items, more_after, total) = finish_page(q, items);
    let total = match total {
        Some(n) => n,
        None => count_all(x, &plan.count_sql, counted).await?,
    };
    Ok(Page {
        total,
        items,
        more_after,
    })
}

async fn count_all(x: &mut dyn Exec, sql: &str, params: &[Arg<'_>]) -> Result<u64, CoreError> {
    let n = x.query_one(sql, params).await?.int(0)?;
    Ok(n.max(0) as u64)
}
