//! The binary: its ready lines, HTTPS with a fingerprint and a CA file, and a 2000-VM payload.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

use common::{s, Client};
use xenapi::codec::{decode_response, encode_call, Encoder, Limits, Response};
use xenapi_sim::{Config, Simulator};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Kill, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xenapi-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let done = line.starts_with("listening on ");
        lines.push(line);
        if done {
            break;
        }
    }
    (Kill(child), lines)
}

#[test]
fn plain_binary_prints_one_ready_line() {
    let (_k, lines) = spawn(&["--listen", "127.0.0.1:0", "--vms", "2", "--dialect", "xend"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let addr = lines[0].strip_prefix("listening on http://").unwrap();
    let mut c = Client::connect(addr.parse().unwrap());
    let ss = c.ok(
        "session.login_with_password",
        vec![s("root"), s("password")],
    );
    assert!(!ss.as_str().unwrap().starts_with("OpaqueRef:"));
}

#[test]
fn tls_prints_the_fingerprint_and_serves_https() {
    let dir = std::env::temp_dir().join(format!("xenapi-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("cert.pem");
    let (_k, lines) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--cert-out",
        pem.to_str().unwrap(),
        "--user",
        "admin",
        "--password",
        "s3cret",
    ]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let fp = lines[0].strip_prefix("fingerprint sha256 ").unwrap();
    assert_eq!(fp.len(), 32 * 3 - 1);
    assert!(fp
        .chars()
        .all(|c| c == ':' || c.is_ascii_digit() || c.is_ascii_uppercase()));
    let addr = lines[1].strip_prefix("listening on https://").unwrap();

    let der = CertificateDer::from_pem_file(&pem).unwrap();
    let want: String = Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(fp, want);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = encode_call(
        "session.login_with_password",
        &[s("admin"), s("s3cret"), s("1.0"), s("t")],
        &Encoder::default(),
    );
    let mut req = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    tls.write_all(&req).unwrap();
    let mut r = BufReader::new(tls);
    let reply = common::read_reply(&mut r).unwrap();
    assert_eq!(reply.status, 200);
    let Response::Value(v) = decode_response(&reply.body[..], Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(v.get("Status"), Some(&s("Success")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_thousand_vms_get_all_records() {
    let sim = Simulator::start(Config {
        vms: 2000,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let body = encode_call("VM.get_all_records", &[s(&ss)], &Encoder::default());
    let t = Instant::now();
    let reply = c.request("POST", "/", &body).unwrap();
    let elapsed = t.elapsed();
    assert!(reply.body.len() > 10_000_000, "{}", reply.body.len());
    // Generous: debug builds; the release build answers in a fraction of this.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let Response::Value(v) = decode_response(&reply.body[..], Limits::default()).unwrap() else {
        panic!()
    };
    let records = v.get("Value").unwrap().as_struct().unwrap();
    assert_eq!(records.len(), 2001);
    let names: Vec<&str> = records
        .iter()
        .filter_map(|(_, r)| r.get("name_label").and_then(|n| n.as_str()))
        .collect();
    assert!(names.contains(&"vm0001") && names.contains(&"vm2000"));
}
