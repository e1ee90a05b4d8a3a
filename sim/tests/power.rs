//! The VM power-state machine, every VM_BAD_POWER_STATE case, and the metrics that follow it.

mod common;

use common::{s, Client};
use xenapi::Value;
use xenapi_sim::{Config, Dialect, Simulator};

const F: Value = Value::Bool(false);
const T: Value = Value::Bool(true);

/// Calls `VM.<op>` with the arguments the dialect expects.
fn op(c: &mut Client, d: Dialect, session: &str, vm: &str, op: &str) -> Value {
    let mut params = vec![s(session), s(vm)];
    match (op, d) {
        ("start" | "resume", Dialect::Xapi) => params.extend([F, F]),
        ("start" | "resume", Dialect::Xend) => params.push(F),
        ("start_paused", Dialect::Xapi) => params.extend([T, F]),
        ("start_paused", Dialect::Xend) => params.push(T),
        _ => {}
    }
    let method = if op == "start_paused" { "start" } else { op };
    c.call(&format!("VM.{method}"), params)
}

fn ok(c: &mut Client, d: Dialect, session: &str, vm: &str, name: &str) {
    let env = op(c, d, session, vm, name);
    assert_eq!(env.get("Status"), Some(&s("Success")), "{name}: {env:?}");
}

fn bad(c: &mut Client, d: Dialect, session: &str, vm: &str, name: &str) -> Vec<String> {
    let env = op(c, d, session, vm, name);
    assert_eq!(env.get("Status"), Some(&s("Failure")), "{name} should fail");
    env.get("ErrorDescription")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn domid(c: &mut Client, session: &str, vm: &str) -> i64 {
    c.ok("VM.get_domid", vec![s(session), s(vm)])
        .as_i64()
        .unwrap()
}

#[test]
fn full_cycle_xapi() {
    let d = Dialect::Xapi;
    // The metric getters these walk through live, as before xapi 6.1 (`--old-metrics`).
    let sim = Simulator::start(Config {
        old_metrics: true,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let vm = c.vm(&ss, "vm02");
    assert_eq!(c.power_state(&ss, &vm), "Halted");
    assert_eq!(domid(&mut c, &ss, &vm), -1);
    let metrics = c
        .ok("VM.get_metrics", vec![s(&ss), s(&vm)])
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.ok("VM_metrics.get_memory_actual", vec![s(&ss), s(&metrics)]),
        s("0")
    );

    ok(&mut c, d, &ss, &vm, "start");
    assert_eq!(c.power_state(&ss, &vm), "Running");
    let d1 = domid(&mut c, &ss, &vm);
    assert!(d1 > 0);
    let host = c.ok("VM.get_resident_on", vec![s(&ss), s(&vm)]);
    assert!(host.as_str().unwrap().starts_with("OpaqueRef:") && host != s("OpaqueRef:NULL"));
    let mem = c
        .ok("VM_metrics.get_memory_actual", vec![s(&ss), s(&metrics)])
        .as_i64()
        .unwrap();
    assert!(mem > 1 << 30, "{mem}");
    let util = c.ok(
        "VM_metrics.get_VCPUs_utilisation",
        vec![s(&ss), s(&metrics)],
    );
    let util = util.as_struct().unwrap();
    assert_eq!(util.len(), 2);
    for (k, v) in util {
        assert!(k.parse::<u32>().is_ok());
        let f = v.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f) && f > 0.0, "{f}");
    }

    // The guest's PV drivers announce what it can do, as programs check before VM.suspend.
    let gm = c.ok("VM.get_guest_metrics", vec![s(&ss), s(&vm)]);
    let other = c.ok("VM_guest_metrics.get_other", vec![s(&ss), gm]);
    assert_eq!(other.get("feature-suspend"), Some(&s("1")), "{other:?}");

    ok(&mut c, d, &ss, &vm, "pause");
    assert_eq!(c.power_state(&ss, &vm), "Paused");
    assert_eq!(domid(&mut c, &ss, &vm), d1);
    ok(&mut c, d, &ss, &vm, "unpause");
    ok(&mut c, d, &ss, &vm, "clean_reboot");
    let d2 = domid(&mut c, &ss, &vm);
    assert!(d2 > d1, "a reboot makes a new domain");
    ok(&mut c, d, &ss, &vm, "hard_reboot");
    ok(&mut c, d, &ss, &vm, "suspend");
    assert_eq!(c.power_state(&ss, &vm), "Suspended");
    assert_eq!(domid(&mut c, &ss, &vm), -1);
    ok(&mut c, d, &ss, &vm, "resume");
    assert_eq!(c.power_state(&ss, &vm), "Running");
    ok(&mut c, d, &ss, &vm, "clean_shutdown");
    assert_eq!(c.power_state(&ss, &vm), "Halted");
    assert_eq!(
        c.ok("VM.get_resident_on", vec![s(&ss), s(&vm)]),
        s("OpaqueRef:NULL")
    );
    let util = c.ok(
        "VM_metrics.get_VCPUs_utilisation",
        vec![s(&ss), s(&metrics)],
    );
    assert!(util
        .as_struct()
        .unwrap()
        .iter()
        .all(|(_, v)| v.as_f64() == Some(0.0)));
    ok(&mut c, d, &ss, &vm, "start_paused");
    assert_eq!(c.power_state(&ss, &vm), "Paused");
    ok(&mut c, d, &ss, &vm, "hard_shutdown");
    assert_eq!(c.power_state(&ss, &vm), "Halted");

    // The console ring and the log record what happened.
    let host = c.ok("host.get_all", vec![s(&ss)]).as_array().unwrap()[0].clone();
    let dmesg = c.ok("host.dmesg", vec![s(&ss), host.clone()]);
    assert!(dmesg
        .as_str()
        .unwrap()
        .contains(&format!("Domain {d1} (vm02) created")));
    let log = c.ok("host.get_log", vec![s(&ss), host]);
    assert!(log.as_str().unwrap().contains("VM.clean_shutdown vm02"));
}

/// Every operation from every state where it is not allowed, with xapi's wording.
#[test]
fn every_bad_power_state_xapi() {
    check_bad_states(
        Dialect::Xapi,
        &[
            ("start", &["running", "paused", "suspended"], "halted"),
            (
                "clean_shutdown",
                &["halted", "paused", "suspended"],
                "running",
            ),
            (
                "clean_reboot",
                &["halted", "paused", "suspended"],
                "running",
            ),
            ("pause", &["halted", "paused", "suspended"], "running"),
            ("suspend", &["halted", "paused", "suspended"], "running"),
            ("unpause", &["halted", "running", "suspended"], "paused"),
            ("resume", &["halted", "running", "paused"], "suspended"),
            ("hard_shutdown", &["halted"], "paused, suspended, running"),
            ("hard_reboot", &["halted", "suspended"], "paused, running"),
        ],
    );
}

#[test]
fn every_bad_power_state_xend() {
    check_bad_states(
        Dialect::Xend,
        &[
            ("start", &["Running", "Paused", "Suspended"], "Halted"),
            (
                "clean_shutdown",
                &["Halted", "Paused", "Suspended"],
                "Running",
            ),
            (
                "clean_reboot",
                &["Halted", "Paused", "Suspended"],
                "Running",
            ),
            ("pause", &["Halted", "Paused", "Suspended"], "Running"),
            ("suspend", &["Halted", "Paused", "Suspended"], "Running"),
            ("unpause", &["Halted", "Running", "Suspended"], "Paused"),
            ("resume", &["Halted", "Running", "Paused"], "Suspended"),
            ("hard_shutdown", &["Halted", "Suspended"], "Paused, Running"),
            ("hard_reboot", &["Halted", "Suspended"], "Paused, Running"),
        ],
    );
}

fn check_bad_states(d: Dialect, cases: &[(&str, &[&str], &str)]) {
    let sim = Simulator::start(Config {
        dialect: d,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = match d {
        Dialect::Xapi => c.login(),
        Dialect::Xend => c
            .ok(
                "session.login_with_password",
                vec![s("root"), s("password")],
            )
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let vm = c.vm(&ss, "vm02");
    for (name, states, expected) in cases {
        for state in *states {
            put_in(&mut c, d, &ss, &vm, state);
            let e = bad(&mut c, d, &ss, &vm, name);
            assert_eq!(
                e,
                ["VM_BAD_POWER_STATE", vm.as_str(), expected, state],
                "{name} from {state}"
            );
        }
    }
}

/// Drives `vm` to `state` (case-insensitive) from wherever it is.
fn put_in(c: &mut Client, d: Dialect, ss: &str, vm: &str, state: &str) {
    let cur = c.power_state(ss, vm);
    if cur.eq_ignore_ascii_case(state) {
        return;
    }
    if cur != "Halted" {
        if cur == "Suspended" {
            ok(c, d, ss, vm, "resume");
        }
        ok(c, d, ss, vm, "hard_shutdown");
    }
    match state.to_ascii_lowercase().as_str() {
        "halted" => {}
        "running" => ok(c, d, ss, vm, "start"),
        "paused" => ok(c, d, ss, vm, "start_paused"),
        "suspended" => {
            ok(c, d, ss, vm, "start");
            ok(c, d, ss, vm, "suspend");
        }
        other => panic!("{other}"),
    }
    assert!(c.power_state(ss, vm).eq_ignore_ascii_case(state));
}

#[test]
fn control_domain_and_bad_refs() {
    // The metric getters these walk through live, as before xapi 6.1 (`--old-metrics`).
    let sim = Simulator::start(Config {
        old_metrics: true,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let all = c.ok("VM.get_all_records", vec![s(&ss)]);
    let (dom0, rec) = all
        .as_struct()
        .unwrap()
        .iter()
        .find(|(_, r)| r.get("is_control_domain") == Some(&T))
        .unwrap()
        .clone();
    assert_eq!(rec.get("power_state"), Some(&s("Running")));
    assert_eq!(rec.get("domid"), Some(&s("0")));
    assert_eq!(
        c.err("VM.clean_shutdown", vec![s(&ss), s(&dom0)])[0],
        "OPERATION_NOT_ALLOWED"
    );
    assert_eq!(
        c.err("VM.pause", vec![s(&ss), s("OpaqueRef:missing")]),
        ["HANDLE_INVALID", "VM", "OpaqueRef:missing"]
    );
    let running = c.vm(&ss, "vm01");
    assert_eq!(c.power_state(&ss, &running), "Running");
    let hm = c.ok("host.get_all_records", vec![s(&ss)]);
    let host = &hm.as_struct().unwrap()[0].1;
    let metrics = host.get("metrics").unwrap().clone();
    let total = c
        .ok(
            "host_metrics.get_memory_total",
            vec![s(&ss), metrics.clone()],
        )
        .as_i64()
        .unwrap();
    let free = c
        .ok("host_metrics.get_memory_free", vec![s(&ss), metrics])
        .as_i64()
        .unwrap();
    assert!(free > 0 && free < total, "{free} {total}");
    let cpu = host.get("host_CPUs").unwrap().as_array().unwrap()[0].clone();
    let u = c
        .ok("host_cpu.get_utilisation", vec![s(&ss), cpu])
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&u));
}
