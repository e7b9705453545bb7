//! /Users through the live server: create, read, replace, patch, delete, uniqueness,
//! attribute characteristics and audit (RFC 7643 §4.1, RFC 7644 §3.3-3.6).

use serde_json::{Value, json};

use crate::support::{Scim, assert_scim_error, enc, patch_op, str_of};

#[test]
fn a_created_user_comes_back_whole_with_id_meta_and_location() {
    let s = Scim::start("internal");
    let r = s.call(
        "POST",
        "/Users",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "jane@example.com",
            "externalId": "00u1",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"primary": true, "value": "jane@example.com", "type": "work"}],
            "displayName": "Jane Doe",
            "locale": "en-US",
            "groups": [],
            "password": "Sup3rSecret!",
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42", "department": "Ops"}
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let u = r.json();
    let id = str_of(&u, "id");
    assert_eq!(r.header("location"), Some(format!("{}/Users/{id}", s.base).as_str()));
    assert_eq!(u["meta"]["location"], format!("{}/Users/{id}", s.base));
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(r.header("etag"), u["meta"]["version"].as_str());
    assert!(u.get("password").is_none());
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "42"
    );

    let got = s.get(&format!("/Users/{id}"));
    assert_eq!(got.status, 200);
    let g = got.json();
    assert_eq!(g["userName"], "jane@example.com");
    assert_eq!(g["name"]["familyName"], "Doe");
    assert_eq!(g["externalId"], "00u1");
    assert!(g.get("password").is_none());
}

#[test]
fn user_names_are_unique_per_population_regardless_of_case() {
    let s = Scim::start("internal");
    s.user("jane@example.com");
    let dup = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "JANE@example.com"})),
    );
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.json()["scimType"], "uniqueness");
    assert_eq!(dup.json()["status"], "409");

    // Another internal provider collides; a third-party one does not.
    let (internal_base, internal_token) = s.another("Entra", "internal");
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jane@example.com"});
    let post = |base: &str, token: &str| {
        crate::support::call(
            "POST",
            &format!("{base}/Users"),
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/json"),
            ],
            Some(&body.to_string()),
        )
    };
    assert_eq!(post(&internal_base, &internal_token).status, 409);
    let (vendor_base, vendor_token) = s.another("Vendor", "third-party");
    assert_eq!(post(&vendor_base, &vendor_token).status, 201);
}

#[test]
fn required_and_read_only_attributes_are_enforced() {
    let s = Scim::start("internal");
    let no_name = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"})),
    );
    assert_eq!(no_name.status, 400);
    assert_eq!(no_name.json()["scimType"], "invalidValue");
    let bad_schema = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:example:nope"], "userName": "a"})),
    );
    assert_eq!(bad_schema.status, 400, "{}", bad_schema.body);
    let not_an_object = s.call("POST", "/Users", Some(&json!(["x"])));
    assert_eq!(not_an_object.status, 400);

    // id and meta sent by a client are not theirs to set.
    let u = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "id": "mine", "meta": {"version": "W/\"99\""}})),
    );
    assert_eq!(u.status, 201);
    assert_ne!(u.json()["id"], "mine");
    let id = str_of(&u.json(), "id").to_owned();
    let patch_groups = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(
            json!([{"op": "add", "path": "groups", "value": [{"value": "x"}]}]),
        )),
    );
    assert_eq!(patch_groups.status, 400, "{}", patch_groups.body);
    assert_eq!(patch_groups.json()["scimType"], "mutability");
}

#[test]
fn put_replaces_and_bumps_the_version() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    let r = s.call(
        "PUT",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": id,
            "userName": "jane@example.com",
            "name": {"givenName": "Janet", "familyName": "Doe"},
            "title": "Engineer",
            "active": true
        })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(after["name"]["givenName"], "Janet");
    assert_eq!(after["title"], "Engineer");
    assert!(
        after.get("emails").is_none(),
        "PUT replaces: attributes not sent are cleared"
    );
    assert_ne!(after["meta"]["version"], u["meta"]["version"]);
    assert_eq!(after["meta"]["created"], u["meta"]["created"]);
    let missing = s.call(
        "PUT",
        "/Users/00000000-0000-4000-8000-000000000000",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"})),
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn patch_changes_attributes_all_or_nothing() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    let ok = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(json!([
            {"op": "replace", "path": "name.givenName", "value": "Janet"},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555", "type": "work"}]},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "janet@example.com"}
        ]))),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let j = ok.json();
    assert_eq!(j["name"]["givenName"], "Janet");
    assert_eq!(j["phoneNumbers"][0]["value"], "+1 555");
    assert_eq!(j["emails"][0]["value"], "janet@example.com");

    let before = s.get(&format!("/Users/{id}")).json();
    let bad = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(json!([
            {"op": "replace", "path": "title", "value": "Boss"},
            {"op": "replace", "path": "nosuchattribute[value eq \"x\"]", "value": "x"}
        ]))),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        s.get(&format!("/Users/{id}")).json(),
        before,
        "a failed PATCH changes nothing"
    );

    let no_schema = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]})),
    );
    assert_eq!(no_schema.status, 400);
}

#[test]
fn deleting_a_user_makes_it_gone_and_a_second_delete_is_404() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    let g = s.group("Ops", &[id]);
    assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    assert_eq!(s.get(&format!("/Users/{id}")).status, 404);
    let again = s.call("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["status"], "404");
    let group = s.get(&format!("/Groups/{}", str_of(&g, "id"))).json();
    assert!(
        group
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{group}"
    );
    // The userName is free again.
    s.user("jane@example.com");
}

#[test]
fn another_providers_user_does_not_exist_here() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let (base, token) = s.another("Vendor", "third-party");
    let r = crate::support::get_bearer(&format!("{base}/Users/{}", str_of(&u, "id")), &token);
    assert_eq!(r.status, 404);
    let list = crate::support::get_bearer(
        &format!("{base}/Users?filter={}", enc("userName eq \"jane@example.com\"")),
        &token,
    );
    assert_eq!(list.json()["totalResults"], 0);
}

#[test]
fn a_resource_is_reached_only_through_its_own_provider_and_kind() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    // A provider of the same population: ids are looked up alone, then checked for owner.
    let (base, token) = s.another("Entra", "internal");
    let other = |method: &str, path: &str, body: Option<Value>| {
        crate::support::call(
            method,
            &format!("{base}{path}"),
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/scim+json"),
            ],
            body.map(|b| b.to_string()).as_deref(),
        )
    };
    let replace = patch_op(json!([{"op": "replace", "path": "title", "value": "Hijacked"}]));
    assert_scim_error(&other("GET", &format!("/Users/{id}"), None), 404, None);
    assert_scim_error(
        &other("PATCH", &format!("/Users/{id}"), Some(replace.clone())),
        404,
        None,
    );
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jane@example.com"});
    assert_scim_error(&other("PUT", &format!("/Users/{id}"), Some(put)), 404, None);
    assert_scim_error(&other("DELETE", &format!("/Users/{id}"), None), 404, None);
    // Nor is another provider's user a member it can add to its own group.
    let group = other(
        "POST",
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Entra staff"})),
    );
    assert_eq!(group.status, 201, "{}", group.body);
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    let gid = str_of(&group.json(), "id").to_owned();
    assert_scim_error(
        &other("PATCH", &format!("/Groups/{gid}"), Some(add)),
        400,
        Some("invalidValue"),
    );
    // The user's own provider, asked under the wrong resource type, does not find it either.
    assert_scim_error(&s.get(&format!("/Groups/{id}")), 404, None);
    assert_scim_error(&s.call("PATCH", &format!("/Groups/{id}"), Some(&replace)), 404, None);
    // And the user is as it was.
    let now = s.get(&format!("/Users/{id}"));
    assert_eq!(now.status, 200);
    assert_eq!(now.json(), u);
}

#[test]
fn every_change_is_in_the_audit_log_with_attribute_names_only() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let id = str_of(&u, "id");
    s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(json!([{"op": "replace", "path": "title", "value": "CTO"}]))),
    );
    s.call("DELETE", &format!("/Users/{id}"), None);
    let rows: Vec<(String, String, String, String)> = crate::support::sql_rows(
        s.server.path(),
        &format!(
            "SELECT action, actor, population, attributes FROM audit_event WHERE resource = 'User/{id}' ORDER BY seq"
        ),
    )
    .into_iter()
    .map(|r| {
        let col = |i: usize| r[i].clone().unwrap_or_default();
        (col(0), col(1), col(2), col(3))
    })
    .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["user.create", "user.patch", "user.delete"]);
    assert!(rows.iter().all(|r| r.1 == "provider:okta" && r.2 == "internal"));
    assert_eq!(rows[1].3, "[\"title\"]");
    assert!(!rows[1].3.contains("CTO"));
}
