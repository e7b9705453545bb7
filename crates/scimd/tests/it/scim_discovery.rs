//! Discovery through the live server (RFC 7644 §4; RFC 7643 §5-7), checked against what the
//! server really does: page limits, ETags (RFC 7644 §3.14), errors (§3.12) and media types
//! (§3.1, §8.1).

use scimd_core::events::set::EVENT_URIS;
use serde_json::{Value, json};

use crate::events::subscribe;
use crate::support::{Scim, assert_scim_error, call, str_of};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn config(s: &Scim) -> Value {
    let r = s.get("/ServiceProviderConfig");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    r.json()
}

fn positive(v: &Value) -> u64 {
    v.as_u64()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| panic!("not a positive integer: {v}"))
}

#[test]
fn service_provider_config_advertises_the_features_the_server_has() {
    let s = Scim::start("internal");
    let c = config(&s);
    assert_eq!(
        c["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    for feature in ["patch", "bulk", "filter", "sort", "etag"] {
        assert_eq!(c[feature]["supported"], true, "{feature}: {c}");
    }
    assert_eq!(c["changePassword"]["supported"], false, "{c}");
    positive(&c["bulk"]["maxOperations"]);
    positive(&c["bulk"]["maxPayloadSize"]);
    positive(&c["filter"]["maxResults"]);
    assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken", "{c}");
    assert!(c["authenticationSchemes"][0]["name"].is_string(), "{c}");
    assert!(c["authenticationSchemes"][0]["description"].is_string(), "{c}");
    assert_eq!(c["meta"]["resourceType"], "ServiceProviderConfig");
    assert_eq!(c["meta"]["location"], format!("{}/ServiceProviderConfig", s.base));
}

/// RFC 9967 §4: the events the server issues as SETs, and no asynchronous requests, which
/// the server shows by answering a request that prefers `respond-async` (§2.5.1.1) at once.
/// Absent while no SET subscription takes the provider's events ("not currently
/// configured"), so that clients that know only RFC 7643's attributes keep working.
#[test]
fn service_provider_config_advertises_security_events_while_sets_are_delivered() {
    let s = Scim::start("internal");
    assert_eq!(config(&s).get("securityEvents"), None);
    // Webhooks are not Security Events, and another provider's or population's SETs are
    // not this provider's.
    subscribe(&s.server, &["--format", "webhook", "--url", "http://127.0.0.1:9/hook"]);
    let other = s.server.add_provider("Entra", "internal", &[]);
    subscribe(&s.server, &["--format", "set", "--provider", str_of(&other, "id")]);
    subscribe(&s.server, &["--format", "set", "--population", "third-party"]);
    assert_eq!(config(&s).get("securityEvents"), None);

    subscribe(
        &s.server,
        &["--format", "set", "--provider", "okta", "--payload", "notice"],
    );
    let events = &config(&s)["securityEvents"];
    assert_eq!(events["asyncRequest"], "none", "{events}");
    assert_eq!(events["eventUris"], json!(EVENT_URIS), "{events}");
    for uri in [
        "urn:ietf:params:scim:event:prov:create:full",
        "urn:ietf:params:scim:event:prov:patch:notice",
        "urn:ietf:params:scim:event:prov:delete",
        "urn:ietf:params:scim:event:prov:deactivate",
    ] {
        assert!(
            events["eventUris"].as_array().is_some_and(|u| u.contains(&json!(uri))),
            "{uri} missing: {events}"
        );
    }

    let body = json!({"schemas": [USER], "userName": "async@example.com"});
    let r = s.call_with("POST", "/Users", Some(&body), &[("Prefer", "respond-async")]);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["userName"], "async@example.com");
    assert_eq!(r.header("preference-applied"), None);
    assert_eq!(r.header("set-txn"), None);
}

#[test]
fn a_page_is_never_larger_than_the_advertised_max_results() {
    let s = Scim::start("internal");
    let c = config(&s);
    let max = positive(&c["filter"]["maxResults"]);
    let per_bulk = positive(&c["bulk"]["maxOperations"]);
    let mut made = 0;
    while made <= max {
        let n = per_bulk.min(max + 1 - made);
        let ops: Vec<Value> = (made..made + n)
            .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"schemas": [USER], "userName": format!("u{i}@example.com")}}))
            .collect();
        let r = s.call("POST", "/Bulk", Some(&json!({"schemas": [BULK], "Operations": ops})));
        assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(500)]);
        let created = r.json()["Operations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["status"] == "201")
            .count();
        assert_eq!(created as u64, n);
        made += n;
    }
    let page = s.get(&format!("/Users?count={}", max + 50)).json();
    assert_eq!(page["totalResults"], max + 1);
    assert_eq!(page["itemsPerPage"], max, "a page larger than maxResults");
    assert_eq!(page["Resources"].as_array().map(Vec::len), Some(max as usize));
    let default = s.get("/Users").json();
    assert!(
        default["itemsPerPage"].as_u64().is_some_and(|n| n <= max),
        "{}",
        default["itemsPerPage"]
    );
}

#[test]
fn etags_are_meta_version_and_make_requests_conditional() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    let path = format!("/Users/{}", str_of(&u, "id"));
    let got = s.get(&path);
    let etag = got
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {:?}", got.headers))
        .to_owned();
    assert_eq!(got.json()["meta"]["version"], etag.as_str());

    let not_modified = s.call_with("GET", &path, None, &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304, "{}", not_modified.body);
    assert!(not_modified.body.is_empty());
    let other = s.call_with("GET", &path, None, &[("If-None-Match", "W/\"no-such-version\"")]);
    assert_eq!(other.status, 200);

    let mut body = json!({"schemas": [USER], "userName": "jane@example.com", "title": "Engineer"});
    let first = s.call_with("PUT", &path, Some(&body), &[("If-Match", &etag)]);
    assert_eq!(first.status, 200, "{}", first.body);
    let current = first.header("etag").unwrap_or_default().to_owned();
    assert_ne!(current, etag, "the version did not change");
    assert_eq!(first.json()["meta"]["version"], current.as_str());

    body["title"] = json!("Manager");
    let stale = s.call_with("PUT", &path, Some(&body), &[("If-Match", &etag)]);
    assert_scim_error(&stale, 412, None);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]});
    assert_scim_error(
        &s.call_with("PATCH", &path, Some(&patch), &[("If-Match", &etag)]),
        412,
        None,
    );
    assert_eq!(
        s.get(&path).json()["title"],
        "Engineer",
        "a failed precondition changed the user"
    );
    let fresh = s.call_with("PUT", &path, Some(&body), &[("If-Match", &current)]);
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let newest = fresh.header("etag").unwrap_or_default().to_owned();

    assert_scim_error(
        &s.call_with("DELETE", &path, None, &[("If-Match", &current)]),
        412,
        None,
    );
    assert_eq!(s.get(&path).status, 200);
    assert_eq!(s.call_with("DELETE", &path, None, &[("If-Match", &newest)]).status, 204);
    assert_scim_error(&s.get(&path), 404, None);
}

#[test]
fn resource_types_name_users_and_groups_with_the_enterprise_extension() {
    let s = Scim::start("internal");
    let r = s.get("/ResourceTypes");
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    assert_eq!(list["schemas"], json!([LIST]));
    assert_eq!(list["totalResults"], 2, "{list}");
    let all = list["Resources"].as_array().cloned().unwrap_or_default();
    let find = |id: &str| {
        all.iter()
            .find(|t| t["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id}: {list}"))
    };
    let user = find("User");
    assert_eq!(user["name"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER);
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ResourceType"])
    );
    let extensions = user["schemaExtensions"].as_array().cloned().unwrap_or_default();
    assert!(
        extensions
            .iter()
            .any(|e| e["schema"] == ENTERPRISE && e["required"] == false),
        "{user}"
    );
    assert_eq!(user["meta"]["location"], format!("{}/ResourceTypes/User", s.base));
    let group = find("Group");
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP);
    assert_eq!(group["meta"]["location"], format!("{}/ResourceTypes/Group", s.base));

    let one = s.get("/ResourceTypes/User");
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json(), user);
    assert_scim_error(&s.get("/ResourceTypes/Widget"), 404, None);
}

#[test]
fn schemas_describe_every_user_attribute_with_its_characteristics() {
    let s = Scim::start("internal");
    let list = s.get("/Schemas").json();
    assert_eq!(list["schemas"], json!([LIST]));
    let all = list["Resources"].as_array().cloned().unwrap_or_default();
    assert_eq!(list["totalResults"], all.len());
    for id in [USER, GROUP, ENTERPRISE] {
        let schema = all
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list}"));
        assert_eq!(schema["meta"]["location"], format!("{}/Schemas/{id}", s.base), "{id}");
        assert_eq!(schema["meta"]["resourceType"], "Schema", "{id}");
        let one = s.get(&format!("/Schemas/{id}"));
        assert_eq!(one.status, 200, "{id}: {}", one.body);
        assert_eq!(&one.json(), schema, "{id}");
    }

    let user = s.get(&format!("/Schemas/{USER}")).json();
    let attrs = user["attributes"].as_array().cloned().unwrap_or_default();
    let attr = |name: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {USER}"))
    };
    for name in [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        let a = attr(name);
        for characteristic in ["type", "multiValued", "mutability", "returned"] {
            assert!(a.get(characteristic).is_some(), "{name} lacks {characteristic}: {a}");
        }
    }
    let password = attr("password");
    assert_eq!(
        (&password["mutability"], &password["returned"]),
        (&json!("writeOnly"), &json!("never"))
    );
    assert_eq!(attr("groups")["mutability"], "readOnly");
    assert_eq!(attr("groups")["multiValued"], true);
    let user_name = attr("userName");
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(attr("emails")["multiValued"], true);
    let name_parts = attr("name")["subAttributes"].as_array().cloned().unwrap_or_default();
    assert!(name_parts.iter().any(|a| a["name"] == "givenName"), "{name_parts:?}");

    let group = s.get(&format!("/Schemas/{GROUP}")).json();
    assert!(
        group["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["name"] == "members"),
        "{group}"
    );
    let ext = s.get(&format!("/Schemas/{ENTERPRISE}")).json();
    for name in ["employeeNumber", "manager"] {
        assert!(
            ext["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["name"] == name),
            "{name}: {ext}"
        );
    }
    assert_scim_error(
        &s.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Widget"),
        404,
        None,
    );
}

#[test]
fn unknown_endpoints_and_ids_are_404_scim_errors() {
    let s = Scim::start("internal");
    assert_scim_error(&s.get("/Widgets"), 404, None);
    assert_scim_error(&s.get("/Users/x/y"), 404, None);
    let missing = "2b7f1c3e-0000-4000-8000-000000000000";
    for kind in ["Users", "Groups"] {
        let path = format!("/{kind}/{missing}");
        assert_scim_error(&s.get(&path), 404, None);
        assert_scim_error(&s.call("DELETE", &path, None), 404, None);
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
        assert_scim_error(&s.call("PATCH", &path, Some(&patch)), 404, None);
    }
    let put = json!({"schemas": [USER], "userName": "ghost@example.com"});
    assert_scim_error(&s.call("PUT", &format!("/Users/{missing}"), Some(&put)), 404, None);
}

#[test]
fn request_bodies_must_be_json_in_a_json_media_type() {
    let s = Scim::start("internal");
    let post = |ctype: &str, body: &str| {
        let auth = format!("Bearer {}", s.token);
        call(
            "POST",
            &format!("{}/Users", s.base),
            &[("Authorization", &auth), ("Content-Type", ctype)],
            Some(body),
        )
    };
    let user = |n: &str| json!({"schemas": [USER], "userName": n}).to_string();
    assert_scim_error(&post("text/plain", &user("plain@example.com")), 415, None);
    assert_scim_error(&post("application/xml", "<User/>"), 415, None);
    assert_scim_error(
        &post("application/scim+json", "{\"schemas\": [\"oops\""),
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(&post("application/json", "not json at all"), 400, Some("invalidSyntax"));
    assert_eq!(post("application/json", &user("json@example.com")).status, 201);
    assert_eq!(
        post("application/scim+json; charset=utf-8", &user("scim@example.com")).status,
        201
    );
    assert_eq!(
        post("application/json; charset=utf-8", &user("okta@example.com")).status,
        201
    );
    // Nothing was created by the refused requests.
    assert_eq!(s.get("/Users").json()["totalResults"], 3);
}
