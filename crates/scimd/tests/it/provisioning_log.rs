//! The provisioning log (issue #15), recorded by the real server: every authenticated SCIM
//! request with its status, latency, request id, client and user agent; a failure with its
//! SCIM error and its body, secrets masked, and no secret in the log, the database or the
//! server's own output; successes without their bodies; separate budgets that successes
//! never break into; retention by age; refused requests only counted; the providers list's
//! warning; written at shutdown; nothing recorded when switched off.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, call, db_bytes, patch_op, sql_rows, str_of};

/// The provider's log as `scimd provider log ID --json` prints it (newest first), once
/// `ready` holds: the server writes it a second at a time.
pub(crate) fn log_when(s: &Server, provider: &str, args: &[&str], ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let base = ["provider", "log", provider, "--json", "--limit", "1000"];
        let out = s.cli(&[&base[..], args].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        if ready(&list) || Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A provider's SCIM Base URL and a bearer token for it, on `s`.
pub(crate) struct Client {
    pub(crate) base: String,
    pub(crate) auth: String,
}

impl Client {
    pub(crate) fn new(s: &Server, name: &str, extra: &[&str]) -> Client {
        let p = s.add_provider(name, "internal", extra);
        Client {
            base: str_of(&p, "base_url").to_owned(),
            auth: format!("Bearer {}", s.token_for(&p)),
        }
    }

    /// A request with a user agent and a request id of the caller's choosing.
    pub(crate) fn send(&self, method: &str, path: &str, body: &str, request_id: &str) -> crate::support::Reply {
        call(
            method,
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &self.auth),
                ("Content-Type", "application/scim+json"),
                ("User-Agent", "Okta SCIM Client 1.0.0"),
                ("X-Request-Id", request_id),
            ],
            Some(body),
        )
    }

    pub(crate) fn get(&self, path: &str) -> u16 {
        self.send("GET", path, "", "get").status
    }
}

fn by_request<'a>(log: &'a [Value], id: &str) -> &'a Value {
    log.iter()
        .find(|e| e["request_id"] == id)
        .unwrap_or_else(|| panic!("no entry {id} in {log:?}"))
}

fn user(name: &str, password: &str) -> String {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "password": password})
        .to_string()
}

#[test]
fn failures_keep_their_error_and_masked_body_and_no_secret_reaches_any_log() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server::start_tracing(dir);
    let c = Client::new(&server, "Okta", &[]);
    let pw: Vec<String> = (0..8).map(|i| format!("Corr3ct-Horse-Log-Secret-{i}")).collect();

    let created = c.send("POST", "/Users", &user("ada@example.com", &pw[0]), "req-create");
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("x-request-id"), Some("req-create"));
    let id = str_of(&created.json(), "id").to_owned();
    assert_eq!(
        c.send("POST", "/Users", &user("ada@example.com", &pw[1]), "req-dup")
            .status,
        409
    );
    let replace = patch_op(json!([{"op": "replace", "path": "password", "value": pw[2]}]));
    assert_eq!(
        c.send("PATCH", "/Users/no-such-user", &replace.to_string(), "req-patch")
            .status,
        404
    );
    let nested = patch_op(json!([
        {"op": "add", "value": {"password": pw[3], "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"apiToken": pw[4]}}},
        {"op": "frobnicate", "path": "title"}
    ]));
    assert_eq!(
        c.send("PATCH", &format!("/Users/{id}"), &nested.to_string(), "req-nested")
            .status,
        400
    );
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b1", "data": serde_json::from_str::<Value>(&user("ada@example.com", &pw[5])).unwrap_or_default()}
    ]});
    let bulk_reply = c.send("POST", "/Bulk", &bulk.to_string(), "req-bulk");
    assert_eq!(bulk_reply.status, 200, "{}", bulk_reply.body);
    let form = format!("userName=ada&password={}", pw[6]);
    assert_eq!(c.send("POST", "/Users", &form, "req-form").status, 400);
    let filter = format!("/Users?filter=password%20eq%20%22{}%22&count=5", pw[7]);
    c.send("GET", &filter, "", "req-filter");

    let log = log_when(&server, "okta", &[], |l| l.len() >= 7);
    assert_eq!(log.len(), 7, "{log:?}");
    let ok = by_request(&log, "req-create");
    assert_eq!(
        (ok["method"].as_str(), ok["path"].as_str(), ok["status"].as_u64()),
        (Some("POST"), Some("/Users"), Some(201))
    );
    assert_eq!(ok["failed"], false);
    assert_eq!(ok["body"], Value::Null, "a success keeps no body");
    assert_eq!(ok["user_agent"], "Okta SCIM Client 1.0.0");
    assert_eq!(ok["client"], "127.0.0.1");
    assert!(ok["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{ok}");
    assert!(ok["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{ok}");

    let dup = by_request(&log, "req-dup");
    assert_eq!(
        (dup["status"].as_u64(), dup["failed"].as_bool()),
        (Some(409), Some(true))
    );
    assert_eq!(dup["scim_type"], "uniqueness");
    assert!(dup["detail"].as_str().is_some_and(|d| !d.is_empty()), "{dup}");
    let body: Value = serde_json::from_str(dup["body"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(body["userName"], "ada@example.com", "the body is kept");
    assert_eq!(body["password"], "********", "its password masked");
    let patched: Value =
        serde_json::from_str(by_request(&log, "req-patch")["body"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(patched["Operations"][0]["value"], "********", "{patched}");
    let nested = by_request(&log, "req-nested")["body"].as_str().unwrap_or("").to_owned();
    assert!(
        nested.contains("frobnicate") && nested.matches("********").count() == 2,
        "{nested}"
    );
    let bulk_entry = by_request(&log, "req-bulk");
    assert_eq!(
        (bulk_entry["status"].as_u64(), bulk_entry["failed"].as_bool()),
        (Some(200), Some(true))
    );
    assert!(
        bulk_entry["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("1 of 1 operations failed")),
        "{bulk_entry}"
    );
    assert!(
        bulk_entry["body"]
            .as_str()
            .is_some_and(|b| b.contains("\"password\":\"********\"")),
        "{bulk_entry}"
    );
    let form_entry = by_request(&log, "req-form");
    assert!(
        form_entry["body"].as_str().is_some_and(|b| b.contains("not kept")),
        "{form_entry}"
    );
    assert_eq!(by_request(&log, "req-filter")["path"], "/Users?filter=********&count=5");

    server.stop();
    let raw = String::from_utf8_lossy(&db_bytes(server.path())).into_owned();
    let cli = String::from_utf8_lossy(
        &server
            .cli(&["provider", "log", "okta", "--json", "--limit", "100"])
            .stdout,
    )
    .into_owned();
    let output = format!("{}\n{}\n{cli}", server.log(), server.stdout());
    let log = server.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the server logged at trace level"
    );
    for secret in &pw {
        assert!(!raw.contains(secret.as_str()), "{secret} is in the database");
        assert!(
            !output.contains(secret.as_str()),
            "{secret} is in the server's or the CLI's output"
        );
    }
}

#[test]
fn successes_never_push_failures_out_and_each_budget_keeps_the_newest() {
    let s = Server::start();
    let c = Client::new(&s, "Okta", &["--log-success-max", "5", "--log-failure-max", "3"]);
    assert_eq!(c.get("/Users/missing-1"), 404);
    assert_eq!(c.get("/Users/missing-2"), 404);
    for _ in 0..20 {
        assert_eq!(c.get("/ServiceProviderConfig"), 200);
    }
    let kinds = |l: &[Value], failed: bool| l.iter().filter(|e| e["failed"] == failed).count();
    let log = log_when(&s, "okta", &[], |l| kinds(l, false) == 5 && kinds(l, true) == 2);
    assert_eq!((kinds(&log, false), kinds(&log, true)), (5, 2), "{log:?}");
    // Pruned from the database, not merely hidden.
    let stored = sql_rows(s.path(), "SELECT CAST(count(*) AS TEXT) FROM request_log");
    assert_eq!(stored, vec![vec![Some("7".to_owned())]]);

    for i in 3..=7 {
        assert_eq!(c.get(&format!("/Users/missing-{i}")), 404);
    }
    let newest = |l: &[Value]| -> Vec<String> {
        l.iter()
            .filter(|e| e["failed"] == true)
            .map(|e| e["path"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let want = vec!["/Users/missing-7", "/Users/missing-6", "/Users/missing-5"];
    let log = log_when(&s, "okta", &[], |l| newest(l) == want);
    assert_eq!(newest(&log), want, "the newest three failures: {log:?}");
    assert_eq!(kinds(&log, false), 5, "failures never push successes out either");
}

#[test]
fn failures_older_than_the_providers_retention_are_pruned() {
    let s = Server::start();
    let c = Client::new(&s, "Okta", &["--log-failure-retention", "2s"]);
    assert_eq!(c.get("/Users/old-1"), 404);
    assert_eq!(c.get("/Users/old-2"), 404);
    assert_eq!(c.get("/ServiceProviderConfig"), 200);
    let log = log_when(&s, "okta", &[], |l| l.len() == 3);
    assert_eq!(log.len(), 3);
    // Past the retention of the first two; the next write prunes the provider.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(c.get("/Users/new-1"), 404);
    let paths =
        |l: &[Value]| -> Vec<String> { l.iter().map(|e| e["path"].as_str().unwrap_or("").to_owned()).collect() };
    let want = vec!["/Users/new-1", "/ServiceProviderConfig"];
    let log = log_when(&s, "okta", &[], |l| paths(l) == want);
    assert_eq!(paths(&log), want, "old failures go, successes are kept by count only");
}

#[test]
fn requests_refused_before_authentication_are_counted_not_logged() {
    let mut s = Server::start();
    let c = Client::new(&s, "Okta", &[]);
    let vendor = Client::new(&s, "Vendor", &[]);
    let users = format!("{}/Users", c.base);
    for _ in 0..3 {
        assert_eq!(call("GET", &users, &[], None).status, 401);
    }
    let forged = format!("Bearer scimd_{}", "x".repeat(43));
    for auth in [forged.as_str(), "Bearer nonsense", vendor.auth.as_str()] {
        assert_eq!(call("GET", &users, &[("Authorization", auth)], None).status, 401);
    }
    let nobody = users.replace("/okta/", "/nobody/");
    assert_eq!(call("GET", &nobody, &[], None).status, 401);
    assert_eq!(c.get("/ServiceProviderConfig"), 200);

    let count = |s: &Server| -> u64 {
        let out = s.cli(&["provider", "list", "--json"]);
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let okta = list.iter().find(|p| p["id"] == "okta").cloned().unwrap_or_default();
        okta["requests"]["unauthenticated"].as_u64().unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&s) < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count(&s), 6);
    let log = log_when(&s, "okta", &[], |l| !l.is_empty());
    assert_eq!(log.len(), 1, "only the authenticated request is logged: {log:?}");
    let metrics = call("GET", &format!("{}/metrics", s.url), &[], None).body;
    assert!(
        metrics.contains("scimd_unauthenticated_requests_total{provider=\"okta\"} 6"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("provider=\"nobody\""),
        "no series for a provider that does not exist"
    );
    assert!(
        metrics.contains("# TYPE scimd_provisioning_log_written counter"),
        "{metrics}"
    );
    // Kept in the database: a restart (or another instance) adds to it.
    s.restart();
    let users = users.replace(&c.base[..c.base.find("/scim").unwrap_or(0)], &s.url);
    assert_eq!(call("GET", &users, &[], None).status, 401);
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&s) < 7 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count(&s), 7);
}

#[test]
fn a_provider_whose_latest_requests_mostly_failed_is_flagged_until_they_succeed_again() {
    let s = Server::start();
    let c = Client::new(&s, "Okta", &[]);
    assert_eq!(c.get("/ServiceProviderConfig"), 200);
    assert_eq!(c.get("/ServiceProviderConfig"), 200);
    for i in 0..8 {
        assert_eq!(c.get(&format!("/Users/gone-{i}")), 404);
    }
    let listed = || String::from_utf8_lossy(&s.cli(&["provider", "list"]).stdout).into_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !listed().contains("8 of the last 10 requests failed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = listed();
    assert!(
        out.contains("! 'okta': 8 of the last 10 requests failed (scimd provider log okta --failed)"),
        "{out}"
    );
    let list: Vec<Value> = serde_json::from_slice(&s.cli(&["provider", "list", "--json"]).stdout).unwrap_or_default();
    assert_eq!(list[0]["requests"]["failing"], true, "{list:?}");
    assert_eq!(list[0]["requests"]["warning"], "8 of the last 10 requests failed");

    for _ in 0..10 {
        assert_eq!(c.get("/ServiceProviderConfig"), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while listed().contains("requests failed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let list: Vec<Value> = serde_json::from_slice(&s.cli(&["provider", "list", "--json"]).stdout).unwrap_or_default();
    assert_eq!(list[0]["requests"]["failing"], false, "{list:?}");
    assert_eq!(list[0]["requests"]["recent_failed"], 0);
}

#[test]
fn the_last_requests_are_written_at_shutdown_and_none_when_the_log_is_off() {
    let mut s = Server::start();
    let c = Client::new(&s, "Okta", &[]);
    assert_eq!(c.get("/Users/last-words"), 404);
    // Straight to SIGTERM: whatever the writer had not written yet is written on the way out.
    s.stop();
    let log = log_when(&s, "okta", &[], |l| !l.is_empty());
    assert_eq!(log.first().map(|e| e["path"].clone()), Some(json!("/Users/last-words")));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut off = Server::start_serving(dir, &["--provisioning-log", "off"]);
    let c = Client::new(&off, "Okta", &[]);
    assert_eq!(c.get("/Users/unrecorded"), 404);
    assert_eq!(call("GET", &format!("{}/Users", c.base), &[], None).status, 401);
    off.stop();
    let log = log_when(&off, "okta", &[], |_| true);
    assert!(log.is_empty(), "{log:?}");
    let stats = sql_rows(off.path(), "SELECT CAST(count(*) AS TEXT) FROM request_log_stats");
    assert_eq!(stats, vec![vec![Some("0".to_owned())]]);
}
