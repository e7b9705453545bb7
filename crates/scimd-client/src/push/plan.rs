//! The difference between a source [`Directory`] and what a SCIM server holds, as a [`Plan`]:
//! users to create, update (with the attributes that change), deactivate or delete; groups
//! to create, rename, delete, and the members to add and remove. Pure: no I/O.
//!
//! Matching follows Okta: a user by `externalId` when the source gives one, else by
//! `userName` compared case-insensitively; a group by `externalId`, else by `displayName`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::source::{Attr, Directory, SourceUser, UserAttrs, as_text, text};

/// A user as the server has it (the attributes a push compares).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerUser {
    pub id: String,
    pub attrs: UserAttrs,
}

impl ServerUser {
    pub fn from_json(v: &Value) -> Option<ServerUser> {
        let active = match v.get("active") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
            _ => true,
        };
        let attrs = UserAttrs::from_scim(v, active);
        Some(ServerUser {
            id: text(v, "id")?,
            attrs: (!attrs.user_name.is_empty()).then_some(attrs)?,
        })
    }
}

/// A group as the server has it; `members` are member ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
}

impl ServerGroup {
    pub fn from_json(v: &Value) -> Option<ServerGroup> {
        Some(ServerGroup {
            id: text(v, "id")?,
            display_name: text(v, "displayName")?,
            external_id: text(v, "externalId"),
            members: member_ids(v),
        })
    }
}

pub fn member_ids(v: &Value) -> Vec<String> {
    v.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| text(m, "value"))
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct ServerState {
    pub users: Vec<ServerUser>,
    pub groups: Vec<ServerGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Leave what the source does not mention alone.
    #[default]
    Keep,
    /// Set `active` to false on users absent from the source.
    Deactivate,
    /// Delete users and groups absent from the source.
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub users: bool,
    pub groups: bool,
    pub missing: Missing,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            users: true,
            groups: true,
            missing: Missing::Keep,
        }
    }
}

/// One attribute that differs: the server's value and the source's, as JSON (`to` typed as
/// the source gives it, which is what is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub attr: Attr,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdate {
    pub id: String,
    pub user_name: String,
    pub changes: Vec<Change>,
}

/// A user by id, with the name shown for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCreate {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Members by the source's `userName`, resolved to ids when users exist.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    pub id: String,
    pub display_name: String,
    /// The new `displayName` when it changes.
    pub rename: Option<String>,
    /// Source `userName`s to add.
    pub add: Vec<String>,
    pub remove: Vec<Named>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub creates: Vec<SourceUser>,
    pub updates: Vec<UserUpdate>,
    pub unchanged_users: usize,
    pub deactivations: Vec<Named>,
    pub user_deletions: Vec<Named>,
    pub group_creates: Vec<GroupCreate>,
    pub group_updates: Vec<GroupUpdate>,
    pub unchanged_groups: usize,
    pub group_deletions: Vec<Named>,
    /// Server id of every user already there, by lower-cased source (or server) `userName`.
    pub user_ids: HashMap<String, String>,
    /// Things that cannot be done (a member neither in the source nor on the server).
    pub problems: Vec<String>,
}

impl Plan {
    /// Users deactivated or deleted and groups deleted.
    pub fn removals(&self) -> usize {
        self.deactivations.len() + self.user_deletions.len() + self.group_deletions.len()
    }

    pub fn writes(&self) -> usize {
        self.creates.len()
            + self.updates.len()
            + self.deactivations.len()
            + self.user_deletions.len()
            + self.group_creates.len()
            + self.group_updates.len()
            + self.group_deletions.len()
    }

    pub fn members_added(&self) -> usize {
        self.group_updates.iter().map(|g| g.add.len()).sum::<usize>()
            + self.group_creates.iter().map(|g| g.members.len()).sum::<usize>()
    }

    pub fn members_removed(&self) -> usize {
        self.group_updates.iter().map(|g| g.remove.len()).sum()
    }

    /// One line per change, for `--dry-run`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "(none)".into(), Value::to_string);
        for u in &self.creates {
            let _ = writeln!(s, "create user {}", u.attrs.user_name);
        }
        for u in &self.updates {
            let changes: Vec<String> = u
                .changes
                .iter()
                .map(|c| format!("{} {} -> {}", c.attr.path(), show(&c.from), show(&c.to)))
                .collect();
            let _ = writeln!(s, "update user {}: {}", u.user_name, changes.join(", "));
        }
        for u in &self.deactivations {
            let _ = writeln!(s, "deactivate user {}", u.name);
        }
        for u in &self.user_deletions {
            let _ = writeln!(s, "delete user {}", u.name);
        }
        for g in &self.group_creates {
            let _ = writeln!(s, "create group {} with {} members", g.display_name, g.members.len());
        }
        for g in &self.group_updates {
            if let Some(to) = &g.rename {
                let _ = writeln!(s, "rename group {} -> {to}", g.display_name);
            }
            for m in &g.add {
                let _ = writeln!(s, "group {}: add {m}", g.display_name);
            }
            for m in &g.remove {
                let _ = writeln!(s, "group {}: remove {}", g.display_name, m.name);
            }
        }
        for g in &self.group_deletions {
            let _ = writeln!(s, "delete group {}", g.name);
        }
        s
    }
}

/// What differs between a source user and the server's, for the attributes the source
/// manages. Values compare as text ([`as_text`]): a CSV's `"42"` is a server's `42`.
pub fn user_changes(src: &SourceUser, srv: &ServerUser, dir: &Directory) -> Vec<Change> {
    dir.managed
        .iter()
        .filter(|a| **a != Attr::ExternalId || src.attrs.external_id.is_some())
        .filter_map(|attr| {
            let (to, from) = (src.attrs.value(attr), srv.attrs.value(attr));
            (to.as_ref().map(as_text) != from.as_ref().map(as_text)).then(|| Change {
                attr: attr.clone(),
                from,
                to,
            })
        })
        .collect()
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

pub fn plan(dir: &Directory, server: &ServerState, opts: Options) -> Plan {
    let mut p = Plan::default();
    let by_ext: HashMap<&str, usize> = server
        .users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.attrs.external_id.as_deref().map(|e| (e, i)))
        .collect();
    let by_name: HashMap<String, usize> = server
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (lower(&u.attrs.user_name), i))
        .collect();
    let mut claimed: HashSet<usize> = HashSet::new();
    let mut in_source: HashSet<String> = HashSet::new();
    for src in &dir.users {
        let key = lower(&src.attrs.user_name);
        in_source.insert(key.clone());
        let found = src
            .attrs
            .external_id
            .as_deref()
            .and_then(|e| by_ext.get(e))
            .or_else(|| by_name.get(&key))
            .copied();
        match found {
            Some(i) if !claimed.insert(i) => p.problems.push(format!(
                "{}: {} matches the server's user {}, already matched by another source user",
                src.origin, src.attrs.user_name, server.users[i].attrs.user_name
            )),
            Some(i) => {
                let srv = &server.users[i];
                p.user_ids.insert(key, srv.id.clone());
                let changes = user_changes(src, srv, dir);
                if !opts.users || changes.is_empty() {
                    p.unchanged_users += usize::from(opts.users);
                } else {
                    p.updates.push(UserUpdate {
                        id: srv.id.clone(),
                        user_name: srv.attrs.user_name.clone(),
                        changes,
                    });
                }
            }
            None if opts.users => p.creates.push(src.clone()),
            None => {}
        }
    }
    for (i, srv) in server.users.iter().enumerate() {
        p.user_ids
            .entry(lower(&srv.attrs.user_name))
            .or_insert_with(|| srv.id.clone());
        if claimed.contains(&i) || !opts.users {
            continue;
        }
        let named = Named {
            id: srv.id.clone(),
            name: srv.attrs.user_name.clone(),
        };
        match opts.missing {
            Missing::Deactivate if srv.attrs.active => p.deactivations.push(named),
            Missing::Delete => p.user_deletions.push(named),
            _ => {}
        }
    }
    if opts.groups {
        plan_groups(dir, server, &in_source, opts, &mut p);
    }
    p
}

fn plan_groups(dir: &Directory, server: &ServerState, in_source: &HashSet<String>, opts: Options, p: &mut Plan) {
    let names: HashMap<&str, &str> = server
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.attrs.user_name.as_str()))
        .collect();
    let by_ext: HashMap<&str, usize> = server
        .groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.external_id.as_deref().map(|e| (e, i)))
        .collect();
    let by_name: HashMap<String, usize> = server
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (lower(&g.display_name), i))
        .collect();
    let mut claimed = HashSet::new();
    for g in &dir.groups {
        // Members the plan can reach: users of the source (existing or to be created when
        // users are pushed too) and users already on the server.
        let mut wanted: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for m in &g.members {
            let key = lower(m);
            let reachable = p.user_ids.contains_key(&key) || (opts.users && in_source.contains(&key));
            if !reachable {
                p.problems.push(format!(
                    "{}: member {m} of group {} is neither in the source nor on the server",
                    g.origin, g.display_name
                ));
            } else if seen.insert(key) {
                wanted.push(m.clone());
            }
        }
        let found = g
            .external_id
            .as_deref()
            .and_then(|e| by_ext.get(e))
            .or_else(|| by_name.get(&lower(&g.display_name)))
            .copied()
            .filter(|i| claimed.insert(*i));
        let Some(i) = found else {
            p.group_creates.push(GroupCreate {
                display_name: g.display_name.clone(),
                external_id: g.external_id.clone(),
                members: wanted,
            });
            continue;
        };
        let srv = &server.groups[i];
        let current: HashSet<&str> = srv.members.iter().map(String::as_str).collect();
        let mut keep: HashSet<&str> = HashSet::new();
        let mut add = Vec::new();
        for m in wanted {
            match p.user_ids.get(&lower(&m)) {
                Some(id) if current.contains(id.as_str()) => {
                    keep.insert(id.as_str());
                }
                _ => add.push(m),
            }
        }
        let remove: Vec<Named> = srv
            .members
            .iter()
            .filter(|id| !keep.contains(id.as_str()))
            .map(|id| Named {
                id: id.clone(),
                name: names
                    .get(id.as_str())
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| id.clone()),
            })
            .collect();
        let rename = (srv.display_name != g.display_name).then(|| g.display_name.clone());
        if add.is_empty() && remove.is_empty() && rename.is_none() {
            p.unchanged_groups += 1;
        } else {
            p.group_updates.push(GroupUpdate {
                id: srv.id.clone(),
                display_name: srv.display_name.clone(),
                rename,
                add,
                remove,
            });
        }
    }
    if opts.missing == Missing::Delete {
        for (i, g) in server.groups.iter().enumerate() {
            if !claimed.contains(&i) {
                p.group_deletions.push(Named {
                    id: g.id.clone(),
                    name: g.display_name.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::source::{SourceGroup, parse_csv};

    fn srv_user(id: &str, name: &str, title: Option<&str>) -> ServerUser {
        ServerUser {
            id: id.into(),
            attrs: UserAttrs {
                user_name: name.into(),
                email: Some(name.to_lowercase()),
                title: title.map(str::to_owned),
                active: true,
                ..Default::default()
            },
        }
    }

    fn source() -> Directory {
        parse_csv(
            "s.csv",
            "userName,email,title,groups\n\
             a@x,a@x,Eng,Ops\n\
             b@x,b@x,Boss,Ops\n\
             c@x,c@x,,\n",
            &[],
        )
        .unwrap()
    }

    #[test]
    fn an_empty_server_gets_every_user_and_group_created() {
        let p = plan(&source(), &ServerState::default(), Options::default());
        assert_eq!(p.creates.len(), 3);
        assert_eq!(p.group_creates.len(), 1);
        assert_eq!(p.group_creates[0].members, ["a@x", "b@x"]);
        assert_eq!(p.writes(), 4);
    }

    #[test]
    fn a_server_in_the_source_state_needs_nothing() {
        let server = ServerState {
            users: vec![
                srv_user("1", "A@X", None),
                srv_user("2", "b@x", Some("Boss")),
                srv_user("3", "c@x", None),
            ],
            groups: vec![ServerGroup {
                id: "g".into(),
                display_name: "Ops".into(),
                external_id: None,
                members: vec!["2".into(), "1".into()],
            }],
        };
        let mut server_a = server.clone();
        server_a.users[0].attrs.user_name = "a@x".into();
        server_a.users[0].attrs.title = Some("Eng".into());
        let p = plan(&source(), &server_a, Options::default());
        assert_eq!(p.writes(), 0, "{}", p.describe());
        assert_eq!((p.unchanged_users, p.unchanged_groups), (3, 1));

        // userName matches case-insensitively; its case and the title are what differ.
        let p = plan(&source(), &server, Options::default());
        assert_eq!(p.updates.len(), 1);
        let attrs: Vec<Attr> = p.updates[0].changes.iter().map(|c| c.attr.clone()).collect();
        assert_eq!(attrs, [Attr::UserName, Attr::Title]);
        assert!(
            p.describe()
                .contains("update user A@X: userName \"A@X\" -> \"a@x\", title (none) -> \"Eng\"")
        );
    }

    #[test]
    fn membership_changes_are_only_the_differences() {
        let server = ServerState {
            users: vec![srv_user("1", "a@x", Some("Eng")), srv_user("9", "gone@x", None)],
            groups: vec![ServerGroup {
                id: "g".into(),
                display_name: "ops".into(),
                external_id: None,
                members: vec!["1".into(), "9".into()],
            }],
        };
        let p = plan(&source(), &server, Options::default());
        let g = &p.group_updates[0];
        assert_eq!(g.add, ["b@x"]);
        assert_eq!(
            g.remove,
            [Named {
                id: "9".into(),
                name: "gone@x".into()
            }]
        );
        assert_eq!(g.rename.as_deref(), Some("Ops"));
        assert!(p.deactivations.is_empty() && p.user_deletions.is_empty());

        let p = plan(
            &source(),
            &server,
            Options {
                missing: Missing::Deactivate,
                ..Options::default()
            },
        );
        assert_eq!(
            p.deactivations,
            [Named {
                id: "9".into(),
                name: "gone@x".into()
            }]
        );
        let p = plan(
            &source(),
            &server,
            Options {
                missing: Missing::Delete,
                ..Options::default()
            },
        );
        assert_eq!(p.user_deletions.len(), 1);
        assert!(p.group_deletions.is_empty());
    }

    #[test]
    fn external_ids_match_before_user_names_and_groups_only_leaves_users_alone() {
        let mut dir = source();
        dir.users[0].attrs.external_id = Some("E1".into());
        dir.managed.insert(Attr::ExternalId);
        let mut renamed = srv_user("1", "old@x", Some("Eng"));
        renamed.attrs.external_id = Some("E1".into());
        renamed.attrs.email = Some("a@x".into());
        let server = ServerState {
            users: vec![renamed],
            groups: vec![],
        };
        let p = plan(&dir, &server, Options::default());
        assert_eq!(p.updates[0].changes[0].to, Some(serde_json::json!("a@x")));
        assert_eq!(p.creates.len(), 2);

        let p = plan(
            &dir,
            &server,
            Options {
                users: false,
                ..Options::default()
            },
        );
        assert_eq!((p.creates.len(), p.updates.len()), (0, 0));
        assert_eq!(p.group_creates[0].members, ["a@x"]);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    }

    #[test]
    fn unknown_members_are_problems_not_members() {
        let mut dir = source();
        dir.groups.push(SourceGroup {
            display_name: "G".into(),
            members: vec!["nobody@x".into(), "a@x".into(), "A@X".into()],
            ..Default::default()
        });
        let p = plan(&dir, &ServerState::default(), Options::default());
        assert_eq!(p.group_creates[1].members, ["a@x"]);
        assert!(p.problems[0].contains("nobody@x"));
    }

    #[test]
    fn extension_attributes_compare_as_text_and_are_named_by_path() {
        const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let dir = parse_csv(
            "s.csv",
            &format!("userName,{ACME}:costCenter,{ACME}:level\na@x,CC-2,3\nb@x,CC-1,\n"),
            &[],
        )
        .unwrap();
        // The server spells the URN its own way, holds numbers as numbers, and has an
        // attribute the source does not name.
        let server_acme = ACME.replace("acme", "ACME");
        let srv = |id: &str, name: &str, cost: &str, level: u32| {
            ServerUser::from_json(&serde_json::json!({"id": id, "userName": name,
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", server_acme],
                server_acme.clone(): {"costCenter": cost, "level": level, "badge": "B"}}))
            .unwrap()
        };
        let server = ServerState {
            users: vec![srv("1", "a@x", "CC-1", 3), srv("2", "b@x", "CC-1", 5)],
            groups: vec![],
        };
        let p = plan(&dir, &server, Options::default());
        let changed: Vec<(&str, Vec<&str>)> = p
            .updates
            .iter()
            .map(|u| (u.user_name.as_str(), u.changes.iter().map(|c| c.attr.path()).collect()))
            .collect();
        let (cost, level) = (format!("{ACME}:costCenter"), format!("{ACME}:level"));
        assert_eq!(changed, [("a@x", vec![cost.as_str()]), ("b@x", vec![level.as_str()])]);
        let text = p.describe();
        assert!(
            text.contains(&format!("update user a@x: {cost} \"CC-1\" -> \"CC-2\"\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("update user b@x: {level} 5 -> (none)\n")),
            "{text}"
        );

        let same = ServerState {
            users: vec![srv("1", "a@x", "CC-2", 3)],
            groups: vec![],
        };
        let one = Directory {
            users: dir.users[..1].to_vec(),
            ..dir.clone()
        };
        assert_eq!(plan(&one, &same, Options::default()).writes(), 0);
    }

    #[test]
    fn server_users_read_from_scim_json() {
        let v = serde_json::json!({"id": "1", "userName": "a", "active": false,
            "emails": [{"value": "x@y"}, {"value": "p@y", "primary": true}], "name": {"givenName": "A"}});
        let u = ServerUser::from_json(&v).unwrap();
        assert_eq!(
            (u.attrs.email.as_deref(), u.attrs.given_name.as_deref(), u.attrs.active),
            (Some("p@y"), Some("A"), false)
        );
        assert!(ServerUser::from_json(&serde_json::json!({"userName": "a"})).is_none());
    }
}
