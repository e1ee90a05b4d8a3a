//! How fast the codec reads and writes a `VM.get_all_records` reply of 2,000 VMs (~18 MB), over
//! XML-RPC and over JSON-RPC (the same records as xapi writes them in JSON).
//!
//! `cargo run --release --example decode_speed [VMS] [ROUNDS] [DUMP_FILE]` (the payload is written
//! to `DUMP_FILE` if given, for inspection or external profilers).

#[path = "../benches/support/payload.rs"]
mod payload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use xenapi::codec::{self, Limits, Response};

/// The system allocator, counting the bytes in use and their peak: the peak memory figures.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        IN_USE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            let now = IN_USE.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(now, Relaxed);
            IN_USE.fetch_sub(layout.size(), Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most heap `f` had in use at once beyond what was in use before it, with what it returned
/// still alive (so the decoded values count).
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    let before = IN_USE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    let peak = PEAK.load(Relaxed) - before;
    drop(out);
    peak
}

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
        );
        r
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
                    v
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
    if want("memory") {
        // Heap in use while decoding, beyond the reply itself (the transport never holds it
        // whole): the values and the decoder's buffers, as it reads from the socket.
        let xml_peak = peak_of(|| {
            let r = std::io::BufReader::with_capacity(64 * 1024, &xml[..]);
            ok(codec::decode_response(r, Limits::default()).expect("decodes"))
        });
        println!(
            "peak memory decoding XML-RPC (stream): {:.1} MB = {:.2}x the {mb:.1} MB reply",
            xml_peak as f64 / 1e6,
            xml_peak as f64 / xml.len() as f64
        );
        // What the decoder counts against `max_value_bytes` (the least limit that lets the reply
        // through), and so how many such VMs the default limit fits.
        let (mut lo, mut hi) = (0u64, 1u64 << 40);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            let limits = Limits {
                max_value_bytes: mid,
                ..Limits::default()
            };
            match codec::decode_response_slice(&xml, limits) {
                Ok(_) => hi = mid,
                Err(_) => lo = mid,
            }
        }
        let default = codec::DEFAULT_MAX_BYTES as f64;
        let fits =
            (default / (hi as f64 / vms as f64)).min(default / (xml.len() as f64 / vms as f64));
        println!(
            "counted against the value limit: {:.1} MB; the default limit ({} MiB) fits \
             VM.get_all_records of about {:.0} such VMs",
            hi as f64 / 1e6,
            codec::DEFAULT_MAX_BYTES >> 20,
            (fits / 1000.0).floor() * 1000.0
        );
        let records = value.get("Value").expect("a Value").clone();
        let wire = xenapi::jsonrpc::denormalise("VM.get_all_records", records);
        let json = xenapi::jsonrpc::encode_response(Ok(&wire), &xenapi::Value::Int(1), true);
        let json_peak = peak_of(|| {
            let r = std::io::BufReader::with_capacity(64 * 1024, &json[..]);
            match xenapi::jsonrpc::decode_response(r, Limits::default(), 1).expect("decodes") {
                xenapi::jsonrpc::Reply::Result(v) => {
                    xenapi::jsonrpc::normalise("VM.get_all_records", v)
                }
                other => panic!("{other:?}"),
            }
        });
        println!(
            "peak memory decoding JSON-RPC (stream, normalised): {:.1} MB = {:.2}x the XML-RPC \
             reply, {:.2}x the {:.1} MB JSON reply",
            json_peak as f64 / 1e6,
            json_peak as f64 / xml.len() as f64,
            json_peak as f64 / json.len() as f64,
            json.len() as f64 / 1e6
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

/// The best time of `rounds` runs of `f`; what `f` returns is dropped outside the timing (freeing
/// the values is not decoding them).
fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        drop(out);
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
