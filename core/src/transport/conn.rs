//! One keep-alive connection for API calls, and how it is made.
//!
//! A connection gets its socket options once, when it is made: `TCP_NODELAY`, and read and write
//! timeouts of [`TICK`]. A call then never touches them: a read or write that times out is a
//! tick, at which the call looks at its cancel, the thread's interrupt check and its deadline
//! ([`Io`]), and waits on. A call that stops (cancelled, interrupted, out of time) drops its
//! connection, which never goes back to the pool.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

use super::raw::{self, Sock, Stream};
use crate::call::{self, CallCtx, TICK};
use crate::Error;

/// How long a looked-up address is reused.
const RESOLVED_TTL: Duration = Duration::from_secs(60);

/// An open connection to the server, idle in the pool or carrying one call.
pub(crate) struct Conn {
    pub(super) stream: Stream,
    /// When it last finished a call (or was made).
    pub(super) used: Instant,
}

/// What became of one attempt's connection, for the retry rule.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Seen {
    /// The attempt made a new connection (else it took a pooled one).
    pub(super) fresh: bool,
    /// The whole request was written.
    pub(super) sent: bool,
    /// At least one byte of the reply came back.
    pub(super) received: bool,
    /// The connection ended (end of file) or broke (reset, aborted, broken pipe).
    pub(super) broke: bool,
}

/// Why a call stopped while its connection was blocked, carried through the decoders inside an
/// [`io::Error`] and taken out again ([`stopped`]).
#[derive(Debug)]
pub(super) struct Stop(pub(super) Error);

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Stop {}

fn stop(e: Error) -> io::Error {
    io::Error::other(Stop(e))
}

/// The error an [`Io`] stopped with, if `e` is one.
pub(super) fn stopped(e: io::Error) -> Result<Error, io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<Stop>()) {
        let inner = e.into_inner().expect("checked above");
        return Ok(inner.downcast::<Stop>().expect("checked above").0);
    }
    Err(e)
}

fn is_tick(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_break(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The deadline's message: `the call did not complete within its deadline of 1 s`.
pub(super) fn deadline_error(ctx: &CallCtx<'_>, url: &str) -> Error {
    Error::Timeout {
        url: url.to_owned(),
        message: format!(
            "the call did not complete within its deadline of {}",
            super::seconds(ctx.timeout)
        ),
    }
}

/// A connection's stream as one call reads and writes it: a timeout is a tick (the cancel, the
/// interrupt check and the deadline are looked at, then the read or write goes on); the deadline
/// is also looked at before every read, so that a server dripping bytes cannot hold the call.
pub(super) struct Io<'a, 'c> {
    pub(super) stream: &'a mut Stream,
    pub(super) ctx: &'a CallCtx<'c>,
    pub(super) url: &'a str,
    pub(super) seen: &'a mut Seen,
}

impl Io<'_, '_> {
    fn tick(&self) -> io::Result<()> {
        self.ctx.check(self.url).map_err(stop)?;
        self.due()
    }

    fn due(&self) -> io::Result<()> {
        if Instant::now() >= self.ctx.deadline {
            return Err(stop(deadline_error(self.ctx, self.url)));
        }
        Ok(())
    }
}

impl Read for Io<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.due()?;
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    self.seen.broke = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.seen.received = true;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_tick(&e) => self.tick()?,
                Err(e) => {
                    if is_break(&e) {
                        self.seen.broke = true;
                    }
                    return Err(e);
                }
            }
        }
    }
}

impl Write for Io<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.stream.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_tick(&e) => self.tick()?,
                Err(e) => {
                    if is_break(&e) {
                        self.seen.broke = true;
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.stream.flush() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_tick(&e) => self.tick()?,
                Err(e) => {
                    if is_break(&e) {
                        self.seen.broke = true;
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

/// Where connections go.
enum Target {
    Tcp {
        host: String,
        port: u16,
    },
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(PathBuf),
    /// Every connection reads back these bytes, at most `chunk` at a time
    /// ([`super::replay_reply`]).
    Replay {
        reply: Vec<u8>,
        chunk: usize,
    },
}

/// Makes the connections of one [`super::Transport`]: TCP (TLS for https) or a Unix socket.
pub(super) struct Dialer {
    /// The URL as shown in errors.
    url: String,
    target: Target,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
    /// The host name's addresses and when they were looked up.
    resolved: Mutex<Option<(Instant, Vec<SocketAddr>)>>,
}

impl Dialer {
    pub(super) fn tcp(
        url: &str,
        host: &str,
        port: u16,
        tls: Option<Arc<ClientConfig>>,
        connect_timeout: Duration,
    ) -> crate::Result<Dialer> {
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(host.to_owned()).map_err(|_| {
                    Error::InvalidArgument(format!("{host:?} is not a valid TLS server name"))
                })?;
                Some((config, name))
            }
            None => None,
        };
        Ok(Dialer {
            url: url.to_owned(),
            target: Target::Tcp {
                host: host.to_owned(),
                port,
            },
            tls,
            connect_timeout,
            resolved: Mutex::new(None),
        })
    }

    pub(super) fn unix(url: &str, path: PathBuf, connect_timeout: Duration) -> Dialer {
        Dialer {
            url: url.to_owned(),
            target: Target::Unix(path),
            tls: None,
            connect_timeout,
            resolved: Mutex::new(None),
        }
    }

    pub(super) fn replay(reply: Vec<u8>, chunk: usize) -> Dialer {
        Dialer {
            url: "http://replay.invalid/".into(),
            target: Target::Replay {
                reply,
                chunk: chunk.max(1),
            },
            tls: None,
            connect_timeout: Duration::from_secs(1),
            resolved: Mutex::new(None),
        }
    }

    /// A new connection, within the connect timeout and what is left of `ctx`'s deadline,
    /// stopping within a [`TICK`] of a cancel or an interrupt.
    pub(super) fn dial(&self, ctx: &CallCtx<'_>) -> crate::Result<Conn> {
        let left = ctx.remaining(&self.url)?;
        let limit = self.connect_timeout.min(left);
        let end = Instant::now() + limit;
        let sock = match &self.target {
            Target::Tcp { host, port } => Sock::Tcp(self.connect_tcp(host, *port, limit, ctx)?),
            #[cfg(unix)]
            Target::Unix(path) => {
                // A local socket connects at once or fails at once.
                let s = std::os::unix::net::UnixStream::connect(path).map_err(|cause| {
                    Error::Connect {
                        url: self.url.clone(),
                        message: unix_connect_error(path, &cause),
                    }
                })?;
                Sock::Unix(s)
            }
            #[cfg(not(unix))]
            Target::Unix(_) => unreachable!("refused by Transport::new"),
            Target::Replay { reply, chunk } => {
                return Ok(Conn {
                    stream: Stream::Mem {
                        reply: reply.clone(),
                        at: 0,
                        chunk: *chunk,
                    },
                    used: Instant::now(),
                })
            }
        };
        sock.set_timeouts(TICK).map_err(|e| Error::Connect {
            url: self.url.clone(),
            message: format!("cannot set the socket's timeouts ({e})"),
        })?;
        let mut sock = sock;
        let stream =
            match &self.tls {
                None => Stream::Plain(sock),
                Some((config, name)) => {
                    let mut conn = ClientConnection::new(Arc::clone(config), name.clone())
                        .map_err(|e| Error::Tls {
                            url: self.url.clone(),
                            message: super::tls::describe_rustls(&e),
                        })?;
                    // The handshake shares the connect budget with the TCP connect before it.
                    raw::handshake(&mut conn, &mut sock, &self.url, &mut || {
                        ctx.check(&self.url)?;
                        if Instant::now() >= end {
                            return Err(self.connect_timeout_error(limit, left));
                        }
                        Ok(())
                    })?;
                    Stream::Tls(Box::new(StreamOwned::new(conn, sock)))
                }
            };
        Ok(Conn {
            stream,
            used: Instant::now(),
        })
    }

    fn connect_timeout_error(&self, limit: Duration, left: Duration) -> Error {
        if limit >= left && limit < self.connect_timeout {
            // The call's deadline came first.
            return Error::Timeout {
                url: self.url.clone(),
                message: format!(
                    "could not connect within what was left of the call's deadline ({})",
                    super::seconds(left)
                ),
            };
        }
        Error::Timeout {
            url: self.url.clone(),
            message: format!(
                "could not connect within the connect timeout of {}",
                super::seconds(limit)
            ),
        }
    }

    /// The host's addresses: no lookup for an IP address; a name is looked up again once a
    /// minute.
    fn addrs(&self, host: &str, port: u16) -> crate::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let mut cached = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, addrs)) = cached.as_ref() {
            if at.elapsed() < RESOLVED_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs = raw::resolve(host, port, &self.url)?;
        *cached = Some((Instant::now(), addrs.clone()));
        Ok(addrs)
    }

    /// Connects to `host`. A call that can be stopped (a cancel, an interrupt check) waits for
    /// the connect on another thread, looking at its stops every tick; the connect goes on
    /// there, bounded by `limit`, and its socket is closed when it comes.
    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        limit: Duration,
        ctx: &CallCtx<'_>,
    ) -> crate::Result<TcpStream> {
        let addrs = self.addrs(host, port)?;
        if ctx.cancel.is_none() && !call::has_interrupt_check() {
            return raw::dial_addrs(&addrs, host, port, limit, &self.url);
        }
        let (tx, rx) = mpsc::channel();
        let (h, url) = (host.to_owned(), self.url.clone());
        let spawned = std::thread::Builder::new()
            .name("xenapi-connect".into())
            .spawn(move || {
                let _ = tx.send(raw::dial_addrs(&addrs, &h, port, limit, &url));
            });
        if spawned.is_err() {
            // No thread to spare: connect here, bounded by the limit alone.
            let addrs = self.addrs(host, port)?;
            return raw::dial_addrs(&addrs, host, port, limit, &self.url);
        }
        loop {
            match rx.recv_timeout(TICK) {
                Ok(r) => return r,
                Err(mpsc::RecvTimeoutError::Timeout) => ctx.check(&self.url)?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::Connect {
                        url: self.url.clone(),
                        message: "the connect ended without a result".into(),
                    })
                }
            }
        }
    }
}

/// Why a Unix socket could not be dialled, naming the socket.
#[cfg(unix)]
fn unix_connect_error(path: &std::path::Path, cause: &io::Error) -> String {
    let p = path.display();
    match cause.kind() {
        io::ErrorKind::NotFound => format!("there is no socket {p} (is the server running?)"),
        io::ErrorKind::PermissionDenied => {
            format!("permission denied on the socket {p} (it is usually root's)")
        }
        io::ErrorKind::ConnectionRefused => format!("nothing is listening on the socket {p}"),
        _ => format!("cannot connect to the socket {p}: {cause}"),
    }
}
