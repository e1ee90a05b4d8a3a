//! `Async.*`: a task record that is `pending` while a worker thread runs the call, then
//! `success` (with `result`, an XML-RPC `<value>` fragment) or `failure` (with `error_info`).
//! Every change (progress, status) is a `mod` event on the task. `task.cancel` of a pending task
//! makes it `cancelling`, then `cancelled` without running the call; a task destroyed while
//! pending does not run it either.

use std::sync::Arc;

use xenapi::codec::encode_value;
use xenapi::{DateTime, Value};

use crate::datamodel;
use crate::dispatch::{self, Failure};
use crate::shared::Shared;
use crate::state::{set_field, str_field, State};

/// A new `pending` task record, resident on the coordinator, as xapi's `Context.make` with
/// `task_in_database` makes it; the caller adds it.
fn new_task(st: &mut State, label: &str, description: &str) -> (String, crate::state::Record) {
    let (r, mut rec) = st.blank("task");
    set_field(&mut rec, "name_label", Value::String(label.to_owned()));
    set_field(
        &mut rec,
        "name_description",
        Value::String(description.to_owned()),
    );
    set_field(&mut rec, "created", Value::DateTime(DateTime::now()));
    set_field(&mut rec, "status", Value::String("pending".to_owned()));
    set_field(&mut rec, "progress", Value::Double(0.0));
    let host = st.coordinator.clone();
    set_field(&mut rec, "resident_on", Value::String(host));
    set_field(
        &mut rec,
        "allowed_operations",
        Value::Array(vec![Value::String("cancel".to_owned())]),
    );
    (r, rec)
}

/// `task.create(label, description)`: a task a client runs itself (xapi_task.ml `create`); it
/// reports through `task.set_status`, `set_progress`, `set_result`, `set_error_info`.
pub(crate) fn create(st: &mut State, label: &str, description: &str) -> Value {
    let (r, rec) = new_task(st, label, description);
    st.add("task", r.clone(), rec);
    Value::String(r)
}

/// `task.set_status/set_progress/set_result/set_error_info(self, value)` (xapi_task.ml): the
/// value's type is the field's; a status outside `task_status_type` is a type error. Completing a task stamps `finished`, as xapi's TaskHelper does.
pub(crate) fn set(st: &mut State, message: &str, args: &[Value]) -> Result<Value, Failure> {
    let task = dispatch::arg_str(args, 0, "self")?;
    if st.get("task", task).is_none() {
        return Err(Failure::new("HANDLE_INVALID", &["task", task]));
    }
    let value = args.get(1).cloned().unwrap_or(Value::Nil);
    let field = message.trim_start_matches("set_");
    let checked = match field {
        "status" => {
            let status = value.as_str().unwrap_or_default();
            let values = &datamodel::model()
                .class("task")
                .and_then(|c| c.enums.iter().find(|e| e.name == "task_status_type"))
                .map(|e| e.values.clone())
                .unwrap_or_default();
            if !values.iter().any(|v| v == status) {
                return Err(Failure::new("FIELD_TYPE_ERROR", &["value"]));
            }
            value
        }
        "progress" => Value::Double(
            value
                .as_f64()
                .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["value"]))?,
        ),
        "result" => Value::String(dispatch::arg_str(args, 1, "value")?.to_owned()),
        _ => {
            let items = value
                .as_array()
                .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["value"]))?;
            if items.iter().any(|v| v.as_str().is_none()) {
                return Err(Failure::new("FIELD_TYPE_ERROR", &["value"]));
            }
            value
        }
    };
    let done = field == "status" && checked.as_str() != Some("pending");
    st.modify("task", task, |rec| {
        set_field(rec, field, checked);
        if done {
            set_field(rec, "finished", Value::DateTime(DateTime::now()));
            set_field(rec, "allowed_operations", Value::Array(Vec::new()));
        }
    });
    Ok(Value::String(String::new()))
}

pub(crate) fn spawn(
    shared: &Arc<Shared>,
    name: &str,
    class: &str,
    message: &str,
    session_ref: String,
    user: String,
    args: Vec<Value>,
) -> Result<Value, Failure> {
    let task = {
        let mut st = shared.lock();
        let (r, mut rec) = new_task(&mut st, &format!("Async.{name}"), "");
        set_field(&mut rec, "type", Value::String("<none/>".to_owned()));
        st.add("task", r.clone(), rec);
        r
    };
    let (shared2, task2, class, message) = (
        Arc::clone(shared),
        task.clone(),
        class.to_owned(),
        message.to_owned(),
    );
    let spawned = std::thread::Builder::new()
        .name("xenapi-sim-task".into())
        .spawn(move || {
            // Pending for `task_delay`, half-way through it at the middle (an `event.from`
            // watcher sees the progress move), then the call runs.
            let half = shared2.settings.task_delay / 2;
            if !pending_after(&shared2, &task2, half) {
                return;
            }
            shared2.lock().modify("task", &task2, |rec| {
                set_field(rec, "progress", Value::Double(0.5));
            });
            shared2.notify();
            if !pending_after(&shared2, &task2, shared2.settings.task_delay - half) {
                return;
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                dispatch::route(&shared2, &class, &message, &session_ref, &user, &args)
            }))
            .unwrap_or_else(|_| {
                Err(Failure::new(
                    "INTERNAL_ERROR",
                    &["the task's worker failed"],
                ))
            });
            finish(&shared2, &task2, result);
        });
    if spawned.is_err() {
        finish(
            shared,
            &task,
            Err(Failure::new(
                "INTERNAL_ERROR",
                &["could not start a worker thread"],
            )),
        );
    }
    Ok(Value::String(task))
}

/// Waits `d` (woken by changes); whether the task is still there and pending. A task being
/// cancelled becomes `cancelled`.
fn pending_after(shared: &Shared, task: &str, d: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + d;
    let mut st = shared.lock();
    loop {
        let status = match st.get("task", task) {
            None => return false,
            Some(rec) => str_field(rec, "status").to_owned(),
        };
        if status == "cancelling" {
            st.modify("task", task, |rec| {
                set_field(rec, "status", Value::String("cancelled".to_owned()));
                set_field(rec, "finished", Value::DateTime(DateTime::now()));
                set_field(rec, "allowed_operations", Value::Array(Vec::new()));
            });
            drop(st);
            shared.notify();
            return false;
        }
        let now = std::time::Instant::now();
        if now >= deadline || shared.stopping() {
            return status == "pending";
        }
        st = shared.wait(st, deadline - now);
    }
}

/// `task.cancel(task)`: a pending task becomes `cancelling` (its worker then ends it as
/// `cancelled`); a task that is no longer pending cannot be cancelled.
pub(crate) fn cancel(st: &mut State, task: &str) -> Result<Value, Failure> {
    let rec = st
        .get("task", task)
        .ok_or_else(|| Failure::new("HANDLE_INVALID", &["task", task]))?;
    if str_field(rec, "status") != "pending" {
        return Err(Failure::new(
            "OPERATION_NOT_ALLOWED",
            &["the task is no longer pending and cannot be cancelled"],
        ));
    }
    st.modify("task", task, |rec| {
        set_field(rec, "status", Value::String("cancelling".to_owned()));
    });
    Ok(Value::String(String::new()))
}

/// Ends `task`: `success` with `result` (an XML-RPC `<value>` fragment; none for an empty
/// string) or `failure` with the error's description in `error_info`.
pub(crate) fn finish(shared: &Shared, task: &str, result: Result<Value, Failure>) {
    let enc = shared.settings.dialect.encoder();
    let mut st = shared.lock();
    st.modify("task", task, |rec| {
        set_field(rec, "finished", Value::DateTime(DateTime::now()));
        set_field(rec, "progress", Value::Double(1.0));
        set_field(rec, "allowed_operations", Value::Array(Vec::new()));
        match &result {
            Ok(v) => {
                set_field(rec, "status", Value::String("success".to_owned()));
                let text = match v {
                    Value::String(s) if s.is_empty() => String::new(),
                    v => encode_value(v, &enc),
                };
                set_field(rec, "result", Value::String(text));
            }
            Err(f) => {
                set_field(rec, "status", Value::String("failure".to_owned()));
                set_field(rec, "error_info", f.to_value());
            }
        }
    });
    drop(st);
    shared.notify();
}

/// Moves a running task's `progress` (0.0 to 1.0); `false` when the task is being cancelled (or
/// gone), and then it is `cancelled`: the caller stops its work.
pub(crate) fn progress(shared: &Shared, task: &str, progress: f64) -> bool {
    if cancel_if_asked(shared, task) {
        return false;
    }
    let mut st = shared.lock();
    if st.get("task", task).is_none() {
        return false;
    }
    st.modify("task", task, |rec| {
        set_field(rec, "progress", Value::Double(progress));
    });
    drop(st);
    shared.notify();
    true
}

/// A task being cancelled (`task.cancel` made it `cancelling`) becomes `cancelled`; whether it
/// was (a work that stops for any reason after a cancel ends cancelled, not failed).
pub(crate) fn cancel_if_asked(shared: &Shared, task: &str) -> bool {
    let mut st = shared.lock();
    if st.get("task", task).map(|rec| str_field(rec, "status")) != Some("cancelling") {
        return false;
    }
    st.modify("task", task, |rec| {
        set_field(rec, "status", Value::String("cancelled".to_owned()));
        set_field(rec, "finished", Value::DateTime(DateTime::now()));
        set_field(rec, "allowed_operations", Value::Array(Vec::new()));
    });
    drop(st);
    shared.notify();
    true
}

/// Waits up to `d` for `task` to be `cancelling` (or no longer pending); whether it is.
pub(crate) fn wait_for_cancel(shared: &Shared, task: &str, d: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + d;
    let mut st = shared.lock();
    loop {
        match st.get("task", task).map(|rec| str_field(rec, "status")) {
            Some("cancelling") => return true,
            Some("pending") => {}
            _ => return false,
        }
        let now = std::time::Instant::now();
        if now >= deadline || shared.stopping() {
            return false;
        }
        st = shared.wait(st, deadline - now);
    }
}
