//! Searches with a SearchRequest body through the live server (RFC 7644 §3.4.3), per
//! resource type and across types, and the separation of populations in every query.

use serde_json::{Value, json};

use crate::support::{Reply, Scim, assert_scim_error, call, enc, ids, patch_op, str_of};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ALICE: &str = "alice@example.com";

#[test]
fn search_requests_in_a_post_body_query_users_and_groups() {
    let s = Scim::start("internal");
    s.user("alice@example.com");
    s.user("bob@example.com");
    s.group("Ops", &[]);
    let body = json!({
        "schemas": [SEARCH],
        "filter": "userName sw \"a\"",
        "startIndex": 1,
        "count": 10,
        "attributes": ["userName", "name.givenName"]
    });
    let r = s.call("POST", "/Users/.search", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let list = r.json();
    assert_eq!(list["schemas"], json!([LIST]));
    assert_eq!(list["totalResults"], 1, "{list}");
    let u = &list["Resources"][0];
    assert_eq!(u["userName"], "alice@example.com");
    assert_eq!(u["name"], json!({"givenName": "Given"}), "{u}");
    assert!(u.get("emails").is_none() && u.get("displayName").is_none(), "{u}");

    let sorted =
        json!({"schemas": [SEARCH], "sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 1});
    let list = s.call("POST", "/Users/.search", Some(&sorted)).json();
    assert_eq!(list["totalResults"], 2, "{list}");
    assert_eq!(list["startIndex"], 2, "{list}");
    assert_eq!(list["Resources"][0]["userName"], "alice@example.com", "{list}");

    let groups = json!({"schemas": [SEARCH], "filter": "displayName eq \"ops\"", "excludedAttributes": ["members"]});
    let list = s.call("POST", "/Groups/.search", Some(&groups)).json();
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["displayName"], "Ops");
    assert!(list["Resources"][0].get("members").is_none());
}

#[test]
fn a_search_at_the_base_url_spans_users_and_groups() {
    let s = Scim::start("internal");
    let a = s.user("a@example.com");
    let b = s.user("b@example.com");
    let g1 = s.group("Team A", &[str_of(&a, "id")]);
    let g2 = s.group("Team B", &[]);
    let search = |extra: Value| {
        let mut body = json!({"schemas": [SEARCH]});
        if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let r = s.call("POST", "/.search", Some(&body));
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        r.json()
    };
    let mut all = ids(&search(json!({})));
    all.sort();
    let mut want: Vec<String> = [&a, &b, &g1, &g2].iter().map(|r| str_of(r, "id").to_owned()).collect();
    want.sort();
    assert_eq!(all, want);

    let teams = search(json!({"filter": "displayName sw \"Team\""}));
    assert_eq!(teams["totalResults"], 2, "{teams}");
    assert!(
        teams["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["meta"]["resourceType"] == "Group")
    );
    let users = search(json!({"filter": "userName pr"}));
    assert_eq!(users["totalResults"], 2, "{users}");
    assert!(
        users["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["meta"]["resourceType"] == "User")
    );

    let first = search(json!({"startIndex": 1, "count": 2}));
    let second = search(json!({"startIndex": 3, "count": 2}));
    assert_eq!(
        (first["totalResults"].as_u64(), second["totalResults"].as_u64()),
        (Some(4), Some(4))
    );
    let mut paged: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    paged.sort();
    assert_eq!(paged, want, "pages across types overlap or miss: {first} {second}");
}

#[test]
fn a_search_body_must_declare_the_search_request_schema() {
    let s = Scim::start("internal");
    s.user("jane@example.com");
    for path in ["/Users/.search", "/Groups/.search", "/.search"] {
        let none = s.call("POST", path, Some(&json!({"filter": "userName pr"})));
        assert_scim_error(&none, 400, None);
        let wrong = s.call("POST", path, Some(&json!({"schemas": [LIST], "filter": "userName pr"})));
        assert_scim_error(&wrong, 400, None);
    }
}

fn call_as(base: &str, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let auth = format!("Bearer {token}");
    call(
        method,
        &format!("{base}{path}"),
        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
        body.map(Value::to_string).as_deref(),
    )
}

#[test]
fn another_population_sees_none_of_the_first_ones_resources() {
    let s = Scim::start("internal");
    let alice = s.user(ALICE);
    let alice_id = str_of(&alice, "id");
    let ops = s.group("Ops", &[alice_id]);
    let ops_id = str_of(&ops, "id");
    let (base, token) = s.another("Vendor", "third-party");
    let other = |method: &str, path: &str, body: Option<&Value>| call_as(&base, &token, method, path, body);

    for path in [
        "/Users".to_owned(),
        "/Groups".to_owned(),
        format!("/Users?filter={}", enc(&format!("userName eq \"{ALICE}\""))),
        format!("/Users?filter={}", enc(&format!("id eq \"{alice_id}\""))),
        format!("/Groups?filter={}", enc(&format!("members eq \"{alice_id}\""))),
    ] {
        let r = other("GET", &path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.json()["totalResults"], 0, "{path}: {}", r.body);
        assert_eq!(r.json()["Resources"], json!([]), "{path}");
    }
    let everything = other("POST", "/.search", Some(&json!({"schemas": [SEARCH]})));
    assert_eq!(everything.json()["totalResults"], 0, "{}", everything.body);

    assert_scim_error(&other("GET", &format!("/Users/{alice_id}"), None), 404, None);
    assert_scim_error(&other("GET", &format!("/Groups/{ops_id}"), None), 404, None);
    let deactivate = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    assert_scim_error(
        &other("PATCH", &format!("/Users/{alice_id}"), Some(&deactivate)),
        404,
        None,
    );
    assert_scim_error(&other("DELETE", &format!("/Groups/{ops_id}"), None), 404, None);

    // The other population may hold a user of the same name; each side sees only its own.
    let twin = other("POST", "/Users", Some(&json!({"schemas": [USER], "userName": ALICE})));
    assert_eq!(twin.status, 201, "{}", twin.body);
    let mine = s
        .get(&format!("/Users?filter={}", enc(&format!("userName eq \"{ALICE}\""))))
        .json();
    assert_eq!(ids(&mine), vec![alice_id.to_owned()]);
    let still = s.get(&format!("/Users/{alice_id}")).json();
    assert_eq!(still["active"], true, "{still}");
    assert_eq!(s.get(&format!("/Groups/{ops_id}")).status, 200);
}
