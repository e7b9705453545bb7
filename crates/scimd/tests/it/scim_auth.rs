//! The protected SCIM base (RFC 6750 §3 errors, SCIM Error bodies).

use crate::support::{Server, call, eventually_status, get_bearer, str_of};

#[test]
fn a_providers_token_opens_its_service_provider_config() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let r = get_bearer(&format!("{}/ServiceProviderConfig", str_of(&p, "base_url")), &token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let spc = r.json();
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        format!("{}/ServiceProviderConfig", str_of(&p, "base_url"))
    );
}

#[test]
fn requests_without_credentials_get_a_bare_bearer_challenge() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let r = call(
        "GET",
        &format!("{}/ServiceProviderConfig", str_of(&p, "base_url")),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scimd\""));
    let e = r.json();
    assert_eq!(e["status"], "401");
    assert_eq!(e["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    // Basic credentials are not bearer credentials.
    let basic = call(
        "GET",
        &format!("{}/Users", str_of(&p, "base_url")),
        &[("Authorization", "Basic YTpi")],
        None,
    );
    assert_eq!(basic.status, 401);
}

#[test]
fn bad_foreign_revoked_and_disabled_tokens_are_all_invalid_token() {
    let s = Server::start();
    let a = s.add_provider("Okta", "internal", &[]);
    let b = s.add_provider("Vendor", "third-party", &[]);
    let token_a = s.token_for(&a);
    let spc_a = format!("{}/ServiceProviderConfig", str_of(&a, "base_url"));
    let spc_b = format!("{}/ServiceProviderConfig", str_of(&b, "base_url"));

    let invalid = |r: &crate::support::Reply| {
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.contains("error=\"invalid_token\""))
        );
        assert_eq!(r.json()["status"], "401");
    };
    invalid(&get_bearer(&spc_a, "garbage"));
    invalid(&get_bearer(&spc_a, "scimd_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    // Another provider's token, and a provider that does not exist: the same answer.
    let foreign = get_bearer(&spc_b, &token_a);
    invalid(&foreign);
    let nowhere = get_bearer(&format!("{}/scim/v2/nope/ServiceProviderConfig", s.url), &token_a);
    invalid(&nowhere);
    assert_eq!(foreign.body, nowhere.body);

    assert!(s.cli(&["provider", "disable", "okta"]).status.success());
    invalid(&eventually_status(&spc_a, &token_a, 401));
    assert!(s.cli(&["provider", "enable", "okta"]).status.success());
    assert_eq!(eventually_status(&spc_a, &token_a, 200).status, 200);

    assert!(s.cli(&["provider", "revoke-token", "okta", "--all"]).status.success());
    invalid(&eventually_status(&spc_a, &token_a, 401));
}

#[test]
fn a_token_used_from_outside_the_allowed_networks_is_forbidden() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let out = s.cli(&[
        "provider",
        "update",
        "okta",
        "--allowed-ip",
        "10.0.0.0/8",
        "--allowed-ip",
        "192.0.2.0/24",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = eventually_status(
        &format!("{}/ServiceProviderConfig", str_of(&p, "base_url")),
        &token,
        403,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["status"], "403");
    assert!(s.cli(&["provider", "update", "okta", "--any-ip"]).status.success());
    assert_eq!(
        eventually_status(
            &format!("{}/ServiceProviderConfig", str_of(&p, "base_url")),
            &token,
            200
        )
        .status,
        200
    );
}

#[test]
fn health_and_readiness_answer() {
    let s = Server::start();
    let h = call("GET", &format!("{}/healthz", s.url), &[], None);
    assert_eq!((h.status, h.body.as_str()), (200, "ok"));
    let r = call("GET", &format!("{}/readyz", s.url), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["database"], "ok");
}
