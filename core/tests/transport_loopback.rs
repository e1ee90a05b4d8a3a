//! The HTTP(S) transport against tiny servers on 127.0.0.1: deadlines, limits, broken
//! connections, keep-alive, concurrency, the Unix socket, TLS policies, and sessions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use xenapi::codec::{self, Encoder, Limits};
use xenapi::{Client, Error, ErrorKind, Options, Session, TlsPolicy, Value};

// ------------------------------------------------------------------------------------------------
// Tiny servers

/// One HTTP request as the server read it.
struct Req {
    head: String,
    body: Vec<u8>,
}

impl Req {
    /// The XML-RPC call in the body.
    fn call(&self) -> (String, Vec<Value>) {
        codec::decode_call(&self.body[..], Limits::default()).expect("an XML-RPC call")
    }
}

/// What the connection does after a response.
enum Flow {
    KeepAlive,
    Close,
}

type Handler = dyn Fn(&Req, &mut dyn Write) -> Flow + Send + Sync;

struct Server {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/", self.addr)
    }
}

fn read_request(r: &mut dyn BufRead) -> Option<Req> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Req { head, body })
}

fn serve_connection<S: Read + Write>(stream: S, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        // These servers speak XML-RPC only, as xend and older xapi do: a JSON-RPC login (the
        // default `Protocol::Auto` tries one first) finds no `/jsonrpc`.
        if req.head.starts_with("POST /jsonrpc ") {
            respond(reader.get_mut(), "404 Not Found", &[], b"no such path");
            let _ = reader.get_mut().flush();
            continue;
        }
        let flow = handler(&req, reader.get_mut());
        let _ = reader.get_mut().flush();
        if let Flow::Close = flow {
            break;
        }
    }
}

/// A server on 127.0.0.1 with a thread per connection; TLS when `tls` is given.
fn spawn_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: impl Fn(&Req, &mut dyn Write) -> Flow + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let handler: Arc<Handler> = Arc::new(handler);
    let counter = accepts.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let tls = tls.clone();
            thread::spawn(move || match tls {
                None => serve_connection(stream, &*handler),
                Some(cfg) => {
                    let conn = rustls::ServerConnection::new(cfg).unwrap();
                    serve_connection(rustls::StreamOwned::new(conn, stream), &*handler)
                }
            });
        }
    });
    Server { addr, accepts }
}

fn respond(w: &mut dyn Write, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = w.write_all(out.as_bytes());
    let _ = w.write_all(body);
}

fn xml(v: &Value) -> Vec<u8> {
    codec::encode_response(v, &Encoder::default())
}

fn success(v: impl Into<Value>) -> Value {
    Value::structure([("Status", "Success".into()), ("Value", v.into())])
}

fn failure(description: &[&str]) -> Value {
    Value::structure([
        ("Status", "Failure".into()),
        ("ErrorDescription", Value::from(description.to_vec())),
    ])
}

/// A server that answers every call with `success("pong")`.
fn pong_server(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    spawn_server(tls, |_, w| {
        respond(w, "200 OK", &[], &xml(&success("pong")));
        Flow::KeepAlive
    })
}

/// A fake XenAPI server: `f(method, params)` gives the reply value.
fn xenapi_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    f: impl Fn(&str, &[Value]) -> Value + Send + Sync + 'static,
) -> Server {
    spawn_server(tls, move |req, w| {
        let (method, params) = req.call();
        respond(w, "200 OK", &[], &xml(&f(&method, &params)));
        Flow::KeepAlive
    })
}

fn client(url: String, deadline: Duration) -> Client {
    Client::new(
        Options::new(url)
            .timeout(deadline)
            .connect_timeout(Duration::from_secs(1)),
    )
    .unwrap()
}

fn ping(c: &Client) -> xenapi::Result<Value> {
    c.call("host.ping", &[])
}

// ------------------------------------------------------------------------------------------------
// Connecting, deadlines

#[test]
fn connection_refused_is_a_readable_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = ping(&client(
        format!("http://127.0.0.1:{port}/"),
        Duration::from_secs(2),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    let text = e.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[test]
fn a_server_that_never_answers_times_out_at_the_deadline() {
    let server = spawn_server(None, |_, _| {
        thread::sleep(Duration::from_secs(10));
        Flow::Close
    });
    let started = Instant::now();
    let e = ping(&client(server.url("http"), Duration::from_millis(1000))).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("deadline of 1 s"), "{e}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_dripping_body_cannot_hold_the_call_past_its_deadline() {
    let server = spawn_server(None, |_, w| {
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<?xml");
        let _ = w.flush();
        for _ in 0..10 {
            thread::sleep(Duration::from_secs(2));
            if w.write_all(b" ").and_then(|_| w.flush()).is_err() {
                break;
            }
        }
        Flow::Close
    });
    let started = Instant::now();
    let e = ping(&client(server.url("http"), Duration::from_millis(1500))).unwrap_err();
    let took = started.elapsed();
    // The timeout surfaces inside the body reader as an io::Error; it is still a Timeout.
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn dripping_headers_cannot_hold_the_call_either() {
    let server = spawn_server(None, |_, w| {
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" {
            thread::sleep(Duration::from_secs(2));
            if w.write_all(&[*b]).and_then(|_| w.flush()).is_err() {
                break;
            }
        }
        Flow::Close
    });
    let started = Instant::now();
    let e = ping(&client(server.url("http"), Duration::from_millis(1500))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// ------------------------------------------------------------------------------------------------
// Replies that are not XenAPI replies

#[test]
fn http_500_with_an_html_page_is_an_http_error() {
    let server = spawn_server(None, |_, w| {
        respond(
            w,
            "500 Internal Server Error",
            &[("Content-Type", "text/html")],
            b"<html><body><h1>Internal error</h1></body></html>",
        );
        Flow::KeepAlive
    });
    let e = ping(&client(server.url("http"), Duration::from_secs(2))).unwrap_err();
    match &e {
        Error::Http { status, .. } => assert_eq!(*status, 500),
        other => panic!("expected HTTP 500, got {other:?}"),
    }
    assert!(e.to_string().contains("HTTP 500"), "{e}");
}

#[test]
fn a_redirect_is_reported_with_its_target_not_followed() {
    let server = spawn_server(None, |_, w| {
        respond(
            w,
            "301 Moved Permanently",
            &[("Location", "https://127.0.0.1:1/")],
            b"",
        );
        Flow::KeepAlive
    });
    let e = ping(&client(server.url("http"), Duration::from_secs(2))).unwrap_err();
    assert!(matches!(e, Error::Http { status: 301, .. }), "{e:?}");
    assert!(e.to_string().contains("https://127.0.0.1:1/"), "{e}");
}

#[test]
fn a_garbage_body_is_a_protocol_error() {
    let server = spawn_server(None, |_, w| {
        respond(w, "200 OK", &[], b"this is not XML at all");
        Flow::KeepAlive
    });
    let e = ping(&client(server.url("http"), Duration::from_secs(2))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[test]
fn a_server_that_does_not_speak_http_is_a_protocol_error() {
    let server = spawn_server(None, |_, w| {
        let _ = w.write_all(b"SSH-2.0-OpenSSH_9.0\r\n\r\n");
        Flow::Close
    });
    let e = ping(&client(server.url("http"), Duration::from_secs(2))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[test]
fn a_truncated_body_is_a_broken_connection() {
    let server = spawn_server(None, |_, w| {
        let body = xml(&success("x".repeat(1000)));
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = w.write_all(head.as_bytes());
        let _ = w.write_all(&body[..body.len() / 2]);
        Flow::Close
    });
    let e = ping(&client(server.url("http"), Duration::from_secs(2))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("the connection broke"), "{e}");
}

#[test]
fn a_connection_reset_mid_body_is_a_broken_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Read only part of the request, so that closing with unread data sends a reset.
        let mut some = [0u8; 16];
        let _ = s.read(&mut some);
        let body = xml(&success("x".repeat(100_000)));
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&body[..1000]);
        thread::sleep(Duration::from_millis(100));
        drop(s);
    });
    let e = ping(&client(format!("http://{addr}/"), Duration::from_secs(2))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("the connection broke"), "{e}");
}

#[test]
fn a_reply_over_the_size_limit_is_refused() {
    let server = spawn_server(None, |_, w| {
        respond(w, "200 OK", &[], &xml(&success("x".repeat(50_000))));
        Flow::KeepAlive
    });
    let c = Client::new(
        Options::new(server.url("http"))
            .timeout(Duration::from_secs(2))
            .max_response_bytes(10_000),
    )
    .unwrap();
    let e = ping(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("10000"), "{e}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn the_size_limit_counts_inflated_bytes_and_normal_gzip_decodes() {
    let server = spawn_server(None, |req, w| {
        let (method, _) = req.call();
        let payload = if method == "big" {
            "x".repeat(2_000_000)
        } else {
            "small".to_owned()
        };
        let body = gzip(&xml(&success(payload)));
        assert!(body.len() < 10_000);
        respond(w, "200 OK", &[("Content-Encoding", "gzip")], &body);
        Flow::KeepAlive
    });
    let c = Client::new(
        Options::new(server.url("http"))
            .timeout(Duration::from_secs(2))
            .max_response_bytes(100_000),
    )
    .unwrap();
    assert_eq!(c.call("small", &[]).unwrap(), Value::from("small"));
    let e = c.call("big", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("100000"), "{e}");
}

#[test]
fn broken_gzip_bodies_are_told_apart() {
    let server = spawn_server(None, |req, w| {
        let (method, _) = req.call();
        let body = gzip(&xml(&success("y".repeat(200_000))));
        match method.as_str() {
            "corrupt" => {
                let mut bad = body.clone();
                for b in &mut bad[20..200] {
                    *b ^= 0x5a;
                }
                respond(w, "200 OK", &[("Content-Encoding", "gzip")], &bad);
                Flow::KeepAlive
            }
            "truncated" => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(&body[..body.len() / 2]);
                Flow::Close
            }
            _ => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(&body[..body.len() / 2]);
                let _ = w.flush();
                thread::sleep(Duration::from_secs(3));
                Flow::Close
            }
        }
    });
    let c = client(server.url("http"), Duration::from_millis(1000));
    let e = c.call("corrupt", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("gzip"), "{e}");
    let e = c.call("truncated", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    let e = c.call("stalled", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

// ------------------------------------------------------------------------------------------------
// The pool

#[test]
fn keep_alive_reuses_one_connection() {
    let server = pong_server(None);
    let c = client(server.url("http"), Duration::from_secs(2));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
}

#[test]
fn a_connection_the_server_closes_after_its_reply_is_not_reused() {
    let server = spawn_server(None, |_, w| {
        respond(
            w,
            "200 OK",
            &[("Connection", "close")],
            &xml(&success("once")),
        );
        // Kept open all the same: a client that reused it would be answered here.
        Flow::KeepAlive
    });
    let c = client(server.url("http"), Duration::from_secs(2));
    for _ in 0..3 {
        assert_eq!(ping(&c).unwrap(), Value::from("once"));
    }
    assert_eq!(server.accepts.load(Ordering::SeqCst), 3);
}

#[test]
fn a_chunked_reply_keeps_its_connection() {
    let server = spawn_server(None, |_, w| {
        let body = xml(&success("chunks"));
        let (a, b) = body.split_at(body.len() / 2);
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for part in [a, b] {
            let _ = write!(w, "{:x}\r\n", part.len());
            let _ = w.write_all(part);
            let _ = w.write_all(b"\r\n");
        }
        let _ = w.write_all(b"0\r\n\r\n");
        Flow::KeepAlive
    });
    let c = client(server.url("http"), Duration::from_secs(2));
    for _ in 0..3 {
        assert_eq!(ping(&c).unwrap(), Value::from("chunks"));
    }
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
}

#[test]
fn one_client_serves_eight_threads() {
    let server = xenapi_server(None, |_, params| {
        thread::sleep(Duration::from_millis(5));
        success(params[0].clone())
    });
    let c = Arc::new(client(server.url("http"), Duration::from_secs(5)));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..25 {
                    let tag = format!("{t}-{i}");
                    let got = c.call("echo", &[Value::from(tag.as_str())]).unwrap();
                    assert_eq!(got, Value::from(tag.as_str()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let accepts = server.accepts.load(Ordering::SeqCst);
    assert!(accepts <= 8 + 4, "{accepts} connections for 8 threads");
}

// ------------------------------------------------------------------------------------------------
// xapi's local Unix socket

/// A server on a Unix socket in a fresh directory; returns the socket's path.
fn spawn_unix_server(
    name: &str,
    handler: impl Fn(&Req, &mut dyn Write) -> Flow + Send + Sync + 'static,
) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xenapi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("xapi");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let handler: Arc<Handler> = Arc::new(handler);
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            let handler = handler.clone();
            thread::spawn(move || serve_connection(s, &*handler));
        }
    });
    path
}

#[test]
fn a_login_on_the_unix_socket_follows_the_coordinator_over_tls() {
    let cert = self_signed(&["xapi.invalid"]);
    let coordinator = xenapi_server(Some(cert.config.clone()), |method, _| match method {
        "session.login_with_password" => success("OpaqueRef:coord"),
        _ => success(""),
    });
    let target = coordinator.addr.to_string();
    let path = spawn_unix_server("slave", move |req, w| {
        let body = xml(&failure(&["HOST_IS_SLAVE", &target]));
        assert_eq!(req.call().0, "session.login_with_password");
        respond(w, "200 OK", &[], &body);
        Flow::KeepAlive
    });
    let pin = TlsPolicy::Fingerprint(sha256(&cert.der));
    let s = Session::connect(
        Options::unix_socket(&path)
            .tls(pin)
            .timeout(Duration::from_secs(2)),
        "root",
        PASSWORD,
    )
    .unwrap();
    assert_eq!(s.url(), coordinator.url("https"));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn the_unix_socket_carries_calls() {
    let dir = std::env::temp_dir().join(format!("xenapi-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("xapi");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                serve_connection(s, &|req: &Req, w: &mut dyn Write| {
                    assert!(req.head.starts_with("POST / HTTP/1.1"));
                    respond(w, "200 OK", &[], &xml(&success("local")));
                    Flow::KeepAlive
                })
            });
        }
    });
    let c = Client::new(Options::unix_socket(&path).timeout(Duration::from_secs(2))).unwrap();
    assert_eq!(ping(&c).unwrap(), Value::from("local"));
    assert_eq!(ping(&c).unwrap(), Value::from("local"));
    assert_eq!(accepts.load(Ordering::SeqCst), 1);
    assert_eq!(c.url(), format!("unix://{}", path.display()));

    // The deadline holds on the socket too.
    let silent_path = dir.join("silent");
    let silent = std::os::unix::net::UnixListener::bind(&silent_path).unwrap();
    thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(1).collect();
        thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let c = Client::new(Options::unix_socket(&silent_path).timeout(Duration::from_millis(700)))
        .unwrap();
    let started = Instant::now();
    let e = ping(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let missing = Client::new(Options::unix_socket(dir.join("nothing"))).unwrap();
    let e = ping(&missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("there is no socket"), "{e}");

    let bad = Client::new(Options::new("unix://relative/path"))
        .err()
        .unwrap();
    assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------------------------------------
// TLS

struct Cert {
    der: Vec<u8>,
    pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn self_signed(names: &[&str]) -> Cert {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names).unwrap();
    let der = ck.cert.der().to_vec();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    Cert {
        der,
        pem: ck.cert.pem(),
        config: Arc::new(config),
    }
}

fn sha256(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

fn colons(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn tls_client(url: String, policy: TlsPolicy) -> Client {
    Client::new(
        Options::new(url)
            .tls(policy)
            .timeout(Duration::from_secs(2)),
    )
    .unwrap()
}

#[test]
fn a_fingerprint_pin_accepts_exactly_that_certificate() {
    let cert = self_signed(&["xapi.invalid"]);
    let server = pong_server(Some(cert.config.clone()));
    let pin = sha256(&cert.der);
    let c = tls_client(server.url("https"), TlsPolicy::Fingerprint(pin));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1, "TLS keep-alive");

    // The text form of the pin, as `openssl x509 -fingerprint -sha256` prints it.
    let c = tls_client(
        server.url("https"),
        TlsPolicy::fingerprint(&colons(&pin)).unwrap(),
    );
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
}

#[test]
fn a_fingerprint_mismatch_names_both_fingerprints() {
    let cert = self_signed(&["xapi.invalid"]);
    let server = pong_server(Some(cert.config.clone()));
    let wrong = [0xAB; 32];
    let e = ping(&tls_client(
        server.url("https"),
        TlsPolicy::Fingerprint(wrong),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let text = e.to_string();
    let expected = format!(
        "expected {}, server presented {}",
        colons(&wrong),
        colons(&sha256(&cert.der))
    );
    assert!(text.contains(&expected), "{text}");
}

/// Presents `cert` but signs the handshake with another key: an impostor that copied the public
/// certificate.
#[derive(Debug)]
struct CopiedCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for CopiedCertificate {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn a_pin_still_needs_the_certificate_s_private_key() {
    let cert = self_signed(&["xapi.invalid"]);
    let other_key = rcgen::KeyPair::generate().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(rustls_pki_types::PrivateKeyDer::Pkcs8(
            other_key.serialize_der().into(),
        ))
        .unwrap();
    let copied = rustls::sign::CertifiedKey::new(vec![cert.der.clone().into()], key);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(CopiedCertificate(Arc::new(copied.clone()))));
        let server = pong_server(Some(Arc::new(config)));
        let pin = TlsPolicy::Fingerprint(sha256(&cert.der));
        let e = ping(&tls_client(server.url("https"), pin)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.to_string().contains("private key"), "{e}");
    }
}

#[test]
fn a_certificate_callback_is_told_what_the_default_check_found_and_decides() {
    use xenapi::{CertificateCallback, CertificateProblem};
    let cert = self_signed(&["127.0.0.1"]);
    let server = pong_server(Some(cert.config.clone()));
    type Seen = Vec<(Vec<u8>, String, Option<CertificateProblem>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let accept = Arc::new(AtomicBool::new(true));
    let callback = {
        let (seen, accept) = (seen.clone(), accept.clone());
        CertificateCallback::new(move |check| {
            seen.lock().unwrap().push((
                check.certificate.to_vec(),
                check.server_name.clone(),
                check.problem.as_ref().map(|(p, _)| *p),
            ));
            accept.load(Ordering::SeqCst)
        })
    };
    let c = tls_client(server.url("https"), TlsPolicy::Callback(callback.clone()));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "asked once per connection");
        assert_eq!(seen[0].0, cert.der, "the server's certificate, DER");
        assert_eq!(seen[0].1, "127.0.0.1");
        assert_eq!(
            seen[0].2,
            Some(CertificateProblem::Untrusted),
            "self-signed"
        );
    }

    // Refused: a TLS error that says who refused and why.
    accept.store(false, Ordering::SeqCst);
    let e = ping(&tls_client(
        server.url("https"),
        TlsPolicy::Callback(callback),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let text = e.to_string();
    assert!(text.contains("certificate callback refused"), "{text}");
    assert!(text.contains(&colons(&sha256(&cert.der))), "{text}");

    // A panicking callback refuses, and the panic stays inside.
    let panics = CertificateCallback::new(|_| panic!("callback bug"));
    let e = ping(&tls_client(
        server.url("https"),
        TlsPolicy::Callback(panics),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn a_certificate_callback_cannot_excuse_a_handshake_without_the_private_key() {
    let cert = self_signed(&["xapi.invalid"]);
    let other_key = rcgen::KeyPair::generate().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(rustls_pki_types::PrivateKeyDer::Pkcs8(
            other_key.serialize_der().into(),
        ))
        .unwrap();
    let copied = rustls::sign::CertifiedKey::new(vec![cert.der.clone().into()], key);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CopiedCertificate(Arc::new(copied))));
    let server = pong_server(Some(Arc::new(config)));
    let accept_all = xenapi::CertificateCallback::new(|_| true);
    let e = ping(&tls_client(
        server.url("https"),
        TlsPolicy::Callback(accept_all),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("private key"), "{e}");
}

#[test]
fn a_stalled_tls_handshake_times_out_at_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let c = Client::new(
        Options::new(format!("https://{addr}/"))
            .tls(TlsPolicy::InsecureSkipVerify)
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(3)),
    )
    .unwrap();
    let started = Instant::now();
    let e = ping(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("connect timeout of 0.5 s"), "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[test]
fn verify_rejects_a_self_signed_certificate_and_tells_its_fingerprint() {
    let cert = self_signed(&["127.0.0.1"]);
    let server = pong_server(Some(cert.config.clone()));
    let e = ping(&tls_client(server.url("https"), TlsPolicy::Verify)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("certificate not trusted (unknown issuer)"),
        "{text}"
    );
    assert!(text.contains(&colons(&sha256(&cert.der))), "{text}");
}

#[test]
fn a_ca_file_with_the_certificate_trusts_it_and_checks_the_name() {
    let cert = self_signed(&["127.0.0.1", "localhost"]);
    let server = pong_server(Some(cert.config.clone()));
    let dir = std::env::temp_dir().join(format!("xenapi-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.pem).unwrap();
    let c = tls_client(server.url("https"), TlsPolicy::CaFile(ca.clone()));
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));

    // The same CA, a certificate for another name.
    let other = self_signed(&["xapi.invalid"]);
    let server = pong_server(Some(other.config.clone()));
    let ca2 = dir.join("other.pem");
    std::fs::write(&ca2, &other.pem).unwrap();
    let e = ping(&tls_client(server.url("https"), TlsPolicy::CaFile(ca2))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("hostname mismatch"), "{e}");

    // A CA file that holds no certificate is refused up front.
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let e = Client::new(Options::new(server.url("https")).tls(TlsPolicy::CaFile(empty)))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn insecure_skip_verify_accepts_anything() {
    let cert = self_signed(&["xapi.invalid"]);
    let server = pong_server(Some(cert.config.clone()));
    let c = tls_client(server.url("https"), TlsPolicy::InsecureSkipVerify);
    assert_eq!(ping(&c).unwrap(), Value::from("pong"));
}

#[test]
fn tls_to_a_plain_http_port_is_a_tls_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut some = [0u8; 5];
        let _ = s.read(&mut some);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        thread::sleep(Duration::from_millis(200));
    });
    let e = ping(&tls_client(
        format!("https://{addr}/"),
        TlsPolicy::InsecureSkipVerify,
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("does not speak TLS"), "{e}");

    // A server that hangs up during the handshake.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut some = [0u8; 5];
        let _ = s.read(&mut some);
    });
    let e = ping(&tls_client(
        format!("https://{addr}/"),
        TlsPolicy::InsecureSkipVerify,
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("during the TLS handshake"), "{e}");
}

// ------------------------------------------------------------------------------------------------
// Sessions

const PASSWORD: &str = "Sw0rdfish-7c1e9a";

#[test]
fn session_logs_in_again_once_on_session_invalid() {
    let logins = Arc::new(AtomicUsize::new(0));
    let n = logins.clone();
    let server = xenapi_server(None, move |method, params| match method {
        "session.login_with_password" => {
            let k = n.fetch_add(1, Ordering::SeqCst) + 1;
            success(format!("OpaqueRef:s{k}"))
        }
        "session.logout" => success(""),
        _ => {
            if params[0] == Value::from("OpaqueRef:s1") {
                failure(&["SESSION_INVALID", "OpaqueRef:s1"])
            } else {
                success(params[0].clone())
            }
        }
    });
    let s = Session::connect(
        Options::new(server.url("http")).timeout(Duration::from_secs(2)),
        "root",
        PASSWORD,
    )
    .unwrap();
    assert_eq!(
        s.call("VM.get_all", vec![]).unwrap(),
        Value::from("OpaqueRef:s2")
    );
    assert_eq!(logins.load(Ordering::SeqCst), 2);
    let shown = format!("{s:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("OpaqueRef:s2"),
        "{shown}"
    );
}

#[test]
fn session_login_falls_back_to_two_arguments() {
    let server = xenapi_server(None, |method, params| match method {
        "session.login_with_password" if params.len() == 4 => failure(&[
            "MESSAGE_PARAMETER_COUNT_MISMATCH",
            "session.login_with_password",
            "2",
            "4",
        ]),
        "session.login_with_password" => {
            assert_eq!(params.len(), 2);
            success("00000000-0000-0000-0000-0000000000aa")
        }
        _ => success(""),
    });
    let s = Session::connect(
        Options::new(server.url("http")).timeout(Duration::from_secs(2)),
        "root",
        PASSWORD,
    )
    .unwrap();
    assert_eq!(s.dialect(), xenapi::Dialect::Xend);
}

#[test]
fn host_is_slave_redirect_keeps_the_tls_policy() {
    let cert = self_signed(&["xapi.invalid"]);
    let pin = TlsPolicy::Fingerprint(sha256(&cert.der));
    let coordinator = xenapi_server(Some(cert.config.clone()), |method, _| match method {
        "session.login_with_password" => success("OpaqueRef:coord"),
        _ => success(""),
    });
    let target = coordinator.addr.to_string();
    let member = xenapi_server(Some(cert.config.clone()), move |method, _| match method {
        "session.login_with_password" => failure(&["HOST_IS_SLAVE", &target]),
        _ => success(""),
    });
    let s = Session::connect(
        Options::new(member.url("https"))
            .tls(pin.clone())
            .timeout(Duration::from_secs(2)),
        "root",
        PASSWORD,
    )
    .unwrap();
    assert_eq!(s.url(), coordinator.url("https"));
    assert_eq!(s.client().options().tls_policy(), &pin);

    // A coordinator with another certificate fails the pin: the policy went along.
    let impostor = self_signed(&["xapi.invalid"]);
    let fake = xenapi_server(Some(impostor.config.clone()), |_, _| success("OpaqueRef:x"));
    let target = fake.addr.to_string();
    let member = xenapi_server(Some(cert.config.clone()), move |method, _| match method {
        "session.login_with_password" => failure(&["HOST_IS_SLAVE", &target]),
        _ => success(""),
    });
    let e = Session::connect(
        Options::new(member.url("https"))
            .tls(pin)
            .timeout(Duration::from_secs(2)),
        "root",
        PASSWORD,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("fingerprint mismatch"), "{e}");
}

/// Every error a login can end in, from servers that echo the request back where they can.
#[test]
fn no_error_ever_shows_the_password() {
    let echo = |req: &Req| String::from_utf8_lossy(&req.body).into_owned();
    let mut errors: Vec<Error> = Vec::new();
    let mut servers = Vec::new();
    // An API failure that echoes the password as a parameter.
    servers.push(xenapi_server(None, |_, params| {
        let p: Vec<String> = params
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .collect();
        let mut d = vec!["SESSION_AUTHENTICATION_FAILED"];
        d.extend(p.iter().map(String::as_str));
        failure(&d)
    }));
    // A garbage body that is the request itself.
    servers.push(spawn_server(None, move |req, w| {
        respond(w, "200 OK", &[], format!("oops {}", echo(req)).as_bytes());
        Flow::Close
    }));
    // XML that breaks in the middle of the echoed password.
    servers.push(spawn_server(None, move |req, w| {
        let body = format!(
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><bogus>{}",
            echo(req)
        );
        respond(w, "200 OK", &[], body.as_bytes());
        Flow::Close
    }));
    // An HTTP 500 page quoting the request.
    servers.push(spawn_server(None, move |req, w| {
        respond(
            w,
            "500 Internal Server Error",
            &[],
            format!("<html>{}</html>", echo(req)).as_bytes(),
        );
        Flow::Close
    }));
    // A truncated reply.
    servers.push(spawn_server(None, move |_, w| {
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<?xml");
        Flow::Close
    }));
    // A fault quoting the request.
    servers.push(spawn_server(None, move |req, w| {
        let body = codec::encode_fault(1, &echo(req), &Encoder::default());
        respond(w, "200 OK", &[], &body);
        Flow::Close
    }));
    for server in &servers {
        let opts = Options::new(server.url("http")).timeout(Duration::from_secs(1));
        errors.push(Session::connect(opts, "root", PASSWORD).unwrap_err());
    }
    // A pin mismatch and a timeout.
    let cert = self_signed(&["xapi.invalid"]);
    let tls = pong_server(Some(cert.config.clone()));
    let opts = Options::new(tls.url("https")).tls(TlsPolicy::Fingerprint([1; 32]));
    errors.push(Session::connect(opts, "root", PASSWORD).unwrap_err());
    let silent = spawn_server(None, |_, _| {
        thread::sleep(Duration::from_secs(5));
        Flow::Close
    });
    let opts = Options::new(silent.url("http")).timeout(Duration::from_millis(500));
    errors.push(Session::connect(opts, "root", PASSWORD).unwrap_err());

    let kinds: Vec<ErrorKind> = errors.iter().map(Error::kind).collect();
    for kind in [
        ErrorKind::Api,
        ErrorKind::Protocol,
        ErrorKind::Http,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
    ] {
        assert!(kinds.contains(&kind), "no {kind:?} among {kinds:?}");
    }
    for e in &errors {
        let shown = format!("{e} / {e:?}");
        assert!(!shown.contains(PASSWORD), "the password leaked: {shown}");
    }
}

#[test]
fn options_and_clients_never_show_a_password_in_debug() {
    let seen = Arc::new(Mutex::new(String::new()));
    let keep = seen.clone();
    let server = xenapi_server(None, move |method, params| {
        if method == "session.login_with_password" {
            *keep.lock().unwrap() = params[1].as_str().unwrap_or("").to_owned();
        }
        success("OpaqueRef:debug-secret-ref")
    });
    let opts = Options::new(server.url("http")).timeout(Duration::from_secs(2));
    let s = Session::connect(opts.clone(), "root", PASSWORD).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        PASSWORD,
        "the password went over the wire"
    );
    for shown in [format!("{s:?}"), format!("{opts:?}")] {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains("debug-secret-ref"), "{shown}");
    }
}

#[test]
fn connect_timeout_and_deadline_defaults_are_sane() {
    // Documented defaults: a 10 s connect timeout inside a 300 s whole-call deadline.
    let shown = format!("{:?}", Options::new("https://xapi.invalid"));
    assert!(shown.contains("connect_timeout: 10s"), "{shown}");
    assert!(shown.contains("timeout: 300s"), "{shown}");
}
