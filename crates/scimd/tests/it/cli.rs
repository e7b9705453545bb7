//! The command line on the same database as a running server.

use std::process::Command;

use serde_json::Value;

use crate::support::{
    BIN, Server, cli_in, db_args, db_bytes, get_bearer, read, set_schema_version, sql_rows, str_of, temp_file,
};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn provider_add_prints_everything_an_identity_provider_needs() {
    let s = Server::start();
    let p = s.add_provider(
        "Okta Staff (EU)",
        "internal",
        &["--tag", "prod", "--description", "EU org"],
    );
    assert_eq!(p["id"], "okta-staff-eu");
    assert_eq!(p["name"], "Okta Staff (EU)");
    assert_eq!(p["population"], "internal");
    assert_eq!(p["enabled"], true);
    assert_eq!(p["base_url"], format!("{}/scim/v2/okta-staff-eu", s.url));
    assert_eq!(p["token_url"], format!("{}/oauth2/token", s.url));
    assert_eq!(p["token_ttl_seconds"], 365 * 86_400);
    assert_eq!(p["tags"], serde_json::json!(["prod"]));
    assert!(p["created"].as_str().is_some_and(|c| c.ends_with('Z')));
    let (id, secret) = (str_of(&p, "client_id"), str_of(&p, "client_secret"));
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()) && id.len() >= 20);
    // At least 256 bits: 62 symbols carry log2(62) ≈ 5.95 bits each.
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()) && secret.len() as f64 * 62f64.log2() >= 256.0);

    let again = s.add_provider("Okta Staff (EU)", "third-party", &[]);
    assert_eq!(again["id"], "okta-staff-eu-2");
    assert_eq!(again["population"], "third-party");
}

#[test]
fn bad_provider_input_fails_with_a_clear_message_and_changes_nothing() {
    let s = Server::start();
    for (args, expect) in [
        (vec!["--name", "X", "--population", "vendors"], "not a population"),
        (
            vec!["--name", "X", "--population", "internal", "--token-ttl", "soon"],
            "not a duration",
        ),
        (
            vec!["--name", "X", "--population", "internal", "--allowed-ip", "10.0.0.0/40"],
            "CIDR",
        ),
        (vec!["--name", "   ", "--population", "internal"], "name"),
    ] {
        let mut full = vec!["provider", "add"];
        full.extend(args);
        let out = s.cli(&full);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(expect), "{}", stderr(&out));
    }
    let list = s.cli(&["provider", "list", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout).ok(),
        Some(serde_json::json!([]))
    );
    let missing = s.cli(&["provider", "show", "nope"]);
    assert!(!missing.status.success() && stderr(&missing).contains("not found"));
}

#[test]
fn the_secret_is_masked_until_revealed_and_each_reveal_is_audited() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let secret = str_of(&p, "client_secret");
    let shown = s.cli(&["provider", "show", "okta"]);
    assert!(shown.status.success());
    assert!(!stdout(&shown).contains(secret));
    assert!(stdout(&shown).contains(str_of(&p, "base_url")));
    let masked: Value =
        serde_json::from_slice(&s.cli(&["provider", "show", "okta", "--json"]).stdout).unwrap_or_default();
    assert!(masked["client_secret"].is_null());

    let revealed: Value =
        serde_json::from_slice(&s.cli(&["provider", "show", "okta", "--reveal", "--json"]).stdout).unwrap_or_default();
    assert_eq!(revealed["client_secret"], secret);
    assert!(stdout(&s.cli(&["provider", "show", "okta", "--reveal"])).contains(secret));

    let reveals = sql_rows(
        s.path(),
        "SELECT CAST(count(*) AS TEXT) FROM audit_event WHERE action = 'provider.secret.reveal' AND provider_id = 'okta'",
    );
    assert_eq!(reveals, [[Some("2".to_owned())]]);
}

#[test]
fn rotating_the_secret_retires_the_old_one_but_not_issued_tokens() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let out = s.cli(&["provider", "rotate-secret", "okta", "--json"]);
    assert!(out.status.success());
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let new_secret = str_of(&rotated, "client_secret");
    assert_ne!(new_secret, str_of(&p, "client_secret"));

    let url = format!("{}/oauth2/token", s.url);
    let old = crate::support::post_form(
        &url,
        &[("grant_type", "client_credentials")],
        Some(&crate::support::basic(
            str_of(&p, "client_id"),
            str_of(&p, "client_secret"),
        )),
    );
    assert_eq!(old.status, 401);
    let new = crate::support::post_form(
        &url,
        &[("grant_type", "client_credentials")],
        Some(&crate::support::basic(str_of(&p, "client_id"), new_secret)),
    );
    assert_eq!(new.status, 200);
    assert_eq!(
        get_bearer(&format!("{}/ServiceProviderConfig", str_of(&p, "base_url")), &token).status,
        200
    );
}

#[test]
fn tokens_are_listed_and_revoked_one_by_one() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let first = s.token_for(&p);
    let second = s.token_for(&p);
    let out = s.cli(&["provider", "tokens", "okta", "--json"]);
    let tokens: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(tokens.len(), 2);
    for t in &tokens {
        assert!(t["created"].is_string() && t["expires"].is_string() && t["revoked"].is_null());
        assert_eq!(t["live"], true);
    }
    let spc = format!("{}/ServiceProviderConfig", str_of(&p, "base_url"));
    // The first use is recorded.
    assert_eq!(get_bearer(&spc, &first).status, 200);
    let after: Vec<Value> =
        serde_json::from_slice(&s.cli(&["provider", "tokens", "okta", "--json"]).stdout).unwrap_or_default();
    assert_eq!(after.iter().filter(|t| t["last_used"].is_string()).count(), 1);

    let first_id = after
        .iter()
        .find(|t| t["last_used"].is_string())
        .map(|t| str_of(t, "id").to_owned())
        .unwrap_or_default();
    let revoke = s.cli(&["provider", "revoke-token", "okta", &first_id]);
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    assert_eq!(crate::support::eventually_status(&spc, &first, 401).status, 401);
    assert_eq!(get_bearer(&spc, &second).status, 200);
    let again = s.cli(&["provider", "revoke-token", "okta", &first_id]);
    assert!(!again.status.success());
    assert!(
        !s.cli(&["provider", "revoke-token", "okta"]).status.success(),
        "needs a token id or --all"
    );
}

#[test]
fn delete_needs_confirmation_and_takes_the_tokens_with_it() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let refused = s.cli(&["provider", "delete", "okta"]);
    assert!(!refused.status.success() && stderr(&refused).contains("--yes"));
    let spc = format!("{}/ServiceProviderConfig", str_of(&p, "base_url"));
    assert_eq!(get_bearer(&spc, &token).status, 200);
    assert!(s.cli(&["provider", "delete", "okta", "--yes"]).status.success());
    assert_eq!(crate::support::eventually_status(&spc, &token, 401).status, 401);
    assert!(!s.cli(&["provider", "show", "okta"]).status.success());
}

#[test]
fn scimd_token_fetches_a_token_by_hand() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let (url, id, secret) = (
        str_of(&p, "token_url"),
        str_of(&p, "client_id"),
        str_of(&p, "client_secret"),
    );
    let spc = format!("{}/ServiceProviderConfig", str_of(&p, "base_url"));

    let out = Command::new(BIN)
        .args([
            "token",
            "--token-url",
            url,
            "--client-id",
            id,
            "--client-secret",
            secret,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert_eq!(stdout(&out).lines().count(), 1);
    assert_eq!(get_bearer(&spc, &token).status, 200);

    let json = Command::new(BIN)
        .args(["token", "--auth", "body", "--json"])
        .env("SCIMD_TOKEN_URL", url)
        .env("SCIMD_CLIENT_ID", id)
        .env("SCIMD_CLIENT_SECRET", secret)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(json.status.success(), "{}", stderr(&json));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap_or_default();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(get_bearer(&spc, str_of(&v, "access_token")).status, 200);
}

#[test]
fn the_postman_export_parses_back_and_feeds_scimd_token() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let file = s.path().join("okta.postman_collection.json");
    let out = s.cli(&[
        "provider",
        "postman",
        "okta",
        "--output",
        file.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c: Value = serde_json::from_str(&read(&file)).unwrap_or_default();
    assert_eq!(
        c["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let vars: std::collections::HashMap<String, String> = c["variable"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (str_of(v, "key").to_owned(), str_of(v, "value").to_owned()))
        .collect();
    assert_eq!(vars["tokenUrl"], str_of(&p, "token_url"));
    assert_eq!(vars["scim_base_url"], str_of(&p, "base_url"));
    assert_eq!(vars["scim_client_id"], str_of(&p, "client_id"));
    assert_eq!(vars["scim_client_secret"], str_of(&p, "client_secret"));
    assert_eq!(vars["server_url"], s.url);
    let auth: std::collections::HashMap<String, String> = c["auth"]["oauth2"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (str_of(v, "key").to_owned(), str_of(v, "value").to_owned()))
        .collect();
    assert_eq!(c["auth"]["type"], "oauth2");
    assert_eq!(auth["grant_type"], "client_credentials");
    assert_eq!(auth["accessTokenUrl"], "{{tokenUrl}}");
    assert_eq!(auth["client_authentication"], "header");
    assert_eq!(auth["headerPrefix"], "Bearer");
    assert!(c["item"].as_array().is_some_and(|i| i.len() >= 5));

    let tok = Command::new(BIN)
        .args(["token", "--from"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(tok.status.success(), "{}", stderr(&tok));
    let token = stdout(&tok).trim().to_owned();
    assert_eq!(
        get_bearer(&format!("{}/ServiceProviderConfig", str_of(&p, "base_url")), &token).status,
        200
    );

    // A Postman environment export works the same way.
    let env = serde_json::json!({"name": "scimd", "values": [
        {"key": "tokenUrl", "value": str_of(&p, "token_url"), "enabled": true},
        {"key": "scim_client_id", "value": str_of(&p, "client_id"), "enabled": true},
        {"key": "scim_client_secret", "value": str_of(&p, "client_secret"), "enabled": true}
    ]});
    let env_file = temp_file(s.path(), "env.json", &env.to_string());
    let tok = Command::new(BIN)
        .args(["token", "--from"])
        .arg(&env_file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(tok.status.success(), "{}", stderr(&tok));
}

#[test]
fn scimd_token_failures_are_one_clear_line_and_a_non_zero_exit() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("token")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };

    let wrong = run(&[
        "--token-url",
        str_of(&p, "token_url"),
        "--client-id",
        str_of(&p, "client_id"),
        "--client-secret",
        "nope",
    ]);
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("invalid_client"), "{}", stderr(&wrong));
    assert!(stdout(&wrong).is_empty());

    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let refused = run(&[
        "--token-url",
        &format!("http://127.0.0.1:{port}/oauth2/token"),
        "--client-id",
        "a",
        "--client-secret",
        "b",
    ]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("cannot reach"), "{}", stderr(&refused));

    let not_oauth = run(&[
        "--token-url",
        &format!("{}/healthz", s.url),
        "--client-id",
        "a",
        "--client-secret",
        "b",
    ]);
    assert!(!not_oauth.status.success());
    assert!(stderr(&not_oauth).contains("HTTP 405"), "{}", stderr(&not_oauth));

    let missing = run(&["--token-url", str_of(&p, "token_url")]);
    assert!(
        !missing.status.success() && stderr(&missing).contains("client id"),
        "{}",
        stderr(&missing)
    );
    for out in [&wrong, &refused, &not_oauth, &missing] {
        assert_eq!(stderr(out).trim().lines().count(), 1, "{}", stderr(out));
    }
}

#[test]
fn secrets_and_tokens_never_reach_the_database_file_or_the_log() {
    let mut s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    let token = s.token_for(&p);
    let rotated: Value =
        serde_json::from_slice(&s.cli(&["provider", "rotate-secret", "okta", "--json"]).stdout).unwrap_or_default();
    let _ = get_bearer(&format!("{}/ServiceProviderConfig", str_of(&p, "base_url")), &token);
    s.stop();
    let stored = db_bytes(s.path());
    // What is stored in clear is there: the search looks at the right bytes.
    let client_id = str_of(&p, "client_id").as_bytes();
    assert!(stored.windows(client_id.len()).any(|w| w == client_id));
    let log = s.log();
    assert!(log.contains("issued an access token"), "the log is being captured");
    for secret in [
        str_of(&p, "client_secret"),
        str_of(&rotated, "client_secret"),
        token.as_str(),
    ] {
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is in the database"
        );
        assert!(!log.contains(secret), "a secret is in the log");
    }
}

#[test]
fn the_cli_and_the_server_share_one_database_concurrently() {
    let s = Server::start();
    let p = s.add_provider("Okta", "internal", &[]);
    std::thread::scope(|scope| {
        let issuing = scope.spawn(|| (0..40).map(|_| s.token_for(&p)).collect::<Vec<_>>());
        let adding: Vec<_> = (0..4)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    for j in 0..3 {
                        s.add_provider(&format!("Vendor {i} {j}"), "third-party", &[]);
                    }
                })
            })
            .collect();
        for a in adding {
            a.join().unwrap_or_else(|_| panic!("a CLI thread failed"));
        }
        let tokens = issuing.join().unwrap_or_else(|_| panic!("token thread failed"));
        assert_eq!(tokens.len(), 40);
    });
    let list: Vec<Value> = serde_json::from_slice(&s.cli(&["provider", "list", "--json"]).stdout).unwrap_or_default();
    assert_eq!(list.len(), 13);
    let tokens: Vec<Value> =
        serde_json::from_slice(&s.cli(&["provider", "tokens", "okta", "--json"]).stdout).unwrap_or_default();
    assert_eq!(tokens.len(), 40);
}

#[test]
fn the_key_file_is_created_private_and_configuration_comes_from_flags_env_and_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = cli_in(dir.path(), "http://scim.example.com", &["provider", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = dir.path().join("scimd.key");
    assert_eq!(std::fs::read(&key).map(|k| k.len()).unwrap_or(0), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
    }

    // The file supplies what neither flags nor environment say.
    let cfg = temp_file(
        dir.path(),
        "scimd.toml",
        &format!(
            "database = \"sqlite://{}\"\nkey_file = \"{}\"\npublic_url = \"https://scim.example.com\"\n",
            dir.path().join("from-file.db").display(),
            key.display()
        ),
    );
    let add = Command::new(BIN)
        .args(["--config"])
        .arg(&cfg)
        .args([
            "provider",
            "add",
            "--name",
            "Okta",
            "--population",
            "internal",
            "--json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(add.status.success(), "{}", stderr(&add));
    let p: Value = serde_json::from_slice(&add.stdout).unwrap_or_default();
    assert_eq!(p["base_url"], "https://scim.example.com/scim/v2/okta");
    assert!(dir.path().join("from-file.db").exists());

    // The environment wins over the file, and a flag over the environment.
    let env = Command::new(BIN)
        .args(["--config"])
        .arg(&cfg)
        .args(["provider", "show", "okta", "--json"])
        .env("SCIMD_PUBLIC_URL", "https://env.example.com")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let shown: Value = serde_json::from_slice(&env.stdout).unwrap_or_default();
    assert_eq!(shown["base_url"], "https://env.example.com/scim/v2/okta");
    let flag = Command::new(BIN)
        .args(["--config"])
        .arg(&cfg)
        .args([
            "--public-url",
            "https://flag.example.com",
            "provider",
            "show",
            "okta",
            "--json",
        ])
        .env("SCIMD_PUBLIC_URL", "https://env.example.com")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let shown: Value = serde_json::from_slice(&flag.stdout).unwrap_or_default();
    assert_eq!(shown["base_url"], "https://flag.example.com/scim/v2/okta");

    let bad = temp_file(dir.path(), "bad.toml", "databse = \"x\"\n");
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&bad)
        .args(["provider", "list"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown field") && stderr(&out).contains("databse"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(BIN)
        .args(db_args(dir.path()))
        .arg("migrate")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    set_schema_version(dir.path(), 999);
    let out = Command::new(BIN)
        .args(db_args(dir.path()))
        .args(["provider", "list"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer than this scimd"), "{}", stderr(&out));
}
