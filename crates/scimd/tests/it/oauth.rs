//! The token endpoint (RFC 6749 §4.4, §2.3.1, §5.2), revocation (RFC 7009) and metadata
//! (RFC 8414) through the live server.

use crate::support::{Server, basic, call, get_bearer, post_form, str_of};

fn token_url(s: &Server) -> String {
    format!("{}/oauth2/token", s.url)
}

#[test]
fn basic_credentials_get_a_bearer_token_that_is_never_cached() {
    let s = Server::start();
    let p = s.add_provider("Okta Staff", "internal", &[]);
    let r = post_form(
        &token_url(&s),
        &[("grant_type", "client_credentials")],
        Some(&basic(str_of(&p, "client_id"), str_of(&p, "client_secret"))),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 365 * 86_400);
    assert!(body.get("refresh_token").is_none());
    let token = str_of(&body, "access_token");
    assert!(token.starts_with("scimd_") && token.len() > 40, "{token}");
}

#[test]
fn body_credentials_work_and_a_requested_scope_is_answered() {
    let s = Server::start();
    let p = s.add_provider("Entra", "internal", &["--token-ttl", "30d"]);
    let r = post_form(
        &token_url(&s),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", str_of(&p, "client_id")),
            ("client_secret", str_of(&p, "client_secret")),
            ("scope", "scim"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["expires_in"], 30 * 86_400);
    assert_eq!(r.json()["scope"], "scim");
}

#[test]
fn malformed_requests_get_the_rfc_6749_error_codes() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let (id, secret) = (str_of(&p, "client_id"), str_of(&p, "client_secret"));
    let auth = basic(id, secret);
    let url = token_url(&s);

    let missing_grant = post_form(&url, &[("scope", "scim")], Some(&auth));
    assert_eq!(
        (missing_grant.status, missing_grant.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let wrong_grant = post_form(&url, &[("grant_type", "password")], Some(&auth));
    assert_eq!(
        (wrong_grant.status, wrong_grant.json()["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let both = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ],
        Some(&auth),
    );
    assert_eq!(
        (both.status, both.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let in_query = post_form(
        &format!("{url}?client_secret={secret}"),
        &[("grant_type", "client_credentials")],
        Some(&auth),
    );
    assert_eq!(
        (in_query.status, in_query.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let repeated = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
        Some(&auth),
    );
    assert_eq!(
        (repeated.status, repeated.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let json_body = call(
        "POST",
        &url,
        &[("Content-Type", "application/json"), ("Authorization", &auth)],
        Some(r#"{"grant_type":"client_credentials"}"#),
    );
    assert_eq!(
        (json_body.status, json_body.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let get = call("GET", &url, &[], None);
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));

    let none = post_form(&url, &[("grant_type", "client_credentials")], None);
    assert_eq!(
        (none.status, none.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        none.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic realm=\"scimd\""))
    );
}

#[test]
fn a_wrong_secret_and_an_unknown_client_are_indistinguishable() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let url = token_url(&s);
    let wrong = post_form(
        &url,
        &[("grant_type", "client_credentials")],
        Some(&basic(str_of(&p, "client_id"), "nope")),
    );
    let unknown = post_form(
        &url,
        &[("grant_type", "client_credentials")],
        Some(&basic("NoSuchClient", "nope")),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.header("www-authenticate"),
        Some("Basic realm=\"scimd\", charset=\"UTF-8\"")
    );
    assert_eq!(
        (wrong.status, wrong.body.clone()),
        (unknown.status, unknown.body.clone())
    );
    assert_eq!(wrong.json()["error"], "invalid_client");

    let in_body = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", str_of(&p, "client_id")),
            ("client_secret", "nope"),
        ],
        None,
    );
    assert_eq!(
        (in_body.status, in_body.json()["error"].as_str()),
        (400, Some("invalid_client"))
    );
    assert!(in_body.header("www-authenticate").is_none());
}

#[test]
fn disabled_providers_and_foreign_networks_get_no_token() {
    let s = Server::start();
    let p = s.add_provider("Vendor", "third-party", &["--allowed-ip", "10.0.0.0/8"]);
    let auth = basic(str_of(&p, "client_id"), str_of(&p, "client_secret"));
    let url = token_url(&s);
    let far = post_form(&url, &[("grant_type", "client_credentials")], Some(&auth));
    assert_eq!(
        (far.status, far.json()["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{}",
        far.body
    );

    let near = s.add_provider("Local", "third-party", &["--allowed-ip", "127.0.0.0/8"]);
    let near_auth = basic(str_of(&near, "client_id"), str_of(&near, "client_secret"));
    assert_eq!(
        post_form(&url, &[("grant_type", "client_credentials")], Some(&near_auth)).status,
        200
    );

    assert!(s.cli(&["provider", "disable", "local"]).status.success());
    let disabled = post_form(&url, &[("grant_type", "client_credentials")], Some(&near_auth));
    assert_eq!(
        (disabled.status, disabled.json()["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert!(s.cli(&["provider", "enable", "local"]).status.success());
    assert_eq!(
        post_form(&url, &[("grant_type", "client_credentials")], Some(&near_auth)).status,
        200
    );
}

#[test]
fn a_revoked_token_no_longer_opens_the_base_url() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let spc = format!("{}/ServiceProviderConfig", str_of(&p, "base_url"));
    assert_eq!(get_bearer(&spc, &token).status, 200);

    let auth = basic(str_of(&p, "client_id"), str_of(&p, "client_secret"));
    let revoke_url = format!("{}/oauth2/revoke", s.url);
    let r = post_form(&revoke_url, &[("token", &token)], Some(&auth));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get_bearer(&spc, &token).status, 401);

    // Unknown tokens are answered the same way (RFC 7009 §2.2); a missing one is an error.
    assert_eq!(
        post_form(&revoke_url, &[("token", "scimd_unknown")], Some(&auth)).status,
        200
    );
    assert_eq!(
        post_form(&revoke_url, &[("token_type_hint", "access_token")], Some(&auth)).status,
        400
    );
    assert_eq!(
        post_form(&revoke_url, &[("token", &token)], Some(&basic("x", "y"))).status,
        401
    );
}

#[test]
fn a_client_cannot_revoke_another_clients_token() {
    let s = Server::start();
    let a = s.add_provider("A", "internal", &[]);
    let b = s.add_provider("B", "internal", &[]);
    let token_a = s.token_for(&a);
    let r = post_form(
        &format!("{}/oauth2/revoke", s.url),
        &[("token", &token_a)],
        Some(&basic(str_of(&b, "client_id"), str_of(&b, "client_secret"))),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        get_bearer(&format!("{}/ServiceProviderConfig", str_of(&a, "base_url")), &token_a).status,
        200
    );
}

#[test]
fn server_metadata_describes_the_token_endpoint() {
    let s = Server::start();
    let r = call(
        "GET",
        &format!("{}/.well-known/oauth-authorization-server", s.url),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    let m = r.json();
    assert_eq!(m["issuer"], s.url.as_str());
    assert_eq!(m["token_endpoint"], format!("{}/oauth2/token", s.url));
    assert_eq!(m["grant_types_supported"], serde_json::json!(["client_credentials"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(m["revocation_endpoint"], format!("{}/oauth2/revoke", s.url));
}

#[test]
fn repeated_wrong_secrets_are_slowed_down_with_429_and_retry_after() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let other = s.add_provider("Entra", "internal", &[]);
    let url = token_url(&s);
    let wrong = basic(str_of(&p, "client_id"), "wrong");
    let statuses: Vec<u16> = (0..11)
        .map(|_| post_form(&url, &[("grant_type", "client_credentials")], Some(&wrong)).status)
        .collect();
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(statuses[10], 429);
    let limited = post_form(&url, &[("grant_type", "client_credentials")], Some(&wrong));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "invalid_client");
    let retry: u64 = limited.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Another client from the same address is not locked out by this one's failures.
    let good = post_form(
        &url,
        &[("grant_type", "client_credentials")],
        Some(&basic(str_of(&other, "client_id"), str_of(&other, "client_secret"))),
    );
    assert_eq!(good.status, 200, "{}", good.body);
}
