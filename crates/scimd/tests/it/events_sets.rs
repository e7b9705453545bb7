//! Change events as RFC 9967 Security Event Tokens: pushed (RFC 8935) and polled (RFC 8936),
//! each verified against the keys the server publishes at `/.well-known/jwks.json`, through
//! a signing-key rotation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::events::{stream, subscribe};
use crate::support::receiver::{Receiver, set_claims, verify_set};
use crate::support::{Scim, call, patch_op, str_of};

const SERVE: [&str; 2] = ["--receiver-allow", "127.0.0.0/8"];

fn jwks(scim: &Scim) -> Value {
    let r = call("GET", &format!("{}/.well-known/jwks.json", scim.server.url), &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").is_some_and(|c| c.contains("max-age")));
    r.json()
}

fn poll(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = call(
        "POST",
        url,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        Some(&body.to_string()),
    );
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

#[test]
fn pushed_sets_verify_against_the_published_keys_and_say_what_changed() {
    let scim = Scim::start_serving("internal", &SERVE);
    let receiver = Receiver::start();
    receiver.answer(|_| 202);
    subscribe(&scim.server, &["--url", &receiver.url, "--format", "set"]);
    let user = scim.user("set@example.com");
    let id = str_of(&user, "id");
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "set@example.com",
                     "externalId": "x-1", "active": true});
    assert_eq!(scim.call("PUT", &format!("/Users/{id}"), Some(&put)).status, 200);
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(scim.call("PATCH", &format!("/Users/{id}"), Some(&off)).status, 200);
    let group = scim.group("Auditors", &[id]);
    assert_eq!(scim.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    drop(group);

    let got = receiver.wait_for(Duration::from_secs(20), "7 SETs", |g| g.len() >= 7);
    let keys = jwks(&scim);
    let mut uris = Vec::new();
    for r in &got {
        assert_eq!(r.path, "/hook");
        assert_eq!(r.header("content-type"), "application/secevent+jwt");
        let jws = String::from_utf8_lossy(&r.body).into_owned();
        assert!(verify_set(&jws, &keys), "SET verifies against the JWKS");
        let claims = set_claims(&jws);
        assert_eq!(claims["iss"], scim.server.url.as_str());
        assert_eq!(claims["aud"], receiver.url.as_str());
        assert!(claims["txn"].is_string() && claims["iat"].is_i64());
        let (uri, _) = claims["events"]
            .as_object()
            .and_then(|e| e.iter().next())
            .unwrap_or_else(|| panic!("{claims}"));
        uris.push(uri.trim_start_matches("urn:ietf:params:scim:event:").to_owned());
    }
    assert_eq!(
        uris,
        [
            "prov:create:full",
            "prov:put:full",
            "prov:deactivate",
            "prov:create:full",
            "prov:patch:full",
            "prov:delete",
            "prov:patch:full"
        ]
    );
    let first = set_claims(&String::from_utf8_lossy(&got[0].body));
    assert_eq!(first["sub_id"]["uri"], format!("/Users/{id}"));
    assert_eq!(first["jti"], str_of(&stream(&scim.server, "okta")[0], "id"));
    let full = &first["events"]["urn:ietf:params:scim:event:prov:create:full"]["data"];
    assert_eq!(full["userName"], "set@example.com");
}

#[test]
fn polled_sets_come_in_order_until_acknowledged() {
    let scim = Scim::start_serving("internal", &SERVE);
    let sub = subscribe(&scim.server, &["--format", "set", "--payload", "notice"]);
    let (url, token) = (
        str_of(&sub, "poll_url").to_owned(),
        str_of(&sub, "poll_token").to_owned(),
    );
    for i in 0..5 {
        scim.user(&format!("p{i}@example.com"));
    }
    let (status, wrong) = poll(&url, "scimd_poll_wrong", &json!({}));
    assert_eq!((status, wrong["err"].as_str()), (401, Some("authentication_failed")));
    let (status, bad) = poll(&url, &token, &json!({"maxEvents": "three"}));
    assert_eq!((status, bad["err"].as_str()), (400, Some("invalid_request")));

    let keys = jwks(&scim);
    let kept: Vec<String> = stream(&scim.server, "okta")
        .iter()
        .map(|e| str_of(e, "id").to_owned())
        .collect();
    let (status, first) = poll(&url, &token, &json!({"maxEvents": 3, "returnImmediately": true}));
    assert_eq!(status, 200, "{first}");
    let sets = first["sets"].as_object().cloned().unwrap_or_default();
    let jtis: Vec<String> = sets.keys().cloned().collect();
    assert_eq!(jtis, kept[..3], "the first three, in order");
    assert_eq!(first["moreAvailable"], true);
    for jws in sets.values() {
        let jws = jws.as_str().unwrap_or_default();
        assert!(verify_set(jws, &keys));
        let claims = set_claims(jws);
        let notice = &claims["events"]["urn:ietf:params:scim:event:prov:create:notice"];
        assert!(
            notice["attributes"].is_array() && notice.get("data").is_none(),
            "{claims}"
        );
        assert!(
            !jws.is_empty() && !claims.to_string().contains("@example.com"),
            "{claims}"
        );
    }
    // Not acknowledged: handed out again.
    let (_, again) = poll(&url, &token, &json!({"maxEvents": 3, "returnImmediately": true}));
    assert_eq!(
        again["sets"].as_object().map(|s| s.keys().cloned().collect::<Vec<_>>()),
        Some(jtis.clone())
    );
    // Acknowledged: the rest.
    let (_, rest) = poll(&url, &token, &json!({"ack": jtis, "returnImmediately": true}));
    let rest: Vec<String> = rest["sets"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(rest, kept[3..]);
    let (_, none) = poll(&url, &token, &json!({"ack": rest, "returnImmediately": true}));
    assert_eq!(none["sets"], json!({}));
    assert_eq!(none["moreAvailable"], false);
    // A long poll answers as soon as something happens.
    let waiter = {
        let (url, token) = (url.clone(), token.clone());
        std::thread::spawn(move || {
            let auth = format!("Bearer {token}");
            let started = std::time::Instant::now();
            let r = call(
                "POST",
                &url,
                &[("Authorization", &auth)],
                Some("{\"returnImmediately\": false}"),
            );
            (started.elapsed(), r.json())
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    scim.user("late@example.com");
    let (took, answer) = waiter.join().unwrap_or_else(|_| panic!("poller"));
    assert_eq!(answer["sets"].as_object().map(|s| s.len()), Some(1), "{answer}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// The `kid` in a compact JWS's header.
fn kid_of(jws: &str) -> Value {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws.split('.').next().unwrap_or_default())
        .unwrap_or_default();
    serde_json::from_slice::<Value>(&header).unwrap_or_default()["kid"].clone()
}

#[test]
fn a_rotated_signing_key_signs_at_once_and_is_published_beside_the_old_one() {
    let scim = Scim::start_serving("internal", &SERVE);
    let receiver = Receiver::start();
    receiver.answer(|_| 202);
    subscribe(&scim.server, &["--url", &receiver.url, "--format", "set"]);
    let polled = subscribe(&scim.server, &["--format", "set"]);
    let (poll_url, poll_token) = (str_of(&polled, "poll_url"), str_of(&polled, "poll_token"));
    let next_polled = |ack: &[&String]| {
        let (status, answer) = poll(poll_url, poll_token, &json!({"ack": ack, "returnImmediately": true}));
        assert_eq!(status, 200, "{answer}");
        let sets = answer["sets"].as_object().cloned().unwrap_or_default();
        assert_eq!(sets.len(), 1, "{answer}");
        sets.into_iter()
            .next()
            .map(|(jti, jws)| (jti, jws.as_str().unwrap_or_default().to_owned()))
    };
    scim.user("before@example.com");
    let got = receiver.wait_for(Duration::from_secs(20), "one SET", |g| !g.is_empty());
    let old_jws = String::from_utf8_lossy(&got[0].body).into_owned();
    let (old_jti, old_polled) = next_polled(&[]).unwrap_or_default();
    let before = jwks(&scim);
    assert_eq!(before["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(kid_of(&old_polled), kid_of(&old_jws));

    let out = scim
        .server
        .cli(&["events", "key", "rotate", "--overlap", "1h", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_kid = serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default()["kid"].clone();
    let after = jwks(&scim);
    assert_eq!(
        after["keys"].as_array().map(Vec::len),
        Some(2),
        "both keys during the overlap"
    );
    assert!(verify_set(&old_jws, &after), "the old SET still verifies");
    assert!(verify_set(&old_polled, &after), "the old polled SET still verifies");

    // The running server signs with the key the CLI made from its next SET on, pushed or
    // polled: a SET signed with the old key after a rotation fails wherever the old key is
    // no longer published (a short overlap, or a receiver that only knows the new key).
    scim.user("after@example.com");
    let got = receiver.wait_for(Duration::from_secs(20), "a second SET", |g| g.len() >= 2);
    let new_jws = String::from_utf8_lossy(&got[1].body).into_owned();
    assert_eq!(kid_of(&new_jws), new_kid);
    assert!(verify_set(&new_jws, &jwks(&scim)));
    let (_, new_polled) = next_polled(&[&old_jti]).unwrap_or_default();
    assert_eq!(kid_of(&new_polled), new_kid);
    assert!(verify_set(&new_polled, &jwks(&scim)));
    let listed = scim.server.cli(&["events", "key", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}
