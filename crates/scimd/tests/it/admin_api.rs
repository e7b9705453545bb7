//! The admin API (`/admin/api/v1`) and the console's sign-in, against the real server: every
//! route refuses a request without an admin API token, and each does what the console does.

use serde_json::{Value, json};

use crate::admin_console::add_admin;
use crate::support::{Reply, Scim, Server, basic, call, get_bearer, post_form, str_of};

/// A server with an admin API token.
pub(crate) struct Admin {
    pub(crate) server: Server,
    token: String,
}

impl Admin {
    fn start() -> Admin {
        Self::on(Server::start())
    }

    pub(crate) fn on(server: Server) -> Admin {
        let out = server.cli(&["admin", "token", "create", "automation"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(token.starts_with("scimdadm_"), "{token}");
        Admin { server, token }
    }

    pub(crate) fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        call(
            method,
            &format!("{}/admin/api/v1{path}", self.server.url),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.map(Value::to_string).as_deref(),
        )
    }

    pub(crate) fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let r = self.api(method, path, body);
        assert!(
            r.status == 200 || r.status == 201,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r.json()
    }

    pub(crate) fn create(&self, name: &str, population: &str) -> Value {
        self.ok(
            "POST",
            "/providers",
            Some(&json!({"name": name, "population": population})),
        )
    }

    pub(crate) fn scim_token(&self, provider: &str) -> String {
        str_of(
            &self.ok("POST", &format!("/providers/{provider}/tokens"), None),
            "access_token",
        )
        .to_owned()
    }

    pub(crate) fn actions(&self, query: &str) -> Vec<String> {
        self.ok("GET", &format!("/audit?{query}"), None)["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| str_of(e, "action").to_owned())
            .collect()
    }
}

pub(crate) fn user_body(user_name: &str, external_id: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": given, "familyName": "Doe"},
        "emails": [{"primary": true, "value": format!("mail.{user_name}"), "type": "work"}],
        "active": true
    })
}

pub(crate) fn scim_post(base: &str, token: &str, path: &str, body: &Value) -> Value {
    let auth = format!("Bearer {token}");
    let r = call(
        "POST",
        &format!("{base}{path}"),
        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// Every route in the OpenAPI document, with its path parameters filled in.
fn documented_routes(server: &Server) -> Vec<(String, String)> {
    let doc = call("GET", &format!("{}/admin/api/v1/openapi.json", server.url), &[], None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for method in ops.as_object().into_iter().flatten().map(|(m, _)| m.to_uppercase()) {
            let filled = path
                .replace("{id}", "okta")
                .replace("{population}", "internal")
                .replace("{token_id}", "abc")
                .replace("{link_id}", "abc")
                .replace("{urn}", "urn:x");
            out.push((method, filled));
        }
    }
    out
}

#[test]
fn every_admin_route_is_documented_and_refuses_requests_without_an_admin_token() {
    let admin = Admin::start();
    let scim = admin.create("Okta", "internal");
    let activation = admin.scim_token(str_of(&scim, "id"));
    let routes = documented_routes(&admin.server);
    let mut names: Vec<String> = routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    names.sort();
    let expected = [
        "DELETE /admin/api/v1/providers/okta",
        "DELETE /admin/api/v1/providers/okta/schemas/urn:x",
        "DELETE /admin/api/v1/providers/okta/setup-links/abc",
        "DELETE /admin/api/v1/providers/okta/tokens",
        "DELETE /admin/api/v1/providers/okta/tokens/abc",
        "DELETE /admin/api/v1/subscriptions/okta",
        "GET /admin/api/v1/access/internal",
        "GET /admin/api/v1/audit",
        "GET /admin/api/v1/deleted/groups/internal",
        "GET /admin/api/v1/deleted/users/internal",
        "GET /admin/api/v1/groups/internal",
        "GET /admin/api/v1/groups/internal/okta",
        "GET /admin/api/v1/groups/internal/okta/members",
        "GET /admin/api/v1/openapi.json",
        "GET /admin/api/v1/providers",
        "GET /admin/api/v1/providers/okta",
        "GET /admin/api/v1/providers/okta/log",
        "GET /admin/api/v1/providers/okta/postman",
        "GET /admin/api/v1/providers/okta/schemas",
        "GET /admin/api/v1/providers/okta/setup-links",
        "GET /admin/api/v1/providers/okta/tokens",
        "GET /admin/api/v1/subscriptions",
        "GET /admin/api/v1/subscriptions/okta",
        "GET /admin/api/v1/subscriptions/okta/dead-letters",
        "GET /admin/api/v1/subscriptions/okta/deliveries",
        "GET /admin/api/v1/users/internal",
        "GET /admin/api/v1/users/internal/okta",
        "PATCH /admin/api/v1/providers/okta",
        "POST /admin/api/v1/groups/okta/renew",
        "POST /admin/api/v1/groups/okta/restore",
        "POST /admin/api/v1/providers",
        "POST /admin/api/v1/providers/okta/disable",
        "POST /admin/api/v1/providers/okta/enable",
        "POST /admin/api/v1/providers/okta/guard/release",
        "POST /admin/api/v1/providers/okta/reveal",
        "POST /admin/api/v1/providers/okta/rotate",
        "POST /admin/api/v1/providers/okta/schemas",
        "POST /admin/api/v1/providers/okta/setup-links",
        "POST /admin/api/v1/providers/okta/tokens",
        "POST /admin/api/v1/subscriptions",
        "POST /admin/api/v1/subscriptions/okta/pause",
        "POST /admin/api/v1/subscriptions/okta/replay",
        "POST /admin/api/v1/subscriptions/okta/resume",
        "POST /admin/api/v1/subscriptions/okta/retry",
        "POST /admin/api/v1/subscriptions/okta/rotate-secret",
        "POST /admin/api/v1/users/okta/erase",
        "POST /admin/api/v1/users/okta/renew",
        "POST /admin/api/v1/users/okta/restore",
    ];
    assert_eq!(names, expected);
    for (method, path) in routes.iter().filter(|(_, p)| !p.ends_with("openapi.json")) {
        let url = format!("{}{path}", admin.server.url);
        let body = Some("{}");
        let none = call(method, &url, &[("Content-Type", "application/json")], body);
        assert_eq!(none.status, 401, "{method} {path} without a token: {}", none.body);
        assert_eq!(none.header("www-authenticate"), Some("Bearer realm=\"scimd-admin\""));
        // An unknown admin token, a provider's activation token, Basic credentials and a
        // console-less cookie are all refused the same way.
        for auth in [
            format!("Bearer scimdadm_{}", "A".repeat(43)),
            format!("Bearer {activation}"),
            basic("admin", "password"),
        ] {
            let r = call(
                method,
                &url,
                &[("Authorization", &auth), ("Content-Type", "application/json")],
                body,
            );
            assert_eq!(r.status, 401, "{method} {path} with {auth}: {}", r.body);
        }
    }
    // Nothing was changed by the refused calls: the provider is still there, enabled.
    let p = admin.ok("GET", "/providers/okta", None);
    assert_eq!(p["enabled"], true);
    assert!(admin.actions("action=provider.delete").is_empty());
    assert_eq!(admin.ok("GET", "/subscriptions", None), json!([]));
}

#[test]
fn providers_are_registered_changed_revealed_rotated_and_deleted_through_the_api() {
    let admin = Admin::start();
    let created = admin.ok(
        "POST",
        "/providers",
        Some(
            &json!({"name": "Okta Staff", "population": "internal", "description": "staff",
                     "tags": ["prod", " eu "], "token_ttl": "90d", "allowed_networks": ["127.0.0.0/8"]}),
        ),
    );
    assert_eq!(created["id"], "okta-staff");
    assert_eq!(created["tags"], json!(["prod", "eu"]));
    assert_eq!(created["token_ttl_seconds"], 90 * 86_400);
    assert_eq!(created["base_url"], format!("{}/scim/v2/okta-staff", admin.server.url));
    let secret = str_of(&created, "client_secret").to_owned();

    // Refusals: no population, a bad one, a bad network, both lifetime forms.
    for body in [
        json!({"name": "X"}),
        json!({"name": "X", "population": "vendors"}),
        json!({"name": "X", "population": "internal", "allowed_networks": ["10.0.0.0/40"]}),
        json!({"name": "X", "population": "internal", "token_ttl": "30d", "token_expiry_date": "2099-01-01"}),
        json!({"name": "", "population": "internal"}),
        json!({"name": "X", "population": "internal", "colour": "blue"}),
        json!({"name": "X", "population": "internal", "tags": "not a list"}),
    ] {
        let r = admin.api("POST", "/providers", Some(&body));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.json()["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    let list = admin.ok("GET", "/providers", None);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(list[0].get("client_secret").is_none());
    assert_eq!(list[0]["token_expires"], Value::Null);

    let shown = admin.ok("GET", "/providers/okta-staff", None);
    assert!(shown.get("client_secret").is_none());
    assert_eq!(admin.api("GET", "/providers/nope", None).status, 404);

    let patched = admin.ok(
        "PATCH",
        "/providers/okta-staff",
        Some(&json!({"name": "Okta (staff)", "tags": [], "allowed_networks": [], "enabled": false})),
    );
    assert_eq!(patched["name"], "Okta (staff)");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["allowed_networks"], json!([]));
    let fixed = admin.api(
        "PATCH",
        "/providers/okta-staff",
        Some(&json!({"population": "third-party"})),
    );
    assert_eq!(fixed.status, 400, "{}", fixed.body);
    assert!(fixed.body.contains("population"));

    assert_eq!(admin.ok("POST", "/providers/okta-staff/enable", None)["enabled"], true);
    assert_eq!(
        admin.ok("POST", "/providers/okta-staff/disable", None)["enabled"],
        false
    );
    assert_eq!(admin.ok("POST", "/providers/okta-staff/enable", None)["enabled"], true);

    let revealed = admin.ok("POST", "/providers/okta-staff/reveal", None);
    assert_eq!(revealed["client_secret"], secret.as_str());
    let rotated = admin.ok("POST", "/providers/okta-staff/rotate", None);
    let new_secret = str_of(&rotated, "client_secret");
    assert_ne!(new_secret, secret);
    let client_id = str_of(&created, "client_id");
    let grant = |s: &str| {
        post_form(
            &format!("{}/oauth2/token", admin.server.url),
            &[("grant_type", "client_credentials")],
            Some(&basic(client_id, s)),
        )
        .status
    };
    assert_eq!(grant(new_secret), 200);
    assert_eq!(grant(&secret), 401);

    // Every change is recorded with the API token as its actor.
    let events = admin.ok("GET", "/audit?provider=okta-staff", None)["events"].clone();
    let by_token: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["actor"] == "admin:api-token:automation")
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    for action in [
        "provider.create",
        "provider.update",
        "provider.disable",
        "provider.enable",
        "provider.secret.reveal",
        "provider.secret.rotate",
    ] {
        assert!(by_token.contains(&action), "{action} in {by_token:?}");
    }

    let deleted = admin.api("DELETE", "/providers/okta-staff", None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(admin.api("GET", "/providers/okta-staff", None).status, 404);
    assert_eq!(admin.api("DELETE", "/providers/okta-staff", None).status, 404);
    assert!(!admin.server.log().contains(&secret) && !admin.server.log().contains(new_secret));
}

#[test]
fn activation_tokens_are_issued_listed_revoked_and_exported_through_the_api() {
    let admin = Admin::start();
    let p = admin.ok(
        "POST",
        "/providers",
        Some(&json!({"name": "Okta", "population": "internal", "token_ttl": "7d"})),
    );
    let base = str_of(&p, "base_url").to_owned();
    let issued = admin.api("POST", "/providers/okta/tokens", None);
    assert_eq!(issued.status, 201, "{}", issued.body);
    let issued = issued.json();
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 7 * 86_400);
    let token = str_of(&issued, "access_token").to_owned();
    assert_eq!(get_bearer(&format!("{base}/Users"), &token).status, 200);

    // A token expiring within 14 days is flagged.
    let shown = admin.ok("GET", "/providers/okta", None);
    assert_eq!(shown["token_expiring_soon"], true);
    assert_eq!(shown["token_expires"], issued["expires"]);

    let second = admin.scim_token("okta");
    let tokens = admin.ok("GET", "/providers/okta/tokens", None);
    assert_eq!(tokens.as_array().map(Vec::len), Some(2));
    assert!(tokens[0]["last_used"].is_string(), "{tokens}");
    assert_eq!(tokens[0]["live"], true);

    let one = str_of(&issued, "id");
    assert_eq!(
        admin
            .api("DELETE", &format!("/providers/okta/tokens/{one}"), None)
            .status,
        204
    );
    assert_eq!(get_bearer(&format!("{base}/Users"), &token).status, 401);
    assert_eq!(get_bearer(&format!("{base}/Users"), &second).status, 200);
    assert_eq!(
        admin
            .api("DELETE", &format!("/providers/okta/tokens/{one}"), None)
            .status,
        404
    );
    assert_eq!(admin.ok("DELETE", "/providers/okta/tokens", None)["revoked"], 1);
    assert_eq!(get_bearer(&format!("{base}/Users"), &second).status, 401);

    let postman = admin.api("GET", "/providers/okta/postman", None);
    assert_eq!(postman.status, 200);
    assert!(
        postman
            .header("content-disposition")
            .is_some_and(|d| d.contains("okta.postman_collection.json"))
    );
    let secret = admin.ok("POST", "/providers/okta/reveal", None)["client_secret"].clone();
    assert!(postman.body.contains(secret.as_str().unwrap_or("-")));
    let reveals = admin.actions("provider=okta&action=provider.secret.reveal");
    assert_eq!(reveals.len(), 2, "the export and the reveal are both audited");

    // A disabled provider gets no token.
    admin.ok("POST", "/providers/okta/disable", None);
    assert_eq!(admin.api("POST", "/providers/okta/tokens", None).status, 403);
}

#[test]
fn users_and_groups_are_read_by_population_searched_and_paged() {
    let env = Scim::start("internal");
    let admin = Admin::on(env.server);
    let (vendor_base, vendor_token) = {
        let v = admin.create("Vendor Portal", "third-party");
        (str_of(&v, "base_url").to_owned(), admin.scim_token("vendor-portal"))
    };
    let mut staff = Vec::new();
    for i in 0..5 {
        let u = scim_post(
            &env.base,
            &env.token,
            "/Users",
            &user_body(&format!("staff{i}@example.com"), &format!("E{i}"), &format!("Given{i}")),
        );
        staff.push(str_of(&u, "id").to_owned());
    }
    let vendor = scim_post(
        &vendor_base,
        &vendor_token,
        "/Users",
        &user_body("contractor@vendor.example", "V1", "Vera"),
    );
    let vendor_id = str_of(&vendor, "id").to_owned();
    let members: Vec<Value> = staff.iter().map(|id| json!({"value": id})).collect();
    let group = scim_post(
        &env.base,
        &env.token,
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": members}),
    );
    let group_id = str_of(&group, "id").to_owned();
    scim_post(
        &vendor_base,
        &vendor_token,
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Acme Consulting", "members": [{"value": vendor_id}]}),
    );

    let internal = admin.ok("GET", "/users/internal", None);
    assert_eq!(internal["total"], 5);
    let names: Vec<&str> = internal["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| str_of(u, "userName"))
        .collect();
    assert_eq!(
        names,
        [
            "staff0@example.com",
            "staff1@example.com",
            "staff2@example.com",
            "staff3@example.com",
            "staff4@example.com"
        ]
    );
    assert_eq!(internal["items"][0]["population"], "internal");
    assert_eq!(internal["items"][0]["provider"], "okta");
    let third = admin.ok("GET", "/users/third-party", None);
    assert_eq!(third["total"], 1);
    assert_eq!(third["items"][0]["userName"], "contractor@vendor.example");

    // Search: userName, given name, email, externalId; each case-insensitive but the id.
    for (q, expect) in [
        ("STAFF3", 1),
        ("given2", 1),
        ("mail.staff4", 1),
        ("E1", 1),
        ("example.com", 5),
        ("nobody", 0),
    ] {
        let r = admin.ok("GET", &format!("/users/internal?q={q}"), None);
        assert_eq!(r["total"], expect, "q={q}: {r}");
    }
    assert_eq!(admin.ok("GET", "/users/internal?q=contractor", None)["total"], 0);
    // Paging.
    let page = admin.ok("GET", "/users/internal?offset=2&count=2", None);
    assert_eq!(page["total"], 5);
    let names: Vec<&str> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| str_of(u, "userName"))
        .collect();
    assert_eq!(names, ["staff2@example.com", "staff3@example.com"]);

    let user = admin.ok("GET", &format!("/users/internal/{}", staff[0]), None);
    assert_eq!(user["userName"], "staff0@example.com");
    assert_eq!(user["groups"][0]["value"], group_id.as_str());
    assert_eq!(user["history"][0]["action"], "user.create");
    assert_eq!(
        admin
            .api("GET", &format!("/users/third-party/{}", staff[0]), None)
            .status,
        404
    );
    assert_eq!(admin.api("GET", "/users/vendors", None).status, 404);

    let groups = admin.ok("GET", "/groups/internal", None);
    assert_eq!(groups["total"], 1);
    assert_eq!(groups["items"][0]["displayName"], "Engineering");
    assert_eq!(groups["items"][0]["memberCount"], 5);
    let vendors = admin.ok("GET", "/groups/third-party?q=acme", None);
    assert_eq!(vendors["items"][0]["displayName"], "Acme Consulting");
    let g = admin.ok("GET", &format!("/groups/internal/{group_id}"), None);
    assert_eq!(g["memberCount"], 5);
    assert!(g.get("members").is_none(), "members are paged apart");
    assert_eq!(g["history"][0]["action"], "group.create");
    assert_eq!(
        admin
            .api("GET", &format!("/groups/third-party/{group_id}"), None)
            .status,
        404
    );

    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = admin.ok(
            "GET",
            &format!("/groups/internal/{group_id}/members?count=2&after={after}"),
            None,
        );
        for m in page["members"].as_array().into_iter().flatten() {
            assert_eq!(m["type"], "User");
            seen.push(str_of(m, "value").to_owned());
        }
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seen, staff);
    assert_eq!(admin.api("GET", "/groups/internal/nope/members", None).status, 404);
}

#[test]
fn the_audit_log_is_filtered_by_provider_actor_action_resource_and_time_and_paged() {
    let admin = Admin::start();
    admin.create("Okta", "internal");
    admin.create("Entra", "third-party");
    admin.ok("POST", "/providers/okta/reveal", None);
    admin.scim_token("okta");

    assert_eq!(admin.actions("provider=entra"), ["provider.create"]);
    assert_eq!(admin.actions("action=provider.secret.*"), ["provider.secret.reveal"]);
    assert_eq!(
        admin.actions("resource=Provider/okta"),
        ["provider.secret.reveal", "provider.create"]
    );
    let by_token = admin.actions("actor=admin:api-token:*");
    assert_eq!(
        by_token,
        [
            "token.issue",
            "provider.secret.reveal",
            "provider.create",
            "provider.create"
        ]
    );
    assert!(admin.actions("actor=cli:*").contains(&"admin.token.create".to_owned()));
    assert!(admin.actions("since=2999-01-01").is_empty());
    assert_eq!(admin.actions("until=2000-01-01T00:00:00Z").len(), 0);
    assert_eq!(admin.api("GET", "/audit?since=yesterday", None).status, 400);

    // Paging back with the cursor visits every event once, newest first.
    let all = admin.actions("count=1000");
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = admin.ok("GET", &format!("/audit?count=2{cursor}"), None);
        paged.extend(
            page["events"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| str_of(e, "action").to_owned()),
        );
        match page["next_before"].as_i64() {
            Some(n) => cursor = format!("&before={n}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
}

#[test]
fn administrators_and_api_tokens_are_made_and_revoked_at_the_command_line() {
    let admin = Admin::start();
    let s = &admin.server;
    let short = add_admin(s, "alice", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let no_stdin = s.cli(&["admin", "add", "alice"]);
    assert!(!no_stdin.status.success(), "a password must come on standard input");
    assert!(add_admin(s, "alice", "correct horse battery").status.success());
    let again = add_admin(s, "alice", "another long password");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert!(!add_admin(s, "<script>", "correct horse battery").status.success());

    // The hash is Argon2id; the password is nowhere in the database.
    let rows = crate::support::sql_rows(s.path(), "SELECT password_hash FROM admin");
    assert!(rows[0][0].as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
    assert!(!String::from_utf8_lossy(&crate::support::db_bytes(s.path())).contains("correct horse battery"));
    assert!(!String::from_utf8_lossy(&crate::support::db_bytes(s.path())).contains(&admin.token));

    let list = s.cli(&["admin", "token", "list", "--json"]);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list[0]["name"], "automation");
    assert_eq!(list[0]["revoked"], Value::Null);
    assert!(
        !s.cli(&["admin", "token", "create", "automation"]).status.success(),
        "one live token per name"
    );
    assert_eq!(admin.api("GET", "/providers", None).status, 200);
    assert!(s.cli(&["admin", "token", "revoke", "automation"]).status.success());
    assert_eq!(admin.api("GET", "/providers", None).status, 401);
    assert!(!s.cli(&["admin", "token", "revoke", "automation"]).status.success());
}
