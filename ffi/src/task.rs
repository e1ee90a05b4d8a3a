//! Tasks (`Async.*` calls) and events.

use std::ffi::c_char;
use std::time::Duration;

use crate::boundary::{fallible, out, put, text};
use crate::calls;
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::session::{session_of, xenapi_session};
use crate::value::xenapi_value;

/// What "no limit" means for a task wait: far beyond any task, short of overflowing a deadline.
const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Waits for the task `task` (the reference an `Async.*` call returns through
/// `xenapi_session_call`) to finish, polling its status, and returns its result. A task that
/// failed gives `XENAPI_STATUS_API` with the task's error code and parameters; a cancelled one
/// `TASK_CANCELLED`. A task that ended is destroyed on the server. `timeout_seconds` <= 0 waits without limit;
/// when it passes, `XENAPI_STATUS_TIMEOUT` (the task goes on on the server).
///
/// Ownership: `session` and `task` are borrowed. On success `*out_result` receives the decoded
/// result value (an empty string for a void method) that the caller frees with
/// `xenapi_value_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_task_wait(
    session: *const xenapi_session,
    task: *const c_char,
    timeout_seconds: f64,
    out_result: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_result, "out_result")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let task = unsafe { text(task, "task") }?;
        let timeout = if timeout_seconds.is_nan() {
            return Err(Fail::invalid("timeout_seconds is NaN"));
        } else if timeout_seconds > 0.0 && timeout_seconds < NO_LIMIT.as_secs_f64() {
            Duration::try_from_secs_f64(timeout_seconds)
                .map_err(|_| Fail::invalid("timeout_seconds is out of range"))?
        } else {
            NO_LIMIT
        };
        let v = calls::task_wait(s, task, timeout)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(v).into_raw()) };
        Ok(())
    })
}

/// Waits up to `timeout_seconds` for changes to objects of the classes `classes[0..nclasses]`
/// (e.g. `"vm"`, `"task"`; `"*"` for all) after `token` (`""` the first time), with
/// `event.from`. The result is a struct `{ events: [...], valid_ref_counts: {...}, token: "..." }`:
/// pass its `token` to the next call. Each event is a struct with `class`, `operation` (`add`,
/// `mod`, `del`), `ref` and, except for `del`, `snapshot` (the object's record).
///
/// Ownership: all arguments are borrowed. On success `*out_result` receives a value the caller
/// frees with `xenapi_value_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_event_from(
    session: *const xenapi_session,
    classes: *const *const c_char,
    nclasses: usize,
    token: *const c_char,
    timeout_seconds: f64,
    out_result: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_result, "out_result")?;
        // SAFETY: NULL or a live session / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let token = unsafe { text(token, "token") }?;
        let mut names = Vec::with_capacity(nclasses);
        if nclasses > 0 {
            if classes.is_null() {
                return Err(Fail::null("classes"));
            }
            // SAFETY: the caller passes `nclasses` readable pointers.
            let slice = unsafe { std::slice::from_raw_parts(classes, nclasses) };
            for (i, p) in slice.iter().enumerate() {
                names.push(unsafe { text(*p, &format!("classes[{i}]")) }?.to_owned());
            }
        }
        if !timeout_seconds.is_finite() || timeout_seconds < 0.0 {
            return Err(Fail::invalid(
                "timeout_seconds must be a finite number >= 0",
            ));
        }
        let v = calls::event_from(s, names, token, timeout_seconds)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(v).into_raw()) };
        Ok(())
    })
}
