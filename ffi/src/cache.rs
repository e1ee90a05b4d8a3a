//! The live object cache (`xenapi::cache::Cache`) for C: filled from the server once, then kept
//! current by the core's background thread; reads make no server call.

use std::ffi::{c_char, CString};
use std::ptr;
use std::time::Duration;

use xenapi::cache::{Cache, CacheOptions, Change, ChangeKind, Snapshot};

use crate::boundary::{fallible, handle, infallible, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::session::{session_of, xenapi_session};
use crate::strings::xenapi_string_list;
use crate::typed::List;
use crate::value::xenapi_value;

/// A live object cache (see `xenapi_cache_new`). Thread-safe: readers and one reader of changes
/// may use it from any threads at once.
pub struct xenapi_cache {
    inner: Cache,
}

/// What a change did.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_change_kind {
    /// A new object; the record is its first.
    Add = 0,
    /// An object changed; the record is the new one.
    Mod = 1,
    /// An object went away; the record is its last, when known.
    Del = 2,
    /// The cache read everything again (after `EVENTS_LOST`, a refused token, a lost xend
    /// registration): read it again. No class, reference or record.
    Refetched = 3,
    /// Changes were dropped because nobody read them in time (the queue is bounded): read the
    /// cache again. No class, reference or record.
    Missed = 4,
}

/// One change, from `xenapi_cache_next_change`.
pub struct xenapi_cache_change {
    kind: xenapi_change_kind,
    class: CString,
    reference: CString,
    record: Option<Box<xenapi_value>>,
}

/// How the cache follows the server (`xenapi_cache_status`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct xenapi_cache_stats {
    /// Successful polls since the fill.
    pub polls: u64,
    /// Changes applied since the fill.
    pub events: u64,
    /// Times everything was read again.
    pub refetches: u64,
    /// Failed polls (each followed by a backoff and a new try).
    pub errors: u64,
    /// Whether the last poll succeeded.
    pub connected: bool,
}

fn kind_to_c(k: ChangeKind) -> xenapi_change_kind {
    match k {
        ChangeKind::Add => xenapi_change_kind::Add,
        ChangeKind::Mod => xenapi_change_kind::Mod,
        ChangeKind::Del => xenapi_change_kind::Del,
        ChangeKind::Refetched => xenapi_change_kind::Refetched,
        ChangeKind::Missed => xenapi_change_kind::Missed,
    }
}

fn c_string(s: String, what: &str) -> Result<CString, Fail> {
    CString::new(s).map_err(|_| {
        Fail::new(
            xenapi_status::Protocol,
            format!("the server sent a {what} with a NUL byte"),
        )
    })
}

impl xenapi_cache_change {
    fn from_core(c: Change) -> Result<Self, Fail> {
        Ok(xenapi_cache_change {
            kind: kind_to_c(c.kind),
            class: c_string(c.class, "class name")?,
            reference: c_string(c.reference, "reference")?,
            record: c
                .record
                .map(|v| Box::new(xenapi_value::from_core((*v).clone()))),
        })
    }
}

unsafe fn classes_of(classes: *const *const c_char, n: usize) -> Result<Vec<String>, Fail> {
    if n > 0 && classes.is_null() {
        return Err(Fail::null("classes"));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: `classes` has `n` entries by the caller's contract.
        let p = unsafe { *classes.add(i) };
        out.push(unsafe { text(p, "classes[i]") }?.to_owned());
    }
    Ok(out)
}

fn seconds(s: f64, name: &str) -> Result<Duration, Fail> {
    Duration::try_from_secs_f64(s).map_err(|_| Fail::invalid(format!("{name} is out of range")))
}

/// Creates a cache of the objects of `classes` (`n` datamodel class names in any case, such as
/// `"VM"` and `"host"`; `n` = 0 for every class, on xapi) and returns once every object is read:
/// the same as `xenapi_cache_new_with_options(session, classes, n, 30.0, 10000, ...)`.
///
/// Ownership: `session` and `classes` are borrowed (the cache keeps its own reference to the
/// session: free them whenever you like). On success `*out_cache` receives a cache the caller
/// frees with `xenapi_cache_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_new(
    session: *const xenapi_session,
    classes: *const *const c_char,
    n: usize,
    out_cache: *mut *mut xenapi_cache,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: the same contract.
    unsafe { xenapi_cache_new_with_options(session, classes, n, 30.0, 10_000, out_cache, err) }
}

/// `xenapi_cache_new` with options: the server may hold each `event.from` up to
/// `poll_timeout_seconds` (> 0, shorter than the session's timeout), and the queue of changes
/// holds at most `queue_capacity` changes (past it they are dropped for one
/// `XENAPI_CHANGE_KIND_MISSED`).
///
/// Ownership: as `xenapi_cache_new`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_new_with_options(
    session: *const xenapi_session,
    classes: *const *const c_char,
    n: usize,
    poll_timeout_seconds: f64,
    queue_capacity: usize,
    out_cache: *mut *mut xenapi_cache,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_cache, "out_cache")?;
        // SAFETY: NULL or a live session; `classes` as documented.
        let s = unsafe { session_of(session) }?;
        let classes = unsafe { classes_of(classes, n) }?;
        if poll_timeout_seconds.is_nan() || poll_timeout_seconds <= 0.0 {
            return Err(Fail::invalid("poll_timeout_seconds must be positive"));
        }
        let opts = CacheOptions {
            poll_timeout: seconds(poll_timeout_seconds, "poll_timeout_seconds")?,
            queue_capacity: queue_capacity.max(1),
            ..CacheOptions::default()
        };
        let names: Vec<&str> = classes.iter().map(String::as_str).collect();
        let inner = Cache::with_options(s, &names, opts)?;
        // SAFETY: checked above.
        unsafe { put(out_cache, Box::into_raw(Box::new(xenapi_cache { inner }))) };
        Ok(())
    })
}

/// Stops following the server (promptly) and ends the changes: `xenapi_cache_next_change`
/// then gives what was queued, then none at once. Reads still see the last state. Harmless twice.
///
/// Ownership: `cache` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_close(cache: *const xenapi_cache) {
    infallible((), || {
        // SAFETY: NULL or a live cache.
        if let Some(c) = unsafe { cache.as_ref() } {
            c.inner.close();
        }
    })
}

/// Closes and frees the cache. NULL is allowed.
///
/// Ownership: takes `cache`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_free(cache: *mut xenapi_cache) {
    if cache.is_null() {
        return;
    }
    infallible((), || {
        // SAFETY: a cache from xenapi_cache_new, freed once.
        drop(unsafe { Box::from_raw(cache) });
    })
}

/// The record of the object `ref` of `class`, as the untyped struct `<class>.get_record`
/// returns (read it typed with the generated `xenapi_<class>_record_from_value`, e.g.
/// `xenapi_vm_record_from_value`). An object not in the cache gives `XENAPI_STATUS_OK` with
/// `*out_record` set to NULL.
///
/// Ownership: `cache`, `class` and `ref` are borrowed; `*out_record` receives NULL or a value the
/// caller frees with `xenapi_value_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_get(
    cache: *const xenapi_cache,
    class: *const c_char,
    r#ref: *const c_char,
    out_record: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_record, "out_record")?;
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let c = unsafe { handle(cache, "cache") }?;
        let class = unsafe { text(class, "class") }?;
        let r = unsafe { text(r#ref, "ref") }?;
        let v = record_of(&c.inner.snapshot(), class, r);
        // SAFETY: checked above.
        unsafe { put(out_record, v) };
        Ok(())
    })
}

/// The references of the cached objects of `class`, sorted (an empty list for a class with
/// none or not followed).
///
/// Ownership: `cache` and `class` are borrowed; `*out_refs` receives a list the caller frees
/// with `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_refs(
    cache: *const xenapi_cache,
    class: *const c_char,
    out_refs: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_refs, "out_refs")?;
        // SAFETY: NULL or a live cache / a NUL-terminated string.
        let c = unsafe { handle(cache, "cache") }?;
        let class = unsafe { text(class, "class") }?;
        let list = refs_of(&c.inner.snapshot(), class)?;
        // SAFETY: checked above.
        unsafe { put(out_refs, list) };
        Ok(())
    })
}

/// The cache at one moment (`xenapi_cache_take_snapshot`): consistent across objects and classes,
/// and later changes do not alter it. Thread-safe; it holds no server resource.
pub struct xenapi_cache_snapshot {
    inner: Snapshot,
}

/// Takes a snapshot of the cache: cheap (the records are shared, not copied). Read many objects
/// from one snapshot to see them as they were together (every VM with the host each is on).
///
/// Ownership: `cache` is borrowed; `*out_snapshot` receives a snapshot the caller frees with
/// `xenapi_cache_snapshot_free` (it may outlive the cache).
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_take_snapshot(
    cache: *const xenapi_cache,
    out_snapshot: *mut *mut xenapi_cache_snapshot,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_snapshot, "out_snapshot")?;
        // SAFETY: NULL or a live cache.
        let c = unsafe { handle(cache, "cache") }?;
        let snap = Box::new(xenapi_cache_snapshot {
            inner: c.inner.snapshot(),
        });
        // SAFETY: checked above.
        unsafe { put(out_snapshot, Box::into_raw(snap)) };
        Ok(())
    })
}

/// Frees a snapshot. NULL is allowed.
///
/// Ownership: takes `snapshot`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_snapshot_free(snapshot: *mut xenapi_cache_snapshot) {
    infallible((), || {
        if !snapshot.is_null() {
            // SAFETY: a pointer from xenapi_cache_take_snapshot, freed once.
            drop(unsafe { Box::from_raw(snapshot) });
        }
    })
}

/// As `xenapi_cache_get`, from the snapshot.
///
/// Ownership: `snapshot`, `class` and `ref` are borrowed; `*out_record` receives NULL or a value
/// the caller frees with `xenapi_value_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_snapshot_get(
    snapshot: *const xenapi_cache_snapshot,
    class: *const c_char,
    r#ref: *const c_char,
    out_record: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_record, "out_record")?;
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let snap = unsafe { handle(snapshot, "snapshot") }?;
        let class = unsafe { text(class, "class") }?;
        let r = unsafe { text(r#ref, "ref") }?;
        let v = record_of(&snap.inner, class, r);
        // SAFETY: checked above.
        unsafe { put(out_record, v) };
        Ok(())
    })
}

/// As `xenapi_cache_refs`, from the snapshot.
///
/// Ownership: `snapshot` and `class` are borrowed; `*out_refs` receives a list the caller frees
/// with `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_snapshot_refs(
    snapshot: *const xenapi_cache_snapshot,
    class: *const c_char,
    out_refs: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_refs, "out_refs")?;
        // SAFETY: NULL or a live snapshot / a NUL-terminated string.
        let snap = unsafe { handle(snapshot, "snapshot") }?;
        let class = unsafe { text(class, "class") }?;
        let list = refs_of(&snap.inner, class)?;
        // SAFETY: checked above.
        unsafe { put(out_refs, list) };
        Ok(())
    })
}

fn record_of(snap: &Snapshot, class: &str, r: &str) -> *mut xenapi_value {
    match snap.value(class, r) {
        Some(v) => xenapi_value::from_core((*v).clone()).into_raw(),
        None => ptr::null_mut(),
    }
}

fn refs_of(snap: &Snapshot, class: &str) -> Result<*mut xenapi_string_list, Fail> {
    let mut items = Vec::new();
    for r in snap.refs(class) {
        items.push(c_string(r, "reference")?);
    }
    Ok(Box::into_raw(Box::new(List { items })))
}

/// The next change since the cache was full, in the order the cache applied them, waiting at
/// most `timeout_ms` milliseconds (0: do not wait; negative: until the cache is closed). None
/// within the time, or a closed cache with nothing queued, gives `XENAPI_STATUS_OK` with
/// `*out_change` set to NULL. Read the changes from one thread.
///
/// Ownership: `cache` is borrowed; `*out_change` receives NULL or a change the caller frees
/// with `xenapi_cache_change_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_next_change(
    cache: *const xenapi_cache,
    timeout_ms: i64,
    out_change: *mut *mut xenapi_cache_change,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_change, "out_change")?;
        // SAFETY: NULL or a live cache.
        let c = unsafe { handle(cache, "cache") }?;
        let wait = if timeout_ms < 0 {
            Duration::from_secs(100 * 365 * 24 * 3600)
        } else {
            Duration::from_millis(timeout_ms as u64)
        };
        let change = match c.inner.next_change(wait) {
            Some(ch) => Box::into_raw(Box::new(xenapi_cache_change::from_core(ch)?)),
            None => ptr::null_mut(),
        };
        // SAFETY: checked above.
        unsafe { put(out_change, change) };
        Ok(())
    })
}

/// Whether the cache was closed.
///
/// Ownership: `cache` is borrowed. True if `cache` is NULL.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_is_closed(cache: *const xenapi_cache) -> bool {
    infallible(true, || {
        // SAFETY: NULL or a live cache.
        unsafe { cache.as_ref() }.map_or(true, |c| c.inner.is_closed())
    })
}

/// How the cache follows the server: polls, changes applied, refetches, errors, and whether
/// the last poll succeeded. All zero if `cache` is NULL.
///
/// Ownership: `cache` is borrowed; the result is a plain struct.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_status(cache: *const xenapi_cache) -> xenapi_cache_stats {
    infallible(xenapi_cache_stats::default(), || {
        // SAFETY: NULL or a live cache.
        let Some(c) = (unsafe { cache.as_ref() }) else {
            return xenapi_cache_stats::default();
        };
        let s = c.inner.status();
        xenapi_cache_stats {
            polls: s.polls,
            events: s.events,
            refetches: s.refetches,
            errors: s.errors,
            connected: s.connected,
        }
    })
}

/// What `change` did. `XENAPI_CHANGE_KIND_MISSED` if `change` is NULL.
///
/// Ownership: `change` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_change_kind(
    change: *const xenapi_cache_change,
) -> xenapi_change_kind {
    // SAFETY: NULL or a live change.
    unsafe { change.as_ref() }.map_or(xenapi_change_kind::Missed, |c| c.kind)
}

/// The class of the changed object as the datamodel names it (`"VM"`), or `""` for
/// `REFETCHED` and `MISSED`. NULL if `change` is NULL.
///
/// Ownership: `change` is borrowed; the string is borrowed from it (valid until
/// `xenapi_cache_change_free`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_change_class(
    change: *const xenapi_cache_change,
) -> *const c_char {
    // SAFETY: NULL or a live change.
    unsafe { change.as_ref() }.map_or(ptr::null(), |c| c.class.as_ptr())
}

/// The reference of the changed object, or `""` for `REFETCHED` and `MISSED`. NULL if
/// `change` is NULL.
///
/// Ownership: `change` is borrowed; the string is borrowed from it (valid until
/// `xenapi_cache_change_free`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_change_ref(
    change: *const xenapi_cache_change,
) -> *const c_char {
    // SAFETY: NULL or a live change.
    unsafe { change.as_ref() }.map_or(ptr::null(), |c| c.reference.as_ptr())
}

/// The record after the change (for a deletion, the last one, when known), as the untyped
/// struct `get_record` returns; NULL when there is none or `change` is NULL.
///
/// Ownership: `change` is borrowed; the value is borrowed from it (valid until
/// `xenapi_cache_change_free`).
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_change_record(
    change: *const xenapi_cache_change,
) -> *const xenapi_value {
    // SAFETY: NULL or a live change.
    unsafe { change.as_ref() }
        .and_then(|c| c.record.as_deref())
        .map_or(ptr::null(), |v| v as *const xenapi_value)
}

/// Frees a change and everything borrowed from it. NULL is allowed.
///
/// Ownership: takes `change`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_cache_change_free(change: *mut xenapi_cache_change) {
    if !change.is_null() {
        // SAFETY: a change from xenapi_cache_next_change, freed once.
        drop(unsafe { Box::from_raw(change) });
    }
}
