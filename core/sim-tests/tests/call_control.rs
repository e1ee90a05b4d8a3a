//! Call control: a per-call deadline over the session's default, and the cap on calls in
//! flight per session.

use std::time::{Duration, Instant};

use xenapi::{Error, Options, Session};
use xenapi_tests::*;

#[test]
fn a_per_call_deadline_overrides_the_sessions() {
    let sim = sim(Dialect::Xapi);
    let s = Session::connect(
        Options::new(sim.url()).timeout(Duration::from_millis(700)),
        "root",
        "password",
    )
    .unwrap();
    sim.set_delay(Duration::from_millis(1200));
    let e = s.call("VM.get_all", vec![]).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    let e = s
        .with_timeout(Duration::from_millis(300))
        .call("VM.get_all", vec![])
        .unwrap_err();
    assert!(e.to_string().contains("0.3 s"), "{e}");
    let long = s.with_timeout(Duration::from_secs(10));
    assert_eq!(long.timeout(), Duration::from_secs(10));
    assert!(!long
        .call("VM.get_all", vec![])
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    // The typed API takes the view as a session.
    assert!(!xenapi::api::Vm::get_all(&long).unwrap().is_empty());
    sim.set_delay(Duration::ZERO);
    assert_eq!(
        s.timeout(),
        Duration::from_millis(700),
        "the session keeps its own"
    );
}

fn in_parallel(s: &Session, threads: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.call("VM.get_all", vec![]))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn calls_beyond_the_cap_wait_for_a_slot() {
    let sim = sim(Dialect::Xapi);
    let s = Session::connect(options(&sim).max_concurrent_calls(3), "root", "password").unwrap();
    assert_eq!(s.max_concurrent_calls(), 3);
    sim.set_delay(Duration::from_millis(150));
    sim.reset_max_in_flight();
    let start = Instant::now();
    in_parallel(&s, 12);
    assert_eq!(sim.stats().max_in_flight, 3);
    // 12 calls, 3 at a time, 150 ms each.
    assert!(
        start.elapsed() >= Duration::from_millis(550),
        "{:?}",
        start.elapsed()
    );

    // The default is 20.
    let d = connect(&sim);
    assert_eq!(
        d.max_concurrent_calls(),
        xenapi::DEFAULT_MAX_CONCURRENT_CALLS
    );
    assert_eq!(xenapi::DEFAULT_MAX_CONCURRENT_CALLS, 20);
    sim.reset_max_in_flight();
    in_parallel(&d, 30);
    assert_eq!(sim.stats().max_in_flight, 20);
}

#[test]
fn waiting_for_a_slot_counts_against_the_deadline() {
    let sim = sim(Dialect::Xapi);
    let s = Session::connect(options(&sim).max_concurrent_calls(1), "root", "password").unwrap();
    sim.set_delay(Duration::from_millis(1000));
    let busy = {
        let s = s.clone();
        std::thread::spawn(move || s.call("VM.get_all", vec![]))
    };
    std::thread::sleep(Duration::from_millis(200));
    let e = s
        .with_timeout(Duration::from_millis(300))
        .call("VM.get_all", vec![])
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("call slots"), "{e}");
    busy.join().unwrap().unwrap();
}
