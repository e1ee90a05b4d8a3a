//! Typed host operations: CPU and memory use, the Xen console, the log, the method list.

use std::ffi::c_char;

use crate::boundary::{fallible, infallible, out, put, text};
use crate::calls;
use crate::error::{xenapi_error, xenapi_status};
use crate::session::{session_of, xenapi_session};
use crate::strings::{owned, xenapi_string_list};

/// CPU utilisation: a list of (CPU number, fraction from 0 to 1), ordered by CPU number. Comes from
/// `xenapi_vm_get_vcpus_utilisation` (VCPUs of a VM) or `xenapi_host_get_cpu_utilisation`
/// (physical CPUs of a host). Free with `xenapi_cpu_usage_free`. Immutable: safe to read from
/// several threads at once.
pub struct xenapi_cpu_usage {
    items: Vec<(i64, f64)>,
}

impl xenapi_cpu_usage {
    pub(crate) fn new(items: Vec<(i64, f64)>) -> Self {
        xenapi_cpu_usage { items }
    }
}

/// The number of CPUs in `usage`; 0 if `usage` is NULL.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cpu_usage_len(usage: *const xenapi_cpu_usage) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live handle.
        unsafe { usage.as_ref() }.map_or(0, |u| u.items.len())
    })
}

/// The number of CPU `index` (from 0; the VCPU or `host_cpu` number); -1 if out of range or
/// `usage` is NULL.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cpu_usage_cpu(usage: *const xenapi_cpu_usage, index: usize) -> i64 {
    infallible(-1, || {
        // SAFETY: NULL or a live handle.
        unsafe { usage.as_ref() }
            .and_then(|u| u.items.get(index))
            .map_or(-1, |(cpu, _)| *cpu)
    })
}

/// The utilisation of CPU `index` (from 0), a fraction from 0 to 1; a negative number if out of
/// range or `usage` is NULL.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cpu_usage_fraction(
    usage: *const xenapi_cpu_usage,
    index: usize,
) -> f64 {
    infallible(-1.0, || {
        // SAFETY: NULL or a live handle.
        unsafe { usage.as_ref() }
            .and_then(|u| u.items.get(index))
            .map_or(-1.0, |(_, f)| *f)
    })
}

/// Frees a CPU usage list. NULL is allowed.
///
/// Ownership: takes `usage`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cpu_usage_free(usage: *mut xenapi_cpu_usage) {
    infallible((), || {
        if !usage.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(usage) });
        }
    })
}

/// The references of every host (`host.get_all`); one for a single server, one per member for a
/// pool.
///
/// Ownership: `session` is borrowed. On success `*out_list` receives a list the caller frees with
/// `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_get_all(
    session: *const xenapi_session,
    out_list: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_list, "out_list")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let refs = calls::host_get_all(s)?;
        // SAFETY: checked above.
        unsafe {
            put(
                out_list,
                Box::into_raw(Box::new(xenapi_string_list::new(refs))),
            )
        };
        Ok(())
    })
}

/// Every method the server offers (`host.list_methods`), e.g. `"VM.start"`.
///
/// Ownership: `session` is borrowed. On success `*out_list` receives a list the caller frees with
/// `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_list_methods(
    session: *const xenapi_session,
    out_list: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_list, "out_list")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let methods = calls::host_list_methods(s)?;
        // SAFETY: checked above.
        unsafe {
            put(
                out_list,
                Box::into_raw(Box::new(xenapi_string_list::new(methods))),
            )
        };
        Ok(())
    })
}

unsafe fn host_text(
    session: *const xenapi_session,
    host: *const c_char,
    out_text: *mut *mut c_char,
    err: *mut *mut xenapi_error,
    get: fn(&xenapi::Session, &str) -> Result<String, xenapi::Error>,
) -> xenapi_status {
    fallible(err, || {
        out(out_text, "out_text")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let host = unsafe { text(host, "host") }?;
        let t = get(s, host)?;
        // SAFETY: checked above.
        unsafe { put(out_text, owned(t)) };
        Ok(())
    })
}

/// The Xen console ring of `host` (`host.dmesg`, what `xm dmesg` shows), lines separated by `\n`.
///
/// Ownership: `session` and `host` are borrowed. On success `*out_text` receives a string the
/// caller frees with `xenapi_string_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_dmesg(
    session: *const xenapi_session,
    host: *const c_char,
    out_text: *mut *mut c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { host_text(session, host, out_text, err, calls::host_dmesg) }
}

/// The management daemon's log of `host` (`host.get_log`: xend's or xapi's log).
///
/// Ownership: `session` and `host` are borrowed. On success `*out_text` receives a string the
/// caller frees with `xenapi_string_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_get_log(
    session: *const xenapi_session,
    host: *const c_char,
    out_text: *mut *mut c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { host_text(session, host, out_text, err, calls::host_get_log) }
}

/// The utilisation of each physical CPU of `host` (`host_cpu.utilisation` of every CPU in
/// `host.host_CPUs`), ordered by CPU number.
///
/// Ownership: `session` and `host` are borrowed. On success `*out_usage` receives a handle the
/// caller frees with `xenapi_cpu_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_get_cpu_utilisation(
    session: *const xenapi_session,
    host: *const c_char,
    out_usage: *mut *mut xenapi_cpu_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let host = unsafe { text(host, "host") }?;
        let mut items = calls::host_cpu_utilisation(s, host)?;
        items.sort_by_key(|(cpu, _)| *cpu);
        // SAFETY: checked above.
        unsafe {
            put(
                out_usage,
                Box::into_raw(Box::new(xenapi_cpu_usage { items })),
            )
        };
        Ok(())
    })
}

/// The memory of `host` in bytes: `*out_total` and `*out_free` (`host_metrics.memory_total` and
/// `memory_free` of `host.metrics`).
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_host_get_memory(
    session: *const xenapi_session,
    host: *const c_char,
    out_total: *mut i64,
    out_free: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_total, "out_total")?;
        out(out_free, "out_free")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let host = unsafe { text(host, "host") }?;
        let (total, free) = calls::host_memory(s, host)?;
        // SAFETY: checked above.
        unsafe {
            put(out_total, total);
            put(out_free, free);
        }
        Ok(())
    })
}
