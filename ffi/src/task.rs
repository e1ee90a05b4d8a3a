//! Task waits: what the datamodel does not have. `Async.*` calls are generated
//! (`xenapi_async_<class>_<message>`, giving the task reference); waiting for the task is a loop
//! over `task.get_status` and friends, which the core does in `xenapi::task::wait`.

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

/// Waits for the task `task` (the reference an `xenapi_async_*` function returns, or an
/// `Async.*` call through `xenapi_session_call`) to finish, polling its status, and returns its
/// result. A task that failed gives `XENAPI_STATUS_API` with the task's error code and
/// parameters; a cancelled one `TASK_CANCELLED`. A task that ended is destroyed on the server.
/// `timeout_seconds` <= 0 waits without limit; when it passes, `XENAPI_STATUS_TIMEOUT` (the task
/// goes on on the server).
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
        let timeout = if timeout_seconds.is_nan() {
            return Err(Fail::invalid("timeout_seconds is NaN"));
        } else if timeout_seconds > 0.0 && timeout_seconds < NO_LIMIT.as_secs_f64() {
            Duration::try_from_secs_f64(timeout_seconds)
                .map_err(|_| Fail::invalid("timeout_seconds is out of range"))?
        } else {
            NO_LIMIT
        };
        let task: Ref<Task> = Ref::new(task);
        let v = xenapi::task::wait(s, &task, timeout)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(v).into_raw()) };
        Ok(())
    })
}
