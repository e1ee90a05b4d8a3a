//! Transport failures injected by the simulator (`Fault`), deadlines and delays: each maps to
//! its `Error` kind, nothing hangs, and the session works again afterwards.

use std::time::{Duration, Instant};

use xenapi::{Error, ErrorKind, Session};
use xenapi_tests::*;

fn faulty(d: Dialect) -> (Running, Session) {
    let sim = sim_with(d, |c| c.drip_interval = Duration::from_millis(200));
    let s = connect(&sim);
    (sim, s)
}

fn call(s: &Session) -> xenapi::Result<xenapi::Value> {
    s.call("VM.get_all", vec![])
}

/// After the fault the next call works (on a new connection where needed).
fn recovers(s: &Session) {
    let v = call(s).expect("works again after the fault");
    assert_eq!(v.as_array().unwrap().len(), 5);
}

/// A call with side effects: never sent twice when its reply is lost mid-way.
fn set_call(s: &Session, vm: &str) -> xenapi::Result<xenapi::Value> {
    s.call("VM.set_name_description", vec![vm.into(), "faults".into()])
}

#[test]
fn reset_is_a_connect_error() {
    for d in DIALECTS {
        let (sim, s) = faulty(d);
        // The reset comes on a pooled connection before any byte of the reply, as when the
        // server closed it between calls: sent again once, on a new connection, which the
        // second fault resets too.
        sim.set_fault(Some(Fault::Reset), 2);
        let e = expect_kind(call(&s), ErrorKind::Connect);
        assert!(
            matches!(&e, Error::Connect { url, .. } if *url == sim.url()),
            "{e:?}"
        );
        recovers(&s);
        // One reset: the retry hides it.
        sim.set_fault(Some(Fault::Reset), 1);
        recovers(&s);
    }
}

#[test]
fn http_500_is_an_http_error() {
    for d in DIALECTS {
        let (sim, s) = faulty(d);
        sim.set_fault(Some(Fault::Http500), 1);
        let e = expect_kind(call(&s), ErrorKind::Http);
        assert!(matches!(e, Error::Http { status: 500, .. }), "{e:?}");
        assert!(e.to_string().contains("500"), "{e}");
        recovers(&s);
    }
}

#[test]
fn garbage_is_a_protocol_error() {
    for d in DIALECTS {
        let (sim, s) = faulty(d);
        sim.set_fault(Some(Fault::Garbage), 1);
        expect_kind(call(&s), ErrorKind::Protocol);
        recovers(&s);
    }
}

#[test]
fn truncated_reply_is_an_error_not_a_hang() {
    for d in DIALECTS {
        let (sim, s) = faulty(d);
        let vm = vm_ref(&s, "vm01");
        // A getter is sent again once; two truncations in a row are an error.
        sim.set_fault(Some(Fault::Truncate), 2);
        let t0 = Instant::now();
        let e = call(&s).expect_err("half a reply is not a reply");
        assert!(
            matches!(e.kind(), ErrorKind::Connect | ErrorKind::Protocol),
            "{e:?}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        recovers(&s);
        sim.set_fault(Some(Fault::Truncate), 1);
        recovers(&s);
        // A call with side effects is not sent again: the error is reported.
        let before = sim.stats().calls;
        sim.set_fault(Some(Fault::Truncate), 1);
        let e = set_call(&s, &vm).expect_err("half a reply is not a reply");
        assert!(
            matches!(e.kind(), ErrorKind::Connect | ErrorKind::Protocol),
            "{e:?}"
        );
        assert_eq!(sim.stats().calls - before, 1, "sent once");
        recovers(&s);
    }
}

#[test]
fn drip_hits_the_deadline() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.drip_interval = Duration::from_millis(200));
        let deadline = Duration::from_millis(800);
        let s = Session::connect(options(&sim).timeout(deadline), "root", "password").unwrap();
        sim.set_fault(Some(Fault::Drip), 1);
        let t0 = Instant::now();
        let e = expect_kind(call(&s), ErrorKind::Timeout);
        let took = t0.elapsed();
        assert!(
            took >= deadline - Duration::from_millis(50)
                && took < deadline + Duration::from_secs(1),
            "timed out after {took:?}, deadline {deadline:?}: {e}"
        );
        recovers(&s);
    }
}

#[test]
fn delay_below_the_deadline_succeeds() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = Session::connect(
            options(&sim).timeout(Duration::from_secs(2)),
            "root",
            "password",
        )
        .unwrap();
        sim.set_delay(Duration::from_millis(300));
        let t0 = Instant::now();
        recovers(&s);
        assert!(t0.elapsed() >= Duration::from_millis(300));
        // A delay above the deadline times out.
        let s2 = Session::connect(
            options(&sim).timeout(Duration::from_millis(600)),
            "root",
            "password",
        )
        .unwrap();
        sim.set_delay(Duration::from_millis(1000));
        expect_kind(call(&s2), ErrorKind::Timeout);
        sim.set_delay(Duration::ZERO);
        recovers(&s2);
    }
}

#[test]
fn faults_at_login_are_reported_as_such() {
    let sim = sim(Dialect::Xapi);
    for p in [xenapi::Protocol::XmlRpc, xenapi::Protocol::JsonRpc] {
        sim.set_fault(Some(Fault::Http500), 1);
        let e = Session::connect(options(&sim).protocol(p), "root", "password").unwrap_err();
        assert!(matches!(e, Error::Http { status: 500, .. }), "{p:?}: {e:?}");
        sim.set_fault(Some(Fault::Garbage), 1);
        let e = Session::connect(options(&sim).protocol(p), "root", "password").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{p:?}: {e:?}");
    }
    // Auto reads a failed JSON-RPC login as "no JSON-RPC here" and logs in over XML-RPC.
    sim.set_fault(Some(Fault::Http500), 1);
    let s = connect(&sim);
    assert_eq!(s.protocol(), xenapi::Protocol::XmlRpc);
    connect(&sim);
}

#[test]
fn unreachable_host_is_a_connect_error() {
    // A port that was free a moment ago: nothing listens there now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let e = Session::connect(xenapi::Options::new(&url), "root", "password").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[test]
fn repeated_faults_then_recovery() {
    let (sim, s) = faulty(Dialect::Xapi);
    sim.set_fault(Some(Fault::Http500), 3);
    for _ in 0..3 {
        expect_kind(call(&s), ErrorKind::Http);
    }
    recovers(&s);
    sim.set_fault(Some(Fault::Reset), u64::MAX);
    expect_kind(call(&s), ErrorKind::Connect);
    expect_kind(call(&s), ErrorKind::Connect);
    sim.set_fault(None, 0);
    recovers(&s);
}
