//! Owned strings and string lists handed to C.

use std::ffi::{c_char, CString};
use std::ptr;

use crate::boundary::infallible;
use crate::error::{xenapi_error, xenapi_status};
use crate::typed::{list_push, List};

/// A C string from Rust text. XML cannot carry NUL, so text from a server has none; any NUL from
/// elsewhere becomes U+FFFD rather than cutting the string short.
pub(crate) fn cstring(s: impl Into<String>) -> CString {
    let s = s.into();
    CString::new(s).unwrap_or_else(|e| {
        let fixed = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{FFFD}");
        CString::new(fixed).unwrap_or_default()
    })
}

/// An owned `char *` for C, to be freed with `xenapi_string_free`.
pub(crate) fn owned(s: impl Into<String>) -> *mut c_char {
    cstring(s).into_raw()
}

/// Frees a string that a `xenapi_*` function returned as owned (`char **out`). NULL is allowed.
/// Do not pass borrowed strings (`const char *` results) or strings from another allocator.
///
/// Ownership: takes `s`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_free(s: *mut c_char) {
    infallible((), || {
        if !s.is_null() {
            // SAFETY: a pointer from CString::into_raw, freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// A list of strings (references, method names, ...), read with `xenapi_string_list_len` and
/// `xenapi_string_list_get`, built with `xenapi_string_list_new` and `xenapi_string_list_push`,
/// freed with `xenapi_string_list_free`. A list nobody pushes to may be read from several
/// threads at once.
///
/// It is the generated API's list of strings and references too (`string set`, `VM ref set`),
/// so its storage is the generic list of `crate::typed`. cbindgen sees the opaque declaration
/// the header tool adds (`typedef struct xenapi_string_list xenapi_string_list;`).
///
/// cbindgen:ignore
pub type xenapi_string_list = List<CString>;

/// The number of strings in `list`; 0 if `list` is NULL.
///
/// Ownership: `list` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_list_len(list: *const xenapi_string_list) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live list.
        unsafe { list.as_ref() }.map_or(0, |l| l.items.len())
    })
}

/// The string at `index` (from 0); NULL if `index` is out of range or `list` is NULL.
///
/// Ownership: `list` is borrowed; the string is borrowed from `list` (valid until
/// `xenapi_string_list_free(list)`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_list_get(
    list: *const xenapi_string_list,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live list.
        unsafe { list.as_ref() }
            .and_then(|l| l.items.get(index))
            .map_or(ptr::null(), |s| s.as_ptr())
    })
}

/// Copies the first `capacity` strings of `list` into `out` (as `xenapi_string_list_get` gives
/// them), in one call; returns the list's length, whatever `capacity` (0 if `list` is NULL). When
/// the length exceeds `capacity`, only `capacity` strings are written: call again with more room.
/// `out` may be NULL when `capacity` is 0.
///
/// Ownership: `list` is borrowed; `out` is the caller's, with room for `capacity` pointers. The
/// strings written are borrowed from `list` (valid until `xenapi_string_list_free(list)`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_list_items(
    list: *const xenapi_string_list,
    out: *mut *const c_char,
    capacity: usize,
) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live list; `out` NULL or with room for `capacity` pointers.
        unsafe { crate::typed::list_items::<String>(list, out, capacity) }
    })
}

/// Frees a string list and its strings. NULL is allowed.
///
/// Ownership: takes `list`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_list_free(list: *mut xenapi_string_list) {
    infallible((), || {
        if !list.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// A new empty string list, e.g. for `xenapi_event_from`'s classes or a `VM ref set` parameter.
///
/// Ownership: the caller frees it with `xenapi_string_list_free`.
#[no_mangle]
pub extern "C" fn xenapi_string_list_new() -> *mut xenapi_string_list {
    Box::into_raw(Box::new(List { items: Vec::new() }))
}

/// Appends a copy of `item` (NUL-terminated UTF-8) to `list`.
///
/// Ownership: `list` and `item` are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_string_list_push(
    list: *mut xenapi_string_list,
    item: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { list_push::<String>(list, item, err) }
}
