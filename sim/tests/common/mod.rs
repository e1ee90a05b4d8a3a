//! A minimal XML-RPC-over-HTTP/1.1 client for the tests (keep-alive, Content-Length replies),
//! using the project's codec.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use xenapi::codec::{decode_response, encode_call, Encoder, Limits, Response};
use xenapi::Value;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Client {
    pub addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Client {
            addr,
            reader: BufReader::new(s),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends a raw HTTP request and reads the reply (`Err` when the connection drops).
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Reply> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        let s = self.reader.get_mut();
        s.write_all(&msg)?;
        s.flush()?;
        read_reply(&mut self.reader)
    }

    /// The envelope of `method(params)`.
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Value {
        let body = encode_call(method, &params, &Encoder::default());
        let reply = self.request("POST", "/", &body).expect("reply");
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        match decode_response(&reply.body[..], Limits::default()).expect("decodes") {
            Response::Value(v) => v,
            Response::Fault { code, message } => panic!("fault {code} {message}"),
        }
    }

    /// The `Value` of a successful call (panics on failure).
    pub fn ok(&mut self, method: &str, params: Vec<Value>) -> Value {
        let env = self.call(method, params);
        assert_eq!(
            env.get("Status").and_then(Value::as_str),
            Some("Success"),
            "{method}: {env:?}"
        );
        env.get("Value").cloned().expect("Value")
    }

    /// The `ErrorDescription` of a failed call (panics on success).
    pub fn err(&mut self, method: &str, params: Vec<Value>) -> Vec<String> {
        let env = self.call(method, params);
        assert_eq!(
            env.get("Status").and_then(Value::as_str),
            Some("Failure"),
            "{method} should fail: {env:?}"
        );
        env.get("ErrorDescription")
            .and_then(Value::as_array)
            .expect("ErrorDescription")
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect()
    }

    pub fn login(&mut self) -> String {
        self.ok(
            "session.login_with_password",
            vec![s("root"), s("password"), s("1.0"), s("tests")],
        )
        .as_str()
        .expect("ref")
        .to_owned()
    }

    /// The ref of the VM called `name`.
    pub fn vm(&mut self, session: &str, name: &str) -> String {
        let refs = self.ok("VM.get_by_name_label", vec![s(session), s(name)]);
        refs.as_array().expect("set")[0]
            .as_str()
            .expect("ref")
            .to_owned()
    }

    pub fn power_state(&mut self, session: &str, vm: &str) -> String {
        self.ok("VM.get_power_state", vec![s(session), s(vm)])
            .as_str()
            .expect("state")
            .to_owned()
    }
}

pub fn read_reply<R: BufRead>(r: &mut R) -> std::io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed in headers",
            ));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.to_owned(), v.trim().to_owned()));
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

pub fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// `GET /sim/stats` as JSON.
pub fn stats(addr: SocketAddr) -> serde_json::Value {
    let mut c = Client::connect(addr);
    let r = c.request("GET", "/sim/stats", b"").expect("stats");
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).expect("json")
}

/// A list of strings from a reply (references, names).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_str().expect("a string").to_owned())
        .collect()
}
