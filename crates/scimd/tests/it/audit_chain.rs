//! The audit log as a hash chain: `scimd audit verify` passes on what scimd wrote (also with
//! two instances writing at once), and names the first event someone changed or removed
//! behind scimd's back.

use serde_json::{Value, json};

use crate::support::{Scim, Server, pg_admin, sql_rows};

fn verify(s: &Server) -> (bool, String, String) {
    let out = s.cli(&["audit", "verify"]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn event_count(s: &Server) -> usize {
    sql_rows(s.path(), "SELECT CAST(count(*) AS TEXT) FROM audit_event")[0][0]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The events' sequence numbers, oldest first.
fn seqs(s: &Server) -> Vec<String> {
    sql_rows(s.path(), "SELECT CAST(seq AS TEXT) FROM audit_event ORDER BY seq")
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect()
}

/// Switch off the append-only triggers, as someone with the database's password could.
fn disable_triggers(s: &Server) {
    if pg_admin().is_some() {
        sql_rows(s.path(), "ALTER TABLE audit_event DISABLE TRIGGER USER");
    } else {
        sql_rows(s.path(), "DROP TRIGGER audit_event_append_only_update");
        sql_rows(s.path(), "DROP TRIGGER audit_event_append_only_delete");
    }
}

fn some_history(s: &Scim) {
    let u = s.user("ada@example.com");
    let id = u["id"].as_str().unwrap_or_default();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}]});
    assert_eq!(s.call("PATCH", &format!("/Users/{id}"), Some(&patch)).status, 200);
    s.group("Admins", &[id]);
    assert!(s.server.cli(&["provider", "show", "okta", "--reveal"]).status.success());
    assert!(s.server.cli(&["provider", "rotate-secret", "okta"]).status.success());
}

#[test]
fn verify_passes_on_what_scimd_wrote_and_names_a_changed_event() {
    let s = Scim::start("internal");
    some_history(&s);
    let n = event_count(&s.server);
    assert!(n >= 6, "{n}");
    let (ok, out, err) = verify(&s.server);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("{n} events")), "{out}");
    assert!(out.contains("head hash: "), "{out}");

    let seqs = seqs(&s.server);
    let victim = &seqs[2];
    disable_triggers(&s.server);
    sql_rows(
        s.server.path(),
        &format!("UPDATE audit_event SET action = 'user.read' WHERE seq = {victim}"),
    );
    let (ok, out, err) = verify(&s.server);
    assert!(!ok, "a changed event fails verification: {out}");
    assert!(err.contains(&format!("broken at event {victim}:")), "{err}");
    assert!(
        err.contains("changed") && err.contains("2 events before it verified"),
        "{err}"
    );
}

#[test]
fn a_removed_event_breaks_the_link_of_the_next_one() {
    let s = Scim::start("internal");
    some_history(&s);
    let seqs = seqs(&s.server);
    disable_triggers(&s.server);
    sql_rows(
        s.server.path(),
        &format!("DELETE FROM audit_event WHERE seq = {}", seqs[1]),
    );
    let (ok, _, err) = verify(&s.server);
    assert!(!ok);
    assert!(err.contains(&format!("broken at event {}:", seqs[2])), "{err}");
    assert!(err.contains("does not follow"), "{err}");
}

#[test]
fn the_chain_stays_linear_with_two_instances_writing_at_once() {
    let a = Scim::start("internal");
    let b = Server::start_sharing(&a.server);
    let base_b = a.base.replace(&a.server.url, &b.url);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (base, token) = (
                if t % 2 == 0 { a.base.clone() } else { base_b.clone() },
                a.token.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..15 {
                    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("u{t}-{i}@example.com")});
                    let r = crate::support::call(
                        "POST",
                        &format!("{base}/Users"),
                        &[
                            ("Authorization", &format!("Bearer {token}")),
                            ("Content-Type", "application/scim+json"),
                        ],
                        Some(&body.to_string()),
                    );
                    assert_eq!(r.status, 201, "{}", r.body);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("a writer failed"));
    }
    let (ok, out, err) = verify(&a.server);
    assert!(ok, "{err}");
    let n = event_count(&a.server);
    assert!(n >= 61 && out.contains(&format!("{n} events")), "{out}");
}

#[test]
fn audit_list_shows_events_newest_first_without_values() {
    let s = Scim::start("internal");
    some_history(&s);
    let out = s.server.cli(&["audit", "list", "--json", "--limit", "3"]);
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let actions: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions.len(), 3);
    assert_eq!(actions[0], "provider.secret.rotate");
    assert_eq!(actions[1], "provider.secret.reveal");
}

/// A database from before the chain: its events are chained by the migration, and verify.
#[test]
fn events_written_before_the_chain_existed_are_chained_when_migrating() {
    if pg_admin().is_some() {
        return; // the same code path; the SQLite file is the easy one to build by hand
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let db = rusqlite::Connection::open(dir.path().join("scimd.db")).unwrap_or_else(|e| panic!("{e}"));
        db.execute_batch(include_str!("../../../scimd-store/migrations/sqlite/0001_init.sql"))
            .unwrap_or_else(|e| panic!("{e}"));
        db.pragma_update(None, "user_version", 1)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..5 {
            db.execute(
                "INSERT INTO audit_event (time, actor, action, resource, attributes) VALUES (?1, 'cli:old', 'user.create', ?2, '[\"userName\"]')",
                rusqlite::params![1_700_000_000_000i64 + i, format!("User/{i}")],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let out = crate::support::cli_in(dir.path(), "http://localhost", &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("5 events"), "{text}");
    // And the chain goes on from there.
    let out = crate::support::cli_in(
        dir.path(),
        "http://localhost",
        &["provider", "add", "--name", "Okta", "--population", "internal"],
    );
    assert!(out.status.success());
    let out = crate::support::cli_in(dir.path(), "http://localhost", &["audit", "verify"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 events"));
}
