//! Custom attributes end to end: what Okta (custom and core namespace) and Entra (POST, PATCH
//! with URN paths, `aadOptscim062020` replace) send beyond the core and enterprise schemas,
//! declared per provider as extension schemas or kept as sent, never dropped in silence; read
//! back through GET, filters, sorting, projection, the console and the audit log.

use serde_json::{Value, json};

use crate::admin_console::{PASSWORD, add_admin, csrf_of, form, get_page, session};
use crate::support::{Reply, Scim, Server, assert_scim_error, call, enc, ids, patch_op, str_of, temp_file};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const CORP: &str = "urn:ietf:params:scim:schemas:extension:corp:2.0:User";

/// The extension schema an Okta admin would declare for the Profile Editor's custom
/// attributes: every type, and the characteristics that change behaviour.
fn acme_schema() -> Value {
    json!({
        "id": ACME, "name": "Acme", "description": "Acme HR attributes",
        "attributes": [
            {"name": "costCenter", "type": "string"},
            {"name": "badge", "type": "string", "uniqueness": "server"},
            {"name": "level", "type": "integer"},
            {"name": "hired", "type": "dateTime"},
            {"name": "remote", "type": "boolean"},
            {"name": "employeeId", "type": "string", "mutability": "immutable"},
            {"name": "clearance", "type": "string", "returned": "request"},
            {"name": "pin", "type": "string", "returned": "never", "mutability": "writeOnly"},
            {"name": "sites", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"}, {"name": "type", "type": "string"}]}
        ]
    })
}

/// An admin API token for the server (the CLI creates it).
fn admin_token(server: &Server) -> String {
    let out = server.cli(&["admin", "token", "create", "automation"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn admin(server: &Server, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let auth = format!("Bearer {token}");
    call(
        method,
        &format!("{}/admin/api/v1{path}", server.url),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body.map(Value::to_string).as_deref(),
    )
}

/// Declare `schema` for the provider through the admin API, on the running server (so its
/// cached view of the provider changes at once).
fn declare(s: &Scim, token: &str, body: Value) -> Value {
    let r = admin(&s.server, token, "POST", "/providers/okta/schemas", Some(&body));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn list(s: &Scim, filter: &str, extra: &str) -> Value {
    let r = s.get(&format!("/Users?filter={}{extra}", enc(filter)));
    assert_eq!(r.status, 200, "{filter}: {}", r.body);
    r.json()
}

fn names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| str_of(r, "userName").to_owned())
        .collect()
}

fn created(r: Reply) -> Value {
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn okta_user(user_name: &str, acme: Value) -> Value {
    json!({
        "schemas": [CORE, ACME],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Jane Doe",
        "active": true,
        "password": "1mz050nq",
        ACME: acme
    })
}

/// `/ResourceTypes/User`'s `schemaExtensions`: URN to `required`.
fn user_extensions(s: &Scim) -> std::collections::BTreeMap<String, bool> {
    let rt = s.get("/ResourceTypes/User").json();
    rt["schemaExtensions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (str_of(e, "schema").to_owned(), e["required"] == true))
        .collect()
}

/// The audit log's newest events about the provider, as `scimd audit list --json` prints them.
fn audit(server: &Server) -> Vec<Value> {
    let out = server.cli(&["audit", "list", "--provider", "okta", "--json", "--limit", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("audit list --json: {e}"))
}

#[test]
fn okta_custom_namespace_attributes_are_typed_filtered_sorted_and_projected() {
    let s = Scim::start("internal");
    let token = admin_token(&s.server);
    let decl = declare(&s, &token, json!({"schema": acme_schema(), "index": ["costCenter"]}));
    assert_eq!(decl["schema"]["id"], ACME, "{decl}");

    // Okta's create: the URN in `schemas`, values as the Profile Editor types them (strings
    // for numbers and booleans are read as the schema says).
    let jane = created(s.call(
        "POST",
        "/Users",
        Some(&okta_user(
            "jane@example.com",
            json!({"costCenter": "CC-12", "badge": "B-77", "level": "3", "hired": "2024-01-02T09:00:00Z",
                   "remote": "true", "employeeId": "E1", "clearance": "secret", "pin": "1234",
                   "sites": [{"value": "Paris", "type": "office"}]}),
        )),
    ));
    let ext = &jane[ACME];
    assert_eq!(
        (&ext["costCenter"], &ext["level"], &ext["remote"], &ext["badge"]),
        (&json!("CC-12"), &json!(3), &json!(true), &json!("B-77")),
        "{jane}"
    );
    assert!(ext.get("clearance").is_none() && ext.get("pin").is_none(), "{jane}");
    assert_eq!(jane["schemas"], json!([CORE, ACME]));
    let jane_id = str_of(&jane, "id").to_owned();
    created(s.call(
        "POST",
        "/Users",
        Some(&okta_user(
            "bob@example.com",
            json!({"costCenter": "CC-7", "badge": "B-78", "level": 5, "hired": "2025-06-01T00:00:00+02:00",
                   "remote": false, "sites": [{"value": "Berlin", "type": "home"}]}),
        )),
    ));
    created(s.call("POST", "/Users", Some(&okta_user("carol@example.com", json!({})))));

    let got = s.get(&format!("/Users/{jane_id}")).json();
    assert_eq!(got[ACME], jane[ACME]);

    for (filter, want) in [
        (format!(r#"{ACME}:costCenter eq "cc-12""#), vec!["jane@example.com"]),
        (format!(r#"{ACME}:costCenter co "C-1""#), vec!["jane@example.com"]),
        (
            format!(r#"{ACME}:costCenter sw "CC""#),
            vec!["jane@example.com", "bob@example.com"],
        ),
        (format!("{ACME}:badge pr"), vec!["jane@example.com", "bob@example.com"]),
        (format!("not ({ACME}:badge pr)"), vec!["carol@example.com"]),
        (format!("{ACME}:level gt 4"), vec!["bob@example.com"]),
        (format!("{ACME}:level le 3"), vec!["jane@example.com"]),
        (
            format!(r#"{ACME}:hired lt "2025-05-31T21:59:59Z""#),
            vec!["jane@example.com"],
        ),
        (
            format!(r#"{ACME}:hired eq "2025-05-31T22:00:00Z""#),
            vec!["bob@example.com"],
        ),
        (format!("{ACME}:remote eq true"), vec!["jane@example.com"]),
        (format!(r#"{ACME}:sites[value eq "Paris"]"#), vec!["jane@example.com"]),
        (format!(r#"{ACME}:sites.type eq "home""#), vec!["bob@example.com"]),
        (r#"badge eq "B-78""#.to_owned(), vec!["bob@example.com"]),
    ] {
        assert_eq!(names(&list(&s, &filter, "")), want, "{filter}");
    }
    // .search takes the same filter.
    let searched = s.call(
        "POST",
        "/Users/.search",
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": format!("{ACME}:level ge 3"), "sortBy": format!("{ACME}:level"), "sortOrder": "descending"}),
        ),
    );
    assert_eq!(searched.status, 200, "{}", searched.body);
    assert_eq!(names(&searched.json()), ["bob@example.com", "jane@example.com"]);
    let sorted = s
        .get(&format!("/Users?sortBy={}", enc(&format!("{ACME}:costCenter"))))
        .json();
    // As text ("CC-12" before "CC-7"); unassigned values last ascending (RFC 7644 §3.4.2.3).
    assert_eq!(
        names(&sorted),
        ["jane@example.com", "bob@example.com", "carol@example.com"]
    );

    // Projection: only what was asked, and `returned: request` only when asked.
    let one = s
        .get(&format!(
            "/Users/{jane_id}?attributes={}",
            enc(&format!("{ACME}:costCenter,{ACME}:clearance"))
        ))
        .json();
    assert_eq!(
        one[ACME],
        json!({"costCenter": "CC-12", "clearance": "secret"}),
        "{one}"
    );
    assert!(one.get("userName").is_none(), "{one}");
    let without = s
        .get(&format!("/Users/{jane_id}?excludedAttributes={}", enc(ACME)))
        .json();
    assert!(
        without.get(ACME).is_none() && without["userName"] == "jane@example.com",
        "{without}"
    );

    // Uniqueness within the provider, case-insensitive like any string that is not caseExact.
    let dup = s.call(
        "POST",
        "/Users",
        Some(&okta_user("dave@example.com", json!({"badge": "b-77"}))),
    );
    assert_scim_error(&dup, 409, Some("uniqueness"));
    assert!(
        dup.json()["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{ACME}:badge")),
        "{}",
        dup.body
    );
    // A value that cannot be read names the attribute by its URN.
    let bad = s.call(
        "POST",
        "/Users",
        Some(&okta_user("erin@example.com", json!({"level": "three"}))),
    );
    assert_scim_error(&bad, 400, Some("invalidValue"));
    assert!(bad.body.contains(&format!("{ACME}:level")), "{}", bad.body);
    assert_eq!(
        s.get("/Users").json()["totalResults"],
        3,
        "refused requests change nothing"
    );

    // Okta's update is a PUT of the whole user: the index follows the new value.
    let mut put = okta_user(
        "jane@example.com",
        json!({"costCenter": "CC-13", "badge": "B-77", "level": 4, "employeeId": "E1"}),
    );
    put["id"] = json!(jane_id);
    let r = s.call("PUT", &format!("/Users/{jane_id}"), Some(&put));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[ACME]["costCenter"], "CC-13");
    assert!(names(&list(&s, &format!(r#"{ACME}:costCenter eq "CC-12""#), "")).is_empty());
    assert_eq!(
        names(&list(&s, &format!(r#"{ACME}:costCenter eq "CC-13""#), "")),
        ["jane@example.com"]
    );
    put[ACME]["employeeId"] = json!("E2");
    let immutable = s.call("PUT", &format!("/Users/{jane_id}"), Some(&put));
    assert_scim_error(&immutable, 400, Some("mutability"));
    assert!(
        immutable.body.contains(&format!("{ACME}:employeeId")),
        "{}",
        immutable.body
    );

    // The audit log names the attributes that changed, never their values.
    let events = audit(&s.server);
    let replace = events
        .iter()
        .find(|e| e["action"] == "user.replace")
        .unwrap_or_else(|| panic!("no user.replace in {events:?}"));
    let changed: Vec<&str> = replace["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(changed.contains(&format!("{ACME}:costCenter").as_str()), "{replace}");
    assert!(changed.contains(&format!("{ACME}:level").as_str()), "{replace}");
    let log = serde_json::to_string(&events).unwrap_or_default();
    assert!(
        !log.contains("CC-13") && !log.contains("secret"),
        "values in the audit log: {log}"
    );

    // The console shows the declared values on the user's page.
    add_admin(&s.server, "alice", PASSWORD);
    let cookie = session(&s.server);
    let page = get_page(&s.server, &cookie, &format!("/admin/users/internal/{jane_id}"));
    assert_eq!(page.status, 200);
    let custom = page.body.split("id=\"custom\"").nth(1).unwrap_or_default();
    assert!(
        custom.contains(&format!("{ACME}:costCenter")) && custom.contains("CC-13"),
        "{}",
        page.body
    );
}

#[test]
fn okta_core_namespace_and_undeclared_extensions_are_kept_advertised_and_named() {
    let s = Scim::start("internal");
    // Okta with the namespace left as the core URN sends custom attributes at the top level;
    // an extension object may come without its URN in `schemas`.
    let body = json!({
        "schemas": [CORE],
        "userName": "kim@example.com",
        "badgeNumber": "B-9",
        CORP: {"floor": 3, "wing": "east"}
    });
    let kim = created(s.call("POST", "/Users", Some(&body)));
    assert_eq!(kim["badgeNumber"], "B-9", "{kim}");
    assert_eq!(kim[CORP], json!({"floor": 3, "wing": "east"}), "{kim}");
    assert_eq!(kim["schemas"], json!([CORE, CORP]), "{kim}");
    let id = str_of(&kim, "id").to_owned();
    let got = s.get(&format!("/Users/{id}")).json();
    assert_eq!((&got["badgeNumber"], &got[CORP]), (&kim["badgeNumber"], &kim[CORP]));
    let listed = s.get("/Users").json();
    assert_eq!(listed["Resources"][0]["badgeNumber"], "B-9");

    // What is kept is advertised: top-level attributes in the core schema's entry, the
    // extension as a discovered schema, and in the resource type.
    let schemas = s.get("/Schemas").json();
    let core = schemas["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == CORE)
        .cloned()
        .unwrap_or_default();
    let badge = core["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "badgeNumber")
        .unwrap_or_else(|| panic!("badgeNumber not in {core}"));
    assert!(
        badge["description"].as_str().unwrap_or("").contains("kept as sent"),
        "{badge}"
    );
    let corp = s.get(&format!("/Schemas/{CORP}"));
    assert_eq!(corp.status, 200, "{}", corp.body);
    let corp = corp.json();
    assert!(
        corp["description"].as_str().unwrap_or("").starts_with("Discovered"),
        "{corp}"
    );
    let corp_attrs: Vec<&str> = corp["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(corp_attrs, ["floor", "wing"]);
    assert_eq!(user_extensions(&s).get(CORP), Some(&false));
    // Another provider on the same server sees none of it.
    let (other_base, other_token) = s.another("Entra", "internal");
    let other = crate::support::get_bearer(&format!("{other_base}/Schemas"), &other_token).json();
    let text = other.to_string();
    assert!(!text.contains("badgeNumber") && !text.contains(CORP), "{text}");

    // Filters and sortBy need a declared attribute, and say how to declare it.
    let f = s.get(&format!("/Users?filter={}", enc(r#"badgeNumber eq "B-9""#)));
    assert_scim_error(&f, 400, Some("invalidFilter"));
    assert!(
        f.body.contains("badgeNumber") && f.body.contains("scimd provider schema add"),
        "{}",
        f.body
    );
    let sort = s.get(&format!("/Users?sortBy={}", enc(&format!("{CORP}:floor"))));
    assert_scim_error(&sort, 400, Some("invalidFilter"));
    assert!(sort.body.contains(&format!("{CORP}:floor")), "{}", sort.body);

    // PATCH paths reach into what was kept.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(json!([
            {"op": "replace", "path": "badgeNumber", "value": "B-10"},
            {"op": "add", "path": format!("{CORP}:floor"), "value": 4}
        ]))),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(
        (&after["badgeNumber"], &after[CORP]["floor"]),
        (&json!("B-10"), &json!(4))
    );

    // The console lists them under "undeclared".
    add_admin(&s.server, "alice", PASSWORD);
    let cookie = session(&s.server);
    let page = get_page(&s.server, &cookie, &format!("/admin/users/internal/{id}"));
    let undeclared = page.body.split("id=\"undeclared\"").nth(1).unwrap_or_default();
    assert!(
        undeclared.contains("badgeNumber")
            && undeclared.contains("B-10")
            && undeclared.contains(&format!("{CORP}:wing")),
        "{}",
        page.body
    );

    // Declaring it later types what was kept: the discovered schema gives way, filters work.
    let token = admin_token(&s.server);
    declare(
        &s,
        &token,
        json!({"schema": {"id": CORP, "name": "Corp", "attributes": [
            {"name": "floor", "type": "integer"}, {"name": "wing", "type": "string"}]}}),
    );
    let corp = s.get(&format!("/Schemas/{CORP}")).json();
    assert_eq!(corp["name"], "Corp", "{corp}");
    assert_eq!(names(&list(&s, &format!("{CORP}:floor ge 4"), "")), ["kim@example.com"]);
}

#[test]
fn entra_sends_extension_attributes_in_post_and_as_urn_patch_paths() {
    let s = Scim::start("internal");
    let token = admin_token(&s.server);
    declare(&s, &token, json!({"schema": acme_schema(), "index": ["costCenter"]}));
    // Entra's create, as CLIENTS.md records it, with the extension object.
    let body = json!({
        "schemas": [CORE, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ACME],
        "externalId": "4a1c3e2f",
        "userName": "sam@contoso.com",
        "active": true,
        "displayName": "Sam",
        "emails": [{"primary": true, "type": "work", "value": "sam@contoso.com"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
        ACME: {"costCenter": "CC-1"}
    });
    let sam = created(s.call("POST", "/Users?aadOptscim062020", Some(&body)));
    let id = str_of(&sam, "id").to_owned();
    let patch = |ops: Value| {
        let r = s.call("PATCH", &format!("/Users/{id}"), Some(&patch_op(ops)));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    // Without the flag: capitalised ops, strings for numbers, full URN paths.
    let after = patch(json!([
        {"op": "Add", "path": format!("{ACME}:level"), "value": "7"},
        {"op": "Replace", "path": format!("{ACME}:costCenter"), "value": "CC-2"},
        {"op": "Add", "path": format!("{ACME}:sites[type eq \"office\"].value"), "value": "Lyon"}
    ]));
    assert_eq!(
        after[ACME],
        json!({"costCenter": "CC-2", "level": 7, "sites": [{"value": "Lyon", "type": "office"}]}),
        "{after}"
    );
    // With aadOptscim062020: a path-less replace with URN keys and dotted keys.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}?aadOptscim062020"),
        Some(&patch_op(json!([{"op": "replace", "value": {
            format!("{ACME}:remote"): true,
            format!("{ACME}:costCenter"): "CC-3",
            "name.givenName": "Samuel"
        }}]))),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(
        (&after[ACME]["remote"], &after[ACME]["costCenter"]),
        (&json!(true), &json!("CC-3"))
    );
    assert_eq!(after["name"]["givenName"], "Samuel");
    // Remove one of them.
    let after = patch(json!([{"op": "Remove", "path": format!("{ACME}:level")}]));
    assert!(after[ACME].get("level").is_none(), "{after}");
    let got = s.get(&format!("/Users/{id}")).json();
    assert_eq!(
        got[ACME],
        json!({"costCenter": "CC-3", "remote": true, "sites": [{"value": "Lyon", "type": "office"}]})
    );
    // The index follows every form.
    assert_eq!(
        names(&list(&s, &format!(r#"{ACME}:costCenter eq "CC-3""#), "")),
        ["sam@contoso.com"]
    );
    assert!(names(&list(&s, &format!(r#"{ACME}:costCenter eq "CC-1""#), "")).is_empty());
    // A value Entra cannot have meant is refused and changes nothing.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&patch_op(
            json!([{"op": "Replace", "path": format!("{ACME}:remote"), "value": "maybe"}]),
        )),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(
        s.get(&format!("/Users/{id}")).json()["meta"]["version"],
        got["meta"]["version"]
    );
}

#[test]
fn a_provider_set_to_reject_refuses_undeclared_attributes_and_names_them() {
    let s = Scim::start("internal");
    let token = admin_token(&s.server);
    declare(&s, &token, json!({"schema": acme_schema()}));
    let r = admin(
        &s.server,
        &token,
        "PATCH",
        "/providers/okta",
        Some(&json!({"undeclared": "reject"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["undeclared"], "reject");

    let body = json!({
        "schemas": [CORE, ACME],
        "userName": "kim@example.com",
        "badgeNumber": "B-9",
        CORP: {"floor": 3},
        ACME: {"costCenter": "CC-1", "nope": 1}
    });
    let r = s.call("POST", "/Users", Some(&body));
    assert_scim_error(&r, 400, Some("invalidValue"));
    for name in ["'badgeNumber'", &format!("'{CORP}:floor'"), &format!("'{ACME}:nope'")] {
        assert!(r.body.contains(name), "{name} not named: {}", r.body);
    }
    assert!(r.body.contains("scimd provider schema add"), "{}", r.body);
    assert_eq!(s.get("/Users").json()["totalResults"], 0);

    // Declared attributes still go through; undeclared ones are refused in every PATCH form.
    let kim = created(s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE, ACME], "userName": "kim@example.com", ACME: {"costCenter": "CC-1"}})),
    ));
    let id = str_of(&kim, "id").to_owned();
    for ops in [
        json!([{"op": "add", "path": "badgeNumber", "value": "B-9"}]),
        json!([{"op": "Add", "path": format!("{CORP}:floor"), "value": 3}]),
        json!([{"op": "replace", "value": {format!("{CORP}:floor"): 3}}]),
        json!([{"op": "replace", "value": {"costCenter": "CC-2", "badgeNumber": "B-9"}}]),
    ] {
        let r = s.call(
            "PATCH",
            &format!("/Users/{id}?aadOptscim062020"),
            Some(&patch_op(ops.clone())),
        );
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(r.body.contains("undeclared"), "{ops}: {}", r.body);
    }
    let got = s.get(&format!("/Users/{id}")).json();
    assert_eq!(
        got["meta"]["version"], kim["meta"]["version"],
        "refused PATCHes change nothing"
    );
    assert_eq!(got[ACME], json!({"costCenter": "CC-1"}));
}

#[test]
fn declaring_a_schema_checks_what_is_stored_and_removing_it_keeps_or_drops_the_values() {
    let s = Scim::start("internal");
    let token = admin_token(&s.server);
    // Kept as sent before any declaration: one value will not fit the schema.
    let good = created(s.call(
        "POST",
        "/Users",
        Some(
            &json!({"schemas": [CORE, ACME], "userName": "good@example.com", ACME: {"level": 3, "costCenter": "CC-1"}}),
        ),
    ));
    let bad = created(s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE, ACME], "userName": "bad@example.com", ACME: {"level": "high", "costCenter": "CC-2"}})),
    ));
    let (good_id, bad_id) = (str_of(&good, "id").to_owned(), str_of(&bad, "id").to_owned());

    let acme = json!({"schema": acme_schema(), "index": ["costCenter"]});
    let refused = admin(&s.server, &token, "POST", "/providers/okta/schemas", Some(&acme));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains(&bad_id) && !refused.body.contains(&good_id),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("force"), "{}", refused.body);
    let listed = admin(&s.server, &token, "GET", "/providers/okta/schemas", None).json();
    assert_eq!(listed["extensions"], json!([]), "{listed}");
    assert_eq!(s.get(&format!("/Users/{bad_id}")).json()[ACME]["level"], "high");

    // With force the unfitting value goes (audited), the rest is typed and indexed.
    let r = admin(
        &s.server,
        &token,
        "POST",
        "/providers/okta/schemas?force=true",
        Some(&acme),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let decl = r.json();
    assert_eq!(decl["cleaned"], json!([bad_id]), "{decl}");
    assert_eq!(decl["indexed"], 2, "{decl}");
    assert_eq!(
        s.get(&format!("/Users/{bad_id}")).json()[ACME],
        json!({"costCenter": "CC-2"})
    );
    assert_eq!(
        names(&list(&s, &format!("{ACME}:level eq 3"), "")),
        ["good@example.com"]
    );
    assert_eq!(
        names(&list(&s, &format!(r#"{ACME}:costCenter eq "cc-2""#), "")),
        ["bad@example.com"]
    );
    let cleaned = audit(&s.server)
        .into_iter()
        .find(|e| e["resource"] == format!("User/{bad_id}") && e["actor"] != "provider:okta")
        .unwrap_or_else(|| panic!("the dropped value is not audited"));
    assert_eq!(cleaned["attributes"], json!([format!("{ACME}:level")]), "{cleaned}");

    // Declared twice is a conflict; removing is refused while values are held.
    let again = admin(
        &s.server,
        &token,
        "POST",
        "/providers/okta/schemas",
        Some(&json!({"schema": acme_schema()})),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let path = format!("/providers/okta/schemas/{}", enc(ACME));
    let held = admin(&s.server, &token, "DELETE", &path, None);
    assert_eq!(held.status, 409, "{}", held.body);
    assert!(held.body.contains("2") && held.body.contains("force"), "{}", held.body);
    assert_eq!(s.get(&format!("/Users/{good_id}")).json()[ACME]["level"], 3);
    let gone = admin(&s.server, &token, "DELETE", &format!("{path}?force=true"), None);
    assert_eq!(gone.status, 204, "{}", gone.body);
    let got = s.get(&format!("/Users/{good_id}")).json();
    assert!(got.get(ACME).is_none() && got["schemas"] == json!([CORE]), "{got}");
    let f = s.get(&format!("/Users?filter={}", enc(&format!("{ACME}:level eq 3"))));
    assert_scim_error(&f, 400, Some("invalidFilter"));
    let actions: Vec<String> = audit(&s.server)
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    assert!(
        actions.iter().any(|a| a == "provider.schema.declare") && actions.iter().any(|a| a == "provider.schema.remove"),
        "{actions:?}"
    );
}

#[test]
fn a_required_extension_must_be_carried_and_a_group_extension_types_groups() {
    let s = Scim::start("internal");
    let token = admin_token(&s.server);
    declare(
        &s,
        &token,
        json!({"schema": {"id": ACME, "attributes": [{"name": "costCenter", "type": "string", "required": true},
                                                   {"name": "note", "type": "string"}]},
               "required": true}),
    );
    let team = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group";
    declare(
        &s,
        &token,
        json!({"schema": {"id": team, "attributes": [{"name": "budget", "type": "decimal"}]}, "resourceType": "Group"}),
    );
    assert_eq!(user_extensions(&s).get(ACME), Some(&true));
    let missing = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE], "userName": "a@example.com"})),
    );
    assert_scim_error(&missing, 400, Some("invalidValue"));
    assert!(missing.body.contains(ACME), "{}", missing.body);
    let empty = s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE, ACME], "userName": "a@example.com", ACME: {"note": "n"}})),
    );
    assert_scim_error(&empty, 400, Some("invalidValue"));
    assert!(empty.body.contains(&format!("{ACME}:costCenter")), "{}", empty.body);
    created(s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE, ACME], "userName": "a@example.com", ACME: {"costCenter": "X"}})),
    ));
    let g = created(s.call(
        "POST",
        "/Groups",
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", team],
            "displayName": "Ops", team: {"budget": "1250.5"}}),
        ),
    ));
    assert_eq!(g[team]["budget"], 1250.5, "{g}");
    let found = s
        .get(&format!("/Groups?filter={}", enc(&format!("{team}:budget gt 1000"))))
        .json();
    assert_eq!(ids(&found), [str_of(&g, "id")]);
    // The user extension is not the group's.
    let wrong = s.get(&format!(
        "/Groups?filter={}",
        enc(&format!(r#"{ACME}:costCenter eq "X""#))
    ));
    assert_scim_error(&wrong, 400, Some("invalidFilter"));
}

/// A console form post with the page's CSRF token; `fields` are already form-encoded.
fn console_post(server: &Server, cookie: &str, page: &str, action: &str, fields: &str) -> Reply {
    let token = csrf_of(page);
    form(
        &format!("{}{action}", server.url),
        cookie,
        &format!("csrf={}&{fields}", enc(&token)),
    )
}

#[test]
fn the_console_declares_lists_and_removes_extension_schemas_with_clear_refusals() {
    let s = Scim::start("internal");
    add_admin(&s.server, "alice", PASSWORD);
    let cookie = session(&s.server);
    let page = get_page(&s.server, &cookie, "/admin/providers/okta");
    assert!(page.body.contains("Custom attributes") && page.body.contains("No extension schema declared."));

    // Refusals come back on the page, the form filled again with what was sent.
    let schema_text = |v: &Value| format!("schema={}&resource_type=User&index=costCenter", enc(&v.to_string()));
    for (sent, why) in [
        ("schema={not json".to_owned(), "the schema is not JSON".to_owned()),
        (
            schema_text(&json!({"id": ACME, "attributes": [{"name": "cost center", "type": "string"}]})),
            "attribute 'cost center': the name is not an ATTRNAME".to_owned(),
        ),
        (
            schema_text(&json!({"id": ACME, "attributes": [{"name": "costCenter", "type": "text"}]})),
            "attribute 'costCenter': unknown type 'text'".to_owned(),
        ),
        (
            schema_text(&json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": []})),
            "one of scimd's own schemas".to_owned(),
        ),
        (
            schema_text(
                &json!({"id": ACME, "attributes": [{"name": "sites", "type": "complex", "subAttributes": [
                {"name": "geo", "type": "complex", "subAttributes": [{"name": "lat", "type": "decimal"}]}]}]}),
            ),
            "nested twice".to_owned(),
        ),
    ] {
        let r = console_post(&s.server, &cookie, &page.body, "/admin/providers/okta/schemas", &sent);
        assert_eq!(r.status, 200, "{sent}: {}", r.body);
        let error = r.body.split("id=\"schema-error\"").nth(1).unwrap_or_default();
        let error = error.split("</p>").next().unwrap_or_default();
        assert!(
            error.contains(&why.replace('\'', "&#39;")) || error.contains(&why),
            "{sent}: want {why} in {error}"
        );
    }
    let listed = get_page(&s.server, &cookie, "/admin/providers/okta");
    assert!(
        listed.body.contains("No extension schema declared."),
        "refusals declare nothing"
    );

    // A good schema is declared and listed with its attributes.
    let r = console_post(
        &s.server,
        &cookie,
        &page.body,
        "/admin/providers/okta/schemas",
        &schema_text(&acme_schema()),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = get_page(&s.server, &cookie, "/admin/providers/okta").body;
    let table = shown.split("class=\"schema-attributes\"").nth(1).unwrap_or_default();
    assert!(shown.contains(ACME), "{shown}");
    let row = |name: &str| {
        table
            .split("<tr>")
            .find(|r| r.contains(&format!(">{name}<")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row("costCenter").contains("indexed"), "{table}");
    assert!(row("badge").contains("unique"), "{table}");
    assert!(row("pin").contains("never returned"), "{table}");

    // Values held: removal is refused unless the values go too.
    created(s.call(
        "POST",
        "/Users",
        Some(&okta_user("jane@example.com", json!({"costCenter": "CC-1"}))),
    ));
    let urn = format!("urn={}", enc(ACME));
    let refused = console_post(&s.server, &cookie, &shown, "/admin/providers/okta/schemas/remove", &urn);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("hold values"), "{}", refused.body);
    let r = console_post(
        &s.server,
        &cookie,
        &shown,
        "/admin/providers/okta/schemas/remove",
        &format!("{urn}&force=on"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let after = get_page(&s.server, &cookie, "/admin/providers/okta").body;
    assert!(after.contains("No extension schema declared."), "{after}");
    let jane = s
        .get(&format!("/Users?filter={}", enc(r#"userName eq "jane@example.com""#)))
        .json();
    assert!(jane["Resources"][0].get(ACME).is_none(), "{jane}");

    // What a provider sends without a schema is listed on its page.
    created(s.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": [CORE], "userName": "kim@example.com", "badgeNumber": "B-9"})),
    ));
    let page = get_page(&s.server, &cookie, "/admin/providers/okta").body;
    let discovered = page.split("id=\"discovered\"").nth(1).unwrap_or_default();
    assert!(
        discovered.contains("badgeNumber") && discovered.contains("string"),
        "{page}"
    );
}

#[test]
fn the_cli_declares_lists_and_removes_extension_schemas() {
    let s = Scim::start("internal");
    let dir = s.server.path().to_owned();
    let run = |args: &[&str]| {
        let out = s.server.cli(args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let bad = temp_file(
        &dir,
        "bad.json",
        r#"{"id": "urn:x:y", "attributes": [{"name": "a", "type": "text"}]}"#,
    );
    let (ok, _, err) = run(&[
        "provider",
        "schema",
        "add",
        "okta",
        "--file",
        bad.to_str().unwrap_or_default(),
    ]);
    assert!(!ok && err.contains("attribute 'a': unknown type 'text'"), "{err}");
    let (ok, _, err) = run(&["provider", "schema", "add", "okta", "--file", "/nonexistent.json"]);
    assert!(!ok && err.contains("cannot read /nonexistent.json"), "{err}");
    let file = temp_file(&dir, "acme.json", &acme_schema().to_string());
    let file = file.to_str().unwrap_or_default();
    let (ok, _, err) = run(&["provider", "schema", "add", "okta", "--file", file, "--index", "level"]);
    assert!(
        !ok && err.contains("level") && err.contains("string"),
        "an index on an integer: {err}"
    );
    let (ok, out, err) = run(&[
        "provider",
        "schema",
        "add",
        "okta",
        "--file",
        file,
        "--index",
        "costCenter",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(ACME) && out.contains("indexed: costCenter, badge"),
        "{out}"
    );
    let (ok, out, _) = run(&["provider", "schema", "list", "okta", "--json"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(listed["extensions"][0]["schema"]["id"], ACME, "{listed}");
    assert_eq!(
        listed["extensions"][0]["index"],
        json!(["costCenter", "badge"]),
        "{listed}"
    );

    // Declared before the server saw a request, so the first request already uses it.
    created(s.call(
        "POST",
        "/Users",
        Some(&okta_user("jane@example.com", json!({"level": 2}))),
    ));
    let (ok, _, err) = run(&["provider", "schema", "remove", "okta", ACME]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, _, err) = run(&["provider", "schema", "remove", "okta", ACME, "--yes"]);
    assert!(!ok && err.contains("hold values") && err.contains("--force"), "{err}");
    let (ok, out, err) = run(&["provider", "schema", "remove", "okta", ACME, "--yes", "--force"]);
    assert!(ok, "{err}");
    assert!(out.contains("no longer declares"), "{out}");
    let (_, out, _) = run(&["provider", "schema", "list", "okta"]);
    assert!(out.contains("declares no extension schema"), "{out}");
}
