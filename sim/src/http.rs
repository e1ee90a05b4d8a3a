//! A small HTTP/1.1 server for one connection: keep-alive, `Content-Length` and chunked request
//! bodies, `Expect: 100-continue`, `Connection: close`; XML-RPC on `/` and `/RPC2` (xend: any
//! path), JSON-RPC on `/jsonrpc` (xapi dialect), the side channel on `/sim/…`, and the fault injection that tests arm.
//!
//! RPC requests are read whole (up to 64 MiB) before they are answered. The disk transfers
//! (crate::transfer) are not: their handler gets the connection after the headers and streams
//! the body in and the reply out, in bounded memory whatever the disk's size.

use std::io::{self, Read, Write};
use std::sync::Arc;

use xenapi::codec::{decode_call_slice, encode_response, Limits};
use xenapi::{jsonrpc, Value};

use crate::control;
use crate::dialect::Dialect;
use crate::dispatch;
use crate::faults::Fault;
use crate::server::Listener;
use crate::shared::Shared;

const MAX_HEADER_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A byte stream with its own read buffer (works for TCP and TLS alike).
pub(crate) struct Conn<S> {
    pub s: S,
    buf: Vec<u8>,
    pos: usize,
}

/// Reads what the buffer holds first, then from the stream (a streamed request body).
impl<S: Read + Write> Read for Conn<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.buf.len() {
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.s.read(out)
    }
}

enum Bad {
    /// The peer went away or the socket failed: close quietly.
    Io,
    /// Not HTTP we accept: answer with this status and close.
    Status(u16, &'static str),
}

impl From<io::Error> for Bad {
    fn from(_: io::Error) -> Self {
        Bad::Io
    }
}

impl<S: Read + Write> Conn<S> {
    fn fill(&mut self) -> io::Result<usize> {
        if self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = self.s.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// A line without its CRLF; `None` at a clean end of stream before any byte.
    fn line(&mut self) -> Result<Option<String>, Bad> {
        let mut out = Vec::new();
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|b| *b == b'\n') {
                out.extend_from_slice(&self.buf[self.pos..self.pos + i]);
                self.pos += i + 1;
                if out.last() == Some(&b'\r') {
                    out.pop();
                }
                return String::from_utf8(out)
                    .map(Some)
                    .map_err(|_| Bad::Status(400, "header is not UTF-8"));
            }
            out.extend_from_slice(&self.buf[self.pos..]);
            self.pos = self.buf.len();
            if out.len() > MAX_HEADER_LINE {
                return Err(Bad::Status(431, "header line too long"));
            }
            if self.fill()? == 0 {
                return if out.is_empty() {
                    Ok(None)
                } else {
                    Err(Bad::Io)
                };
            }
        }
    }

    fn exact(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), Bad> {
        let mut need = n;
        while need > 0 {
            if self.pos >= self.buf.len() && self.fill()? == 0 {
                return Err(Bad::Io);
            }
            let take = need.min(self.buf.len() - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            need -= take;
        }
        Ok(())
    }
}

/// A request's line and headers, before its body.
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    pub close: bool,
    /// `Content-Length`.
    pub length: Option<u64>,
    /// A `Transfer-Encoding` header's value (`chunked`, …).
    pub transfer_encoding: Option<String>,
    pub expect_continue: bool,
    /// `Cookie` (xapi's handlers take their parameters there too).
    pub cookie: String,
}

impl Head {
    pub fn chunked(&self) -> bool {
        self.transfer_encoding
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    close: bool,
    body: Vec<u8>,
}

fn read_head<S: Read + Write>(c: &mut Conn<S>) -> Result<Option<Head>, Bad> {
    // Tolerate blank lines between requests.
    let start = loop {
        match c.line()? {
            None => return Ok(None),
            Some(l) if l.trim().is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = start.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Bad::Status(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Bad::Status(505, "HTTP version not supported"));
    }
    let mut close = version == "HTTP/1.0";
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut length: Option<u64> = None;
    let mut transfer_encoding = None;
    let mut expect_continue = false;
    let mut cookie = String::new();
    for i in 0.. {
        if i > MAX_HEADERS {
            return Err(Bad::Status(431, "too many headers"));
        }
        let Some(line) = c.line()? else {
            return Err(Bad::Io);
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Bad::Status(400, "malformed header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: u64 = value
                    .parse()
                    .map_err(|_| Bad::Status(400, "bad Content-Length"))?;
                length = Some(n);
            }
            "transfer-encoding" => transfer_encoding = Some(value.to_owned()),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    close = true;
                } else if v.contains("keep-alive") {
                    close = false;
                }
            }
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "cookie" if cookie.len() < MAX_HEADER_LINE => {
                if !cookie.is_empty() {
                    cookie.push_str("; ");
                }
                cookie.push_str(value);
            }
            _ => {}
        }
    }
    Ok(Some(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        close,
        length,
        transfer_encoding,
        expect_continue,
        cookie,
    }))
}

/// Reads the whole body of an RPC request (at most 64 MiB).
fn read_body<S: Read + Write>(c: &mut Conn<S>, head: Head) -> Result<Request, Bad> {
    let chunked = head.chunked();
    if head.length.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Bad::Status(413, "request body too large"));
    }
    if head.expect_continue && (chunked || head.length.unwrap_or(0) > 0) {
        c.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        c.s.flush()?;
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let Some(size_line) = c.line()? else {
                return Err(Bad::Io);
            };
            let hex = size_line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(hex, 16).map_err(|_| Bad::Status(400, "bad chunk size"))?;
            if body.len() + size > MAX_BODY {
                return Err(Bad::Status(413, "request body too large"));
            }
            if size == 0 {
                // Trailers, up to the blank line.
                while let Some(l) = c.line()? {
                    if l.is_empty() {
                        break;
                    }
                }
                break;
            }
            c.exact(size, &mut body)?;
            c.line()?;
        }
    } else if let Some(n) = head.length {
        let n = n as usize;
        body.reserve(n);
        c.exact(n, &mut body)?;
    }
    Ok(Request {
        method: head.method,
        path: head.path,
        query: head.query,
        close: head.close,
        body,
    })
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorised",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn head(status: u16, content_type: &str, len: usize, close: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {}\r\nServer: xenapi-sim\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: {}\r\n\r\n",
        reason(status),
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes()
}

fn send<S: Write>(
    s: &mut S,
    status: u16,
    content_type: &str,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut out = head(status, content_type, body.len(), close);
    if body.len() > 64 * 1024 {
        // A large body (records) goes out as it is, not copied behind the headers first.
        s.write_all(&out)?;
        s.write_all(body)?;
    } else {
        out.extend_from_slice(body);
        s.write_all(&out)?;
    }
    s.flush()
}

/// An HTML error page, as xapi sends for a request it cannot parse.
pub(crate) fn page(status: u16, detail: &str) -> Vec<u8> {
    let detail = detail
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<html><body><h1>HTTP {status} {}</h1>{detail}</body></html>",
        reason(status)
    )
    .into_bytes()
}

/// Serves requests on `s` until the peer closes, asks to close, a fault closes it, or its
/// listener stops.
pub(crate) fn serve<S: Read + Write>(s: S, shared: &Arc<Shared>, listener: &Listener) {
    let mut c = Conn {
        s,
        buf: Vec::with_capacity(16 * 1024),
        pos: 0,
    };
    loop {
        if shared.stopping() || listener.stopped() {
            return;
        }
        let req = match read_head(&mut c) {
            Ok(Some(head)) if crate::transfer::handles(shared, &head) => {
                // A transfer streams its body and reply itself, then the connection closes
                // (as xapi's handlers close it).
                if !listener.stopped() {
                    crate::transfer::serve(&mut c, shared, &listener.host, &head);
                }
                return;
            }
            Ok(Some(head)) if crate::xva_http::handles(shared, &head) => {
                if !listener.stopped() {
                    crate::xva_http::serve(&mut c, shared, &head);
                }
                return;
            }
            Ok(Some(head)) => read_body(&mut c, head),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let req = match req {
            Ok(r) => r,
            Err(Bad::Io) => return,
            Err(Bad::Status(code, why)) => {
                let _ = send(&mut c.s, code, "text/html", &page(code, why), true);
                return;
            }
        };
        if listener.stopped() {
            return;
        }
        // Whether this host is a pool member is looked up per request: a failover promotes one.
        let member = shared.is_member(&listener.host);
        let keep = match answer(&mut c.s, shared, member, &listener.host, &req) {
            Ok(keep) => keep,
            Err(_) => return,
        };
        if !keep || req.close {
            return;
        }
    }
}

/// Answers one request; `Ok(false)` when the connection must close.
fn answer<S: Write>(
    s: &mut S,
    shared: &Arc<Shared>,
    member: bool,
    host: &str,
    req: &Request,
) -> io::Result<bool> {
    if req.path.starts_with("/sim/") {
        let (status, body) = control::handle(shared, &req.method, &req.path, &req.query);
        send(s, status, "application/json", body.as_bytes(), req.close)?;
        return Ok(true);
    }
    let dialect = shared.settings.dialect;
    // xcp-rrdd's handlers, served beside the API on xapi (xend has the metrics in its records).
    let rrd = match (dialect, req.method.as_str(), req.path.as_str()) {
        (Dialect::Xapi, "GET", "/rrd_updates") => {
            Some(crate::rrd::updates(shared, host, &req.query))
        }
        (Dialect::Xapi, "GET", "/host_rrd") => Some(crate::rrd::host_rrd(shared, host, &req.query)),
        (Dialect::Xapi, "GET", "/vm_rrd") => Some(crate::rrd::vm_rrd(shared, host, &req.query)),
        _ => None,
    };
    if let Some((status, content_type, body)) = rrd {
        send(s, status, content_type, &body, req.close)?;
        return Ok(true);
    }
    // JSON-RPC on /jsonrpc, as xapi serves it; xend has none (any path is XML-RPC there).
    let json_path = dialect == Dialect::Xapi && req.path == "/jsonrpc";
    let rpc_path =
        !json_path && (dialect == Dialect::Xend || req.path == "/" || req.path == "/RPC2");
    let off = (json_path && !shared.settings.jsonrpc) || (rpc_path && !shared.settings.xmlrpc);
    if off || !(rpc_path || json_path) {
        send(s, 404, "text/html", &page(404, "no such path"), req.close)?;
        return Ok(true);
    }
    if req.method != "POST" {
        let why = if json_path {
            "JSON-RPC takes POST"
        } else {
            "XML-RPC takes POST"
        };
        send(s, 405, "text/html", &page(405, why), req.close)?;
        return Ok(true);
    }
    // Calls being answered, the reply delay included (the high-water mark is in the stats).
    let _in_flight = shared.call_started();
    let (reply, content_type) = if json_path {
        match json_call(shared, member, &req.body) {
            Ok(reply) => (reply, "application/json"),
            Err(e) => {
                send(s, 500, "text/html", &page(500, &e), true)?;
                return Ok(false);
            }
        }
    } else {
        match decode_call_slice(&req.body, Limits::default()) {
            Ok((method, params)) => {
                let v = dispatch::call(shared, member, &method, params);
                (encode_response(&v, &dialect.encoder()), "text/xml")
            }
            Err(e) => {
                send(s, 500, "text/html", &page(500, &e.to_string()), true)?;
                return Ok(false);
            }
        }
    };
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    match shared.faults.take() {
        None => {
            send(s, 200, content_type, &reply, req.close)?;
            Ok(true)
        }
        Some(Fault::Reset) => Ok(false),
        Some(Fault::Http500) => {
            send(s, 500, "text/html", &page(500, "injected fault"), req.close)?;
            Ok(true)
        }
        Some(Fault::Garbage) => {
            let body = b"this is not XML-RPC \x01\x02 garbage }{ <<<";
            send(s, 200, content_type, body, req.close)?;
            Ok(true)
        }
        Some(Fault::Truncate) => {
            let mut out = head(200, content_type, reply.len(), false);
            out.extend_from_slice(&reply[..reply.len() / 2]);
            s.write_all(&out)?;
            s.flush()?;
            Ok(false)
        }
        Some(Fault::Drip) => {
            let mut out = head(200, content_type, reply.len(), req.close);
            out.extend_from_slice(&reply);
            for b in out {
                if shared.stopping() {
                    return Ok(false);
                }
                s.write_all(&[b])?;
                s.flush()?;
                std::thread::sleep(shared.faults.drip_interval);
            }
            Ok(true)
        }
    }
}

/// One JSON-RPC call, answered as xapi does: in the request's version (2.0 when it has
/// `"jsonrpc":"2.0"`), the result in xapi's JSON types (int64s as numbers, void as `null`), a
/// failure as `{code, message: CODE, data: [params]}` (2.0) or the description array (1.0).
fn json_call(shared: &Arc<Shared>, member: bool, body: &[u8]) -> Result<Vec<u8>, String> {
    let (method, params, id) =
        jsonrpc::decode_call_slice(body, Limits::default()).map_err(|e| e.to_string())?;
    if id == Value::Nil {
        return Err("Invalid field 'id' in request body".into());
    }
    let version2 = body_says_v2(body);
    let envelope = dispatch::call(shared, member, &method, params);
    let mut status = None;
    let mut value = Value::Nil;
    let mut description = Vec::new();
    if let Value::Struct(members) = envelope {
        for (k, v) in members {
            match (k.as_str(), v) {
                ("Status", Value::String(st)) => status = Some(st),
                ("Value", v) => value = v,
                ("ErrorDescription", Value::Array(items)) => {
                    description = items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => s,
                            other => format!("{other:?}"),
                        })
                        .collect()
                }
                _ => {}
            }
        }
    }
    Ok(if status.as_deref() == Some("Success") {
        let v = jsonrpc::denormalise(&method, value);
        jsonrpc::encode_response(Ok(&v), &id, version2)
    } else {
        jsonrpc::encode_response(Err(&description), &id, version2)
    })
}

/// Whether the request names JSON-RPC 2.0 (a `"jsonrpc"` member; 1.0 has none).
fn body_says_v2(body: &[u8]) -> bool {
    body.windows(9).any(|w| w == b"\"jsonrpc\"")
}
