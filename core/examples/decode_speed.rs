//! How fast the codec reads and writes a `VM.get_all_records` reply of 2,000 VMs (~18 MB).
//!
//! `cargo run --release --example decode_speed [VMS] [ROUNDS] [DUMP_FILE]` (the payload is written
//! to `DUMP_FILE` if given, for inspection or external profilers).

#[path = "../benches/support/payload.rs"]
mod payload;

use std::time::Instant;

use xenapi::codec::{self, Limits, Response};

fn main() {
    let mut args = std::env::args().skip(1);
    let vms: usize = args.next().map_or(2000, |a| a.parse().expect("VMS"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("ROUNDS"));
    let value = payload::vm_records_reply(vms);
    let xml = codec::encode_response(&value, &payload::XAPI_STYLE);
    let mb = xml.len() as f64 / 1e6;
    if let Some(path) = args.next() {
        std::fs::write(&path, &xml).unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        let r = codec::decode_response(&xml[..], Limits::default()).expect("decodes");
        best = best.min(t.elapsed().as_secs_f64());
        assert!(
            matches!(&r, Response::Value(v) if v.get("Status").and_then(|s| s.as_str()) == Some("Success"))
        );
    }
    println!(
        "decode: {mb:.1} MB in {:.1} ms = {:.0} MB/s ({vms} VMs, best of {rounds})",
        best * 1e3,
        mb / best
    );

    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = codec::encode_response(&value, &payload::XAPI_STYLE);
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(out.len(), xml.len());
    }
    println!(
        "encode: {mb:.1} MB in {:.1} ms = {:.0} MB/s",
        best * 1e3,
        mb / best
    );
}
