//! The talk's scenario again, through the generated typed API (`xenapi::api`), in both dialects.

use std::time::Duration;

use xenapi::api::{Host, HostCpu, HostMetrics, Vm, VmMetrics, VmPowerState, VmRecord};
use xenapi::event::{Events, Operation};
use xenapi::{codes, task, FromValue, Ref, Session};
use xenapi_tests::*;

const GIB: i64 = 1 << 30;

fn vm(s: &Session, name: &str) -> Ref<Vm> {
    let refs = Vm::get_by_name_label(s, name).unwrap();
    assert_eq!(refs.len(), 1, "{name}");
    refs[0].clone()
}

#[test]
fn typed_scenario() {
    for d in DIALECTS {
        // The talk's metric fields live, as xend and xapi before 6.1 have them.
        let sim = sim_with(d, |c| c.old_metrics = true);
        let s = connect(&sim);

        let methods = Host::list_methods(&s).unwrap();
        assert!(methods.iter().any(|m| m == "VM.start"));

        // xm list.
        let records = Vm::get_all_records(&s).unwrap();
        assert_eq!(records.len(), 5);
        let mut guests: Vec<&VmRecord> =
            records.values().filter(|r| !r.is_control_domain).collect();
        guests.sort_by(|a, b| a.name_label.cmp(&b.name_label));
        for (i, g) in guests.iter().enumerate() {
            let n = i as i64 + 1;
            assert_eq!(g.name_label, format!("vm{n:02}"));
            assert_eq!(g.memory_dynamic_max, n * GIB);
            assert_eq!(g.vcpus_max, n);
            if n % 2 == 1 {
                assert_eq!(g.power_state, VmPowerState::Running);
                assert!(g.domid > 0);
            } else {
                assert_eq!(g.power_state, VmPowerState::Halted);
                assert_eq!(g.domid, -1);
            }
        }

        // Power operations (the core drops `force` for xend's 3-argument start/resume).
        let v = vm(&s, "vm02");
        let state = || Vm::get_power_state(&s, &v).unwrap();
        Vm::start(&s, &v, false, false).unwrap();
        assert_eq!(state(), VmPowerState::Running);
        Vm::pause(&s, &v).unwrap();
        assert_eq!(state(), VmPowerState::Paused);
        Vm::unpause(&s, &v).unwrap();
        Vm::suspend(&s, &v).unwrap();
        assert_eq!(state(), VmPowerState::Suspended);
        Vm::resume(&s, &v, false, false).unwrap();
        assert_eq!(state(), VmPowerState::Running);
        let before = Vm::get_domid(&s, &v).unwrap();
        Vm::clean_reboot(&s, &v).unwrap();
        Vm::hard_reboot(&s, &v).unwrap();
        assert!(Vm::get_domid(&s, &v).unwrap() > before);
        Vm::clean_shutdown(&s, &v).unwrap();
        assert_eq!(state(), VmPowerState::Halted);
        Vm::start(&s, &v, true, false).unwrap();
        assert_eq!(state(), VmPowerState::Paused);
        Vm::hard_shutdown(&s, &v).unwrap();
        assert_eq!(state(), VmPowerState::Halted);

        // Wrong state: the typed call carries the failure.
        let running = vm(&s, "vm01");
        let e = Vm::start(&s, &running, false, false).unwrap_err();
        let (h, r) = (state_word(d, "Halted"), state_word(d, "Running"));
        assert_eq!(e.code(), Some(codes::VM_BAD_POWER_STATE));
        assert_eq!(e.failure().unwrap().params(), [running.as_str(), &h, &r]);

        // CPU and memory.
        let m = Vm::get_metrics(&s, &vm(&s, "vm03")).unwrap();
        let rec = VmMetrics::get_record(&s, &m).unwrap();
        let mut vcpus: Vec<i64> = rec.vcpus_utilisation.keys().copied().collect();
        vcpus.sort();
        assert_eq!(vcpus, [0, 1, 2]);
        assert!(rec
            .vcpus_utilisation
            .values()
            .all(|f| *f > 0.0 && *f <= 1.0));
        assert!(rec.memory_actual > 2 * GIB);
        let halted =
            VmMetrics::get_vcpus_utilisation(&s, &Vm::get_metrics(&s, &v).unwrap()).unwrap();
        assert!(halted.values().all(|f| *f == 0.0));
        let host = Host::get_all(&s).unwrap().remove(0);
        for c in Host::get_host_cpus(&s, &host).unwrap() {
            let u = HostCpu::get_utilisation(&s, &c).unwrap();
            assert!((0.0..=1.0).contains(&u));
        }
        let hm = Host::get_metrics(&s, &host).unwrap();
        let total = HostMetrics::get_memory_total(&s, &hm).unwrap();
        let free = HostMetrics::get_memory_free(&s, &hm).unwrap();
        assert_eq!(total, 256 * GIB);
        assert!(free > 0 && free < total);

        assert!(Host::dmesg(&s, &host).unwrap().contains("(vm02) created"));
        assert!(Host::get_log(&s, &host)
            .unwrap()
            .contains("VM.hard_shutdown vm02"));

        s.logout().unwrap();
        assert_eq!(sim.session_count(), 0);
    }
}

#[test]
fn typed_async_and_events() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let v = vm(&s, "vm02");
        let mut events = Events::new(&s, &["vm"], Duration::from_secs(5));
        let first = events.poll_once().unwrap();
        assert_eq!(first.len(), 5);
        assert!(first.iter().all(|e| e.operation == Operation::Add));

        let t = Vm::async_start(&s, &v, false, false).unwrap();
        task::wait(&s, &t, Duration::from_secs(10)).expect("the task succeeds");
        assert_eq!(Vm::get_power_state(&s, &v).unwrap(), VmPowerState::Running);
        // The same start again fails inside the task; wait gives the failure.
        let t = Vm::async_start(&s, &v, false, false).unwrap();
        let e = task::wait(&s, &t, Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.code(), Some(codes::VM_BAD_POWER_STATE), "{e}");

        // The start shows up as a `mod` of vm02 with the new state in its snapshot.
        let mut seen = None;
        for _ in 0..5 {
            for e in events.poll_once().unwrap() {
                if e.reference == v.as_str() && e.operation == Operation::Mod {
                    seen = e.snapshot.clone();
                }
            }
            if seen.is_some() {
                break;
            }
        }
        let snap = VmRecord::from_value(seen.expect("a mod event for vm02")).unwrap();
        assert_eq!(snap.power_state, VmPowerState::Running);
        assert_eq!(snap.name_label, "vm02");
    }
}
