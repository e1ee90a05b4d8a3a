//! # libxenapi: the C ABI of the xenapi crate
//!
//! This crate builds `libxenapi.so` and `libxenapi.a`; `include/xenapi.h` is generated from it
//! by cbindgen (`cargo run -p xenapi-ffi-header`). It holds no protocol logic: every function
//! translates its arguments to the core (`xenapi::Session`, `Value`, `Error`, ...), calls it and
//! translates the result back.
//!
//! Rules every entry point follows:
//! - Handles are opaque pointers to heap objects that the library allocates; each type has a
//!   `xenapi_*_free` that accepts NULL.
//! - A fallible function returns a `xenapi_status` and, when the caller passes a non-NULL
//!   `xenapi_error **err`, stores NULL there on success or a new error object on failure.
//! - A NULL or unusable argument gives `XENAPI_STATUS_NULL_ARGUMENT` or
//!   `XENAPI_STATUS_INVALID_ARGUMENT`, never a crash.
//! - No panic unwinds into C: [`boundary`] catches it and returns `XENAPI_STATUS_PANIC`.

#![allow(non_camel_case_types)]
// Every extern function checks its pointers before use; the unsafety is the caller's contract,
// documented on each function in the header.
#![allow(clippy::missing_safety_doc)]

/// cbindgen:ignore
mod api;
mod boundary;
mod cache;
mod call_options;
mod error;
mod options;
mod rrd;
mod session;
mod strings;
mod task;
mod transfer;
mod typed;
mod value;

pub use cache::{xenapi_cache, xenapi_cache_change, xenapi_cache_stats, xenapi_change_kind};
pub use call_options::{xenapi_call_done_fn, xenapi_call_options};
pub use error::{xenapi_error, xenapi_status};
pub use options::{xenapi_options, xenapi_protocol};
pub use rrd::{xenapi_rrd, xenapi_rrd_updates, xenapi_rrd_usage};
pub use session::{xenapi_dialect, xenapi_session};
pub use strings::xenapi_string_list;
pub use transfer::{
    xenapi_compression, xenapi_disk_format, xenapi_progress_fn, xenapi_read_fn,
    xenapi_transfer_options, xenapi_write_fn,
};
pub use value::{xenapi_value, xenapi_value_kind};

use std::ffi::c_char;

/// The version of the library, as a NUL-terminated static string such as `"0.2.0"` (equal to
/// the header's `XENAPI_VERSION` when header and library match).
///
/// Ownership: the string is static; do not free it.
#[no_mangle]
pub extern "C" fn xenapi_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
