//! Access that ends (issue #16): users of a provider with `--access-ttl` get an end date at
//! creation, which the identity provider reads (read-only) in scimd's access extension and
//! cannot move; two weeks before it `user.access_expiring`, at it `user.access_expired` (a
//! SET `prov:deactivate` naming the reason) while SCIM `active` stays what the provider set;
//! an administrator's renewal (CLI, API, console; for a user or a group's members) ends the
//! expiry. Time moves with the debug build's test clock.

use std::time::Duration;

use scimd_core::Timestamp;
use serde_json::{Value, json};

use crate::events::{stream, subscribe};
use crate::support::receiver::{Receiver, set_claims};
use crate::support::{Scim, assert_scim_error, call, patch_op, str_of, wait_for};

const ACCESS: &str = "urn:scimd:params:scim:schemas:extension:access:2.0:User";
const DAY: i64 = 86_400;

fn time(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(Timestamp::parse_rfc3339)
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Wait until the provider's stream holds an event of `kind` about `id`.
fn wait_event(s: &Scim, kind: &str, id: &str) {
    wait_for(kind, || {
        stream(&s.server, "okta")
            .iter()
            .any(|e| e["type"] == kind && e["resource_id"] == id)
            .then_some(())
    });
}

/// The user as the admin API shows it, with its effective `access_state`.
fn admin_view(s: &Scim, token: &str, id: &str) -> Value {
    let r = s.server.api(token, "GET", &format!("/users/third-party/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn access_ends_on_its_own_while_the_providers_active_stays_as_it_set_it() {
    let s = Scim::start_serving_with(
        "third-party",
        &["--receiver-allow", "127.0.0.0/8"],
        &["--access-ttl", "30d"],
    );
    let token = s.server.admin_token("ops");
    let hooks = Receiver::start();
    hooks.answer(|_| 204);
    let sets = Receiver::start();
    sets.answer(|_| 202);
    let which = "user.access_expired,user.access_renewed";
    subscribe(
        &s.server,
        &["--url", &hooks.url, "--format", "webhook", "--events", which],
    );
    subscribe(&s.server, &["--url", &sets.url, "--format", "set", "--events", which]);

    let u = s.user("vendor@example.com");
    let id = str_of(&u, "id").to_owned();
    let end = time(&u[ACCESS]["accessEnd"]);
    let created = time(&u["meta"]["created"]);
    assert!((end.0 - created.plus_seconds(30 * DAY).0).abs() < 5_000, "{u}");
    assert_eq!(u[ACCESS]["state"], "active");
    assert!(
        u["schemas"].as_array().is_some_and(|l| l.iter().any(|x| x == ACCESS)),
        "{u}"
    );
    // Advertised for this provider, read-only.
    let schemas = s.get("/Schemas").json();
    let ext = schemas["Resources"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == ACCESS))
        .unwrap_or_else(|| panic!("no access schema in {schemas}"));
    assert!(
        ext["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["mutability"] == "readOnly"))
    );
    let rt = s.get("/ResourceTypes/User").json();
    assert!(
        rt["schemaExtensions"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["schema"] == ACCESS)),
        "{rt}"
    );

    // The identity provider cannot move it: a PUT carrying it is read without it, a PATCH
    // of it is refused, and deactivating and reactivating leave it alone.
    let mut put = u.clone();
    put[ACCESS] = json!({"accessEnd": "2099-01-01T00:00:00Z", "state": "active"});
    let after_put = s.call("PUT", &format!("/Users/{id}"), Some(&put)).json();
    assert_eq!(time(&after_put[ACCESS]["accessEnd"]), end);
    let patch =
        patch_op(json!([{"op": "replace", "path": format!("{ACCESS}:accessEnd"), "value": "2099-01-01T00:00:00Z"}]));
    assert_scim_error(
        &s.call("PATCH", &format!("/Users/{id}"), Some(&patch)),
        400,
        Some("mutability"),
    );
    for active in [false, true] {
        let flip = patch_op(json!([{"op": "replace", "path": "active", "value": active}]));
        let r = s.call("PATCH", &format!("/Users/{id}"), Some(&flip)).json();
        assert_eq!(time(&r[ACCESS]["accessEnd"]), end);
    }
    assert_eq!(admin_view(&s, &token, &id)["access_state"], "active");

    // Two weeks before the end: announced once, listed, counted.
    s.server.advance_clock(17 * DAY);
    wait_event(&s, "user.access_expiring", &id);
    let ending = s.server.api(&token, "GET", "/access/third-party", None).json();
    assert_eq!(
        ending
            .as_array()
            .map(|l| l.iter().filter(|x| x["id"] == id.as_str()).count()),
        Some(1),
        "{ending}"
    );
    let metrics = call("GET", &format!("{}/metrics", s.server.url), &[], None).body;
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"scimd_access_expiring_users{provider="okta"} 1"#),
        "{metrics}"
    );

    // Past the end: expired for everyone who asks scimd; SCIM `active` is still the provider's.
    s.server.advance_clock(14 * DAY);
    let seen = s.get(&format!("/Users/{id}")).json();
    assert_eq!(
        (seen["active"].as_bool(), seen[ACCESS]["state"].as_str()),
        (Some(true), Some("expired"))
    );
    assert_eq!(admin_view(&s, &token, &id)["access_state"], "expired");
    let listed = s
        .server
        .cli(&["users", "list", "--population", "third-party", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert_eq!(listed[0]["access_state"], "expired", "{listed}");
    wait_event(&s, "user.access_expired", &id);
    let hook = hooks.wait_for(Duration::from_secs(30), "the expiry webhook", |g| !g.is_empty());
    let body = hook[0].json();
    assert_eq!(
        (body["type"].as_str(), body["data"]["access_state"].as_str()),
        (Some("user.access_expired"), Some("expired"))
    );
    assert_eq!(body["data"]["resource"]["active"], true);
    let set = sets.wait_for(Duration::from_secs(30), "the expiry SET", |g| !g.is_empty());
    let claims = set_claims(&String::from_utf8_lossy(&set[0].body));
    assert_eq!(
        claims["events"]["urn:ietf:params:scim:event:prov:deactivate"]["reason"], "access_expired",
        "{claims}"
    );
    // The provider setting `active` again renews nothing.
    let on = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), Some(&on)).json()[ACCESS]["state"],
        "expired"
    );
    let audit = s
        .server
        .api(&token, "GET", "/audit?action=user.access.expire", None)
        .json();
    assert_eq!(audit["events"][0]["actor"], "system", "{audit}");

    // An administrator renews it: active again, announced (a SET activation), audited as theirs.
    let renewed = s.server.cli(&["users", "renew", &id, "--for", "90d"]);
    assert!(renewed.status.success(), "{}", err(&renewed));
    let now = s.get(&format!("/Users/{id}")).json();
    assert_eq!(now[ACCESS]["state"], "active");
    assert!(
        (time(&now[ACCESS]["accessEnd"]).0 - time(&now["meta"]["lastModified"]).plus_seconds(90 * DAY).0).abs() < 5_000
    );
    assert_eq!(admin_view(&s, &token, &id)["access_state"], "active");
    wait_event(&s, "user.access_renewed", &id);
    let hook = hooks.wait_for(Duration::from_secs(30), "the renewal webhook", |g| g.len() >= 2);
    assert_eq!(hook[1].json()["data"]["access_state"], "active");
    let set = sets.wait_for(Duration::from_secs(30), "the renewal SET", |g| g.len() >= 2);
    let claims = set_claims(&String::from_utf8_lossy(&set[1].body));
    assert_eq!(
        claims["events"]["urn:ietf:params:scim:event:prov:activate"]["reason"], "access_renewed",
        "{claims}"
    );
    let audit = s
        .server
        .api(&token, "GET", "/audit?action=user.access.renew", None)
        .json();
    assert!(
        audit["events"][0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{audit}"
    );
}

#[test]
fn renewals_by_api_console_and_group_and_what_they_refuse() {
    let s = Scim::start_with("third-party", &["--access-ttl", "2d"]);
    let token = s.server.admin_token("ops");
    let a = str_of(&s.user("a@vendor.example"), "id").to_owned();
    let b = str_of(&s.user("b@vendor.example"), "id").to_owned();
    let g = str_of(&s.group("Vendor", &[&a, &b]), "id").to_owned();
    s.server.advance_clock(3 * DAY);
    assert_eq!(admin_view(&s, &token, &a)["access_state"], "expired");
    // Stated at each read, never stored: a filter or sort on it is refused, not left empty.
    for query in [
        format!(
            "filter={}",
            crate::support::enc(&format!("{ACCESS}:state eq \"expired\""))
        ),
        format!("sortBy={ACCESS}:accessEnd"),
    ] {
        assert_scim_error(&s.get(&format!("/Users?{query}")), 400, Some("invalidFilter"));
    }

    let r = s.server.api(
        &token,
        "POST",
        &format!("/users/{a}/renew"),
        Some(&json!({"for": "10d"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["access_state"], "active");
    for (body, says) in [
        (json!({"for": "soon"}), "not a duration"),
        (json!({"for": "0s"}), "between 1 second"),
        (json!({"for": "1d", "why": "x"}), "unknown field"),
        (json!({}), "missing field"),
    ] {
        let r = s.server.api(&token, "POST", &format!("/users/{b}/renew"), Some(&body));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(
            r.json()["detail"].as_str().is_some_and(|d| d.contains(says)),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(
        admin_view(&s, &token, &b)["access_state"],
        "expired",
        "nothing was renewed"
    );

    let group = s.server.cli(&["groups", "renew", &g, "--for", "30d"]);
    assert!(group.status.success(), "{}", err(&group));
    assert!(
        String::from_utf8_lossy(&group.stdout).contains("2 members"),
        "{group:?}"
    );
    assert_eq!(admin_view(&s, &token, &b)["access_state"], "active");
    let r = s.server.api(
        &token,
        "POST",
        &format!("/groups/{g}/renew"),
        Some(&json!({"for": "5d"})),
    );
    assert_eq!((r.status, r.json()["renewed"].as_u64()), (200, Some(2)), "{}", r.body);

    // The console's renewal form, on the user's page.
    s.server.advance_clock(6 * DAY);
    crate::admin_console::add_admin(&s.server, "alice", crate::admin_console::PASSWORD);
    let cookie = crate::admin_console::session(&s.server);
    let page = crate::admin_console::get_page(&s.server, &cookie, &format!("/admin/users/third-party/{a}"));
    assert!(page.body.contains("id=\"access-state\">expired<"), "{}", page.body);
    let csrf = crate::admin_console::csrf_of(&page.body);
    let r = crate::support::call_unredirected(
        "POST",
        &format!("{}/admin/users/{a}/renew", s.server.url),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        Some(&format!("csrf={csrf}&for=7d&back=/admin/access/third-party")),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin/access/third-party")),
        "{}",
        r.body
    );
    assert_eq!(admin_view(&s, &token, &a)["access_state"], "active");

    // A user whose provider gives no access end has nothing to renew.
    let (base, scim_token) = s.another("Staff", "internal");
    let staff = crate::support::call(
        "POST",
        &format!("{base}/Users"),
        &[
            ("Authorization", &format!("Bearer {scim_token}")),
            ("Content-Type", "application/scim+json"),
        ],
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "staff@example.com"})
                .to_string(),
        ),
    )
    .json();
    assert!(staff.get(ACCESS).is_none(), "{staff}");
    let sid = str_of(&staff, "id");
    let refused = s.server.cli(&["users", "renew", sid, "--for", "30d"]);
    assert!(
        !refused.status.success() && err(&refused).contains("no access end date"),
        "{}",
        err(&refused)
    );
    let schemas = crate::support::get_bearer(&format!("{base}/Schemas"), &scim_token).json();
    assert!(
        !schemas.to_string().contains(ACCESS),
        "only providers whose access ends advertise it"
    );
}
