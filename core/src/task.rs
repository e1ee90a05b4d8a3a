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
//! # Ok::<(), xenapi::Error>(())
//! ```

use std::time::{Duration, Instant};

use crate::api::{Task, TaskStatusType};
use crate::codec::{decode_value, Limits};
use crate::convert::{from_value_in, FromValue};
use crate::{codes, Error, Failure, Ref, Result, Session, Value};

/// First pause between two `task.get_status` polls; it grows by half each time up to
/// [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(50);
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Waits until `task` ends, polling `task.get_status` with a growing interval, and returns its
/// result.
///
/// - `success`: `task.get_result`, an XML-RPC `<value>` fragment, decoded. An empty result (the
///   task of a void message) is `Value::String("")`, as a void reply is on the wire; a result
///   that is not XML is returned as the string it is.
/// - `failure`: the task's `error_info` as [`Error::Api`], as if the call had failed directly.
/// - `cancelled`: [`Error::Api`] with the code `TASK_CANCELLED` and the task reference.
/// - `timeout` passed first: [`Error::Timeout`]. The task is left alone (it still runs): wait
///   again, or `Task::cancel` it.
///
/// A task that ended is destroyed before returning (best effort: a failure to destroy it is
/// ignored, xapi garbage-collects old tasks anyway).
pub fn wait(session: &Session, task: &Ref<Task>, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    let mut interval = FIRST_POLL_INTERVAL;
    loop {
        let outcome = match Task::get_status(session, task)? {
            TaskStatusType::Pending | TaskStatusType::Cancelling => None,
            TaskStatusType::Success => {
                Some(Task::get_result(session, task).and_then(|r| decode_result(session, &r)))
            }
            TaskStatusType::Failure => Some(
                Task::get_error_info(session, task)
                    .and_then(|info| Err(Error::Api(Failure::new(info)))),
            ),
            TaskStatusType::Cancelled => Some(Err(Error::Api(Failure::with_code(
                codes::TASK_CANCELLED,
                &[task.as_str()],
            )))),
            TaskStatusType::Unknown(status) => Some(Err(Error::Protocol(format!(
                "task.get_status: unknown task status {status:?}"
            )))),
        };
        if let Some(outcome) = outcome {
            let _ = Task::destroy(session, task);
            return outcome;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                url: session.url(),
                message: format!("task {task} still pending after {timeout:?}"),
            });
        }
        std::thread::sleep(interval.min(deadline - now));
        interval = (interval * 3 / 2).min(MAX_POLL_INTERVAL);
    }
}

/// [`wait`], with the result read as a `T` (a `Ref<Vm>` for `Async.VM.clone`, `()` for a void
/// message); a result of another type is an [`Error::Protocol`].
pub fn wait_for<T: FromValue>(session: &Session, task: &Ref<Task>, timeout: Duration) -> Result<T> {
    from_value_in(wait(session, task, timeout)?, "task result")
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
