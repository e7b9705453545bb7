//! Faults answered honestly: a database that cannot be reached is a passing condition
//! (503 with Retry-After), never a verdict on the client's credentials.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{BIN, Scim, basic, cli_in, db_args, get_bearer, pg_admin, post_form, read, str_of};

/// Run one statement on the PostgreSQL server as the tests' administrator.
fn admin_sql(admin: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

#[test]
fn a_database_outage_answers_503_with_retry_after_and_never_401() {
    let Some(admin) = pg_admin() else {
        return; // needs a PostgreSQL server to take away: runs under .ci/postgres
    };
    let s = Scim::start("internal");
    let provider = s.server.add_provider("Entra", "internal", &[]);
    let user = s.user("ada@example.com");
    let url = format!("{}/Users/{}", s.base, str_of(&user, "id"));
    assert_eq!(get_bearer(&url, &s.token).status, 200);
    let name = read(&s.server.path().join("postgres-database"));
    let out = s.server.cli(&["admin", "token", "create", "automation"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin_token = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    // The database goes away: no new connections, the open ones cut.
    admin_sql(
        &admin,
        &format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    );
    // Longer than the token cache lives (2 s): later requests must look the token up.
    let until = Instant::now() + Duration::from_millis(3_000);
    let mut answers = 0;
    while Instant::now() < until {
        let r = get_bearer(&url, &s.token);
        assert_eq!(r.status, 503, "during the outage: {} {}", r.status, r.body);
        assert_eq!(r.header("retry-after"), Some("5"), "{}", r.body);
        assert_eq!(r.json()["status"], "503", "a SCIM Error: {}", r.body);
        answers += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answers >= 10, "{answers}");
    let t = post_form(
        &format!("{}/oauth2/token", s.server.url),
        &[("grant_type", "client_credentials")],
        Some(&basic(
            str_of(&provider, "client_id"),
            str_of(&provider, "client_secret"),
        )),
    );
    assert_eq!(t.status, 503, "{}", t.body);
    assert_eq!(t.json()["error"], "temporarily_unavailable", "{}", t.body);
    assert_eq!(t.header("retry-after"), Some("5"));
    // Administrators are not signed out either.
    let a = get_bearer(&format!("{}/admin/api/v1/providers", s.server.url), &admin_token);
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.header("retry-after"), Some("5"), "{}", a.body);

    // Back: the same token works again, and nothing was lost.
    admin_sql(&admin, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        let r = get_bearer(&url, &s.token);
        if r.status != 503 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["userName"], json!("ada@example.com"));
}

#[test]
fn a_lost_key_file_is_not_replaced_in_silence() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path();
    let cli = |args: &[&str]| cli_in(path, "http://localhost:8080", args);
    let added = cli(&["provider", "add", "--name", "Okta", "--population", "internal"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    std::fs::remove_file(path.join("scimd.key")).unwrap_or_else(|e| panic!("{e}"));

    // Neither the server nor a command makes a new key while secrets are sealed.
    let serve = Command::new(BIN)
        .args(db_args(path))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success(), "serve started without its key: {err}");
    assert!(
        err.contains("scimd.key is missing") && err.contains("1 sealed secret") && err.contains("--accept-new-key"),
        "{err}"
    );
    let listed = cli(&["provider", "list"]);
    assert!(!listed.status.success());
    assert!(!path.join("scimd.key").exists(), "no key was made");

    // Told explicitly: a new key, and the provider marked until its secret is rotated.
    let mut child = Command::new(BIN)
        .args(db_args(path))
        .args(["serve", "--listen", "127.0.0.1:0", "--accept-new-key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "serve --accept-new-key did not start");
    assert!(path.join("scimd.key").exists());
    let shown = cli(&["provider", "show", "okta", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap_or_default();
    assert_eq!(json["secret_lost"], true, "{json}");
    let listed = String::from_utf8_lossy(&cli(&["provider", "list"]).stdout).into_owned();
    assert!(listed.contains("rotate-secret okta"), "{listed}");
    let rotated = cli(&["provider", "rotate-secret", "okta"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let shown = cli(&["provider", "show", "okta", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap_or_default();
    assert_eq!(json["secret_lost"], false, "{json}");
}

/// A tmpfs mounted on a directory for the test's length (lazily unmounted at the end, even
/// when the test fails).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root): the test then cannot run here.
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fill the file system holding `path` up to the last byte.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let mut byte = [0u8; 1];
    while f.write_all(&byte).is_ok() {
        byte[0] = 1;
    }
    let _ = f.sync_all();
}

#[test]
fn a_full_disk_answers_503_and_writes_succeed_again_when_space_returns() {
    if pg_admin().is_some() {
        return; // SQLite's file on a small disk; PostgreSQL's disk is its own server's
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let Some(_tmpfs) = Tmpfs::mount(dir.path(), "8m") else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let mut s = crate::support::Server::start_in(dir);
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let base = str_of(&p, "base_url").to_owned();
    let auth = format!("Bearer {token}");
    let create = |n: usize| {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("user{n}@example.com")});
        crate::support::call(
            "POST",
            &format!("{base}/Users"),
            &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
            Some(&body.to_string()),
        )
    };
    assert_eq!(create(0).status, 201);

    let filler = s.path().join("filler");
    fill(&filler);
    // Writes fail for want of space: 503 with Retry-After and a detail that says so, never a
    // 500; the ones that still fit are kept.
    let mut created = vec![0];
    let mut refused = None;
    for n in 1..500 {
        let r = create(n);
        match r.status {
            201 => created.push(n),
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!("user {n}: {other} {}", r.body),
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("no write was refused on a full disk"));
    assert_eq!(refused.header("retry-after"), Some("30"));
    assert!(refused.body.contains("storage is full"), "{}", refused.body);
    let url = |path: &str| format!("{}{path}", s.url);
    let ready = crate::support::call("GET", &url("/readyz"), &[], None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["database"], "storage full");
    let metrics = crate::support::call("GET", &url("/metrics"), &[], None).body;
    assert!(metrics.contains("scimd_storage_full 1"), "{metrics}");
    let tokens = post_form(
        &url("/oauth2/token"),
        &[("grant_type", "client_credentials")],
        Some(&basic(str_of(&p, "client_id"), str_of(&p, "client_secret"))),
    );
    assert_eq!(tokens.status, 503, "{}", tokens.body);
    assert_eq!(tokens.json()["error"], "temporarily_unavailable");
    // Reads still work.
    assert_eq!(get_bearer(&format!("{base}/Users?count=1"), &token).status, 200);

    // Space returns: readiness says so at once, and writes succeed again.
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    let ready = crate::support::call("GET", &url("/readyz"), &[], None);
    assert_eq!(ready.status, 200, "{}", ready.body);
    let metrics = crate::support::call("GET", &url("/metrics"), &[], None).body;
    assert!(metrics.contains("scimd_storage_full 0"), "{metrics}");
    assert_eq!(create(1000).status, 201);
    created.push(1000);
    let list = get_bearer(&format!("{base}/Users?count=1000"), &token).json();
    assert_eq!(
        list["totalResults"],
        json!(created.len()),
        "every acknowledged user is there"
    );
    s.stop();
    crate::support::assert_database_consistent(s.path());
}

#[test]
fn a_key_rotation_seals_every_secret_again_while_the_server_keeps_serving() {
    use crate::admin_api::{Admin, scim_post, user_body};
    use crate::subscriptions::{RECEIVER_FLAGS, Receiver, eventually};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let admin = Admin::on(crate::support::Server::start_serving(dir, RECEIVER_FLAGS));
    let p = admin.create("Okta", "internal");
    let secret = str_of(&p, "client_secret").to_owned();
    let (base, token) = (str_of(&p, "base_url").to_owned(), admin.scim_token("okta"));
    let receiver = Receiver::start(204, "");
    admin.ok(
        "POST",
        "/subscriptions",
        Some(&json!({"format": "webhook", "url": receiver.url, "events": ["user.created"]})),
    );
    let s = &admin.server;
    let keys = s.cli(&["events", "key", "rotate", "--json"]);
    assert!(keys.status.success(), "{}", String::from_utf8_lossy(&keys.stderr));
    let sealed_sql = if pg_admin().is_some() {
        "SELECT encode(secret_sealed, 'hex') FROM provider"
    } else {
        "SELECT hex(secret_sealed) FROM provider"
    };
    let sealed_before = crate::support::sql_rows(s.path(), sealed_sql);

    // Traffic goes on throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, url) = (std::sync::Arc::clone(&stop), format!("{base}/Users?count=1"));
        let token = token.clone();
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(get_bearer(&url, &token).status);
            }
            statuses
        })
    };
    let new_key = s.path().join("new.key");
    let out = s.cli(&["key", "rotate", "--new-key-file", new_key.to_str().unwrap_or_default()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        said.contains("1 client secret, 1 webhook secret, 1 SET signing key"),
        "{said}"
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = traffic.join().unwrap_or_default();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s == 200),
        "{statuses:?}"
    );

    // The new key is the key file, the old one kept beside it; the secret is sealed anew.
    let key_file = std::fs::read(s.path().join("scimd.key")).unwrap_or_default();
    assert_eq!(key_file, std::fs::read(&new_key).unwrap_or_default());
    assert!(s.path().join("scimd.key.previous").exists());
    assert_ne!(crate::support::sql_rows(s.path(), sealed_sql), sealed_before);

    // The running server opens what was sealed under the new key without a restart.
    let revealed = admin.ok("POST", "/providers/okta/reveal", None);
    assert_eq!(str_of(&revealed, "client_secret"), secret);
    scim_post(
        &base,
        &token,
        "/Users",
        &user_body("after.rotation@example.com", "r1", "After"),
    );
    eventually("the webhook delivered after the rotation", || {
        receiver
            .received()
            .iter()
            .any(|b| b.contains("after.rotation@example.com"))
            .then_some(())
    });
    // Without the old key, everything still opens: it was all sealed again.
    std::fs::remove_file(s.path().join("scimd.key.previous")).unwrap_or_else(|e| panic!("{e}"));
    let shown = s.cli(&["provider", "show", "okta", "--reveal", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap_or_default();
    assert_eq!(shown["client_secret"], json!(secret));
    let sets = s.cli(&["events", "key", "list", "--json"]);
    assert!(sets.status.success(), "{}", String::from_utf8_lossy(&sets.stderr));
    // Run again with the new key already in place: it only seals again.
    let again = s.cli(&["key", "rotate", "--new-key-file", new_key.to_str().unwrap_or_default()]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(!String::from_utf8_lossy(&again.stdout).contains("the old one is kept"));
    // A new key file that is not a key is refused, changing nothing.
    let junk = crate::support::temp_file(s.path(), "junk.key", "short");
    let bad = s.cli(&["key", "rotate", "--new-key-file", junk.to_str().unwrap_or_default()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("exactly 32 bytes"));
    assert_eq!(std::fs::read(s.path().join("scimd.key")).unwrap_or_default(), key_file);
}
