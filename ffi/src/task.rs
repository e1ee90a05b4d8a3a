//! Task waits: what the datamodel does not have. `Async.*` calls are generated
//! (`xenapi_async_<class>_<message>`, giving the task reference, and
//! `xenapi_async_<class>_<message>_wait`, giving its typed result); the wait itself follows the
//! task through `event.from` (polling on xend), which the core does in `xenapi::task::wait`.

use std::ffi::c_char;
use std::time::Duration;

use xenapi::api::Task;
use xenapi::Ref;

use crate::boundary::{fallible, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::session::{session_of, xenapi_session};
use crate::value::xenapi_value;

/// What "no limit" means for a task wait: far beyond any task, short of overflowing a deadline.
const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A cancel request: `xenapi_cancel_cancel`, from any thread, stops everything given it.
/// - Calls of a session view made with call options holding it
///   (`xenapi_call_options_set_cancel`, `xenapi_session_with_call_options`), typed, untyped and
///   asynchronous: a running call ends within 100 ms with `XENAPI_STATUS_CANCELLED` (its
///   connection is dropped; the server may or may not have carried the call out), a later call
///   fails at once with it.
/// - Task waits (`xenapi_task_wait_cancellable`, `xenapi_async_*_wait`): the wait ends within
///   half a second, cancels and destroys its task, and fails with `XENAPI_STATUS_API`, code
///   `TASK_CANCELLED`.
/// - Transfers (`xenapi_transfer_options_set_cancel`): as task waits.
///
/// A cancel stays fired: use a new one for the next operations.
///
/// Thread safety: every function taking a `const xenapi_cancel *` may be called from any thread
/// at once; only `xenapi_cancel_free` must not race with another use.
pub struct xenapi_cancel {
    inner: xenapi::task::Cancel,
}

impl xenapi_cancel {
    /// The core's cancel request (shared: cancelling either cancels both).
    pub(crate) fn core(&self) -> xenapi::task::Cancel {
        self.inner.clone()
    }
}

/// A new, not cancelled, cancel request.
///
/// Ownership: the caller frees the result with `xenapi_cancel_free`. Never NULL.
#[no_mangle]
pub extern "C" fn xenapi_cancel_new() -> *mut xenapi_cancel {
    Box::into_raw(Box::new(xenapi_cancel {
        inner: xenapi::task::Cancel::new(),
    }))
}

/// Cancels: the calls, waits and transfers given `cancel` stop (see `xenapi_cancel`). Harmless
/// on NULL and when called twice. Never blocks.
///
/// Ownership: `cancel` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cancel_cancel(cancel: *const xenapi_cancel) {
    // SAFETY: NULL or a live cancel request.
    if let Some(c) = unsafe { cancel.as_ref() } {
        c.inner.cancel();
    }
}

/// Frees a cancel request (NULL is ignored).
///
/// Ownership: takes `cancel`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cancel_free(cancel: *mut xenapi_cancel) {
    if !cancel.is_null() {
        // SAFETY: from `xenapi_cancel_new`, freed once.
        drop(unsafe { Box::from_raw(cancel) });
    }
}

/// The core's cancel request behind a handle (NULL: one nobody cancels).
pub(crate) unsafe fn cancel_of(p: *const xenapi_cancel) -> xenapi::task::Cancel {
    // SAFETY: NULL or a live cancel request.
    unsafe { p.as_ref() }
        .map(|c| c.inner.clone())
        .unwrap_or_default()
}

/// A wait's deadline from its seconds: <= 0 waits without limit.
pub(crate) fn wait_timeout(timeout_seconds: f64) -> Result<Duration, Fail> {
    if timeout_seconds.is_nan() {
        Err(Fail::invalid("timeout_seconds is NaN"))
    } else if timeout_seconds > 0.0 && timeout_seconds < NO_LIMIT.as_secs_f64() {
        Duration::try_from_secs_f64(timeout_seconds)
            .map_err(|_| Fail::invalid("timeout_seconds is out of range"))
    } else {
        Ok(NO_LIMIT)
    }
}

/// Waits for the task `task` (the reference an `xenapi_async_*` function returns, or an
/// `Async.*` call through `xenapi_session_call`) to finish, following it through `event.from`
/// (polling its status on xend), and returns its result untyped (the typed form is
/// `xenapi_async_<class>_<message>_wait`). A task that failed gives `XENAPI_STATUS_API` with the
/// task's error code and parameters; a cancelled one `TASK_CANCELLED`. A task that ended is
/// destroyed on the server. `timeout_seconds` <= 0 waits without limit; when it passes, the task
/// is cancelled (`task.cancel`) and destroyed (`task.destroy`) and the status is
/// `XENAPI_STATUS_TIMEOUT`. `xenapi_task_wait_cancellable` also takes a cancel request.
///
/// Hand-written: the datamodel has the task's messages (generated as `xenapi_task_*`), not the
/// wait loop over them.
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
        let timeout = wait_timeout(timeout_seconds)?;
        let task: Ref<Task> = Ref::new(task);
        let v = xenapi::task::wait(s, &task, timeout)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(v).into_raw()) };
        Ok(())
    })
}

/// `xenapi_task_wait` that also ends when `cancel` (NULL: none) is cancelled from another
/// thread with `xenapi_cancel_cancel`: the task is then cancelled and destroyed, and the status
/// is `XENAPI_STATUS_API` with the code `TASK_CANCELLED`.
///
/// Ownership: `session`, `task` and `cancel` are borrowed. On success `*out_result` receives the
/// decoded result value that the caller frees with `xenapi_value_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_task_wait_cancellable(
    session: *const xenapi_session,
    task: *const c_char,
    timeout_seconds: f64,
    cancel: *const xenapi_cancel,
    out_result: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_result, "out_result")?;
        // SAFETY: NULL or a live session / NUL-terminated string / cancel request.
        let s = unsafe { session_of(session) }?;
        let task = unsafe { text(task, "task") }?;
        let timeout = wait_timeout(timeout_seconds)?;
        let cancel = unsafe { cancel_of(cancel) };
        let task: Ref<Task> = Ref::new(task);
        let v = xenapi::task::wait_cancellable(s, &task, timeout, &cancel)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(v).into_raw()) };
        Ok(())
    })
}
