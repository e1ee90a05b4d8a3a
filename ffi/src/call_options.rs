//! Per-call options (deadline, cancel, W3C trace context), the session views that follow them,
//! and calls that complete through a callback on a library thread.

use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use xenapi::{CallOptions, Cancel, Value};

use crate::boundary::{fallible, handle, handle_mut, infallible, opt_text, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::session::{args_to_core, seconds as positive_seconds, session_of, xenapi_session};
use crate::task::xenapi_cancel;
use crate::value::xenapi_value;

/// What the calls of a session view follow (`xenapi_session_with_call_options`): a deadline, a
/// cancel request and a W3C `traceparent`. Each is unset in new options; what is unset stays as
/// in the session the view is made from. Made by `xenapi_call_options_new`, freed by
/// `xenapi_call_options_free`; read (copied) when a view is made, so that changing or freeing
/// the options afterwards does not change the view.
///
/// Thread safety: not synchronised; change one from one thread at a time.
pub struct xenapi_call_options {
    timeout: Option<Duration>,
    cancel: Option<Cancel>,
    traceparent: Option<String>,
}

impl xenapi_call_options {
    fn to_core(&self) -> Result<CallOptions, Fail> {
        let mut o = CallOptions::new();
        if let Some(d) = self.timeout {
            o = o.timeout(d);
        }
        if let Some(c) = &self.cancel {
            o = o.cancel(c.clone());
        }
        if let Some(t) = &self.traceparent {
            o = o.traceparent(t)?;
        }
        Ok(o)
    }
}

/// New call options with nothing set.
///
/// Ownership: the caller frees the result with `xenapi_call_options_free`. Never NULL.
#[no_mangle]
pub extern "C" fn xenapi_call_options_new() -> *mut xenapi_call_options {
    Box::into_raw(Box::new(xenapi_call_options {
        timeout: None,
        cancel: None,
        traceparent: None,
    }))
}

/// Frees call options (NULL is ignored). Views made from them keep what they read.
///
/// Ownership: takes `options`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_call_options_free(options: *mut xenapi_call_options) {
    infallible((), || {
        if !options.is_null() {
            // SAFETY: from `xenapi_call_options_new`, freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Sets the deadline of each call of the view, in seconds (> 0): from the moment the call is
/// made (a wait for a call slot or, for `xenapi_session_call_async`, for a library thread
/// included) to the last byte of its reply, the library's own calls inside it included (a new
/// login after `SESSION_INVALID`, a failover to a new pool coordinator). It replaces the
/// options' timeout (`xenapi_options_set_timeout_ms`). When it passes the call fails with
/// `XENAPI_STATUS_TIMEOUT`. Zero, negative, NaN or absurdly large values give
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_call_options_set_timeout(
    options: *mut xenapi_call_options,
    seconds: f64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live call options.
        let o = unsafe { handle_mut(options, "options") }?;
        o.timeout = Some(
            positive_seconds(seconds)
                .map_err(|_| Fail::invalid("the timeout must be a positive number of seconds"))?,
        );
        Ok(())
    })
}

/// Sets the cancel request of the view's calls: once `xenapi_cancel_cancel(cancel)` is called
/// (from any thread), every call of the view that is running ends within 100 ms with
/// `XENAPI_STATUS_CANCELLED` (the connection it used is dropped; the server may or may not have
/// carried the call out), and every later call of the view fails at once with that status. A
/// cancel stays fired: for later calls, make a new cancel and a new view. NULL removes the
/// cancel from the options.
///
/// Ownership: `options` and `cancel` are borrowed; the options keep their own reference to the
/// cancel request, so `cancel` may be freed afterwards (`xenapi_cancel_cancel` needs a live
/// handle, though: keep one to cancel with).
#[no_mangle]
pub unsafe extern "C" fn xenapi_call_options_set_cancel(
    options: *mut xenapi_call_options,
    cancel: *const xenapi_cancel,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live call options.
        let o = unsafe { handle_mut(options, "options") }?;
        // SAFETY: NULL or a live cancel request.
        o.cancel = unsafe { cancel.as_ref() }.map(xenapi_cancel::core);
        Ok(())
    })
}

/// Sets the W3C trace context sent as the `traceparent` HTTP header with each call of the view,
/// so that xapi's spans join the caller's trace: `"00-<32 hex>-<16 hex>-<2 hex>"` (trace id,
/// parent id, flags; ids not all zero). A malformed value gives
/// `XENAPI_STATUS_INVALID_ARGUMENT` and leaves the options unchanged. NULL removes it from the
/// options (a view then keeps the traceparent of the session it is made from, if any).
///
/// Ownership: `options` and `traceparent` are borrowed (`traceparent` is copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_call_options_set_traceparent(
    options: *mut xenapi_call_options,
    traceparent: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live call options / NULL or a NUL-terminated string.
        let o = unsafe { handle_mut(options, "options") }?;
        let t = unsafe { opt_text(traceparent, "traceparent") }?;
        if let Some(t) = t {
            xenapi::call::check_traceparent(t)?;
        }
        o.traceparent = t.map(str::to_owned);
        Ok(())
    })
}

/// A view of `session` whose calls, typed (`xenapi_vm_get_all`, ...) and untyped
/// (`xenapi_session_call`, `xenapi_session_call_async`), follow `options`: their deadline,
/// cancel and traceparent; what `options` leaves unset stays as in `session` (itself maybe a
/// view). Pass the view to any function taking a session. It shares the login, the connections
/// and the call cap with `session`; a logout through either is a logout of both. Freeing a view
/// with `xenapi_session_free` logs out only if it is the last handle of the session (the
/// session and all its views freed), as with `xenapi_session_with_timeout`.
///
/// Ownership: `session` and `options` are borrowed (`options` is copied: free it whenever you
/// like). On success `*out_session` receives a session handle the caller frees with
/// `xenapi_session_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_with_call_options(
    session: *const xenapi_session,
    options: *const xenapi_call_options,
    out_session: *mut *mut xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_session, "out_session")?;
        // SAFETY: NULL or a live session / live call options.
        let s = unsafe { session_of(session) }?;
        let o = unsafe { handle(options, "options") }?;
        let view = s.with_call_options(&o.to_core()?);
        // SAFETY: checked above.
        unsafe {
            put(
                out_session,
                Box::into_raw(Box::new(xenapi_session { inner: view })),
            )
        };
        Ok(())
    })
}

/// The completion of `xenapi_session_call_async`: called exactly once, on a library thread,
/// with the `user` pointer given, the call's status, and either its result (status
/// `XENAPI_STATUS_OK`; `err` is NULL) or its error (any other status; `result` is NULL). The
/// function owns both: free `result` with `xenapi_value_free` and `err` with
/// `xenapi_error_free`. It should hand them over and return quickly (it holds one of the
/// library's threads), must not unwind (longjmp, C++ exceptions), and may call any libxenapi
/// function, `xenapi_session_call_async` included. On Linux the library's threads run as
/// `SCHED_BATCH` (their wake-ups do not preempt the application's threads).
pub type xenapi_call_done_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        status: xenapi_status,
        result: *mut xenapi_value,
        err: *mut xenapi_error,
    ),
>;

/// The caller's pointer, carried to the library thread as is (the caller's contract says what
/// may be done with it there).
struct User(*mut c_void);
// SAFETY: the library never dereferences it; it only hands it back to the caller's callback.
unsafe impl Send for User {}

/// Calls any XenAPI method as `xenapi_session_call` does, but returns at once: the call runs on
/// one of the library's threads (at most 64; more calls queue) and its outcome goes to `done`
/// (see `xenapi_call_done_fn`), with `user` passed as is. The deadline (the session's, or the
/// view's: `xenapi_session_with_timeout`, `xenapi_session_with_call_options`) counts from now,
/// the waits for a thread and for a call slot included. For a per-call cancel, call through a
/// view with call options holding a `xenapi_cancel`: `done` then gets `XENAPI_STATUS_CANCELLED`
/// within 100 ms of `xenapi_cancel_cancel`.
///
/// Two kinds of failure: an unusable argument (NULL `session`, `method` or `done`, invalid
/// UTF-8, a NULL `args[i]`) is returned here, and `done` is never called; everything the call
/// itself finds (not logged in: `XENAPI_STATUS_INVALID_ARGUMENT`; a server failure:
/// `XENAPI_STATUS_API` with its code; a timeout, a cancel, a broken connection) goes to `done`.
/// When this returns `XENAPI_STATUS_OK`, `done` is called exactly once, maybe before this
/// returns.
///
/// Ownership: `session`, `method`, `args` and every `args[i]` are borrowed and copied before
/// this returns: free them whenever you like. The call keeps the session alive: freeing
/// `session` while the call runs is allowed (the logout then happens when the call ends).
/// `done` owns what it is given (see `xenapi_call_done_fn`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_call_async(
    session: *const xenapi_session,
    method: *const c_char,
    args: *const *const xenapi_value,
    nargs: usize,
    done: xenapi_call_done_fn,
    user: *mut c_void,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session / NUL-terminated string / `nargs` live values.
        let s = unsafe { session_of(session) }?;
        let method = unsafe { text(method, "method") }?;
        let params = unsafe { args_to_core(args, nargs) }?;
        let done = done.ok_or_else(|| Fail::null("done"))?;
        let user = User(user);
        s.call_async(method, params, move |result| {
            let user = user;
            let (status, value, error) = outcome(result);
            // SAFETY: the caller's callback, with what it owns from now on.
            unsafe { done(user.0, status, value, error) };
        });
        Ok(())
    })
}

/// The callback's arguments for a call's result: converted inside a panic boundary, so that
/// `done` is called in every case (with `XENAPI_STATUS_PANIC` if converting panicked).
fn outcome(result: xenapi::Result<Value>) -> (xenapi_status, *mut xenapi_value, *mut xenapi_error) {
    let converted = catch_unwind(AssertUnwindSafe(|| match result {
        Ok(v) => (
            xenapi_status::Ok,
            xenapi_value::from_core(v).into_raw(),
            std::ptr::null_mut(),
        ),
        Err(e) => {
            let fail = Fail::from(e);
            let status = fail.status;
            (
                status,
                std::ptr::null_mut(),
                Box::into_raw(Box::new(xenapi_error::from(fail))),
            )
        }
    }));
    converted.unwrap_or_else(|_| {
        let fail = Fail::new(
            xenapi_status::Panic,
            "internal error (panic in libxenapi) while handing over an asynchronous call's outcome",
        );
        // A second panic here (allocation) is beyond help: report without an error object.
        let error = catch_unwind(|| Box::into_raw(Box::new(xenapi_error::from(fail))))
            .unwrap_or(std::ptr::null_mut());
        (xenapi_status::Panic, std::ptr::null_mut(), error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn traceparent_is_checked_and_null_clears() {
        let o = xenapi_call_options_new();
        let good = CString::new("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let bad = CString::new("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").unwrap();
        unsafe {
            assert_eq!(
                xenapi_call_options_set_traceparent(o, good.as_ptr(), std::ptr::null_mut()),
                xenapi_status::Ok
            );
            assert_eq!((*o).traceparent.as_deref(), good.to_str().ok());
            assert_eq!(
                xenapi_call_options_set_traceparent(o, bad.as_ptr(), std::ptr::null_mut()),
                xenapi_status::InvalidArgument
            );
            assert_eq!((*o).traceparent.as_deref(), good.to_str().ok());
            assert_eq!(
                xenapi_call_options_set_traceparent(o, std::ptr::null(), std::ptr::null_mut()),
                xenapi_status::Ok
            );
            assert!((*o).traceparent.is_none());
            xenapi_call_options_free(o);
        }
    }

    #[test]
    fn timeouts_must_be_positive() {
        let o = xenapi_call_options_new();
        unsafe {
            for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
                assert_eq!(
                    xenapi_call_options_set_timeout(o, bad, std::ptr::null_mut()),
                    xenapi_status::InvalidArgument
                );
            }
            assert_eq!(
                xenapi_call_options_set_timeout(o, 1.5, std::ptr::null_mut()),
                xenapi_status::Ok
            );
            assert_eq!((*o).timeout, Some(Duration::from_millis(1500)));
            xenapi_call_options_free(o);
            xenapi_call_options_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn the_options_keep_their_own_cancel() {
        let o = xenapi_call_options_new();
        let c = crate::task::xenapi_cancel_new();
        unsafe {
            assert_eq!(
                xenapi_call_options_set_cancel(o, c, std::ptr::null_mut()),
                xenapi_status::Ok
            );
            crate::task::xenapi_cancel_cancel(c);
            crate::task::xenapi_cancel_free(c);
            assert!((*o).cancel.as_ref().is_some_and(Cancel::is_cancelled));
            assert_eq!(
                xenapi_call_options_set_cancel(o, std::ptr::null(), std::ptr::null_mut()),
                xenapi_status::Ok
            );
            assert!((*o).cancel.is_none());
            xenapi_call_options_free(o);
        }
    }

    #[test]
    fn outcomes_hand_over_exactly_one_of_result_and_error() {
        let (st, v, e) = outcome(Ok(Value::from("x")));
        assert_eq!(st, xenapi_status::Ok);
        assert!(!v.is_null() && e.is_null());
        unsafe { crate::value::xenapi_value_free(v) };
        let failure = xenapi::Failure::with_code("HANDLE_INVALID", &["VM", "r"]);
        let (st, v, e) = outcome(Err(xenapi::Error::Api(failure)));
        assert_eq!(st, xenapi_status::Api);
        assert!(v.is_null() && !e.is_null());
        unsafe {
            let code = std::ffi::CStr::from_ptr(crate::error::xenapi_error_code(e));
            assert_eq!(code.to_str().unwrap(), "HANDLE_INVALID");
            crate::error::xenapi_error_free(e);
        }
    }

    #[test]
    fn argument_errors_come_back_at_once_and_done_is_not_called() {
        unsafe extern "C" fn never(
            _: *mut c_void,
            _: xenapi_status,
            _: *mut xenapi_value,
            _: *mut xenapi_error,
        ) {
            panic!("done must not be called for an argument error");
        }
        let m = CString::new("VM.get_all").unwrap();
        unsafe {
            let st = xenapi_session_call_async(
                std::ptr::null(),
                m.as_ptr(),
                std::ptr::null(),
                0,
                Some(never),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(st, xenapi_status::NullArgument);
        }
    }
}
