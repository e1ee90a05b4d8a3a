//! Sessions: create, log in, call, log out, free.

use std::ffi::c_char;

use xenapi::{Dialect, Session, Value};

use crate::boundary::{fallible, handle, infallible, opt_text, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::options::xenapi_options;
use crate::strings::owned;
use crate::value::xenapi_value;

/// A XenAPI session: a connection to one server (the pool coordinator after a redirect) and, once
/// logged in, a session reference.
///
/// Thread safety: a session is safe to share between threads. Every function taking a
/// `const xenapi_session *` may be called from several threads at once on the same session; calls
/// run concurrently over a pool of connections. Only `xenapi_session_free` must not race with any
/// other use.
///
/// When the server expires the session (`SESSION_INVALID`), the next call logs in again with the
/// remembered credentials and retries once. `xenapi_session_free` of the last handle of a session
/// (views included) logs out if still logged in, so sessions never leak on the server.
///
/// A view (`xenapi_session_with_timeout`, `xenapi_session_with_call_options`) is a handle of the
/// same session (login, connections, call cap) whose calls have their own deadline, cancel
/// request or traceparent; it is used and freed as any session handle.
pub struct xenapi_session {
    pub(crate) inner: Session,
}

/// The server family found at login.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_dialect {
    /// xapi (XenServer, XCP-ng): `OpaqueRef:` references. Also the value before the first login.
    Xapi = 0,
    /// xend (Xen 3.x): UUID references, two-argument login.
    Xend = 1,
}

/// The core session behind a handle, or a `NULL_ARGUMENT` failure.
pub(crate) unsafe fn session_of<'a>(p: *const xenapi_session) -> Result<&'a Session, Fail> {
    // SAFETY: NULL or a live session.
    unsafe { handle(p, "session") }.map(|s| &s.inner)
}

/// Creates a session object for the server in `options`, not yet logged in. Checks the options
/// (URL, CA file) but does not connect.
///
/// Ownership: `options` is borrowed (copied: free it whenever you like). On success
/// `*out_session` receives a session the caller frees with `xenapi_session_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_new(
    options: *const xenapi_options,
    out_session: *mut *mut xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_session, "out_session")?;
        // SAFETY: NULL or live options.
        let o = unsafe { handle(options, "options") }?;
        let s = Session::new(o.inner.clone())?;
        // SAFETY: checked above.
        unsafe {
            put(
                out_session,
                Box::into_raw(Box::new(xenapi_session { inner: s })),
            )
        };
        Ok(())
    })
}

/// `xenapi_session_new` then `xenapi_session_login_with_password` with the version and originator
/// of the options. On failure nothing is left to free. The options' timeout
/// (`xenapi_options_set_timeout_ms`) bounds the whole connect: the protocol probe, the login, a
/// move to the pool coordinator and the `host.get_all_records` noting the pool's members, one
/// deadline for all (`XENAPI_STATUS_TIMEOUT` when it passes).
///
/// Ownership: all arguments are borrowed. On success `*out_session` receives a logged-in session
/// the caller frees with `xenapi_session_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_connect(
    options: *const xenapi_options,
    user: *const c_char,
    password: *const c_char,
    out_session: *mut *mut xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_session, "out_session")?;
        // SAFETY: NULL or live options / NUL-terminated strings.
        let o = unsafe { handle(options, "options") }?;
        let user = unsafe { text(user, "user") }?;
        let password = unsafe { text(password, "password") }?;
        let s = Session::connect(o.inner.clone(), user, password)?;
        // SAFETY: checked above.
        unsafe {
            put(
                out_session,
                Box::into_raw(Box::new(xenapi_session { inner: s })),
            )
        };
        Ok(())
    })
}

/// Logs in with a user name and password (`session.login_with_password`). If already logged in,
/// the old session is logged out first. `version` and `originator` may be NULL: then those of the
/// options are sent. A server that wants two parameters (xend) is asked again with two; a pool
/// member answering `HOST_IS_SLAVE` sends the login to the coordinator (unless turned off in the
/// options). Bad credentials give `XENAPI_STATUS_API` with code `SESSION_AUTHENTICATION_FAILED`.
///
/// The password is kept in memory (zeroed when the session is freed) only to log in again when the
/// server expires the session.
///
/// The session's timeout (the options', or the view's) bounds the whole login: logging out the
/// old session, the protocol probe, the login, a move to the coordinator and the
/// `host.get_all_records` that notes the pool's members for failover.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_login_with_password(
    session: *const xenapi_session,
    user: *const c_char,
    password: *const c_char,
    version: *const c_char,
    originator: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let user = unsafe { text(user, "user") }?;
        let password = unsafe { text(password, "password") }?;
        let version = unsafe { opt_text(version, "version") }?;
        let originator = unsafe { opt_text(originator, "originator") }?;
        s.login_with_password_as(user, password, version, originator)?;
        Ok(())
    })
}

/// Logs out (`session.logout`). Calls fail with `XENAPI_STATUS_INVALID_ARGUMENT` until the next
/// login. Logging out twice, or when never logged in, is harmless.
///
/// Ownership: `session` is borrowed (it still has to be freed).
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_logout(
    session: *const xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session.
        unsafe { session_of(session) }?.logout()?;
        Ok(())
    })
}

/// Logs in to this host's own copy of the pool database
/// (`session.slave_local_login_with_password`), as xapi allows on a pool member whose coordinator
/// is unreachable (emergency mode). Never moves to the coordinator and does not log in again when
/// the session expires (the password is not kept). If already logged in, the old session is logged
/// out first. xend has no such login (`MESSAGE_METHOD_UNKNOWN`).
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_slave_local_login_with_password(
    session: *const xenapi_session,
    user: *const c_char,
    password: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let user = unsafe { text(user, "user") }?;
        let password = unsafe { text(password, "password") }?;
        s.slave_local_login_with_password(user, password)?;
        Ok(())
    })
}

/// Ends a session from `xenapi_session_slave_local_login_with_password` (`session.local_logout`);
/// `xenapi_session_logout` and `xenapi_session_free` do the same for such a session. Logging out
/// twice is harmless.
///
/// Ownership: `session` is borrowed (it still has to be freed).
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_local_logout(
    session: *const xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session.
        unsafe { session_of(session) }?.local_logout()?;
        Ok(())
    })
}

/// Frees a session handle. Freeing the last handle of a session (the session and every view of
/// it, `xenapi_session_with_timeout`, `xenapi_session_with_call_options`, and every
/// `xenapi_session_call_async` still running) logs out if still logged in, waiting for the
/// server at most the smaller of the options' timeout and 5 s; freeing any other handle makes
/// no call. NULL is allowed. No other thread may be using this handle.
///
/// Ownership: takes `session`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_free(session: *mut xenapi_session) {
    infallible((), || {
        if !session.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}

/// Whether the session is logged in; false if `session` is NULL.
///
/// Ownership: `session` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_is_logged_in(session: *const xenapi_session) -> bool {
    infallible(false, || {
        // SAFETY: NULL or a live session.
        unsafe { session.as_ref() }.is_some_and(|s| s.inner.is_logged_in())
    })
}

/// The server family found at the last login (`XENAPI_DIALECT_XAPI` before any login or if
/// `session` is NULL).
///
/// Ownership: `session` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_get_dialect(
    session: *const xenapi_session,
) -> xenapi_dialect {
    infallible(xenapi_dialect::Xapi, || {
        // SAFETY: NULL or a live session.
        match unsafe { session.as_ref() }.map(|s| s.inner.dialect()) {
            Some(Dialect::Xend) => xenapi_dialect::Xend,
            _ => xenapi_dialect::Xapi,
        }
    })
}

/// The wire protocol calls go over: `XENAPI_PROTOCOL_JSONRPC` or `XENAPI_PROTOCOL_XMLRPC` once
/// logged in; `XENAPI_PROTOCOL_AUTO` before a login has found out, or if `session` is NULL.
///
/// Ownership: `session` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_get_protocol(
    session: *const xenapi_session,
) -> crate::options::xenapi_protocol {
    infallible(crate::options::xenapi_protocol::Auto, || {
        // SAFETY: NULL or a live session.
        match unsafe { session.as_ref() } {
            Some(s) => s.inner.protocol().into(),
            None => crate::options::xenapi_protocol::Auto,
        }
    })
}

/// The URL calls go to (the coordinator's, after a redirect).
///
/// Ownership: `session` is borrowed; on success `*out` receives a string the caller frees with
/// `xenapi_string_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_get_url(
    session: *const xenapi_session,
    out_url: *mut *mut c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_url, "out_url")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        // SAFETY: checked above.
        unsafe { put(out_url, owned(s.url())) };
        Ok(())
    })
}

/// The session reference (`OpaqueRef:...`), for code that builds its own requests. It grants
/// access to the host: do not log it. Not logged in gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `session` is borrowed; on success `*out` receives a string the caller frees with
/// `xenapi_string_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_get_reference(
    session: *const xenapi_session,
    out_reference: *mut *mut c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_reference, "out_reference")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let h = s
            .handle()
            .ok_or_else(|| Fail::invalid("the session is not logged in"))?;
        // SAFETY: checked above.
        unsafe { put(out_reference, owned(h)) };
        Ok(())
    })
}

/// Calls any XenAPI method, e.g. `"VM.get_all_records"` or `"Async.VM.start"`, with the session
/// reference first and then `args[0..nargs]`. `args` may be NULL when `nargs` is 0. A server
/// failure gives `XENAPI_STATUS_API` (an unknown method: code `MESSAGE_METHOD_UNKNOWN`).
///
/// The session's timeout (the options', or the view's) bounds the whole call, the wait for a
/// call slot and the library's own calls inside it included: one new login and a retry after
/// `SESSION_INVALID`, and a failover to a new pool coordinator (`xenapi_options_set_failover`).
/// Every typed function (`xenapi_vm_get_all`, ...) calls the same way.
///
/// Ownership: `session`, `method`, `args` and every `args[i]` are borrowed (the caller still frees
/// its argument values). On success `*out_result` receives the reply's value, which the caller
/// frees with `xenapi_value_free` (a void method gives an empty string).
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_call(
    session: *const xenapi_session,
    method: *const c_char,
    args: *const *const xenapi_value,
    nargs: usize,
    out_result: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_result, "out_result")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let method = unsafe { text(method, "method") }?;
        let params = unsafe { args_to_core(args, nargs) }?;
        let reply = s.call(method, params)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(reply).into_raw()) };
        Ok(())
    })
}

pub(crate) unsafe fn args_to_core(
    args: *const *const xenapi_value,
    nargs: usize,
) -> Result<Vec<Value>, Fail> {
    if nargs == 0 {
        return Ok(Vec::new());
    }
    if args.is_null() {
        return Err(Fail::null("args"));
    }
    // SAFETY: the caller passes `nargs` readable pointers.
    let slice = unsafe { std::slice::from_raw_parts(args, nargs) };
    slice
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // SAFETY: NULL or a live value.
            unsafe { p.as_ref() }
                .map(xenapi_value::to_core)
                .ok_or_else(|| Fail::null(&format!("args[{i}]")))
        })
        .collect()
}

/// A view of `session` whose calls have a deadline of `timeout_seconds` (> 0) instead of the
/// options' (`xenapi_options_set_timeout_ms`): pass it to any function taking a session, e.g.
/// for a synchronous `VDI.copy`. It shares the login, the connections and the call cap with
/// `session`; freeing it does not log out while another handle of the session lives. Prefer the
/// `xenapi_async_*` form and its `_wait` for long operations: a task outlives a dropped
/// connection and can be cancelled.
///
/// Ownership: `session` is borrowed. On success `*out_session` receives a session handle the
/// caller frees with `xenapi_session_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_with_timeout(
    session: *const xenapi_session,
    timeout_seconds: f64,
    out_session: *mut *mut xenapi_session,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_session, "out_session")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let d = seconds(timeout_seconds)?;
        let view = s.with_timeout(d);
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

/// `xenapi_session_call` with a deadline of `timeout_seconds` (> 0) for this call only.
///
/// Ownership: as `xenapi_session_call`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_call_with_timeout(
    session: *const xenapi_session,
    method: *const c_char,
    args: *const *const xenapi_value,
    nargs: usize,
    timeout_seconds: f64,
    out_result: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_result, "out_result")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let method = unsafe { text(method, "method") }?;
        let params = unsafe { args_to_core(args, nargs) }?;
        let d = seconds(timeout_seconds)?;
        let reply = s.with_timeout(d).call(method, params)?;
        // SAFETY: checked above.
        unsafe { put(out_result, xenapi_value::from_core(reply).into_raw()) };
        Ok(())
    })
}

/// The most calls the session has in flight at once (`xenapi_options_set_max_concurrent_calls`);
/// 0 for a NULL session.
///
/// Ownership: `session` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_session_get_max_concurrent_calls(
    session: *const xenapi_session,
) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live session.
        unsafe { session_of(session) }
            .map(|s| s.max_concurrent_calls())
            .unwrap_or(0)
    })
}

/// A positive number of seconds as a deadline.
pub(crate) fn seconds(s: f64) -> Result<std::time::Duration, Fail> {
    std::time::Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs() < 100 * 365 * 24 * 3600)
        .ok_or_else(|| Fail::invalid("timeout_seconds must be a positive number of seconds"))
}
