//! A real server process per test, on a free port, with a fresh database and key file: a
//! SQLite file in the test's directory, or, when `SCIMD_TEST_POSTGRES` names a PostgreSQL
//! server (an admin URL), a fresh PostgreSQL database per directory, dropped with its server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tempfile::TempDir;

pub mod receiver;
mod watch;

pub const BIN: &str = env!("CARGO_BIN_EXE_scimd");

pub struct Server {
    child: Child,
    pub url: String,
    pub dir: TempDir,
    /// The PostgreSQL database this server's directory created, dropped with the server.
    owned_pg: Option<String>,
    /// How it was started, to start it again on the same database.
    db_dir: PathBuf,
    extra: Vec<String>,
    serve_extra: Vec<String>,
    /// Every port it listened on, to search its logs for the secrets sent there.
    ports: Vec<u16>,
}

/// What an HTTP call returned.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self::start_in(dir)
    }

    pub fn start_in(dir: TempDir) -> Server {
        Self::start_with(dir, &[])
    }

    /// Start with extra global options (e.g. `--log-format json`).
    pub fn start_with(dir: TempDir, extra: &[&str]) -> Server {
        let db_dir = dir.path().to_owned();
        Self::spawn(dir, &db_dir, extra, &[])
    }

    /// Start with extra `serve` options (e.g. `--trusted-proxies 127.0.0.1`).
    pub fn start_serving(dir: TempDir, serve_extra: &[&str]) -> Server {
        let db_dir = dir.path().to_owned();
        Self::spawn(dir, &db_dir, &[], serve_extra)
    }

    /// Start logging at every level (`RUST_LOG=trace`), every dependency included.
    pub fn start_tracing(dir: TempDir) -> Server {
        std::fs::write(dir.path().join(RUST_LOG_FILE), "trace").unwrap_or_else(|e| panic!("{e}"));
        Self::start_in(dir)
    }

    /// What the server printed on standard output (complete once it stopped).
    pub fn stdout(&self) -> String {
        read(&self.path().join("server.out"))
    }

    /// Another instance on this server's database and key file (its own directory and log):
    /// scale-out, as behind a load balancer.
    pub fn start_sharing(other: &Server) -> Server {
        Self::start_sharing_serving(other, &[])
    }

    /// Another instance on this server's database, started with these `serve` options.
    pub fn start_sharing_serving(other: &Server, serve_extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self::spawn(dir, other.path(), &[], serve_extra)
    }

    fn spawn(dir: TempDir, db_dir: &Path, extra: &[&str], serve_extra: &[&str]) -> Server {
        let owned_pg = if pg_admin().is_some() && db_dir == dir.path() && !dir.path().join(PG_NAME_FILE).exists() {
            database_url(dir.path());
            std::fs::read_to_string(dir.path().join(PG_NAME_FILE)).ok()
        } else {
            None
        };
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let serve_extra: Vec<String> = serve_extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, url) = launch(dir.path(), db_dir, &extra, &serve_extra);
        Server {
            child,
            ports: watch::port_of(&url).into_iter().collect(),
            url,
            dir,
            owned_pg,
            db_dir: db_dir.to_owned(),
            extra,
            serve_extra,
        }
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send SIGTERM and return at once.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Wait up to `limit` for the process to exit; its exit status, if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start the process again (killing it first if it still runs) on the same database and
    /// key, on a new port; `url` changes.
    pub fn restart(&mut self) {
        self.kill9();
        let (child, url) = launch(self.dir.path(), &self.db_dir, &self.extra, &self.serve_extra);
        self.child = child;
        self.ports.extend(watch::port_of(&url));
        self.url = url;
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run the CLI on this server's database and key, with the server's public URL.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_in(self.path(), &self.url, args)
    }

    /// `scimd provider add --json`, returning the printed details.
    pub fn add_provider(&self, name: &str, population: &str, extra: &[&str]) -> Value {
        let mut args = vec!["provider", "add", "--name", name, "--population", population, "--json"];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "provider add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("provider add --json: {e}"))
    }

    /// A fresh token for the provider through the real token endpoint.
    pub fn token_for(&self, provider: &Value) -> String {
        let r = post_form(
            &format!("{}/oauth2/token", self.url),
            &[("grant_type", "client_credentials")],
            Some(&basic(str_of(provider, "client_id"), str_of(provider, "client_secret"))),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["access_token"].as_str().unwrap_or_default().to_owned()
    }

    pub fn log(&self) -> String {
        read(&self.path().join("server.log"))
    }

    /// Move this server's time (and its command line's) `secs` further ahead: debug builds
    /// read the offset from `scimd-test-clock` next to the key file, at every reading of the
    /// clock. Release builds have no such seam.
    pub fn advance_clock(&self, secs: i64) {
        let file = self.db_dir.join("scimd-test-clock");
        let now: i64 = read(&file).trim().parse().unwrap_or(0);
        std::fs::write(&file, (now + secs).to_string()).unwrap_or_else(|e| panic!("{e}"));
    }

    /// An admin API token (`scimd admin token create`).
    pub fn admin_token(&self, name: &str) -> String {
        let out = self.cli(&["admin", "token", "create", name]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// An admin API call with `token`.
    pub fn api(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let auth = format!("Bearer {token}");
        call(
            method,
            &format!("{}/admin/api/v1{path}", self.url),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.map(Value::to_string).as_deref(),
        )
    }

    /// Stop the server and wait for it, so its log is complete.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let (Some(admin), Some(name)) = (pg_admin(), self.owned_pg.take()) {
            let _ = pg_runtime().block_on(scimd_store::postgres::admin::drop_database(&admin, &name));
        }
        // Last, so a secret found does not leave the test's database behind.
        if watch::level().is_some() {
            let texts = ["server.log", "server.out", CLI_LOG].map(|f| (f, read(&self.path().join(f))));
            if let Err(e) = watch::search(&self.ports, &texts)
                && !std::thread::panicking()
            {
                panic!("{e}");
            }
        }
    }
}

/// Start `scimd serve` logging to `dir`'s server.log (appending) on `db_dir`'s database, and
/// wait for it to say where it listens.
fn launch(dir: &Path, db_dir: &Path, extra: &[String], serve_extra: &[String]) -> (Child, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap_or_else(|e| panic!("log: {e}"));
    let mut child = Command::new(BIN)
        .args(extra)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(serve_extra)
        .args(db_args(db_dir))
        .env(
            "RUST_LOG",
            std::fs::read_to_string(dir.join(RUST_LOG_FILE))
                .unwrap_or_else(|_| watch::level().unwrap_or("debug").to_owned()),
        )
        .env_remove("SCIMD_CONFIG")
        .env_remove("SCIMD_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start scimd: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.out"))
        .ok();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(f) = out.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("scimd did not start; log: {}", read(&dir.join("server.log"))));
    (child, url)
}

/// The PostgreSQL admin URL tests run against, if any.
pub fn pg_admin() -> Option<String> {
    std::env::var("SCIMD_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Where a directory keeps the `RUST_LOG` of its server, when not `debug`.
const RUST_LOG_FILE: &str = "rust-log";

/// Where the CLI commands run on a directory write their standard error, when the suite
/// searches its logs for secrets.
const CLI_LOG: &str = "cli.log";

/// Where a directory keeps the name of its PostgreSQL database.
const PG_NAME_FILE: &str = "postgres-database";

fn pg_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The database of the test directory `dir`: its SQLite file, or its own PostgreSQL
/// database (created on first use).
pub fn database_url(dir: &Path) -> String {
    let Some(admin) = pg_admin() else {
        return format!("sqlite://{}", dir.join("scimd.db").display());
    };
    let file = dir.join(PG_NAME_FILE);
    if let Ok(name) = std::fs::read_to_string(&file) {
        return scimd_store::postgres::admin::database_url(&admin, &name);
    }
    let mut salt = [0u8; 8];
    scimd_core::crypto::random_bytes(&mut salt);
    let name = format!(
        "scimd_it_{}",
        salt.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let url = pg_runtime()
        .block_on(scimd_store::postgres::admin::create_database(&admin, &name))
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    std::fs::write(&file, &name).unwrap_or_else(|e| panic!("{e}"));
    url
}

/// Rows of a query on the directory's database, every column read as text (write
/// `CAST(x AS TEXT)` for other types: both databases understand it).
pub fn sql_rows(dir: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    if pg_admin().is_some() {
        let url = database_url(dir);
        return pg_runtime().block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            tokio::spawn(conn);
            let rows = client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{e:?}: {sql}"));
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i)).collect())
                .collect()
        });
    }
    let db = rusqlite::Connection::open(dir.join("scimd.db")).unwrap_or_else(|e| panic!("{e}"));
    let mut stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Null => None,
                    rusqlite::types::Value::Integer(v) => Some(v.to_string()),
                    rusqlite::types::Value::Real(v) => Some(v.to_string()),
                    rusqlite::types::Value::Text(t) => Some(t),
                    rusqlite::types::Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                })
            })
            .collect()
    })
    .and_then(|rows| rows.collect())
    .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

/// Everything the database holds, as bytes to search: the SQLite file and its WAL, or for
/// PostgreSQL every table's rows as text, plus the bytes of its hex-printed byte columns.
pub fn db_bytes(dir: &Path) -> Vec<u8> {
    if pg_admin().is_none() {
        let mut stored = Vec::new();
        for f in ["scimd.db", "scimd.db-wal"] {
            stored.extend(std::fs::read(dir.join(f)).unwrap_or_default());
        }
        return stored;
    }
    let mut out = Vec::new();
    for table in [
        "provider",
        "access_token",
        "audit_event",
        "resource",
        "membership",
        "request_log",
        "request_log_stats",
    ] {
        for row in sql_rows(dir, &format!("SELECT CAST(t AS TEXT) FROM {table} t")) {
            let text = row.into_iter().flatten().collect::<String>();
            out.extend(text.as_bytes());
            for hex in text.split("\\\\x").skip(1) {
                let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
                out.extend(
                    (0..digits.len() / 2).filter_map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()),
                );
            }
        }
    }
    out
}

/// Make the directory's database claim a schema version from the future.
pub fn set_schema_version(dir: &Path, version: i64) {
    if pg_admin().is_some() {
        sql_rows(
            dir,
            &format!("UPDATE scimd_schema SET version = {version} RETURNING CAST(version AS TEXT)"),
        );
        return;
    }
    let db = rusqlite::Connection::open(dir.join("scimd.db")).unwrap_or_else(|e| panic!("{e}"));
    db.pragma_update(None, "user_version", version)
        .unwrap_or_else(|e| panic!("{e}"));
}

pub fn db_args(dir: &Path) -> Vec<String> {
    vec![
        "--database".into(),
        database_url(dir),
        "--key-file".into(),
        dir.join("scimd.key").display().to_string(),
    ]
}

pub fn cli_in(dir: &Path, public_url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(db_args(dir))
        .args(["--public-url", public_url])
        .args(args)
        .env_remove("SCIMD_CONFIG");
    let Some(level) = watch::level() else {
        return command.output().unwrap_or_else(|e| panic!("cannot run scimd: {e}"));
    };
    let out = command
        .env("RUST_LOG", level)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scimd: {e}"));
    watch::cli_output(public_url, args, &String::from_utf8_lossy(&out.stdout));
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(CLI_LOG))
    {
        let _ = log.write_all(&out.stderr);
    }
    out
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no string '{key}' in {v}"))
}

pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn agent() -> ureq::Agent {
    // ureq's default: follow up to 10 redirects.
    agent_with_redirects(10)
}

fn agent_with_redirects(max: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(max)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn try_reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, String> {
    let mut r = r.map_err(|e| e.to_string())?;
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let mut body = String::new();
    r.body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(Reply {
        status: r.status().as_u16(),
        headers,
        body,
    })
}

/// Any request; `headers` are (name, value) pairs.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    call_bytes(method, url, headers, body.unwrap_or("").as_bytes())
}

/// Any request, answered as it is: redirects are not followed (the console's sign-in and
/// sign-out answer with 303s worth looking at).
pub fn call_unredirected(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    try_call_on(
        &agent_with_redirects(0),
        method,
        url,
        headers,
        body.unwrap_or("").as_bytes(),
    )
    .unwrap_or_else(|e| panic!("HTTP call failed: {e}"))
}

/// Any request with a body of any bytes (not necessarily UTF-8).
pub fn call_bytes(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    try_call_bytes(method, url, headers, body).unwrap_or_else(|e| panic!("HTTP call failed: {e}"))
}

/// A request that may fail at the transport (the server was killed): `Err` then.
pub fn try_call_bytes(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Reply, String> {
    try_call_on(&agent(), method, url, headers, body)
}

fn try_call_on(
    a: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let req = builder.body(body.to_vec()).unwrap_or_else(|e| panic!("request: {e}"));
    let reply = try_reply(a.run(req));
    let answer = reply.as_ref().ok().map(|r| (r.headers.as_slice(), r.body.as_str()));
    watch::exchange(url, headers, body, answer);
    reply
}

pub fn post_form(url: &str, form: &[(&str, &str)], authorization: Option<&str>) -> Reply {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = authorization {
        headers.push(("Authorization", a));
    }
    call("POST", url, &headers, Some(&body))
}

pub fn get_bearer(url: &str, token: &str) -> Reply {
    call("GET", url, &[("Authorization", &format!("Bearer {token}"))], None)
}

pub fn temp_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

/// A server with one provider and a token for it: the starting point of every SCIM test.
pub struct Scim {
    pub server: Server,
    pub token: String,
    pub base: String,
}

impl Scim {
    pub fn start(population: &str) -> Scim {
        let server = Server::start();
        let provider = server.add_provider("Okta", population, &[]);
        let token = server.token_for(&provider);
        let base = str_of(&provider, "base_url").to_owned();
        Scim { server, token, base }
    }

    /// A server with one provider registered with these `provider add` flags, and a token.
    pub fn start_with(population: &str, provider_flags: &[&str]) -> Scim {
        Self::start_serving_with(population, &[], provider_flags)
    }

    /// A server started with `scimd serve` options, one provider and a token.
    pub fn start_serving(population: &str, serve_extra: &[&str]) -> Scim {
        Self::start_serving_with(population, serve_extra, &[])
    }

    /// A server started with `scimd serve` options, one provider registered with these
    /// `provider add` flags, and a token.
    pub fn start_serving_with(population: &str, serve_extra: &[&str], provider_flags: &[&str]) -> Scim {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let server = Server::start_serving(dir, serve_extra);
        let provider = server.add_provider("Okta", population, provider_flags);
        let token = server.token_for(&provider);
        let base = str_of(&provider, "base_url").to_owned();
        Scim { server, token, base }
    }

    /// Restart the server on its database (see [`Server::restart`]); the token stays valid.
    pub fn restart(&mut self) {
        let old = self.server.url.clone();
        self.server.restart();
        self.base = self.base.replacen(&old, &self.server.url, 1);
    }

    /// A call that may fail at the transport: `Err` when no complete answer came back.
    pub fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, String> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/scim+json"),
        ];
        try_call_bytes(
            method,
            &url,
            &headers,
            body.map(Value::to_string).unwrap_or_default().as_bytes(),
        )
    }

    /// Another provider on the same server, with its own token and base.
    pub fn another(&self, name: &str, population: &str) -> (String, String) {
        let p = self.server.add_provider(name, population, &[]);
        (str_of(&p, "base_url").to_owned(), self.server.token_for(&p))
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.call_with(method, path, body, &[])
    }

    pub fn call_with(&self, method: &str, path: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/scim+json"),
        ];
        headers.extend_from_slice(extra);
        call(method, &url, &headers, body.map(Value::to_string).as_deref())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    /// Create a user and return its representation (asserting 201).
    pub fn user(&self, user_name: &str) -> Value {
        let r = self.call(
            "POST",
            "/Users",
            Some(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "name": {"givenName": "Given", "familyName": user_name},
                "emails": [{"primary": true, "value": user_name, "type": "work"}],
                "displayName": format!("Display {user_name}"),
                "active": true
            })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    pub fn group(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| serde_json::json!({"value": m})).collect();
        let r = self.call(
            "POST",
            "/Groups",
            Some(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members
            })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }
}

pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| str_of(r, "id").to_owned())
        .collect()
}

/// A SCIM Error response (RFC 7644 §3.12): the status, as a JSON string too, the `scimType`
/// when one is expected, and the SCIM media type.
pub fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.header("content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim()),
        Some("application/scim+json"),
        "{}",
        r.body
    );
    let e = r.json();
    assert_eq!(
        e["schemas"],
        serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{e}"
    );
    assert_eq!(e["status"], status.to_string(), "{e}");
    if let Some(t) = scim_type {
        assert_eq!(e["scimType"], t, "{e}");
    }
}

/// Changes made by another process (the CLI) reach a running server within the token cache's
/// lifetime; scimd promises 5 seconds. Poll until `url` answers `status` with this token.
pub fn eventually_status(url: &str, token: &str, status: u16) -> Reply {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = get_bearer(url, token);
        if r.status == status || std::time::Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait for background work (the lifecycle job runs every few seconds): poll `f` until it
/// gives a value, and fail naming `what` if a minute passes without one.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "waited a minute for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The member ids of a group representation, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut v: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| str_of(m, "value").to_owned())
        .collect();
    v.sort();
    v
}

/// Every integrity and consistency check the database offers, and scimd's own invariant
/// that every stored resource has the audit events of its changes: nothing to report.
pub fn assert_database_consistent(dir: &Path) {
    if pg_admin().is_none() {
        assert_eq!(
            sql_rows(dir, "PRAGMA integrity_check"),
            vec![vec![Some("ok".to_owned())]]
        );
        assert!(sql_rows(dir, "PRAGMA foreign_key_check").is_empty());
    }
    let orphans = sql_rows(
        dir,
        "SELECT CAST(count(*) AS TEXT) FROM membership m WHERE NOT EXISTS \
         (SELECT 1 FROM resource r WHERE r.seq = m.member_seq) OR NOT EXISTS \
         (SELECT 1 FROM resource g WHERE g.seq = m.group_seq AND g.kind = 'Group')",
    );
    assert_eq!(
        orphans,
        vec![vec![Some("0".to_owned())]],
        "memberships without their resources"
    );
    let unaudited = sql_rows(
        dir,
        "SELECT r.id FROM resource r WHERE NOT EXISTS \
         (SELECT 1 FROM audit_event a WHERE a.resource = r.kind || '/' || r.id)",
    );
    assert!(unaudited.is_empty(), "resources without an audit event: {unaudited:?}");
}
