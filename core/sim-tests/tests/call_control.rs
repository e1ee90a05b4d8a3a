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

#[test]
fn call_async_completes_on_a_worker_with_the_blocking_result() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..50 {
        let tx = tx.clone();
        s.call_async("VM.get_all", vec![], move |r| {
            let _ = tx.send((std::thread::current().name().map(str::to_owned), r));
        });
    }
    let blocking = s.call("VM.get_all", vec![]).unwrap();
    for _ in 0..50 {
        let (thread, r) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(thread.as_deref(), Some("xenapi-call"));
        assert_eq!(r.unwrap(), blocking);
    }
    // Failures come back the same way.
    s.call_async("VM.get_record", vec!["OpaqueRef:nope".into()], move |r| {
        let _ = tx.send((None, r));
    });
    let (_, r) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(r.unwrap_err().code(), Some("HANDLE_INVALID"));
}

#[test]
fn a_fired_cancel_stops_calls_of_its_view_only() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cancel = xenapi::Cancel::new();
    let view = s.with_call_options(&xenapi::CallOptions::new().cancel(cancel.clone()));
    assert!(view.call("VM.get_all", vec![]).is_ok());
    cancel.cancel();
    let e = view.call("VM.get_all", vec![]).unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e}");
    assert_eq!(e.kind(), xenapi::ErrorKind::Cancelled);
    assert!(
        s.call("VM.get_all", vec![]).is_ok(),
        "the session stays usable"
    );
    // A later view keeps the cancel unless it sets another.
    let later = view.with_timeout(Duration::from_secs(5));
    assert!(later.call("VM.get_all", vec![]).is_err());
}

#[test]
fn the_timeout_bounds_the_whole_login() {
    let sim = sim(Dialect::Xapi);
    // Each request takes 400 ms; a login makes three (the JSON-RPC login, then the pool's
    // members for failover): with a 1 s timeout the whole login must end by about 1 s.
    sim.set_delay(Duration::from_millis(400));
    let started = Instant::now();
    let r = Session::connect(
        Options::new(sim.url()).timeout(Duration::from_millis(1000)),
        "root",
        "password",
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "login took {took:?}: {r:?}"
    );
}

#[test]
fn traceparents_are_checked() {
    assert!(xenapi::CallOptions::new()
        .traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .is_ok());
    assert!(xenapi::CallOptions::new()
        .traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: 1")
        .is_err());
}

#[test]
fn the_user_agent_names_the_binding() {
    let o = Options::new("http://h").binding("xenapi-rs-python", "1.2.3");
    assert_eq!(
        o.user_agent(),
        format!(
            "xenapi-rs-python/1.2.3 xenapi-rs/{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(Options::new("http://h")
        .user_agent()
        .starts_with("xenapi-rs/"));
}
