//! ureq connectors: TLS with our own rustls configuration (so that the certificate verifier is
//! ours), and xapi's local Unix socket.
//!
//! The chains built by [`super::Transport`]:
//! - `http://`, `https://`: ureq's `TcpConnector`, then [`TlsConnector`] (a no-op for `http`).
//! - `unix://PATH`: [`UnixConnector`] alone, behind [`NoLookup`], for requests sent to
//!   `http://localhost/`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
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

/// Dials a Unix socket (xapi's `/var/lib/xcp/xapi`, xend's `/var/run/xend/xen-api.sock`) for
/// every connection, whatever the request's host.
pub(super) struct UnixConnector {
    path: PathBuf,
}

impl UnixConnector {
    pub(super) fn new(path: PathBuf) -> Self {
        UnixConnector { path }
    }
}

impl fmt::Debug for UnixConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixConnector")
            .field("path", &self.path)
            .finish()
    }
}

impl Connector<()> for UnixConnector {
    type Out = UnixTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // Connecting to a local socket does not wait on the network: it either works at once or
        // fails at once (no file, no permission, nobody listening).
        let stream = UnixStream::connect(&self.path).map_err(|e| {
            ureq::Error::Io(io::Error::new(
                e.kind(),
                UnixConnectError {
                    path: self.path.clone(),
                    cause: e,
                },
            ))
        })?;
        let socket = Arc::new(Socket(stream));
        let weak: std::sync::Weak<dyn ShutdownHandle> =
            Arc::downgrade(&(socket.clone() as Arc<dyn ShutdownHandle>));
        (details.register_shutdown)(weak)?;
        Ok(Some(UnixTransport {
            socket,
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
        }))
    }
}

/// Why a Unix socket could not be dialled, naming the socket.
#[derive(Debug)]
pub(super) struct UnixConnectError {
    pub(super) path: PathBuf,
    pub(super) cause: io::Error,
}

impl fmt::Display for UnixConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match self.cause.kind() {
            io::ErrorKind::NotFound => write!(f, "there is no socket {p} (is the server running?)"),
            io::ErrorKind::PermissionDenied => {
                write!(
                    f,
                    "permission denied on the socket {p} (it is usually root's)"
                )
            }
            io::ErrorKind::ConnectionRefused => {
                write!(f, "nothing is listening on the socket {p}")
            }
            _ => write!(f, "cannot connect to the socket {p}: {}", self.cause),
        }
    }
}

impl std::error::Error for UnixConnectError {}

#[derive(Debug)]
struct Socket(UnixStream);

impl ShutdownHandle for Socket {
    fn shutdown(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// HTTP over a connected Unix socket.
#[derive(Debug)]
pub(super) struct UnixTransport {
    socket: Arc<Socket>,
    buffers: LazyBuffers,
}

/// The time left, or the timeout error if none is; `None` means no deadline.
fn time_left(timeout: NextTimeout) -> Result<Option<std::time::Duration>, ureq::Error> {
    if timeout.after.is_not_happening() {
        return Ok(None);
    }
    if timeout.after.is_zero() {
        return Err(ureq::Error::Timeout(timeout.reason));
    }
    Ok(Some(*timeout.after))
}

impl UreqTransport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let stream = &self.socket.0;
        stream.set_write_timeout(time_left(timeout)?)?;
        let output = &self.buffers.output()[..amount];
        match (&*stream).write_all(output) {
            Err(e) if is_timeout(&e) => Err(ureq::Error::Timeout(timeout.reason)),
            other => Ok(other?),
        }
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        let stream = &self.socket.0;
        stream.set_read_timeout(time_left(timeout)?)?;
        let input = self.buffers.input_append_buf();
        let n = loop {
            match (&*stream).read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Err(ureq::Error::Timeout(timeout.reason)),
                other => break other?,
            }
        };
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Open means: no error, no end of file, and no unasked-for bytes waiting.
        let stream = &self.socket.0;
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut buf = [0u8; 1];
        let open =
            matches!((&*stream).read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        open && stream.set_nonblocking(false).is_ok()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
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
