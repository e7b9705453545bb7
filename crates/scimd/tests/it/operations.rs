//! What operators see: Prometheus metrics (OpenMetrics text), request ids, JSON logs.

use serde_json::{Value, json};

use crate::support::{Scim, Server, basic, call, post_form, str_of};

#[test]
fn metrics_count_requests_tokens_and_provisioning_by_route_template() {
    let s = Scim::start("internal");
    let u = s.user("jane@example.com");
    s.get(&format!("/Users/{}", str_of(&u, "id")));
    let refused = post_form(
        &format!("{}/oauth2/token", s.server.url),
        &[("grant_type", "client_credentials")],
        Some(&basic("nobody", "nothing")),
    );
    assert_eq!(refused.status, 401);

    let r = call("GET", &format!("{}/metrics", s.server.url), &[], None);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0"))
    );
    let m = &r.body;
    for line in [
        r#"scimd_http_requests_total{route="/scim/v2/{provider}/Users",method="POST",status="201"} 1"#,
        r#"scimd_http_requests_total{route="/scim/v2/{provider}/Users/{id}",method="GET",status="200"} 1"#,
        r#"scimd_tokens_issued_total{provider="okta"} 1"#,
        r#"scimd_token_failures_total{provider="",reason="invalid_client"} 1"#,
        r#"scimd_provisioning_operations_total{provider="okta",kind="User",operation="POST"} 1"#,
        r#"scimd_http_request_duration_seconds_count{route="/scim/v2/{provider}/Users"} 1"#,
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line} in\n{m}");
    }
    assert!(!m.contains(str_of(&u, "id")), "ids never become label values");
    let expiry: i64 = m
        .lines()
        .find_map(|l| l.strip_prefix(r#"scimd_provider_token_expiry_seconds{provider="okta"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((365 * 86_400 - 120..=365 * 86_400).contains(&expiry), "{expiry}");
}

#[test]
fn every_response_carries_a_request_id_and_a_sane_one_is_kept() {
    let s = Scim::start("internal");
    let made = s.get("/Users");
    let id = made.header("x-request-id").unwrap_or_default().to_owned();
    assert!(id.len() >= 16, "{id}");
    let kept = s.call_with("GET", "/Users", None, &[("X-Request-Id", "lb-1234.abc")]);
    assert_eq!(kept.header("x-request-id"), Some("lb-1234.abc"));
    let replaced = s.call_with("GET", "/Users", None, &[("X-Request-Id", "bad id with spaces")]);
    assert_ne!(replaced.header("x-request-id"), Some("bad id with spaces"));
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut s = Server::start_with(dir, &["--log-format", "json"]);
    let r = call(
        "GET",
        &format!("{}/healthz", s.url),
        &[("X-Request-Id", "trace-me-42")],
        None,
    );
    assert_eq!(r.status, 200);
    s.stop();
    let log = s.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 2);
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["id"] == json!("trace-me-42") && l["fields"]["message"] == "answered"),
        "{log}"
    );
}
