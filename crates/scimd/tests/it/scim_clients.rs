//! Recorded request shapes of real clients (../shared/design/CLIENTS.md): Okta's and
//! Microsoft Entra ID's provisioning sequences, exactly as they send them.

use serde_json::{Value, json};

use crate::support::{Scim, enc, patch_op, str_of};

/// The sorted member ids of a group, read back through the API.
fn member_ids(s: &Scim, gid: &str) -> Vec<String> {
    crate::support::member_ids(&s.get(&format!("/Groups/{gid}")).json())
}

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Jane Doe",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[test]
fn okta_provisions_a_user_from_test_connection_to_deactivation() {
    let s = Scim::start("internal");
    let test = s.call_with(
        "GET",
        "/Users?startIndex=1&count=2",
        None,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(test.status, 200);
    assert_eq!(test.json()["totalResults"], 0);

    let lookup = format!(
        "/Users?filter={}&startIndex=1&count=100",
        enc("userName eq \"jane@example.com\"")
    );
    let none = s.get(&lookup).json();
    assert_eq!(
        (
            none["totalResults"].as_u64(),
            none["Resources"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    let created = s.call_with(
        "POST",
        "/Users",
        Some(&okta_user("jane@example.com")),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = str_of(&created.json(), "id").to_owned();

    // Okta's spec test looks the user up in upper case.
    let upper = s
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc("userName eq \"JANE@EXAMPLE.COM\"")
        ))
        .json();
    assert_eq!(upper["totalResults"], 1);
    assert_eq!(upper["Resources"][0]["id"], id.as_str());

    let dup = s.call("POST", "/Users", Some(&okta_user("jane@example.com")));
    assert_eq!((dup.status, dup.json()["scimType"].as_str()), (409, Some("uniqueness")));

    // Profile update: GET, then a full PUT.
    let mut full = s.get(&format!("/Users/{id}")).json();
    full["name"]["givenName"] = json!("Janet");
    let put = s.call("PUT", &format!("/Users/{id}"), Some(&full));
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["name"]["givenName"], "Janet");

    let deactivate = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    let r = s.call("PATCH", &format!("/Users/{id}"), Some(&deactivate));
    assert_eq!(r.status, 200, "{}", r.body);
    // Okta never deletes: the deactivated user stays readable and findable.
    assert_eq!(s.get(&format!("/Users/{id}")).json()["active"], false);
    assert_eq!(s.get(&lookup).json()["Resources"][0]["active"], false);
    let reactivate = patch_op(json!([{"op": "replace", "value": {"active": true}}]));
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), Some(&reactivate)).json()["active"],
        true
    );
}

#[test]
fn okta_imports_page_by_page_in_a_stable_order() {
    let s = Scim::start("internal");
    for i in 0..7 {
        s.user(&format!("user{i}@example.com"));
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let page = s.get(&format!("/Users?startIndex={start}&count=3")).json();
        assert_eq!(page["totalResults"], 7);
        assert_eq!(page["startIndex"], start);
        assert!(page["itemsPerPage"].is_u64());
        seen.extend(crate::support::ids(&page));
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7));
}

#[test]
fn okta_pushes_a_group_with_rename_add_and_remove_in_one_patch() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let c = s.user("c@example.com");
    let (ida, idb, idc) = (str_of(&a, "id"), str_of(&b, "id"), str_of(&c, "id"));
    let g = s.group("Ops", &[]);
    let gid = str_of(&g, "id");
    let first = patch_op(json!([
        {"op": "replace", "value": {"id": gid, "displayName": "Ops"}},
        {"op": "add", "path": "members", "value": [{"value": ida, "display": "a@example.com"}, {"value": idb, "display": "b@example.com"}]}
    ]));
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(&first));
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    let mut want = vec![ida.to_owned(), idb.to_owned()];
    want.sort();
    assert_eq!(member_ids(&s, gid), want);
    let read = s.get(&format!("/Groups/{gid}")).json();
    let shown = read["members"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["value"] == ida)
        .map(|m| m["display"].clone());
    assert_eq!(shown, Some(json!("a@example.com")), "the display Okta sent comes back");

    let second = patch_op(json!([
        {"op": "replace", "value": {"id": gid, "displayName": "Operations"}},
        {"op": "remove", "path": format!("members[value eq \"{ida}\"]")},
        {"op": "add", "path": "members", "value": [{"value": idc, "display": "c@example.com"}]}
    ]));
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(&second));
    assert_eq!(r.status, 204, "{}", r.body);
    let mut want = vec![idb.to_owned(), idc.to_owned()];
    want.sort();
    assert_eq!(member_ids(&s, gid), want);
    assert_eq!(s.get(&format!("/Groups/{gid}")).json()["displayName"], "Operations");

    let replace_all = patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": ida}]}]));
    assert_eq!(
        s.call("PATCH", &format!("/Groups/{gid}"), Some(&replace_all)).status,
        204
    );
    assert_eq!(member_ids(&s, gid), vec![ida.to_owned()]);

    assert_eq!(s.call("DELETE", &format!("/Groups/{gid}"), None).status, 204);
}

#[test]
fn entra_patches_users_the_way_entra_does() {
    let s = Scim::start("internal");
    let guid = "7d6d0e3a-0c44-4c7b-9b07-3b0b8f3e0f10";
    let probe = s
        .get(&format!("/Users?filter={}", enc(&format!("userName eq \"{guid}\""))))
        .json();
    assert_eq!(probe["totalResults"], 0);

    let boss = s.user("boss@example.com");
    let created = s.call(
        "POST",
        "/Users",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "e1",
            "userName": "Test_User@contoso.com",
            "active": true,
            "phoneNumbers": [{"primary": "True", "type": "work", "value": "+1 555"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
            "roles": []
        })),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["phoneNumbers"][0]["primary"], true);
    let id = str_of(&created.json(), "id").to_owned();
    let boss_id = str_of(&boss, "id");

    let ops = patch_op(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "test@contoso.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Tess"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": boss_id}
    ]));
    let r = s.call("PATCH", &format!("/Users/{id}"), Some(&ops));
    assert_eq!(r.status, 200, "{}", r.body);
    let u = r.json();
    assert_eq!(u["active"], false);
    assert_eq!(u["emails"][0]["value"], "test@contoso.com");
    assert_eq!(u["emails"][0]["type"], "work");
    assert_eq!(u["name"]["givenName"], "Tess");
    let ext = &u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["employeeNumber"], "701984");
    assert_eq!(ext["manager"]["value"], boss_id);

    let manager_list = patch_op(
        json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": [{"$ref": null, "value": boss_id}]}]),
    );
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), Some(&manager_list)).status,
        200
    );

    // A disabled user is still found, by userName and by externalId.
    let by_name = s
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"test_user@contoso.com\"")
        ))
        .json();
    assert_eq!(
        (
            by_name["totalResults"].as_u64(),
            by_name["Resources"][0]["active"].as_bool()
        ),
        (Some(1), Some(false))
    );
    let by_ext = s.get(&format!("/Users?filter={}", enc("externalId eq \"e1\""))).json();
    assert_eq!(by_ext["totalResults"], 1);
    let by_email = s
        .get(&format!(
            "/Users?filter={}",
            enc("emails[type eq \"work\"].value eq \"test@contoso.com\"")
        ))
        .json();
    assert_eq!(by_email["totalResults"], 1);

    // The validator's empty Operations array changes nothing.
    let before = s.get(&format!("/Users/{id}")).json();
    let empty = s.call("PATCH", &format!("/Users/{id}"), Some(&patch_op(json!([]))));
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(
        s.get(&format!("/Users/{id}")).json()["meta"]["version"],
        before["meta"]["version"]
    );

    // Hard delete, twice: the second is a 404.
    assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 404);
}

#[test]
fn entra_with_the_2020_flag_sends_dotted_and_urn_keys_in_a_pathless_replace() {
    let s = Scim::start("internal");
    let u = s.user("flag@example.com");
    let id = str_of(&u, "id");
    let body = patch_op(json!([{"op": "replace", "value": {
        "name.givenName": "Flag",
        "name.familyName": "Day",
        "active": false,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance"
    }}]));
    let r = s.call("PATCH", &format!("/Users/{id}?aadOptscim062020"), Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["name"]["givenName"], "Flag");
    assert_eq!(j["name"]["familyName"], "Day");
    assert_eq!(j["active"], false);
    assert_eq!(
        j["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Finance"
    );
}

#[test]
fn entra_removes_only_the_listed_member_and_checks_membership_by_filter() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let (ida, idb) = (str_of(&a, "id"), str_of(&b, "id"));
    let g = s.group("Sales", &[]);
    let gid = str_of(&g, "id");

    let found = s
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc("displayName eq \"Sales\"")
        ))
        .json();
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());

    let add = patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": ida}, {"$ref": null, "value": idb}]}]),
    );
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(&add));
    assert!(r.status == 200 || r.status == 204, "{}", r.body);

    let check = |user: &str| {
        let f = enc(&format!("id eq \"{gid}\" and members eq \"{user}\""));
        s.get(&format!("/Groups?filter={f}&excludedAttributes=members")).json()["totalResults"].as_u64()
    };
    assert_eq!((check(ida), check(idb)), (Some(1), Some(1)));

    let remove = patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": ida}]}]));
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(&remove));
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    assert_eq!(member_ids(&s, gid), vec![idb.to_owned()], "only the listed member goes");
    assert_eq!((check(ida), check(idb)), (Some(0), Some(1)));
}
