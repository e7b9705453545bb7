//! `scimd serve --tls-cert --tls-key`: HTTPS with a certificate from a test CA, HTTP/2 and
//! HTTP/1.1 by ALPN, Strict-Transport-Security on every answer, an https:// public URL by
//! default, and readable refusals of missing, unreadable or mismatched files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::support::{BIN, Server, basic, db_args, str_of};

struct Pki {
    ca: String,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA, and a certificate it signed for localhost and 127.0.0.1, written into `dir`.
fn pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "scimd test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap_or_else(|e| panic!("{e}"));
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"));
    let cert = params.signed_by(&key, &ca).unwrap_or_else(|e| panic!("{e}"));
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&key_file, key.serialize_pem()).unwrap_or_else(|e| panic!("{e}"));
    Pki {
        ca: ca.pem(),
        cert: cert_file,
        key: key_file,
    }
}

fn start(pki_dir: &Path) -> (Server, Pki) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pki = pki(pki_dir);
    let s = Server::start_serving(
        dir,
        &[
            "--tls-cert",
            pki.cert.to_str().unwrap_or_default(),
            "--tls-key",
            pki.key.to_str().unwrap_or_default(),
        ],
    );
    (s, pki)
}

async fn connect(url: &str, ca: &str, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
    try_connect(url, ca, alpn)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake: {e}"))
}

async fn try_connect(
    url: &str,
    ca: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots
            .add(c.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let addr = url.trim_start_matches("https://");
    let tcp = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("{e}"));
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}")), tcp)
        .await
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

async fn answer(resp: hyper::Response<hyper::body::Incoming>) -> Answer {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn https_speaks_http2_and_http1_with_strict_transport_security() {
    let pki_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (s, pki) = start(pki_dir.path());
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let p = s.add_provider("Okta", "internal", &[]);
    assert!(
        str_of(&p, "base_url").starts_with("https://"),
        "the Base URL is https: {p}"
    );
    let origin = s.url.replace("127.0.0.1", "localhost");

    rt().block_on(async {
        // HTTP/2, chosen by ALPN: a token, then SCIM with it, on one connection.
        let tls = connect(&s.url, &pki.ca, &[b"h2", b"http/1.1"]).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut h2, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(conn);
        let req = Request::post(format!("{origin}/oauth2/token"))
            .header(
                "authorization",
                basic(str_of(&p, "client_id"), str_of(&p, "client_secret")),
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap_or_else(|e| panic!("{e}"));
        let token = answer(h2.send_request(req).await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(token.status, 200, "{}", token.body);
        assert_eq!(
            token.headers.get("strict-transport-security").map(|v| v.as_bytes()),
            Some(&b"max-age=63072000"[..])
        );
        let access: serde_json::Value = serde_json::from_str(&token.body).unwrap_or_default();
        let base = str_of(&p, "base_url").replace("127.0.0.1", "localhost");
        let req = Request::get(format!("{base}/Users"))
            .header("authorization", format!("Bearer {}", str_of(&access, "access_token")))
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        let users = answer(h2.send_request(req).await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(users.status, 200, "{}", users.body);
        assert!(users.headers.contains_key("strict-transport-security"));
        assert_eq!(
            users.headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );

        // HTTP/1.1 for a client that offers only that.
        let tls = connect(&s.url, &pki.ca, &[b"http/1.1"]).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(conn);
        let req = Request::get("/.well-known/oauth-authorization-server")
            .header("host", "localhost")
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        let meta = answer(h1.send_request(req).await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(meta.status, 200);
        assert!(meta.headers.contains_key("strict-transport-security"));
        assert!(meta.body.contains("\"token_endpoint\":\"https://"), "{}", meta.body);
    });
}

async fn healthz(h1: &mut hyper::client::conn::http1::SendRequest<Body>) -> u16 {
    let req = Request::get("/healthz")
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    answer(h1.send_request(req).await.unwrap_or_else(|e| panic!("{e}")))
        .await
        .status
}

/// Poll until a handshake trusting only `ca` succeeds (the server checks its files every 2
/// seconds); false after 10 seconds.
async fn served_by(url: &str, ca: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if try_connect(url, ca, &[b"http/1.1"]).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

#[test]
fn a_certificate_renewed_on_disk_is_served_to_new_connections_and_open_ones_keep_going() {
    let pki_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (s, old) = start(pki_dir.path());
    rt().block_on(async {
        let tls = connect(&s.url, &old.ca, &[b"http/1.1"]).await;
        let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(conn);
        assert_eq!(healthz(&mut h1).await, 200);

        // Renewed: the files now hold another CA's certificate and a new key.
        let renewed = pki(pki_dir.path());
        assert!(
            served_by(&s.url, &renewed.ca).await,
            "the renewed certificate was not picked up"
        );
        assert!(
            try_connect(&s.url, &old.ca, &[b"http/1.1"]).await.is_err(),
            "new connections get the new one"
        );
        // The connection opened before still works, on the old certificate.
        assert_eq!(healthz(&mut h1).await, 200);

        // A broken renewal (a key that does not fit), signalled with SIGHUP: refused, and the
        // certificate in use stays.
        let stranger_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let stranger = pki(stranger_dir.path());
        std::fs::copy(&stranger.key, &renewed.key).unwrap_or_else(|e| panic!("{e}"));
        let hup = std::process::Command::new("kill")
            .args(["-HUP", &s.pid().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(hup.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !(s.log().contains("SIGHUP: reloading") && s.log().contains("TLS certificate not reloaded")) {
            assert!(std::time::Instant::now() < deadline, "no refusal logged: {}", s.log());
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(s.log().contains("does not fit the certificate"), "{}", s.log());
        assert!(try_connect(&s.url, &renewed.ca, &[b"http/1.1"]).await.is_ok());
        assert_eq!(healthz(&mut h1).await, 200);
    });
}

#[test]
fn plain_http_answers_carry_no_strict_transport_security() {
    let s = Server::start();
    let r = crate::support::call("GET", &format!("{}/healthz", s.url), &[], None);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("strict-transport-security").is_none());
}

#[test]
fn bad_certificate_settings_stop_the_server_with_a_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = pki(dir.path());
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stranger = pki(other.path());
    let missing = dir.path().join("nope.pem");
    let not_pem = crate::support::temp_file(dir.path(), "junk.pem", "hello");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(db_args(dir.path()))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("SCIMD_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(err.trim().lines().count(), 1, "one readable line: {err}");
        err
    };
    let p = |p: &Path| p.to_str().unwrap_or_default().to_owned();
    assert!(run(&["--tls-cert", &p(&good.cert)]).contains("--tls-cert needs --tls-key"));
    assert!(run(&["--tls-key", &p(&good.key)]).contains("--tls-key needs --tls-cert"));
    let err = run(&["--tls-cert", &p(&missing), "--tls-key", &p(&good.key)]);
    assert!(
        err.contains("cannot read certificates from") && err.contains("nope.pem"),
        "{err}"
    );
    let err = run(&["--tls-cert", &p(&not_pem), "--tls-key", &p(&good.key)]);
    assert!(err.contains("junk.pem"), "{err}");
    let err = run(&["--tls-cert", &p(&good.cert), "--tls-key", &p(&not_pem)]);
    assert!(err.contains("cannot read a private key from"), "{err}");
    let err = run(&["--tls-cert", &p(&good.cert), "--tls-key", &p(&stranger.key)]);
    assert!(err.contains("does not fit the certificate"), "{err}");
}

#[test]
fn token_and_push_reach_an_https_server_that_trusts_a_private_ca() {
    let pki_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (s, pki) = start(pki_dir.path());
    let p = s.add_provider("Okta", "internal", &[]);
    let ca_file = crate::support::temp_file(pki_dir.path(), "ca.pem", &pki.ca);
    let origin = s.url.replace("127.0.0.1", "localhost");
    let token_url = format!("{origin}/oauth2/token");
    let token = |extra: &[&str]| {
        std::process::Command::new(BIN)
            .args(["token", "--token-url", &token_url])
            .args([
                "--client-id",
                str_of(&p, "client_id"),
                "--client-secret",
                str_of(&p, "client_secret"),
            ])
            .args(extra)
            .env_remove("SCIMD_CA_FILE")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let untrusted = token(&[]);
    assert!(!untrusted.status.success(), "a private CA is not trusted by default");
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(err.contains("cannot reach") && err.trim().lines().count() == 1, "{err}");
    let trusted = token(&["--ca-file", ca_file.to_str().unwrap_or_default()]);
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    assert!(String::from_utf8_lossy(&trusted.stdout).starts_with("scimd_"));

    let source = crate::support::temp_file(
        pki_dir.path(),
        "people.json",
        r#"{"Users": [{"id": "1", "userName": "ada@example.com"}]}"#,
    );
    let base = str_of(&p, "base_url").replace("127.0.0.1", "localhost");
    let pushed = std::process::Command::new(BIN)
        .args([
            "push",
            "--quiet",
            "--json",
            "--source",
            source.to_str().unwrap_or_default(),
        ])
        .args(["--base-url", &base, "--token-url", &token_url])
        .args([
            "--client-id",
            str_of(&p, "client_id"),
            "--client-secret",
            str_of(&p, "client_secret"),
        ])
        .args(["--ca-file", ca_file.to_str().unwrap_or_default()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let listed = s.cli(&["users", "list", "--population", "internal", "--json"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ada@example.com"));
}
