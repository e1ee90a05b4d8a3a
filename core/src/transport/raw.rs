//! One HTTP/1.1 exchange on a connection of its own, for the transfers beside the API
//! ([`crate::transfer`]): a request head written by hand (so that an upload carries exactly the
//! `Content-Length` asked for and is never chunked, which xapi refuses), a body streamed in and
//! out by the caller, the reply head parsed here, and the reply body (`Content-Length`, chunked,
//! or up to the close) read through [`Body`].
//!
//! The connection takes the options' TLS policy (the verifier of [`super::tls`]), connect
//! timeout and proxy (`CONNECT` for https, an absolute URL for http). Every read and write has
//! the idle timeout: a server silent for longer fails the transfer with [`Error::Timeout`],
//! however long the transfer as a whole takes. [`Conn::closer`] gives a handle that closes the
//! socket from another thread (a cancel).
//!
//! Errors name the URL without its query, so that `session_id` never shows.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

use crate::{Error, Options};

/// The most a reply head (status line and headers) may be.
const MAX_HEAD: usize = 64 * 1024;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// Without brackets for an IPv6 literal.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `/path` (percent-encoded as sent).
    pub(crate) path: String,
    /// `a=b&c=d`, as sent (percent-encoded), without the `?`.
    pub(crate) query: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
    /// A Unix socket at this path (plain HTTP).
    Unix(String),
}

impl Url {
    /// `http://host[:port]/path?query`, `https://…`, or `unix:///socket` (then `path` and
    /// `query` come from [`Url::with_target`]).
    pub(crate) fn parse(text: &str) -> crate::Result<Url> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!("unusable URL {:?}: {why}", strip_query(text)))
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("use http://, https:// or unix://"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "unix" => {
                let path = rest.split(['?', '#']).next().unwrap_or("");
                if !path.starts_with('/') {
                    return Err(bad("a Unix socket URL names an absolute path"));
                }
                return Ok(Url {
                    scheme: Scheme::Unix(path.to_owned()),
                    host: "localhost".into(),
                    port: 80,
                    path: "/".into(),
                    query: String::new(),
                });
            }
            _ => return Err(bad("use http://, https:// or unix://")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let tail = rest[end..].split('#').next().unwrap_or("");
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, q),
            None => (tail, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address lacks its ']'"))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None if scheme == Scheme::Https => 443,
            None => 80,
        };
        Ok(Url {
            scheme,
            host: host.to_owned(),
            port,
            path: if path.is_empty() { "/" } else { path }.to_owned(),
            query: query.to_owned(),
        })
    }

    /// The same server, another path and query.
    pub(crate) fn with_target(&self, path: &str, query: &str) -> Url {
        Url {
            path: path.to_owned(),
            query: query.to_owned(),
            ..self.clone()
        }
    }

    /// `host:port`, brackets around an IPv6 literal.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL for people: without the query (which holds `session_id`).
    pub(crate) fn shown(&self) -> String {
        match &self.scheme {
            Scheme::Unix(p) => format!("unix://{p}{}", self.path),
            Scheme::Http => format!("http://{}{}", self.authority(), self.path),
            Scheme::Https => format!("https://{}{}", self.authority(), self.path),
        }
    }

    fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// Where a `Location` leads from here: an absolute URL, or a path on this server.
    pub(crate) fn join(&self, location: &str) -> crate::Result<Url> {
        if location.contains("://") {
            return Url::parse(location);
        }
        let (p, q) = location.split_once('?').unwrap_or((location, ""));
        Ok(self.with_target(p, q))
    }
}

/// `text` up to its `?`.
pub(crate) fn strip_query(text: &str) -> &str {
    text.split('?').next().unwrap_or(text)
}

/// The socket below TLS.
pub(crate) enum Sock {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Sock {
    pub(crate) fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            #[cfg(unix)]
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
    }

    pub(crate) fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Sock::Unix(s) => s.shutdown(how),
        };
    }

    pub(crate) fn set_timeouts(&self, d: Duration) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => {
                s.set_read_timeout(Some(d))?;
                s.set_write_timeout(Some(d))
            }
            #[cfg(unix)]
            Sock::Unix(s) => {
                s.set_read_timeout(Some(d))?;
                s.set_write_timeout(Some(d))
            }
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection's byte stream: plain, TLS over the socket, or (for the fuzz targets) bytes in
/// memory.
pub(crate) enum Stream {
    Plain(Sock),
    Tls(Box<StreamOwned<ClientConnection, Sock>>),
    /// A reply replayed from memory ([`super::replay_reply`]): reads deliver at most `chunk`
    /// bytes each, writes are discarded.
    Mem {
        reply: Vec<u8>,
        at: usize,
        chunk: usize,
    },
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Mem { reply, at, chunk } => {
                let n = buf.len().min(*chunk).min(reply.len() - *at);
                buf[..n].copy_from_slice(&reply[*at..*at + n]);
                *at += n;
                Ok(n)
            }
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A server that closes without close_notify ends the body all the same (xapi
                // closes after a body of unknown length); a short body is caught by its length.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Mem { .. } => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Mem { .. } => Ok(()),
        }
    }
}

/// One open connection to a server (through the proxy, TLS set up).
pub(crate) struct Conn {
    stream: Stream,
    /// The same socket, to close it from another thread or half-close it.
    raw: Sock,
    url: Url,
    idle: Duration,
    /// Requests go to the proxy with an absolute URL (plain http through a proxy).
    absolute: bool,
    /// `Proxy-Authorization` for those requests.
    proxy_auth: Option<String>,
    user_agent: String,
}

/// Sets up a connection to `url` under `options`, every read and write bounded by `idle`.
pub(crate) fn connect(options: &Options, url: &Url, idle: Duration) -> crate::Result<Conn> {
    let shown = url.shown();
    let proxy = match (&url.scheme, options.proxy_url()) {
        (Scheme::Unix(_), _) | (_, None) => None,
        (_, Some(p)) => Some(Proxy::parse(p)?),
    };
    let sock = match &url.scheme {
        #[cfg(unix)]
        Scheme::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path).map_err(|e| Error::Connect {
                url: shown.clone(),
                message: format!("cannot open the socket ({e})"),
            })?;
            Sock::Unix(s)
        }
        #[cfg(not(unix))]
        Scheme::Unix(_) => {
            return Err(Error::InvalidArgument(
                "unix:// sockets exist only on Unix-like systems".into(),
            ))
        }
        _ => {
            let (host, port) = match &proxy {
                Some(p) => (p.host.as_str(), p.port),
                None => (url.host.as_str(), url.port),
            };
            Sock::Tcp(dial(host, port, options.connect_timeout, &shown)?)
        }
    };
    sock.set_timeouts(idle).map_err(|e| Error::Connect {
        url: shown.clone(),
        message: format!("cannot set the socket's timeouts ({e})"),
    })?;
    let raw = sock.try_clone().map_err(|e| Error::Connect {
        url: shown.clone(),
        message: format!("cannot share the socket ({e})"),
    })?;
    let mut sock = sock;
    let https = url.scheme == Scheme::Https;
    if let (Some(p), true) = (&proxy, https) {
        p.tunnel(&mut sock, url, &shown, idle)?;
    }
    let stream = if https {
        let config = super::tls::client_config(&options.tls)?;
        let name = ServerName::try_from(url.host.clone()).map_err(|_| {
            Error::InvalidArgument(format!("{:?} is not a valid TLS server name", url.host))
        })?;
        let mut conn =
            ClientConnection::new(Arc::clone(&config), name).map_err(|e| Error::Tls {
                url: shown.clone(),
                message: super::tls::describe_rustls(&e),
            })?;
        // The socket's timeout is the idle timeout: the first one to pass ends the handshake.
        handshake(&mut conn, &mut sock, &shown, &mut || {
            Err(Error::Timeout {
                url: shown.clone(),
                message: "the TLS handshake did not finish in time".into(),
            })
        })?;
        Stream::Tls(Box::new(StreamOwned::new(conn, sock)))
    } else {
        Stream::Plain(sock)
    };
    Ok(Conn {
        stream,
        raw,
        url: url.clone(),
        idle,
        absolute: proxy.is_some() && !https,
        proxy_auth: proxy.and_then(|p| p.auth).filter(|_| !https),
        user_agent: options.user_agent(),
    })
}

/// Runs a TLS handshake on `sock` to its end; `wait` is asked what to do each time the socket's
/// timeout passes with nothing moving (an error ends the handshake, `Ok` waits on).
pub(crate) fn handshake(
    conn: &mut ClientConnection,
    sock: &mut Sock,
    shown: &str,
    wait: &mut dyn FnMut() -> crate::Result<()>,
) -> crate::Result<()> {
    while conn.is_handshaking() {
        match conn.complete_io(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                wait()?
            }
            Err(e) => {
                return Err(Error::Tls {
                    url: shown.to_owned(),
                    message: match super::tls::tls_error_in(&e) {
                        Some(m) => m,
                        None => format!(
                            "the server closed the connection during the TLS handshake ({e}); \
                             is this an https port? does the server accept TLS 1.2 or 1.3?"
                        ),
                    },
                })
            }
        }
    }
    Ok(())
}

/// `host`'s addresses (no lookup for an IP address).
pub(crate) fn resolve(host: &str, port: u16, shown: &str) -> crate::Result<Vec<SocketAddr>> {
    Ok((host, port)
        .to_socket_addrs()
        .map_err(|e| Error::Connect {
            url: shown.to_owned(),
            message: format!("cannot resolve {host:?} ({e})"),
        })?
        .collect())
}

fn dial(host: &str, port: u16, timeout: Duration, shown: &str) -> crate::Result<TcpStream> {
    dial_addrs(&resolve(host, port, shown)?, host, port, timeout, shown)
}

/// Connects to the first of `addrs` that answers within `timeout` each, `TCP_NODELAY` set.
pub(crate) fn dial_addrs(
    addrs: &[SocketAddr],
    host: &str,
    port: u16,
    timeout: Duration,
    shown: &str,
) -> crate::Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::TimedOut => Error::Timeout {
            url: shown.to_owned(),
            message: format!(
                "could not connect to {host}:{port} within the connect timeout of {}",
                super::seconds(timeout)
            ),
        },
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::Connect {
            url: shown.to_owned(),
            message: format!("connection refused by {host}:{port}: nothing listens there"),
        },
        Some(e) => Error::Connect {
            url: shown.to_owned(),
            message: format!("cannot connect to {host}:{port} ({e})"),
        },
        None => Error::Connect {
            url: shown.to_owned(),
            message: format!("{host:?} has no address"),
        },
    })
}

/// An HTTP proxy from [`Options::proxy`].
struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` from the URL's user and password.
    auth: Option<String>,
}

impl Proxy {
    fn parse(text: &str) -> crate::Result<Proxy> {
        let shown = crate::options::redact_userinfo(text);
        let bad = |why: &str| Error::InvalidArgument(format!("unusable proxy {shown:?}: {why}"));
        let text = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let (scheme, rest) = text.split_once("://").unwrap_or(("http", &text));
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("only http:// proxies are supported"));
        }
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let url = Url::parse(&format!("http://{hostport}/")).map_err(|_| bad("no host"))?;
        let auth = userinfo.map(|u| {
            use base64::Engine;
            let decoded = percent_decode(u);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(decoded)
            )
        });
        Ok(Proxy {
            host: url.host,
            port: if hostport.contains(':') && !hostport.ends_with(']') {
                url.port
            } else {
                3128
            },
            auth,
        })
    }

    /// `CONNECT host:port` and its `2xx`.
    fn tunnel(&self, sock: &mut Sock, url: &Url, shown: &str, idle: Duration) -> crate::Result<()> {
        let mut head = format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n", a = url.authority());
        if let Some(a) = &self.auth {
            head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        head.push_str("\r\n");
        let io_err = |e: io::Error| map_io(e, shown, idle, "talking to the proxy");
        sock.write_all(head.as_bytes()).map_err(io_err)?;
        // Read the reply head byte by byte: nothing past it may be consumed (TLS follows).
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if buf.len() > MAX_HEAD {
                return Err(Error::Protocol(
                    "the proxy's reply head is too large".into(),
                ));
            }
            if sock.read(&mut byte).map_err(io_err)? == 0 {
                return Err(Error::Connect {
                    url: shown.to_owned(),
                    message: "the proxy closed the connection before answering CONNECT".into(),
                });
            }
            buf.push(byte[0]);
        }
        let head = parse_head(&buf).map_err(Error::Protocol)?;
        if !(200..300).contains(&head.status) {
            return Err(Error::Http {
                url: shown.to_owned(),
                status: head.status,
                message: format!(
                    "the proxy {}:{} refused to open a tunnel ({})",
                    self.host, self.port, head.reason
                ),
            });
        }
        Ok(())
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A reply's status line and the headers a transfer or a call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) location: Option<String>,
    /// The connection may carry another request: HTTP/1.1 without `Connection: close`, or
    /// HTTP/1.0 with `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
    /// `Content-Encoding`, lower case, when there is one other than `identity`.
    pub(crate) encoding: Option<String>,
}

impl Head {
    /// How the body is framed: so many bytes, chunks, or up to the close.
    fn framing(&self) -> BodyKind {
        if self.chunked {
            BodyKind::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(n) = self.length {
            BodyKind::Length(n)
        } else {
            BodyKind::Close
        }
    }
}

fn parse_head(bytes: &[u8]) -> Result<Head, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!(
            "the server did not answer in HTTP/1.x ({:?})",
            status_line.chars().take(40).collect::<String>()
        ));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "the server's status line has no status".to_owned())?;
    let reason = parts.next().unwrap_or("").trim().to_owned();
    let mut head = Head {
        status,
        reason,
        length: None,
        chunked: false,
        location: None,
        keep_alive: version == "HTTP/1.1",
        encoding: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                head.length = Some(
                    value
                        .parse()
                        .map_err(|_| format!("the Content-Length {value:?} is not a number"))?,
                )
            }
            "transfer-encoding" => {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            }
            "location" => head.location = Some(value.to_owned()),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    head.keep_alive = false;
                } else if v.contains("keep-alive") {
                    head.keep_alive = true;
                }
            }
            "content-encoding" => {
                let v = value.to_ascii_lowercase();
                if v != "identity" {
                    head.encoding = Some(v);
                }
            }
            _ => {}
        }
    }
    Ok(head)
}

/// Reads a reply head (status line and headers, a `1xx` skipped) of at most [`MAX_HEAD`] bytes
/// from `reader`; `io` maps a read error.
pub(crate) fn read_head<R: BufRead>(
    reader: &mut R,
    shown: &str,
    io: &dyn Fn(io::Error) -> Error,
) -> crate::Result<Head> {
    let mut buf = Vec::new();
    loop {
        let n = reader
            .by_ref()
            .take((MAX_HEAD - buf.len()) as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        if n == 0 {
            return Err(Error::Connect {
                url: shown.to_owned(),
                message: if buf.is_empty() {
                    "the server closed the connection without a reply".into()
                } else {
                    "the server closed the connection in the middle of its reply head".into()
                },
            });
        }
        if buf.len() > MAX_HEAD {
            return Err(Error::Protocol(format!(
                "the reply head from {shown} is larger than {MAX_HEAD} bytes"
            )));
        }
        if buf.ends_with(b"\r\n\r\n") || buf == b"\r\n" || buf.ends_with(b"\n\n") {
            // A 1xx is followed by the real reply.
            if buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1") {
                buf.clear();
                continue;
            }
            break;
        }
    }
    parse_head(&buf).map_err(|m| Error::Protocol(format!("{shown}: {m}")))
}

/// An I/O error of a transfer as the client's error, the URL without its query.
pub(crate) fn map_io(e: io::Error, shown: &str, idle: Duration, doing: &str) -> Error {
    if let Some(m) = super::tls::tls_error_in(&e) {
        return Error::Tls {
            url: shown.to_owned(),
            message: m,
        };
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout {
            url: shown.to_owned(),
            message: format!(
                "nothing moved for {} s {doing} (the idle timeout)",
                idle.as_secs_f64()
            ),
        },
        _ => Error::Connect {
            url: shown.to_owned(),
            message: format!("the connection broke {doing} ({e})"),
        },
    }
}

impl Conn {
    /// A handle on the socket that can close it from another thread.
    pub(crate) fn closer(&self) -> Option<Sock> {
        self.raw.try_clone().ok()
    }

    /// Writes the request head: `method`, the URL's path and query, `Connection: close`, and a
    /// `Content-Length` when `length` is given (a PUT), never `Transfer-Encoding`.
    pub(crate) fn send_head(&mut self, method: &str, length: Option<u64>) -> crate::Result<()> {
        let target = if self.absolute {
            format!(
                "http://{}{}",
                self.url.authority(),
                self.url.path_and_query()
            )
        } else {
            self.url.path_and_query()
        };
        let host = if matches!(self.url.scheme, Scheme::Unix(_)) {
            "localhost".to_owned()
        } else {
            self.url.authority()
        };
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\n\
             Accept: */*\r\nConnection: close\r\n",
            self.user_agent
        );
        if let Some(n) = length {
            head.push_str(&format!("Content-Length: {n}\r\n"));
        }
        if let Some(a) = &self.proxy_auth {
            head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        head.push_str("\r\n");
        self.stream
            .write_all(head.as_bytes())
            .and_then(|()| self.stream.flush())
            .map_err(|e| map_io(e, &self.url.shown(), self.idle, "sending the request"))
    }

    /// Writes body bytes.
    pub(crate) fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Ends the request body by closing the sending half (a body of unknown length: xapi reads
    /// until the end of the stream). TLS sends its close_notify first.
    pub(crate) fn finish_body(&mut self) -> io::Result<()> {
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            s.flush()?;
        } else {
            self.stream.flush()?;
        }
        self.raw.shutdown(Shutdown::Write);
        Ok(())
    }

    /// Reads the reply head; the body follows in the returned [`Body`].
    pub(crate) fn read_reply(self) -> crate::Result<(Head, Body)> {
        let shown = self.url.shown();
        let idle = self.idle;
        let mut reader = BufReader::with_capacity(16 * 1024, self.stream);
        let head = read_head(&mut reader, &shown, &|e| {
            map_io(e, &shown, idle, "waiting for the reply")
        })?;
        let mut body = Body::new(reader, &head, false);
        body._raw = Some(self.raw);
        Ok((head, body))
    }
}

enum BodyKind {
    Length(u64),
    Chunked { left: u64, done: bool },
    Close,
}

/// A reply body, as its framing says: so many bytes, chunks, or up to the close.
pub(crate) struct Body<R = BufReader<Stream>> {
    reader: R,
    kind: BodyKind,
    /// A body that ends before its framing says it does is an error (`UnexpectedEof`), not
    /// an early end of file.
    strict: bool,
    _raw: Option<Sock>,
}

impl<R: BufRead> Body<R> {
    /// The body that follows `head` in `reader`.
    pub(crate) fn new(reader: R, head: &Head, strict: bool) -> Self {
        Body {
            reader,
            kind: head.framing(),
            strict,
            _raw: None,
        }
    }

    /// Whether the body ended as its framing says it would (a `Content-Length` body read whole,
    /// the last chunk seen); a body up to the close always has.
    pub(crate) fn complete(&self) -> bool {
        match self.kind {
            BodyKind::Length(n) => n == 0,
            BodyKind::Chunked { done, .. } => done,
            BodyKind::Close => true,
        }
    }

    /// Whether the body runs up to the connection's close (then the connection cannot carry
    /// another request).
    pub(crate) fn until_close(&self) -> bool {
        matches!(self.kind, BodyKind::Close)
    }

    /// The reader below, for what follows the body.
    pub(crate) fn reader(&self) -> &R {
        &self.reader
    }

    fn chunk_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader
            .by_ref()
            .take(4096)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the reply ended inside a chunk header",
            ));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_owned())
    }

    /// An end of file before the framing's end: nothing more (lenient) or an error (strict).
    fn cut_short(&self) -> io::Result<usize> {
        if self.strict {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the reply ended before its announced end",
            ))
        } else {
            Ok(0)
        }
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.kind {
            BodyKind::Close => self.reader.read(buf),
            BodyKind::Length(0) => Ok(0),
            BodyKind::Length(left) => {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return self.cut_short();
                }
                self.kind = BodyKind::Length(left - n as u64);
                Ok(n)
            }
            BodyKind::Chunked { done: true, .. } => Ok(0),
            BodyKind::Chunked { left, .. } => {
                let mut left = left;
                if left == 0 {
                    let line = self.chunk_line()?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    left = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad chunk size {size:?}"),
                        )
                    })?;
                    if left == 0 {
                        // Trailers up to the empty line.
                        while !self.chunk_line()?.is_empty() {}
                        self.kind = BodyKind::Chunked {
                            left: 0,
                            done: true,
                        };
                        return Ok(0);
                    }
                }
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return self.cut_short();
                }
                left -= n as u64;
                if left == 0 {
                    self.chunk_line()?;
                }
                self.kind = BodyKind::Chunked { left, done: false };
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_show_without_their_query() {
        let u = Url::parse("https://[fe80::1]:4443/export?session_id=OpaqueRef:s&x=1").unwrap();
        assert_eq!(u.host, "fe80::1");
        assert_eq!(u.port, 4443);
        assert_eq!(u.path, "/export");
        assert_eq!(u.query, "session_id=OpaqueRef:s&x=1");
        assert_eq!(u.shown(), "https://[fe80::1]:4443/export");
        let u = Url::parse("http://xs1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert_eq!(Url::parse("https://xs1/").unwrap().port, 443);
        let j = u.join("/import?a=b").unwrap();
        assert_eq!((j.host.as_str(), j.query.as_str()), ("xs1", "a=b"));
        let j = u.join("https://xs2:444/import").unwrap();
        assert_eq!(j.authority(), "xs2:444");
        assert!(Url::parse("ftp://x/").is_err());
        let e = Url::parse("xs1/path?session_id=secret").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn reply_heads() {
        let h = parse_head(
            b"HTTP/1.1 302 Found\r\nLocation: https://b/x?y\r\ncontent-length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.status, 302);
        assert_eq!(h.location.as_deref(), Some("https://b/x?y"));
        assert_eq!(h.length, Some(0));
        let h = parse_head(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert!(h.chunked && h.length.is_none());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn proxies_parse_with_their_credentials() {
        let p = Proxy::parse("http://bob:p%40ss@proxy.lan:8080").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.lan", 8080));
        // "bob:p@ss" in base64.
        assert_eq!(p.auth.as_deref(), Some("Basic Ym9iOnBAc3M="));
        assert_eq!(Proxy::parse("proxy").unwrap().port, 3128);
        let e = Proxy::parse("socks5://u:secret@p:1080").err().unwrap();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn chunked_bodies_decode() {
        // A body over a plain socket pair.
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n").unwrap();
        drop(b);
        let raw = Sock::Unix(a.try_clone().unwrap());
        let conn = Conn {
            stream: Stream::Plain(Sock::Unix(a)),
            raw,
            url: Url::parse("http://x/").unwrap(),
            idle: Duration::from_secs(5),
            absolute: false,
            proxy_auth: None,
            user_agent: "xenapi-rs/test".into(),
        };
        let (head, mut body) = conn.read_reply().unwrap();
        assert!(head.chunked);
        let mut out = String::new();
        body.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
        assert!(body.complete());
    }
}
