//! HTTPS: a self-signed certificate made at start (rcgen), served with rustls on `ring`.

use std::io;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// The server's certificate and TLS configuration.
pub(crate) struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// `AA:BB:…`: SHA-256 of the DER certificate, uppercase hex with colons.
    pub fingerprint: String,
    pub pem: String,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A certificate for `localhost`, `127.0.0.1`, `::1` and `extra_names` (the hosts' listen
/// addresses).
pub(crate) fn make(extra_names: &[String]) -> io::Result<Tls> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for extra in extra_names {
        if !extra.is_empty() && !names.iter().any(|n| n == extra) {
            names.push(extra.clone());
        }
    }
    let ck = rcgen::generate_simple_self_signed(names).map_err(other)?;
    let der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    serve(vec![der], key, ck.cert.pem())
}

/// Serves a given chain (leaf first) and key, both PEM.
pub(crate) fn from_pem(chain_pem: &str, key_pem: &str) -> io::Result<Tls> {
    use rustls_pki_types::pem::PemObject;
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(other)?;
    if chain.is_empty() {
        return Err(other("the TLS identity holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(other)?;
    serve(chain, key, chain_pem.to_owned())
}

fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pem: String,
) -> io::Result<Tls> {
    let fingerprint = fingerprint(chain[0].as_ref());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(other)?;
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        pem,
    })
}

pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
