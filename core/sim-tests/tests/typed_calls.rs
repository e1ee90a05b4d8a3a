//! Typed calls, `task::wait` and `Events` against a tiny canned XML-RPC server (`raw_server`:
//! one thread, one request per connection). The simulator tests cover real behaviour; these pin
//! the typed layer's own logic: argument encoding, result typing, task polling and event tokens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use xenapi::api::{Task, Vm, VmPowerState};
use xenapi::codec::{decode_call, encode_response, Encoder, Limits};
use xenapi::event::{Events, Operation};
use xenapi::{task, ErrorKind, Options, Ref, Session, Value};
use xenapi_tests::raw_server;

type Calls = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

/// Serves `answer(method, params)` as `{Status: Success, Value: ..}` (or `Failure` for `Err`),
/// recording every call.
fn serve(
    answer: impl Fn(&str, &[Value], usize) -> Result<Value, Vec<&'static str>> + Send + 'static,
) -> (String, Calls) {
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let url = raw_server("text/xml", move |body| {
        // XML-RPC only: the JSON-RPC login that `Protocol::Auto` tries first finds nothing.
        let (method, params) = decode_call(body, Limits::default()).ok()?;
        let n = {
            let mut c = seen.lock().unwrap();
            c.push((method.clone(), params.clone()));
            c.iter().filter(|(m, _)| *m == method).count()
        };
        let envelope = match answer(&method, &params, n) {
            Ok(v) => Value::structure([("Status", "Success".into()), ("Value", v)]),
            Err(d) => Value::structure([
                ("Status", "Failure".into()),
                (
                    "ErrorDescription",
                    Value::Array(d.into_iter().map(Value::from).collect()),
                ),
            ]),
        };
        Some(encode_response(&envelope, &Encoder::default()))
    });
    (url, calls)
}

fn login(method: &str) -> Option<Value> {
    match method {
        "session.login_with_password" => Some("OpaqueRef:session".into()),
        "session.logout" => Some("".into()),
        // The pool's addresses, noted after each login for failover: a pool of one, unknown.
        "host.get_all_records" => Some(Value::structure::<&str>([])),
        _ => None,
    }
}

#[test]
fn typed_calls_encode_arguments_and_type_results() {
    let (url, calls) = serve(|m, _, _| {
        if let Some(v) = login(m) {
            return Ok(v);
        }
        match m {
            "VM.get_power_state" => Ok("Running".into()),
            "VM.set_memory_static_max" => Ok("".into()),
            "VM.get_VCPUs_max" => Ok(Value::Bool(true)),
            "VM.start" => Err(vec![
                "VM_BAD_POWER_STATE",
                "OpaqueRef:vm",
                "halted",
                "running",
            ]),
            _ => Err(vec!["MESSAGE_METHOD_UNKNOWN", "?"]),
        }
    });
    let s = Session::connect(Options::new(url), "root", "pw").unwrap();
    let vm: Ref<Vm> = Ref::new("OpaqueRef:vm");
    assert_eq!(Vm::get_power_state(&s, &vm).unwrap(), VmPowerState::Running);
    Vm::set_memory_static_max(&s, &vm, 1 << 33).unwrap();
    let e = Vm::get_vcpus_max(&s, &vm).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_eq!(
        e.to_string(),
        "not a valid XenAPI reply: VM.get_VCPUs_max: expected an int, got a boolean"
    );
    let e = Vm::start(&s, &vm, false, true).unwrap_err();
    assert_eq!(e.code(), Some("VM_BAD_POWER_STATE"));

    let calls = calls.lock().unwrap();
    let set = calls
        .iter()
        .find(|(m, _)| m == "VM.set_memory_static_max")
        .unwrap();
    // Session first, then the ref, then the int64 (decoded from a string on the wire).
    assert_eq!(set.1[0], Value::from("OpaqueRef:session"));
    assert_eq!(set.1[1], Value::from("OpaqueRef:vm"));
    assert_eq!(set.1[2].as_i64(), Some(1 << 33));
    let start = calls.iter().find(|(m, _)| m == "VM.start").unwrap();
    assert_eq!(start.1[2..], [Value::Bool(false), Value::Bool(true)]);
}

#[test]
fn task_wait_polls_until_success_and_destroys_the_task() {
    let (url, calls) = serve(|m, _, n| {
        if let Some(v) = login(m) {
            return Ok(v);
        }
        match m {
            "Async.VM.clone" => Ok("OpaqueRef:task".into()),
            "task.get_status" if n < 3 => Ok("pending".into()),
            "task.get_status" => Ok("success".into()),
            "task.get_result" => Ok("<value>OpaqueRef:copy</value>".into()),
            "task.destroy" => Ok("".into()),
            _ => Err(vec!["MESSAGE_METHOD_UNKNOWN"]),
        }
    });
    let s = Session::connect(Options::new(url), "root", "pw").unwrap();
    let t = Vm::async_clone(&s, &Ref::new("OpaqueRef:vm"), "copy").unwrap();
    assert_eq!(t, Ref::<Task>::new("OpaqueRef:task"));
    let copy: Ref<Vm> = task::wait_for(&s, &t, Duration::from_secs(10)).unwrap();
    assert_eq!(copy.as_str(), "OpaqueRef:copy");
    let calls = calls.lock().unwrap();
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods.iter().filter(|m| **m == "task.get_status").count(),
        3
    );
    assert!(methods.contains(&"task.destroy"));
}

#[test]
fn task_wait_reports_failure_cancel_and_timeout() {
    let (url, _) = serve(|m, p, _| {
        if let Some(v) = login(m) {
            return Ok(v);
        }
        let task = p.get(1).and_then(Value::as_str).unwrap_or("");
        match (m, task) {
            ("task.get_status", "OpaqueRef:failed") => Ok("failure".into()),
            ("task.get_status", "OpaqueRef:cancelled") => Ok("cancelled".into()),
            ("task.get_status", _) => Ok("pending".into()),
            ("task.get_error_info", _) => Ok(Value::Array(vec![
                "VM_BAD_POWER_STATE".into(),
                "OpaqueRef:vm".into(),
                "halted".into(),
                "running".into(),
            ])),
            ("task.destroy", _) => Ok("".into()),
            _ => Err(vec!["MESSAGE_METHOD_UNKNOWN"]),
        }
    });
    let s = Session::connect(Options::new(url), "root", "pw").unwrap();
    let wait = |t: &str, ms| task::wait(&s, &Ref::new(t), Duration::from_millis(ms));
    assert_eq!(
        wait("OpaqueRef:failed", 5000).unwrap_err().code(),
        Some("VM_BAD_POWER_STATE")
    );
    let e = wait("OpaqueRef:cancelled", 5000).unwrap_err();
    assert_eq!(e.code(), Some("TASK_CANCELLED"));
    assert_eq!(e.failure().unwrap().params(), ["OpaqueRef:cancelled"]);
    assert_eq!(
        wait("OpaqueRef:slow", 200).unwrap_err().kind(),
        ErrorKind::Timeout
    );
}

#[test]
fn events_keep_the_token_and_skip_empty_polls() {
    let (url, calls) = serve(|m, _, n| {
        if let Some(v) = login(m) {
            return Ok(v);
        }
        assert_eq!(m, "event.from");
        let event = |id: &str, op: &str| {
            Value::structure([
                ("id", id.into()),
                ("timestamp", "1700000000.000".into()),
                ("class", "vm".into()),
                ("operation", op.into()),
                ("ref", "OpaqueRef:vm".into()),
            ])
        };
        let events = match n {
            1 => vec![event("1", "add")],
            2 => vec![],
            _ => vec![event("3", "mod"), event("4", "del")],
        };
        Ok(Value::structure([
            ("events", Value::Array(events)),
            ("valid_ref_counts", Value::structure::<&str>([])),
            ("token", format!("token{n}").into()),
        ]))
    });
    let s = Session::connect(Options::new(url), "root", "pw").unwrap();
    let got: Vec<_> = Events::new(&s, &["vm"], Duration::from_secs(1))
        .take(3)
        .map(Result::unwrap)
        .collect();
    let ops: Vec<&Operation> = got.iter().map(|e| &e.operation).collect();
    assert_eq!(ops, [&Operation::Add, &Operation::Mod, &Operation::Del]);
    assert_eq!(got[2].id, 4);
    let calls = calls.lock().unwrap();
    let tokens: Vec<&Value> = calls
        .iter()
        .filter(|(m, _)| m == "event.from")
        .map(|(_, p)| &p[2])
        .collect();
    assert_eq!(
        tokens,
        [&Value::from(""), &"token1".into(), &"token2".into()]
    );
    let first = calls.iter().find(|(m, _)| m == "event.from").unwrap();
    assert_eq!(first.1[1], Value::Array(vec!["vm".into()]));
    assert_eq!(first.1[3], Value::Double(1.0));
}
