//! TLS policy to a rustls client configuration, with the certificate verifiers behind it.
//!
//! Every policy gets its own [`ServerCertVerifier`], so that the error a user sees says what was
//! wrong in words (and, when the certificate is not trusted, the fingerprint to pin):
//!
//! - [`TlsPolicy::Verify`] / [`TlsPolicy::CaFile`]: rustls' WebPKI verifier (chain, name, dates)
//!   over the platform's trust store ([`system_roots`]) or the file's certificates, wrapped to
//!   name the store consulted and add the presented certificate's fingerprint to a rejection.
//! - [`TlsPolicy::Fingerprint`]: [`PinVerifier`], which accepts exactly the certificate whose DER
//!   SHA-256 is the pin. The handshake signatures are still checked against that certificate's
//!   key, so the server must hold the private key of the pinned certificate.
//! - [`TlsPolicy::InsecureSkipVerify`]: accepts any certificate and any handshake signature.
//! - [`TlsPolicy::Callback`]: [`Deciding`], the WebPKI check over the Mozilla roots, whose
//!   finding the program's callback turns into the decision; signatures are still checked.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::{CertificateCallback, CertificateCheck, CertificateProblem, Error, TlsPolicy};

/// The rustls client configuration for `policy` (reads and checks a CA file now).
pub(super) fn client_config(policy: &TlsPolicy) -> crate::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match policy {
        TlsPolicy::Verify => {
            let system = system_roots();
            Arc::new(Explaining::new(
                Arc::clone(&system.roots),
                &provider,
                system.source.clone(),
            )?)
        }
        TlsPolicy::CaFile(path) => {
            let roots = read_ca_file(path)?;
            Arc::new(Explaining::new(
                Arc::new(roots),
                &provider,
                format!("the CA file {}", path.display()),
            )?)
        }
        TlsPolicy::Fingerprint(pin) => Arc::new(PinVerifier {
            pin: *pin,
            algorithms: provider.signature_verification_algorithms,
        }),
        TlsPolicy::Callback(callback) => Arc::new(Deciding {
            check: Explaining::new(mozilla_roots(), &provider, MOZILLA.to_owned())?,
            callback: callback.clone(),
        }),
        TlsPolicy::InsecureSkipVerify => Arc::new(AcceptAny {
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        }),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| Error::InvalidArgument(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

const MOZILLA: &str = "the bundled Mozilla roots";

fn mozilla_roots() -> Arc<RootCertStore> {
    Arc::new(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

/// The trust anchors [`TlsPolicy::Verify`] checks against, and where they came from in words.
struct SystemRoots {
    roots: Arc<RootCertStore>,
    /// Names the store in a rejection: "the system's certificates (/etc/ssl/…)",
    /// "SSL_CERT_FILE=…", "the Windows certificate store", or the Mozilla fallback and why.
    source: String,
}

/// What makes a loaded store stale: the variables that choose it, and on Linux the time stamps
/// of the files and directories it was read from (update-ca-certificates rewrites both).
#[derive(PartialEq, Eq)]
struct StoreKey {
    cert_file: Option<std::ffi::OsString>,
    cert_dir: Option<std::ffi::OsString>,
    stamps: Vec<Option<SystemTime>>,
}

/// How long a loaded store is reused without looking at the platform again (Windows and macOS,
/// whose stores have no time stamp to check; on Linux the stamps catch a change sooner).
const STORE_REUSE: Duration = Duration::from_secs(300);

const ENV_FILE: &str = "SSL_CERT_FILE";
const ENV_DIR: &str = "SSL_CERT_DIR";

fn store_key() -> StoreKey {
    let cert_file = std::env::var_os(ENV_FILE);
    let cert_dir = std::env::var_os(ENV_DIR);
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    if let Some(f) = &cert_file {
        paths.push(f.into());
    }
    if let Some(d) = &cert_dir {
        paths.extend(std::env::split_paths(d));
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    if paths.is_empty() {
        let probe = openssl_probe::probe();
        paths.extend(probe.cert_file);
        paths.extend(probe.cert_dir);
    }
    let stamps = paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect();
    StoreKey {
        cert_file,
        cert_dir,
        stamps,
    }
}

/// The platform's trust store, read once and reused until it changes (reading /etc/ssl/certs
/// takes milliseconds, and every session builds a TLS configuration).
fn system_roots() -> Arc<SystemRoots> {
    static CACHE: Mutex<Option<(StoreKey, Instant, Arc<SystemRoots>)>> = Mutex::new(None);
    let key = store_key();
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, at, roots)) = cache.as_ref() {
        if *k == key && at.elapsed() < STORE_REUSE {
            return Arc::clone(roots);
        }
    }
    let roots = Arc::new(load_system_roots(&key));
    *cache = Some((key, Instant::now(), Arc::clone(&roots)));
    roots
}

/// Where the platform's certificates are read from, in words.
fn store_name(key: &StoreKey) -> String {
    let mut named = Vec::new();
    if let Some(f) = &key.cert_file {
        named.push(format!("{ENV_FILE}={}", f.to_string_lossy()));
    }
    if let Some(d) = &key.cert_dir {
        named.push(format!("{ENV_DIR}={}", d.to_string_lossy()));
    }
    if !named.is_empty() {
        return format!("the certificates of {}", named.join(" and "));
    }
    platform_store_name()
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_store_name() -> String {
    let probe = openssl_probe::probe();
    let places: Vec<String> = probe
        .cert_file
        .iter()
        .chain(probe.cert_dir.iter())
        .map(|p| p.display().to_string())
        .collect();
    if places.is_empty() {
        "the system's certificates (no CA bundle or directory found)".to_owned()
    } else {
        format!("the system's certificates ({})", places.join(", "))
    }
}

#[cfg(windows)]
fn platform_store_name() -> String {
    "the Windows certificate store (Trusted Root Certification Authorities)".to_owned()
}

#[cfg(target_os = "macos")]
fn platform_store_name() -> String {
    "the macOS keychain's trusted certificates".to_owned()
}

#[cfg(not(any(unix, windows)))]
fn platform_store_name() -> String {
    "the platform's certificates".to_owned()
}

/// Reads the platform's store; the bundled Mozilla roots only when it yields no usable
/// certificate (a minimal container without ca-certificates, a broken `SSL_CERT_FILE`), and then
/// the source says so, so that a refusal names both.
fn load_system_roots(key: &StoreKey) -> SystemRoots {
    let name = store_name(key);
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _unusable) = roots.add_parsable_certificates(found.certs);
    if !roots.is_empty() {
        return SystemRoots {
            roots: Arc::new(roots),
            source: name,
        };
    }
    let why = match found.errors.first() {
        Some(e) => format!("no certificate found in {name}: {e}"),
        None => format!("no certificate found in {name}"),
    };
    SystemRoots {
        roots: mozilla_roots(),
        source: format!("{MOZILLA} ({why})"),
    }
}

fn read_ca_file(path: &std::path::Path) -> crate::Result<RootCertStore> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::InvalidArgument(format!("cannot read CA file {}: {e}", path.display()))
    })?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            Error::InvalidArgument(format!("CA file {} is not valid PEM: {e}", path.display()))
        })?;
        roots.add(cert).map_err(|e| {
            Error::InvalidArgument(format!(
                "CA file {} holds a certificate that cannot be a trust anchor: {e}",
                path.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// The SHA-256 of a certificate's DER encoding.
pub(crate) fn fingerprint(cert: &[u8]) -> [u8; 32] {
    Sha256::digest(cert).into()
}

/// `AA:BB:…` (uppercase, colon-separated), as `openssl x509 -fingerprint -sha256` prints it.
pub(crate) fn fingerprint_text(fp: &[u8; 32]) -> String {
    let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// The certificate check failed; the message is the whole explanation.
#[derive(Debug)]
struct Rejected(String);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

fn rejected(message: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        Rejected(message),
    ))))
}

/// Accepts exactly the certificate with the pinned SHA-256, whatever its issuer, names or dates.
#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if presented == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rejected(format!(
                "certificate fingerprint mismatch: expected {}, server presented {}",
                fingerprint_text(&self.pin),
                fingerprint_text(&presented)
            )))
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

/// rustls' WebPKI verifier, with rejections rewritten for people.
#[derive(Debug)]
struct Explaining {
    inner: Arc<WebPkiServerVerifier>,
    /// The trust store in words ("the CA file …", "the system's certificates (…)"), named in a
    /// rejection.
    store: String,
}

impl Explaining {
    fn new(
        roots: Arc<RootCertStore>,
        provider: &Arc<CryptoProvider>,
        store: String,
    ) -> crate::Result<Self> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| Error::InvalidArgument(format!("TLS setup failed: {e}")))?;
        Ok(Explaining { inner, store })
    }

    fn explain(&self, e: &CertificateError, end_entity: &CertificateDer<'_>) -> String {
        let fp = fingerprint_text(&fingerprint(end_entity));
        let trust = &self.store;
        match e {
            CertificateError::UnknownIssuer => format!(
                "certificate not trusted (unknown issuer): not trusted by {trust}; if this is \
                 the host's own self-signed certificate, check its SHA-256 \
                 fingerprint {fp} on the host and pin it, or pass its CA file"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "certificate hostname mismatch: {e}; connect with a name the certificate \
                     covers (certificate SHA-256 {fp})"
                )
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                format!("certificate outside its validity period: {e} (certificate SHA-256 {fp})")
            }
            other => format!("certificate rejected: {other} (certificate SHA-256 {fp})"),
        }
    }
}

impl ServerCertVerifier for Explaining {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(c) => rejected(self.explain(&c, end_entity)),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// [`TlsPolicy::Callback`]: the default check's finding, then the program's decision.
struct Deciding {
    check: Explaining,
    callback: CertificateCallback,
}

impl fmt::Debug for Deciding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deciding")
    }
}

fn problem_of(e: &CertificateError) -> CertificateProblem {
    match e {
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::UnhandledCriticalExtension => CertificateProblem::Untrusted,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateProblem::NameMismatch
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => CertificateProblem::Expired,
        _ => CertificateProblem::Other,
    }
}

impl ServerCertVerifier for Deciding {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let problem = match self.check.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(_) => None,
            Err(rustls::Error::InvalidCertificate(c)) => {
                Some((problem_of(&c), self.check.explain(&c, end_entity)))
            }
            Err(other) => return Err(other),
        };
        let check = CertificateCheck {
            certificate: end_entity.as_ref(),
            intermediates: intermediates.iter().map(|c| c.as_ref()).collect(),
            server_name: server_name.to_str().into_owned(),
            problem,
        };
        let callback = &self.callback.0;
        let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&check)))
            .unwrap_or(false);
        if accepted {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rejected(match check.problem {
            Some((_, why)) => format!("the certificate callback refused the certificate: {why}"),
            None => format!(
                "the certificate callback refused a certificate the default check accepted \
                 (certificate SHA-256 {})",
                fingerprint_text(&fingerprint(end_entity))
            ),
        }))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.check.inner.supported_verify_schemes()
    }
}

/// [`TlsPolicy::InsecureSkipVerify`]: no check at all.
#[derive(Debug)]
struct AcceptAny {
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A TLS failure in words.
pub(super) fn describe_rustls(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(o)) => o.0.to_string(),
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "the server's handshake signature does not verify with its certificate's key (the \
             server does not hold that certificate's private key)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("the server's certificate was rejected: {c}")
        }
        rustls::Error::AlertReceived(a) => {
            format!("the server aborted the TLS handshake (alert {a:?})")
        }
        rustls::Error::PeerIncompatible(p) => {
            format!("no TLS version or cipher in common with the server ({p:?})")
        }
        rustls::Error::InvalidMessage(m) => {
            format!("the server does not speak TLS here (invalid TLS message: {m:?}); is it an http:// port?")
        }
        other => other.to_string(),
    }
}

/// A readable TLS failure hidden in an I/O error, if there is one.
pub(super) fn tls_error_in(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?;
    inner.downcast_ref::<rustls::Error>().map(describe_rustls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_text_is_openssl_style() {
        let mut fp = [0u8; 32];
        fp[0] = 0xab;
        fp[31] = 0x01;
        let t = fingerprint_text(&fp);
        assert!(t.starts_with("AB:00:") && t.ends_with(":00:01"));
        assert_eq!(t.len(), 32 * 3 - 1);
        assert_eq!(
            TlsPolicy::fingerprint(&t).unwrap(),
            TlsPolicy::Fingerprint(fp)
        );
    }
}
