//! Typed maps keep the order the server sent, call after call: against the simulator (which
//! answers in its insertion order, as xapi answers in its database's) over both protocols, and
//! against a raw server that sends fixed orders no sort or hash would give.

use xenapi::api::{Vm, VmMetrics};
use xenapi::codec::{decode_call, encode_response, Encoder, Limits};
use xenapi::{IndexMap, Options, Protocol, Ref, Session, Value};
use xenapi_tests::*;

const ROUNDS: usize = 20;

/// Keys added in this order: neither sorted nor the order of any one hash of them.
const ADDED: [&str; 8] = [
    "zeta", "alpha", "mu", "beta", "omega", "kappa", "delta", "psi",
];

/// The member names of a struct, in wire order.
fn wire_keys(v: &Value) -> Vec<String> {
    v.as_struct()
        .expect("a struct")
        .iter()
        .map(|(k, _)| k.clone())
        .collect()
}

fn keys<K: Clone, V>(m: &IndexMap<K, V>) -> Vec<K> {
    m.keys().cloned().collect()
}

#[test]
fn other_config_reads_back_in_the_order_it_was_added() {
    let running = sim(Dialect::Xapi);
    for protocol in [Protocol::XmlRpc, Protocol::JsonRpc] {
        let s = Session::connect(options(&running).protocol(protocol), "root", "password")
            .expect("login");
        let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm02"));
        Vm::set_other_config(&s, &vm, &IndexMap::<String, String>::new()).unwrap();
        for (i, k) in ADDED.iter().enumerate() {
            Vm::add_to_other_config(&s, &vm, k, &i.to_string()).unwrap();
        }
        // The simulator itself answers in insertion order (what the client must then keep).
        let raw = s
            .call("VM.get_other_config", vec![vm.as_str().into()])
            .unwrap();
        assert_eq!(
            wire_keys(&raw),
            ADDED,
            "{protocol:?}: the simulator's order"
        );

        for round in 0..ROUNDS {
            let rec = Vm::get_record(&s, &vm).unwrap();
            assert_eq!(keys(&rec.other_config), ADDED, "{protocol:?} round {round}");
            let values: Vec<&str> = rec.other_config.values().map(String::as_str).collect();
            assert_eq!(values, ["0", "1", "2", "3", "4", "5", "6", "7"]);
            let field = Vm::get_other_config(&s, &vm).unwrap();
            assert_eq!(keys(&field), ADDED, "{protocol:?} round {round}");
        }

        // A map read back goes out in the same order: set it again, the server keeps it.
        let mut m = Vm::get_other_config(&s, &vm).unwrap();
        m.move_index(0, ADDED.len() - 1); // zeta last
        Vm::set_other_config(&s, &vm, &m).unwrap();
        let mut expected = ADDED[1..].to_vec();
        expected.push("zeta");
        assert_eq!(keys(&Vm::get_other_config(&s, &vm).unwrap()), expected);
        s.logout().unwrap();
    }
}

#[test]
fn get_all_records_keeps_the_servers_order_of_objects() {
    let running = sim_with(Dialect::Xapi, |c| c.vms = 12);
    let s = connect(&running);
    let raw = s.call("VM.get_all_records", vec![]).unwrap();
    let expected = wire_keys(&raw);
    assert!(
        expected.len() > 12,
        "the VMs, dom0 and templates: {expected:?}"
    );
    let mut sorted = expected.clone();
    sorted.sort();
    assert_ne!(expected, sorted, "the references are not sent sorted");
    for round in 0..ROUNDS {
        let all = Vm::get_all_records(&s).unwrap();
        let got: Vec<String> = all.keys().map(|r| r.as_str().to_owned()).collect();
        assert_eq!(got, expected, "round {round}");
    }
}

/// A server that sends fixed replies: every request on a connection of its own.
fn fixed_server(answer: fn(&str) -> Value) -> String {
    raw_server("text/xml", move |request| {
        let (method, _) = decode_call(request, Limits::default()).ok()?;
        let envelope = Value::structure([("Status", "Success".into()), ("Value", answer(&method))]);
        Some(encode_response(&envelope, &Encoder::default()))
    })
}

/// CPU numbers as a server might send them: not in numeric, string or hash order.
const CPUS: [i64; 7] = [5, 0, 12, 3, 1, 10, 2];
const OTHER: [&str; 5] = ["z", "a", "m", "b", "y"];
const VMS: [&str; 4] = ["OpaqueRef:d", "OpaqueRef:a", "OpaqueRef:c", "OpaqueRef:b"];

fn fixed_answer(method: &str) -> Value {
    let other = || Value::structure(OTHER.map(|k| (k, Value::from(k.to_uppercase()))));
    match method {
        "session.login_with_password" => "OpaqueRef:session".into(),
        "VM_metrics.get_VCPUs_utilisation" => {
            Value::structure(CPUS.map(|c| (c.to_string(), Value::Double(c as f64 / 100.0))))
        }
        "VM.get_other_config" => other(),
        "VM.get_all_records" => Value::structure(VMS.map(|r| {
            (
                r,
                Value::structure([("name_label", Value::from(r)), ("other_config", other())]),
            )
        })),
        // The pool's addresses after login, and logout: nothing.
        "host.get_all_records" => Value::structure::<&str>([]),
        _ => "".into(),
    }
}

#[test]
fn a_raw_servers_order_is_kept_for_every_key_type() {
    let url = fixed_server(fixed_answer);
    let options = Options::new(url).protocol(Protocol::XmlRpc);
    let s = Session::connect(options, "root", "password").unwrap();
    let metrics: Ref<VmMetrics> = Ref::new("OpaqueRef:m");
    let vm: Ref<Vm> = Ref::new("OpaqueRef:v");
    for round in 0..ROUNDS {
        let cpus = VmMetrics::get_vcpus_utilisation(&s, &metrics).unwrap();
        assert_eq!(keys(&cpus), CPUS, "round {round}");
        assert_eq!(cpus.get_index(2), Some((&12, &0.12)));
        assert_eq!(cpus[&10], 0.10);

        let other = Vm::get_other_config(&s, &vm).unwrap();
        assert_eq!(keys(&other), OTHER, "round {round}");

        let all = Vm::get_all_records(&s).unwrap();
        let refs: Vec<&str> = all.keys().map(Ref::as_str).collect();
        assert_eq!(refs, VMS, "round {round}");
        for rec in all.values() {
            assert_eq!(keys(&rec.other_config), OTHER, "round {round}");
        }
    }
}
