//! Carrying out a [`Plan`]: users first (create, update, deactivate), then groups (create,
//! then membership differences in batched PATCHes), then deletions; each phase on `jobs`
//! threads pulling from one shared queue. A failure is recorded and the push goes on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

use super::plan::{self, Change, GroupCreate, GroupUpdate, Named, Plan, UserUpdate};
use super::progress::Progress;
use super::source::{Attr, Directory, SourceUser};
use super::{Fetched, PushOptions, Tally, UpdateMode};
use crate::scim::{BULK_SCHEMA, Capabilities, Client, ClientError, GROUP_SCHEMA, Method, USER_SCHEMA, patch_body};

/// Run `f` on every item with `jobs` threads taking the next item from a shared index.
pub fn parallel<T: Sync>(jobs: usize, items: &[T], f: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    let threads = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    f(item);
                }
            });
        }
    });
}

/// A new user's document: every attribute the source gives, extension attributes in their
/// schemas' objects with the URNs listed in `schemas` (RFC 7643 §3.3).
pub fn user_body(u: &SourceUser) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([USER_SCHEMA]));
    for (attr, v) in u.attrs.present() {
        let v = wire(&attr, v);
        set_attr(&mut doc, &attr, Some(v));
    }
    Value::Object(doc)
}

/// A value as it is sent: an email as the one primary work address, the rest as they are.
fn wire(attr: &Attr, v: Value) -> Value {
    match attr {
        Attr::Email => json!([{"value": v, "type": "work", "primary": true}]),
        _ => v,
    }
}

fn attr_value(c: &Change) -> Option<Value> {
    c.to.clone().map(|v| wire(&c.attr, v))
}

/// The key of `map` that is `key` without regard to case, as SCIM compares attribute names
/// and URNs (RFC 7643 §2.1): a server may spell them otherwise than the source.
fn key_in(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Set (or, with `None`, remove) `key` of `map`, where the server has it under its own spelling.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match (key_in(map, key), value) {
        (Some(k), Some(v)) => {
            map.insert(k, v);
        }
        (Some(k), None) => {
            map.remove(&k);
        }
        (None, Some(v)) => {
            map.insert(key.into(), v);
        }
        (None, None) => {}
    }
}

/// Put `attr`'s value into a User document, or take it out (`None`): `name.*` inside `name`,
/// an extension attribute inside its schema's object, whose URN `schemas` lists exactly while
/// the object holds something (RFC 7643 §3.3). An emptied object goes.
fn set_attr(doc: &mut Map<String, Value>, attr: &Attr, value: Option<Value>) {
    let (container, key) = match attr {
        Attr::GivenName => ("name", "givenName"),
        Attr::FamilyName => ("name", "familyName"),
        Attr::Ext(e) => (e.urn(), e.name()),
        other => return put(doc, other.path(), value),
    };
    let slot = key_in(doc, container);
    if slot.is_none() && value.is_none() {
        return;
    }
    let slot = slot.unwrap_or_else(|| container.to_owned());
    let Some(inner) = doc.entry(slot.clone()).or_insert_with(|| json!({})).as_object_mut() else {
        return;
    };
    put(inner, key, value);
    let holds = !inner.is_empty();
    if !holds {
        doc.remove(&slot);
    }
    if let Attr::Ext(e) = attr {
        list_schema(doc, e.urn(), holds);
    }
}

fn list_schema(doc: &mut Map<String, Value>, urn: &str, listed: bool) {
    let Some(schemas) = doc.entry("schemas").or_insert_with(|| json!([])).as_array_mut() else {
        return;
    };
    let is_urn = |s: &Value| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn));
    if !listed {
        schemas.retain(|s| !is_urn(s));
    } else if !schemas.iter().any(is_urn) {
        schemas.push(json!(urn));
    }
}

/// PATCH operations (RFC 7644 §3.5.2) for a user's changes; an extension attribute by its
/// URN-qualified path.
pub fn user_patch_ops(changes: &[Change]) -> Vec<Value> {
    changes
        .iter()
        .map(|c| match attr_value(c) {
            Some(v) => json!({"op": "replace", "path": c.attr.path(), "value": v}),
            None => json!({"op": "remove", "path": c.attr.path()}),
        })
        .collect()
}

/// The server's document with the changes applied, for a PUT (RFC 7644 §3.5.1).
pub fn user_put_body(raw: &Value, changes: &[Change]) -> Value {
    let mut doc = raw.clone();
    let Some(obj) = doc.as_object_mut() else {
        return doc;
    };
    obj.remove("meta");
    obj.remove("groups");
    for c in changes {
        set_attr(obj, &c.attr, attr_value(c));
    }
    doc
}

/// One group PATCH request: its operations and how many members it adds and removes.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRequest {
    pub ops: Vec<Value>,
    pub added: usize,
    pub removed: usize,
}

/// Membership differences as PATCH requests of at most `batch` member changes each: one
/// `remove` per member (`members[value eq "id"]`), adds as `add` value lists; a rename rides
/// in the first request.
pub fn group_requests(rename: Option<&str>, remove: &[Named], add: &[Value], batch: usize) -> Vec<GroupRequest> {
    let batch = batch.max(1);
    let mut out = Vec::new();
    let mut cur = GroupRequest {
        ops: Vec::new(),
        added: 0,
        removed: 0,
    };
    if let Some(name) = rename {
        cur.ops
            .push(json!({"op": "replace", "path": "displayName", "value": name}));
    }
    let flush = |cur: &mut GroupRequest, out: &mut Vec<GroupRequest>| {
        if !cur.ops.is_empty() {
            out.push(std::mem::replace(
                cur,
                GroupRequest {
                    ops: Vec::new(),
                    added: 0,
                    removed: 0,
                },
            ));
        }
    };
    for m in remove {
        let filter = format!("members[value eq {}]", crate::scim::filter_string(&m.id));
        cur.ops.push(json!({"op": "remove", "path": filter}));
        cur.removed += 1;
        if cur.removed + cur.added >= batch {
            flush(&mut cur, &mut out);
        }
    }
    let mut rest = add;
    while !rest.is_empty() {
        let room = batch - (cur.removed + cur.added);
        let (now, later) = rest.split_at(room.min(rest.len()));
        cur.ops.push(json!({"op": "add", "path": "members", "value": now}));
        cur.added += now.len();
        rest = later;
        if cur.removed + cur.added >= batch {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Creates in chunks within the server's Bulk limits: at most `max_ops` operations and,
/// when it says, a payload of at most 90% of `max_payload` bytes.
pub fn bulk_chunks(users: &[SourceUser], max_ops: usize, max_payload: usize) -> Vec<&[SourceUser]> {
    let budget = if max_payload == 0 {
        usize::MAX
    } else {
        max_payload / 10 * 9
    };
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 200);
    for (i, u) in users.iter().enumerate() {
        let op = user_body(u).to_string().len() + 80;
        if i > start && (i - start >= max_ops || size + op > budget) {
            out.push(&users[start..i]);
            (start, size) = (i, 200);
        }
        size += op;
    }
    if start < users.len() {
        out.push(&users[start..]);
    }
    out
}

#[derive(Default)]
struct Counters([AtomicUsize; 11]);

impl Counters {
    fn add(&self, i: usize, n: usize) {
        self.0[i].fetch_add(n, Ordering::Relaxed);
    }
    fn tally(&self) -> Tally {
        let g = |i: usize| self.0[i].load(Ordering::Relaxed);
        Tally {
            users_created: g(0),
            users_updated: g(1),
            users_unchanged: g(2),
            users_deactivated: g(3),
            users_deleted: g(4),
            groups_created: g(5),
            groups_updated: g(6),
            groups_unchanged: g(7),
            groups_deleted: g(8),
            members_added: g(9),
            members_removed: g(10),
        }
    }
}
const U_CREATED: usize = 0;
const U_UPDATED: usize = 1;
const U_UNCHANGED: usize = 2;
const U_DEACTIVATED: usize = 3;
const U_DELETED: usize = 4;
const G_CREATED: usize = 5;
const G_UPDATED: usize = 6;
const G_UNCHANGED: usize = 7;
const G_DELETED: usize = 8;
const M_ADDED: usize = 9;
const M_REMOVED: usize = 10;

pub struct Outcome {
    pub tally: Tally,
    pub failures: Vec<String>,
    /// The server's mass-deletion guard refused a removal (its detail): the push stopped.
    pub guarded: Option<String>,
}

struct Exec<'a> {
    client: &'a Client,
    dir: &'a Directory,
    raw_users: &'a HashMap<String, Value>,
    patch_users: bool,
    patch_groups: bool,
    batch: usize,
    ids: Mutex<HashMap<String, String>>,
    counters: Counters,
    failures: Mutex<Vec<String>>,
    guarded: Mutex<Option<String>>,
    progress: Progress,
}

enum UserTask<'p> {
    Bulk(&'p [SourceUser]),
    Create(&'p SourceUser),
    Update(&'p UserUpdate),
    Deactivate(&'p Named),
}

enum GroupTask<'p> {
    Create(&'p GroupCreate),
    Update(&'p GroupUpdate),
}

pub fn execute(
    client: &Client,
    caps: &Capabilities,
    dir: &Directory,
    fetched: &Fetched,
    plan: &Plan,
    opts: &PushOptions,
) -> Outcome {
    let patch_users = match opts.update {
        UpdateMode::Auto => caps.patch,
        UpdateMode::Patch => true,
        UpdateMode::Put => false,
    };
    let x = Exec {
        client,
        dir,
        raw_users: &fetched.raw_users,
        patch_users,
        patch_groups: caps.patch,
        batch: opts.batch,
        ids: Mutex::new(plan.user_ids.clone()),
        counters: Counters::default(),
        failures: Mutex::new(Vec::new()),
        guarded: Mutex::new(None),
        progress: Progress::new(plan.writes() as u64, opts.progress),
    };
    x.counters.add(U_UNCHANGED, plan.unchanged_users);
    x.counters.add(G_UNCHANGED, plan.unchanged_groups);

    let bulk = opts.bulk && caps.bulk && caps.bulk_max_operations > 1 && plan.creates.len() > 1;
    let creates: Vec<UserTask> = if bulk {
        bulk_chunks(&plan.creates, caps.bulk_max_operations, caps.bulk_max_payload)
            .into_iter()
            .map(UserTask::Bulk)
            .collect()
    } else {
        plan.creates.iter().map(UserTask::Create).collect()
    };
    let users: Vec<UserTask> = creates
        .into_iter()
        .chain(plan.updates.iter().map(UserTask::Update))
        .chain(plan.deactivations.iter().map(UserTask::Deactivate))
        .collect();
    x.progress.message("users");
    parallel(opts.jobs, &users, |t| {
        x.user_task(t);
        x.progress.inc_by(match t {
            UserTask::Bulk(chunk) => chunk.len() as u64,
            _ => 1,
        });
    });
    let groups: Vec<GroupTask> = plan
        .group_creates
        .iter()
        .map(GroupTask::Create)
        .chain(plan.group_updates.iter().map(GroupTask::Update))
        .collect();
    x.progress.message("groups");
    parallel(opts.jobs, &groups, |t| {
        if x.stopped() {
            return;
        }
        match t {
            GroupTask::Create(g) => x.group_create(g),
            GroupTask::Update(g) => x.group_update(g),
        }
        x.progress.inc();
    });
    x.progress.message("deletions");
    let deletions: Vec<(&str, usize, &Named)> = plan
        .user_deletions
        .iter()
        .map(|n| ("Users", U_DELETED, n))
        .chain(plan.group_deletions.iter().map(|n| ("Groups", G_DELETED, n)))
        .collect();
    parallel(opts.jobs, &deletions, |(endpoint, counter, n)| {
        if x.stopped() {
            return;
        }
        match client.call(Method::Delete, &format!("/{endpoint}/{}", n.id), None) {
            Ok(_) => x.counters.add(*counter, 1),
            Err(e) if e.status() == Some(404) => x.counters.add(*counter, 1),
            Err(ClientError::Guarded { detail, .. }) => x.stop(detail),
            Err(e) => x.fail(format!(
                "delete {} {}: {e}",
                endpoint.trim_end_matches('s').to_lowercase(),
                n.name
            )),
        }
        x.progress.inc();
    });
    x.progress.finish();
    Outcome {
        tally: x.counters.tally(),
        failures: x.failures.into_inner().unwrap_or_default(),
        guarded: x.guarded.into_inner().unwrap_or_default(),
    }
}

impl Exec<'_> {
    /// The server's mass-deletion guard refused a removal: make no more.
    fn stop(&self, detail: String) {
        if let Ok(mut g) = self.guarded.lock() {
            g.get_or_insert(detail);
        }
    }

    fn stopped(&self) -> bool {
        self.guarded.lock().map(|g| g.is_some()).unwrap_or(true)
    }

    fn fail(&self, msg: String) {
        if let Ok(mut f) = self.failures.lock() {
            f.push(msg);
        }
    }

    fn remember(&self, user_name: &str, id: &str) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(user_name.to_lowercase(), id.to_owned());
        }
    }

    fn user_task(&self, t: &UserTask) {
        match t {
            UserTask::Bulk(chunk) => self.bulk_create(chunk),
            UserTask::Create(u) => self.user_create(u),
            UserTask::Update(u) => match self.user_update(&u.id, &u.changes) {
                Ok(()) => self.counters.add(U_UPDATED, 1),
                Err(e) => self.fail(format!("update user {}: {e}", u.user_name)),
            },
            UserTask::Deactivate(_) if self.stopped() => {}
            UserTask::Deactivate(n) => {
                let ch = [Change {
                    attr: Attr::Active,
                    from: Some(json!(true)),
                    to: Some(json!(false)),
                }];
                match self.user_update(&n.id, &ch) {
                    Ok(()) => self.counters.add(U_DEACTIVATED, 1),
                    Err(ClientError::Guarded { detail, .. }) => self.stop(detail),
                    Err(e) => self.fail(format!("deactivate user {}: {e}", n.name)),
                }
            }
        }
    }

    fn user_update(&self, id: &str, changes: &[Change]) -> Result<(), ClientError> {
        let path = format!("/Users/{id}");
        if self.patch_users {
            self.client
                .call(Method::Patch, &path, Some(&patch_body(user_patch_ops(changes))))?;
        } else {
            let raw = match self.raw_users.get(id) {
                Some(raw) => raw.clone(),
                None => self.client.get(&path)?,
            };
            self.client
                .call(Method::Put, &path, Some(&user_put_body(&raw, changes)))?;
        }
        Ok(())
    }

    /// One `/Bulk` request creating a chunk of users; what it did not create (a conflict,
    /// an operation missing from the answer, a server refusing Bulk after all) goes one by one.
    fn bulk_create(&self, chunk: &[SourceUser]) {
        let ops: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, u)| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user_body(u)}))
            .collect();
        let body = json!({"schemas": [BULK_SCHEMA], "Operations": ops});
        let answer = match self.client.call(Method::Post, "/Bulk", Some(&body)) {
            Ok(r) => r.body,
            Err(_) => return chunk.iter().for_each(|u| self.user_create(u)),
        };
        let mut results: HashMap<String, &Value> = HashMap::new();
        for op in answer["Operations"].as_array().into_iter().flatten() {
            if let Some(id) = op["bulkId"].as_str() {
                results.insert(id.to_owned(), op);
            }
        }
        for (i, u) in chunk.iter().enumerate() {
            let Some(op) = results.get(&format!("u{i}")) else {
                self.user_create(u);
                continue;
            };
            let status = match &op["status"] {
                Value::String(s) => s.parse::<u16>().unwrap_or(0),
                v => v.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
            };
            let id = op["response"]["id"].as_str().or_else(|| {
                op["location"]
                    .as_str()
                    .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            });
            match (status, id) {
                (200..=299, Some(id)) => {
                    self.remember(&u.attrs.user_name, id);
                    self.counters.add(U_CREATED, 1);
                }
                (409, _) => self.user_create(u),
                _ => {
                    let detail = op["response"]["detail"].as_str().unwrap_or("no id in the answer");
                    self.fail(format!(
                        "create user {} (bulk): HTTP {status}: {detail}",
                        u.attrs.user_name
                    ));
                }
            }
        }
    }

    /// POST; on 409 (a user the listing did not show, or a retried POST that had landed)
    /// look it up by `userName` and update it instead, as Okta does.
    fn user_create(&self, u: &SourceUser) {
        let created = self.client.call(Method::Post, "/Users", Some(&user_body(u)));
        match created {
            Ok(r) => match r.body["id"].as_str() {
                Some(id) => {
                    self.remember(&u.attrs.user_name, id);
                    self.counters.add(U_CREATED, 1);
                }
                None => self.fail(format!("create user {}: the answer has no id", u.attrs.user_name)),
            },
            Err(e) if e.status() == Some(409) => match self.client.find_user(&u.attrs.user_name) {
                Ok(Some(found)) => {
                    let Some(srv) = plan::ServerUser::from_json(&found) else {
                        return self.fail(format!("create user {}: {e}", u.attrs.user_name));
                    };
                    self.remember(&u.attrs.user_name, &srv.id);
                    let changes = plan::user_changes(u, &srv, self.dir);
                    if changes.is_empty() {
                        self.counters.add(U_UNCHANGED, 1);
                    } else if let Err(e) = self.user_update(&srv.id, &changes) {
                        self.fail(format!("update user {}: {e}", u.attrs.user_name));
                    } else {
                        self.counters.add(U_UPDATED, 1);
                    }
                }
                _ => self.fail(format!("create user {}: {e}", u.attrs.user_name)),
            },
            Err(e) => self.fail(format!("create user {}: {e}", u.attrs.user_name)),
        }
    }

    /// Member values (`value` = id, `display` = userName) for source `userName`s; a member
    /// whose user could not be created is a failure of its group.
    fn members(&self, group: &str, names: &[String]) -> Vec<Value> {
        let ids = self.ids.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            match ids.get(&n.to_lowercase()) {
                Some(id) => out.push(json!({"value": id, "display": n})),
                None => self.fail(format!(
                    "group {group}: member {n} not added: the user is not on the server"
                )),
            }
        }
        out
    }

    fn send_requests(&self, group: &str, id: &str, reqs: Vec<GroupRequest>) -> bool {
        for r in reqs {
            let body = patch_body(r.ops);
            if let Err(e) = self.client.call(Method::Patch, &format!("/Groups/{id}"), Some(&body)) {
                self.fail(format!("group {group}: {e}"));
                return false;
            }
            self.counters.add(M_ADDED, r.added);
            self.counters.add(M_REMOVED, r.removed);
        }
        true
    }

    fn group_create(&self, g: &GroupCreate) {
        let members = self.members(&g.display_name, &g.members);
        let first = if self.patch_groups {
            members.len().min(self.batch)
        } else {
            members.len()
        };
        let mut body = json!({"schemas": [GROUP_SCHEMA], "displayName": g.display_name,
                              "members": &members[..first]});
        if let Some(e) = &g.external_id {
            body["externalId"] = json!(e);
        }
        let id = match self.client.call(Method::Post, "/Groups", Some(&body)) {
            Ok(r) => match r.body["id"].as_str() {
                Some(id) => id.to_owned(),
                None => return self.fail(format!("create group {}: the answer has no id", g.display_name)),
            },
            Err(e) => return self.fail(format!("create group {}: {e}", g.display_name)),
        };
        self.counters.add(G_CREATED, 1);
        self.counters.add(M_ADDED, first);
        let reqs = group_requests(None, &[], &members[first..], self.batch);
        self.send_requests(&g.display_name, &id, reqs);
    }

    fn group_update(&self, g: &GroupUpdate) {
        let add = self.members(&g.display_name, &g.add);
        let ok = if self.patch_groups {
            let reqs = group_requests(g.rename.as_deref(), &g.remove, &add, self.batch);
            self.send_requests(&g.display_name, &g.id, reqs)
        } else {
            self.group_put(g, add)
        };
        if ok {
            self.counters.add(G_UPDATED, 1);
        }
    }

    /// Without PATCH the only way is the whole member list (RFC 7644 §3.5.1).
    fn group_put(&self, g: &GroupUpdate, add: Vec<Value>) -> bool {
        let path = format!("/Groups/{}", g.id);
        let current = match self.client.get(&path) {
            Ok(doc) => doc,
            Err(e) => {
                self.fail(format!("group {}: {e}", g.display_name));
                return false;
            }
        };
        let gone: std::collections::HashSet<&str> = g.remove.iter().map(|n| n.id.as_str()).collect();
        let mut members: Vec<Value> = current["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| !m["value"].as_str().is_some_and(|v| gone.contains(v)))
            .cloned()
            .collect();
        let added = add.len();
        members.extend(add);
        let mut body = json!({"schemas": [GROUP_SCHEMA], "id": g.id,
            "displayName": g.rename.as_deref().unwrap_or(&g.display_name), "members": members});
        if let Some(e) = current.get("externalId") {
            body["externalId"] = e.clone();
        }
        match self.client.call(Method::Put, &path, Some(&body)) {
            Ok(_) => {
                self.counters.add(M_ADDED, added);
                self.counters.add(M_REMOVED, g.remove.len());
                true
            }
            Err(e) => {
                self.fail(format!("group {}: {e}", g.display_name));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::source::{ExtAttr, UserAttrs};

    fn named(i: usize) -> Named {
        Named {
            id: format!("id{i}"),
            name: format!("u{i}"),
        }
    }

    #[test]
    fn one_membership_change_is_one_small_request() {
        let reqs = group_requests(None, &[named(1)], &[], 1000);
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].ops,
            [json!({"op": "remove", "path": "members[value eq \"id1\"]"})]
        );
        assert!(group_requests(None, &[], &[], 1000).is_empty());
    }

    #[test]
    fn large_membership_changes_are_batched() {
        let removes: Vec<Named> = (0..3).map(named).collect();
        let adds: Vec<Value> = (0..2500).map(|i| json!({"value": format!("n{i}")})).collect();
        let reqs = group_requests(Some("Ops"), &removes, &adds, 1000);
        let sizes: Vec<(usize, usize)> = reqs.iter().map(|r| (r.removed, r.added)).collect();
        assert_eq!(sizes, [(3, 997), (0, 1000), (0, 503)]);
        assert_eq!(reqs[0].ops[0]["path"], "displayName");
        assert_eq!(reqs[0].ops.len(), 1 + 3 + 1);
    }

    #[test]
    fn user_changes_become_patch_ops_or_a_put_document() {
        let changes = [
            Change {
                attr: Attr::Title,
                from: Some(json!("a")),
                to: None,
            },
            Change {
                attr: Attr::GivenName,
                from: None,
                to: Some(json!("Jo")),
            },
            Change {
                attr: Attr::Active,
                from: Some(json!(true)),
                to: Some(json!(false)),
            },
        ];
        assert_eq!(
            user_patch_ops(&changes),
            [
                json!({"op": "remove", "path": "title"}),
                json!({"op": "replace", "path": "name.givenName", "value": "Jo"}),
                json!({"op": "replace", "path": "active", "value": false}),
            ]
        );
        let raw = json!({"id": "1", "userName": "a", "title": "a", "meta": {}, "groups": [], "x": 1});
        assert_eq!(
            user_put_body(&raw, &changes),
            json!({"id": "1", "userName": "a", "x": 1, "name": {"givenName": "Jo"}, "active": false})
        );
    }

    #[test]
    fn extension_attributes_travel_in_their_schema_objects() {
        const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let attr = |p: &str| Attr::Ext(ExtAttr::parse(p).unwrap());
        let (cost, level) = (format!("{ACME}:costCenter"), format!("{ACME}:level"));
        let number = format!("{ENTERPRISE}:employeeNumber");
        let mut u = SourceUser {
            attrs: UserAttrs {
                user_name: "a@x".into(),
                active: true,
                ..Default::default()
            },
            ..Default::default()
        };
        for (p, v) in [(&cost, json!("CC-1")), (&level, json!(3))] {
            if let Attr::Ext(e) = attr(p) {
                u.attrs.ext.insert(e, v);
            }
        }
        assert_eq!(
            user_body(&u),
            json!({"schemas": [USER_SCHEMA, ACME], "userName": "a@x", "active": true,
                   ACME: {"costCenter": "CC-1", "level": 3}})
        );

        let changes = [
            Change {
                attr: attr(&cost),
                from: Some(json!("CC-1")),
                to: None,
            },
            Change {
                attr: attr(&number),
                from: None,
                to: Some(json!("E-1")),
            },
        ];
        assert_eq!(
            user_patch_ops(&changes),
            [
                json!({"op": "remove", "path": cost}),
                json!({"op": "replace", "path": number, "value": "E-1"}),
            ]
        );
        // The server's own spelling of the URN is kept; its emptied object and URN go.
        let server_acme = ACME.to_uppercase();
        let raw = json!({"schemas": [USER_SCHEMA, server_acme], "id": "1", "userName": "a@x",
                         server_acme.clone(): {"COSTCENTER": "CC-1"}});
        assert_eq!(
            user_put_body(&raw, &changes),
            json!({"schemas": [USER_SCHEMA, ENTERPRISE], "id": "1", "userName": "a@x",
                   ENTERPRISE: {"employeeNumber": "E-1"}})
        );
        let kept = json!({"schemas": [USER_SCHEMA, server_acme], "id": "1", "userName": "a@x",
                          server_acme.clone(): {"COSTCENTER": "CC-1", "level": 3}});
        assert_eq!(
            user_put_body(&kept, &changes[..1]),
            json!({"schemas": [USER_SCHEMA, server_acme], "id": "1", "userName": "a@x",
                   server_acme: {"level": 3}})
        );
    }

    #[test]
    fn bulk_chunks_respect_operations_and_payload() {
        let users: Vec<SourceUser> = (0..25)
            .map(|i| SourceUser {
                attrs: UserAttrs {
                    user_name: format!("user{i:03}@example.com"),
                    active: true,
                    ..Default::default()
                },
                ..Default::default()
            })
            .collect();
        let sizes = |c: Vec<&[SourceUser]>| c.iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(sizes(bulk_chunks(&users, 10, 0)), [10, 10, 5]);
        let one = user_body(&users[0]).to_string().len() + 80;
        assert_eq!(
            sizes(bulk_chunks(&users, 100, (200 + 4 * one) * 10 / 9 + 10)),
            [4, 4, 4, 4, 4, 4, 1]
        );
    }

    #[test]
    fn a_new_user_carries_only_what_the_source_gives() {
        let u = SourceUser {
            attrs: UserAttrs {
                user_name: "a@x".into(),
                email: Some("a@x".into()),
                active: true,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            user_body(&u),
            json!({"schemas": [USER_SCHEMA], "userName": "a@x",
                   "emails": [{"value": "a@x", "type": "work", "primary": true}], "active": true})
        );
    }
}
