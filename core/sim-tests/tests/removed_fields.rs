//! The fields xapi removed from the datamodel (lifecycle `removed`, e.g. since `tampa`:
//! `VM_metrics.VCPUs_utilisation`, `host_metrics.memory_free`, the `VIF_metrics`/`VBD_metrics`
//! throughputs), as today's xapi serves them: their getters answer `MESSAGE_REMOVED`, records still
//! carry them (`VCPUs_utilisation` as xapi's never-updated zeros, `memory_free` as xapi's monitor
//! keeps it). xend, and the simulator's `old_metrics` option, keep the old live values.

use xenapi::api::{codes, Host, HostMetrics, Vm, VmMetrics};
use xenapi::Ref;
use xenapi_tests::*;

fn vm(s: &xenapi::Session, name: &str) -> Ref<Vm> {
    Ref::new(vm_ref(s, name))
}

#[test]
fn xapi_getters_of_removed_fields_answer_message_removed() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let m = Vm::get_metrics(&s, &vm(&s, "vm03")).unwrap();
    let e = VmMetrics::get_vcpus_utilisation(&s, &m).unwrap_err();
    assert_eq!(e.code(), Some(codes::MESSAGE_REMOVED), "{e}");
    assert!(e.failure().unwrap().params().is_empty());
    let hm = Host::get_metrics(&s, &Ref::new(host_ref(&s))).unwrap();
    let e = HostMetrics::get_memory_free(&s, &hm).unwrap_err();
    assert_eq!(e.code(), Some(codes::MESSAGE_REMOVED), "{e}");
    // Every removed field, whatever its class, and before the reference is looked at.
    assert_failure(
        s.call(
            "VIF_metrics.get_io_read_kbs",
            vec!["OpaqueRef:nothing".into()],
        ),
        codes::MESSAGE_REMOVED,
        &[],
    );
    assert_failure(
        s.call(
            "VM_guest_metrics.get_memory",
            vec!["OpaqueRef:nothing".into()],
        ),
        codes::MESSAGE_REMOVED,
        &[],
    );
    // Fields that were not removed answer as before.
    assert!(VmMetrics::get_memory_actual(&s, &m).unwrap() > 0);
    assert!(HostMetrics::get_memory_total(&s, &hm).unwrap() > 0);
}

#[test]
fn xapi_records_carry_zeros_for_vcpus_and_live_free_memory() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    // A running guest with 3 vCPUs: xapi's `{0: 0.0}`, never updated.
    let m = Vm::get_metrics(&s, &vm(&s, "vm03")).unwrap();
    let rec = VmMetrics::get_record(&s, &m).unwrap();
    assert_eq!(rec.vcpus_number, 3);
    assert_eq!(rec.vcpus_utilisation.len(), 1);
    assert_eq!(rec.vcpus_utilisation.get(&0), Some(&0.0));
    // The same after a power cycle and in get_all_records.
    let halted = vm(&s, "vm02");
    Vm::start(&s, &halted, false, false).unwrap();
    let m2 = Vm::get_metrics(&s, &halted).unwrap();
    let all = VmMetrics::get_all_records(&s).unwrap();
    let rec2 = all.get(&m2).expect("the started VM's metrics");
    assert!(rec2.vcpus_utilisation.values().all(|f| *f == 0.0));
    assert_eq!(rec2.vcpus_utilisation.len(), 1);
    // The control domain: one zero per vCPU, numbered from 1.
    let dom0 = Vm::get_all_records(&s)
        .unwrap()
        .into_iter()
        .find(|(_, r)| r.is_control_domain)
        .expect("dom0");
    let d = VmMetrics::get_record(&s, &dom0.1.metrics).unwrap();
    let mut keys: Vec<i64> = d.vcpus_utilisation.keys().copied().collect();
    keys.sort();
    assert_eq!(keys, (1..=d.vcpus_number.max(1)).collect::<Vec<_>>());
    assert!(d.vcpus_utilisation.values().all(|f| *f == 0.0));
    // host_metrics.memory_free stays live in records (xapi's monitor_mem_host sets it).
    let hm = Host::get_metrics(&s, &Ref::new(host_ref(&s))).unwrap();
    let h = HostMetrics::get_record(&s, &hm).unwrap();
    assert!(h.memory_free > 0 && h.memory_free < h.memory_total, "{h:?}");
}

#[test]
fn old_metrics_and_xend_keep_live_values() {
    let old = sim_with(Dialect::Xapi, |c| c.old_metrics = true);
    let xend = sim(Dialect::Xend);
    for running in [&old, &xend] {
        let s = connect(running);
        let m = Vm::get_metrics(&s, &vm(&s, "vm03")).unwrap();
        let u = VmMetrics::get_vcpus_utilisation(&s, &m).unwrap();
        let mut keys: Vec<i64> = u.keys().copied().collect();
        keys.sort();
        assert_eq!(keys, [0, 1, 2], "one live figure per vCPU");
        assert!(u.values().all(|f| *f > 0.0 && *f <= 1.0), "{u:?}");
        let rec = VmMetrics::get_record(&s, &m).unwrap();
        assert_eq!(rec.vcpus_utilisation.len(), 3);
        let halted = Vm::get_metrics(&s, &vm(&s, "vm02")).unwrap();
        let h = VmMetrics::get_vcpus_utilisation(&s, &halted).unwrap();
        assert!(h.values().all(|f| *f == 0.0), "a halted VM uses nothing");
        let hm = Host::get_metrics(&s, &Host::get_all(&s).unwrap()[0]).unwrap();
        let free = HostMetrics::get_memory_free(&s, &hm).unwrap();
        let total = HostMetrics::get_memory_total(&s, &hm).unwrap();
        assert!(free > 0 && free < total);
    }
}
