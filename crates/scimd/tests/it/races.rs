//! Races on one instance: requests released together by a barrier, and the database (not a
//! read-then-write check) deciding who wins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::support::*;

/// Run `n` copies of `f(i)` at once; their results in order.
fn together<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a racing thread failed")))
            .collect()
    })
}

#[test]
fn thirty_two_concurrent_patches_adding_distinct_members_all_land() {
    let scim = Scim::start("internal");
    let users: Vec<String> = (0..32)
        .map(|i| str_of(&scim.user(&format!("member{i}")), "id").to_owned())
        .collect();
    let group = scim.group("Racers", &[]);
    let gid = str_of(&group, "id").to_owned();
    let statuses = together(32, |i| {
        let ops = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[i]}]}]));
        let r = scim.call("PATCH", &format!("/Groups/{gid}"), Some(&ops));
        (r.status, r.body)
    });
    for (status, body) in &statuses {
        assert!(*status == 200 || *status == 204, "{status}: {body}");
    }
    let stored = member_ids(&scim.get(&format!("/Groups/{gid}")).json());
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(stored, expected);
}

#[test]
fn sixteen_concurrent_creates_of_one_user_name_make_exactly_one_user() {
    let scim = Scim::start("internal");
    let results = together(16, |i| {
        // The same name, spelled in different cases: userName is unique case-insensitively.
        let name = if i % 2 == 0 { "Same.Person" } else { "same.person" };
        scim.call(
            "POST",
            "/Users",
            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})),
        )
    });
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in results.iter().filter(|r| r.status != 201) {
        assert_scim_error(r, 409, Some("uniqueness"));
    }
    let list = scim.get(&format!("/Users?filter={}", enc("userName eq \"same.person\"")));
    assert_eq!(list.json()["totalResults"], 1);
}

#[test]
fn conflicting_updates_with_if_match_one_wins_the_rest_get_412() {
    let scim = Scim::start("internal");
    let user = scim.user("contested");
    let id = str_of(&user, "id").to_owned();
    let etag = scim
        .get(&format!("/Users/{id}"))
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag"))
        .to_owned();
    let results = together(12, |i| {
        let headers = [("If-Match", etag.as_str())];
        if i % 2 == 0 {
            let ops = patch_op(json!([{"op": "replace", "path": "displayName", "value": format!("writer {i}")}]));
            scim.call_with("PATCH", &format!("/Users/{id}"), Some(&ops), &headers)
        } else {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "contested",
                "displayName": format!("writer {i}")
            });
            scim.call_with("PUT", &format!("/Users/{id}"), Some(&body), &headers)
        }
    });
    let winners: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].status == 200 || results[i].status == 204)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            assert_scim_error(r, 412, None);
        }
    }
    let now = scim.get(&format!("/Users/{id}")).json();
    assert_eq!(now["displayName"], format!("writer {}", winners[0]));
}

#[test]
fn no_request_is_authorised_after_the_revocation_of_its_token_has_answered() {
    let server = Server::start();
    let provider = server.add_provider("Okta", "internal", &[]);
    // Several rounds, each with a fresh token: the window a stale cache entry would need is
    // narrow (the token cache's own unit test pins the mechanism).
    for _ in 0..5 {
        revoke_while_in_use(&server, &provider);
    }
}

fn revoke_while_in_use(server: &Server, provider: &serde_json::Value) {
    let token = server.token_for(provider);
    let url = format!("{}/Users?count=1", str_of(provider, "base_url"));
    let auth = basic(str_of(provider, "client_id"), str_of(provider, "client_secret"));
    let revoked_at: Mutex<Option<Instant>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    // (started, status) of every request made with the token.
    let seen: Mutex<Vec<(Instant, u16)>> = Mutex::new(Vec::new());
    let hammers = 6;
    let barrier = Arc::new(Barrier::new(hammers + 1));
    std::thread::scope(|s| {
        for _ in 0..hammers {
            let barrier = Arc::clone(&barrier);
            let (seen, done, url, token) = (&seen, &done, &url, &token);
            s.spawn(move || {
                barrier.wait();
                while !done.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let status = get_bearer(url, token).status;
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push((started, status));
                }
            });
        }
        barrier.wait();
        // Let the token be used (and cached) a while before it is revoked.
        while seen.lock().unwrap_or_else(|e| e.into_inner()).len() < 50 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let r = post_form(
            &format!("{}/oauth2/revoke", server.url),
            &[("token", &token)],
            Some(&auth),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        *revoked_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        // Keep hammering a while after the revocation.
        let after = Instant::now();
        while seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(t, _)| *t > after)
            .count()
            < 100
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        done.store(true, Ordering::SeqCst);
    });
    let revoked_at = revoked_at
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(|| panic!("never revoked"));
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    let before = seen.iter().filter(|(t, s)| *t < revoked_at && *s == 200).count();
    assert!(before > 0, "the token was never accepted");
    let late: Vec<u16> = seen.iter().filter(|(t, _)| *t > revoked_at).map(|(_, s)| *s).collect();
    assert!(late.len() >= 100);
    assert!(
        late.iter().all(|s| *s == 401),
        "requests started after the revocation answered were authorised: {:?}",
        late.iter().filter(|s| **s != 401).count()
    );
}
