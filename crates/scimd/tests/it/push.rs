//! `scimd push` end to end: CSV, JSON and LDIF directories of realistic size (5,000 users, a
//! group of 2,000 members) pushed into a live scimd, pushed again unchanged, changed a little
//! and pushed again; the server must end in exactly the source's state, with the minimal set
//! of requests (counted by push's `--json` summary).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{BIN, Scim, enc, ids, str_of, temp_file};

const USERS: usize = 5000;
const BIG_GROUP: usize = 2000;

#[derive(Clone)]
struct Person {
    user_name: String,
    given: String,
    family: String,
    title: String,
    active: bool,
}

/// The source's truth: people and groups (members by userName).
#[derive(Clone)]
struct Model {
    people: Vec<Person>,
    groups: BTreeMap<String, Vec<String>>,
}

fn model(n: usize) -> Model {
    let people: Vec<Person> = (0..n)
        .map(|i| Person {
            user_name: format!("user{i:05}@example.com"),
            given: if i % 7 == 0 {
                format!("Zoë{i}")
            } else {
                format!("Given{i}")
            },
            family: if i % 11 == 0 {
                format!("O\"Brien, {i}")
            } else {
                format!("Family{i}")
            },
            title: ["Engineer", "Manager", "Analyst"][i % 3].to_owned(),
            active: i % 50 != 49,
        })
        .collect();
    let mut groups = BTreeMap::new();
    groups.insert(
        "All Staff".to_owned(),
        people[..BIG_GROUP.min(n)].iter().map(|p| p.user_name.clone()).collect(),
    );
    groups.insert(
        "Engineering".to_owned(),
        people.iter().step_by(5).map(|p| p.user_name.clone()).collect(),
    );
    groups.insert("Empty".to_owned(), Vec::new());
    Model { people, groups }
}

impl Model {
    /// One user's title changes and one member leaves the big group.
    fn changed(&self) -> Model {
        let mut m = self.clone();
        m.people[7].title = "Director".into();
        let leaver = m.people[BIG_GROUP - 1].user_name.clone();
        if let Some(all) = m.groups.get_mut("All Staff") {
            all.retain(|u| *u != leaver);
        }
        m
    }

    fn groups_of(&self, user: &str) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|(_, ms)| ms.iter().any(|m| m == user))
            .map(|(g, _)| g.as_str())
            .collect()
    }

    fn csv(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("userName,givenName,familyName,email,title,active,groups\r\n");
        for p in &self.people {
            let groups = self.groups_of(&p.user_name).join(";");
            let _ = write!(
                out,
                "{},{},{},{},{},{},{}\r\n",
                p.user_name,
                q(&p.given),
                q(&p.family),
                p.user_name,
                p.title,
                p.active,
                q(&groups)
            );
        }
        // Groups without members cannot be named in a user row; the CSV carries the others.
        out
    }

    fn json(&self) -> String {
        let users: Vec<Value> = self
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"id": format!("src-{i}"), "userName": p.user_name, "title": p.title,
                       "name": {"givenName": p.given, "familyName": p.family},
                       "emails": [{"value": p.user_name, "primary": true}], "active": p.active})
            })
            .collect();
        let index: BTreeMap<&str, usize> = self
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.user_name.as_str(), i))
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|(g, ms)| {
                let members: Vec<Value> = ms
                    .iter()
                    .map(|m| json!({"value": format!("src-{}", index[m.as_str()])}))
                    .collect();
                json!({"displayName": g, "members": members})
            })
            .collect();
        serde_json::to_string_pretty(&json!({"Users": users, "Groups": groups})).unwrap_or_default()
    }

    fn ldif(&self) -> String {
        fn line(out: &mut String, attr: &str, value: &str) {
            let l = if value.is_ascii() && !value.starts_with([' ', ':', '<']) {
                format!("{attr}: {value}")
            } else {
                format!("{attr}:: {}", base64::engine::general_purpose::STANDARD.encode(value))
            };
            // RFC 2849 folding: 76 columns, continuation lines start with one space.
            let bytes = l.as_bytes();
            let mut start = 0;
            while start < bytes.len() {
                let end = (start + if start == 0 { 76 } else { 75 }).min(bytes.len());
                if start > 0 {
                    out.push(' ');
                }
                out.push_str(&l[start..end]);
                out.push('\n');
                start = end;
            }
        }
        let dn = |u: &str| format!("uid={u},ou=People,dc=example,dc=com");
        let mut out = String::from("version: 1\n\n");
        for p in &self.people {
            line(&mut out, "dn", &dn(&p.user_name));
            for oc in ["top", "person", "organizationalPerson", "inetOrgPerson"] {
                line(&mut out, "objectClass", oc);
            }
            line(&mut out, "uid", &p.user_name);
            line(&mut out, "cn", &format!("{} {}", p.given, p.family));
            line(&mut out, "givenName", &p.given);
            line(&mut out, "sn", &p.family);
            line(&mut out, "mail", &p.user_name);
            line(&mut out, "title", &p.title);
            if !p.active {
                line(&mut out, "nsAccountLock", "TRUE");
            }
            out.push('\n');
        }
        for (g, ms) in &self.groups {
            line(&mut out, "dn", &format!("cn={g},ou=Groups,dc=example,dc=com"));
            line(&mut out, "objectClass", "groupOfNames");
            line(&mut out, "cn", g);
            for m in ms {
                line(&mut out, "member", &dn(m));
            }
            out.push('\n');
        }
        out
    }
}

/// `scimd push --json` against the server; the summary.
fn push(s: &Scim, source: &Path, extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["push", "--source"])
        .arg(source)
        .args([
            "--base-url",
            &s.base,
            "--token",
            &s.token,
            "--jobs",
            "4",
            "--json",
            "--quiet",
        ])
        .args(extra)
        .env_remove("SCIMD_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run scimd push: {e}"));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "push --json ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if summary["failures"] != json!([]) {
        // What the server said about the failed requests, for a failure seen only under load.
        let log = s.server.log();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .take(40)
            .collect();
        panic!("push failures: {summary:#}\nserver log:\n{}", errors.join("\n"));
    }
    summary
}

/// `scimd push --dry-run` against the server: the plan it prints.
fn plan_text(s: &Scim, source: &Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["push", "--dry-run", "--quiet", "--source"])
        .arg(source)
        .args(["--base-url", &s.base, "--token", &s.token])
        .args(extra)
        .env_remove("SCIMD_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run scimd push: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn all(s: &Scim, endpoint: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let r = s.get(&format!("/{endpoint}?{query}&startIndex={}&count=1000", out.len() + 1));
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json()["Resources"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Everything the server holds for this provider is exactly what the model says.
fn assert_server_matches(s: &Scim, m: &Model, groups_in_source: &BTreeSet<&str>) {
    let users = all(s, "Users", "excludedAttributes=groups");
    assert_eq!(users.len(), m.people.len());
    let by_name: BTreeMap<&str, &Value> = users.iter().map(|u| (str_of(u, "userName"), u)).collect();
    let mut names = BTreeMap::new();
    for p in &m.people {
        let u = by_name
            .get(p.user_name.as_str())
            .unwrap_or_else(|| panic!("{} missing", p.user_name));
        assert_eq!(u["name"]["givenName"], p.given.as_str());
        assert_eq!(u["name"]["familyName"], p.family.as_str());
        assert_eq!(u["title"], p.title.as_str());
        assert_eq!(u["active"], p.active, "{}", p.user_name);
        assert_eq!(u["emails"][0]["value"], p.user_name.as_str());
        names.insert(str_of(u, "id").to_owned(), p.user_name.clone());
    }
    let groups = all(s, "Groups", "excludedAttributes=members");
    let on_server: BTreeSet<&str> = groups.iter().map(|g| str_of(g, "displayName")).collect();
    assert_eq!(&on_server, groups_in_source);
    for g in &groups {
        let name = str_of(g, "displayName");
        let full = s.get(&format!("/Groups/{}", str_of(g, "id"))).json();
        let members: BTreeSet<String> = full["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| names[str_of(x, "value")].clone())
            .collect();
        let want: BTreeSet<String> = m.groups[name].iter().cloned().collect();
        assert_eq!(members.len(), want.len(), "{name}");
        assert!(members == want, "members of {name} differ");
    }
}

fn counts(summary: &Value) -> (u64, u64, u64, u64) {
    let r = &summary["requests"];
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("no count {k} in {summary}"));
    (n("POST"), n("PUT"), n("PATCH"), n("DELETE"))
}

/// Push, check, push unchanged (no writes), change a title and a membership, push (exactly one
/// user update and one membership PATCH), check.
fn scenario(file: &str, write: fn(&Model) -> String) {
    let s = Scim::start("internal");
    let m = model(USERS);
    let mut groups: BTreeSet<&str> = m.groups.keys().map(String::as_str).collect();
    if file.ends_with(".csv") {
        groups.remove("Empty");
    }
    let path = temp_file(s.server.path(), file, &write(&m));

    let first = push(&s, &path, &[]);
    assert_eq!(first["users"]["created"], USERS, "{first:#}");
    assert_eq!(first["groups"]["created"], groups.len(), "{first:#}");
    let members: usize = m.groups.values().map(Vec::len).sum();
    assert_eq!(first["groups"]["members_added"], members, "{first:#}");
    // Users through /Bulk (1,000 per request), one POST per group, and one PATCH for the
    // second thousand of the 2,000-member group: nothing else.
    let (post, put, patch, delete) = counts(&first);
    assert_eq!(
        (post, put, delete),
        (USERS as u64 / 1000 + groups.len() as u64, 0, 0),
        "{first:#}"
    );
    assert_eq!(patch, 1, "{first:#}");
    assert_server_matches(&s, &m, &groups);

    let again = push(&s, &path, &[]);
    assert_eq!(again["changed"], false, "{again:#}");
    assert_eq!(again["users"]["unchanged"], USERS);
    assert_eq!(again["groups"]["unchanged"], groups.len());
    assert_eq!(counts(&again), (0, 0, 0, 0), "{again:#}");

    let changed = m.changed();
    std::fs::write(&path, write(&changed)).unwrap_or_else(|e| panic!("write: {e}"));
    let plan = push(&s, &path, &["--dry-run"]);
    assert_eq!(plan["users"]["updated"], 1);
    assert_eq!(plan["groups"]["members_removed"], 1);
    assert_eq!(counts(&plan), (0, 0, 0, 0), "{plan:#}");
    let third = push(&s, &path, &[]);
    assert_eq!(third["users"]["updated"], 1, "{third:#}");
    assert_eq!(third["users"]["unchanged"], USERS - 1);
    assert_eq!(third["groups"]["updated"], 1, "{third:#}");
    assert_eq!(third["groups"]["members_removed"], 1);
    assert_eq!(third["groups"]["members_added"], 0);
    assert_eq!(
        counts(&third),
        (0, 0, 2, 0),
        "one user PATCH and one group PATCH: {third:#}"
    );
    assert_server_matches(&s, &changed, &groups);
}

#[test]
fn a_csv_directory_is_pushed_then_only_its_changes() {
    scenario("directory.csv", Model::csv);
}

#[test]
fn a_json_directory_is_pushed_then_only_its_changes() {
    scenario("directory.json", Model::json);
}

#[test]
fn an_ldif_directory_is_pushed_then_only_its_changes() {
    scenario("directory.ldif", Model::ldif);
}

#[test]
fn absent_users_are_deactivated_or_deleted_only_when_asked_and_bad_rows_are_reported() {
    let s = Scim::start("internal");
    let m = model(30);
    let path = temp_file(s.server.path(), "small.csv", &m.csv());
    let first = push(&s, &path, &["--no-bulk"]);
    assert_eq!(counts(&first).0, 30 + 2);

    // Drop two users; add a bad row. Without a flag nothing is deactivated.
    let mut fewer = m.clone();
    let gone: Vec<String> = fewer.people.drain(..2).map(|p| p.user_name).collect();
    for ms in fewer.groups.values_mut() {
        ms.retain(|u| !gone.contains(u));
    }
    let text = format!("{}bad-row-without-enough-fields\r\n", fewer.csv());
    std::fs::write(&path, text).unwrap();
    let kept = push(&s, &path, &["--deactivate-missing"]);
    assert_eq!(
        kept["users"]["deactivated"], 0,
        "a skipped row blocks deactivation: {kept:#}"
    );
    assert_eq!(
        kept["groups"]["members_removed"], 3,
        "memberships follow the source: {kept:#}"
    );
    let warnings = kept["warnings"].to_string();
    assert!(
        warnings.contains("small.csv:30") && warnings.contains("fields"),
        "{warnings}"
    );

    let strict = Command::new(BIN)
        .args(["push", "--strict", "--source"])
        .arg(&path)
        .args(["--base-url", &s.base, "--token", &s.token])
        .output()
        .unwrap();
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("small.csv:30"));

    std::fs::write(&path, fewer.csv()).unwrap();
    let plan = plan_text(&s, &path, &["--deactivate-missing"]);
    assert!(plan.contains(&format!("deactivate user {}", gone[0])), "{plan}");
    assert!(plan.contains(&format!("deactivate user {}", gone[1])), "{plan}");
    assert!(plan.contains("dry run: nothing was written"), "{plan}");

    let off = push(&s, &path, &["--deactivate-missing"]);
    assert_eq!(off["users"]["deactivated"], 2, "{off:#}");
    let u = s
        .get(&format!("/Users?filter=userName%20eq%20%22{}%22", gone[0]))
        .json();
    assert_eq!(u["Resources"][0]["active"], false, "deactivated users stay readable");
    assert_eq!(push(&s, &path, &["--deactivate-missing"])["changed"], false);

    // More removals than allowed: refused before any write.
    let guarded = Command::new(BIN)
        .args([
            "push",
            "--delete-missing",
            "--users-only",
            "--max-removals",
            "1",
            "--source",
        ])
        .arg(&path)
        .args(["--base-url", &s.base, "--token", &s.token])
        .output()
        .unwrap();
    assert!(!guarded.status.success());
    let err = String::from_utf8_lossy(&guarded.stderr);
    assert!(err.contains("delete 2") && err.contains("--max-removals 1"), "{err}");
    assert_eq!(s.get("/Users?count=0").json()["totalResults"], 30);

    let del = push(&s, &path, &["--delete-missing", "--users-only"]);
    assert_eq!(del["users"]["deleted"], 2, "{del:#}");
    assert_eq!(s.get("/Users?count=0").json()["totalResults"], 28);
}

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A server whose provider declares the Acme extension (a string `costCenter`, indexed, and
/// an integer `level`), declared before its first SCIM request.
fn with_acme() -> Scim {
    let s = Scim::start("internal");
    let schema = json!({"id": ACME, "name": "Acme", "attributes": [
        {"name": "costCenter", "type": "string"}, {"name": "level", "type": "integer"}]});
    let file = temp_file(s.server.path(), "acme.json", &schema.to_string());
    let file = format!("--file={}", file.display());
    let out = s
        .server
        .cli(&["provider", "schema", "add", "okta", &file, "--index=costCenter"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s
}

/// The server's users by userName.
fn users_by_name(s: &Scim) -> BTreeMap<String, Value> {
    all(s, "Users", "excludedAttributes=groups")
        .into_iter()
        .map(|u| (str_of(&u, "userName").to_owned(), u))
        .collect()
}

fn acme_csv(rows: &[(&str, &str, &str)]) -> String {
    let mut out = format!("userName,email,{ACME}:costCenter,{ACME}:level\n");
    for (user, cost, level) in rows {
        let _ = writeln!(out, "{user},{user},{cost},{level}");
    }
    out
}

#[test]
fn csv_extension_columns_are_written_typed_then_only_their_changes() {
    let s = with_acme();
    let mut rows = vec![
        ("ann@example.com", "CC-100", "1"),
        ("ben@example.com", "CC-101", "2"),
        ("cat@example.com", "", ""),
    ];
    let path = temp_file(s.server.path(), "acme.csv", &acme_csv(&rows));
    let first = push(&s, &path, &["--no-bulk"]);
    assert_eq!(first["users"]["created"], 3, "{first:#}");
    let users = users_by_name(&s);
    let ann = &users["ann@example.com"];
    assert_eq!(ann[ACME], json!({"costCenter": "CC-100", "level": 1}), "{ann:#}");
    assert!(
        ann["schemas"].as_array().is_some_and(|s| s.contains(&json!(ACME))),
        "{ann:#}"
    );
    assert_eq!(
        users["ben@example.com"][ACME]["level"], 2,
        "the string cell became an integer"
    );
    assert!(
        users["cat@example.com"].get(ACME).is_none(),
        "{:#}",
        users["cat@example.com"]
    );
    let found = s.get(&format!(
        "/Users?filter={}",
        enc(&format!("{ACME}:costCenter eq \"CC-101\""))
    ));
    assert_eq!(ids(&found.json()), [str_of(&users["ben@example.com"], "id")]);

    // One cell changes: the plan names that attribute alone, and one PATCH lands it.
    rows[1].2 = "5";
    std::fs::write(&path, acme_csv(&rows)).unwrap_or_else(|e| panic!("write: {e}"));
    let plan = plan_text(&s, &path, &[]);
    let updates: Vec<&str> = plan.lines().filter(|l| l.starts_with("update user")).collect();
    assert_eq!(
        updates,
        [format!("update user ben@example.com: {ACME}:level 2 -> \"5\"")],
        "{plan}"
    );
    let second = push(&s, &path, &[]);
    assert_eq!(
        (second["users"]["updated"].clone(), second["users"]["unchanged"].clone()),
        (json!(1), json!(2)),
        "{second:#}"
    );
    assert_eq!(counts(&second), (0, 0, 1, 0), "{second:#}");
    assert_eq!(
        users_by_name(&s)["ben@example.com"][ACME],
        json!({"costCenter": "CC-101", "level": 5})
    );

    let third = push(&s, &path, &[]);
    assert_eq!(third["changed"], false, "{third:#}");
    assert_eq!(counts(&third), (0, 0, 0, 0), "{third:#}");

    // A cell emptied is a removal; through PUT the server's document goes back without it.
    rows[0].1 = "";
    std::fs::write(&path, acme_csv(&rows)).unwrap_or_else(|e| panic!("write: {e}"));
    let removed = push(&s, &path, &["--update", "put"]);
    assert_eq!(counts(&removed), (0, 1, 0, 0), "{removed:#}");
    assert_eq!(users_by_name(&s)["ann@example.com"][ACME], json!({"level": 1}));
    assert_eq!(push(&s, &path, &[])["changed"], false);

    // A CSV without the columns leaves the values alone.
    let plain = temp_file(s.server.path(), "plain.csv", "userName\nann@example.com\n");
    let left = push(&s, &plain, &[]);
    assert_eq!(left["changed"], false, "{left:#}");
    assert_eq!(users_by_name(&s)["ben@example.com"][ACME]["costCenter"], "CC-101");
}

#[test]
fn json_extension_objects_and_urn_keys_are_pushed_with_their_types() {
    let s = with_acme();
    let doc = |level: u32| {
        json!({"Users": [
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
             "userName": "dee@example.com", ACME: {"costCenter": "CC-7", "level": level},
             format!("{ENTERPRISE}:employeeNumber"): "E-1"},
            {"userName": "eve@example.com", ACME: {"costCenter": "CC-8"}}
        ]})
        .to_string()
    };
    let path = temp_file(s.server.path(), "acme.json", &doc(3));
    let first = push(&s, &path, &["--no-bulk"]);
    assert_eq!(first["users"]["created"], 2, "{first:#}");
    let users = users_by_name(&s);
    let dee = &users["dee@example.com"];
    assert_eq!(dee[ACME], json!({"costCenter": "CC-7", "level": 3}), "{dee:#}");
    assert_eq!(dee[ENTERPRISE]["employeeNumber"], "E-1", "{dee:#}");
    assert_eq!(users["eve@example.com"][ACME], json!({"costCenter": "CC-8"}));
    assert_eq!(push(&s, &path, &[])["changed"], false);

    std::fs::write(&path, doc(4)).unwrap_or_else(|e| panic!("write: {e}"));
    let plan = plan_text(&s, &path, &[]);
    assert!(
        plan.contains(&format!("update user dee@example.com: {ACME}:level 3 -> 4\n")),
        "{plan}"
    );
    let changed = push(&s, &path, &[]);
    assert_eq!(changed["users"]["updated"], 1, "{changed:#}");
    assert_eq!(users_by_name(&s)["dee@example.com"][ACME]["level"], 4);
    assert_eq!(push(&s, &path, &[])["changed"], false);
}

#[test]
fn ldif_attributes_named_by_map_are_pushed_as_extension_attributes() {
    let s = with_acme();
    let ldif = |cost: &str| {
        format!(
            "dn: uid=fay,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: fay@example.com\n\
             sn: Fay\ncostCenter: {cost}\nemployeeNumber: 77\n"
        )
    };
    let path = temp_file(s.server.path(), "acme.ldif", &ldif("CC-9"));
    let cost_map = format!("costcenter={ACME}:costCenter");
    let number_map = format!("EmployeeNumber={ENTERPRISE}:employeeNumber");
    let maps = ["--map", cost_map.as_str(), "--map", number_map.as_str()];
    assert_eq!(push(&s, &path, &maps)["users"]["created"], 1);
    let fay = &users_by_name(&s)["fay@example.com"];
    assert_eq!(fay[ACME]["costCenter"], "CC-9", "{fay:#}");
    assert_eq!(fay[ENTERPRISE]["employeeNumber"], "77", "{fay:#}");
    assert_eq!(push(&s, &path, &maps)["changed"], false);

    std::fs::write(&path, ldif("CC-10")).unwrap_or_else(|e| panic!("write: {e}"));
    let plan = plan_text(&s, &path, &maps);
    assert!(
        plan.contains(&format!(
            "update user fay@example.com: {ACME}:costCenter \"CC-9\" -> \"CC-10\"\n"
        )),
        "{plan}"
    );
    assert_eq!(push(&s, &path, &maps)["users"]["updated"], 1);
    assert_eq!(users_by_name(&s)["fay@example.com"][ACME]["costCenter"], "CC-10");
}
