//! Round trips against the embedded simulator over loopback: a small call
//! (`VM.get_power_state`) and `VM.get_all_records` with 2,000 VMs, decode included.
//!
//! `cargo bench -p xenapi-tests --bench roundtrip`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xenapi::{Options, Session, Value};
use xenapi_sim::{Config, Dialect, Simulator};

fn small_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("small_call");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(3));
    for dialect in [Dialect::Xapi, Dialect::Xend] {
        let sim = Simulator::start(Config {
            dialect,
            ..Config::default()
        })
        .expect("sim");
        let s = Session::connect(Options::new(sim.url()), "root", "password").expect("login");
        let vm = s
            .call("VM.get_by_name_label", vec!["vm01".into()])
            .expect("vm01");
        let vm = vm.as_array().expect("refs")[0].clone();
        group.bench_function(format!("VM.get_power_state/{dialect:?}"), |b| {
            b.iter(|| {
                let v = s
                    .call("VM.get_power_state", vec![vm.clone()])
                    .expect("call");
                assert_eq!(v.as_str(), Some("Running"));
            })
        });
    }
    group.finish();
}

fn all_records(c: &mut Criterion) {
    const VMS: usize = 2_000;
    let sim = Simulator::start(Config {
        vms: VMS,
        ..Config::default()
    })
    .expect("sim");
    let s = Session::connect(
        Options::new(sim.url()).timeout(Duration::from_secs(60)),
        "root",
        "password",
    )
    .expect("login");
    let mut group = c.benchmark_group("get_all_records");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    group.throughput(Throughput::Elements(VMS as u64 + 1));
    group.bench_function("VM.get_all_records/2000", |b| {
        b.iter(|| {
            let v = s.call("VM.get_all_records", vec![]).expect("call");
            match v {
                Value::Struct(m) => assert_eq!(m.len(), VMS + 1),
                other => panic!("{}", other.type_name()),
            }
        })
    });
    group.finish();
}

criterion_group!(benches, small_call, all_records);
criterion_main!(benches);
