//! Pages, sorting and projections through the live server: RFC 7644 §3.4.2.3 (sortBy),
//! §3.4.2.4 (startIndex and count), RFC 9865 (cursors), §3.4.2.5 and §3.9 (attributes and
//! excludedAttributes), and the `returned: never` password of RFC 7643 §4.1.1.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{Scim, assert_scim_error, enc, ids, patch_op, str_of};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// 25 users, `title` "even" or "odd" by their number; their ids in creation order.
fn crowd(s: &Scim) -> Vec<String> {
    (1..=25)
        .map(|i| {
            let body = json!({
                "schemas": [USER],
                "userName": format!("user{i:02}@example.com"),
                "title": if i % 2 == 0 { "even" } else { "odd" }
            });
            let r = s.call("POST", "/Users", Some(&body));
            assert_eq!(r.status, 201, "{}", r.body);
            str_of(&r.json(), "id").to_owned()
        })
        .collect()
}

fn list(s: &Scim, query: &str) -> Value {
    let r = s.get(&format!("/Users?{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn assert_no_duplicates(v: &[String]) {
    let unique: HashSet<&String> = v.iter().collect();
    assert_eq!(unique.len(), v.len(), "duplicates across pages: {v:?}");
}

fn keys(doc: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = doc
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort_unstable();
    k
}

#[test]
fn pages_by_start_index_cover_every_user_once_in_a_stable_order() {
    let s = Scim::start("internal");
    let created = crowd(&s);
    let walk = || {
        let mut seen = Vec::new();
        for (start, items) in [(1u64, 10u64), (11, 10), (21, 5)] {
            let page = list(&s, &format!("startIndex={start}&count=10"));
            assert!(
                page["totalResults"].is_u64() && page["startIndex"].is_u64() && page["itemsPerPage"].is_u64(),
                "{page}"
            );
            assert_eq!(page["totalResults"], 25, "{page}");
            assert_eq!(page["startIndex"], start, "{page}");
            assert_eq!(page["itemsPerPage"], items, "{page}");
            assert_eq!(ids(&page).len() as u64, items, "{page}");
            seen.extend(ids(&page));
        }
        seen
    };
    let first = walk();
    assert_no_duplicates(&first);
    assert_eq!(sorted(first.clone()), sorted(created.clone()));
    assert_eq!(walk(), first, "the order changed between two walks");
    // Okta's import reads 100 at a time.
    assert_eq!(ids(&list(&s, "startIndex=1&count=100")), first);
}

#[test]
fn count_and_start_index_out_of_range_are_read_as_rfc_7644_says() {
    let s = Scim::start("internal");
    crowd(&s);
    let first_ten = ids(&list(&s, "startIndex=1&count=10"));

    for count in ["0", "-5"] {
        let page = list(&s, &format!("count={count}"));
        assert_eq!(page["totalResults"], 25, "count={count}: {page}");
        assert_eq!(page["itemsPerPage"], 0, "count={count}: {page}");
        assert_eq!(
            page["Resources"],
            json!([]),
            "count={count}: Resources must be present: {page}"
        );
    }
    let capped = list(&s, "count=5000");
    assert_eq!(capped["itemsPerPage"], 25, "{capped}");

    let zero = list(&s, "startIndex=0&count=10");
    assert_eq!(zero["startIndex"], 1, "{zero}");
    assert_eq!(ids(&zero), first_ten);
    let negative = list(&s, "startIndex=-4&count=3");
    assert_eq!(negative["startIndex"], 1, "{negative}");
    assert_eq!(ids(&negative), first_ten[..3].to_vec());

    let beyond = list(&s, "startIndex=26&count=10");
    assert_eq!(beyond["totalResults"], 25, "{beyond}");
    assert_eq!(beyond["Resources"], json!([]), "{beyond}");
}

#[test]
fn filtered_pages_count_and_cover_only_the_matches() {
    let s = Scim::start("internal");
    let created = crowd(&s);
    let evens: Vec<String> = created.iter().skip(1).step_by(2).cloned().collect();
    let filter = enc("title eq \"even\"");
    let mut seen = Vec::new();
    for (start, items) in [(1, 5), (6, 5), (11, 2)] {
        let page = list(&s, &format!("filter={filter}&startIndex={start}&count=5"));
        assert_eq!(page["totalResults"], 12, "{page}");
        assert_eq!(page["itemsPerPage"], items, "{page}");
        seen.extend(ids(&page));
    }
    assert_no_duplicates(&seen);
    assert_eq!(sorted(seen), sorted(evens));

    let top = list(
        &s,
        &format!("filter={filter}&sortBy=userName&sortOrder=descending&count=2"),
    );
    let names: Vec<&str> = top["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["userName"].as_str())
        .collect();
    assert_eq!(names, ["user24@example.com", "user22@example.com"]);
}

#[test]
fn cursor_pages_follow_next_cursor_until_it_is_absent() {
    let s = Scim::start("internal");
    let created = crowd(&s);
    let walk = |filter: &str| {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..10 {
            let page = list(&s, &format!("cursor={}&count=10{filter}", enc(&cursor)));
            assert!(ids(&page).len() <= 10, "{page}");
            seen.extend(ids(&page));
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = next.to_owned(),
                None => return seen,
            }
        }
        panic!("nextCursor never ran out: {seen:?}")
    };
    let all = walk("");
    assert_no_duplicates(&all);
    assert_eq!(sorted(all), sorted(created.clone()));

    let odds: Vec<String> = created.iter().step_by(2).cloned().collect();
    let filtered = walk(&format!("&filter={}", enc("title eq \"odd\"")));
    assert_no_duplicates(&filtered);
    assert_eq!(sorted(filtered), sorted(odds));

    // RFC 9865 "Pagination Errors": a cursor the server never issued is 400 invalidCursor.
    for garbage in ["not-a-cursor", "zzz", "c-1"] {
        let r = s.get(&format!("/Users?cursor={}&count=10", enc(garbage)));
        assert_scim_error(&r, 400, Some("invalidCursor"));
    }
}

#[test]
fn sorting_ignores_case_and_puts_missing_values_last_ascending_first_descending() {
    let s = Scim::start("internal");
    for name in ["bravo@x.test", "Alpha@x.test", "charlie@x.test", "Delta@x.test"] {
        s.user(name);
    }
    let names = |query: &str| -> Vec<String> {
        list(&s, query)["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| str_of(u, "userName").to_owned())
            .collect()
    };
    let ascending = ["Alpha@x.test", "bravo@x.test", "charlie@x.test", "Delta@x.test"];
    assert_eq!(names("sortBy=userName"), ascending);
    assert_eq!(names("sortBy=userName&sortOrder=ascending"), ascending);
    let mut descending = ascending;
    descending.reverse();
    assert_eq!(names("sortBy=userName&sortOrder=descending"), descending);
    assert_eq!(
        names("sortBy=userName&startIndex=3&count=2"),
        ["charlie@x.test", "Delta@x.test"]
    );

    // Resources without the attribute sort last ascending, first descending (§3.4.2.3).
    let titled = |name: &str, title: &str| {
        let r = s.call(
            "GET",
            &format!("/Users?filter={}", enc(&format!("userName eq \"{name}\""))),
            None,
        );
        let id = str_of(&r.json()["Resources"][0], "id").to_owned();
        let op = patch_op(json!([{"op": "replace", "path": "title", "value": title}]));
        assert_eq!(s.call("PATCH", &format!("/Users/{id}"), Some(&op)).status, 200);
    };
    titled("Delta@x.test", "a-title");
    titled("bravo@x.test", "B-title");
    let by_title = names("sortBy=title");
    assert_eq!(by_title[..2], ["Delta@x.test", "bravo@x.test"], "{by_title:?}");
    let by_title = names("sortBy=title&sortOrder=descending");
    assert_eq!(by_title[2..], ["bravo@x.test", "Delta@x.test"], "{by_title:?}");

    for bad in [
        "sortBy=noSuchAttribute",
        "sortBy=name.noSuchPart",
        "sortBy=userName&sortOrder=sideways",
    ] {
        assert_scim_error(&s.get(&format!("/Users?{bad}")), 400, None);
    }
}

fn full_user(name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "displayName": "Jane Doe",
        "emails": [{"type": "work", "value": name, "primary": true}],
        ENTERPRISE: {"employeeNumber": "42", "department": "Ops"}
    })
}

#[test]
fn attributes_pick_what_list_get_and_create_return() {
    let s = Scim::start("internal");
    let only = ["id", "schemas", "userName"];
    let created = s.call(
        "POST",
        "/Users?attributes=userName",
        Some(&full_user("jane@example.com")),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(keys(&created.json()), only, "{}", created.body);
    let id = str_of(&created.json(), "id").to_owned();

    let listed = list(&s, "attributes=userName");
    assert_eq!(keys(&listed["Resources"][0]), only, "{listed}");
    let one = s.get(&format!("/Users/{id}?attributes=userName")).json();
    assert_eq!(keys(&one), only, "{one}");

    let parts = s.get(&format!("/Users/{id}?attributes=name.givenName,emails")).json();
    assert_eq!(keys(&parts), ["emails", "id", "name", "schemas"], "{parts}");
    assert_eq!(parts["name"], json!({"givenName": "Jane"}));
    let ext = s
        .get(&format!(
            "/Users/{id}?attributes={}",
            enc(&format!("{ENTERPRISE}:employeeNumber"))
        ))
        .json();
    assert_eq!(ext[ENTERPRISE], json!({"employeeNumber": "42"}), "{ext}");
    assert!(ext.get("userName").is_none(), "{ext}");
}

#[test]
fn excluded_attributes_leave_out_only_what_is_named() {
    let s = Scim::start("internal");
    let created = s.call(
        "POST",
        "/Users?excludedAttributes=emails",
        Some(&full_user("jane@example.com")),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let c = created.json();
    assert!(c.get("emails").is_none(), "{c}");
    assert_eq!(c["userName"], "jane@example.com");
    let id = str_of(&c, "id").to_owned();

    let listed = list(&s, "excludedAttributes=emails");
    let u = &listed["Resources"][0];
    assert!(u.get("emails").is_none(), "{u}");
    for present in ["id", "schemas", "userName", "name", "displayName", "meta", ENTERPRISE] {
        assert!(u.get(present).is_some(), "{present} missing: {u}");
    }
    let sub = s.get(&format!("/Users/{id}?excludedAttributes=name.familyName")).json();
    assert_eq!(sub["name"], json!({"givenName": "Jane"}), "{sub}");
    // `returned: always` attributes cannot be excluded (RFC 7643 §2.4).
    let always = s.get(&format!("/Users/{id}?excludedAttributes=id,schemas")).json();
    assert_eq!(always["id"], id.as_str(), "{always}");
    assert!(always.get("schemas").is_some(), "{always}");
    // Excluded from the answer, not from the resource.
    let whole = s.get(&format!("/Users/{id}")).json();
    assert_eq!(whole["emails"][0]["value"], "jane@example.com", "{whole}");
}

#[test]
fn a_password_is_never_returned_nor_stored_as_sent() {
    let s = Scim::start("internal");
    let mut body = full_user("jane@example.com");
    body["password"] = json!("Secret123!");
    let created = s.call("POST", "/Users", Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = str_of(&created.json(), "id").to_owned();
    body["password"] = json!("Replaced456!");
    let replaced = s.call("PUT", &format!("/Users/{id}"), Some(&body));
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let patched = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(
            json!([{"op": "replace", "path": "password", "value": "Patched789!"}]),
        )),
    );
    assert!(patched.status == 200 || patched.status == 204, "{}", patched.body);

    let answers = [
        created.body,
        replaced.body,
        patched.body,
        s.get(&format!("/Users/{id}")).body,
        s.get(&format!("/Users/{id}?attributes=password,userName")).body,
        s.get("/Users").body,
        s.get("/Users?attributes=password").body,
    ];
    for a in &answers {
        assert!(!a.contains("password"), "password returned: {a}");
    }

    let dir = s.server.path();
    for (file, bytes) in [
        ("the database", crate::support::db_bytes(dir)),
        ("server.log", std::fs::read(dir.join("server.log")).unwrap_or_default()),
    ] {
        for secret in ["Secret123!", "Replaced456!", "Patched789!"] {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} is in {file}");
        }
    }
}
