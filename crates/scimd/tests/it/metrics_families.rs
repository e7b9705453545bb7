//! Every metric family operations rely on is in `/metrics` after some traffic, with the
//! labels it promises: token failures by provider, provisioning by kind and operation, the
//! token expiry gauge and the database pool, in the OpenMetrics text format.

use serde_json::json;

use crate::support::{Scim, basic, call, post_form, str_of};

#[test]
fn every_family_is_scraped_after_traffic() {
    let s = Scim::start("internal");
    let u = s.user("ada@example.com");
    let id = str_of(&u, "id");
    let g = s.group("Admins", &[id]);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}]});
    assert_eq!(s.call("PATCH", &format!("/Users/{id}"), Some(&patch)).status, 200);
    assert_eq!(
        s.call("DELETE", &format!("/Groups/{}", str_of(&g, "id")), None).status,
        204
    );
    let token_url = format!("{}/oauth2/token", s.server.url);
    let details = s.server.cli(&["provider", "show", "okta", "--json"]);
    let okta: serde_json::Value = serde_json::from_slice(&details.stdout).unwrap_or_default();
    let wrong = post_form(
        &token_url,
        &[("grant_type", "client_credentials")],
        Some(&basic(str_of(&okta, "client_id"), "WrongSecret")),
    );
    assert_eq!(wrong.status, 401);
    post_form(
        &token_url,
        &[("grant_type", "client_credentials")],
        Some(&basic("nobody", "x")),
    );

    let reply = call("GET", &format!("{}/metrics", s.server.url), &[], None);
    // The OpenMetrics text format, which Prometheus scrapes, ends with `# EOF`.
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.headers
    );
    let m = reply.body;
    assert_eq!(m.lines().last(), Some("# EOF"), "{m}");
    for family in [
        "scimd_http_requests counter",
        "scimd_http_request_duration_seconds histogram",
        "scimd_tokens_issued counter",
        "scimd_token_failures counter",
        "scimd_provisioning_operations counter",
        "scimd_provider_token_expiry_seconds gauge",
        "scimd_db_connections gauge",
        "scimd_db_pool_size gauge",
    ] {
        assert!(m.contains(&format!("# TYPE {family}")), "no {family} in\n{m}");
    }
    for line in [
        r#"scimd_http_requests_total{route="/scim/v2/{provider}/Groups/{id}",method="DELETE",status="204"} 1"#,
        r#"scimd_http_request_duration_seconds_bucket{le="+Inf",route="/oauth2/token"} 3"#,
        r#"scimd_tokens_issued_total{provider="okta"} 1"#,
        r#"scimd_token_failures_total{provider="okta",reason="invalid_client"} 1"#,
        r#"scimd_token_failures_total{provider="",reason="invalid_client"} 1"#,
        r#"scimd_provisioning_operations_total{provider="okta",kind="User",operation="POST"} 1"#,
        r#"scimd_provisioning_operations_total{provider="okta",kind="User",operation="PATCH"} 1"#,
        r#"scimd_provisioning_operations_total{provider="okta",kind="Group",operation="POST"} 1"#,
        r#"scimd_provisioning_operations_total{provider="okta",kind="Group",operation="DELETE"} 1"#,
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line} in\n{m}");
    }
    let gauge = |name: &str| -> i64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in\n{m}"))
    };
    assert!(gauge(r#"scimd_provider_token_expiry_seconds{provider="okta"}"#) > 364 * 86_400);
    let size = gauge("scimd_db_pool_size");
    assert!(size >= 1);
    let (in_use, idle) = (
        gauge(r#"scimd_db_connections{state="in_use"}"#),
        gauge(r#"scimd_db_connections{state="idle"}"#),
    );
    assert!(
        (0..=size).contains(&in_use) && (0..=size).contains(&idle),
        "{in_use} {idle} of {size}"
    );
}
