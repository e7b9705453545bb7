//! `scimd backup` while the server takes writes, and `scimd restore` into an empty database:
//! the restored server answers the same SCIM requests the same way, the same tokens open it,
//! the same secrets are revealed with the same key file, and the audit chain verifies. The
//! format is one for both backends: with PostgreSQL available, a backup goes from PostgreSQL
//! to SQLite and back.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::support::{Scim, Server, call, cli_in, get_bearer, pg_admin, str_of};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A SCIM answer with the server's own origin taken out, to compare across servers.
fn portable(r: &crate::support::Reply, origin: &str) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body.replace(origin, "ORIGIN")).unwrap_or(Value::Null)
}

fn copy_key(from: &Path, to: &Path) {
    std::fs::copy(from.join("scimd.key"), to.join("scimd.key")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_backup_taken_under_load_restores_to_a_server_that_answers_the_same() {
    let s = Scim::start("internal");
    // Custom attributes: a declared extension with an index, and attributes kept as sent.
    let acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let schema = json!({"id": acme, "attributes": [{"name": "costCenter", "type": "string"}]});
    let schema_file = crate::support::temp_file(s.server.path(), "acme.json", &schema.to_string());
    let path = schema_file.to_str().unwrap_or_default();
    ok(&s.server.cli(&[
        "provider",
        "schema",
        "add",
        "okta",
        "--file",
        path,
        "--index",
        "costCenter",
    ]));
    let (vendor_base, vendor_token) = s.another("Vendor", "third-party");
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(str_of(&s.user(&format!("user{i}@example.com")), "id").to_owned());
    }
    for (i, id) in ids.iter().enumerate().take(5) {
        let ops = json!([{"op": "add", "path": format!("{acme}:costCenter"), "value": format!("CC-{i}")},
                         {"op": "add", "path": "badgeNumber", "value": format!("B-{i}")}]);
        let r = s.call("PATCH", &format!("/Users/{id}"), Some(&crate::support::patch_op(ops)));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let members: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
    let group = s.group("Engineering", &members);
    let vendor_user = call(
        "POST",
        &format!("{vendor_base}/Users"),
        &[("Authorization", &format!("Bearer {vendor_token}")), ("Content-Type", "application/scim+json")],
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "contractor@vendor.example"}).to_string()),
    );
    assert_eq!(vendor_user.status, 201);
    let secret_before = ok(&s.server.cli(&["provider", "show", "okta", "--reveal", "--json"]));
    let admin_token = ok(&s.server.cli(&["admin", "token", "create", "automation"]))
        .trim()
        .to_owned();

    // Writers keep going while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, token, stop) = (s.base.clone(), s.token.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("load{n}@example.com")});
                let r = call(
                    "POST",
                    &format!("{base}/Users"),
                    &[
                        ("Authorization", &format!("Bearer {token}")),
                        ("Content-Type", "application/scim+json"),
                    ],
                    Some(&body.to_string()),
                );
                assert_eq!(r.status, 201);
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let file = s.server.path().join("scimd.backup");
    let printed = ok(&s.server.cli(&["backup", file.to_str().unwrap_or_default()]));
    stop.store(true, Ordering::Relaxed);
    let loaded = writer.join().unwrap_or_else(|_| panic!("the writer failed"));
    assert!(loaded > 0 && printed.contains("backup written"), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).map(|m| m.permissions().mode()).unwrap_or(0);
        assert_eq!(mode & 0o077, 0, "the backup is private to its owner");
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(!text.contains(&s.token), "tokens are stored as hashes only");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_key(s.server.path(), dir.path());
    let restored = ok(&cli_in(
        dir.path(),
        "http://localhost",
        &["restore", file.to_str().unwrap_or_default()],
    ));
    assert!(restored.contains("audit log OK"), "{restored}");
    let again = cli_in(
        dir.path(),
        "http://localhost",
        &["restore", file.to_str().unwrap_or_default()],
    );
    assert!(!again.status.success(), "a database with data is not overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    ok(&cli_in(
        dir.path(),
        "http://localhost",
        &["restore", "--force", file.to_str().unwrap_or_default()],
    ));

    let r = Server::start_in(dir);
    let base_r = s.base.replace(&s.server.url, &r.url);
    for id in ids.iter().take(3).chain([str_of(&group, "id").to_owned()].iter()) {
        let kind = if id == str_of(&group, "id") { "Groups" } else { "Users" };
        let before = portable(&s.get(&format!("/{kind}/{id}")), &s.server.url);
        let after = portable(&get_bearer(&format!("{base_r}/{kind}/{id}"), &s.token), &r.url);
        assert_eq!(before, after, "the same answer for {kind}/{id}");
    }
    let indexed = format!(
        "/Users?filter={}",
        crate::support::enc(&format!(r#"{acme}:costCenter eq "cc-3""#))
    );
    for query in [
        "/Users?filter=userName%20sw%20%22user%22&sortBy=userName&count=100",
        indexed.as_str(),
        "/Schemas",
        "/ResourceTypes",
    ] {
        let before = portable(&s.get(query), &s.server.url);
        assert_eq!(
            before,
            portable(&get_bearer(&format!("{base_r}{query}"), &s.token), &r.url),
            "{query}"
        );
        if query == indexed {
            assert_eq!(before["totalResults"], 1, "{before}");
        }
        if query == "/Schemas" {
            assert!(
                before.to_string().contains("badgeNumber"),
                "kept attributes are advertised: {before}"
            );
        }
    }
    assert_eq!(
        get_bearer(
            &format!("{}/Users", vendor_base.replace(&s.server.url, &r.url)),
            &vendor_token
        )
        .status,
        200,
        "every provider's token works on the restored database"
    );
    let secret_of = |printed: &str| {
        serde_json::from_str::<Value>(printed)
            .map(|v| v["client_secret"].clone())
            .ok()
    };
    let secret_after = ok(&r.cli(&["provider", "show", "okta", "--reveal", "--json"]));
    assert!(secret_of(&secret_before).is_some_and(|v| v.is_string()));
    assert_eq!(
        secret_of(&secret_after),
        secret_of(&secret_before),
        "the key file opens the restored secret"
    );
    assert_eq!(
        get_bearer(&format!("{}/admin/api/v1/providers", r.url), &admin_token).status,
        200,
        "admin API tokens are restored"
    );
    // The restored database goes on taking writes, and its chain with them.
    let more = call(
        "POST",
        &format!("{base_r}/Users"),
        &[
            ("Authorization", &format!("Bearer {}", s.token)),
            ("Content-Type", "application/scim+json"),
        ],
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "after@example.com"})
                .to_string(),
        ),
    );
    assert_eq!(more.status, 201, "{}", more.body);
    ok(&r.cli(&["audit", "verify"]));
}

#[test]
fn a_backup_moves_between_sqlite_and_postgresql() {
    if pg_admin().is_none() {
        return; // needs both databases: run under .ci/postgres
    }
    let s = Scim::start("internal");
    let u = s.user("ada@example.com");
    s.group("Admins", &[str_of(&u, "id")]);
    let file = s.server.path().join("pg.backup");
    ok(&s.server.cli(&["backup", file.to_str().unwrap_or_default()]));

    // PostgreSQL -> SQLite
    let lite = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_key(s.server.path(), lite.path());
    let sqlite_db = format!("sqlite://{}", lite.path().join("moved.db").display());
    let key = lite.path().join("scimd.key").display().to_string();
    let run = |db: &str, args: &[&str]| {
        std::process::Command::new(crate::support::BIN)
            .args(["--database", db, "--key-file", &key])
            .args(args)
            .env_remove("SCIMD_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    ok(&run(&sqlite_db, &["restore", file.to_str().unwrap_or_default()]));
    let listed = ok(&run(
        &sqlite_db,
        &["users", "list", "--population", "internal", "--json"],
    ));
    assert!(listed.contains("ada@example.com"), "{listed}");

    // SQLite -> PostgreSQL, into a database of its own
    let back = lite.path().join("lite.backup");
    ok(&run(&sqlite_db, &["backup", back.to_str().unwrap_or_default()]));
    let pg_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_key(s.server.path(), pg_dir.path());
    ok(&cli_in(
        pg_dir.path(),
        "http://localhost",
        &["restore", back.to_str().unwrap_or_default()],
    ));
    let r = Server::start_in(pg_dir);
    let after = get_bearer(
        &format!(
            "{}/Users?filter=userName%20eq%20%22ada@example.com%22",
            s.base.replace(&s.server.url, &r.url)
        ),
        &s.token,
    );
    assert_eq!(after.json()["totalResults"], 1, "{}", after.body);
}

#[test]
fn a_damaged_or_cut_off_backup_is_refused_and_changes_nothing() {
    let s = Scim::start("internal");
    s.user("ada@example.com");
    let file = s.server.path().join("scimd.backup");
    ok(&s.server.cli(&["backup", file.to_str().unwrap_or_default()]));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let cut = s.server.path().join("cut.backup");
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap_or_else(|e| panic!("{e}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = cli_in(
        dir.path(),
        "http://localhost",
        &["restore", cut.to_str().unwrap_or_default()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("incomplete"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli_in(
        dir.path(),
        "http://localhost",
        &["users", "list", "--population", "internal", "--json"],
    );
    assert_eq!(ok(&out).trim(), "[]", "nothing half-restored");
}
