//! The mass-deletion guard (issue #16): a provider that deletes or deactivates more than its
//! share of its users (or groups) within the window gets `503` with `Retry-After` and a SCIM
//! error naming the guard for every further delete and deactivation, until an administrator
//! releases it (CLI, admin API, console); then the retries go through. `scimd push` stops on
//! it. The window slides with the test clock, and `--guard off` lets everything through.

use serde_json::{Value, json};

use crate::support::{Scim, assert_scim_error, patch_op, str_of, temp_file, wait_for};

const GUARDED: [&str; 6] = [
    "--guard-min-users",
    "10",
    "--guard-share",
    "20%",
    "--guard-window",
    "10m",
];

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `n` users `u0@example.com`..., their ids.
fn users(s: &Scim, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| str_of(&s.user(&format!("u{i}@example.com")), "id").to_owned())
        .collect()
}

fn delete(s: &Scim, kind: &str, id: &str) -> crate::support::Reply {
    s.call("DELETE", &format!("/{kind}/{id}"), None)
}

fn deactivate(s: &Scim, id: &str) -> crate::support::Reply {
    let body = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    s.call("PATCH", &format!("/Users/{id}"), Some(&body))
}

/// The guard's refusal, as a SCIM client sees it.
fn assert_guarded(r: &crate::support::Reply) {
    assert_scim_error(r, 503, None);
    assert_eq!(r.header("retry-after"), Some("300"), "{:?}", r.headers);
    let detail = str_of(&r.json(), "detail").to_owned();
    assert!(
        detail.contains("mass-deletion guard") && detail.contains("okta"),
        "{detail}"
    );
    assert!(!detail.contains("database"), "not a storage outage: {detail}");
}

#[test]
fn past_its_share_a_provider_is_refused_removals_until_released_and_push_stops_on_it() {
    let s = Scim::start_with("internal", &GUARDED);
    let ids = users(&s, 20);
    // 20% of 20 users is 4 removals within 10 minutes; the 5th trips the guard.
    for id in &ids[..3] {
        assert_eq!(delete(&s, "Users", id).status, 204);
    }
    assert_eq!(deactivate(&s, &ids[3]).status, 200);
    assert_guarded(&delete(&s, "Users", &ids[4]));
    // Tripped: every delete and deactivation is refused, nothing else is.
    assert_guarded(&deactivate(&s, &ids[5]));
    assert_eq!(s.get(&format!("/Users/{}", ids[4])).status, 200, "nothing was deleted");
    assert_eq!(s.get(&format!("/Users/{}", ids[5])).json()["active"], true);
    s.user("new@example.com");
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
    assert_eq!(
        s.call("PATCH", &format!("/Users/{}", ids[6]), Some(&rename)).status,
        200
    );

    let status = s.server.cli(&["provider", "guard", "status", "okta"]);
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(text.contains("TRIPPED") && text.contains("4 of its 20 users"), "{text}");
    let token = s.server.admin_token("ops");
    let audit = s
        .server
        .api(&token, "GET", "/audit?action=provider.guard.trip", None)
        .json();
    assert_eq!(
        audit["events"].as_array().map(Vec::len),
        Some(1),
        "tripped once: {audit}"
    );

    // `scimd push --delete-missing` against the guarded provider stops, naming the guard.
    let mut csv = String::from("userName\n");
    for i in 7..20 {
        csv.push_str(&format!("u{i}@example.com\n"));
    }
    csv.push_str("new@example.com\n");
    let source = temp_file(s.server.path(), "staff.csv", &csv);
    let push = s.server.cli(&[
        "push",
        "--source",
        &source.display().to_string(),
        "--base-url",
        &s.base,
        "--token",
        &s.token,
        "--delete-missing",
        "--users-only",
        "--plain",
    ]);
    assert!(!push.status.success(), "the push went on");
    let said = format!("{}{}", String::from_utf8_lossy(&push.stdout), err(&push));
    assert!(
        said.contains("mass-deletion guard") && said.contains("release"),
        "{said}"
    );
    assert_eq!(
        s.get(&format!("/Users/{}", ids[4])).status,
        200,
        "the push removed nothing"
    );

    // Released at the command line: the identity provider's retries go through.
    let released = s.server.cli(&["provider", "guard", "release", "okta"]);
    assert!(released.status.success(), "{}", err(&released));
    assert_eq!(delete(&s, "Users", &ids[4]).status, 204);
    assert_eq!(deactivate(&s, &ids[5]).status, 200);
    let again = s.server.cli(&["provider", "guard", "release", "okta"]);
    assert!(
        !again.status.success() && err(&again).contains("not tripped"),
        "{}",
        err(&again)
    );
    let audit = s
        .server
        .api(&token, "GET", "/audit?action=provider.guard.release", None)
        .json();
    assert_eq!(
        audit["events"][0]["actor"].as_str().map(|a| a.starts_with("cli:")),
        Some(true),
        "{audit}"
    );
}

#[test]
fn the_guard_is_released_through_the_api_and_the_console_and_its_window_slides() {
    let s = Scim::start_with("internal", &GUARDED);
    let token = s.server.admin_token("ops");
    let ids = users(&s, 20);
    for id in &ids[..4] {
        assert_eq!(delete(&s, "Users", id).status, 204);
    }
    // Past the window (and its last bucket) the removals no longer count.
    s.server.advance_clock(11 * 60);
    for id in &ids[4..7] {
        assert_eq!(delete(&s, "Users", id).status, 204, "a new window, of 16 users");
    }
    assert_guarded(&delete(&s, "Users", &ids[7]));
    let shown = s.server.api(&token, "GET", "/providers/okta", None).json();
    assert_eq!(shown["guard_state"]["tripped"], true, "{shown}");
    assert!(
        shown["guard_state"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("mass-deletion guard"))
    );

    let released = s.server.api(&token, "POST", "/providers/okta/guard/release", None);
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.json()["tripped"], false);
    assert_eq!(delete(&s, "Users", &ids[7]).status, 204);
    let not_tripped = s.server.api(&token, "POST", "/providers/okta/guard/release", None);
    assert_eq!(not_tripped.status, 409, "{}", not_tripped.body);
    assert!(
        not_tripped.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not tripped"))
    );
    let unknown = s.server.api(&token, "POST", "/providers/nobody/guard/release", None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Counting started afresh at the release, of the 13 users then: the retried removal and
    // one more are within 20%, the third trips the guard again.
    assert_eq!(delete(&s, "Users", &ids[8]).status, 204);
    assert_guarded(&delete(&s, "Users", &ids[9]));
    // The console shows the banner on its pages, and releases it.
    crate::admin_console::add_admin(&s.server, "alice", crate::admin_console::PASSWORD);
    let cookie = crate::admin_console::session(&s.server);
    for page in [
        "/admin/providers",
        "/admin/providers/okta",
        "/admin/users/internal",
        "/admin/deleted/internal",
    ] {
        let p = crate::admin_console::get_page(&s.server, &cookie, page);
        assert!(p.body.contains("Mass-deletion guard tripped"), "no banner on {page}");
    }
    let page = crate::admin_console::get_page(&s.server, &cookie, "/admin/providers/okta");
    let csrf = crate::admin_console::csrf_of(&page.body);
    let release = |body: &str| {
        crate::support::call_unredirected(
            "POST",
            &format!("{}/admin/providers/okta/guard/release", s.server.url),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
            ],
            Some(body),
        )
    };
    assert_eq!(release("").status, 403, "a release needs the form's CSRF token");
    assert_guarded(&delete(&s, "Users", &ids[9]));
    assert_eq!(release(&format!("csrf={csrf}")).status, 303);
    assert_eq!(delete(&s, "Users", &ids[9]).status, 204);
    let p = crate::admin_console::get_page(&s.server, &cookie, "/admin/providers");
    assert!(!p.body.contains("Mass-deletion guard tripped"));
}

#[test]
fn groups_are_counted_apart_and_a_guard_turned_off_lets_removals_through() {
    let s = Scim::start_with("third-party", &GUARDED);
    let groups: Vec<String> = (0..12)
        .map(|i| str_of(&s.group(&format!("Vendor {i}"), &[]), "id").to_owned())
        .collect();
    let ids = users(&s, 5);
    // Five users are fewer than --guard-min-users: not guarded.
    for id in &ids {
        assert_eq!(delete(&s, "Users", id).status, 204);
    }
    // 20% of 12 groups: 2.
    for g in &groups[..2] {
        assert_eq!(delete(&s, "Groups", g).status, 204);
    }
    let r = delete(&s, "Groups", &groups[2]);
    assert_guarded(&r);
    assert!(str_of(&r.json(), "detail").contains("groups"), "{}", r.body);

    let off = s
        .server
        .cli(&["provider", "update", "okta", "--guard", "off", "--json"]);
    assert!(off.status.success(), "{}", err(&off));
    let shown: Value = serde_json::from_slice(&off.stdout).unwrap_or_default();
    assert_eq!(shown["guard"]["enabled"], false);
    // A setting changed by another process reaches the server within its provider cache's
    // two seconds.
    wait_for("the guard turned off", || {
        (delete(&s, "Groups", &groups[2]).status == 204).then_some(())
    });
    for g in &groups[3..] {
        assert_eq!(delete(&s, "Groups", g).status, 204);
    }
}

#[test]
fn concurrent_removals_are_counted_in_turn_and_exactly_the_share_goes_through() {
    let s = Scim::start_with("internal", &GUARDED);
    let ids = users(&s, 20);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids[..10]
            .iter()
            .map(|id| scope.spawn(|| delete(&s, "Users", id).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let deleted = statuses.iter().filter(|s| **s == 204).count();
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!((deleted, refused), (4, 6), "{statuses:?}");
    let left = s.get("/Users?count=0").json();
    assert_eq!(left["totalResults"], 16);
}
