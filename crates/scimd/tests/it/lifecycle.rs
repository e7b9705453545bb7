//! Deletes that can be undone (issue #16): a soft-deleted user or group answers SCIM as
//! deleted and frees its name at once, its memberships end (with their events) and are kept
//! for a restore; restore by the CLI, the admin API and the console, refused while the name
//! is taken; purge past the retention by `scimd purge` and by the background job; hard
//! deletes; erasure. Time moves with the debug build's test clock, never by sleeping.

use serde_json::{Value, json};

use crate::events::stream;
use crate::support::{Scim, Server, assert_scim_error, enc, ids, member_ids, patch_op, sql_rows, str_of, wait_for};

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The types of the provider's change events, in stream order.
fn event_types(server: &Server, provider: &str) -> Vec<String> {
    stream(server, provider)
        .iter()
        .map(|e| str_of(e, "type").to_owned())
        .collect()
}

/// The actions of the audit events about one resource, oldest first.
fn actions(server: &Server, token: &str, resource: &str) -> Vec<String> {
    let r = server.api(token, "GET", &format!("/audit?resource={}", enc(resource)), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut a: Vec<String> = r.json()["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| str_of(e, "action").to_owned())
        .collect();
    a.reverse();
    a
}

#[test]
fn a_soft_deleted_user_answers_as_deleted_frees_its_name_and_is_restored_with_its_groups() {
    let s = Scim::start("internal");
    let token = s.server.admin_token("ops");
    let ada = s.user("ada@example.com");
    let id = str_of(&ada, "id").to_owned();
    let other = s.user("bob@example.com");
    let g = s.group("Admins", &[&id, str_of(&other, "id")]);
    let gid = str_of(&g, "id").to_owned();

    assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    // Gone for every SCIM reader: read, replace, patch, a second delete, lists and filters.
    for (method, body) in [
        ("GET", None),
        (
            "PUT",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"})),
        ),
        (
            "PATCH",
            Some(patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "x"}]),
            )),
        ),
        ("DELETE", None),
    ] {
        assert_scim_error(&s.call(method, &format!("/Users/{id}"), body.as_ref()), 404, None);
    }
    let filter = enc("userName eq \"ada@example.com\"");
    assert_eq!(s.get(&format!("/Users?filter={filter}")).json()["totalResults"], 0);
    assert!(!ids(&s.get("/Users").json()).contains(&id));
    assert_eq!(
        member_ids(&s.get(&format!("/Groups/{gid}")).json()),
        vec![str_of(&other, "id").to_owned()]
    );
    // Its memberships ended as a hard delete's do: events and audit.
    let types = event_types(&s.server, "okta");
    let tail: Vec<&str> = types.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["user.deleted", "group.member_removed"]);
    assert_eq!(
        actions(&s.server, &token, &format!("User/{id}"))
            .last()
            .map(String::as_str),
        Some("user.delete")
    );

    // Kept, for the console and the admin API: who deleted it, when, through which provider.
    let deleted = s.server.api(&token, "GET", "/deleted/users/internal", None).json();
    assert_eq!(deleted["total"], 1, "{deleted}");
    let d = &deleted["items"][0];
    assert_eq!(
        (d["id"].as_str(), d["provider"].as_str()),
        (Some(id.as_str()), Some("okta"))
    );
    assert_eq!(d["deleted_by"], "provider:okta");
    assert_eq!(d["userName"], "ada@example.com");

    // Okta re-creates the same userName at once: a new user with a new id.
    let again = s.user("ADA@example.com");
    assert_ne!(str_of(&again, "id"), id);
    // Restoring now would take the name twice: refused, and nothing changes.
    let refused = s.server.api(&token, "POST", &format!("/users/{id}/restore"), None);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let detail = str_of(&refused.json(), "detail").to_owned();
    assert!(
        detail.contains("taken since") && detail.contains("ada@example.com"),
        "{detail}"
    );
    let cli = s.server.cli(&["users", "restore", &id]);
    assert!(!cli.status.success());
    assert!(err(&cli).contains("taken since"), "{}", err(&cli));
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        1
    );

    // Once the name is free again the user comes back: same id, attributes, group.
    assert_eq!(
        s.call("DELETE", &format!("/Users/{}", str_of(&again, "id")), None)
            .status,
        204
    );
    let restored = s.server.cli(&["users", "restore", &id]);
    assert!(restored.status.success(), "{}", err(&restored));
    assert!(out(&restored).contains(&id), "{}", out(&restored));
    let back = s.get(&format!("/Users/{id}")).json();
    assert_eq!(back["userName"], "ada@example.com");
    assert_eq!(back["name"], ada["name"]);
    assert_eq!(back["meta"]["created"], ada["meta"]["created"]);
    assert_ne!(
        back["meta"]["version"], ada["meta"]["version"],
        "a restore is a new version"
    );
    let mut want = vec![id.clone(), str_of(&other, "id").to_owned()];
    want.sort();
    assert_eq!(member_ids(&s.get(&format!("/Groups/{gid}")).json()), want);
    let types = event_types(&s.server, "okta");
    let tail: Vec<&str> = types.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["user.restored", "group.member_added"]);
    let history = actions(&s.server, &token, &format!("User/{id}"));
    assert!(
        history.ends_with(&["user.delete".to_owned(), "user.restore".to_owned()]),
        "{history:?}"
    );
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        1
    );
    // What cannot be restored says so, in each surface's own way.
    let missing = s.server.api(&token, "POST", &format!("/users/{id}/restore"), None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.json()["error"], "not_found");
    let cli = s.server.cli(&["groups", "restore", "no-such-group"]);
    assert!(
        !cli.status.success() && err(&cli).contains("not found"),
        "{}",
        err(&cli)
    );
    crate::support::assert_database_consistent(s.server.path());
}

#[test]
fn a_restored_group_gets_back_its_members_that_still_exist_through_the_console() {
    let s = Scim::start("third-party");
    let u1 = s.user("one@example.com");
    let u2 = s.user("two@example.com");
    let (id1, id2) = (str_of(&u1, "id").to_owned(), str_of(&u2, "id").to_owned());
    let g = s.group("Vendor Co", &[&id1, &id2]);
    let gid = str_of(&g, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Groups/{gid}"), None).status, 204);
    assert_scim_error(&s.get(&format!("/Groups/{gid}")), 404, None);
    // The name is free at once; while another group holds it the restore is refused.
    let taken = s.group("vendor co", &[]);
    assert_eq!(s.call("DELETE", &format!("/Users/{id2}"), None).status, 204);

    crate::admin_console::add_admin(&s.server, "alice", crate::admin_console::PASSWORD);
    let cookie = crate::admin_console::session(&s.server);
    let page = crate::admin_console::get_page(&s.server, &cookie, "/admin/deleted/third-party");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Vendor Co") && page.body.contains("two@example.com"),
        "{}",
        page.body
    );
    let csrf = crate::admin_console::csrf_of(&page.body);
    let restore = |cookie: &str| {
        crate::support::call_unredirected(
            "POST",
            &format!("{}/admin/deleted/groups/{gid}/restore", s.server.url),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", cookie),
            ],
            Some(&format!("csrf={csrf}")),
        )
    };
    let refused = restore(&cookie);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("taken since"), "{}", refused.body);
    assert_eq!(
        s.call("DELETE", &format!("/Groups/{}", str_of(&taken, "id")), None)
            .status,
        204
    );
    let done = restore(&cookie);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.header("location"),
        Some(format!("/admin/groups/third-party/{gid}").as_str())
    );
    let page = crate::admin_console::get_page(&s.server, &cookie, &format!("/admin/groups/third-party/{gid}"));
    assert!(
        page.body.contains("Vendor Co") && page.body.contains("one@example.com"),
        "{}",
        page.body
    );
    // Back with the member that still exists; the deleted one stays out.
    assert_eq!(member_ids(&s.get(&format!("/Groups/{gid}")).json()), vec![id1]);
}

#[test]
fn purge_removes_only_what_is_past_the_retention_by_command_and_by_the_background_job() {
    let s = Scim::start_with("internal", &["--retention", "1h"]);
    let token = s.server.admin_token("ops");
    let early = s.user("early@example.com");
    let eid = str_of(&early, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Users/{eid}"), None).status, 204);
    let dry = s.server.cli(&["purge", "--dry-run"]);
    assert!(dry.status.success(), "{}", err(&dry));
    assert!(out(&dry).contains("Nothing is past its retention"), "{}", out(&dry));

    s.server.advance_clock(2 * 3600);
    let late = s.user("late@example.com");
    let lid = str_of(&late, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Users/{lid}"), None).status, 204);
    // The dry run names the one past its retention and purges nothing.
    let dry = s.server.cli(&["purge", "--dry-run", "--json"]);
    let due: Value = serde_json::from_slice(&dry.stdout).unwrap_or_default();
    let due_ids: Vec<&str> = due["due"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(due_ids, [eid.as_str()], "{due}");
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        2
    );
    // Purged now, whichever of `scimd purge` and the job gets there first; the other waits.
    let purged = s.server.cli(&["purge"]);
    assert!(purged.status.success(), "{}", err(&purged));
    wait_for("the early user purged", || {
        let d = s.server.api(&token, "GET", "/deleted/users/internal", None).json();
        (d["total"] == 1).then_some(())
    });
    assert_eq!(
        s.server
            .api(&token, "POST", &format!("/users/{eid}/restore"), None)
            .status,
        404
    );
    assert_eq!(
        actions(&s.server, &token, &format!("User/{eid}"))
            .last()
            .map(String::as_str),
        Some("user.purge")
    );

    // A shorter retention applies to what is deleted already; the job purges it.
    let update = s.server.cli(&["provider", "update", "okta", "--retention", "30m"]);
    assert!(update.status.success(), "{}", err(&update));
    s.server.advance_clock(3600);
    wait_for("the background job's purge", || {
        let d = s.server.api(&token, "GET", "/deleted/users/internal", None).json();
        (d["total"] == 0).then_some(())
    });
    let audit = s.server.api(&token, "GET", "/audit?action=user.purge", None).json();
    let by: Vec<&str> = audit["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert_eq!(by, ["system", "system"], "{audit}");
}

#[test]
fn a_hard_deleting_provider_keeps_nothing_and_bad_settings_are_refused() {
    let s = Scim::start_with("internal", &["--on-delete", "hard"]);
    let token = s.server.admin_token("ops");
    let u = s.user("gone@example.com");
    let id = str_of(&u, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        0
    );
    assert_eq!(
        s.server
            .api(&token, "POST", &format!("/users/{id}/restore"), None)
            .status,
        404
    );
    let shown: Value =
        serde_json::from_slice(&s.server.cli(&["provider", "show", "okta", "--json"]).stdout).unwrap_or_default();
    assert_eq!(
        (shown["on_delete"].as_str(), shown["retention_seconds"].as_i64()),
        (Some("hard"), Some(30 * 86_400))
    );

    for (flags, says) in [
        (&["--on-delete", "later"][..], "soft or hard"),
        (&["--retention", "0s"], "between 1 second and 10 years"),
        (&["--retention", "soon"], "not a duration"),
        (&["--guard-share", "150%"], "between 1% and 100%"),
        (&["--guard", "maybe"], "on or off"),
        (&["--access-ttl", "forever"], "not a duration"),
    ] {
        let mut args = vec!["provider", "update", "okta"];
        args.extend_from_slice(flags);
        let o = s.server.cli(&args);
        assert!(!o.status.success(), "{flags:?} was accepted");
        assert!(err(&o).contains(says), "{flags:?}: {}", err(&o));
    }
    let bad = s
        .server
        .api(&token, "PATCH", "/providers/okta", Some(&json!({"retention": "-1d"})));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.json()["detail"].as_str().is_some_and(|d| d.contains("retention")),
        "{}",
        bad.body
    );
    let unchanged: Value =
        serde_json::from_slice(&s.server.cli(&["provider", "show", "okta", "--json"]).stdout).unwrap_or_default();
    assert_eq!(unchanged["on_delete"], "hard");
    assert_eq!(unchanged["guard"]["share_percent"], 20);
}

#[test]
fn erasure_removes_a_user_for_good_with_the_values_change_events_kept() {
    let s = Scim::start("internal");
    let token = s.server.admin_token("ops");
    let marker = "erase-me-7f3a@example.com";
    let u = s.user(marker);
    let id = str_of(&u, "id").to_owned();
    let g = s.group("Staff", &[&id]);
    let patch = patch_op(json!([{"op": "replace", "path": "title", "value": "Pilot"}]));
    assert_eq!(s.call("PATCH", &format!("/Users/{id}"), Some(&patch)).status, 200);
    let kept = |id: &str| {
        sql_rows(
            s.server.path(),
            &format!(
                "SELECT CAST(count(*) AS TEXT) FROM change_event WHERE resource_id = '{id}' AND resource IS NOT NULL"
            ),
        )
    };
    assert_eq!(kept(&id), vec![vec![Some("2".to_owned())]]);

    // The provisioning log names it: a failed create (409, its body kept, masked) and a
    // lookup by userName (the filter in the path).
    let dup = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": marker});
    assert_eq!(s.call("POST", "/Users", Some(&dup)).status, 409);
    let filter = format!("/Users?filter={}", enc(&format!("userName eq \"{marker}\"")));
    assert_eq!(s.get(&filter).status, 200);
    let provider = s.base.rsplit('/').next().unwrap_or_default().to_owned();
    let logged = || {
        let out = s
            .server
            .cli(&["provider", "log", &provider, "--json", "--limit", "1000"]);
        assert!(out.status.success(), "{}", err(&out));
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(logged().contains(marker) && logged().contains("erase-me-7f3a%40example.com")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never named the user: {}",
            logged()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let unconfirmed = s.server.cli(&["users", "erase", &id]);
    assert!(
        !unconfirmed.status.success() && err(&unconfirmed).contains("--yes"),
        "{}",
        err(&unconfirmed)
    );
    assert_eq!(s.get(&format!("/Users/{id}")).status, 200, "nothing was erased");
    let erased = s.server.cli(&["users", "erase", &id, "--yes"]);
    assert!(erased.status.success(), "{}", err(&erased));
    assert_scim_error(&s.get(&format!("/Users/{id}")), 404, None);
    assert_eq!(kept(&id), vec![vec![Some("0".to_owned())]]);
    let after = logged();
    assert!(
        !after.contains(marker) && !after.contains("erase-me-7f3a%40") && !after.contains(&id.to_lowercase()),
        "the provisioning log still names the erased user: {after}"
    );
    assert!(member_ids(&s.get(&format!("/Groups/{}", str_of(&g, "id"))).json()).is_empty());
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        0
    );
    // The audit log keeps the id and the action, never a value.
    assert_eq!(
        actions(&s.server, &token, &format!("User/{id}"))
            .last()
            .map(String::as_str),
        Some("user.erase")
    );
    let rows = sql_rows(
        s.server.path(),
        "SELECT actor, action, resource, attributes FROM audit_event",
    );
    assert!(!format!("{rows:?}").contains(marker), "{rows:?}");

    // A soft-deleted user is erased through the API; erasing it again is a 404.
    let v = s.user("soft-erase@example.com");
    let vid = str_of(&v, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Users/{vid}"), None).status, 204);
    assert_eq!(
        s.server
            .api(&token, "POST", &format!("/users/{vid}/erase"), None)
            .status,
        204
    );
    assert_eq!(
        s.server.api(&token, "GET", "/deleted/users/internal", None).json()["total"],
        0
    );
    assert_eq!(kept(&vid), vec![vec![Some("0".to_owned())]]);
    let again = s.server.api(&token, "POST", &format!("/users/{vid}/erase"), None);
    assert_eq!((again.status, again.json()["error"].as_str()), (404, Some("not_found")));
}

#[test]
fn a_backup_carries_deleted_resources_their_memberships_the_guard_and_access_end_dates() {
    let s = Scim::start_with(
        "third-party",
        &["--access-ttl", "30d", "--guard-min-users", "5", "--guard-share", "20%"],
    );
    let ids: Vec<String> = (0..6)
        .map(|i| str_of(&s.user(&format!("b{i}@example.com")), "id").to_owned())
        .collect();
    let g = s.group("Vendor", &[&ids[0], &ids[1]]);
    let gid = str_of(&g, "id").to_owned();
    assert_eq!(s.call("DELETE", &format!("/Users/{}", ids[0]), None).status, 204);
    // One of six is within 20%; a second trips the guard.
    assert_eq!(s.call("DELETE", &format!("/Users/{}", ids[1]), None).status, 503);
    let before = s.get(&format!("/Users/{}", ids[2])).json();

    let file = s.server.path().join("scimd.backup");
    let o = s.server.cli(&["backup", file.to_str().unwrap_or_default()]);
    assert!(o.status.success(), "{}", err(&o));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(s.server.path().join("scimd.key"), dir.path().join("scimd.key")).unwrap_or_else(|e| panic!("{e}"));
    let o = crate::support::cli_in(
        dir.path(),
        "http://localhost",
        &["restore", file.to_str().unwrap_or_default()],
    );
    assert!(o.status.success(), "{}", err(&o));
    let r = Server::start_in(dir);
    let base = s.base.replace(&s.server.url, &r.url);

    let status = r.cli(&["provider", "guard", "status", "okta", "--json"]);
    let guard: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(guard["tripped"], true, "{guard}");
    let deleted = r.cli(&["users", "deleted", "--population", "third-party", "--json"]);
    let deleted: Value = serde_json::from_slice(&deleted.stdout).unwrap_or_default();
    assert_eq!(deleted[0]["id"].as_str(), Some(ids[0].as_str()), "{deleted}");
    let after = crate::support::get_bearer(&format!("{base}/Users/{}", ids[2]), &s.token).json();
    let access = "urn:scimd:params:scim:schemas:extension:access:2.0:User";
    assert_eq!(after[access], before[access]);
    // Restored there, the user rejoins its group from the memberships the backup carried.
    let o = r.cli(&["users", "restore", &ids[0]]);
    assert!(o.status.success(), "{}", err(&o));
    let group = crate::support::get_bearer(&format!("{base}/Groups/{gid}"), &s.token).json();
    let mut want = vec![ids[0].clone(), ids[1].clone()];
    want.sort();
    assert_eq!(member_ids(&group), want);
}

#[test]
fn with_two_instances_on_one_database_one_runs_the_purge() {
    let s = Scim::start_with("internal", &["--retention", "1h"]);
    let other = Server::start_sharing(&s.server);
    let token = s.server.admin_token("ops");
    for i in 0..3 {
        let id = str_of(&s.user(&format!("twice{i}@example.com")), "id").to_owned();
        assert_eq!(s.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    }
    s.server.advance_clock(2 * 3600);
    wait_for("the purge", || {
        let d = other.api(&token, "GET", "/deleted/users/internal", None).json();
        (d["total"] == 0).then_some(())
    });
    let audit = s.server.api(&token, "GET", "/audit?action=user.purge", None).json();
    assert_eq!(
        audit["events"].as_array().map(Vec::len),
        Some(3),
        "each purged once: {audit}"
    );
    let holders = sql_rows(s.server.path(), "SELECT holder FROM job_lease WHERE name = 'lifecycle'");
    assert_eq!(holders.len(), 1, "one instance holds the job: {holders:?}");
}
