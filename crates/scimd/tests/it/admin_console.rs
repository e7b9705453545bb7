//! The console over plain HTTP: sign-in and its limits, the session cookie, CSRF on every
//! POST, escaping, and the security headers. The browser flow is in tests/browser.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Reply, Server, call_unredirected as call, db_args};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

fn server_with_admin() -> Server {
    with_admin(Server::start())
}

pub(crate) fn with_admin(s: Server) -> Server {
    let out = add_admin(&s, "alice", PASSWORD);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s
}

/// `scimd admin add NAME --password-stdin` with `password` on standard input.
pub fn add_admin(server: &Server, name: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(crate::support::BIN)
        .args(db_args(server.path()))
        .args(["admin", "add", name, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{password}");
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap_or("")
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_owned()
}

pub(crate) fn form(url: &str, cookie: &str, body: &str) -> Reply {
    call(
        "POST",
        url,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie),
        ],
        Some(body),
    )
}

/// Sign in; returns the session cookie header value (`scimd_session=...`).
fn sign_in(s: &Server, password: &str) -> Result<String, Reply> {
    let page = call("GET", &format!("{}/admin/login", s.url), &[], None);
    let login = cookie_value(&set_cookie(&page, "scimd_login").unwrap_or_default());
    let body = format!(
        "csrf={}&name=alice&password={}",
        csrf_of(&page.body),
        password.replace(' ', "+")
    );
    let r = form(
        &format!("{}/admin/login", s.url),
        &format!("scimd_login={login}"),
        &body,
    );
    match set_cookie(&r, "scimd_session") {
        Some(c) if r.status == 303 => Ok(c),
        _ => Err(r),
    }
}

/// A signed-in administrator's cookie header value.
pub(crate) fn session(s: &Server) -> String {
    format!(
        "scimd_session={}",
        cookie_value(&sign_in(s, PASSWORD).unwrap_or_default())
    )
}

/// A console page, as the signed-in administrator sees it.
pub(crate) fn get_page(s: &Server, cookie: &str, path: &str) -> Reply {
    call("GET", &format!("{}{path}", s.url), &[("Cookie", cookie)], None)
}

#[test]
fn sign_in_opens_a_strict_http_only_session_and_sign_out_ends_it() {
    let s = server_with_admin();
    let unsigned = call("GET", &format!("{}/admin/providers", s.url), &[], None);
    assert_eq!(unsigned.status, 303);
    assert_eq!(unsigned.header("location"), Some("/admin/login?next=/admin/providers"));

    let header = sign_in(&s, PASSWORD).unwrap_or_else(|r| panic!("{} {}", r.status, r.body));
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(header.contains(attr), "{header}");
    }
    assert!(!header.contains("Secure"), "no Secure flag over plain http");
    let id = cookie_value(&header);
    assert_eq!(id.len(), 43);
    let cookie = format!("scimd_session={id}");
    let page = get_page(&s, &cookie, "/admin/providers");
    assert_eq!(page.status, 200);
    for (h, v) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.header(h), Some(v), "{h}");
    }
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'")
    );
    assert!(!page.body.contains("<script>"), "no inline script");

    // The session is stored hashed: the cookie's value is not in the database.
    assert!(!String::from_utf8_lossy(&crate::support::db_bytes(s.path())).contains(&id));

    let csrf = csrf_of(&page.body);
    let out = form(&format!("{}/admin/logout", s.url), &cookie, &format!("csrf={csrf}"));
    assert_eq!(out.status, 303);
    let after = get_page(&s, &cookie, "/admin/providers");
    assert_eq!(after.status, 303, "the session is gone");
    assert!(
        !s.log().contains(&id) && !s.log().contains(PASSWORD),
        "no cookie or password in the log"
    );
}

#[test]
fn every_console_post_needs_the_sessions_csrf_token() {
    let s = server_with_admin();
    let cookie = session(&s);
    let page = get_page(&s, &cookie, "/admin/providers/new");
    let csrf = csrf_of(&page.body);
    assert_eq!(csrf.len(), 64);
    let body = "name=Okta&population=internal&enabled=on";
    let url = format!("{}/admin/providers", s.url);
    assert_eq!(form(&url, &cookie, body).status, 403, "no token");
    assert_eq!(
        form(&url, &cookie, &format!("{body}&csrf={}", "0".repeat(64))).status,
        403,
        "a wrong token"
    );
    // Another session's token does not fit this one.
    let other = session(&s);
    let other_page = get_page(&s, &other, "/admin/providers/new");
    assert_eq!(
        form(&url, &cookie, &format!("{body}&csrf={}", csrf_of(&other_page.body))).status,
        403
    );
    assert!(call("GET", &format!("{}/admin/api/v1/providers", s.url), &[], None).status == 401);
    assert_eq!(
        crate::support::sql_rows(s.path(), "SELECT id FROM provider").len(),
        0,
        "nothing was created by the refused forms"
    );
    let ok = form(&url, &cookie, &format!("{body}&csrf={csrf}"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Provider registered"));
    // The header form (the page's own script) works too, and a missing session is refused.
    let reveal = call(
        "POST",
        &format!("{}/admin/providers/okta/reveal", s.url),
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Accept", "application/json"),
        ],
        None,
    );
    assert_eq!(reveal.status, 200);
    assert_eq!(reveal.json()["client_secret"].as_str().map(str::len), Some(48));
    let no_session = form(
        &format!("{}/admin/providers/okta/disable", s.url),
        "",
        &format!("csrf={csrf}"),
    );
    assert_eq!(no_session.status, 403);
}

#[test]
fn failed_sign_ins_are_slowed_and_limited_per_account() {
    let s = server_with_admin();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let r = sign_in(&s, "wrong password!")
            .err()
            .unwrap_or_else(|| panic!("signed in"));
        assert_eq!(r.status, 401);
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(2000),
        "each failure is held back"
    );
    let limited = sign_in(&s, PASSWORD)
        .err()
        .unwrap_or_else(|| panic!("signed in past the limit"));
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("too many failed attempts"));
    let failures = crate::support::sql_rows(
        s.path(),
        "SELECT actor FROM audit_event WHERE action = 'admin.signin.failure'",
    );
    assert_eq!(failures.len(), 5);
    assert_eq!(failures[0][0].as_deref(), Some("admin:alice"));
}

#[test]
fn text_from_providers_and_identity_providers_is_escaped() {
    let s = server_with_admin();
    let cookie = session(&s);
    s.add_provider(
        "<img src=x onerror=alert(1)>",
        "internal",
        &["--description", "\"><script>alert(2)</script>"],
    );
    let list = get_page(&s, &cookie, "/admin/providers");
    assert!(
        list.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<img src=x"));
    let details = get_page(&s, &cookie, "/admin/providers/img-src-x-onerror-alert-1");
    assert_eq!(details.status, 200, "{}", details.body);
    assert!(!details.body.contains("<script>alert(2)"));
    assert!(details.body.contains("&quot;&gt;&lt;script&gt;"));
}

#[test]
fn a_provider_is_registered_and_edited_in_the_console_but_its_population_stays() {
    let s = server_with_admin();
    let cookie = session(&s);
    let page = get_page(&s, &cookie, "/admin/providers/new");
    let csrf = csrf_of(&page.body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let in_400_days = scimd_core::Timestamp(now).plus_seconds(400 * 86_400).to_rfc3339();
    let created = form(
        &format!("{}/admin/providers", s.url),
        &cookie,
        &format!(
            "csrf={csrf}&name=Vendor+Portal&population=third-party&description=d&tags=a%2C+b&token_expiry_date={}&allowed_networks=10.0.0.0%2F8",
            &in_400_days[..10]
        ),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let edit = get_page(&s, &cookie, "/admin/providers/vendor-portal/edit");
    assert!(
        edit.body.contains("value=\"a, b\"") && edit.body.contains("value=\"10.0.0.0/8\""),
        "{}",
        edit.body
    );
    let saved = form(
        &format!("{}/admin/providers/vendor-portal/edit", s.url),
        &cookie,
        &format!("csrf={csrf}&name=Vendors&population=internal&description=&tags=&token_ttl=30d&allowed_networks="),
    );
    assert_eq!(saved.status, 400, "the population is fixed: {}", saved.body);
    let saved = form(
        &format!("{}/admin/providers/vendor-portal/edit", s.url),
        &cookie,
        &format!("csrf={csrf}&name=Vendors&description=&tags=&token_ttl=30d&allowed_networks="),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let rows = crate::support::sql_rows(
        s.path(),
        "SELECT name, population, tags, CAST(token_ttl_seconds AS TEXT), allowed_networks FROM provider",
    );
    let row: Vec<&str> = rows[0].iter().map(|c| c.as_deref().unwrap_or("")).collect();
    assert_eq!(row, ["Vendors", "third-party", "[]", "2592000", "[]"]);
    let actors = crate::support::sql_rows(
        s.path(),
        "SELECT actor FROM audit_event WHERE action IN ('provider.create', 'provider.update')",
    );
    assert_eq!(actors.len(), 2);
    assert!(actors.iter().all(|a| a[0].as_deref() == Some("admin:alice")));
}

#[test]
fn the_console_actions_on_a_provider_do_what_they_say() {
    let s = server_with_admin();
    let cookie = session(&s);
    let p = s.add_provider("Okta", "internal", &[]);
    let page = get_page(&s, &cookie, "/admin/providers/okta");
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains(crate::support::str_of(&p, "client_secret")),
        "the secret is masked"
    );
    let csrf = csrf_of(&page.body);
    let post = |action: &str, extra: &str| {
        form(
            &format!("{}/admin/providers/okta/{action}", s.url),
            &cookie,
            &format!("csrf={csrf}{extra}"),
        )
    };

    let issued = post("token", "");
    assert_eq!(issued.status, 200);
    let token = issued
        .body
        .split("id=\"activation-token\" readonly value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert!(token.starts_with("scimd_"), "{}", issued.body);
    let users = format!("{}/Users", crate::support::str_of(&p, "base_url"));
    assert_eq!(crate::support::get_bearer(&users, &token).status, 200);
    let token_id = crate::support::sql_rows(s.path(), "SELECT id FROM access_token")[0][0]
        .clone()
        .unwrap_or_default();
    assert_eq!(post(&format!("tokens/{token_id}/revoke"), "").status, 303);
    assert_eq!(crate::support::get_bearer(&users, &token).status, 401);

    let postman = post("postman", "");
    assert_eq!(postman.status, 200);
    assert!(
        postman
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert!(postman.body.contains(crate::support::str_of(&p, "client_secret")));

    let rotated = post("rotate", "");
    assert_eq!(rotated.status, 200);
    assert!(rotated.body.contains("New client secret"));
    assert!(!rotated.body.contains(crate::support::str_of(&p, "client_secret")));

    assert_eq!(post("disable", "").status, 303);
    assert_eq!(
        crate::support::sql_rows(s.path(), "SELECT CAST(enabled AS TEXT) FROM provider")[0][0]
            .as_deref()
            .map(|v| v == "0" || v == "false"),
        Some(true)
    );
    assert_eq!(post("enable", "").status, 303);

    let confirm = get_page(&s, &cookie, "/admin/providers/okta/delete");
    assert!(confirm.body.contains("cannot be undone"));
    assert_eq!(post("delete", "&confirm=wrong").status, 400);
    assert_eq!(post("delete", "&confirm=okta").status, 303);
    assert!(crate::support::sql_rows(s.path(), "SELECT id FROM provider").is_empty());

    let actions: Vec<String> = crate::support::sql_rows(
        s.path(),
        "SELECT action FROM audit_event WHERE actor = 'admin:alice' ORDER BY seq",
    )
    .into_iter()
    .filter_map(|r| r[0].clone())
    .collect();
    assert_eq!(
        actions,
        [
            "admin.signin",
            "token.issue",
            "token.revoke",
            "provider.secret.reveal",
            "provider.secret.rotate",
            "provider.disable",
            "provider.enable",
            "provider.delete"
        ]
    );
}

#[test]
fn behind_https_the_session_cookie_is_secure() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = with_admin(Server::start_with(dir, &["--public-url", "https://scim.example.com"]));
    let header = sign_in(&s, PASSWORD).unwrap_or_else(|r| panic!("{} {}", r.status, r.body));
    assert!(header.contains("; Secure"), "{header}");
}

/// The `seq` of every audit event up to `max` the database holds, newest first.
fn seqs_up_to(s: &Server, max: u64) -> Vec<u64> {
    let mut seqs: Vec<u64> = crate::support::sql_rows(
        s.path(),
        &format!("SELECT CAST(seq AS TEXT) FROM audit_event WHERE seq <= {max}"),
    )
    .into_iter()
    .filter_map(|r| r[0].as_deref().and_then(|v| v.parse().ok()))
    .collect();
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    seqs
}

#[test]
fn the_audit_export_holds_every_selected_event_however_many_pages_they_fill() {
    let s = server_with_admin();
    let provider = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&provider);
    let base = crate::support::str_of(&provider, "base_url").to_owned();
    // 2,400 creations: more than two of the export's 1,000-event pages.
    for batch in 0..3 {
        let ops: Vec<serde_json::Value> = (0..800)
            .map(|i| {
                serde_json::json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                             "userName": format!("user{batch}-{i}@example.com")}})
            })
            .collect();
        let r = crate::support::call(
            "POST",
            &format!("{base}/Bulk"),
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/scim+json"),
            ],
            Some(
                &serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                     "Operations": ops})
                .to_string(),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let cookie = session(&s);

    let csv = get_page(&s, &cookie, "/admin/audit.csv");
    assert_eq!(csv.status, 200, "{}", csv.body);
    let mut lines = csv.body.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some("seq,time,actor,action,provider,resource,population,attributes")
    );
    let exported: Vec<u64> = lines
        .map(|l| {
            l.split(',')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{l}"))
        })
        .collect();
    assert!(exported.len() > 2_400, "{} events", exported.len());
    assert_eq!(exported, seqs_up_to(&s, exported[0]), "every event, newest first, once");

    let jsonl = get_page(&s, &cookie, "/admin/audit.jsonl?action=user.create");
    assert_eq!(jsonl.status, 200);
    let created: Vec<serde_json::Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(created.len(), 2_400);
    assert!(created.iter().all(|e| e["action"] == "user.create"));
}

/// Move every console session `ms` milliseconds into the past (as if signed in and last
/// used that much earlier); its remaining life, `expires - now`, in milliseconds.
fn age_sessions(s: &Server, ms: i64) -> i64 {
    let rows = crate::support::sql_rows(
        s.path(),
        &format!(
            "UPDATE admin_session SET created = created - {ms}, expires = expires - {ms} \
             RETURNING CAST(expires AS TEXT)"
        ),
    );
    let expires: i64 = rows[0][0].as_deref().and_then(|v| v.parse().ok()).unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    expires - now
}

/// The session's end minus its start, in milliseconds.
fn session_span(s: &Server) -> i64 {
    let rows = crate::support::sql_rows(s.path(), "SELECT CAST(expires - created AS TEXT) FROM admin_session");
    rows[0][0].as_deref().and_then(|v| v.parse().ok()).unwrap_or_default()
}

#[test]
fn an_idle_session_ends_after_thirty_minutes_and_a_busy_one_after_twelve_hours() {
    const MINUTE: i64 = 60_000;
    let s = server_with_admin();
    let cookie = session(&s);
    assert_eq!(session_span(&s), 30 * MINUTE, "a new session has 30 idle minutes");

    // Signed in 25 minutes ago, idle since: 5 minutes left; a page view gives 30 again.
    assert!(age_sessions(&s, 25 * MINUTE) < 6 * MINUTE);
    assert_eq!(get_page(&s, &cookie, "/admin/providers").status, 200);
    assert!(session_span(&s) >= 54 * MINUTE, "extended by the use");
    // Then 31 idle minutes: gone.
    age_sessions(&s, 31 * MINUTE);
    let r = get_page(&s, &cookie, "/admin/providers");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/login?next=/admin/providers"));

    // In use all day, a page every 29 minutes: alive until 12 hours after sign-in, no later.
    let cookie = session(&s);
    for _ in 0..24 {
        age_sessions(&s, 29 * MINUTE);
        assert_eq!(get_page(&s, &cookie, "/admin/providers").status, 200);
    }
    // 11 h 36 min after sign-in: 24 minutes left, and use no longer adds to them.
    assert_eq!(session_span(&s), 12 * 60 * MINUTE);
    let left = age_sessions(&s, 20 * MINUTE);
    assert!(left < 5 * MINUTE, "{left} ms left");
    assert_eq!(get_page(&s, &cookie, "/admin/providers").status, 200);
    assert_eq!(session_span(&s), 12 * 60 * MINUTE);
    age_sessions(&s, 5 * MINUTE);
    assert_eq!(get_page(&s, &cookie, "/admin/providers").status, 303);
}

#[test]
fn failed_sign_ins_count_across_instances_on_one_database() {
    let a = server_with_admin();
    let b = Server::start_sharing(&a);
    // Three guesses through one instance, two through the other: neither has seen five.
    for (s, n) in [(&a, 3), (&b, 2)] {
        for _ in 0..n {
            let r = sign_in(s, "wrong password!")
                .err()
                .unwrap_or_else(|| panic!("signed in"));
            assert_eq!(r.status, 401);
        }
    }
    for s in [&a, &b] {
        let limited = sign_in(s, PASSWORD)
            .err()
            .unwrap_or_else(|| panic!("signed in past the shared limit"));
        assert_eq!(limited.status, 429, "{}", limited.body);
        let retry: u64 = limited
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    }
}
