//! ureq connectors: TLS with our own rustls configuration (so that the certificate verifier is
//! ours), and the resolver of the local-socket chain.
//!
//! The chains built by [`super::Transport`]:
//! - `http://`, `https://`: ureq's `TcpConnector`, then [`TlsConnector`] (a no-op for `http`).
//! - `unix://PATH`: `super::unix::UnixConnector` alone (Unix only), behind [`NoLookup`], for
//!   requests sent to `http://localhost/`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    Transport as UreqTransport, TransportAdapter,
};

/// Wraps the chained transport in TLS for `https` URLs, with a fixed rustls configuration.
pub(super) struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    pub(super) fn new(config: Arc<ClientConfig>) -> Self {
        TlsConnector { config }
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl<In: UreqTransport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::BadUri(format!("{host:?} is not a valid TLS server name")))?
            .to_owned();
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        // The handshake shares the connect budget with the TCP connect before it.
        let mut timeout = details.timeout;
        if let Some(spent) = elapsed(details) {
            timeout.after = match timeout.after {
                ureq::unversioned::transport::time::Duration::Exact(d) => {
                    ureq::unversioned::transport::time::Duration::Exact(d.saturating_sub(spent))
                }
                other => other,
            };
        }
        sock.set_timeout(timeout);
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted => ureq::Error::Tls(
                    "the server closed the connection during the TLS handshake (is this an \
                     https port? does the server accept TLS 1.2 or 1.3?)",
                ),
                _ => from_io(e),
            })?;
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned::new(conn, sock),
        })))
    }
}

fn elapsed(details: &ConnectionDetails) -> Option<std::time::Duration> {
    use ureq::unversioned::transport::time::Instant;
    match ((details.current_time)(), details.now) {
        (Instant::Exact(now), Instant::Exact(start)) => Some(now.saturating_duration_since(start)),
        _ => None,
    }
}

/// An I/O error from rustls or from the transport below, as the ureq error it carries.
fn from_io(e: io::Error) -> ureq::Error {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        let inner = e.into_inner().expect("checked above");
        return ureq::Error::Rustls(*inner.downcast::<rustls::Error>().expect("checked above"));
    }
    ureq::Error::from(e)
}

/// An established TLS connection.
pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("over", &self.stream.sock.inner())
            .finish()
    }
}

impl UreqTransport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.sock.set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output).map_err(from_io)?;
        self.stream.flush().map_err(from_io)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.sock.set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input).map_err(from_io)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.sock.get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// A resolver for the Unix socket chain: there is no host to look up.
#[derive(Debug)]
pub(super) struct NoLookup;

impl Resolver for NoLookup {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(SocketAddr::from(([127, 0, 0, 1], 80)));
        Ok(addrs)
    }
}
