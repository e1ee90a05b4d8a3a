//! The one place where the typed C functions reach the core.
//!
//! Until the generated typed API (`xenapi::api::{Vm, Host, ...}`, `xenapi::task::wait`) is in the
//! core, these call `Session::call` with the XenAPI method names; each function is a one-line
//! swap to the generated API when it lands. Nothing here interprets the protocol beyond reading
//! the documented field types of the replies.

use std::time::{Duration, Instant};

use xenapi::{Error, Failure, Session, Value};

type R<T> = Result<T, Error>;

fn bad(what: &str, got: &Value) -> Error {
    Error::Protocol(format!("expected {what}, got a {}", got.type_name()))
}

fn string(v: Value, what: &str) -> R<String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(bad(what, &other)),
    }
}

fn strings(v: Value, what: &str) -> R<Vec<String>> {
    match v {
        Value::Array(items) => items.into_iter().map(|i| string(i, what)).collect(),
        other => Err(bad(what, &other)),
    }
}

fn int(v: &Value, what: &str) -> R<i64> {
    v.as_i64().ok_or_else(|| bad(what, v))
}

fn s(x: &str) -> Value {
    Value::from(x)
}

pub(crate) fn vm_get_all_records(session: &Session) -> R<Vec<(String, Value)>> {
    match session.call("VM.get_all_records", vec![])? {
        Value::Struct(members) => Ok(members),
        other => Err(bad("a map of VM records", &other)),
    }
}

pub(crate) fn vm_get_by_name_label(session: &Session, label: &str) -> R<Vec<String>> {
    strings(
        session.call("VM.get_by_name_label", vec![s(label)])?,
        "a set of VM references",
    )
}

pub(crate) fn vm_get_power_state(session: &Session, vm: &str) -> R<String> {
    string(
        session.call("VM.get_power_state", vec![s(vm)])?,
        "a power state",
    )
}

/// `VM.start` or `VM.resume`: `(vm, start_paused, force)`; the core drops `force` for xend.
pub(crate) fn vm_start_like(
    session: &Session,
    method: &str,
    vm: &str,
    start_paused: bool,
    force: bool,
) -> R<()> {
    session.call(method, vec![s(vm), start_paused.into(), force.into()])?;
    Ok(())
}

/// A VM message taking only the VM and returning void.
pub(crate) fn vm_void(session: &Session, method: &str, vm: &str) -> R<()> {
    session.call(method, vec![s(vm)])?;
    Ok(())
}

fn vm_metrics(session: &Session, vm: &str) -> R<String> {
    string(
        session.call("VM.get_metrics", vec![s(vm)])?,
        "a VM_metrics reference",
    )
}

pub(crate) fn vm_memory_actual(session: &Session, vm: &str) -> R<i64> {
    let m = vm_metrics(session, vm)?;
    int(
        &session.call("VM_metrics.get_memory_actual", vec![s(&m)])?,
        "an int",
    )
}

pub(crate) fn vm_vcpus_utilisation(session: &Session, vm: &str) -> R<Value> {
    let m = vm_metrics(session, vm)?;
    session.call("VM_metrics.get_VCPUs_utilisation", vec![s(&m)])
}

pub(crate) fn host_get_all(session: &Session) -> R<Vec<String>> {
    strings(
        session.call("host.get_all", vec![])?,
        "a set of host references",
    )
}

pub(crate) fn host_list_methods(session: &Session) -> R<Vec<String>> {
    strings(
        session.call("host.list_methods", vec![])?,
        "a set of method names",
    )
}

/// `host.dmesg` or `host.get_log`.
pub(crate) fn host_string(session: &Session, method: &str, host: &str) -> R<String> {
    string(session.call(method, vec![s(host)])?, "a string")
}

pub(crate) fn host_cpu_utilisation(session: &Session, host: &str) -> R<Vec<(i64, f64)>> {
    let cpus = strings(
        session.call("host.get_host_CPUs", vec![s(host)])?,
        "a set of host_cpu references",
    )?;
    cpus.iter()
        .map(|cpu| {
            let rec = session.call("host_cpu.get_record", vec![s(cpu)])?;
            let number = rec
                .get("number")
                .ok_or_else(|| bad("a host_cpu record with number", &rec))?;
            let util = rec
                .get("utilisation")
                .and_then(Value::as_f64)
                .ok_or_else(|| bad("a host_cpu record with utilisation", &rec))?;
            Ok((int(number, "an int")?, util))
        })
        .collect()
}

pub(crate) fn host_memory(session: &Session, host: &str) -> R<(i64, i64)> {
    let m = string(
        session.call("host.get_metrics", vec![s(host)])?,
        "a host_metrics reference",
    )?;
    let rec = session.call("host_metrics.get_record", vec![s(&m)])?;
    let field = |name: &str| {
        rec.get(name)
            .ok_or_else(|| bad(&format!("a host_metrics record with {name}"), &rec))
            .and_then(|v| int(v, "an int"))
    };
    Ok((field("memory_total")?, field("memory_free")?))
}

pub(crate) fn event_from(
    session: &Session,
    classes: Vec<String>,
    token: &str,
    timeout: f64,
) -> R<Value> {
    session.call(
        "event.from",
        vec![Value::from(classes), s(token), timeout.into()],
    )
}

/// Waits for a task to finish and returns its result. TEMPORARY: replaced by
/// `xenapi::task::wait` when the core has it (the polling and the result decoding belong there).
pub(crate) fn task_wait(session: &Session, task: &str, timeout: Option<Duration>) -> R<Value> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let status = string(
            session.call("task.get_status", vec![s(task)])?,
            "a task status",
        )?;
        match status.as_str() {
            "pending" | "cancelling" => {}
            "success" => {
                let result = session.call("task.get_result", vec![s(task)])?;
                return match result {
                    Value::String(xml) if xml.trim_start().starts_with('<') => {
                        xenapi::codec::decode_value(&xml, Default::default())
                            .map_err(|e| Error::Protocol(format!("task result: {e}")))
                    }
                    other => Ok(other),
                };
            }
            "failure" | "cancelled" => {
                let info = strings(
                    session.call("task.get_error_info", vec![s(task)])?,
                    "the task's error info",
                )?;
                let mut info = info;
                if info.is_empty() {
                    info = vec!["TASK_CANCELLED".into(), task.to_owned()];
                }
                return Err(Error::Api(Failure::new(info)));
            }
            other => {
                return Err(Error::Protocol(format!("unknown task status {other:?}")));
            }
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                return Err(Error::Timeout {
                    url: session.url(),
                    message: format!("task {task} still pending after {t:?}"),
                });
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}
