//! Bulk through the live server (RFC 7644 §3.7): bulkId references in either direction,
//! failOnErrors, per-operation failures, and the advertised limits enforced with 413.

use serde_json::{Value, json};

use crate::support::{Scim, assert_scim_error, enc, ids, str_of};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn bulk(s: &Scim, ops: Value, extra: Value) -> Vec<Value> {
    let mut body = json!({"schemas": [BULK], "Operations": ops});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = s.call("POST", "/Bulk", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let reply = r.json();
    assert_eq!(reply["schemas"], json!([BULK_RESPONSE]), "{reply}");
    reply["Operations"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no Operations: {reply}"))
}

fn new_user(bulk_id: &str, name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"schemas": [USER], "userName": name}})
}

/// The result for `bulk_id`, which must be there.
fn result<'a>(results: &'a [Value], bulk_id: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["bulkId"] == bulk_id)
        .unwrap_or_else(|| panic!("no result for {bulk_id}: {results:?}"))
}

/// The id at the end of a result's location.
fn id_of(result: &Value) -> String {
    str_of(result, "location")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn user_count(s: &Scim, user_name: &str) -> Value {
    s.get(&format!(
        "/Users?filter={}",
        enc(&format!("userName eq \"{user_name}\""))
    ))
    .json()["totalResults"]
        .clone()
}

#[test]
fn bulk_creates_users_and_a_group_that_refers_to_them_by_bulk_id_before_or_after_them() {
    let s = Scim::start("internal");
    for (n, group_first) in [(1, true), (2, false)] {
        let group = json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "schemas": [GROUP], "displayName": format!("Ops {n}"),
            "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]
        }});
        let users = [
            new_user("u1", &format!("one.{n}@example.com")),
            new_user("u2", &format!("two.{n}@example.com")),
        ];
        let ops: Vec<Value> = if group_first {
            std::iter::once(group).chain(users).collect()
        } else {
            users.into_iter().chain(std::iter::once(group)).collect()
        };
        let results = bulk(&s, Value::Array(ops), json!({}));
        assert_eq!(results.len(), 3, "{results:?}");
        for b in ["g", "u1", "u2"] {
            let r = result(&results, b);
            assert_eq!(r["status"], "201", "{r}");
            assert_eq!(r["method"], "POST", "{r}");
            assert!(r["version"].is_string(), "{r}");
        }
        let group_location = str_of(result(&results, "g"), "location");
        assert!(
            group_location.starts_with(&format!("{}/Groups/", s.base)),
            "{group_location}"
        );
        let (u1, u2) = (id_of(result(&results, "u1")), id_of(result(&results, "u2")));
        let got = s.get(group_location);
        assert_eq!(got.status, 200, "{}", got.body);
        let mut members: Vec<String> = got.json()["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| str_of(m, "value").to_owned())
            .collect();
        members.sort();
        let mut want = vec![u1.clone(), u2];
        want.sort();
        assert_eq!(members, want, "group first: {group_first}");
        let user = s.get(&format!("/Users/{u1}")).json();
        assert_eq!(user["groups"][0]["value"], id_of(result(&results, "g")), "{user}");
    }
}

#[test]
fn fail_on_errors_stops_after_the_first_error() {
    let s = Scim::start("internal");
    let ops = json!([
        new_user("a", "a@example.com"),
        new_user("dup", "A@example.com"),
        new_user("c", "c@example.com")
    ]);
    let results = bulk(&s, ops, json!({"failOnErrors": 1}));
    assert_eq!(
        results.len(),
        2,
        "operations after the error ran or were reported: {results:?}"
    );
    assert_eq!(result(&results, "a")["status"], "201");
    let dup = result(&results, "dup");
    assert_eq!(dup["status"], "409", "{dup}");
    assert_eq!(dup["response"]["scimType"], "uniqueness", "{dup}");
    assert_eq!(dup["response"]["status"], "409", "{dup}");
    assert_eq!(user_count(&s, "c@example.com"), 0);

    // Without failOnErrors every operation runs.
    let ops = json!([new_user("dup", "a@example.com"), new_user("d", "d@example.com")]);
    let results = bulk(&s, ops, json!({}));
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(result(&results, "d")["status"], "201");
}

#[test]
fn patch_put_and_delete_work_by_path_in_bulk() {
    let s = Scim::start("internal");
    let keep = str_of(&s.user("keep@example.com"), "id").to_owned();
    let change = str_of(&s.user("change@example.com"), "id").to_owned();
    let gone = str_of(&s.user("gone@example.com"), "id").to_owned();
    let ops = json!([
        {"method": "PATCH", "path": format!("/Users/{keep}"), "data": {
            "schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]
        }},
        {"method": "PUT", "path": format!("/Users/{change}"), "data": {
            "schemas": [USER], "userName": "change@example.com", "title": "Replaced"
        }},
        {"method": "DELETE", "path": format!("/Users/{gone}")},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "Later"}},
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": keep}]}]
        }}
    ]);
    let results = bulk(&s, ops, json!({}));
    let statuses: Vec<&str> = results.iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["200", "200", "204", "201", "200"], "{results:?}");
    assert_eq!(s.get(&format!("/Users/{keep}")).json()["active"], false);
    let changed = s.get(&format!("/Users/{change}")).json();
    assert_eq!(changed["title"], "Replaced", "{changed}");
    assert!(changed.get("emails").is_none(), "PUT replaces: {changed}");
    assert_scim_error(&s.get(&format!("/Users/{gone}")), 404, None);
    let group = s.get(&format!("/Groups/{}", id_of(result(&results, "g")))).json();
    assert_eq!(group["members"][0]["value"], keep.as_str(), "{group}");
}

#[test]
fn a_failing_bulk_operation_fails_alone() {
    let s = Scim::start("internal");
    let missing = "2b7f1c3e-0000-4000-8000-000000000000";
    let ops = json!([
        new_user("ok1", "ok1@example.com"),
        {"method": "POST", "path": "/Widgets", "bulkId": "w", "data": {"name": "x"}},
        {"method": "DELETE", "path": format!("/Users/{missing}")},
        {"method": "PATCH", "path": "/Groups/bulkId:never", "data": {"schemas": [PATCH], "Operations": []}},
        new_user("ok2", "ok2@example.com")
    ]);
    let results = bulk(&s, ops, json!({}));
    assert_eq!(results.len(), 5, "{results:?}");
    assert_eq!(result(&results, "ok1")["status"], "201");
    assert_eq!(result(&results, "ok2")["status"], "201");
    for failed in &results[1..4] {
        let status = failed["status"].as_str().unwrap_or_default();
        assert!(status.starts_with('4'), "{failed}");
        assert_eq!(failed["response"]["status"], status, "{failed}");
        assert!(failed["response"]["detail"].is_string(), "{failed}");
    }
    assert_eq!(results[2]["status"], "404", "{}", results[2]);
    assert_eq!(ids(&s.get("/Users").json()).len(), 2);
}

#[test]
fn a_stale_version_in_a_bulk_operation_is_412() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    let ops = json!([
        {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"999\"", "data": {"schemas": [USER], "userName": "jane@example.com"}},
        {"method": "DELETE", "path": format!("/Users/{id}"), "version": u["meta"]["version"]}
    ]);
    let results = bulk(&s, ops, json!({}));
    let statuses: Vec<&str> = results.iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["412", "204"], "{results:?}");
}

#[test]
fn bulk_limits_are_enforced_with_413() {
    let s = Scim::start("internal");
    let c = s.get("/ServiceProviderConfig").json();
    let max_ops = c["bulk"]["maxOperations"].as_u64().unwrap_or_else(|| panic!("{c}"));
    let max_size = c["bulk"]["maxPayloadSize"].as_u64().unwrap_or_else(|| panic!("{c}"));

    let too_many: Vec<Value> = (0..=max_ops)
        .map(|i| new_user(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let r = s.call(
        "POST",
        "/Bulk",
        Some(&json!({"schemas": [BULK], "Operations": too_many})),
    );
    assert_scim_error(&r, 413, None);
    assert_eq!(
        s.get("/Users").json()["totalResults"],
        0,
        "a refused bulk request created users"
    );

    let padding = "x".repeat(max_size as usize + 1024);
    let big = json!({"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "big", "data": {"schemas": [USER], "userName": "big@example.com", "nickName": padding}}
    ]});
    assert_scim_error(&s.call("POST", "/Bulk", Some(&big)), 413, None);
    assert_eq!(user_count(&s, "big@example.com"), 0);

    // Bodies must be BulkRequests.
    let r = s.call(
        "POST",
        "/Bulk",
        Some(&json!({"Operations": [new_user("x", "x@example.com")]})),
    );
    assert_scim_error(&r, 400, None);
}
