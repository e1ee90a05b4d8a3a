//! How to reach a server: URL, timeouts, TLS policy, size limit, login details.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the server's TLS certificate is checked. Verification is on unless asked off by name.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Verify against what the platform trusts, as XenAPI.py and XenServer.NET do: on Linux and
    /// other Unix the system bundle and directory (`/etc/ssl/certs`, as `update-ca-certificates`
    /// writes it), or `SSL_CERT_FILE` / `SSL_CERT_DIR` instead when set, as with OpenSSL; on
    /// Windows the certificate store's trusted roots; on macOS the keychain. The bundled Mozilla
    /// roots (webpki-roots) only when the platform yields no certificate. A refusal names the
    /// store consulted. The store is read when a session or transfer connection is set up and
    /// reused until it changes.
    #[default]
    Verify,
    /// Verify against the certificates of this PEM file (a private CA, or the host's own
    /// self-signed certificate).
    CaFile(PathBuf),
    /// Accept exactly the certificate whose DER encoding has this SHA-256 digest (xapi's self-signed
    /// certificate), whatever its chain, name or dates.
    Fingerprint([u8; 32]),
    /// Accept any certificate. Only for tests and labs: anyone on the path can read the traffic.
    InsecureSkipVerify,
    /// Verify against the Mozilla roots, then let the program decide, told what was found
    /// ([`crate::certificate`]).
    Callback(crate::CertificateCallback),
}

impl TlsPolicy {
    /// A pin from its text: 64 hex digits, with or without `:` separators, optionally prefixed
    /// `sha256:` or `sha256/`.
    pub fn fingerprint(text: &str) -> crate::Result<Self> {
        let t = text.trim();
        let t = t
            .strip_prefix("sha256:")
            .or_else(|| t.strip_prefix("sha256/"))
            .or_else(|| t.strip_prefix("SHA256:"))
            .unwrap_or(t);
        let hex: String = t.chars().filter(|c| *c != ':').collect();
        let bad = || {
            crate::Error::InvalidArgument(format!(
                "a certificate fingerprint is 64 hex digits (SHA-256), got {:?}",
                text
            ))
        };
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(TlsPolicy::Fingerprint(out))
    }
}

/// Calls a session has in flight at once unless [`Options::max_concurrent_calls`] says otherwise.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 20;

/// Everything needed to reach a server, with safe defaults.
#[derive(Clone)]
pub struct Options {
    pub(crate) url: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) tls: TlsPolicy,
    pub(crate) follow_coordinator: bool,
    pub(crate) failover: bool,
    pub(crate) max_concurrent_calls: usize,
    pub(crate) max_response_bytes: u64,
    pub(crate) version: String,
    pub(crate) originator: String,
    pub(crate) protocol: crate::Protocol,
    pub(crate) proxy: Option<String>,
    /// The binding's product token for the User-Agent (`xenapi-rs-python/0.9.0`).
    pub(crate) binding: Option<String>,
}

impl Options {
    /// Options for `url` (`http://`, `https://`, `unix:///path/to/socket`; a bare `host[:port]`
    /// means `https://`).
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let url = if url.contains("://") {
            url
        } else {
            format!("https://{url}")
        };
        Options {
            url,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
            tls: TlsPolicy::Verify,
            follow_coordinator: true,
            failover: true,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            max_response_bytes: crate::codec::Limits::default().max_bytes,
            version: "1.0".to_owned(),
            originator: "xenapi-rs".to_owned(),
            protocol: crate::Protocol::Auto,
            proxy: None,
            binding: None,
        }
    }

    /// Options for a server's local Unix socket: xapi's is `/var/lib/xcp/xapi` (in dom0, as root),
    /// xend's `/var/run/xend/xen-api.sock`. The same as `Options::new("unix:///var/lib/xcp/xapi")`.
    /// The socket carries plain HTTP; the TLS policy applies to a coordinator redirect, which goes
    /// to `https://` (on HOST_IS_SLAVE).
    pub fn unix_socket(path: impl AsRef<std::path::Path>) -> Self {
        Options::new(format!("unix://{}", path.as_ref().display()))
    }

    /// How long to wait for the TCP connection and the TLS handshake, within the whole-call
    /// deadline. Default 10 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The deadline of a whole call, from connecting to the last byte of the reply (waiting for
    /// a call slot, see [`Options::max_concurrent_calls`], included); a server that drips its
    /// reply cannot hold a call past it. Default 300 s (xapi's longest synchronous calls take
    /// minutes). One call can have its own: [`crate::Session::with_timeout`]; but prefer the
    /// `Async.*` form and [`crate::task::wait`] for long operations (`VM.migrate`, `VDI.copy`):
    /// a task survives a dropped connection, and can be cancelled.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    pub fn tls(mut self, policy: TlsPolicy) -> Self {
        self.tls = policy;
        self
    }

    /// On `HOST_IS_SLAVE` at login, log in at the pool coordinator instead. Default on.
    pub fn follow_coordinator(mut self, on: bool) -> Self {
        self.follow_coordinator = on;
        self
    }

    /// Pool failover. Default on. After each login the session notes the pool members'
    /// addresses (`host.address`, xapi only); when the coordinator stops answering (connection
    /// refused, connect timeout, connection reset or broken) or names another coordinator
    /// (`HOST_IS_SLAVE` on a call), it probes them with short timeouts, follows `HOST_IS_SLAVE`
    /// to the new coordinator (HA promotes one), logs in there with the same credentials and
    /// goes on. The URL keeps its scheme and port; only the host changes. The call that found
    /// the coordinator gone is sent again only if the server cannot have carried it out (it was
    /// never sent, or it only reads: `get_*`); otherwise its error says it may have been.
    pub fn failover(mut self, on: bool) -> Self {
        self.failover = on;
        self
    }

    /// The most calls a session (all its clones and views) has in flight at once; more wait for
    /// a free slot, within their own deadline. Default 20 ([`DEFAULT_MAX_CONCURRENT_CALLS`]),
    /// at least 1. A blocking `event.from` holds a slot while it waits.
    pub fn max_concurrent_calls(mut self, n: usize) -> Self {
        self.max_concurrent_calls = n.max(1);
        self
    }

    /// The most a reply may be: counted both as bytes read (after decompression) and as memory its
    /// decoded values take, so that no reply can grow the process much past it. Default 192 MiB
    /// ([`crate::codec::DEFAULT_MAX_BYTES`]), enough for `VM.get_all_records` of about 12,000 VMs.
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// The API version sent at login. Default `1.0`.
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = v.into();
        self
    }

    /// The originator sent at login (xapi counts sessions per originator). Default `xenapi-rs`.
    pub fn originator(mut self, o: impl Into<String>) -> Self {
        self.originator = o.into();
        self
    }

    /// The wire protocol: JSON-RPC on `/jsonrpc` (xapi), XML-RPC on `/` (xapi, xend), or
    /// [`Protocol::Auto`](crate::Protocol::Auto) (the default): JSON-RPC if the server offers it,
    /// found out once at login and kept across re-logins and coordinator redirects.
    pub fn protocol(mut self, p: crate::Protocol) -> Self {
        self.protocol = p;
        self
    }

    /// The protocol asked for (see [`Options::protocol`]); [`crate::Session::protocol`] tells
    /// which one `Auto` found.
    pub fn protocol_option(&self) -> crate::Protocol {
        self.protocol
    }

    /// An HTTP proxy (`http://proxy:3128`) for the HTTP transfers beside the API
    /// ([`crate::transfer`]) and for RRD fetches from pool members: an `https://` target is
    /// reached through a `CONNECT` tunnel (TLS end to end, checked by the TLS policy), an
    /// `http://` one by an absolute URL. XenServer.NET's `IWebProxy` maps here. API calls
    /// themselves go straight to the host. Default none; the environment's `http_proxy` is never
    /// read. Credentials in the URL (`http://user:pass@proxy:3128`) are sent as
    /// `Proxy-Authorization: Basic` and never shown.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.proxy = (!url.trim().is_empty()).then_some(url);
        self
    }

    /// Names the binding that makes the calls, for the `User-Agent` header xapi logs:
    /// `{name}/{version} xenapi-rs/{core version}` (the core alone sends `xenapi-rs/{version}`).
    /// Characters other than letters, digits and `!#$%&'*+-.^_`|~` become `_`.
    pub fn binding(mut self, name: &str, version: &str) -> Self {
        let token = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        self.binding = Some(format!("{}/{}", token(name), token(version)));
        self
    }

    /// The `User-Agent` header calls and transfers send.
    pub fn user_agent(&self) -> String {
        let core = concat!("xenapi-rs/", env!("CARGO_PKG_VERSION"));
        match &self.binding {
            Some(b) => format!("{b} {core}"),
            None => core.to_owned(),
        }
    }

    /// The proxy set by [`Options::proxy`], if any.
    pub fn proxy_url(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same options for another URL (a pool member, a redirect's target).
    pub(crate) fn with_url(&self, url: impl Into<String>) -> Options {
        Options {
            url: url.into(),
            ..self.clone()
        }
    }

    /// The whole-call deadline ([`Options::timeout`]).
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    pub fn tls_policy(&self) -> &TlsPolicy {
        &self.tls
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.url)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("follow_coordinator", &self.follow_coordinator)
            .field("failover", &self.failover)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("version", &self.version)
            .field("originator", &self.originator)
            .field("protocol", &self.protocol)
            .field("proxy", &self.proxy.as_deref().map(redact_userinfo))
            .field("binding", &self.binding)
            .finish()
    }
}

/// `scheme://user:pass@host/…` without its user and password (`scheme://***@host/…`).
pub(crate) fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("***{}", &rest[at..]),
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_forms() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(
            TlsPolicy::fingerprint(&hex).unwrap(),
            TlsPolicy::fingerprint(&format!("sha256:{colons}")).unwrap()
        );
        assert!(TlsPolicy::fingerprint("abc").is_err());
        assert!(TlsPolicy::fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_proxy_is_kept_and_its_password_never_shown() {
        let o = Options::new("https://xs1").proxy("http://bob:s3cret@proxy:3128");
        assert_eq!(o.proxy_url(), Some("http://bob:s3cret@proxy:3128"));
        let debug = format!("{o:?}");
        assert!(debug.contains("http://***@proxy:3128"), "{debug}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("bob"),
            "{debug}"
        );
        assert_eq!(Options::new("x").proxy("").proxy_url(), None);
        assert_eq!(Options::new("x").proxy_url(), None);
        assert_eq!(redact_userinfo("http://proxy:1/a@b"), "http://proxy:1/a@b");
    }

    #[test]
    fn bare_host_means_https() {
        assert_eq!(Options::new("xs1:443").url(), "https://xs1:443");
        assert_eq!(Options::new("http://x").url(), "http://x");
    }
}
