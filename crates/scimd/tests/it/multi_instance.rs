//! Scale-out: two `scimd serve` processes on one database (a shared SQLite file, or one
//! PostgreSQL database with `SCIMD_TEST_POSTGRES`), as behind a load balancer. Nothing that
//! must be shared may live only in one process's memory.

use std::thread;

use serde_json::{Value, json};

use crate::support::{Scim, Server, basic, call, eventually_status, get_bearer, patch_op, post_form, sql_rows, str_of};

/// Instance A (with a provider and token) and instance B on the same database; `base_b` is
/// the provider's Base URL on B.
struct Pair {
    a: Scim,
    /// Kept so instance B runs as long as the test.
    _b: Server,
    base_b: String,
}

impl Pair {
    fn start() -> Pair {
        let a = Scim::start("internal");
        let b = Server::start_sharing(&a.server);
        let base_b = a.base.replacen(&a.server.url, &b.url, 1);
        Pair { a, _b: b, base_b }
    }

    fn on(&self, b: bool) -> &str {
        if b { &self.base_b } else { &self.a.base }
    }

    fn call(&self, on_b: bool, method: &str, path: &str, body: &Value) -> u16 {
        let auth = format!("Bearer {}", self.a.token);
        call(
            method,
            &format!("{}{path}", self.on(on_b)),
            &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
            Some(&body.to_string()),
        )
        .status
    }

    fn audit_count(&self, action: &str) -> usize {
        let rows = sql_rows(
            self.a.server.path(),
            &format!("SELECT CAST(count(*) AS TEXT) FROM audit_event WHERE action = '{action}'"),
        );
        rows[0][0].as_deref().unwrap_or("0").parse().unwrap_or(0)
    }
}

fn user_body(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true})
}

#[test]
fn a_token_from_one_instance_opens_the_other_and_revocation_reaches_it() {
    let p = Pair::start();
    let spc_b = format!("{}/ServiceProviderConfig", p.base_b);
    assert_eq!(get_bearer(&spc_b, &p.a.token).status, 200);

    // Disabled through the CLI, enabled again: B follows within 5 seconds both ways.
    assert!(p.a.server.cli(&["provider", "disable", "okta"]).status.success());
    assert_eq!(eventually_status(&spc_b, &p.a.token, 401).status, 401);
    assert!(p.a.server.cli(&["provider", "enable", "okta"]).status.success());
    assert_eq!(eventually_status(&spc_b, &p.a.token, 200).status, 200);

    // Revoked at A's revocation endpoint (RFC 7009) while B holds it in its cache.
    let provider: Value = serde_json::from_slice(
        &p.a.server
            .cli(&["provider", "show", "okta", "--reveal", "--json"])
            .stdout,
    )
    .unwrap_or_default();
    let auth = basic(str_of(&provider, "client_id"), str_of(&provider, "client_secret"));
    let revoked = post_form(
        &format!("{}/oauth2/revoke", p.a.server.url),
        &[("token", &p.a.token)],
        Some(&auth),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let r = eventually_status(&spc_b, &p.a.token, 401);
    assert_eq!(r.status, 401, "B still accepts a token revoked on A: {}", r.body);
}

#[test]
fn concurrent_member_additions_through_both_instances_all_land() {
    let p = Pair::start();
    let users: Vec<String> = (0..16)
        .map(|i| str_of(&p.a.user(&format!("member{i}@example.com")), "id").to_owned())
        .collect();
    let group = p.a.group("Everyone", &[]);
    let gid = str_of(&group, "id").to_owned();
    let statuses: Vec<u16> = thread::scope(|scope| {
        let handles: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, uid)| {
                let (p, gid) = (&p, &gid);
                scope.spawn(move || {
                    let body = patch_op(json!([
                        {"op": "replace", "value": {"id": gid, "displayName": "Everyone"}},
                        {"op": "add", "path": "members", "value": [{"value": uid}]}
                    ]));
                    p.call(i % 2 == 1, "PATCH", &format!("/Groups/{gid}"), &body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200 || *s == 204), "{statuses:?}");
    let members = p.a.get(&format!("/Groups/{gid}")).json()["members"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(members, users.len(), "members were lost");
    assert_eq!(p.audit_count("group.patch"), users.len());
}

#[test]
fn concurrent_creates_of_one_user_name_yield_one_201_and_409s() {
    let p = Pair::start();
    let mut created = 0;
    for round in 0..6 {
        let name = format!("Same{round}@Example.com");
        let statuses: Vec<u16> = thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    // Case variants of one name, half through each instance.
                    let name = if i % 2 == 0 { name.clone() } else { name.to_lowercase() };
                    let p = &p;
                    scope.spawn(move || p.call(i >= 2, "POST", "/Users", &user_body(&name)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        let ok = statuses.iter().filter(|s| **s == 201).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        assert_eq!((ok, conflicts), (1, 3), "round {round}: {statuses:?}");
        created += ok;
    }
    // Audit events from both instances are all there: one per user created, none for refusals.
    assert_eq!(p.audit_count("user.create"), created);
    let listed = p.a.get("/Users?count=100").json()["totalResults"].as_u64();
    assert_eq!(listed, Some(created as u64));
}
