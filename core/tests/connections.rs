//! Pooled connections that a server closes or breaks: what is retried, and what is not.
//!
//! A small scripted HTTP server on a loopback port plays each case, connection by connection;
//! it counts the requests it read, so a test can tell whether a call reached it twice.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use xenapi::{Client, Error, Options, Value};

/// What the server does with one connection.
#[derive(Clone, Copy, Debug)]
enum Play {
    /// Answer every request, keep-alive, until the client closes.
    Serve,
    /// Answer one request with keep-alive (no `Connection: close`), then wait until the next
    /// request arrives and close without reading it.
    AnswerThenDropNext,
    /// Read the request, send the head and half the body, then close.
    HalfReply,
    /// As `HalfReply`, but leave the request's body unread so that the close is a reset.
    HalfReplyReset,
}

struct Server {
    url: String,
    /// Requests read in full.
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The last connection ends when the client's pool is dropped; do not wait for it.
        drop(self.thread.take());
    }
}

fn reply_body() -> Vec<u8> {
    let v = Value::structure([("Status", "Success".into()), ("Value", "Running".into())]);
    xenapi::codec::encode_response(&v, &xenapi::codec::Encoder::default())
}

fn head(len: usize) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len}\r\n\r\n")
}

/// Reads one request's head; with `body`, its body too. `None` when the client closed.
fn read_request(s: &mut TcpStream, body: bool) -> Option<()> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    if body {
        let mut b = vec![0u8; len];
        s.read_exact(&mut b).ok()?;
    }
    Some(())
}

fn serve(plays: Vec<Play>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    let thread = std::thread::spawn(move || {
        let body = reply_body();
        for play in plays {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            match play {
                Play::Serve => {
                    while read_request(&mut s, true).is_some() {
                        counted.fetch_add(1, Ordering::SeqCst);
                        s.write_all(head(body.len()).as_bytes()).unwrap();
                        s.write_all(&body).unwrap();
                    }
                }
                Play::AnswerThenDropNext => {
                    read_request(&mut s, true).unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    s.write_all(head(body.len()).as_bytes()).unwrap();
                    s.write_all(&body).unwrap();
                    // The next request is in the socket, unread: closing now resets.
                    let mut one = [0u8; 1];
                    let _ = s.peek(&mut one);
                    drop(s);
                }
                Play::HalfReply | Play::HalfReplyReset => {
                    let full = matches!(play, Play::HalfReply);
                    read_request(&mut s, full).unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    s.write_all(head(body.len()).as_bytes()).unwrap();
                    s.write_all(&body[..body.len() / 2]).unwrap();
                    s.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                    if full {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    drop(s);
                }
            }
        }
    });
    Server {
        url,
        requests,
        thread: Some(thread),
    }
}

fn client(server: &Server) -> Client {
    Client::new(Options::new(server.url.as_str()).timeout(Duration::from_secs(5))).unwrap()
}

fn vm() -> Vec<Value> {
    vec!["OpaqueRef:s".into(), "OpaqueRef:vm".into()]
}

#[test]
fn a_pooled_connection_closed_between_calls_is_retried_for_any_call() {
    for method in ["VM.get_power_state", "VM.start", "VM.destroy"] {
        let server = serve(vec![Play::AnswerThenDropNext, Play::Serve]);
        let c = client(&server);
        assert_eq!(c.call(method, &vm()).unwrap(), Value::from("Running"));
        // Goes out on the pooled connection, which the server drops unread; then again.
        assert_eq!(
            c.call(method, &vm()).unwrap(),
            Value::from("Running"),
            "{method}"
        );
        assert_eq!(server.requests.load(Ordering::SeqCst), 2, "{method}");
        // And the new connection is pooled in turn.
        c.call(method, &vm()).unwrap();
        assert_eq!(server.requests.load(Ordering::SeqCst), 3, "{method}");
    }
}

#[test]
fn a_reply_cut_short_is_retried_for_a_getter() {
    for play in [Play::HalfReply, Play::HalfReplyReset] {
        for method in ["VM.get_power_state", "VM.get_all_records", "host.get_all"] {
            let server = serve(vec![play, Play::Serve]);
            let c = client(&server);
            assert_eq!(
                c.call(method, &vm()).unwrap(),
                Value::from("Running"),
                "{method} {play:?}"
            );
            assert_eq!(
                server.requests.load(Ordering::SeqCst),
                2,
                "{method} {play:?}"
            );
        }
    }
}

#[test]
fn a_reply_cut_short_is_an_error_for_a_call_with_side_effects() {
    for play in [Play::HalfReply, Play::HalfReplyReset] {
        for method in ["VM.start", "VM.set_name_label", "Async.VM.get_power_state"] {
            let server = serve(vec![play, Play::Serve]);
            let c = client(&server);
            let e = c.call(method, &vm()).unwrap_err();
            assert!(
                matches!(e, Error::Connect { .. } | Error::Protocol(_)),
                "{method} {play:?}: {e:?}"
            );
            assert_eq!(
                server.requests.load(Ordering::SeqCst),
                1,
                "{method} {play:?}: not sent twice"
            );
        }
    }
}

#[test]
fn a_getter_is_retried_once_only() {
    let server = serve(vec![Play::HalfReply, Play::HalfReply, Play::Serve]);
    let c = client(&server);
    let e = c.call("VM.get_power_state", &vm()).unwrap_err();
    assert!(
        matches!(e, Error::Connect { .. } | Error::Protocol(_)),
        "{e:?}"
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}
