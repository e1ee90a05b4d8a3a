//! Status codes and the error object.

use std::ffi::{c_char, CString};
use std::ptr;

use crate::boundary::infallible;
use crate::strings::cstring;

/// The result of every fallible function. `XENAPI_STATUS_OK` is 0; every other value is a
/// failure, described in detail by the `xenapi_error` the function hands out.
///
/// The values are stable across versions; new ones may be added at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_status {
    /// Success.
    Ok = 0,
    /// The server refused the call (`Status: Failure`): the error has a XenAPI code such as
    /// `VM_BAD_POWER_STATE` and its parameters (`xenapi_error_code`, `xenapi_error_param`).
    Api = 1,
    /// The host could not be reached, or the connection broke before a full reply.
    Connect = 2,
    /// The TLS handshake failed: untrusted certificate, fingerprint pin mismatch, no common protocol.
    Tls = 3,
    /// The server answered with an HTTP error status (`xenapi_error_http_status`).
    Http = 4,
    /// The connect timeout or the call deadline passed.
    Timeout = 5,
    /// The reply was not a valid XenAPI reply.
    Protocol = 6,
    /// An argument was unusable: invalid UTF-8, a bad URL or fingerprint, a value of the wrong
    /// kind, an index out of range, a call on a session that is not logged in.
    InvalidArgument = 7,
    /// A required pointer argument was NULL.
    NullArgument = 8,
    /// A bug in libxenapi (a caught panic). The library stays usable; please report it.
    Panic = 9,
    /// The caller cancelled the call (`xenapi_cancel_cancel` on the cancel request of a view made
    /// with `xenapi_call_options_set_cancel` and `xenapi_session_with_call_options`): a running
    /// call ends within 100 ms. The connection it used was dropped; the session stays usable
    /// (through handles without that cancel). The server may or may not have carried the call
    /// out.
    Cancelled = 10,
}

impl From<xenapi::ErrorKind> for xenapi_status {
    fn from(kind: xenapi::ErrorKind) -> Self {
        use xenapi::ErrorKind as K;
        match kind {
            K::Api => xenapi_status::Api,
            K::Connect => xenapi_status::Connect,
            K::Tls => xenapi_status::Tls,
            K::Http => xenapi_status::Http,
            K::Timeout => xenapi_status::Timeout,
            K::Protocol => xenapi_status::Protocol,
            K::InvalidArgument => xenapi_status::InvalidArgument,
            K::Cancelled => xenapi_status::Cancelled,
        }
    }
}

/// A failure on the Rust side, before it becomes an error object.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) status: xenapi_status,
    message: String,
    description: Vec<String>,
    http_status: u16,
}

impl Fail {
    pub(crate) fn new(status: xenapi_status, message: impl Into<String>) -> Self {
        Fail {
            status,
            message: message.into(),
            description: Vec::new(),
            http_status: 0,
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn null(name: &str) -> Self {
        Fail::new(
            xenapi_status::NullArgument,
            format!("{name} must not be NULL"),
        )
    }

    #[cold]
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Fail::new(xenapi_status::InvalidArgument, message)
    }
}

impl From<xenapi::Error> for Fail {
    #[cold]
    #[inline(never)]
    fn from(e: xenapi::Error) -> Self {
        let http_status = match &e {
            xenapi::Error::Http { status, .. } => *status,
            _ => 0,
        };
        Fail {
            status: e.kind().into(),
            message: e.to_string(),
            description: e
                .failure()
                .map(|f| f.description().to_vec())
                .unwrap_or_default(),
            http_status,
        }
    }
}

/// An error: a status, a message for people, and for `XENAPI_STATUS_API` the XenAPI error code and
/// its parameters (the server's `ErrorDescription`).
///
/// Created by a failing function into the caller's `xenapi_error **err`; the caller owns it and
/// frees it with `xenapi_error_free`. Strings read from it are borrowed: valid until it is freed.
pub struct xenapi_error {
    status: xenapi_status,
    message: CString,
    /// `[code, param, ...]`; empty unless the server sent a failure.
    description: Vec<CString>,
    http_status: u16,
}

impl From<Fail> for xenapi_error {
    fn from(f: Fail) -> Self {
        xenapi_error {
            status: f.status,
            message: cstring(f.message),
            description: f.description.into_iter().map(cstring).collect(),
            http_status: f.http_status,
        }
    }
}

/// The status of the failure `err` describes (never `XENAPI_STATUS_OK` for an error object).
/// NULL gives `XENAPI_STATUS_NULL_ARGUMENT`.
///
/// Ownership: `err` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_status(err: *const xenapi_error) -> xenapi_status {
    infallible(xenapi_status::Panic, || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }.map_or(xenapi_status::NullArgument, |e| e.status)
    })
}

/// A one-line message for people, e.g. `VM_BAD_POWER_STATE: VM OpaqueRef:.. is running, but the
/// operation needs it to be halted`. Never contains a password or a session reference.
///
/// Ownership: `err` is borrowed; the string is borrowed from `err` (valid until
/// `xenapi_error_free(err)`). NULL if `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_message(err: *const xenapi_error) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr())
    })
}

/// The XenAPI error code (`SESSION_AUTHENTICATION_FAILED`, `HANDLE_INVALID`, ...) when the status
/// is `XENAPI_STATUS_API`; NULL otherwise or if `err` is NULL.
///
/// Ownership: `err` is borrowed; the string is borrowed from `err`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_code(err: *const xenapi_error) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }
            .and_then(|e| e.description.first())
            .map_or(ptr::null(), |c| c.as_ptr())
    })
}

/// How many parameters follow the XenAPI error code (0 when there is no code or `err` is NULL).
///
/// Ownership: `err` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_param_count(err: *const xenapi_error) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }.map_or(0, |e| e.description.len().saturating_sub(1))
    })
}

/// The parameter `index` (from 0) of the XenAPI error, e.g. for `VM_BAD_POWER_STATE` the VM, the
/// expected and the actual state. NULL when `index` is out of range or `err` is NULL.
///
/// Ownership: `err` is borrowed; the string is borrowed from `err`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_param(
    err: *const xenapi_error,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }
            .and_then(|e| e.description.get(index.checked_add(1)?))
            .map_or(ptr::null(), |c| c.as_ptr())
    })
}

/// The datamodel's name of parameter `index` (from 0) of the error's XenAPI code (from
/// `spec/errors.json`), e.g. `"vm"`, `"expected"`, `"actual"` for `VM_BAD_POWER_STATE`. NULL when
/// there is no code, the datamodel does not list the code, `index` is beyond its parameters, or
/// `err` is NULL.
///
/// Ownership: `err` is borrowed; the string is static.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_param_name(
    err: *const xenapi_error,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live error.
        let Some(code) = unsafe { err.as_ref() }.and_then(|e| e.description.first()) else {
            return ptr::null();
        };
        let Ok(code) = code.to_str() else {
            return ptr::null();
        };
        match xenapi::api::error_param_names(code).and_then(|p| p.get(index)) {
            Some(name) => param_name_cstr(name),
            None => ptr::null(),
        }
    })
}

/// Static C strings of the datamodel's error parameter names, made once.
fn param_name_cstr(name: &'static str) -> *const c_char {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static std::ffi::CStr>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry(name)
        .or_insert_with(|| Box::leak(cstring(name).into_boxed_c_str()))
        .as_ptr()
}

/// The HTTP status when the status is `XENAPI_STATUS_HTTP`; 0 otherwise.
///
/// Ownership: `err` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_http_status(err: *const xenapi_error) -> u16 {
    infallible(0, || {
        // SAFETY: NULL or a live error.
        unsafe { err.as_ref() }.map_or(0, |e| e.http_status)
    })
}

/// Frees an error. NULL is allowed and does nothing.
///
/// Ownership: takes `err`, which must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn xenapi_error_free(err: *mut xenapi_error) {
    infallible((), || {
        if !err.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

/// The name of a status, e.g. `"XENAPI_STATUS_TLS"`; `"XENAPI_STATUS_UNKNOWN"` for a value that
/// is not a status.
///
/// Ownership: the string is static; do not free it.
#[no_mangle]
pub extern "C" fn xenapi_status_name(status: i32) -> *const c_char {
    let name: &'static str = match status {
        0 => "XENAPI_STATUS_OK\0",
        1 => "XENAPI_STATUS_API\0",
        2 => "XENAPI_STATUS_CONNECT\0",
        3 => "XENAPI_STATUS_TLS\0",
        4 => "XENAPI_STATUS_HTTP\0",
        5 => "XENAPI_STATUS_TIMEOUT\0",
        6 => "XENAPI_STATUS_PROTOCOL\0",
        7 => "XENAPI_STATUS_INVALID_ARGUMENT\0",
        8 => "XENAPI_STATUS_NULL_ARGUMENT\0",
        9 => "XENAPI_STATUS_PANIC\0",
        10 => "XENAPI_STATUS_CANCELLED\0",
        _ => "XENAPI_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}
