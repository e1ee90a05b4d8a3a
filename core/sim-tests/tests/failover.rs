//! Pool failover: the coordinator stops (the simulator's HA control), the session finds the new
//! one among the pool's members and goes on; a call in flight is sent again only if it reads.

use std::time::{Duration, Instant};

use xenapi::api::Vm;
use xenapi::{Error, Options, Session};
use xenapi_tests::*;

fn pool(hosts: usize) -> Running {
    sim_with(Dialect::Xapi, |c| c.hosts = hosts)
}

fn session(sim: &Running, failover: bool) -> Session {
    let o = Options::new(sim.url())
        .timeout(Duration::from_secs(20))
        .failover(failover);
    Session::connect(o, "root", "password").unwrap()
}

#[test]
fn members_answer_on_their_own_addresses() {
    let sim = pool(3);
    let s = session(&sim, true);
    let mut addrs = s.pool_addresses();
    addrs.sort();
    assert_eq!(addrs, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    let port = sim.addr().port();
    assert_eq!(
        sim.member_urls(),
        [
            format!("http://127.0.0.2:{port}/"),
            format!("http://127.0.0.3:{port}/")
        ]
    );
    // A member refuses a pool session's calls, naming the coordinator.
    let handle = s.handle().unwrap();
    let member = xenapi::Client::new(Options::new(&sim.member_urls()[0])).unwrap();
    let e = member.call("VM.get_all", &[handle.into()]).unwrap_err();
    assert_eq!(e.code(), Some(xenapi::codes::HOST_IS_SLAVE));
    assert_eq!(e.failure().unwrap().params(), [sim.addr().to_string()]);
}

#[test]
fn the_next_call_goes_to_the_new_coordinator() {
    let sim = pool(3);
    let s = session(&sim, true);
    let before = Vm::get_all(&s).unwrap().len();
    let logins = sim.stats().logins;
    let new = sim.failover(None).unwrap();
    assert_eq!(new, sim.member_urls()[0]);
    assert_eq!(sim.coordinator_url(), new);
    // The old coordinator's port is closed.
    assert!(xenapi::Client::new(Options::new(sim.url()))
        .unwrap()
        .call(
            "session.login_with_password",
            &["root".into(), "password".into()]
        )
        .is_err());
    let start = Instant::now();
    assert_eq!(Vm::get_all(&s).unwrap().len(), before);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(s.url(), new);
    assert_eq!(
        sim.stats().logins,
        logins + 1,
        "logged in at the new coordinator"
    );
    // A side-effect call that was never sent goes through too.
    let vm = vm_ref(&s, "vm02");
    s.call(
        "VM.start",
        vec![vm.clone().into(), false.into(), false.into()],
    )
    .unwrap();
    assert_eq!(power_state(&s, &vm), "Running");

    // And once more, to the third host, naming it.
    let third = sim.failover(Some(3)).unwrap();
    assert_eq!(third, sim.member_urls()[1]);
    s.call("VM.get_all", vec![]).unwrap();
    assert_eq!(s.url(), third);
}

#[test]
fn a_call_in_flight_is_retried_only_if_it_reads() {
    let sim = pool(2);
    let s = session(&sim, true);
    let vm = vm_ref(&s, "vm02");
    sim.set_delay(Duration::from_millis(800));
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || s.call("VM.get_all_records", vec![]))
    };
    let writer = {
        let s = s.clone();
        let vm = vm.clone();
        std::thread::spawn(move || s.call("VM.clone", vec![vm.into(), "in-flight".into()]))
    };
    std::thread::sleep(Duration::from_millis(300));
    sim.failover(None).unwrap();
    sim.set_delay(Duration::ZERO);
    let records = reader.join().unwrap().expect("a getter is sent again");
    assert!(records.as_struct().unwrap().len() >= 5);
    let e = writer
        .join()
        .unwrap()
        .expect_err("a side-effect call is not");
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("may have been carried out"), "{shown}");
    assert!(shown.contains(&sim.member_urls()[0]), "{shown}");
    // It was carried out once (the server had done it before the reply was lost).
    let copies = s
        .call("VM.get_by_name_label", vec!["in-flight".into()])
        .unwrap();
    assert_eq!(copies.as_array().unwrap().len(), 1);
    assert_eq!(s.url(), sim.member_urls()[0]);
}

#[test]
fn failover_can_be_turned_off() {
    let sim = pool(2);
    let s = session(&sim, false);
    assert!(s.pool_addresses().is_empty(), "not even noted");
    sim.failover(None).unwrap();
    let e = s.call("VM.get_all", vec![]).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    assert_eq!(s.url(), sim.url());
}

#[test]
fn many_threads_fail_over_once() {
    let sim = pool(3);
    let s = session(&sim, true);
    let logins = sim.stats().logins;
    sim.failover(Some(2)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || Vm::get_all(&s).map(|v| v.len()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(sim.stats().logins, logins + 1);
}
