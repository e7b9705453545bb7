//! Reading the provisioning log, against the real server: `scimd provider log` with its
//! filters, `--json`, `--long` and `--follow`; the admin API's route with the same filters
//! and paging; the console's log section (filters, failures expanding to their error and
//! masked body, every value escaped) and the providers list's warning; per-provider
//! retention set from each surface; backups that leave the log out unless asked.

use std::io::BufRead;
use std::time::Duration;

use serde_json::{Value, json};

use crate::admin_api::Admin;
use crate::admin_console::{get_page, session, with_admin};
use crate::provisioning_log::{Client, log_when};
use crate::support::{Server, cli_in};

/// Five requests of every kind the filters tell apart: a listing, a create, a duplicate
/// (409), a missing group (404), and a filter the server cannot read (400) that quotes
/// markup. Returns once all five are in the log.
fn traffic(s: &Server, c: &Client) {
    assert_eq!(c.get("/Users?count=1"), 200);
    let ada = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com", "password": "Log-Views-Secret-0001"});
    assert_eq!(c.send("POST", "/Users", &ada.to_string(), "create").status, 201);
    assert_eq!(c.send("POST", "/Users", &ada.to_string(), "duplicate").status, 409);
    assert_eq!(c.get("/Groups/no-such-group"), 404);
    assert_eq!(c.get("/Users?filter=%3Cscript%3Ealert(1)%3C/script%3E"), 400);
    let log = log_when(s, "okta", &[], |l| l.len() == 5);
    assert_eq!(log.len(), 5, "{log:?}");
}

fn paths(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|e| e["path"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn cli_json(s: &Server, args: &[&str]) -> Vec<Value> {
    let out = s.cli(&[&["provider", "log", "okta", "--json"][..], args].concat());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_cli_filters_pages_and_follows_the_log() {
    let s = Server::start();
    let c = Client::new(&s, "Okta", &[]);
    traffic(&s, &c);
    let all = cli_json(&s, &[]);
    assert_eq!(all.len(), 5);
    assert!(
        all.windows(2).all(|w| w[0]["seq"].as_i64() > w[1]["seq"].as_i64()),
        "newest first"
    );
    assert_eq!(
        paths(&cli_json(&s, &["--failed"])),
        vec![
            "/Users?filter=%3Cscript%3Ealert(1)%3C/script%3E",
            "/Groups/no-such-group",
            "/Users"
        ]
    );
    assert_eq!(cli_json(&s, &["--status", "2xx"]).len(), 2);
    assert_eq!(paths(&cli_json(&s, &["--status", "409"])), vec!["/Users"]);
    assert_eq!(
        paths(&cli_json(&s, &["--path", "/groups"])),
        vec!["/Groups/no-such-group"]
    );
    assert_eq!(cli_json(&s, &["--since", "2000-01-01"]).len(), 5);
    assert!(cli_json(&s, &["--since", "2999-01-01"]).is_empty());
    assert!(cli_json(&s, &["--until", "2000-01-01"]).is_empty());
    // A page of two, then the next one back.
    let first = cli_json(&s, &["--limit", "2"]);
    let before = first[1]["seq"].as_i64().unwrap_or(0).to_string();
    let next = cli_json(&s, &["--limit", "2", "--before", &before]);
    assert_eq!(paths(&next), paths(&all[2..4]));
    let refused = s.cli(&["provider", "log", "okta", "--status", "6xx"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("2xx, 4xx, 5xx"));

    let table = String::from_utf8_lossy(&s.cli(&["provider", "log", "okta", "--failed"]).stdout).into_owned();
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.starts_with("TIME") && h.contains("STATUS")),
        "{table}"
    );
    assert!(table.contains("uniqueness: "), "{table}");
    let long =
        String::from_utf8_lossy(&s.cli(&["provider", "log", "okta", "--status", "409", "--long"]).stdout).into_owned();
    assert!(
        long.contains("\"password\":\"********\"") && long.contains("request duplicate"),
        "{long}"
    );

    let mut follow = std::process::Command::new(crate::support::BIN)
        .args(crate::support::db_args(s.path()))
        .args(["provider", "log", "okta", "--follow", "--json", "--limit", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = follow.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = |what: &str| -> Value {
        let l = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("follow printed no {what}"));
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"))
    };
    assert_eq!(
        line("latest entry")["seq"],
        all[0]["seq"],
        "it starts with the latest entry"
    );
    assert_eq!(c.get("/Groups/followed"), 404);
    assert_eq!(line("new entry")["path"], "/Groups/followed");
    let _ = follow.kill();
    let _ = follow.wait();
}

#[test]
fn the_admin_api_filters_and_pages_the_log_and_sets_a_providers_retention() {
    let admin = Admin::on(Server::start());
    let c = Client::new(&admin.server, "Okta", &[]);
    traffic(&admin.server, &c);
    let page = |q: &str| admin.ok("GET", &format!("/providers/okta/log?{q}"), None);
    assert_eq!(page("")["entries"].as_array().map(Vec::len), Some(5));
    let failed = page("failed=true");
    let entries = failed["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e["failed"] == true && e["status"].as_u64() >= Some(400))
    );
    let dup = entries.iter().find(|e| e["status"] == 409).cloned().unwrap_or_default();
    assert_eq!(dup["scim_type"], "uniqueness");
    assert!(
        dup["body"]
            .as_str()
            .is_some_and(|b| b.contains("********") && !b.contains("Log-Views-Secret"))
    );
    assert_eq!(
        page("status=4xx&path=/USERS")["entries"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        page("status=failed&path=/Groups")["entries"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(page("since=2999-01-01")["entries"], json!([]));
    let first = page("limit=3");
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(3));
    let before = first["next_before"].as_i64().unwrap_or_else(|| panic!("{first}"));
    let rest = page(&format!("limit=3&before={before}"));
    assert_eq!(rest["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["next_before"], Value::Null);
    let newer = page(&format!("after={before}"));
    assert_eq!(
        newer["entries"].as_array().map(Vec::len),
        Some(2),
        "after: oldest first"
    );
    assert_eq!(first["requests"]["recent_total"], 5);
    let bad = admin.api("GET", "/providers/okta/log?status=9xx", None);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(admin.api("GET", "/providers/nobody/log", None).status, 404);
    let doc = admin.ok("GET", "/openapi.json", None);
    assert!(doc["paths"]["/admin/api/v1/providers/{id}/log"]["get"].is_object());

    // The provider's own retention, then back to the server's.
    let set = json!({"log_failure_retention": "30d", "log_failure_max": 500, "log_success_max": "50"});
    let p = admin.ok("PATCH", "/providers/okta", Some(&set));
    assert_eq!(
        (
            &p["log_failure_retention_seconds"],
            &p["log_failure_max"],
            &p["log_success_max"]
        ),
        (&json!(30 * 86_400), &json!(500), &json!(50))
    );
    let shown = String::from_utf8_lossy(&admin.server.cli(&["provider", "show", "okta"]).stdout).into_owned();
    assert!(
        shown.contains("failures 30 days, at most 500; successes, the last 50"),
        "{shown}"
    );
    let p = admin.ok("PATCH", "/providers/okta", Some(&json!({"log_success_max": "default"})));
    assert_eq!(p["log_success_max"], Value::Null);
    assert_eq!(p["log_failure_max"], 500);
    let cli = admin
        .server
        .cli(&["provider", "update", "okta", "--log-failure-max", "default", "--json"]);
    let p: Value = serde_json::from_slice(&cli.stdout).unwrap_or_default();
    assert_eq!(
        (&p["log_failure_max"], &p["log_failure_retention_seconds"]),
        (&Value::Null, &json!(30 * 86_400))
    );
    let bad = admin.api(
        "PATCH",
        "/providers/okta",
        Some(&json!({"log_failure_retention": "soon"})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(admin.actions("action=provider.update").len() >= 2);
}

#[test]
fn the_console_shows_the_log_with_filters_and_failures_that_expand() {
    let s = with_admin(Server::start());
    let c = Client::new(&s, "Okta", &[]);
    traffic(&s, &c);
    for i in 0..5 {
        assert_eq!(c.get(&format!("/Users/gone-{i}")), 404);
    }
    let cookie = session(&s);
    log_when(&s, "okta", &[], |l| l.len() == 10);
    let page = get_page(&s, &cookie, "/admin/providers/okta").body;
    assert!(page.contains("id=\"log\""), "{page}");
    assert!(
        page.contains("<details>") && page.contains("uniqueness"),
        "failures expand"
    );
    assert!(
        page.contains("&quot;password&quot;:&quot;********&quot;"),
        "the masked body, escaped"
    );
    assert!(!page.contains("Log-Views-Secret"));
    assert!(!page.contains("<script>alert(1)"), "values are escaped");
    assert!(page.contains("Requests refused before authentication"));
    let failed = get_page(&s, &cookie, "/admin/providers/okta?status=failed&path=%2FGroups").body;
    assert!(
        failed.contains("/Groups/no-such-group") && !failed.contains("/Users/gone-1"),
        "{failed}"
    );
    let bad = get_page(&s, &cookie, "/admin/providers/okta?status=7xx");
    assert_eq!(bad.status, 200, "a bad filter is said in place");
    assert!(bad.body.contains("is not a class"), "{}", bad.body);

    // 8 of the last 10 failed (gone-0..4 and three of the traffic): the list says so.
    let list = get_page(&s, &cookie, "/admin/providers").body;
    assert!(list.contains("8 of the last 10 requests failed"), "{list}");
    assert!(list.contains("/admin/providers/okta?status=failed#log"), "{list}");

    // The provider's own retention from the edit form: blank fields are the server's.
    let edit = get_page(&s, &cookie, "/admin/providers/okta/edit").body;
    assert!(
        edit.contains("name=\"log_success_max\"") && edit.contains("placeholder=\"10000\""),
        "{edit}"
    );
    let form = format!(
        "csrf={}&name=Okta&token_ttl=365d&group_patch_response=no-content&undeclared=keep&log_failure_retention=14d&log_failure_max=&log_success_max=25",
        crate::admin_console::csrf_of(&edit)
    );
    let saved = crate::admin_console::form(&format!("{}/admin/providers/okta/edit", s.url), &cookie, &form);
    assert!(saved.status < 400, "{}", saved.body);
    let p: Value = serde_json::from_slice(&s.cli(&["provider", "show", "okta", "--json"]).stdout).unwrap_or_default();
    assert_eq!(
        (
            &p["log_failure_retention_seconds"],
            &p["log_failure_max"],
            &p["log_success_max"]
        ),
        (&json!(14 * 86_400), &Value::Null, &json!(25))
    );
}

#[test]
fn backups_leave_the_log_out_unless_asked_and_restore_either() {
    let s = Server::start();
    let c = Client::new(&s, "Okta", &[]);
    assert_eq!(c.get("/Users/kept-in-the-log"), 404);
    assert_eq!(log_when(&s, "okta", &[], |l| l.len() == 1).len(), 1);
    let plain = s.path().join("plain.jsonl");
    let with = s.path().join("with-logs.jsonl");
    let out = s.cli(&["backup", plain.to_str().unwrap_or_default()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("left out (--with-logs"),
        "{out:?}"
    );
    let out = s.cli(&["backup", "--with-logs", with.to_str().unwrap_or_default()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(!read(&plain).contains("request_log") && !read(&plain).contains("kept-in-the-log"));
    assert!(read(&with).contains("\"request_log\"") && read(&with).contains("kept-in-the-log"));

    for (file, kept) in [(&with, 1), (&plain, 0)] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(s.path().join("scimd.key"), dir.path().join("scimd.key")).unwrap_or_else(|e| panic!("{e}"));
        let restored = cli_in(
            dir.path(),
            "http://localhost",
            &["restore", file.to_str().unwrap_or_default()],
        );
        assert!(
            restored.status.success(),
            "{}",
            String::from_utf8_lossy(&restored.stderr)
        );
        let log = cli_in(dir.path(), "http://localhost", &["provider", "log", "okta", "--json"]);
        let list: Vec<Value> = serde_json::from_slice(&log.stdout).unwrap_or_default();
        assert_eq!(list.len(), kept, "{}", file.display());
        if let Some(admin) = crate::support::pg_admin() {
            let name = std::fs::read_to_string(dir.path().join("postgres-database")).unwrap_or_default();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
            if let Some(rt) = rt {
                let _ = rt.block_on(scimd_store::postgres::admin::drop_database(&admin, &name));
            }
        }
    }
}
