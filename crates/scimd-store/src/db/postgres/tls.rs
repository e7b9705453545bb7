//! TLS to PostgreSQL, with libpq's `sslmode` meanings so that a URL an operator already uses
//! with `psql` means the same here:
//!
//! | `sslmode`     | encrypted            | server certificate checked                 |
//! |---------------|----------------------|--------------------------------------------|
//! | `disable`     | never                | —                                          |
//! | `prefer`      | if the server offers | no (the default, as in libpq)              |
//! | `require`     | always               | no                                         |
//! | `verify-ca`   | always               | chain to `sslrootcert`                     |
//! | `verify-full` | always               | chain to `sslrootcert` and the host's name |
//!
//! `sslrootcert` is a PEM file of trusted CA certificates, or `system` for the Mozilla root
//! set built into scimd. Only `verify-full` stops someone who can redirect the connection from
//! reading and changing everything scimd stores.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use scimd_core::StoreError;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL asked for, once `sslmode` and `sslrootcert` are taken out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// `url` without the TLS parameters tokio-postgres does not know, and what they said.
pub(crate) fn split_url(url: &str) -> Result<(String, Mode, Option<String>), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Mode::Prefer, None));
    };
    let mut mode = Mode::Prefer;
    let mut root = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode '{other}' is not one of disable, prefer, require, verify-ca, verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root = Some(percent_decode(value)),
            _ => rest.push(pair),
        }
    }
    if root.is_some() && matches!(mode, Mode::Prefer) && !query.contains("sslmode=") {
        // libpq: a root certificate without an explicit mode means verify-ca.
        mode = Mode::VerifyCa;
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, mode, root))
}

impl Mode {
    pub(crate) fn ssl_mode(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// The TLS connector for `mode`, reading the trusted roots when the mode checks them.
pub(crate) fn connector(mode: Mode, root: Option<&str>) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS: {e}")))?;
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        Mode::Disable | Mode::Prefer | Mode::Require => Arc::new(Lenient {
            chain: None,
            algorithms,
        }),
        Mode::VerifyCa | Mode::VerifyFull => {
            let roots = roots(root)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| StoreError::Backend(format!("TLS: {e}")))?;
            if mode == Mode::VerifyFull {
                webpki
            } else {
                Arc::new(Lenient {
                    chain: Some(webpki),
                    algorithms,
                })
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(root: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match root {
        None => {
            return Err(StoreError::Backend(
                "sslmode verify-ca and verify-full need sslrootcert=FILE (PEM CA certificates) or sslrootcert=system"
                    .into(),
            ));
        }
        Some("system") => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::Backend(format!("sslrootcert '{file}': {e}")))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Backend(format!(
                    "sslrootcert '{file}' holds no usable CA certificate"
                )));
            }
        }
    }
    Ok(store)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The checks short of `verify-full`. Without a chain verifier (`prefer`, `require`) the
/// channel is encrypted and the certificate not checked, libpq's meaning; with one
/// (`verify-ca`) the chain must lead to a trusted root but the name in it is not compared.
/// The handshake's signatures are verified either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, mode, root) = split_url("postgres://u@h/db").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((url.as_str(), mode, root), ("postgres://u@h/db", Mode::Prefer, None));
        let (url, mode, root) =
            split_url("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, "postgres://u@h/db?connect_timeout=3");
        assert_eq!(mode, Mode::VerifyFull);
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (_, mode, _) = split_url("postgres://u@h/db?sslrootcert=ca.pem").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            mode,
            Mode::VerifyCa,
            "a root certificate alone means verify-ca, as in libpq"
        );
        assert!(split_url("postgres://u@h/db?sslmode=verify").is_err());
    }

    #[test]
    fn checking_modes_need_a_root() {
        assert!(connector(Mode::VerifyFull, None).is_err());
        assert!(connector(Mode::VerifyCa, Some("/nonexistent/ca.pem")).is_err());
        assert!(connector(Mode::Require, None).is_ok());
        assert!(connector(Mode::VerifyFull, Some("system")).is_ok());
    }
}
