//! Each injected fault, armed through the library API and through the side channel.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{s, Client};
use xenapi::codec::{encode_call, Encoder};
use xenapi_sim::{Config, Fault, Simulator};

fn login_body() -> Vec<u8> {
    encode_call(
        "session.login_with_password",
        &[s("root"), s("password")],
        &Encoder::default(),
    )
}

fn arm(addr: std::net::SocketAddr, query: &str) {
    let mut c = Client::connect(addr);
    let r = c
        .request("POST", &format!("/sim/fault?{query}"), b"")
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn reset_closes_without_a_reply_once() {
    let sim = Simulator::start(Config::default()).unwrap();
    arm(sim.addr(), "kind=reset&count=1");
    let mut c = Client::connect(sim.addr());
    assert!(c.request("POST", "/", &login_body()).is_err());
    let mut c = Client::connect(sim.addr());
    assert_eq!(c.request("POST", "/", &login_body()).unwrap().status, 200);
}

#[test]
fn http500_and_garbage() {
    let sim = Simulator::start(Config::default()).unwrap();
    sim.set_fault(Some(Fault::Http500), 2);
    let mut c = Client::connect(sim.addr());
    assert_eq!(c.request("POST", "/", &login_body()).unwrap().status, 500);
    assert_eq!(c.request("POST", "/", &login_body()).unwrap().status, 500);
    assert_eq!(c.request("POST", "/", &login_body()).unwrap().status, 200);
    arm(sim.addr(), "kind=garbage");
    let r = c.request("POST", "/", &login_body()).unwrap();
    assert_eq!(r.status, 200);
    assert!(xenapi::codec::decode_response(&r.body[..], Default::default()).is_err());
    // Cleared after one.
    assert!(!c.login().is_empty());
}

#[test]
fn truncate_sends_half_the_body() {
    let sim = Simulator::start(Config::default()).unwrap();
    sim.set_fault(Some(Fault::Truncate), 1);
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    let body = login_body();
    let mut req = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(&body);
    s.write_all(&req).unwrap();
    let mut r = BufReader::new(s);
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(len > 0 && got.len() == len / 2, "{} of {len}", got.len());
}

#[test]
fn drip_sends_one_byte_per_interval_and_delay_delays() {
    let sim = Simulator::start(Config {
        drip_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .unwrap();
    arm(sim.addr(), "kind=drip");
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    let body = login_body();
    let mut req = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(&body);
    s.write_all(&req).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 5 {
        got += s.read(&mut buf).unwrap();
    }
    let elapsed = t.elapsed();
    assert!(got <= 6, "{got} bytes arrived at once");
    assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");

    let mut c = Client::connect(sim.addr());
    let r = c.request("POST", "/sim/delay?ms=300", b"").unwrap();
    assert_eq!(r.status, 200);
    let t = Instant::now();
    c.login();
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn side_channel_rejects_bad_requests() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    assert_eq!(
        c.request("POST", "/sim/fault?kind=meteor", b"")
            .unwrap()
            .status,
        400
    );
    assert_eq!(c.request("GET", "/sim/nothing", b"").unwrap().status, 404);
    arm(sim.addr(), "kind=reset&count=always");
    let mut c2 = Client::connect(sim.addr());
    assert!(c2.request("POST", "/", &login_body()).is_err());
    let mut c3 = Client::connect(sim.addr());
    assert!(c3.request("POST", "/", &login_body()).is_err());
    arm(sim.addr(), "kind=none");
    assert!(!Client::connect(sim.addr()).login().is_empty());
}
