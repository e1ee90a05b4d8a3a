//! xapi's performance figures (RRDs, served over HTTP beside the API) as opaque, immutable
//! handles over `xenapi::rrd`: `/rrd_updates` (`xenapi_rrd_updates`), the whole dumps of
//! `/host_rrd` and `/vm_rrd` (`xenapi_rrd`), and the usage figures people ask for first
//! (`xenapi_rrd_usage`). Every string a handle gives is made once, when the handle is, and
//! borrowed from it; the handles are never changed, so any number of threads may read one.

use std::ffi::{c_char, CString};
use std::ptr;

use xenapi::rrd::{usage::Usage, Consolidation, Rrd, Updates, UpdatesQuery};

use crate::boundary::{fallible, handle, infallible, opt_text, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::session::{session_of, xenapi_session};
use crate::strings::cstring;

/// The rows of `/rrd_updates`: start, end and step, one column per data source
/// (`CF:kind:uuid:name`), and rows of a time and one value per column (`NaN` kept). Made by
/// `xenapi_rrd_updates_fetch` or `xenapi_rrd_updates_parse`, freed with `xenapi_rrd_updates_free`.
/// Immutable: any number of threads may read one at once.
pub struct xenapi_rrd_updates {
    inner: Updates,
    /// Per column: CF, kind, uuid, name, as C strings.
    columns: Vec<[CString; 4]>,
}

impl xenapi_rrd_updates {
    fn new(inner: Updates) -> Self {
        let columns = inner
            .columns
            .iter()
            .map(|c| {
                [
                    cstring(c.cf.as_str()),
                    cstring(c.kind.as_str()),
                    cstring(c.uuid.as_str()),
                    cstring(c.name.as_str()),
                ]
            })
            .collect();
        xenapi_rrd_updates { inner, columns }
    }
}

/// A whole RRD (`/host_rrd`, `/vm_rrd`): its step, last update, data sources and archives (one
/// per consolidation function and resolution, rows newest first). Made by `xenapi_rrd_fetch_host`,
/// `xenapi_rrd_fetch_vm` or `xenapi_rrd_parse`, freed with `xenapi_rrd_free`. Immutable.
pub struct xenapi_rrd {
    inner: Rrd,
    sources: Vec<CString>,
    archive_cfs: Vec<CString>,
}

impl xenapi_rrd {
    fn new(inner: Rrd) -> Self {
        let sources = inner
            .sources
            .iter()
            .map(|s| cstring(s.name.as_str()))
            .collect();
        let archive_cfs = inner
            .archives
            .iter()
            .map(|a| cstring(a.cf.as_str()))
            .collect();
        xenapi_rrd {
            inner,
            sources,
            archive_cfs,
        }
    }
}

/// A VM's or host's usage averaged over a window: CPU per vCPU/pCPU (0 to 1), memory total, free
/// and used (bytes), disk read and write, network receive and send (bytes per second). A figure
/// the server had no data source for (or only `NaN`) is absent. Made by `xenapi_rrd_vm_usage`,
/// `xenapi_rrd_host_usage`, `xenapi_rrd_usage_from_updates` or `xenapi_rrd_usage_from_rrd`, freed
/// with `xenapi_rrd_usage_free`. Immutable.
pub struct xenapi_rrd_usage {
    inner: Usage,
}

fn boxed<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Frees a handle made by `Box::into_raw` (NULL ignored).
unsafe fn free<T>(p: *mut T) {
    infallible((), || {
        if !p.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once (the caller's contract).
            drop(unsafe { Box::from_raw(p) });
        }
    })
}

/// The caller's bytes: `data` may be NULL only when `len` is 0.
unsafe fn bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], Fail> {
    if len == 0 {
        Ok(&[])
    } else if data.is_null() {
        Err(Fail::null("data"))
    } else {
        // SAFETY: the caller passes `len` readable bytes at `data`.
        Ok(unsafe { std::slice::from_raw_parts(data, len) })
    }
}

fn consolidation(cf: &str) -> Result<Consolidation, Fail> {
    Consolidation::parse(cf).ok_or_else(|| {
        Fail::invalid(format!(
            "cf {cf:?} is not a consolidation function: use AVERAGE, MIN, MAX or LAST"
        ))
    })
}

/// Writes a borrowed string to an optional out-pointer.
unsafe fn put_opt(p: *mut *const c_char, s: &CString) {
    if !p.is_null() {
        // SAFETY: a non-NULL out-pointer is writable (the caller's contract).
        unsafe { p.write(s.as_ptr()) };
    }
}

// ---------------------------------------------------------------------------------------------
// /rrd_updates

/// Fetches `/rrd_updates` from the session's host (`host_ref` NULL) or from the pool member
/// `host_ref` (asked directly: a host answers only for itself and the VMs resident on it).
/// `start`: seconds since the epoch, or a negative number for that many seconds back from now.
/// `interval`: seconds between rows (xapi picks the archive: 5, 60, 3600, 86400); 0 for the
/// server's default. `cf`: `"AVERAGE"`, `"MIN"`, `"MAX"` or `"LAST"`, or NULL for every one.
/// `host`: include the host's own data sources. `vm_uuid`: only that VM's, or NULL for all.
///
/// Fails with `XENAPI_STATUS_PROTOCOL` when the reply is not an RRD document, and
/// `XENAPI_STATUS_INVALID_ARGUMENT` for an unknown `cf` or a negative `interval`.
///
/// Ownership: every argument is borrowed. On success `*out` receives a handle the caller frees
/// with `xenapi_rrd_updates_free`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_rrd_updates_fetch(
    session: *const xenapi_session,
    start: i64,
    interval: i64,
    cf: *const c_char,
    host: bool,
    vm_uuid: *const c_char,
    host_ref: *const c_char,
    out_updates: *mut *mut xenapi_rrd_updates,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_updates, "out_updates")?;
        // SAFETY: NULL or a live session / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let cf = unsafe { opt_text(cf, "cf") }?
            .map(consolidation)
            .transpose()?;
        let vm_uuid = unsafe { opt_text(vm_uuid, "vm_uuid") }?;
        let host_ref = unsafe { opt_text(host_ref, "host_ref") }?;
        if interval < 0 {
            return Err(Fail::invalid("interval must not be negative"));
        }
        let q = UpdatesQuery {
            start,
            interval: (interval > 0).then_some(interval),
            cf,
            host,
            vm_uuid: vm_uuid.map(str::to_owned),
        };
        let u = match host_ref {
            None => xenapi::rrd::fetch_updates(s, &q)?,
            Some(h) => xenapi::rrd::fetch_updates_at(s, h, &q)?,
        };
        // SAFETY: checked above.
        unsafe { put(out_updates, boxed(xenapi_rrd_updates::new(u))) };
        Ok(())
    })
}

/// Reads an `/rrd_updates` document from memory: XML (`<xport>`) or JSON (xapi's `json=true`,
/// with values as numbers or strings such as `"NaN"`, `data` beside or inside `meta`). `NaN`
/// values are kept.
///
/// Fails with `XENAPI_STATUS_INVALID_ARGUMENT` (saying what is wrong and where) when the bytes
/// are not such a document; `data` may be NULL when `len` is 0 (which fails so).
///
/// Ownership: `data` is borrowed (copied). On success `*out` receives a handle the caller frees
/// with `xenapi_rrd_updates_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_parse(
    data: *const u8,
    len: usize,
    out_updates: *mut *mut xenapi_rrd_updates,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_updates, "out_updates")?;
        // SAFETY: `len` bytes at `data`.
        let body = unsafe { bytes(data, len) }?;
        let u = Updates::parse(body).map_err(|e| Fail::invalid(e.to_string()))?;
        // SAFETY: checked above.
        unsafe { put(out_updates, boxed(xenapi_rrd_updates::new(u))) };
        Ok(())
    })
}

/// Frees an updates handle (NULL ignored); the strings borrowed from it go with it.
///
/// Ownership: takes `updates`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_free(updates: *mut xenapi_rrd_updates) {
    // SAFETY: NULL or from this library, freed once.
    unsafe { free(updates) }
}

unsafe fn updates_field(u: *const xenapi_rrd_updates, f: impl FnOnce(&Updates) -> i64) -> i64 {
    infallible(-1, || {
        // SAFETY: NULL or a live handle.
        unsafe { u.as_ref() }.map_or(-1, |u| f(&u.inner))
    })
}

/// The time of the first row asked for, in seconds since the epoch; -1 if `updates` is NULL.
///
/// Ownership: `updates` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_start(updates: *const xenapi_rrd_updates) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe { updates_field(updates, |u| u.start) }
}

/// The time of the last row, in seconds since the epoch; -1 if `updates` is NULL.
///
/// Ownership: `updates` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_end(updates: *const xenapi_rrd_updates) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe { updates_field(updates, |u| u.end) }
}

/// Seconds between rows; -1 if `updates` is NULL.
///
/// Ownership: `updates` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_step(updates: *const xenapi_rrd_updates) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe { updates_field(updates, |u| u.step) }
}

/// The number of columns (data sources); 0 if `updates` is NULL.
///
/// Ownership: `updates` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_column_count(
    updates: *const xenapi_rrd_updates,
) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live handle.
        unsafe { updates.as_ref() }.map_or(0, |u| u.inner.columns.len())
    })
}

/// The number of rows; 0 if `updates` is NULL.
///
/// Ownership: `updates` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_row_count(updates: *const xenapi_rrd_updates) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live handle.
        unsafe { updates.as_ref() }.map_or(0, |u| u.inner.rows.len())
    })
}

/// What column `col` (from 0) measures: its consolidation function (`"AVERAGE"`, ...), the
/// object's kind (`"host"`, `"vm"`, `"sr"`, as xapi's legend has it), its UUID and the data
/// source's name (`"cpu0"`, `"memory"`, ...). Each out-pointer may be NULL. Fails with
/// `XENAPI_STATUS_INVALID_ARGUMENT` when `col` is out of range.
///
/// Ownership: `updates` is borrowed; the strings are borrowed from it (valid until
/// `xenapi_rrd_updates_free(updates)`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_column(
    updates: *const xenapi_rrd_updates,
    col: usize,
    out_cf: *mut *const c_char,
    out_kind: *mut *const c_char,
    out_uuid: *mut *const c_char,
    out_name: *mut *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live handle.
        let u = unsafe { handle(updates, "updates") }?;
        let c = u.columns.get(col).ok_or_else(|| {
            Fail::invalid(format!(
                "column {col} is out of range ({} columns)",
                u.columns.len()
            ))
        })?;
        // SAFETY: NULL or writable out-pointers.
        unsafe {
            put_opt(out_cf, &c[0]);
            put_opt(out_kind, &c[1]);
            put_opt(out_uuid, &c[2]);
            put_opt(out_name, &c[3]);
        }
        Ok(())
    })
}

fn row_of(u: &Updates, row: usize) -> Result<&xenapi::rrd::Row, Fail> {
    u.rows
        .get(row)
        .ok_or_else(|| Fail::invalid(format!("row {row} is out of range ({} rows)", u.rows.len())))
}

/// The time of row `row` (from 0, in the server's order), in seconds since the epoch. Fails
/// with `XENAPI_STATUS_INVALID_ARGUMENT` when `row` is out of range.
///
/// Ownership: `updates` is borrowed; `*out` is written on success.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_time(
    updates: *const xenapi_rrd_updates,
    row: usize,
    out_time: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_time, "out_time")?;
        // SAFETY: NULL or a live handle.
        let u = unsafe { handle(updates, "updates") }?;
        let r = row_of(&u.inner, row)?;
        // SAFETY: checked above.
        unsafe { put(out_time, r.time) };
        Ok(())
    })
}

/// The value of column `col` in row `row`, as the server sent it: `NaN` (no data) and the
/// infinities are kept (test with `isnan`). Fails with `XENAPI_STATUS_INVALID_ARGUMENT` when
/// `row` or `col` is out of range.
///
/// Ownership: `updates` is borrowed; `*out` is written on success.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_value(
    updates: *const xenapi_rrd_updates,
    row: usize,
    col: usize,
    out_value: *mut f64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_value, "out_value")?;
        // SAFETY: NULL or a live handle.
        let u = unsafe { handle(updates, "updates") }?;
        let r = row_of(&u.inner, row)?;
        let v = *r.values.get(col).ok_or_else(|| {
            Fail::invalid(format!(
                "column {col} is out of range ({} columns)",
                u.inner.columns.len()
            ))
        })?;
        // SAFETY: checked above.
        unsafe { put(out_value, v) };
        Ok(())
    })
}

/// Finds the column of data source `name` of the object `kind` (`"vm"`, `"host"`, ...) `uuid`,
/// consolidated by `cf` (`"AVERAGE"`, ...; NULL: the first of any). Returns true and stores its
/// index in `*out_col` (which may be NULL) when there is one; false otherwise, or when `updates`,
/// `kind`, `uuid` or `name` is NULL or not UTF-8.
///
/// Ownership: every argument is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_updates_find(
    updates: *const xenapi_rrd_updates,
    kind: *const c_char,
    uuid: *const c_char,
    name: *const c_char,
    cf: *const c_char,
    out_col: *mut usize,
) -> bool {
    infallible(false, || {
        // SAFETY: NULL or a live handle / NUL-terminated strings.
        let found = (|| {
            let u = unsafe { handle(updates, "updates") }.ok()?;
            let kind = unsafe { text(kind, "kind") }.ok()?;
            let uuid = unsafe { text(uuid, "uuid") }.ok()?;
            let name = unsafe { text(name, "name") }.ok()?;
            let cf = match unsafe { opt_text(cf, "cf") }.ok()? {
                Some(cf) => Some(Consolidation::parse(cf)?),
                None => None,
            };
            u.inner.columns.iter().position(|c| {
                c.kind == kind && c.uuid == uuid && c.name == name && cf.map_or(true, |f| c.cf == f)
            })
        })();
        match found {
            Some(i) => {
                if !out_col.is_null() {
                    // SAFETY: a writable out-pointer.
                    unsafe { out_col.write(i) };
                }
                true
            }
            None => false,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Whole RRDs

/// Fetches the whole RRD of the session's host (`/host_rrd`). Fails with
/// `XENAPI_STATUS_PROTOCOL` when the reply is not an RRD document.
///
/// Ownership: `session` is borrowed. On success `*out` receives a handle the caller frees with
/// `xenapi_rrd_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_fetch_host(
    session: *const xenapi_session,
    out_rrd: *mut *mut xenapi_rrd,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_rrd, "out_rrd")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let r = xenapi::rrd::fetch_host_rrd(s)?;
        // SAFETY: checked above.
        unsafe { put(out_rrd, boxed(xenapi_rrd::new(r))) };
        Ok(())
    })
}

/// Fetches the whole RRD of the VM `vm_uuid` (`/vm_rrd?uuid=`). xapi keeps a VM's RRD on the host
/// it runs on: a halted VM may have none (the server's answer is reported as it comes).
///
/// Ownership: `session` and `vm_uuid` are borrowed. On success `*out` receives a handle the
/// caller frees with `xenapi_rrd_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_fetch_vm(
    session: *const xenapi_session,
    vm_uuid: *const c_char,
    out_rrd: *mut *mut xenapi_rrd,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_rrd, "out_rrd")?;
        // SAFETY: NULL or a live session / a NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let uuid = unsafe { text(vm_uuid, "vm_uuid") }?;
        let r = xenapi::rrd::fetch_vm_rrd(s, uuid)?;
        // SAFETY: checked above.
        unsafe { put(out_rrd, boxed(xenapi_rrd::new(r))) };
        Ok(())
    })
}

/// Reads a whole RRD document (`/host_rrd`, `/vm_rrd`: `<rrd>` XML) from memory. Fails with
/// `XENAPI_STATUS_INVALID_ARGUMENT` when the bytes are not one.
///
/// Ownership: `data` is borrowed (copied). On success `*out` receives a handle the caller frees
/// with `xenapi_rrd_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_parse(
    data: *const u8,
    len: usize,
    out_rrd: *mut *mut xenapi_rrd,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_rrd, "out_rrd")?;
        // SAFETY: `len` bytes at `data`.
        let body = unsafe { bytes(data, len) }?;
        let r = Rrd::parse(body).map_err(|e| Fail::invalid(e.to_string()))?;
        // SAFETY: checked above.
        unsafe { put(out_rrd, boxed(xenapi_rrd::new(r))) };
        Ok(())
    })
}

/// Frees an RRD handle (NULL ignored); the strings borrowed from it go with it.
///
/// Ownership: takes `rrd`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_free(rrd: *mut xenapi_rrd) {
    // SAFETY: NULL or from this library, freed once.
    unsafe { free(rrd) }
}

unsafe fn rrd_read<T: Copy>(
    r: *const xenapi_rrd,
    default: T,
    f: impl FnOnce(&xenapi_rrd) -> T,
) -> T {
    infallible(default, || {
        // SAFETY: NULL or a live handle.
        match unsafe { r.as_ref() } {
            Some(r) => f(r),
            None => default,
        }
    })
}

/// Seconds between primary data points; -1 if `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_step(rrd: *const xenapi_rrd) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe { rrd_read(rrd, -1, |r| r.inner.step) }
}

/// The time of the last update, in seconds since the epoch; -1 if `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_last_update(rrd: *const xenapi_rrd) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe { rrd_read(rrd, -1, |r| r.inner.last_update) }
}

/// The number of data sources; 0 if `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_source_count(rrd: *const xenapi_rrd) -> usize {
    // SAFETY: forwarded caller contract.
    unsafe { rrd_read(rrd, 0, |r| r.inner.sources.len()) }
}

/// The name of data source `source` (from 0), e.g. `"cpu0"`; NULL if out of range or `rrd` is
/// NULL.
///
/// Ownership: `rrd` is borrowed; the string is borrowed from it (valid until `xenapi_rrd_free`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_source_name(
    rrd: *const xenapi_rrd,
    source: usize,
) -> *const c_char {
    // SAFETY: forwarded caller contract.
    unsafe {
        rrd_read(rrd, ptr::null(), |r| {
            r.sources.get(source).map_or(ptr::null(), |s| s.as_ptr())
        })
    }
}

/// The index of the data source named `name`; returns false when there is none (or `rrd` or
/// `name` is NULL). `out_source` may be NULL.
///
/// Ownership: `rrd` and `name` are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_find_source(
    rrd: *const xenapi_rrd,
    name: *const c_char,
    out_source: *mut usize,
) -> bool {
    infallible(false, || {
        // SAFETY: NULL or a live handle / a NUL-terminated string.
        let (Ok(r), Ok(name)) = (unsafe { handle(rrd, "rrd") }, unsafe { text(name, "name") })
        else {
            return false;
        };
        match r.inner.source(name) {
            Some(i) => {
                if !out_source.is_null() {
                    // SAFETY: a writable out-pointer.
                    unsafe { out_source.write(i) };
                }
                true
            }
            None => false,
        }
    })
}

/// The number of archives; 0 if `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_archive_count(rrd: *const xenapi_rrd) -> usize {
    // SAFETY: forwarded caller contract.
    unsafe { rrd_read(rrd, 0, |r| r.inner.archives.len()) }
}

/// Archive `archive`'s consolidation function (`"AVERAGE"`, `"MIN"`, `"MAX"`, `"LAST"`); NULL if
/// out of range or `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed; the string is borrowed from it.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_archive_cf(
    rrd: *const xenapi_rrd,
    archive: usize,
) -> *const c_char {
    // SAFETY: forwarded caller contract.
    unsafe {
        rrd_read(rrd, ptr::null(), |r| {
            r.archive_cfs
                .get(archive)
                .map_or(ptr::null(), |s| s.as_ptr())
        })
    }
}

/// Seconds between archive `archive`'s rows; -1 if out of range or `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_archive_step(rrd: *const xenapi_rrd, archive: usize) -> i64 {
    // SAFETY: forwarded caller contract.
    unsafe {
        rrd_read(rrd, -1, |r| {
            r.inner.archives.get(archive).map_or(-1, |a| a.step)
        })
    }
}

/// The number of rows of archive `archive`; 0 if out of range or `rrd` is NULL.
///
/// Ownership: `rrd` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_archive_row_count(
    rrd: *const xenapi_rrd,
    archive: usize,
) -> usize {
    // SAFETY: forwarded caller contract.
    unsafe {
        rrd_read(rrd, 0, |r| {
            r.inner.archives.get(archive).map_or(0, |a| a.rows.len())
        })
    }
}

fn rrd_row(r: &Rrd, archive: usize, row: usize) -> Result<&xenapi::rrd::Row, Fail> {
    let a = r.archives.get(archive).ok_or_else(|| {
        Fail::invalid(format!(
            "archive {archive} is out of range ({} archives)",
            r.archives.len()
        ))
    })?;
    a.rows.get(row).ok_or_else(|| {
        Fail::invalid(format!(
            "row {row} is out of range (archive {archive} has {} rows)",
            a.rows.len()
        ))
    })
}

/// The time of row `row` (from 0: newest first) of archive `archive`, in seconds since the
/// epoch. Fails with `XENAPI_STATUS_INVALID_ARGUMENT` when out of range.
///
/// Ownership: `rrd` is borrowed; `*out_time` is written on success.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_row_time(
    rrd: *const xenapi_rrd,
    archive: usize,
    row: usize,
    out_time: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_time, "out_time")?;
        // SAFETY: NULL or a live handle.
        let r = unsafe { handle(rrd, "rrd") }?;
        let row = rrd_row(&r.inner, archive, row)?;
        // SAFETY: checked above.
        unsafe { put(out_time, row.time) };
        Ok(())
    })
}

/// The value of data source `source` in row `row` of archive `archive`, `NaN` kept. Fails with
/// `XENAPI_STATUS_INVALID_ARGUMENT` when out of range.
///
/// Ownership: `rrd` is borrowed; `*out_value` is written on success.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_value(
    rrd: *const xenapi_rrd,
    archive: usize,
    row: usize,
    source: usize,
    out_value: *mut f64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_value, "out_value")?;
        // SAFETY: NULL or a live handle.
        let r = unsafe { handle(rrd, "rrd") }?;
        let row = rrd_row(&r.inner, archive, row)?;
        let v = *row.values.get(source).ok_or_else(|| {
            Fail::invalid(format!(
                "source {source} is out of range ({} sources)",
                r.inner.sources.len()
            ))
        })?;
        // SAFETY: checked above.
        unsafe { put(out_value, v) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Usage

fn put_usage(out_usage: *mut *mut xenapi_rrd_usage, u: Usage) {
    // SAFETY: the caller checked `out_usage`.
    unsafe { put(out_usage, boxed(xenapi_rrd_usage { inner: u })) };
}

/// The usage of the object `kind` (`"vm"` or `"host"`) `uuid` from an updates handle, averaged
/// over its rows of the last `seconds` (at least the newest row). Fails with
/// `XENAPI_STATUS_INVALID_ARGUMENT` when the handle has no averaged column of that object.
///
/// Ownership: every argument is borrowed. On success `*out_usage` receives a handle the caller
/// frees with `xenapi_rrd_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_from_updates(
    updates: *const xenapi_rrd_updates,
    kind: *const c_char,
    uuid: *const c_char,
    seconds: i64,
    out_usage: *mut *mut xenapi_rrd_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live handle / NUL-terminated strings.
        let u = unsafe { handle(updates, "updates") }?;
        let kind = unsafe { text(kind, "kind") }?;
        let uuid = unsafe { text(uuid, "uuid") }?;
        let usage =
            xenapi::rrd::usage::from_updates(&u.inner, kind, uuid, seconds).ok_or_else(|| {
                Fail::invalid(format!(
                    "the updates have no AVERAGE figures of the {kind} {uuid}"
                ))
            })?;
        put_usage(out_usage, usage);
        Ok(())
    })
}

/// The usage from a whole RRD, averaged over the last `seconds` of its finest AVERAGE archive.
/// Fails with `XENAPI_STATUS_INVALID_ARGUMENT` when it has no AVERAGE archive or no rows.
///
/// Ownership: `rrd` is borrowed. On success `*out_usage` receives a handle the caller frees with
/// `xenapi_rrd_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_from_rrd(
    rrd: *const xenapi_rrd,
    seconds: i64,
    out_usage: *mut *mut xenapi_rrd_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live handle.
        let r = unsafe { handle(rrd, "rrd") }?;
        let usage = xenapi::rrd::usage::from_rrd(&r.inner, seconds)
            .ok_or_else(|| Fail::invalid("the RRD has no rows of AVERAGE figures"))?;
        put_usage(out_usage, usage);
        Ok(())
    })
}

/// A VM's usage over the last `seconds`, asked of the host it runs on (`VM.resident_on`): CPU
/// per vCPU, memory, disk and network. A VM that is not running has no live figures: that fails
/// with `XENAPI_STATUS_INVALID_ARGUMENT`, saying so.
///
/// Ownership: `session` and `vm_uuid` are borrowed. On success `*out_usage` receives a handle the
/// caller frees with `xenapi_rrd_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_vm_usage(
    session: *const xenapi_session,
    vm_uuid: *const c_char,
    seconds: i64,
    out_usage: *mut *mut xenapi_rrd_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live session / a NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let uuid = unsafe { text(vm_uuid, "vm_uuid") }?;
        put_usage(out_usage, xenapi::rrd::vm_usage(s, uuid, seconds)?);
        Ok(())
    })
}

/// A host's usage over the last `seconds`, asked of that host: CPU per pCPU, memory total, free
/// and used, network throughput.
///
/// Ownership: `session` and `host_uuid` are borrowed. On success `*out_usage` receives a handle
/// the caller frees with `xenapi_rrd_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_host_usage(
    session: *const xenapi_session,
    host_uuid: *const c_char,
    seconds: i64,
    out_usage: *mut *mut xenapi_rrd_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live session / a NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let uuid = unsafe { text(host_uuid, "host_uuid") }?;
        put_usage(out_usage, xenapi::rrd::host_usage(s, uuid, seconds)?);
        Ok(())
    })
}

/// Frees a usage handle (NULL ignored).
///
/// Ownership: takes `usage`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_free(usage: *mut xenapi_rrd_usage) {
    // SAFETY: NULL or from this library, freed once.
    unsafe { free(usage) }
}

/// The number of vCPUs (VM) or pCPUs (host) the usage has a slot for; 0 if `usage` is NULL.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_cpu_count(usage: *const xenapi_rrd_usage) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live handle.
        unsafe { usage.as_ref() }.map_or(0, |u| u.inner.cpus.len())
    })
}

unsafe fn usage_figure(
    usage: *const xenapi_rrd_usage,
    out_value: *mut f64,
    f: impl FnOnce(&Usage) -> Option<f64>,
) -> bool {
    infallible(false, || {
        // SAFETY: NULL or a live handle.
        let Some(v) = unsafe { usage.as_ref() }.and_then(|u| f(&u.inner)) else {
            return false;
        };
        if !out_value.is_null() {
            // SAFETY: a writable out-pointer.
            unsafe { out_value.write(v) };
        }
        true
    })
}

/// CPU `i`'s use (0 to 1: the share of one physical CPU) into `*out`; false when absent (no data
/// source, only `NaN`, `i` out of range, or `usage` NULL). `out` may be NULL.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_cpu(
    usage: *const xenapi_rrd_usage,
    i: usize,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.cpus.get(i).copied().flatten()) }
}

/// The average over every CPU that has a figure (0 to 1); false when none has.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_cpu_average(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, Usage::cpu_average) }
}

/// Memory in bytes: the VM's (its domain's) or the host's total; false when absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_memory_total(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.memory_total) }
}

/// Free memory in bytes: inside the guest (VM, needs its guest agent) or on the host; false when
/// absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_memory_free(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.memory_free) }
}

/// Memory in use in bytes (total less free); false unless both are known.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_memory_used(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, Usage::memory_used) }
}

/// Bytes per second read, over every disk; false when absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_disk_read(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.disk_read) }
}

/// Bytes per second written, over every disk; false when absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_disk_write(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.disk_write) }
}

/// Bytes per second received, over every network interface; false when absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_net_rx(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.net_rx) }
}

/// Bytes per second sent, over every network interface; false when absent.
///
/// Ownership: `usage` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_rrd_usage_net_tx(
    usage: *const xenapi_rrd_usage,
    out: *mut f64,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { usage_figure(usage, out, |u| u.net_tx) }
}
