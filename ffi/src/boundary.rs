//! The panic boundary and the argument checks every entry point goes through.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{xenapi_error, xenapi_status, Fail};

/// Runs a fallible entry point: clears `*err`, catches panics, and turns a failure into its status
/// and (when `err` is not NULL) an owned error object.
pub(crate) fn fallible<F>(err: *mut *mut xenapi_error, f: F) -> xenapi_status
where
    F: FnOnce() -> Result<(), Fail>,
{
    if !err.is_null() {
        // SAFETY: the caller passes NULL or a writable `xenapi_error *` slot.
        unsafe { err.write(std::ptr::null_mut()) };
    }
    let fail = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return xenapi_status::Ok,
        Ok(Err(fail)) => fail,
        Err(payload) => Fail::new(
            xenapi_status::Panic,
            format!(
                "internal error (panic in libxenapi): {}",
                panic_text(&*payload)
            ),
        ),
    };
    let status = fail.status;
    if !err.is_null() {
        let boxed = catch_unwind(AssertUnwindSafe(|| Box::new(xenapi_error::from(fail))));
        if let Ok(e) = boxed {
            // SAFETY: as above.
            unsafe { err.write(Box::into_raw(e)) };
        }
    }
    status
}

/// Runs an infallible entry point (an accessor), returning `default` if it panics.
pub(crate) fn infallible<T, F: FnOnce() -> T>(default: T, f: F) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// `*const T` to `&T`, or a `NULL_ARGUMENT` failure naming the parameter.
pub(crate) unsafe fn handle<'a, T>(p: *const T, name: &str) -> Result<&'a T, Fail> {
    // SAFETY: the caller passes NULL or a live handle of this type.
    unsafe { p.as_ref() }.ok_or_else(|| Fail::null(name))
}

/// `*mut T` to `&mut T`, or a `NULL_ARGUMENT` failure naming the parameter.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Fail> {
    // SAFETY: the caller passes NULL or a live handle of this type, used by one thread.
    unsafe { p.as_mut() }.ok_or_else(|| Fail::null(name))
}

/// A NUL-terminated UTF-8 argument; NULL or invalid UTF-8 is a failure.
pub(crate) unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::null(name));
    }
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Fail::invalid(format!("{name} is not valid UTF-8")))
}

/// An optional NUL-terminated UTF-8 argument: NULL is `None`.
pub(crate) unsafe fn opt_text<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Fail> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as in `text`.
        unsafe { text(p, name) }.map(Some)
    }
}

/// Stores `value` through an out-pointer that was checked for NULL before the work was done.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller checked `out` and it points to writable storage for a `T`.
    unsafe { out.write(value) };
}

/// Fails with `NULL_ARGUMENT` if an out-pointer is NULL; checked before any work is done, so a
/// call with a NULL out-pointer has no effect on the server.
pub(crate) fn out<T>(p: *mut T, name: &str) -> Result<(), Fail> {
    if p.is_null() {
        Err(Fail::null(name))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        xenapi_error_code, xenapi_error_free, xenapi_error_message, xenapi_error_status,
    };

    #[test]
    fn a_panic_becomes_a_status_and_an_error_object() {
        let mut err: *mut xenapi_error = std::ptr::null_mut();
        let status = fallible(&mut err, || panic!("boom"));
        assert_eq!(status, xenapi_status::Panic);
        assert!(!err.is_null());
        unsafe {
            assert_eq!(xenapi_error_status(err), xenapi_status::Panic);
            let msg = CStr::from_ptr(xenapi_error_message(err)).to_str().unwrap();
            assert!(msg.contains("boom"), "{msg}");
            assert!(xenapi_error_code(err).is_null());
            xenapi_error_free(err);
        }
        assert_eq!(infallible(7, || -> i32 { panic!("x") }), 7);
    }

    #[test]
    fn success_clears_the_error_slot_and_null_err_is_allowed() {
        let mut err: *mut xenapi_error = 8 as *mut xenapi_error; // garbage the caller left there
        assert_eq!(fallible(&mut err, || Ok(())), xenapi_status::Ok);
        assert!(err.is_null());
        let status = fallible(std::ptr::null_mut(), || Err(Fail::null("x")));
        assert_eq!(status, xenapi_status::NullArgument);
    }

    #[test]
    fn api_failures_keep_code_and_params() {
        let e = xenapi::Error::Api(xenapi::Failure::with_code("HANDLE_INVALID", &["VM", "r"]));
        let mut err: *mut xenapi_error = std::ptr::null_mut();
        assert_eq!(fallible(&mut err, || Err(e.into())), xenapi_status::Api);
        unsafe {
            let code = CStr::from_ptr(xenapi_error_code(err)).to_str().unwrap();
            assert_eq!(code, "HANDLE_INVALID");
            assert_eq!(crate::error::xenapi_error_param_count(err), 2);
            xenapi_error_free(err);
        }
    }
}
