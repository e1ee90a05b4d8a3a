//! TLS policy to ureq configuration.
//!
//! TODO(transport): the fingerprint pin needs a custom rustls verifier behind a ureq connector.

use crate::{Error, TlsPolicy};

pub(super) fn ureq_tls_config(policy: &TlsPolicy) -> crate::Result<ureq::tls::TlsConfig> {
    use ureq::tls::{RootCerts, TlsConfig};
    let builder = TlsConfig::builder();
    Ok(match policy {
        TlsPolicy::Verify => builder.root_certs(RootCerts::WebPki).build(),
        TlsPolicy::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::InvalidArgument(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
            builder
                .root_certs(RootCerts::new_with_certs(&certs))
                .build()
        }
        TlsPolicy::InsecureSkipVerify => builder.disable_verification(true).build(),
        TlsPolicy::Fingerprint(_) => {
            return Err(Error::InvalidArgument(
                "certificate fingerprint pinning is not available yet".into(),
            ))
        }
    })
}

pub(super) fn agent(
    config: ureq::config::Config,
    _policy: &TlsPolicy,
) -> crate::Result<ureq::Agent> {
    Ok(ureq::Agent::new_with_config(config))
}

/// A readable TLS failure hidden in an I/O error, if there is one.
pub(super) fn tls_error_in(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?;
    inner.downcast_ref::<rustls::Error>().map(describe_rustls)
}

pub(super) fn describe_rustls(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            format!("the server's certificate was rejected: {c:?}")
        }
        other => other.to_string(),
    }
}
