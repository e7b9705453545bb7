//! Trusting a private CA (`--ca-file`): the certificates of a PEM file replace the built-in
//! web roots, for a scimd that serves HTTPS with a certificate of its own organisation.

use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};

#[derive(Debug, Clone)]
pub struct CaRoots(RootCerts);

impl CaRoots {
    /// Every CERTIFICATE block of a PEM file (other blocks are skipped).
    pub fn from_pem(pem: &[u8]) -> Result<CaRoots, String> {
        let mut certs = Vec::new();
        for item in parse_pem(pem) {
            match item.map_err(|e| format!("not PEM: {e}"))? {
                PemItem::Certificate(c) => certs.push(c),
                _ => continue,
            }
        }
        if certs.is_empty() {
            return Err("no PEM CERTIFICATE block in it".into());
        }
        Ok(CaRoots(RootCerts::from(certs)))
    }
}

/// The TLS settings of an agent: the given roots, or ureq's defaults (the web roots).
pub(crate) fn config(ca: Option<&CaRoots>) -> TlsConfig {
    match ca {
        Some(roots) => TlsConfig::builder().root_certs(roots.0.clone()).build(),
        None => TlsConfig::builder().build(),
    }
}
