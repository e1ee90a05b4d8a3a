//! xapi's and xend's local Unix socket as a ureq connector: `unix:///var/lib/xcp/xapi`.
//! Compiled on Unix only; elsewhere `Transport::new` refuses a `unix://` URL with a clear error.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport as UreqTransport,
};

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
