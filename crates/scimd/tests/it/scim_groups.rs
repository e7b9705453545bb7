//! /Groups through the live server: members in their own table, computed `groups` on users,
//! uniqueness, and member rules (RFC 7643 §4.2, RFC 7644 §3.5.2).

use serde_json::{Value, json};

use crate::support::{Scim, member_ids, patch_op, str_of};

#[test]
fn a_group_with_members_reads_back_with_refs_and_users_show_their_groups() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let (ida, idb) = (str_of(&a, "id"), str_of(&b, "id"));
    let g = s.group("Ops", &[ida, idb]);
    let gid = str_of(&g, "id");
    let mut want = vec![ida.to_owned(), idb.to_owned()];
    want.sort();
    assert_eq!(member_ids(&g), want);
    let read = s.get(&format!("/Groups/{gid}")).json();
    assert_eq!(member_ids(&read), want);
    let m = &read["members"][0];
    assert!(
        m["$ref"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{}/Users/", s.base)))
    );
    assert_eq!(m["type"], "User");
    assert!(m.get("display").is_none(), "no display was sent, none is invented");

    let user = s.get(&format!("/Users/{ida}")).json();
    assert_eq!(user["groups"][0]["value"], gid);
    assert_eq!(user["groups"][0]["display"], "Ops");

    let slim = s.get(&format!("/Groups/{gid}?excludedAttributes=members")).json();
    assert!(slim.get("members").is_none());
    assert_eq!(slim["displayName"], "Ops");
    let only = s.get(&format!("/Groups/{gid}?attributes=displayName")).json();
    assert!(only.get("members").is_none());
    assert_eq!(only["id"], gid);
}

#[test]
fn group_names_are_unique_per_provider_and_members_must_exist() {
    let s = Scim::start("internal");
    s.group("Ops", &[]);
    let dup = s.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops"})),
    );
    assert_eq!(dup.status, 409);
    assert_eq!(dup.json()["scimType"], "uniqueness");
    let ghost = s.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Dev", "members": [{"value": "no-such-user"}]})),
    );
    assert_eq!(ghost.status, 400, "{}", ghost.body);
    assert_eq!(ghost.json()["scimType"], "invalidValue");
    // Nothing was created by the refused request.
    let list = s.get("/Groups?filter=displayName%20eq%20%22Dev%22").json();
    assert_eq!(list["totalResults"], 0);
    let no_name = s.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]})),
    );
    assert_eq!(no_name.status, 400);
}

#[test]
fn groups_can_hold_groups_but_not_other_providers_resources() {
    let s = Scim::start("internal");
    let inner = s.group("Inner", &[]);
    let outer = s.group("Outer", &[str_of(&inner, "id")]);
    assert_eq!(outer["members"][0]["type"], "Group");
    let (base, token) = s.another("Vendor", "third-party");
    let foreign = crate::support::call(
        "POST",
        &format!("{base}/Groups"),
        &[("Authorization", &format!("Bearer {token}")), ("Content-Type", "application/scim+json")],
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "X", "members": [{"value": str_of(&inner, "id")}]}).to_string()),
    );
    assert_eq!(foreign.status, 400, "{}", foreign.body);
    let own = s.call(
        "PATCH",
        &format!("/Groups/{}", str_of(&outer, "id")),
        Some(&patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": str_of(&outer, "id")}]}]),
        )),
    );
    assert_eq!(own.status, 400, "a group cannot contain itself");
}

#[test]
fn put_with_members_replaces_them_and_without_keeps_them() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let g = s.group("Ops", &[str_of(&a, "id")]);
    let gid = str_of(&g, "id");
    let put = s.call(
        "PUT",
        &format!("/Groups/{gid}"),
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Operations", "members": [{"value": str_of(&b, "id")}]})),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(member_ids(&put.json()), vec![str_of(&b, "id").to_owned()]);
    let rename = s.call(
        "PUT",
        &format!("/Groups/{gid}"),
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops 2"})),
    );
    assert_eq!(rename.status, 200);
    assert_eq!(
        member_ids(&s.get(&format!("/Groups/{gid}")).json()),
        vec![str_of(&b, "id").to_owned()]
    );
    let empty = s.call(
        "PUT",
        &format!("/Groups/{gid}"),
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops 2", "members": []}),
        ),
    );
    assert_eq!(empty.status, 200);
    assert!(member_ids(&s.get(&format!("/Groups/{gid}")).json()).is_empty());
}

#[test]
fn deleting_a_group_removes_it_from_its_members_groups() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let g = s.group("Ops", &[str_of(&a, "id")]);
    assert_eq!(
        s.call("DELETE", &format!("/Groups/{}", str_of(&g, "id")), None).status,
        204
    );
    let user = s.get(&format!("/Users/{}", str_of(&a, "id"))).json();
    assert!(
        user.get("groups")
            .is_none_or(|g| g.as_array().is_some_and(Vec::is_empty))
    );
    assert_eq!(
        s.call("DELETE", &format!("/Groups/{}", str_of(&g, "id")), None).status,
        404
    );
}

#[test]
fn the_cli_lists_each_population_apart() {
    let s = Scim::start("internal");
    s.user("staff@example.com");
    s.group("Staff", &[]);
    let (vbase, vtoken) = s.another("Vendor", "third-party");
    let post = |path: &str, body: Value| {
        crate::support::call(
            "POST",
            &format!("{vbase}{path}"),
            &[
                ("Authorization", &format!("Bearer {vtoken}")),
                ("Content-Type", "application/scim+json"),
            ],
            Some(&body.to_string()),
        )
    };
    assert_eq!(
        post(
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "contractor@vendor.com"})
        )
        .status,
        201
    );
    assert_eq!(
        post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Acme Vendors"})
        )
        .status,
        201
    );

    let list = |what: &str, pop: &str| -> Vec<Value> {
        let out = s.server.cli(&[what, "list", "--population", pop, "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let internal_users = list("users", "internal");
    assert_eq!(internal_users.len(), 1);
    assert_eq!(internal_users[0]["userName"], "staff@example.com");
    assert_eq!(internal_users[0]["population"], "internal");
    let vendors = list("users", "third-party");
    assert_eq!(vendors.len(), 1);
    assert_eq!(vendors[0]["userName"], "contractor@vendor.com");
    assert_eq!(vendors[0]["provider"], "vendor");
    let vendor_groups = list("groups", "third-party");
    assert_eq!(vendor_groups.len(), 1);
    assert_eq!(vendor_groups[0]["displayName"], "Acme Vendors");
    assert_eq!(list("groups", "internal")[0]["displayName"], "Staff");
    let table = s.server.cli(&["groups", "list", "--population", "third-party"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("vendor groups"));
}

/// RFC 7644 §3.5.2: a PATCH answers 200 with the resource or 204, and 200 with the
/// projection when `attributes` is asked for. A group PATCH without a projection answers
/// 204 (a 100,000-member group is never rendered for a one-member change), with the new
/// ETag; a provider set to `full` gets the whole group.
#[test]
fn a_group_patch_answers_204_unless_a_projection_or_the_provider_asks_for_the_body() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let (ida, idb) = (str_of(&a, "id"), str_of(&b, "id"));
    let g = s.group("Ops", &[ida]);
    let gid = str_of(&g, "id");
    let add_b = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": idb}]}]));
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(&add_b));
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.body.is_empty(), "{}", r.body);
    let read = s.get(&format!("/Groups/{gid}"));
    assert_eq!(r.header("etag"), read.header("etag"), "the 204 carries the new version");
    assert_eq!(member_ids(&read.json()).len(), 2);

    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Operations"}]));
    let r = s.call("PATCH", &format!("/Groups/{gid}?attributes=displayName"), Some(&rename));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["displayName"], "Operations");
    assert!(r.json().get("members").is_none());
    let r = s.call(
        "PATCH",
        &format!("/Groups/{gid}?excludedAttributes=members"),
        Some(&rename),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], gid);
    // Users are unaffected: a user PATCH answers with the user.
    let deactivate = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    let r = s.call("PATCH", &format!("/Users/{ida}"), Some(&deactivate));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["active"], false);

    // A provider that needs the body says so; the setting is part of its JSON.
    let full = s
        .server
        .add_provider("Full", "internal", &["--group-patch-response", "full"]);
    assert_eq!(full["group_patch_response"], "full");
    let base = str_of(&full, "base_url");
    let call_as = |token: &str, method: &str, path: &str, body: Option<&Value>| {
        crate::support::call(
            method,
            &format!("{base}{path}"),
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/scim+json"),
            ],
            body.map(Value::to_string).as_deref(),
        )
    };
    let token = s.server.token_for(&full);
    let call = |method: &str, path: &str, body: Option<&Value>| call_as(&token, method, path, body);
    let u = call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "f@example.com"})),
    )
    .json();
    let fg = call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "F"})),
    )
    .json();
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": str_of(&u, "id")}]}]));
    let r = call("PATCH", &format!("/Groups/{}", str_of(&fg, "id")), Some(&add));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(member_ids(&r.json()), vec![str_of(&u, "id").to_owned()]);

    // And changes its mind.
    let out = s.server.cli(&[
        "provider",
        "update",
        "full",
        "--group-patch-response",
        "no-content",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = s
        .server
        .cli(&["provider", "update", "full", "--group-patch-response", "sometimes"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-content or full"));
    // (A token seen in the last 2 seconds keeps its provider's settings that long: a new one.)
    let token = s.server.token_for(&full);
    let remove = patch_op(json!([{"op": "remove", "path": "members"}]));
    let r = call_as(
        &token,
        "PATCH",
        &format!("/Groups/{}", str_of(&fg, "id")),
        Some(&remove),
    );
    assert_eq!(r.status, 204, "{}", r.body);
}
