//! A program's own decision on the server's certificate: [`crate::TlsPolicy::Callback`].
//!
//! The default check runs first (chain to the Mozilla roots, name, dates); the callback is then
//! told what it found and decides. This is how .NET programs accept certificates
//! (`ServicePointManager.ServerCertificateValidationCallback`, which XenServer.NET honours and
//! the C# package passes here), and how a program can apply its own rule (a pin store of its own,
//! a prompt). A callback that always accepts is as unsafe as
//! [`crate::TlsPolicy::InsecureSkipVerify`]; the handshake's signatures are still checked against
//! the certificate presented.

use std::fmt;
use std::sync::Arc;

/// What the default verification found wrong with a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a trusted root (xapi's self-signed certificate), or a broken chain.
    Untrusted,
    /// Valid, but not for the name connected to.
    NameMismatch,
    /// Outside its validity period.
    Expired,
    /// Anything else (a malformed certificate, a bad extension).
    Other,
}

/// What a certificate callback is told about one TLS handshake.
#[derive(Debug)]
pub struct CertificateCheck<'a> {
    /// The server's certificate, DER-encoded.
    pub certificate: &'a [u8],
    /// The other certificates the server sent, DER-encoded, in its order.
    pub intermediates: Vec<&'a [u8]>,
    /// The host name (or IP address) connected to.
    pub server_name: String,
    /// `None` when the default verification accepted the certificate; otherwise what it found,
    /// with the explanation (and the certificate's SHA-256 fingerprint).
    pub problem: Option<(CertificateProblem, String)>,
}

/// A program's certificate decision: `true` accepts the certificate. Called on the thread that
/// connects, once per new connection; it must not block for long (calls wait on it). A panic in
/// it counts as a refusal.
#[derive(Clone)]
pub struct CertificateCallback(pub(crate) Arc<dyn Fn(&CertificateCheck<'_>) -> bool + Send + Sync>);

impl CertificateCallback {
    pub fn new(f: impl Fn(&CertificateCheck<'_>) -> bool + Send + Sync + 'static) -> Self {
        CertificateCallback(Arc::new(f))
    }
}

impl fmt::Debug for CertificateCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertificateCallback(..)")
    }
}

/// The same callback, not an equal one: closures cannot be compared.
impl PartialEq for CertificateCallback {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CertificateCallback {}
