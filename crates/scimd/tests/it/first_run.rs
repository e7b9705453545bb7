//! First run, as a new user meets it: the Base URL the command line prints is the one the
//! server serves under, a Base URL copied without its provider says so, unknown paths answer
//! API clients in JSON, tables stay aligned, and no provider takes a SCIM endpoint's name.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::admin_api::Admin;
use crate::admin_console::{csrf_of, form, get_page, session, with_admin};
use crate::support::{BIN, Scim, Server, assert_scim_error, call, call_unredirected, db_args, get_bearer, str_of};

/// The CLI on the server's database as a new user runs it: no public URL from anywhere.
fn bare_cli(s: &Server, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(db_args(s.path()))
        .args(args)
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_PUBLIC_URL")
        .env_remove("SCIMD_LISTEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run scimd: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn provider_add_without_a_public_url_prints_the_urls_the_server_recorded() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Before any server ran, the URL comes from the listen address, and the CLI says so.
    let early = Command::new(BIN)
        .args(db_args(dir.path()))
        .args(["provider", "add", "--name", "Early", "--population", "internal"])
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_PUBLIC_URL")
        .env_remove("SCIMD_LISTEN")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(early.status.success(), "{}", text(&early.stderr));
    assert!(text(&early.stdout).contains("http://127.0.0.1:8080/scim/v2/early"));
    assert!(
        text(&early.stderr).contains("derived from the listen address"),
        "{}",
        text(&early.stderr)
    );

    let s = Server::start_in(dir);
    let out = bare_cli(&s, &["provider", "add", "--name", "Okta", "--population", "internal"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Base URL       {}/scim/v2/okta", s.url)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Token URL      {}/oauth2/token", s.url)),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains(&format!("using the public URL the server recorded: {}", s.url)),
        "{}",
        text(&out.stderr)
    );
    // The JSON says the same and the note stays off standard output.
    let shown = bare_cli(&s, &["provider", "show", "okta", "--json"]);
    let v: Value = serde_json::from_slice(&shown.stdout).unwrap_or_default();
    assert_eq!(v["base_url"], format!("{}/scim/v2/okta", s.url));
    // A public URL given wins, without a note.
    let given = s.cli(&["provider", "show", "okta"]);
    assert!(text(&given.stdout).contains(&format!("{}/scim/v2/okta", s.url)));
    assert!(
        !text(&given.stderr).contains("using the public URL"),
        "{}",
        text(&given.stderr)
    );
    let flag = bare_cli(
        &s,
        &["--public-url", "https://scim.example.com", "provider", "show", "okta"],
    );
    assert!(text(&flag.stdout).contains("https://scim.example.com/scim/v2/okta"));
}

#[test]
fn a_base_url_without_the_provider_is_a_404_that_shows_the_base_url() {
    let scim = Scim::start("internal");
    let url = &scim.server.url;
    for path in [
        "/scim/v2/Users",
        "/scim/v2/Groups",
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/users/2819c223",
        "/scim/v2/Me",
        "/scim/v2/.search",
    ] {
        let r = get_bearer(&format!("{url}{path}?count=2"), &scim.token);
        assert_scim_error(&r, 404, None);
        let rest = path.trim_start_matches("/scim/v2");
        let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
        assert!(
            detail.contains(&format!("{url}/scim/v2/{{provider}}{rest}")),
            "{path}: {detail}"
        );
        assert!(!detail.contains("okta"), "{detail}");
    }
    // An invalid token learns nothing more than before.
    let bad = get_bearer(&format!("{url}/scim/v2/Users"), "garbage");
    assert_scim_error(&bad, 401, None);
}

#[test]
fn another_providers_token_is_told_it_belongs_to_another_provider() {
    let scim = Scim::start("internal");
    let (vendor_base, _) = scim.another("Vendor", "third-party");
    let r = get_bearer(&format!("{vendor_base}/Users"), &scim.token);
    assert_scim_error(&r, 401, None);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"invalid_token\"") && h.contains("another provider")),
        "{:?}",
        r.headers
    );
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("belongs to another provider"), "{detail}");
    assert!(
        !r.body.contains("okta"),
        "the token's provider is not named: {}",
        r.body
    );
}

#[test]
fn unknown_paths_answer_api_clients_in_json_and_send_only_browsers_to_sign_in() {
    let s = with_admin(Server::start());
    let json_404 = |path: &str, accept: &str| {
        let r = call("GET", &format!("{}{path}", s.url), &[("Accept", accept)], None);
        assert_eq!(r.status, 404, "{path} ({accept}): {}", r.body);
        let e = r.json();
        assert_eq!(e["error"], "not_found", "{e}");
        e["detail"].as_str().unwrap_or_default().to_owned()
    };
    assert!(json_404("/nope", "*/*").contains("/nope"));
    json_404("/nope", "text/html,application/xhtml+xml");
    json_404("/admin/nope", "application/json");
    json_404("/admin/api/v1/nope", "*/*");
    let scim = json_404("/scim/Users", "application/scim+json");
    assert!(scim.contains(&format!("{}/scim/v2/{{provider}}", s.url)), "{scim}");

    let browser = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let r = call_unredirected("GET", &format!("{}/admin/nope", s.url), &browser, None);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/admin/login?next=/admin/nope"));
    // Signed in, the browser sees the console's page for it.
    let cookie = session(&s);
    let page = call_unredirected(
        "GET",
        &format!("{}/admin/nope", s.url),
        &[browser[0], ("Cookie", &cookie)],
        None,
    );
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(
        page.body.contains("<html") || page.body.contains("<!DOCTYPE"),
        "{}",
        page.body
    );
}

/// Where each column of the header starts, and that every row has a value there.
fn assert_aligned(out: &str, header: &[&str], values: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    let head = lines
        .iter()
        .find(|l| l.starts_with(header[0]))
        .unwrap_or_else(|| panic!("{out}"));
    let starts: Vec<usize> = header
        .iter()
        .map(|h| head.find(h).unwrap_or_else(|| panic!("{h} in {head}")))
        .collect();
    for v in values {
        let line = lines
            .iter()
            .find(|l| l.contains(v))
            .unwrap_or_else(|| panic!("{v} whole in:\n{out}"));
        let at = line.find(v).unwrap_or(0);
        assert!(starts.contains(&at), "{v} at {at}, columns at {starts:?}:\n{out}");
    }
}

#[test]
fn cli_tables_stay_aligned_and_whole_when_not_on_a_terminal() {
    let scim = Scim::start("internal");
    let s = &scim.server;
    let long = format!("Vendor {}", "x".repeat(150));
    s.add_provider(&long, "third-party", &[]);
    s.add_provider("A", "internal", &[]);
    let out = text(&s.cli(&["provider", "list"]).stdout);
    // A short id and name, and a long one: each column starts at one place for both.
    assert_aligned(
        &out,
        &["ID", "POPULATION", "ENABLED", "CREATED", "LAST REQUESTS", "NAME"],
        &[&long, "third-party", "okta", "Okta"],
    );

    let user_name = format!("{}@example.com", "j".repeat(60));
    scim.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "displayName": "Jane"})),
    );
    scim.call(
        "POST",
        "/Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b@x.io", "displayName": "Bo"})),
    );
    let users = text(&s.cli(&["users", "list", "--population", "internal"]).stdout);
    assert_aligned(
        &users,
        &["ID", "PROVIDER", "ACTIVE", "USERNAME", "DISPLAY NAME"],
        &[&user_name, "b@x.io", "Jane", "Bo"],
    );
    scim.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "A very long group name indeed"})),
    );
    let groups = text(&s.cli(&["groups", "list", "--population", "internal"]).stdout);
    assert_aligned(
        &groups,
        &["ID", "PROVIDER", "DISPLAY NAME"],
        &["A very long group name indeed"],
    );
    let tokens = text(&s.cli(&["provider", "tokens", "okta"]).stdout);
    assert_aligned(&tokens, &["ID", "CREATED", "EXPIRES", "LAST USED", "STATE"], &["live"]);
    // --json is unchanged: an array of objects.
    let listed: Value = serde_json::from_slice(&s.cli(&["provider", "list", "--json"]).stdout).unwrap_or_default();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
}

#[test]
fn providers_named_like_scim_endpoints_are_refused_everywhere() {
    let s = with_admin(Server::start());
    for name in [
        "Users",
        "groups",
        "SCHEMAS",
        "ResourceTypes",
        "ServiceProviderConfig",
        "Bulk",
        "me",
    ] {
        let out = s.cli(&["provider", "add", "--name", name, "--population", "internal"]);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(
            text(&out.stderr).contains("reads as a SCIM endpoint"),
            "{}",
            text(&out.stderr)
        );
    }
    let api = Admin::on(s);
    let r = api.api(
        "POST",
        "/providers",
        Some(&json!({"name": "Users", "population": "internal"})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "bad_request");
    assert!(
        str_of(&r.json(), "detail").contains("reads as a SCIM endpoint"),
        "{}",
        r.body
    );

    let cookie = session(&api.server);
    let csrf = csrf_of(&get_page(&api.server, &cookie, "/admin/providers/new").body);
    let page = form(
        &format!("{}/admin/providers", api.server.url),
        &cookie,
        &format!("csrf={csrf}&name=Groups&population=internal"),
    );
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("reads as a SCIM endpoint"), "{}", page.body);
    // A name that only contains one is fine.
    api.create("Okta Users", "internal");
}
