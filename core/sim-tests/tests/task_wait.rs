//! Waiting for `Async.*` tasks: over `event.from` on xapi, by polling on xend; typed results,
//! failures, the deadline and a cancel from another thread (both end in `task.cancel` and
//! `task.destroy`).

use std::time::{Duration, Instant};

use xenapi::api::{Task, Vm};
use xenapi::task::{self, Cancel};
use xenapi::{codes, Error, Ref, Value};
use xenapi_tests::*;

fn task_refs(s: &xenapi::Session) -> Vec<String> {
    Task::get_all(s)
        .unwrap()
        .into_iter()
        .map(|t| t.as_str().to_owned())
        .collect()
}

#[test]
fn the_typed_result_of_a_task() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm02"));
    let t = Vm::async_clone(&s, &vm, "copy").unwrap();
    let copy: Ref<Vm> = task::wait_for(&s, &t, Duration::from_secs(20)).unwrap();
    assert_eq!(Vm::get_name_label(&s, &copy).unwrap(), "copy");
    assert!(!task_refs(&s).contains(&t.as_str().to_owned()), "destroyed");
    // A result of another type is a protocol error.
    let t = Vm::async_clone(&s, &vm, "copy2").unwrap();
    let e = task::wait_for::<bool>(&s, &t, Duration::from_secs(20)).unwrap_err();
    assert!(matches!(e, Error::Protocol(_)), "{e}");
    // A void message's task: ().
    let t = Vm::async_start(&s, &vm, false, false).unwrap();
    task::wait_for::<()>(&s, &t, Duration::from_secs(20)).unwrap();
    assert_eq!(power_state(&s, vm.as_str()), "Running");
}

#[test]
fn a_failed_task_is_its_error_code() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm01")); // running
        let t = Vm::async_start(&s, &vm, false, false).unwrap();
        let e = task::wait_for::<()>(&s, &t, Duration::from_secs(20)).unwrap_err();
        assert_eq!(e.code(), Some(codes::VM_BAD_POWER_STATE), "{d:?}: {e}");
        assert!(!task_refs(&s).contains(&t.as_str().to_owned()), "destroyed");
    }
}

#[test]
fn the_task_record_moves_through_task_events() {
    let sim = sim_with(Dialect::Xapi, |c| c.task_delay = Duration::from_millis(300));
    let s = connect(&sim);
    let vm = vm_ref(&s, "vm02");
    let t = s
        .call("Async.VM.clone", vec![vm.into(), "c".into()])
        .unwrap();
    let t = t.as_str().unwrap().to_owned();
    let subs = Value::Array(vec![Value::String(format!("task/{t}"))]);
    let mut token = String::new();
    let mut seen = Vec::new();
    let start = Instant::now();
    while !seen.iter().any(|(st, _): &(String, f64)| st == "success") {
        assert!(start.elapsed() < Duration::from_secs(10), "{seen:?}");
        let r = s
            .call(
                "event.from",
                vec![subs.clone(), token.clone().into(), Value::Double(2.0)],
            )
            .unwrap();
        let get = |v: &Value, k: &str| -> Value {
            v.as_struct()
                .unwrap()
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .clone()
        };
        token = get(&r, "token").as_str().unwrap().to_owned();
        for ev in get(&r, "events").as_array().unwrap() {
            assert_eq!(get(ev, "ref").as_str(), Some(t.as_str()), "only that task");
            let snap = get(ev, "snapshot");
            let progress = match get(&snap, "progress") {
                Value::Double(p) => p,
                other => other.as_str().unwrap().parse().unwrap(),
            };
            seen.push((get(&snap, "status").as_str().unwrap().to_owned(), progress));
        }
    }
    assert_eq!(seen.first().unwrap(), &("pending".to_owned(), 0.0));
    assert!(
        seen.contains(&("pending".to_owned(), 0.5)),
        "progress: {seen:?}"
    );
    assert_eq!(seen.last().unwrap(), &("success".to_owned(), 1.0));
}

#[test]
fn the_deadline_cancels_and_destroys_the_task() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.task_delay = Duration::from_millis(1500));
        let s = connect(&sim);
        let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm02"));
        let t = Vm::async_start(&s, &vm, false, false).unwrap();
        let start = Instant::now();
        let e = task::wait_for::<()>(&s, &t, Duration::from_millis(300)).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_millis(1200),
            "{:?}",
            start.elapsed()
        );
        let Error::Timeout { message, .. } = &e else {
            panic!("{d:?}: a timeout: {e}")
        };
        assert!(
            message.contains("cancelled") && message.contains("destroyed"),
            "{message}"
        );
        assert!(!task_refs(&s).contains(&t.as_str().to_owned()), "gone");
        // Cancelled before it ran: the VM did not start.
        std::thread::sleep(Duration::from_millis(1600));
        assert_eq!(power_state(&s, vm.as_str()), "Halted", "{d:?}");
    }
}

#[test]
fn a_cancel_from_another_thread() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.task_delay = Duration::from_secs(3));
        let s = connect(&sim);
        let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm02"));
        let t = Vm::async_start(&s, &vm, false, false).unwrap();
        let cancel = Cancel::new();
        let c = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            c.cancel();
        });
        let start = Instant::now();
        let e =
            task::wait_for_cancellable::<()>(&s, &t, Duration::from_secs(20), &cancel).unwrap_err();
        canceller.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(e.code(), Some(codes::TASK_CANCELLED), "{d:?}: {e}");
        assert!(e.to_string().contains("cancelled by the caller"), "{e}");
        assert!(!task_refs(&s).contains(&t.as_str().to_owned()), "gone");
        assert_eq!(power_state(&s, vm.as_str()), "Halted");
    }
}

#[test]
fn xend_waits_by_polling() {
    let sim = sim(Dialect::Xend);
    let s = connect(&sim);
    let vm: Ref<Vm> = Ref::new(vm_ref(&s, "vm02"));
    assert_eq!(s.dialect(), xenapi::Dialect::Xend);
    let t = Vm::async_start(&s, &vm, false, false).unwrap();
    task::wait_for::<()>(&s, &t, Duration::from_secs(20)).unwrap();
    assert_eq!(power_state(&s, vm.as_str()), "Running");
    assert!(!task_refs(&s).contains(&t.as_str().to_owned()), "destroyed");
}
