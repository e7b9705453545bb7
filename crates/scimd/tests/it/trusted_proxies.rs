//! Client addresses behind proxies: `X-Forwarded-For` counts only when the TCP peer is a
//! configured trusted proxy, and the address it yields is what allowed networks, the token
//! endpoint's per-address limit and the logs see.

use crate::support::{Server, basic, call, post_form, str_of};

fn token_request(s: &Server, auth: &str, xff: Option<&str>) -> crate::support::Reply {
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Authorization", auth),
    ];
    if let Some(x) = xff {
        headers.push(("X-Forwarded-For", x));
    }
    call(
        "POST",
        &format!("{}/oauth2/token", s.url),
        &headers,
        Some("grant_type=client_credentials"),
    )
}

fn scim_get(base: &str, token: &str, xff: &str) -> crate::support::Reply {
    let bearer = format!("Bearer {token}");
    call(
        "GET",
        &format!("{base}/Users"),
        &[("Authorization", &bearer), ("X-Forwarded-For", xff)],
        None,
    )
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let s = Server::start();
    let p = s.add_provider("Vendor", "third-party", &["--allowed-ip", "10.0.0.0/8"]);
    let auth = basic(str_of(&p, "client_id"), str_of(&p, "client_secret"));
    // 127.0.0.1 is not a trusted proxy: its claim to forward for 10.1.2.3 counts for nothing.
    let r = token_request(&s, &auth, Some("10.1.2.3"));
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{}",
        r.body
    );
}

#[test]
fn forwarded_for_from_a_trusted_proxy_decides_allowed_networks_on_tokens_and_scim() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start_serving(dir, &["--trusted-proxies", "127.0.0.1, 192.168.77.0/24"]);
    let p = s.add_provider("Vendor", "third-party", &["--allowed-ip", "10.0.0.0/8"]);
    let auth = basic(str_of(&p, "client_id"), str_of(&p, "client_secret"));

    let ok = token_request(&s, &auth, Some("10.1.2.3"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Walked right to left past the trusted 192.168.77.5: the client is 10.9.9.9, whatever
    // it claimed on the left.
    assert_eq!(
        token_request(&s, &auth, Some("203.0.113.1, 10.9.9.9, 192.168.77.5")).status,
        200
    );
    // The proxy itself asking, and a client outside the networks, are refused in OAuth terms.
    for xff in [None, Some("10.1.2.3, 203.0.113.7")] {
        let r = token_request(&s, &auth, xff);
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{xff:?}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }

    let token = ok.json()["access_token"].as_str().unwrap_or_default().to_owned();
    let base = str_of(&p, "base_url");
    assert_eq!(scim_get(base, &token, "10.200.0.1").status, 200);
    let refused = scim_get(base, &token, "198.51.100.23");
    assert_eq!(refused.status, 403, "{}", refused.body);
    let body = refused.json();
    assert_eq!(body["status"], "403");
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("198.51.100.23"),
        "{body}"
    );

    let mut s = s;
    s.stop();
    let log = s.log();
    assert!(
        log.contains("client=198.51.100.23"),
        "the log names the forwarded client: {log}"
    );
}

#[test]
fn the_per_address_limit_counts_the_forwarded_client_not_the_proxy() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start_serving(dir, &["--trusted-proxies", "127.0.0.1"]);
    let url = format!("{}/oauth2/token", s.url);
    let attempt = |n: usize, xff: &str| token_request(&s, &basic(&format!("nobody{n}"), "wrong"), Some(xff)).status;
    for n in 0..30 {
        assert_eq!(attempt(n, "203.0.113.50"), 401);
    }
    assert_eq!(attempt(30, "203.0.113.50"), 429, "the noisy client is held up");
    assert_eq!(
        attempt(31, "203.0.113.51"),
        401,
        "its neighbour behind the same proxy is not"
    );
    let r = post_form(&url, &[("grant_type", "client_credentials")], Some(&basic("x", "y")));
    assert_eq!(r.status, 401, "nor is the proxy's own address");
}

#[test]
fn malformed_trusted_proxies_stop_the_server_with_a_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(crate::support::BIN)
        .args(crate::support::db_args(dir.path()))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxies",
            "10.0.0.0/8,proxy.local",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trusted proxies") && err.contains("proxy.local"), "{err}");
}
