//! TLS between scimd and PostgreSQL, with libpq's `sslmode` meanings. Runs where `.ci/postgres`
//! started the cluster with TLS: it sets `SCIMD_TEST_POSTGRES_CA` to the CA that signed the
//! server's certificate, which names `localhost` only.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{BIN, database_url, pg_admin, sql_rows};

fn cluster_ca() -> Option<String> {
    pg_admin()?;
    std::env::var("SCIMD_TEST_POSTGRES_CA").ok().filter(|c| !c.is_empty())
}

fn migrate(dir: &Path, url: &str) -> Output {
    Command::new(BIN)
        .args(["--database", url, "--key-file"])
        .arg(dir.join("scimd.key"))
        .arg("migrate")
        .env_remove("SCIMD_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run scimd: {e}"))
}

/// Whether the connections a server opened with `url` are encrypted, as PostgreSQL sees them.
fn served_connections_encrypted(dir: &Path, url: &str) -> Vec<bool> {
    let mut child = Command::new(BIN)
        .args(["--database", url, "--key-file"])
        .arg(dir.join("scimd.key"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("SCIMD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start scimd: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("listening on ") {
                let _ = tx.send(());
            }
        }
    });
    let started = rx.recv_timeout(Duration::from_secs(30));
    let name = database_name(url);
    let rows = sql_rows(
        dir,
        &format!(
            "SELECT CAST(s.ssl AS TEXT) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'scimd' AND a.datname = '{name}'"
        ),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(started.is_ok(), "scimd did not start with {url}");
    rows.into_iter().map(|r| r[0].as_deref() == Some("true")).collect()
}

fn database_name(url: &str) -> &str {
    let without_query = url.split('?').next().unwrap_or_default();
    without_query.rsplit('/').next().unwrap_or_default()
}

#[test]
fn postgres_connections_are_encrypted_and_checked_as_the_url_says() {
    let Some(ca) = cluster_ca() else {
        eprintln!("skipped: needs SCIMD_TEST_POSTGRES and SCIMD_TEST_POSTGRES_CA (.ci/postgres sets both)");
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plain = database_url(dir.path());
    assert!(plain.contains("127.0.0.1"), "{plain}");
    let by_name = plain.replace("127.0.0.1", "localhost");

    // The server's certificate names localhost and chains to the CA: verify-full passes.
    let full = format!("{by_name}?sslmode=verify-full&sslrootcert={ca}");
    let out = migrate(dir.path(), &full);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let encrypted = served_connections_encrypted(dir.path(), &full);
    assert!(!encrypted.is_empty() && encrypted.iter().all(|e| *e), "{encrypted:?}");

    // By address, the name does not match: verify-ca passes, verify-full refuses.
    let out = migrate(dir.path(), &format!("{plain}?sslmode=verify-ca&sslrootcert={ca}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = migrate(dir.path(), &format!("{plain}?sslmode=verify-full&sslrootcert={ca}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PostgreSQL") && err.contains("certificate"), "{err}");

    // A root set that did not sign it: refused, with the reason, not a hang.
    let out = migrate(dir.path(), &format!("{by_name}?sslmode=verify-full&sslrootcert=system"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Checking without a root is a configuration error, said before connecting.
    let out = migrate(dir.path(), &format!("{by_name}?sslmode=verify-full"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sslrootcert"));

    // libpq's default, prefer, encrypts when the server offers TLS; disable does not.
    let encrypted = served_connections_encrypted(dir.path(), &plain);
    assert!(!encrypted.is_empty() && encrypted.iter().all(|e| *e), "{encrypted:?}");
    let encrypted = served_connections_encrypted(dir.path(), &format!("{plain}?sslmode=disable"));
    assert!(!encrypted.is_empty() && encrypted.iter().all(|e| !*e), "{encrypted:?}");

    drop_database(&plain);
}

/// Drop the test's database (the harness does this for its own servers).
fn drop_database(url: &str) -> Option<()> {
    let admin = pg_admin()?;
    let name = database_name(url).to_owned();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?
        .block_on(scimd_store::postgres::admin::drop_database(&admin, &name))
        .ok()
}
