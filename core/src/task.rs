//! Waiting for tasks: what `Async.<class>.<message>` calls return.
//!
//! ```no_run
//! use std::time::Duration;
//! use xenapi::api::Vm;
//! use xenapi::{task, Options, Ref, Session};
//!
//! let session = Session::connect(Options::new("https://xen1"), "root", "password")?;
//! let vm: Ref<Vm> = Ref::new("OpaqueRef:...");
//! let t = Vm::async_clone(&session, &vm, "copy")?;
//! let copy: Ref<Vm> = task::wait_for(&session, &t, Duration::from_secs(600))?;
//!
//! // Cancellable from another thread:
//! let t = Vm::async_clone(&session, &vm, "copy2")?;
//! let cancel = task::Cancel::new();
//! let c = cancel.clone();
//! std::thread::spawn(move || c.cancel());
//! let r = task::wait_for_cancellable::<Ref<Vm>>(&session, &t, Duration::from_secs(600), &cancel);
//! # Ok::<(), xenapi::Error>(())
//! ```
//!
//! On xapi a wait follows the task with `event.from(["task/<ref>"], token, timeout)`, a
//! subscription to that one object (xapi_event.ml: `Object (cls, id)`), so it learns of the end
//! as the server records it, with one call per change rather than one per poll. Where
//! `event.from` does not exist (xend, whose `event.from` is `MESSAGE_METHOD_UNKNOWN`) it polls
//! `task.get_status` with a growing interval.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{Task, TaskStatusType};
use crate::codec::{decode_value, Limits};
use crate::convert::{from_value_in, FromValue};
use crate::{codes, Dialect, Error, Failure, Ref, Result, Session, Value};

/// First pause between two `task.get_status` polls; it grows by half each time up to
/// [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(50);
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest one `event.from` of a wait blocks: a cancel is noticed within it.
const EVENT_WAIT: Duration = Duration::from_millis(500);
/// What an `event.from` call may take beyond the time it blocks for.
const EVENT_CALL_MARGIN: Duration = Duration::from_secs(30);

/// A cancel request for waits, usable from any thread (clones share it). Once cancelled it
/// stays cancelled.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the waits given this handle to stop: each notices within half a second, sends
    /// `task.cancel` then `task.destroy`, and returns [`Error::Api`] `TASK_CANCELLED`.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Waits until `task` ends, and returns its result.
///
/// - `success`: `task.get_result`, an XML-RPC `<value>` fragment, decoded. An empty result (the
///   task of a void message) is `Value::String("")`, as a void reply is on the wire; a result
///   that is not XML is returned as the string it is.
/// - `failure`: the task's `error_info` as [`Error::Api`], as if the call had failed directly.
/// - `cancelled` (by anyone): [`Error::Api`] with the code `TASK_CANCELLED` and the task.
/// - `timeout` passed first: the task is cancelled (`task.cancel`) and destroyed
///   (`task.destroy`), and the error is [`Error::Timeout`], which says so.
///
/// A task that ended is destroyed before returning (best effort: a failure to destroy it is
/// ignored, xapi garbage-collects old tasks anyway).
pub fn wait(session: &Session, task: &Ref<Task>, timeout: Duration) -> Result<Value> {
    wait_cancellable(session, task, timeout, &Cancel::new())
}

/// [`wait`], which also ends when `cancel` is cancelled (from another thread): the task is then
/// cancelled and destroyed, and the error is [`Error::Api`] `TASK_CANCELLED` with the task and
/// a note that the caller cancelled it.
pub fn wait_cancellable(
    session: &Session,
    task: &Ref<Task>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    let outcome = if session.dialect() == Dialect::Xend {
        poll(session, task, deadline, cancel)
    } else {
        match follow_events(session, task, deadline, cancel) {
            Err(e) if e.code() == Some(codes::MESSAGE_METHOD_UNKNOWN) => {
                poll(session, task, deadline, cancel)
            }
            other => other,
        }
    };
    match outcome {
        Ok(Waited::Ended(outcome)) => {
            let _ = Task::destroy(session, task);
            outcome
        }
        Err(e) => Err(e),
        Ok(Waited::Deadline) => {
            let what = cancel_and_destroy(session, task);
            Err(Error::Timeout {
                url: session.url(),
                message: format!("task {task} still pending after {timeout:?}: {what}"),
            })
        }
        Ok(Waited::Cancelled) => {
            let what = cancel_and_destroy(session, task);
            Err(Error::Api(Failure::with_code(
                codes::TASK_CANCELLED,
                &[task.as_str(), &format!("cancelled by the caller: {what}")],
            )))
        }
    }
}

/// [`wait`], with the result read as a `T` (a `Ref<Vm>` for `Async.VM.clone`, `()` for a void
/// message, a record for one that returns one); a result of another type is an
/// [`Error::Protocol`].
pub fn wait_for<T: FromValue>(session: &Session, task: &Ref<Task>, timeout: Duration) -> Result<T> {
    from_value_in(wait(session, task, timeout)?, "task result")
}

/// [`wait_cancellable`], with the result read as a `T`, as [`wait_for`] does.
pub fn wait_for_cancellable<T: FromValue>(
    session: &Session,
    task: &Ref<Task>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<T> {
    from_value_in(
        wait_cancellable(session, task, timeout, cancel)?,
        "task result",
    )
}

/// How a wait ended.
enum Waited {
    /// The task ended: its result or failure.
    Ended(Result<Value>),
    Deadline,
    Cancelled,
}

/// Follows the task's record through `event.from` until it ends, the deadline passes or the
/// caller cancels.
fn follow_events(
    session: &Session,
    task: &Ref<Task>,
    deadline: Instant,
    cancel: &Cancel,
) -> Result<Waited> {
    let subs = Value::Array(vec![Value::String(format!("task/{task}"))]);
    let mut token = String::new();
    let mut seen = false;
    loop {
        if cancel.is_cancelled() {
            return Ok(Waited::Cancelled);
        }
        let now = Instant::now();
        let wait = if token.is_empty() {
            Duration::ZERO
        } else if now >= deadline {
            return Ok(Waited::Deadline);
        } else {
            (deadline - now).min(EVENT_WAIT)
        };
        let reply = session.with_timeout(wait + EVENT_CALL_MARGIN).call(
            "event.from",
            vec![
                subs.clone(),
                Value::String(token.clone()),
                Value::Double(wait.as_secs_f64()),
            ],
        )?;
        let batch = reply.as_struct().unwrap_or(&[]);
        let member = |name: &str| batch.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if let Some(t) = member("token").and_then(Value::as_str) {
            token = t.to_owned();
        }
        let events = member("events").and_then(Value::as_array).unwrap_or(&[]);
        for ev in events {
            let ev = ev.as_struct().unwrap_or(&[]);
            let field = |name: &str| ev.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            if field("ref").and_then(Value::as_str) != Some(task.as_str()) {
                continue;
            }
            seen = true;
            if field("operation").and_then(Value::as_str) == Some("del") {
                return Ok(Waited::Ended(Err(Error::Api(Failure::with_code(
                    codes::HANDLE_INVALID,
                    &["task", task.as_str()],
                )))));
            }
            let record = field("snapshot").and_then(Value::as_struct).unwrap_or(&[]);
            if let Some(ended) = ended_from_record(session, task, record) {
                return Ok(ended);
            }
        }
        if !seen {
            // The first batch lists the task if it exists: ask, for the server's own error
            // (HANDLE_INVALID) or its status if the subscription was not understood.
            seen = true;
            if let Some(ended) = status_now(session, task)? {
                return Ok(ended);
            }
        }
    }
}

/// The outcome in a task record of `event.from`, if the task has ended.
fn ended_from_record(
    session: &Session,
    task: &Ref<Task>,
    record: &[(String, Value)],
) -> Option<Waited> {
    let field = |name: &str| record.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let status = field("status").and_then(Value::as_str)?;
    Some(Waited::Ended(match status {
        "pending" | "cancelling" => return None,
        "success" => match field("result").and_then(Value::as_str) {
            Some(text) => decode_result(session, text),
            None => Task::get_result(session, task).and_then(|r| decode_result(session, &r)),
        },
        "failure" => {
            let info: Option<Vec<String>> =
                field("error_info").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("").to_owned())
                        .collect()
                });
            match info {
                Some(info) => Err(Error::Api(Failure::new(info))),
                None => Task::get_error_info(session, task)
                    .and_then(|info| Err(Error::Api(Failure::new(info)))),
            }
        }
        "cancelled" => Err(Error::Api(Failure::with_code(
            codes::TASK_CANCELLED,
            &[task.as_str()],
        ))),
        other => Err(Error::Protocol(format!(
            "task {task}: unknown task status {other:?}"
        ))),
    }))
}

/// Polls `task.get_status` with a growing interval (xend, or a server without `event.from`).
fn poll(session: &Session, task: &Ref<Task>, deadline: Instant, cancel: &Cancel) -> Result<Waited> {
    let mut interval = FIRST_POLL_INTERVAL;
    loop {
        if cancel.is_cancelled() {
            return Ok(Waited::Cancelled);
        }
        if let Some(ended) = status_now(session, task)? {
            return Ok(ended);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::Deadline);
        }
        // Short sleeps, so that a cancel is noticed soon; an interrupt (Ctrl-C) within a tick.
        let pause = interval.min(deadline - now).min(EVENT_WAIT);
        let ctx = crate::call::CallCtx {
            cancel: Some(cancel),
            ..crate::call::CallCtx::within(pause)
        };
        match crate::call::sleep(&ctx, pause, &session.url()) {
            Err(Error::Cancelled { .. }) if cancel.is_cancelled() => return Ok(Waited::Cancelled),
            other => other?,
        }
        interval = (interval * 3 / 2).min(MAX_POLL_INTERVAL);
    }
}

/// `task.get_status`, and the outcome if it has ended.
fn status_now(session: &Session, task: &Ref<Task>) -> Result<Option<Waited>> {
    Ok(match Task::get_status(session, task)? {
        TaskStatusType::Pending | TaskStatusType::Cancelling => None,
        TaskStatusType::Success => Some(Waited::Ended(
            Task::get_result(session, task).and_then(|r| decode_result(session, &r)),
        )),
        TaskStatusType::Failure => Some(Waited::Ended(
            Task::get_error_info(session, task)
                .and_then(|info| Err(Error::Api(Failure::new(info)))),
        )),
        TaskStatusType::Cancelled => Some(Waited::Ended(Err(Error::Api(Failure::with_code(
            codes::TASK_CANCELLED,
            &[task.as_str()],
        ))))),
        TaskStatusType::Unknown(status) => Some(Waited::Ended(Err(Error::Protocol(format!(
            "task.get_status: unknown task status {status:?}"
        ))))),
    })
}

/// `task.cancel` then `task.destroy`; says what was done, for the error.
fn cancel_and_destroy(session: &Session, task: &Ref<Task>) -> String {
    let cancelled = Task::cancel(session, task);
    let destroyed = Task::destroy(session, task);
    match (cancelled, destroyed) {
        (Ok(()), Ok(())) => {
            "the task was cancelled (task.cancel) and destroyed (task.destroy)".into()
        }
        (Err(c), Ok(())) => {
            format!("task.cancel failed ({c}); the task was destroyed (task.destroy)")
        }
        (Ok(()), Err(d)) => {
            format!("the task was cancelled (task.cancel) but task.destroy failed ({d})")
        }
        (Err(c), Err(d)) => format!("task.cancel failed ({c}) and task.destroy failed ({d})"),
    }
}

/// Decodes `task.get_result`'s text.
fn decode_result(session: &Session, text: &str) -> Result<Value> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::String(String::new()));
    }
    if !t.starts_with('<') {
        return Ok(Value::String(text.to_owned()));
    }
    decode_value(t, Limits::default()).map_err(|e| match e.into_error(&session.url()) {
        Error::Protocol(m) => Error::Protocol(format!("task result: {m}")),
        other => other,
    })
}
