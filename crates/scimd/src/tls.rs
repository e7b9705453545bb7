//! HTTPS for `scimd serve --tls-cert FILE --tls-key FILE`: rustls with the ring provider,
//! ALPN offering HTTP/2 and HTTP/1.1, the certificate reloaded on SIGHUP and when its files
//! change, without dropping a connection. The connection loop (`connections`) runs each
//! handshake in the connection's own task, within the connection limit.

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

/// The certificate chain and private key scimd serves HTTPS with (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the certificate files are checked for a change.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The certificate and key scimd presents, replaceable while it serves: each handshake takes
/// the current one, so connections already open keep theirs and new ones get the new one.
#[derive(Debug)]
pub struct Certificate {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Read the files again and, if they hold a usable certificate and key, serve those from
    /// now on; otherwise keep the current ones and say why.
    pub fn reload(&self) {
        match load(&self.files) {
            Ok(key) => {
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(key);
                }
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded; still serving the previous one"),
        }
    }

    /// Reload on SIGHUP, and when either file changes (checked every 2 seconds), until the
    /// process ends.
    pub fn watch(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut seen = stamp(&self.files);
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await.is_some(),
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<bool>();
                tokio::select! {
                    true = signalled => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        seen = stamp(&self.files);
                        self.reload();
                    }
                    () = tokio::time::sleep(WATCH_INTERVAL) => {
                        let now = stamp(&self.files);
                        if now != seen {
                            seen = now;
                            self.reload();
                        }
                    }
                }
            }
        })
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| Arc::clone(&k))
    }
}

/// What says a file changed: its modification time, length and inode (a certificate manager
/// may rewrite it in place or rename a new one over it).
fn stamp(files: &TlsFiles) -> Vec<Option<(SystemTime, u64, u64)>> {
    [&files.cert, &files.key]
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            Some((m.modified().ok()?, m.len(), inode))
        })
        .collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read the certificate chain and key, and check that they belong together.
fn load(files: &TlsFiles) -> anyhow::Result<CertifiedKey> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        anyhow!(
            "cannot read a private key from {}: {e} (expected a PEM PKCS#8, PKCS#1 or SEC1 key)",
            files.key.display()
        )
    })?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| {
        anyhow!(
            "the key {} does not fit the certificate {}: {e}",
            files.key.display(),
            files.cert.display()
        )
    })
}

/// The acceptor for `files`, and the certificate it presents (to reload and watch).
pub fn acceptor(files: &TlsFiles) -> anyhow::Result<(TlsAcceptor, Arc<Certificate>)> {
    let certificate = Arc::new(Certificate {
        current: RwLock::new(Arc::new(load(files)?)),
        files: files.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS library refused its own defaults")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&certificate) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), certificate))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bad = |e: &dyn std::fmt::Display| anyhow!("cannot read certificates from {}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM CERTIFICATE block in it"));
    }
    Ok(certs)
}

/// The TLS handshake of one accepted connection, abandoned past [`HANDSHAKE_TIMEOUT`]; it
/// runs in the connection's own task, so a client stalling mid-handshake holds up nobody.
pub async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream, peer: SocketAddr) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// Whether the client and scimd agreed on HTTP/2 during the handshake (ALPN).
pub fn is_h2(tls: &TlsStream<TcpStream>) -> bool {
    tls.get_ref().1.alpn_protocol() == Some(b"h2")
}
