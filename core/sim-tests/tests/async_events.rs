//! `Async.*` tasks and events (`event.from`, and xend's `event.register/next`).

use std::time::{Duration, Instant};

use xenapi::{Session, Value};
use xenapi_tests::*;

/// Polls a task until it leaves `pending`; returns its final status.
fn wait_task(s: &Session, task: &str) -> String {
    let start = Instant::now();
    loop {
        let st = s.call("task.get_status", vec![task.into()]).unwrap();
        let st = st.as_str().unwrap().to_owned();
        if st != "pending" {
            return st;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "task stuck");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn async_start_returns_a_task_that_succeeds() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let vm = vm_ref(&s, "vm02");
        let task = s
            .call(
                "Async.VM.start",
                vec![vm.as_str().into(), false.into(), false.into()],
            )
            .unwrap();
        let task = task.as_str().unwrap().to_owned();
        match d {
            Dialect::Xapi => assert!(task.starts_with("OpaqueRef:"), "{task}"),
            Dialect::Xend => assert_eq!(task.len(), 36, "{task}"),
        }
        // Pending for the task delay: the VM has not started yet.
        let first = s
            .call("task.get_status", vec![task.as_str().into()])
            .unwrap();
        assert_eq!(first.as_str(), Some("pending"));
        assert_eq!(wait_task(&s, &task), "success");
        assert_eq!(power_state(&s, &vm), "Running");
        let rec = s
            .call("task.get_record", vec![task.as_str().into()])
            .unwrap();
        assert_eq!(rec.get("progress").and_then(Value::as_f64), Some(1.0));
        assert_eq!(
            rec.get("name_label").and_then(Value::as_str),
            Some("Async.VM.start")
        );
        let result = s
            .call("task.get_result", vec![task.as_str().into()])
            .unwrap();
        assert_eq!(result.as_str(), Some(""), "void result");
        s.call("task.destroy", vec![task.as_str().into()]).unwrap();
        let e = s
            .call("task.get_status", vec![task.as_str().into()])
            .unwrap_err();
        assert_eq!(e.code(), Some("HANDLE_INVALID"));
    }
}

#[test]
fn async_result_is_an_xmlrpc_value_fragment() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let task = s.call("Async.VM.get_all", vec![]).unwrap();
    let task = task.as_str().unwrap();
    assert_eq!(wait_task(&s, task), "success");
    let result = s.call("task.get_result", vec![task.into()]).unwrap();
    let text = result.as_str().unwrap();
    assert!(text.starts_with("<value>"), "{text}");
    let decoded = xenapi::codec::decode_value(text, xenapi::codec::Limits::default())
        .expect("a value fragment");
    assert_eq!(decoded, s.call("VM.get_all", vec![]).unwrap());
}

#[test]
fn failing_async_op_reports_the_failure_in_error_info() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let vm = vm_ref(&s, "vm01"); // Running
        let task = s
            .call(
                "Async.VM.start",
                vec![vm.as_str().into(), false.into(), false.into()],
            )
            .expect("the call itself succeeds");
        let task = task.as_str().unwrap();
        assert_eq!(wait_task(&s, task), "failure");
        let info = s.call("task.get_error_info", vec![task.into()]).unwrap();
        let info: Vec<&str> = info
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let (halted, running) = (state_word(d, "Halted"), state_word(d, "Running"));
        assert_eq!(
            info,
            [
                "VM_BAD_POWER_STATE",
                vm.as_str(),
                halted.as_str(),
                running.as_str()
            ]
        );
        // A bad session fails the call itself, not the task.
        let e = s
            .client()
            .call("Async.VM.get_all", &[Value::from("bogus")])
            .unwrap_err();
        assert_eq!(e.code(), Some("SESSION_INVALID"));
    }
}

#[test]
fn event_from_sees_a_change_made_by_another_session() {
    for d in DIALECTS {
        let sim = sim(d);
        let watcher = connect(&sim);
        let actor = connect(&sim);
        let vm = vm_ref(&actor, "vm02");
        // The first call (empty token) lists every current VM.
        let first = watcher
            .call(
                "event.from",
                vec![
                    Value::Array(vec!["vm".into()]),
                    "".into(),
                    Value::Double(0.0),
                ],
            )
            .unwrap();
        let events = first.get("events").and_then(Value::as_array).unwrap();
        assert_eq!(events.len(), 5, "dom0 and 4 guests as `add`");
        assert!(first
            .get("valid_ref_counts")
            .and_then(|c| c.get("vm"))
            .is_some());
        let token = first
            .get("token")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();

        // A blocking wait that the other session's start ends early.
        let actor2 = actor.clone();
        let vm2 = vm.clone();
        let changer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            start(&actor2, &vm2, false).unwrap();
        });
        let t0 = Instant::now();
        let mut seen = None;
        let mut token = token;
        while seen.is_none() && t0.elapsed() < Duration::from_secs(10) {
            let reply = watcher
                .call(
                    "event.from",
                    vec![
                        Value::Array(vec!["vm".into()]),
                        token.as_str().into(),
                        Value::Double(10.0),
                    ],
                )
                .unwrap();
            token = reply
                .get("token")
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            for e in reply.get("events").and_then(Value::as_array).unwrap() {
                if e.get("ref").and_then(Value::as_str) == Some(vm.as_str()) {
                    seen = Some(e.clone());
                }
            }
        }
        changer.join().unwrap();
        let e = seen.expect("an event for vm02");
        assert!(t0.elapsed() < Duration::from_secs(5), "woke on the change");
        assert_eq!(e.get("class").and_then(Value::as_str), Some("vm"));
        assert_eq!(e.get("operation").and_then(Value::as_str), Some("mod"));
        let snap = e.get("snapshot").unwrap();
        assert_eq!(
            snap.get("power_state").and_then(Value::as_str),
            Some("Running")
        );
        // Nothing new: a short timeout returns an empty batch.
        let reply = watcher
            .call(
                "event.from",
                vec![
                    Value::Array(vec!["vm".into()]),
                    token.as_str().into(),
                    Value::Double(0.1),
                ],
            )
            .unwrap();
        assert!(reply
            .get("events")
            .and_then(Value::as_array)
            .unwrap()
            .is_empty());
    }
}

#[test]
fn xend_event_register_and_next() {
    let sim = sim_with(Dialect::Xend, |c| {
        c.event_next_wait = Duration::from_secs(5)
    });
    let watcher = connect(&sim);
    let actor = connect(&sim);
    let vm = vm_ref(&actor, "vm01");
    let e = watcher.call("event.next", vec![]).unwrap_err();
    assert_eq!(e.code(), Some("SESSION_NOT_REGISTERED"));
    watcher
        .call("event.register", vec![Value::Array(vec!["VM".into()])])
        .unwrap();
    vm_op(&actor, "VM.pause", &vm).unwrap();
    let events = watcher.call("event.next", vec![]).unwrap();
    let events = events.as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.get("ref").and_then(Value::as_str) == Some(vm.as_str())),
        "{events:?}"
    );
    watcher
        .call("event.unregister", vec![Value::Array(vec!["VM".into()])])
        .unwrap();
}
