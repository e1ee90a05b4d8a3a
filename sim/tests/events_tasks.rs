//! event.from, event.register/next, and Async.* tasks.

mod common;

use std::time::{Duration, Instant};

use common::{s, Client};
use xenapi::codec::{decode_value, Limits};
use xenapi::Value;
use xenapi_sim::{Config, Simulator};

#[test]
fn event_from_sees_a_power_change_and_blocks_when_idle() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let vm = c.vm(&ss, "vm02");
    // An empty token: the current objects, as `add`.
    let first = c.ok(
        "event.from",
        vec![
            s(&ss),
            Value::Array(vec![s("vm")]),
            s(""),
            Value::Double(1.0),
        ],
    );
    assert_eq!(first.get("events").unwrap().as_array().unwrap().len(), 5);
    assert_eq!(
        first.get("valid_ref_counts").unwrap().get("vm"),
        Some(&s("5"))
    );
    let token = first.get("token").unwrap().clone();

    // Nothing happens: it blocks for the timeout, then answers no events.
    let t = Instant::now();
    let idle = c.ok(
        "event.from",
        vec![
            s(&ss),
            Value::Array(vec![s("vm")]),
            token.clone(),
            Value::Double(0.5),
        ],
    );
    assert!(t.elapsed() >= Duration::from_millis(450));
    assert_eq!(idle.get("events").unwrap().as_array().unwrap().len(), 0);

    // Another client starts the VM while this one waits.
    let addr = sim.addr();
    let (ss2, vm2) = (ss.clone(), vm.clone());
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut c = Client::connect(addr);
        c.ok(
            "VM.start",
            vec![s(&ss2), s(&vm2), Value::Bool(false), Value::Bool(false)],
        );
    });
    let t = Instant::now();
    let got = c.ok(
        "event.from",
        vec![
            s(&ss),
            Value::Array(vec![s("vm")]),
            token,
            Value::Double(10.0),
        ],
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    starter.join().unwrap();
    let events = got.get("events").unwrap().as_array().unwrap();
    let e = events
        .iter()
        .find(|e| e.get("ref") == Some(&s(&vm)))
        .expect("an event for the VM");
    assert_eq!(e.get("class"), Some(&s("vm")));
    assert_eq!(e.get("operation"), Some(&s("mod")));
    assert_eq!(
        e.get("snapshot").unwrap().get("power_state"),
        Some(&s("Running"))
    );
    assert!(e.get("id").unwrap().as_i64().is_some());
    assert_eq!(
        c.err(
            "event.from",
            vec![
                s(&ss),
                Value::Array(vec![s("vm")]),
                s("x"),
                Value::Double(0.1)
            ]
        ),
        ["EVENT_FROM_TOKEN_PARSE_FAILURE", "x"]
    );
}

#[test]
fn event_register_and_next() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    assert_eq!(
        c.err("event.next", vec![s(&ss)]),
        ["SESSION_NOT_REGISTERED", ss.as_str()]
    );
    c.ok("event.register", vec![s(&ss), Value::Array(vec![s("VM")])]);
    let vm = c.vm(&ss, "vm01");
    c.ok("VM.pause", vec![s(&ss), s(&vm)]);
    let events = c.ok("event.next", vec![s(&ss)]);
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| e.get("ref") == Some(&s(&vm))
        && e.get("snapshot").unwrap().get("power_state") == Some(&s("Paused"))));
}

fn wait_task(c: &mut Client, ss: &str, task: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = c.ok("task.get_status", vec![s(ss), s(task)]);
        let st = st.as_str().unwrap().to_owned();
        if st != "pending" || Instant::now() > deadline {
            return st;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn async_tasks_succeed_and_fail() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let vm = c.vm(&ss, "vm02");
    let task = c
        .ok(
            "Async.VM.start",
            vec![s(&ss), s(&vm), Value::Bool(false), Value::Bool(false)],
        )
        .as_str()
        .unwrap()
        .to_owned();
    assert!(task.starts_with("OpaqueRef:"));
    assert_eq!(
        c.ok("task.get_status", vec![s(&ss), s(&task)]),
        s("pending")
    );
    assert_eq!(wait_task(&mut c, &ss, &task), "success");
    assert_eq!(c.power_state(&ss, &vm), "Running");
    let rec = c.ok("task.get_record", vec![s(&ss), s(&task)]);
    assert_eq!(rec.get("progress"), Some(&Value::Double(1.0)));
    c.ok("task.destroy", vec![s(&ss), s(&task)]);
    assert_eq!(
        c.err("task.get_status", vec![s(&ss), s(&task)])[0],
        "HANDLE_INVALID"
    );

    // The same start again fails: the task carries the error.
    let task = c
        .ok(
            "Async.VM.start",
            vec![s(&ss), s(&vm), Value::Bool(false), Value::Bool(false)],
        )
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(wait_task(&mut c, &ss, &task), "failure");
    let info = c.ok("task.get_error_info", vec![s(&ss), s(&task)]);
    assert_eq!(
        info,
        Value::Array(vec![
            s("VM_BAD_POWER_STATE"),
            s(&vm),
            s("halted"),
            s("running")
        ])
    );

    // A task's result is a <value> fragment.
    let task = c
        .ok("Async.VM.get_name_label", vec![s(&ss), s(&vm)])
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(wait_task(&mut c, &ss, &task), "success");
    let result = c.ok("task.get_result", vec![s(&ss), s(&task)]);
    let v = decode_value(result.as_str().unwrap(), Limits::default()).unwrap();
    assert_eq!(v, s("vm02"));
    assert_eq!(
        c.err(
            "Async.session.login_with_password",
            vec![s("root"), s("password")]
        )[0],
        "MESSAGE_METHOD_UNKNOWN"
    );
}

#[test]
fn a_client_task_is_created_reported_on_and_destroyed() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let task = c.ok("task.create", vec![s(&ss), s("upload"), s("an import")]);
    let rec = c.ok("task.get_record", vec![s(&ss), task.clone()]);
    assert_eq!(rec.get("name_label"), Some(&s("upload")));
    assert_eq!(rec.get("name_description"), Some(&s("an import")));
    assert_eq!(rec.get("status"), Some(&s("pending")));
    c.ok(
        "task.set_progress",
        vec![s(&ss), task.clone(), Value::Double(0.25)],
    );
    assert_eq!(
        c.ok("task.get_progress", vec![s(&ss), task.clone()]),
        Value::Double(0.25)
    );
    assert_eq!(
        c.err("task.set_status", vec![s(&ss), task.clone(), s("finished")]),
        ["FIELD_TYPE_ERROR", "value"]
    );
    c.ok(
        "task.set_result",
        vec![s(&ss), task.clone(), s("<value>OpaqueRef:x</value>")],
    );
    c.ok("task.set_status", vec![s(&ss), task.clone(), s("success")]);
    let done = c.ok("task.get_record", vec![s(&ss), task.clone()]);
    assert_eq!(done.get("status"), Some(&s("success")));
    assert_eq!(done.get("result"), Some(&s("<value>OpaqueRef:x</value>")));
    assert!(matches!(done.get("finished"), Some(Value::DateTime(_))));
    c.ok("task.destroy", vec![s(&ss), task.clone()]);
    let gone = c.err("task.get_record", vec![s(&ss), task.clone()]);
    assert_eq!(gone[0], "HANDLE_INVALID");
    assert_eq!(
        c.err("task.destroy", vec![s(&ss), task.clone()])[0],
        "HANDLE_INVALID"
    );
}
