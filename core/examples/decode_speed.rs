//! How fast the codec reads and writes a `VM.get_all_records` reply of 2,000 VMs (~18 MB), over
//! XML-RPC and over JSON-RPC (the same records as xapi writes them in JSON).
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

    let ok = |r: Response| {
        assert!(
            matches!(&r, Response::Value(v) if v.get("Status").and_then(|s| s.as_str()) == Some("Success"))
        )
    };
    let report = |what: &str, best: f64| {
        println!(
            "{what}: {mb:.1} MB in {:.1} ms = {:.0} MB/s ({vms} VMs, best of {rounds})",
            best * 1e3,
            mb / best
        )
    };
    let only = std::env::var("DECODE_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only == name;

    if want("stream") {
        report(
            "decode (stream, &[u8])",
            best_of(rounds, || {
                ok(codec::decode_response(&xml[..], Limits::default()).expect("decodes"))
            }),
        );
    }
    if want("bufreader") {
        // As the transport reads: a 64 KiB BufReader over the body.
        report(
            "decode (stream, BufReader 64K)",
            best_of(rounds, || {
                let r = std::io::BufReader::with_capacity(64 * 1024, &xml[..]);
                ok(codec::decode_response(r, Limits::default()).expect("decodes"))
            }),
        );
    }
    if want("slice") {
        report(
            "decode (slice)",
            best_of(rounds, || {
                ok(codec::decode_response_slice(&xml[..], Limits::default()).expect("decodes"))
            }),
        );
    }
    if want("readall") {
        // Reading the whole body into memory first, then the slice decoder.
        report(
            "decode (read all, then slice)",
            best_of(rounds, || {
                let mut body = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::BufReader::with_capacity(64 * 1024, &xml[..]),
                    &mut body,
                )
                .unwrap();
                ok(codec::decode_response_slice(&body, Limits::default()).expect("decodes"))
            }),
        );
    }
    if want("json") {
        // The same records as a JSON-RPC reply, decoded as the transport does (64 KiB
        // BufReader) and normalised back to XML-RPC's types, as `Client::call` does.
        let records = value.get("Value").expect("a Value").clone();
        let wire = xenapi::jsonrpc::denormalise("VM.get_all_records", records);
        let json = xenapi::jsonrpc::encode_response(Ok(&wire), &xenapi::Value::Int(1), true);
        let json_mb = json.len() as f64 / 1e6;
        let best = best_of(rounds, || {
            let r = std::io::BufReader::with_capacity(64 * 1024, &json[..]);
            match xenapi::jsonrpc::decode_response(r, Limits::default(), 1).expect("decodes") {
                xenapi::jsonrpc::Reply::Result(v) => {
                    let v = xenapi::jsonrpc::normalise("VM.get_all_records", v);
                    assert!(matches!(v, xenapi::Value::Struct(ref m) if m.len() == vms));
                }
                other => panic!("{other:?}"),
            }
        });
        println!(
            "decode JSON-RPC (stream, BufReader 64K, normalised): {json_mb:.1} MB in {:.1} ms = \
             {:.0} MB/s ({vms} VMs, best of {rounds})",
            best * 1e3,
            json_mb / best
        );
    }
    if want("floor") {
        // quick-xml alone, for comparison: every event read and dropped.
        report(
            "quick-xml events only (buffered)",
            best_of(rounds, || quick_xml_floor_buffered(&xml)),
        );
        report(
            "quick-xml events only (slice)",
            best_of(rounds, || quick_xml_floor_slice(&xml)),
        );
    }
    if !only.is_empty() {
        return;
    }

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

fn best_of(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

#[inline(never)]
fn quick_xml_floor_buffered(xml: &[u8]) {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf).expect("well-formed") {
            quick_xml::events::Event::Eof => break,
            e => drop(std::hint::black_box(e)),
        }
    }
}

#[inline(never)]
fn quick_xml_floor_slice(xml: &[u8]) {
    let mut reader = quick_xml::Reader::from_reader(xml);
    loop {
        match reader.read_event().expect("well-formed") {
            quick_xml::events::Event::Eof => break,
            e => drop(std::hint::black_box(e)),
        }
    }
}
