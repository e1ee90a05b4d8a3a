//! HTTP(S) transport for API calls: HTTP/1.1 on keep-alive connections of our own (TCP, TLS
//! with the [`crate::TlsPolicy`]'s verifier, or xapi's Unix socket), one function from request
//! bytes to decoded reply ([`Transport::call`], [`Transport::get`]), with the retry rule inside.
//!
//! A small call costs the client one write (request head and body in one buffer) and, for a
//! small reply, one read: a pooled connection is used without any probe ([`pool`]), and its
//! socket options were set once when it was made ([`conn`]). A blocked read or write wakes
//! every [`crate::call::TICK`] to look at the call's cancel, the thread's interrupt check and
//! the deadline, which bounds the whole call: connect, TLS handshake, sending and reading the
//! whole body; the connect part alone is also bounded by [`Options::connect_timeout`].
//!
//! The pieces: [`raw`] (URLs, sockets, TLS set-up, reply heads and body framing, shared with
//! the transfers), [`conn`] (one connection and how it is made), [`pool`] (idle connections),
//! [`tls`] (policies and verifiers).

mod conn;
mod pool;
pub(crate) mod raw;
mod replay;
mod tls;

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

#[doc(hidden)]
pub use replay::replay_reply;

use crate::call::CallCtx;
use crate::codec::{self, CodecError, Limits, Response};
use crate::jsonrpc::{self, Reply};
use crate::{Error, Options};
use conn::{Conn, Dialer, Io, Seen};
use raw::{Body, Head, Scheme, Url};

thread_local! {
    /// The last call on this thread failed without any attempt sending its request.
    static LAST_UNSENT: Cell<bool> = const { Cell::new(false) };
}

/// Whether the last call of this thread that failed did so before any attempt could send its
/// request (every attempt failed to connect), so that the server cannot have carried it out.
pub(crate) fn last_call_unsent() -> bool {
    LAST_UNSENT.with(Cell::get)
}

/// One request as the exchange sends it: its bytes, what its reply is in (for messages), and
/// the error of a status other than 200.
struct Req<'a> {
    bytes: &'a [u8],
    what: &'a str,
    status: &'a dyn Fn(&Head) -> Error,
}

/// How a call's body is encoded, and so how its reply is decoded.
#[derive(Clone, Copy)]
pub(crate) enum Wire {
    /// XML-RPC, posted to the URL.
    Xml,
    /// JSON-RPC with this request id, posted to `/jsonrpc`.
    Json(u64),
}

/// A decoded reply.
pub(crate) enum Decoded {
    Xml(Response),
    Json(Reply),
}

/// Calls one server.
pub(crate) struct Transport {
    /// The URL as the user gave it (in messages).
    url: String,
    dialer: Dialer,
    pool: pool::Pool,
    /// Where XML-RPC requests go: the URL's path and query (`/` for a Unix socket).
    xml_target: String,
    /// The URL's path without its last `/`, before the path of a GET (`/rrd_updates`).
    root: String,
    /// `Host`, `User-Agent` and `Accept-Encoding`, as sent with every request.
    fixed_headers: String,
    limits: Limits,
}

/// Refuses what is not an `http://`, `https://` or absolute `unix://` URL, in words.
fn check_url(url: &str) -> crate::Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "unsupported URL {url:?}: a Unix socket URL names an absolute path, as in \
                 unix:///var/lib/xcp/xapi"
            )));
        }
        if cfg!(not(unix)) {
            return Err(Error::InvalidArgument(format!(
                "unsupported URL {url:?}: unix:// sockets exist only on Unix-like systems \
                 (xapi's and xend's local socket); on this platform use http:// or https://"
            )));
        }
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "unsupported URL {url:?}: use http://, https:// or unix:///path/to/socket"
    )))
}

impl Transport {
    pub(crate) fn new(opts: &Options) -> crate::Result<Self> {
        let url = opts.url.clone();
        check_url(&url)?;
        if opts.timeout.is_zero() || opts.connect_timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "the connect timeout and the call deadline must be longer than zero".into(),
            ));
        }
        let parsed = Url::parse(&url)?;
        let (dialer, host_header, xml_target) = match &parsed.scheme {
            Scheme::Unix(path) => (
                // The socket carries plain HTTP; the TLS policy stays in the options for a
                // coordinator redirect, which goes to https://.
                Dialer::unix(&url, PathBuf::from(path), opts.connect_timeout),
                "localhost".to_owned(),
                "/".to_owned(),
            ),
            scheme => {
                let https = *scheme == Scheme::Https;
                let tls = if https {
                    Some(tls::client_config(&opts.tls)?)
                } else {
                    None
                };
                let default_port = if https { 443 } else { 80 };
                let host = if parsed.host.contains(':') {
                    format!("[{}]", parsed.host)
                } else {
                    parsed.host.clone()
                };
                let host_header = if parsed.port == default_port {
                    host
                } else {
                    format!("{host}:{}", parsed.port)
                };
                let target = if parsed.query.is_empty() {
                    parsed.path.clone()
                } else {
                    format!("{}?{}", parsed.path, parsed.query)
                };
                let dialer =
                    Dialer::tcp(&url, &parsed.host, parsed.port, tls, opts.connect_timeout)?;
                (dialer, host_header, target)
            }
        };
        let root = match &parsed.scheme {
            Scheme::Unix(_) => String::new(),
            _ => parsed.path.trim_end_matches('/').to_owned(),
        };
        Ok(Transport {
            fixed_headers: format!(
                "Host: {host_header}\r\nUser-Agent: {}\r\nAccept-Encoding: gzip\r\n",
                opts.user_agent()
            ),
            url,
            dialer,
            pool: pool::Pool::default(),
            xml_target,
            root,
            limits: Limits {
                max_bytes: opts.max_response_bytes,
                max_value_bytes: opts.max_response_bytes,
                ..Limits::default()
            },
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Posts one call of `method` (its encoded `body`) and decodes the reply, within `ctx`.
    pub(crate) fn call(
        &self,
        method: &str,
        wire: Wire,
        body: &[u8],
        ctx: &CallCtx<'_>,
    ) -> crate::Result<Decoded> {
        let (target, content_type) = match wire {
            Wire::Xml => (self.xml_target.as_str(), "text/xml"),
            Wire::Json(_) => (jsonrpc::PATH, "application/json"),
        };
        let request = self.request("POST", target, Some(content_type), body, ctx);
        let limits = self.limits;
        let what = match wire {
            Wire::Xml => "XML-RPC",
            Wire::Json(_) => "JSON-RPC",
        };
        let req = Req {
            bytes: &request,
            what,
            status: &|head| self.status_error(head),
        };
        self.exchange(method, ctx, &req, &mut |reader| match wire {
            Wire::Xml => codec::decode_response(reader, limits).map(Decoded::Xml),
            Wire::Json(id) => jsonrpc::decode_response(reader, limits, id).map(Decoded::Json),
        })
    }

    /// GETs `path_and_query` (`/rrd_updates?…`) from the server's root, beside the API, and
    /// returns the body of a 200 reply, at most `max_bytes` of it (after decompression).
    pub(crate) fn get(
        &self,
        path_and_query: &str,
        max_bytes: u64,
        ctx: &CallCtx<'_>,
    ) -> crate::Result<Vec<u8>> {
        let target = format!("{}{path_and_query}", self.root);
        let request = self.request("GET", &target, None, &[], ctx);
        let path = path_and_query.split('?').next().unwrap_or("");
        let status = |head: &Head| {
            let message = match head.status {
                401 | 403 => {
                    format!("{path}: the server refused the session (expired or invalid)")
                }
                404 => format!("{path}: the server has no such object or handler"),
                s => format!("{path}: {}", reason(s)),
            };
            Error::Http {
                url: self.url.clone(),
                status: head.status,
                message,
            }
        };
        let req = Req {
            bytes: &request,
            what: "HTTP",
            status: &status,
        };
        self.exchange("GET", ctx, &req, &mut |reader| {
            let mut body = Vec::new();
            reader
                .take(max_bytes.saturating_add(1))
                .read_to_end(&mut body)
                .map_err(CodecError::Io)?;
            if body.len() as u64 > max_bytes {
                return Err(CodecError::TooLarge(max_bytes));
            }
            Ok(body)
        })
    }

    /// The request's bytes, head and body in one buffer (one write).
    fn request(
        &self,
        verb: &str,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
        ctx: &CallCtx<'_>,
    ) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        head.push_str(verb);
        head.push(' ');
        head.push_str(target);
        head.push_str(" HTTP/1.1\r\n");
        head.push_str(&self.fixed_headers);
        if let Some(t) = content_type {
            head.push_str("Content-Type: ");
            head.push_str(t);
            head.push_str("\r\nContent-Length: ");
            head.push_str(&body.len().to_string());
            head.push_str("\r\n");
        }
        if let Some(tp) = ctx.traceparent {
            head.push_str("traceparent: ");
            head.push_str(tp);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut out = Vec::with_capacity(head.len() + body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Sends `request` for one call of `method` and reads the reply with `read`, and once
    /// more, on a new connection and within what is left of the deadline, when the connection
    /// broke and repeating cannot do anything twice:
    /// - a pooled connection that ended before any byte of the reply: the server had closed it
    ///   between calls (an idle timeout, a restart) and never read the request; any call;
    /// - a connection that broke anywhere else, in the middle of the reply included: only for a
    ///   read-only call ([`read_only`]); a call with side effects reports the error, since the
    ///   server may have carried it out.
    ///
    /// A timeout, a cancel, an HTTP status, a fault or a failure is never retried.
    fn exchange<T>(
        &self,
        method: &str,
        ctx: &CallCtx<'_>,
        req: &Req<'_>,
        read: &mut dyn FnMut(&mut dyn BufRead) -> Result<T, CodecError>,
    ) -> crate::Result<T> {
        LAST_UNSENT.with(|c| c.set(false));
        let mut seen = Seen::default();
        let e = match self.attempt(ctx, req, false, &mut seen, read) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let mut unsent = !seen.sent;
        LAST_UNSENT.with(|c| c.set(unsent));
        let broke = seen.broke
            && matches!(
                e,
                Error::Connect { .. } | Error::Protocol(_) | Error::Tls { .. }
            );
        let unread = !seen.fresh && !seen.received;
        if !broke || !(unread || read_only(method)) || ctx.go_on(&self.url).is_err() {
            return Err(e);
        }
        let mut again = Seen::default();
        let r = self.attempt(ctx, req, true, &mut again, read);
        unsent &= !again.sent;
        LAST_UNSENT.with(|c| c.set(unsent && r.is_err()));
        r
    }

    /// One attempt: a connection (pooled unless `fresh`), the request written, the reply head
    /// read and its body decoded by `read`; the connection back to the pool only when the
    /// reply was read whole and the server keeps it open.
    fn attempt<T>(
        &self,
        ctx: &CallCtx<'_>,
        req: &Req<'_>,
        fresh: bool,
        seen: &mut Seen,
        read: &mut dyn FnMut(&mut dyn BufRead) -> Result<T, CodecError>,
    ) -> crate::Result<T> {
        let pooled = if fresh { None } else { self.pool.take() };
        seen.fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.dialer.dial(ctx)?,
        };
        let (value, keep) = self.on(&mut conn, ctx, req, seen, read)?;
        if keep {
            self.pool.put(conn);
        }
        Ok(value)
    }

    fn on<T>(
        &self,
        conn: &mut Conn,
        ctx: &CallCtx<'_>,
        req: &Req<'_>,
        seen: &mut Seen,
        read: &mut dyn FnMut(&mut dyn BufRead) -> Result<T, CodecError>,
    ) -> crate::Result<(T, bool)> {
        let mut io = Io {
            stream: &mut conn.stream,
            ctx,
            url: &self.url,
            seen,
        };
        io.write_all(req.bytes)
            .and_then(|()| io.flush())
            .map_err(|e| self.map_io(e, Stage::Exchange))?;
        io.seen.sent = true;
        let mut reader = BufReader::with_capacity(16 * 1024, io);
        let head = raw::read_head(&mut reader, &self.url, &|e| self.map_io(e, Stage::Exchange))?;
        if head.status != 200 {
            return Err((req.status)(&head));
        }
        let mut body = Body::new(&mut reader, &head, true);
        let value = match head.encoding.as_deref() {
            None => {
                // Both decoders read through a window buffer of their own (codec/window.rs), in
                // reads of 4 KiB and more: a buffer no larger than that passes them straight
                // through.
                let mut r = BufReader::with_capacity(4 * 1024, &mut body);
                read(&mut r).map_err(|e| self.map_codec(e, None, req.what))?
            }
            Some(gz @ ("gzip" | "x-gzip")) => {
                let mut r = BufReader::new(flate2::read::GzDecoder::new(&mut body));
                read(&mut r).map_err(|e| self.map_codec(e, Some(gz), req.what))?
            }
            Some(other) => {
                return Err(Error::Protocol(format!(
                    "the server at {} sent its reply in an encoding this client does not \
                     read ({other:?})",
                    self.url
                )))
            }
        };
        let keep = head.keep_alive
            && !body.until_close()
            && body.complete()
            && body.reader().buffer().is_empty();
        Ok((value, keep))
    }

    fn map_codec(&self, e: CodecError, encoding: Option<&str>, what: &str) -> Error {
        match e {
            CodecError::Io(io) => match conn::stopped(io) {
                Ok(stop) => stop,
                Err(io)
                    if encoding.is_some()
                        && matches!(
                            io.kind(),
                            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
                        ) =>
                {
                    Error::Protocol(format!(
                        "the {} reply body is corrupt: {io}",
                        encoding.unwrap_or("")
                    ))
                }
                Err(io) => self.map_io(io, Stage::Body),
            },
            CodecError::Malformed(m) => Error::Protocol(format!("malformed {what}: {m}")),
            other => other.into_error(&self.url),
        }
    }

    /// An I/O error of a call, which may be why it stopped ([`conn::Stop`]).
    fn map_io(&self, e: io::Error, stage: Stage) -> Error {
        let e = match conn::stopped(e) {
            Ok(stop) => return stop,
            Err(e) => e,
        };
        let url = self.url.clone();
        if let Some(message) = tls::tls_error_in(&e) {
            return Error::Tls { url, message };
        }
        Error::Connect {
            url,
            message: match stage {
                Stage::Exchange => format!("the connection broke before the reply arrived ({e})"),
                Stage::Body => format!("the connection broke while reading the reply ({e})"),
            },
        }
    }

    fn status_error(&self, head: &Head) -> Error {
        let mut message = reason(head.status).to_owned();
        if (300..400).contains(&head.status) {
            message = format!(
                "{message}; the server redirects to {}: use that URL (redirects are not \
                 followed)",
                head.location.as_deref().unwrap_or("?")
            );
        }
        Error::Http {
            url: self.url.clone(),
            status: head.status,
            message,
        }
    }
}

/// The standard reason phrase of an HTTP status (the server's own is not shown: it is the
/// server's text, not ours).
fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "unexpected status",
    }
}

/// Whether `method` only reads: a getter (`VM.get_power_state`, `VM.get_all_records`,
/// `session.get_this_host`: the name after the class's dot starts with `get_`), which may be
/// sent again when its reply was lost. An `Async.` call creates a task, so it does not qualify.
pub(crate) fn read_only(method: &str) -> bool {
    !method.starts_with("Async.")
        && method
            .split_once('.')
            .is_some_and(|(_, name)| name.starts_with("get_"))
}

/// Where in a call an error happened.
#[derive(Clone, Copy)]
enum Stage {
    /// Connecting, sending, or waiting for the reply's headers.
    Exchange,
    /// Reading the reply's body.
    Body,
}

/// `1 s`, `0.5 s`: a duration in messages.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_methods() {
        assert!(read_only("VM.get_power_state"));
        assert!(!read_only("Async.VM.get_power_state"));
        assert!(!read_only("VM.start"));
        assert!(!read_only("GET"));
    }

    #[test]
    fn one_buffer_per_request_with_the_trace_context() {
        let t = Transport::new(&Options::new("http://h:8080/")).unwrap();
        let mut ctx = CallCtx::within(Duration::from_secs(1));
        ctx.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let r = t.request("POST", "/", Some("text/xml"), b"<x/>", &ctx);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST / HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: xenapi-rs/"));
        assert!(text.contains("\r\nContent-Length: 4\r\n"), "{text}");
        assert!(text.contains(
            "\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        ));
        assert!(text.ends_with("\r\n\r\n<x/>"), "{text}");
        let t = Transport::new(&Options::new("http://localhost/RPC2")).unwrap();
        assert_eq!(t.xml_target, "/RPC2");
        let t = Transport::new(&Options::new("https://[::1]/")).unwrap();
        let r = t.request("GET", "/rrd_updates", None, &[], &ctx);
        assert!(String::from_utf8(r).unwrap().contains("Host: [::1]\r\n"));
    }
}
