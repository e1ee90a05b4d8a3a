//! Codec throughput: decode and encode of a `VM.get_all_records` reply of 2,000 VMs (~18 MB, every
//! field of the `VM` class, xapi's style), and decode of a small login reply.
//!
//! `cargo bench -p xenapi --bench codec` (MB/s is printed as throughput).

#[path = "support/payload.rs"]
mod payload;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xenapi::codec::{self, Limits};

fn big_reply(c: &mut Criterion) {
    let value = payload::vm_records_reply(2000);
    let xml = codec::encode_response(&value, &payload::XAPI_STYLE);
    let mut g = c.benchmark_group("VM.get_all_records 2000 VMs");
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("decode_response", |b| {
        b.iter(|| codec::decode_response(black_box(&xml[..]), Limits::default()).unwrap())
    });
    g.bench_function("encode_response", |b| {
        b.iter(|| codec::encode_response(black_box(&value), &payload::XAPI_STYLE))
    });
    g.finish();
}

fn login_reply(c: &mut Criterion) {
    let xml = payload::login_reply_xml();
    let mut g = c.benchmark_group("login reply");
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.bench_function("decode_response", |b| {
        b.iter(|| codec::decode_response(black_box(&xml[..]), Limits::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, big_reply, login_reply);
criterion_main!(benches);
