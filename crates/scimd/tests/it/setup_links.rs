//! Setup links, as the vendor's IT admin meets them: a page that shows the connection values,
//! makes an activation token only when asked (a prefetching scanner changes nothing), shows
//! the client secret once when the link allows it, and counts what arrived; expired, revoked
//! and unknown codes look alike; the code stays out of the server's log. Made, listed and
//! revoked from the command line, the admin API and the console.

use serde_json::{Value, json};

use crate::admin_api::Admin;
use crate::admin_console::{csrf_of, form, get_page, session, with_admin};
use crate::support::{Reply, Server, call, eventually_status, get_bearer, sql_rows, str_of};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `scimd provider setup-link create PROVIDER --json ...`: (id, url).
fn create_link(s: &Server, provider: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["provider", "setup-link", "create", provider, "--json"];
    args.extend_from_slice(extra);
    let out = s.cli(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    (str_of(&v, "id").to_owned(), str_of(&v, "url").to_owned())
}

/// A value shown in a read-only field of a page, by the field's id.
fn field(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let rest = &page[at..];
    let value = rest.split("value=\"").nth(1)?.split('"').next()?;
    Some(value.replace("&amp;", "&"))
}

fn post_page(url: &str, csrf: &str) -> Reply {
    call("POST", url, &[FORM], Some(&format!("csrf={csrf}")))
}

fn audit(s: &Server, actor_like: &str) -> Vec<(String, String)> {
    sql_rows(
        s.path(),
        &format!("SELECT actor, action FROM audit_event WHERE actor LIKE '{actor_like}' ORDER BY seq"),
    )
    .into_iter()
    .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
    .collect()
}

fn tokens(s: &Server, provider: &str) -> Vec<Value> {
    let out = s.cli(&["provider", "tokens", provider, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn a_setup_page_shows_the_values_makes_a_token_on_request_and_counts_what_arrived() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut s = Server::start_tracing(dir);
    let p = s.add_provider("Acme Vendor", "third-party", &[]);
    let (id, url) = create_link(&s, "acme-vendor", &[]);
    let code = url.rsplit('/').next().unwrap_or_default().to_owned();
    assert!(url.starts_with(&format!("{}/setup/", s.url)), "{url}");
    assert!(
        code.len() >= 22 && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{code}"
    );

    // Opened (twice, as a link scanner and then the person would): values, no secret, no
    // token made, no cookie; careful headers.
    for _ in 0..2 {
        let r = call("GET", &url, &[], None);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            field(&r.body, "base-url"),
            Some(format!("{}/scim/v2/acme-vendor", s.url))
        );
        assert_eq!(field(&r.body, "token-url"), Some(format!("{}/oauth2/token", s.url)));
        assert_eq!(field(&r.body, "client-id").as_deref(), Some(str_of(&p, "client_id")));
        assert!(!r.body.contains(str_of(&p, "client_secret")));
        assert!(
            !r.body.contains("Show the client secret"),
            "this link does not reveal it"
        );
        assert!(r.body.contains("Okta") && r.body.contains("Microsoft Entra ID") && r.body.contains("curl"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(
            r.header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors 'none'"))
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(r.header("set-cookie").is_none());
    }
    assert!(tokens(&s, "acme-vendor").is_empty(), "viewing makes no token");
    let page = call("GET", &url, &[], None).body;
    let csrf = csrf_of(&page);
    assert!(!csrf.is_empty());

    // A POST without the page's form token (another site, a scanner) is refused and changes nothing.
    let r = post_page(&format!("{url}/token"), "x");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(tokens(&s, "acme-vendor").is_empty());

    // Generate: the token, shown once, works at the Base URL and is listed with the link.
    let r = post_page(&format!("{url}/token"), &csrf);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = field(&r.body, "activation-token").unwrap_or_else(|| panic!("no token on {}", r.body));
    assert!(token.starts_with("scimd_"), "{token}");
    let base = format!("{}/scim/v2/acme-vendor", s.url);
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann@acme.example"});
    let auth = format!("Bearer {token}");
    let created = call(
        "POST",
        &format!("{base}/Users"),
        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
        Some(&user.to_string()),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = tokens(&s, "acme-vendor");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["setup_link"], json!(id));
    let table = text(&s.cli(&["provider", "tokens", "acme-vendor"]).stdout);
    assert!(table.contains("SETUP LINK") && table.contains(&id), "{table}");

    // A push that fails, as a misconfigured identity provider's would, with a password in it.
    let bad = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "No name",
        "password": "Hunter2-kept-nowhere-at-all"});
    let failed = call(
        "POST",
        &format!("{base}/Users"),
        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
        Some(&bad.to_string()),
    );
    assert_eq!(failed.status, 400, "{}", failed.body);

    // The status panel counts what arrived, lists the requests (the log is written a second
    // at a time) and shows the failure in full, its password masked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let st = loop {
        let st = call("GET", &format!("{url}/status"), &[], None);
        assert_eq!(st.status, 200, "{}", st.body);
        if st.json()["requests"].as_array().map(Vec::len) == Some(2) {
            break st.json();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the requests never showed: {}",
            st.body
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!((st["users"].clone(), st["groups"].clone()), (json!(1), json!(0)));
    assert_eq!(
        (st["requests"][0]["status"].clone(), st["requests"][1]["status"].clone()),
        (json!(400), json!(201))
    );
    assert_eq!(st["requests"][0]["path"], "/Users");
    let error = &st["last_error"];
    assert_eq!(error["status"], 400);
    assert!(
        error["detail"].as_str().is_some_and(|d| d.contains("userName")),
        "{error}"
    );
    assert!(error["body"].as_str().is_some_and(|b| b.contains("No name")), "{error}");
    assert!(
        !st.to_string().contains("Hunter2"),
        "a password reached the status panel: {st}"
    );

    // The secret: this link may not show it.
    let r = post_page(&format!("{url}/secret"), &csrf);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.body.contains(str_of(&p, "client_secret")));

    // The Postman collection carries every value but the secret.
    let r = post_page(&format!("{url}/postman"), &csrf);
    assert_eq!(r.status, 200, "{}", r.body);
    let vars: Vec<(String, String)> = r.json()["variable"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| (str_of(v, "key").to_owned(), str_of(v, "value").to_owned()))
        .collect();
    assert!(vars.contains(&("scim_base_url".into(), base.clone())), "{vars:?}");
    assert!(vars.contains(&("scim_client_secret".into(), String::new())), "{vars:?}");

    // Audited as the link: its first view once, the token, the download; status refreshes not.
    let actor = format!("setup:{id}");
    let actions: Vec<String> = audit(&s, &actor).into_iter().map(|(_, a)| a).collect();
    assert_eq!(
        actions,
        ["setup_link.view", "token.issue", "setup_link.postman"],
        "{actions:?}"
    );

    // The code never reaches the log, even at trace level; its path does, without it.
    s.stop();
    let log = s.log();
    assert!(!log.contains(&code), "the setup code reached the log");
    assert!(log.contains("/setup/{code}"), "the request was logged without the code");
}

#[test]
fn expired_revoked_unknown_and_malformed_codes_all_get_the_same_page() {
    let s = Server::start();
    s.add_provider("Vendor", "third-party", &[]);
    let (revoked_id, revoked) = create_link(&s, "vendor", &[]);
    let (expired_id, expired) = create_link(&s, "vendor", &["--expires", "1h"]);
    let (_, live) = create_link(&s, "vendor", &[]);
    let out = s.cli(&["provider", "setup-link", "revoke", "vendor", &revoked_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sql_rows(
        s.path(),
        &format!("UPDATE setup_link SET expires = created - 1 WHERE id = '{expired_id}' RETURNING id"),
    );
    let unknown = format!("{}/setup/{}", s.url, "A".repeat(32));
    let malformed = format!("{}/setup/short", s.url);

    let pages: Vec<Reply> = [&revoked, &expired, &unknown, &malformed]
        .iter()
        .map(|u| call("GET", u, &[], None))
        .collect();
    for r in &pages {
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(r.body, pages[0].body, "every dead code gets the same page");
        assert!(r.body.contains("expired or been revoked"), "{}", r.body);
    }
    assert_eq!(call("GET", &live, &[], None).status, 200);
    // Nor can a dead link act, with any form token.
    let csrf = csrf_of(&call("GET", &live, &[], None).body);
    assert_eq!(
        post_page(&format!("{revoked}/token"), &csrf).status,
        403,
        "not the page's form"
    );
    let dead_csrf = scimd_form_token(&revoked);
    assert_eq!(post_page(&format!("{revoked}/token"), &dead_csrf).status, 404);
    assert_eq!(call("GET", &format!("{expired}/status"), &[], None).status, 404);

    // The list says which is which.
    let out = s.cli(&["provider", "setup-link", "list", "vendor", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let states: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().map(|l| l["state"].as_str().unwrap_or("")).collect())
        .unwrap_or_default();
    let mut sorted = states.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["expired", "live", "revoked"], "{list}");
    let table = text(&s.cli(&["provider", "setup-link", "list", "vendor"]).stdout);
    assert!(
        table.contains("revoked") && table.contains("expired") && table.contains("FIRST OPENED"),
        "{table}"
    );
}

/// The form token a page for `url` would carry, computed as the page does: a test of the
/// page's check, not a way around it (the server must still refuse a dead code).
fn scimd_form_token(url: &str) -> String {
    scimd_core::setup::form_token(url.rsplit('/').next().unwrap_or_default())
}

#[test]
fn wrong_codes_are_refused_per_address_past_the_limit() {
    let s = Server::start();
    s.add_provider("Vendor", "third-party", &[]);
    let (_, live) = create_link(&s, "vendor", &[]);
    for i in 0..30 {
        let r = call("GET", &format!("{}/setup/{:0>32}", s.url, i), &[], None);
        assert_eq!(r.status, 404, "guess {i}: {}", r.body);
    }
    let r = call("GET", &format!("{}/setup/{:0>32}", s.url, 99), &[], None);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    // The limit holds for the address whatever the code, until the window ends.
    assert_eq!(call("GET", &live, &[], None).status, 429);
}

#[test]
fn revoking_a_link_can_take_the_tokens_made_through_it() {
    let s = Server::start();
    let p = s.add_provider("Vendor", "third-party", &[]);
    let (id, url) = create_link(&s, "vendor", &[]);
    let csrf = csrf_of(&call("GET", &url, &[], None).body);
    let through_link = field(&post_page(&format!("{url}/token"), &csrf).body, "activation-token").unwrap_or_default();
    let direct = s.token_for(&p);
    let base = format!("{}/scim/v2/vendor", s.url);
    assert_eq!(get_bearer(&format!("{base}/Users"), &through_link).status, 200);

    // Revoked without its tokens: the page is gone, the token still works.
    let out = s.cli(&["provider", "setup-link", "revoke", "vendor", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("stay valid"), "{}", text(&out.stdout));
    assert_eq!(call("GET", &url, &[], None).status, 404);
    assert_eq!(get_bearer(&format!("{base}/Users"), &through_link).status, 200);
    // Then with them: the link's token goes, the other stays.
    let out = s.cli(&["provider", "setup-link", "revoke", "vendor", &id, "--revoke-tokens"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("with 1 token"), "{}", text(&out.stdout));
    assert_eq!(
        eventually_status(&format!("{base}/Users"), &through_link, 401).status,
        401
    );
    assert_eq!(get_bearer(&format!("{base}/Users"), &direct).status, 200);

    // Bad input: clear errors, nothing changed.
    let out = s.cli(&["provider", "setup-link", "revoke", "vendor", "nosuchlink"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("setup link 'nosuchlink'"),
        "{}",
        text(&out.stderr)
    );
    let out = s.cli(&["provider", "setup-link", "create", "vendor", "--expires", "45d"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("30 days"), "{}", text(&out.stderr));
    let out = s.cli(&["provider", "setup-link", "create", "vendor", "--expires", "soon"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not a duration"), "{}", text(&out.stderr));
    let out = s.cli(&["provider", "setup-link", "create", "nosuch"]);
    assert!(!out.status.success());
    assert_eq!(
        sql_rows(s.path(), "SELECT CAST(count(*) AS TEXT) FROM setup_link")[0][0].as_deref(),
        Some("1")
    );
}

#[test]
fn a_link_made_to_reveal_the_secret_shows_it_once() {
    let s = Server::start();
    let p = s.add_provider("Entra Vendor", "third-party", &[]);
    let (id, url) = create_link(&s, "entra-vendor", &["--reveal-secret", "--expires", "7d"]);
    let page = call("GET", &url, &[], None).body;
    assert!(page.contains("Show the client secret (once)"), "{page}");
    assert!(!page.contains(str_of(&p, "client_secret")));
    let csrf = csrf_of(&page);
    let r = post_page(&format!("{url}/secret"), &csrf);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        field(&r.body, "client-secret").as_deref(),
        Some(str_of(&p, "client_secret"))
    );
    // Once: the next ask is refused and the page no longer offers it.
    let again = post_page(&format!("{url}/secret"), &csrf);
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(!again.body.contains(str_of(&p, "client_secret")));
    assert!(!call("GET", &url, &[], None).body.contains("Show the client secret"));
    let reveals: Vec<(String, String)> = audit(&s, &format!("setup:{id}"))
        .into_iter()
        .filter(|(_, a)| a == "provider.secret.reveal")
        .collect();
    assert_eq!(reveals.len(), 1);
}

#[test]
fn the_admin_api_makes_lists_and_revokes_setup_links() {
    let a = Admin::on(Server::start());
    a.create("Vendor", "third-party");
    let made = a.api(
        "POST",
        "/providers/vendor/setup-links",
        Some(&json!({"expires": "48h"})),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let v = made.json();
    let (id, url) = (str_of(&v, "id").to_owned(), str_of(&v, "url").to_owned());
    assert!(url.starts_with(&format!("{}/setup/", a.server.url)));
    assert!(v["expires"].is_string());
    // Without a body: the defaults.
    assert_eq!(a.api("POST", "/providers/vendor/setup-links", None).status, 201);
    let list = a.ok("GET", "/providers/vendor/setup-links", None);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(
        !list.to_string().contains(url.rsplit('/').next().unwrap_or("-")),
        "the code is not kept"
    );
    // A token made through the link, then the link revoked with it.
    let csrf = csrf_of(&call("GET", &url, &[], None).body);
    let token = field(&post_page(&format!("{url}/token"), &csrf).body, "activation-token").unwrap_or_default();
    let list = a.ok("GET", "/providers/vendor/setup-links", None);
    let ours = list
        .as_array()
        .and_then(|l| l.iter().find(|l| l["id"] == json!(id)).cloned())
        .unwrap_or_default();
    assert_eq!(
        (ours["tokens"].clone(), ours["state"].clone()),
        (json!(1), json!("live"))
    );
    assert!(ours["first_viewed"].is_string());
    let r = a.api(
        "DELETE",
        &format!("/providers/vendor/setup-links/{id}?revoke_tokens=true"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["revoked_tokens"], json!(1));
    assert_eq!(
        get_bearer(&format!("{}/scim/v2/vendor/Users", a.server.url), &token).status,
        401
    );

    // Refusals in the API's own shape, changing nothing.
    for (path, body, status) in [
        ("/providers/vendor/setup-links", json!({"expires": "31d"}), 400),
        ("/providers/vendor/setup-links", json!({"expiry": "1d"}), 400),
        ("/providers/nosuch/setup-links", json!({}), 404),
    ] {
        let r = a.api("POST", path, Some(&body));
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        assert!(r.json()["detail"].is_string(), "{}", r.body);
    }
    assert_eq!(
        a.api("DELETE", "/providers/vendor/setup-links/nosuch", None).status,
        404
    );
    assert_eq!(
        a.ok("GET", "/providers/vendor/setup-links", None)
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn the_console_makes_a_link_shows_its_url_once_and_revokes_it() {
    let s = with_admin(Server::start());
    s.add_provider("Vendor", "third-party", &[]);
    let cookie = session(&s);
    let page = get_page(&s, &cookie, "/admin/providers/vendor");
    assert!(page.body.contains("Setup links"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let r = form(
        &format!("{}/admin/providers/vendor/setup-links", s.url),
        &cookie,
        &format!("csrf={csrf}&expires=24h&reveal_secret=yes"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let url = field(&r.body, "setup-link-url").unwrap_or_else(|| panic!("no URL on {}", r.body));
    assert!(url.starts_with(&format!("{}/setup/", s.url)), "{url}");
    assert!(
        call("GET", &url, &[], None)
            .body
            .contains("Show the client secret (once)")
    );
    // Shown once: the page afterwards lists the link, not its URL.
    let again = get_page(&s, &cookie, "/admin/providers/vendor");
    assert!(!again.body.contains(&url));
    let id = sql_rows(s.path(), "SELECT id FROM setup_link")[0][0]
        .clone()
        .unwrap_or_default();
    assert!(again.body.contains(&id));
    let r = form(
        &format!("{}/admin/providers/vendor/setup-links/{id}/revoke", s.url),
        &cookie,
        &format!("csrf={csrf}"),
    );
    assert!(r.status == 303 || r.status == 200, "{} {}", r.status, r.body);
    assert_eq!(call("GET", &url, &[], None).status, 404);
    // A lifetime beyond 30 days is refused with the reason.
    let r = form(
        &format!("{}/admin/providers/vendor/setup-links", s.url),
        &cookie,
        &format!("csrf={csrf}&expires=90d"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("30 days"));
}
