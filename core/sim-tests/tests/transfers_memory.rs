//! A 1 GiB disk into and out of the simulator with bounded memory: the process's resident size
//! (simulator and client, in one process; this file has only this test so nothing else runs
//! beside it) grows by a few MiB, not by the disk's size.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use xenapi::Value;
use xenapi_tests::*;

const MIB: u64 = 1 << 20;
const SIZE: u64 = 1 << 30;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_1_gib_disk_both_ways_in_bounded_memory() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let pool = s.call("pool.get_all", vec![]).unwrap().as_array().unwrap()[0].clone();
    let sr = s.call("pool.get_default_SR", vec![pool]).unwrap();
    let rec = Value::Struct(vec![
        ("name_label".into(), "big".into()),
        ("name_description".into(), "".into()),
        ("SR".into(), sr),
        ("virtual_size".into(), Value::String(SIZE.to_string())),
        ("type".into(), "user".into()),
        ("sharable".into(), false.into()),
        ("read_only".into(), false.into()),
        ("other_config".into(), Value::Struct(vec![])),
        ("xenstore_data".into(), Value::Struct(vec![])),
        ("sm_config".into(), Value::Struct(vec![])),
        ("tags".into(), Value::Array(vec![])),
    ]);
    let vdi = s
        .call("VDI.create", vec![rec])
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let q = format!("session_id={}&vdi={vdi}&format=raw", s.handle().unwrap());

    let base = rss_kib();
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kib(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // In: zeros but for the last MiB (a sparse upload stays sparse on the simulator's side).
    let mut c = TcpStream::connect(sim.addr()).unwrap();
    write!(
        c,
        "PUT /import_raw_vdi?{q} HTTP/1.1\r\nContent-Length: {SIZE}\r\n\r\n"
    )
    .unwrap();
    let zeros = vec![0u8; MIB as usize];
    for _ in 0..SIZE / MIB - 1 {
        c.write_all(&zeros).unwrap();
    }
    let tail: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8 | 1).collect();
    c.write_all(&tail).unwrap();
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    // Out, read a MiB at a time, the tail kept.
    let mut c = TcpStream::connect(sim.addr()).unwrap();
    write!(c, "GET /export_raw_vdi?{q} HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let mut got = 0u64;
    let mut last = Vec::new();
    let mut head_done = false;
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if !head_done {
            let end = chunk
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("head in the first read");
            assert!(chunk.starts_with(b"HTTP/1.1 200"));
            chunk = &chunk[end + 4..];
            head_done = true;
        }
        got += chunk.len() as u64;
        last.extend_from_slice(chunk);
        if last.len() > 2 * MIB as usize {
            last.drain(..last.len() - MIB as usize);
        }
    }
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert_eq!(got, SIZE);
    assert_eq!(
        &last[last.len() - MIB as usize..],
        &tail[..],
        "the last MiB came back"
    );
    let grew = peak.load(Ordering::SeqCst).saturating_sub(base) / 1024;
    println!("1 GiB in and out: resident size grew by {grew} MiB");
    assert!(grew < 48, "memory stays bounded: grew by {grew} MiB");
}
