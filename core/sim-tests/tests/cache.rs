//! The live object cache against the simulator: the fill, events in order (add, mod, del), and
//! each recovery: `EVENTS_LOST`, a refused token, session expiry, a dropped connection, xend's
//! `event.register/next`, and a prompt close.

use std::time::{Duration, Instant};

use xenapi::api::{Host, Vm, VmPowerState};
use xenapi::cache::{Cache, CacheOptions, Change, ChangeKind};
use xenapi::Value;
use xenapi_tests::*;

fn quick() -> CacheOptions {
    CacheOptions {
        poll_timeout: Duration::from_secs(1),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..CacheOptions::default()
    }
}

/// Changes until `want` matches one (returned), at most 10 s.
fn wait_change(cache: &Cache, mut want: impl FnMut(&Change) -> bool) -> (Change, Vec<Change>) {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(c) = cache.next_change(Duration::from_millis(200)) {
            if want(&c) {
                return (c, seen);
            }
            seen.push(c);
        }
    }
    panic!(
        "no such change in 10 s; saw {seen:?}; status {:?}",
        cache.status()
    );
}

fn power(c: &Change) -> Option<String> {
    c.record
        .as_ref()?
        .get("power_state")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The cache holds what `VM.get_all_records` says, record for record (once the events in
/// flight are applied).
fn assert_matches_server(cache: &Cache, s: &xenapi::Session) {
    // The cache keeps no order (a hash map by reference); the server's reply has one.
    let server: std::collections::HashMap<_, _> =
        Vm::get_all_records(s).unwrap().into_iter().collect();
    wait_until(Duration::from_secs(5), || {
        cache.records::<Vm>().unwrap() == server
    });
    let cached = cache.records::<Vm>().unwrap();
    assert_eq!(cached.len(), server.len());
    for (r, rec) in &server {
        assert_eq!(cached.get(r), Some(rec), "{r}");
    }
}

#[test]
fn fills_then_applies_add_mod_del_in_order() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM", "host"], quick()).unwrap();
    assert_eq!(cache.classes(), ["VM", "host"]);
    assert_matches_server(&cache, &s);
    let hosts = cache.records::<Host>().unwrap();
    assert_eq!(hosts.len(), 1);
    // Untyped, as get_record gives it.
    let vm = vm_ref(&s, "vm02");
    let value = cache.value("vm", &vm).expect("cached");
    assert_eq!(
        *value,
        s.call("VM.get_record", vec![vm.as_str().into()]).unwrap()
    );

    let actor = connect(&sim);
    start(&actor, &vm, false).unwrap();
    vm_op(&actor, "VM.pause", &vm).unwrap();
    let (first, _) = wait_change(&cache, |c| c.reference == vm && power(c).is_some());
    assert_eq!(first.kind, ChangeKind::Mod);
    assert_eq!(first.class, "VM");
    // Running, then Paused: never the other way round.
    let states = {
        let mut v = vec![power(&first).unwrap()];
        if v[0] != "Paused" {
            let (c, _) = wait_change(&cache, |c| {
                c.reference == vm && power(c).as_deref() == Some("Paused")
            });
            v.push(power(&c).unwrap());
        }
        v
    };
    assert_eq!(
        states.last().map(String::as_str),
        Some("Paused"),
        "{states:?}"
    );
    assert!(!states.contains(&"Halted".to_owned()), "{states:?}");
    let rec = cache
        .get(&xenapi::Ref::<Vm>::new(vm.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(rec.power_state, VmPowerState::Paused);

    // An add, then a del of the same object.
    let halted = vm_ref(&actor, "vm04");
    let clone = actor
        .call("VM.clone", vec![halted.as_str().into(), "copy".into()])
        .unwrap();
    let clone = clone.as_str().unwrap().to_owned();
    let (added, _) = wait_change(&cache, |c| c.reference == clone);
    assert_eq!(added.kind, ChangeKind::Add);
    assert_eq!(
        added
            .record_as::<xenapi::api::VmRecord>()
            .unwrap()
            .unwrap()
            .name_label,
        "copy"
    );
    actor
        .call("VM.destroy", vec![clone.as_str().into()])
        .unwrap();
    let (deleted, _) = wait_change(&cache, |c| {
        c.reference == clone && c.kind != ChangeKind::Mod
    });
    assert_eq!(deleted.kind, ChangeKind::Del);
    assert!(cache.value("VM", &clone).is_none());
    assert_matches_server(&cache, &s);
    let st = cache.status();
    assert!(st.events >= 3 && st.errors == 0 && st.connected, "{st:?}");
    cache.close();
}

#[test]
fn a_subscriber_sees_changes_from_when_it_subscribed() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    let vm = vm_ref(&s, "vm02");
    let sub = cache.subscribe();
    start(&s, &vm, false).unwrap();
    let c = sub.next_timeout(Duration::from_secs(10)).expect("a change");
    assert_eq!(
        (c.kind, c.reference.as_str()),
        (ChangeKind::Mod, vm.as_str())
    );
    cache.close();
    // Closed: the iterator ends once what was queued is read.
    assert!(sub.count() < 100);
}

#[test]
fn events_lost_fetches_everything_again() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    sim.lose_events();
    // A change the lost events would have told: the refetch has it.
    let actor = connect(&sim);
    let vm = vm_ref(&actor, "vm02");
    start(&actor, &vm, false).unwrap();
    wait_change(&cache, |c| c.kind == ChangeKind::Refetched);
    assert!(cache.status().refetches >= 1);
    // The start is in the refetch, or told after it.
    let id = xenapi::Ref::<Vm>::new(vm.clone());
    assert!(wait_until(Duration::from_secs(10), || {
        cache.get(&id).unwrap().unwrap().power_state == VmPowerState::Running
    }));
    assert_matches_server(&cache, &s);
    // And it goes on from the new token.
    vm_op(&actor, "VM.pause", &vm).unwrap();
    wait_change(&cache, |c| power(c).as_deref() == Some("Paused"));
}

#[test]
fn a_refused_token_fetches_everything_again() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    sim.invalidate_event_tokens();
    wait_change(&cache, |c| c.kind == ChangeKind::Refetched);
    let vm = vm_ref(&s, "vm02");
    start(&s, &vm, false).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Running")
    });
    assert_matches_server(&cache, &s);
}

#[test]
fn an_expired_session_logs_in_again_and_goes_on() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    let logins = sim.stats().logins;
    assert!(sim.expire_sessions() >= 1);
    let actor = connect(&sim);
    let vm = vm_ref(&actor, "vm02");
    start(&actor, &vm, false).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Running")
    });
    // Within a poll timeout the cache's next call meets SESSION_INVALID and logs in again.
    assert!(
        wait_until(Duration::from_secs(5), || sim.stats().logins >= logins + 2),
        "{:?}",
        sim.stats()
    );
    vm_op(&actor, "VM.pause", &vm).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Paused")
    });
    assert_eq!(cache.status().errors, 0, "the re-login is inside the call");
}

#[test]
fn a_dropped_connection_reconnects_with_backoff() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    sim.set_fault(Some(Fault::Reset), u64::MAX);
    assert!(
        wait_until(Duration::from_secs(10), || cache.status().errors >= 2),
        "{:?}",
        cache.status()
    );
    let st = cache.status();
    assert!(!st.connected && st.last_error.is_some(), "{st:?}");
    sim.set_fault(None, 0);
    let vm = vm_ref(&s, "vm02");
    start(&s, &vm, false).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Running")
    });
    assert!(cache.status().connected);
    assert_matches_server(&cache, &s);
}

#[test]
fn xend_registers_and_follows_event_next() {
    let sim = sim_with(Dialect::Xend, |c| {
        c.event_next_wait = Duration::from_millis(500)
    });
    let s = connect(&sim);
    let cache = Cache::with_options(&s, &["VM"], quick()).unwrap();
    assert_matches_server(&cache, &s);
    let actor = connect(&sim);
    let vm = vm_ref(&actor, "vm02");
    start(&actor, &vm, false).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Running")
    });
    // Lost events: registered and read again.
    sim.lose_events();
    wait_change(&cache, |c| c.kind == ChangeKind::Refetched);
    // A new session after expiry is not registered: the cache registers it again.
    sim.expire_sessions();
    wait_change(&cache, |c| c.kind == ChangeKind::Refetched);
    vm_op(&actor, "VM.pause", &vm).unwrap();
    wait_change(&cache, |c| {
        c.reference == vm && power(c).as_deref() == Some("Paused")
    });
    assert_matches_server(&cache, &s);
    assert!(
        Cache::new(&s, &["*"]).is_err(),
        "xend: classes must be named"
    );
}

#[test]
fn close_is_prompt_and_ends_the_changes() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    // A long poll: close must not wait it out.
    let opts = CacheOptions {
        poll_timeout: Duration::from_secs(15),
        ..CacheOptions::default()
    };
    let cache = Cache::with_options(&s, &["VM"], opts).unwrap();
    let sub = cache.subscribe();
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    cache.close();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert!(cache.is_closed());
    assert!(sub.next_timeout(Duration::from_secs(5)).is_none());
    assert!(cache.next_change(Duration::from_secs(5)).is_none());
    assert!(t0.elapsed() < Duration::from_secs(2));
    // The last state stays readable.
    assert_eq!(
        cache.refs("VM").len(),
        s.call("VM.get_all", vec![])
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    );
    cache.close();
}

#[test]
fn unknown_classes_are_refused() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let e = Cache::new(&s, &["VM", "nosuch"]).unwrap_err();
    assert!(e.to_string().contains("nosuch"), "{e}");
}
