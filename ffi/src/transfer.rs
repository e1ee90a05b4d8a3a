//! HTTP transfers beside the API (disks and VMs in and out, any other handler), over
//! `xenapi::transfer`: the caller's bytes move through callbacks (`xenapi_write_fn`,
//! `xenapi_read_fn`) or a file path, streamed in bounded memory (one buffer of 1 MiB per
//! transfer, whatever the size), with progress, cancellation and the task xapi reports on.
//!
//! The callbacks are C functions called on the calling thread, never after the transfer
//! returns. A callback that fails (the write callback returns false, the read callback -1)
//! stops the transfer with `XENAPI_STATUS_INVALID_ARGUMENT` and a message naming the callback;
//! a panic inside the library while a transfer runs is caught (`crate::boundary`).

use std::ffi::{c_char, c_void};
use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Duration;

use xenapi::transfer::{Compression, Control, DiskFormat, Progress, Target, Transferred};

use crate::boundary::{fallible, handle, handle_mut, opt_text, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::options::xenapi_options;
use crate::session::{session_of, xenapi_session};
use crate::strings::{cstring, xenapi_string_list};
use crate::task::xenapi_cancel;
use crate::typed::List;

/// Called as bytes move (at most once per MiB, and once at the end) with the bytes moved so far
/// and the total (-1 when unknown). Return false to cancel the transfer (as
/// `xenapi_cancel_cancel` does). Called on the thread that started the transfer; it must not
/// unwind (no `longjmp` out of it, no C++ exception through it).
pub type xenapi_progress_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, done: u64, total: i64) -> bool>;

/// Receives the next `len` bytes of a download (`data` is valid only during the call). Return
/// false to abort: the transfer stops with `XENAPI_STATUS_INVALID_ARGUMENT` and the message
/// "the write callback failed". Called on the thread that started the transfer.
pub type xenapi_write_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> bool>;

/// Fills `buf` with up to `cap` bytes of an upload and returns how many it wrote, 0 at the end,
/// or -1 on failure (the transfer stops with `XENAPI_STATUS_INVALID_ARGUMENT`, "the read
/// callback failed"). Called on the thread that started the transfer.
pub type xenapi_read_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, cap: usize) -> i64>;

/// A disk image format for `xenapi_transfer_vdi_*` (xapi's `format=`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_disk_format {
    /// The disk's bytes, end to end.
    Raw = 0,
    /// A VHD (dynamic: only allocated blocks travel).
    Vhd = 1,
}

impl From<xenapi_disk_format> for DiskFormat {
    fn from(f: xenapi_disk_format) -> Self {
        match f {
            xenapi_disk_format::Raw => DiskFormat::Raw,
            xenapi_disk_format::Vhd => DiskFormat::Vhd,
        }
    }
}

/// How `xenapi_transfer_vm_export*` compresses the XVA (xapi's `use_compression=`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_compression {
    /// Uncompressed.
    None = 0,
    /// gzip (`use_compression=true`).
    Gzip = 1,
    /// zstd (`use_compression=zstd`, xapi 1.249 and later).
    Zstd = 2,
}

impl From<xenapi_compression> for Compression {
    fn from(c: xenapi_compression) -> Self {
        match c {
            xenapi_compression::None => Compression::None,
            xenapi_compression::Gzip => Compression::Gzip,
            xenapi_compression::Zstd => Compression::Zstd,
        }
    }
}

/// What a transfer may be given besides its source or sink: a progress callback, a cancel
/// request, the caller's task, an idle timeout. Every transfer takes a
/// `const xenapi_transfer_options *`; NULL means none of them. Made by
/// `xenapi_transfer_options_new`, changed by `xenapi_transfer_options_set_*` (not while a
/// transfer uses it), freed with `xenapi_transfer_options_free`.
pub struct xenapi_transfer_options {
    progress: Option<Callback<ProgressC>>,
    cancel: Option<xenapi::transfer::Cancel>,
    task: Option<String>,
    idle_timeout: Option<Duration>,
}

/// A C function and its `user` pointer.
#[derive(Clone, Copy)]
struct Callback<F> {
    f: F,
    user: *mut c_void,
}

// SAFETY: a progress callback is only ever called on the thread that started the transfer
// (the core calls it from the transfer's own loop); `Send` is what the core's type asks of it.
unsafe impl<F: Send> Send for Callback<F> {}

type ProgressC = unsafe extern "C" fn(*mut c_void, u64, i64) -> bool;

impl Callback<ProgressC> {
    fn progress(&self, done: u64, total: i64) -> bool {
        // SAFETY: the caller gave a callback that takes its own `user` pointer.
        unsafe { (self.f)(self.user, done, total) }
    }
}

impl xenapi_transfer_options {
    /// The core's control for one transfer.
    fn control(&self) -> Control<'static> {
        let progress = self.progress.map(|cb| {
            Box::new(move |p: Progress| {
                let total = p.total.and_then(|t| i64::try_from(t).ok()).unwrap_or(-1);
                cb.progress(p.done, total)
            }) as Box<xenapi::transfer::ProgressFn<'static>>
        });
        Control {
            progress,
            cancel: self.cancel.clone(),
            task: self.task.clone(),
            idle_timeout: self.idle_timeout,
        }
    }
}

/// Control from optional transfer options.
unsafe fn control_of(options: *const xenapi_transfer_options) -> Control<'static> {
    // SAFETY: NULL or a live transfer options object.
    unsafe { options.as_ref() }.map_or_else(Control::default, |o| o.control())
}

/// New transfer options: no progress callback, no cancel request, a task the transfer makes
/// itself, the session's call deadline as the idle timeout.
///
/// Ownership: on success `*out_options` receives an object the caller frees with
/// `xenapi_transfer_options_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_new(
    out_options: *mut *mut xenapi_transfer_options,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_options, "out_options")?;
        let o = xenapi_transfer_options {
            progress: None,
            cancel: None,
            task: None,
            idle_timeout: None,
        };
        // SAFETY: checked above.
        unsafe { put(out_options, Box::into_raw(Box::new(o))) };
        Ok(())
    })
}

/// Frees transfer options (NULL ignored).
///
/// Ownership: takes `options`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_free(options: *mut xenapi_transfer_options) {
    crate::boundary::infallible((), || {
        if !options.is_null() {
            // SAFETY: from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

unsafe fn with_transfer_options(
    options: *mut xenapi_transfer_options,
    err: *mut *mut xenapi_error,
    f: impl FnOnce(&mut xenapi_transfer_options) -> Result<(), Fail>,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live options object used by one thread.
        let o = unsafe { handle_mut(options, "options") }?;
        f(o)
    })
}

/// Sets the progress callback and the `user` pointer passed to it (NULL `progress`: none).
///
/// Ownership: `options` is borrowed; `user` is the caller's, passed back as is and never freed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_set_progress(
    options: *mut xenapi_transfer_options,
    progress: xenapi_progress_fn,
    user: *mut c_void,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_transfer_options(options, err, |o| {
            o.progress = progress.map(|f| Callback { f, user });
            Ok(())
        })
    }
}

/// Sets a cancel request (NULL: none): `xenapi_cancel_cancel(cancel)` from any thread stops the
/// transfer, cancels its task and makes it fail with `XENAPI_STATUS_API`, code `TASK_CANCELLED`.
///
/// Ownership: `options` and `cancel` are borrowed; `cancel` must outlive the transfers that use
/// these options.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_set_cancel(
    options: *mut xenapi_transfer_options,
    cancel: *const xenapi_cancel,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_transfer_options(options, err, |o| {
            o.cancel = if cancel.is_null() {
                None
            } else {
                // SAFETY: a live cancel request.
                Some(crate::task::cancel_of(cancel))
            };
            Ok(())
        })
    }
}

/// Sets the task the transfer reports on (a reference from `xenapi_task_create`, which the
/// caller watches and destroys); NULL: the transfer makes its own and destroys it at the end.
///
/// Ownership: `options` and `task_ref` are borrowed (copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_set_task(
    options: *mut xenapi_transfer_options,
    task_ref: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_transfer_options(options, err, |o| {
            // SAFETY (of the enclosing block): NULL or a NUL-terminated string.
            o.task = opt_text(task_ref, "task_ref")?.map(str::to_owned);
            Ok(())
        })
    }
}

/// Sets the longest the server may stay silent (no byte moved either way) before the transfer
/// fails with `XENAPI_STATUS_TIMEOUT`, in milliseconds; 0: the session's call deadline. A
/// transfer as a whole has no deadline.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_options_set_idle_timeout_ms(
    options: *mut xenapi_transfer_options,
    ms: u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_transfer_options(options, err, |o| {
            o.idle_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks and sources

/// Why a sink or source stopped the transfer, reported instead of what the core made of it.
struct Stopped(Option<String>);

impl Stopped {
    /// The caller's failure when there was one, else the core's error.
    fn explain(self, e: xenapi::Error) -> Fail {
        match self.0 {
            Some(m) => Fail::invalid(m),
            None => e.into(),
        }
    }
}

fn stop(why: &mut Stopped, message: String) -> io::Error {
    let e = io::Error::other(message.clone());
    why.0 = Some(message);
    e
}

/// A download's bytes to the caller's write callback.
struct CallbackSink {
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> bool,
    user: *mut c_void,
    stopped: Stopped,
}

impl Write for CallbackSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: `buf` is valid for the call; the callback takes its own `user`.
        if unsafe { (self.f)(self.user, buf.as_ptr(), buf.len()) } {
            Ok(buf.len())
        } else {
            Err(stop(&mut self.stopped, "the write callback failed".into()))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An upload's bytes from the caller's read callback.
struct CallbackSource {
    f: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64,
    user: *mut c_void,
    stopped: Stopped,
}

impl Read for CallbackSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: `buf` is writable for `buf.len()` bytes during the call.
        let n = unsafe { (self.f)(self.user, buf.as_mut_ptr(), buf.len()) };
        match usize::try_from(n) {
            Ok(n) if n <= buf.len() => Ok(n),
            Ok(n) => Err(stop(
                &mut self.stopped,
                format!(
                    "the read callback failed: it returned {n}, more than the {} bytes asked for",
                    buf.len()
                ),
            )),
            Err(_) => Err(stop(&mut self.stopped, "the read callback failed".into())),
        }
    }
}

/// A download into a file; a failure to write names the file.
struct FileSink {
    file: File,
    path: String,
    stopped: Stopped,
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => Err(stop(
                &mut self.stopped,
                format!("cannot write {}: {e}", self.path),
            )),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.file.flush();
        r.map_err(|e| {
            stop(
                &mut self.stopped,
                format!("cannot write {}: {e}", self.path),
            )
        })
    }
}

/// An upload from a file; a failure to read names the file.
struct FileSource {
    file: File,
    path: String,
    stopped: Stopped,
}

impl Read for FileSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.file.read(buf);
        r.map_err(|e| stop(&mut self.stopped, format!("cannot read {}: {e}", self.path)))
    }
}

unsafe fn write_fn(f: xenapi_write_fn, user: *mut c_void) -> Result<CallbackSink, Fail> {
    let f = f.ok_or_else(|| Fail::null("write_cb"))?;
    Ok(CallbackSink {
        f,
        user,
        stopped: Stopped(None),
    })
}

unsafe fn read_fn(f: xenapi_read_fn, user: *mut c_void) -> Result<CallbackSource, Fail> {
    let f = f.ok_or_else(|| Fail::null("read_cb"))?;
    Ok(CallbackSource {
        f,
        user,
        stopped: Stopped(None),
    })
}

/// A body length from C: -1 unknown, else the size.
fn length(length: i64) -> Result<Option<u64>, Fail> {
    match length {
        -1 => Ok(None),
        n => u64::try_from(n).map(Some).map_err(|_| {
            Fail::invalid(format!(
                "length {n} is not a size: give the body's bytes, or -1 when unknown"
            ))
        }),
    }
}

/// Creates (or truncates) the file a download goes to.
fn create(path: &str) -> Result<FileSink, Fail> {
    let file =
        File::create(path).map_err(|e| Fail::invalid(format!("cannot create {path}: {e}")))?;
    Ok(FileSink {
        file,
        path: path.to_owned(),
        stopped: Stopped(None),
    })
}

/// Opens the file an upload reads, and its size.
fn open(path: &str) -> Result<(FileSource, u64), Fail> {
    let file = File::open(path).map_err(|e| Fail::invalid(format!("cannot open {path}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Fail::invalid(format!("cannot read {path}: {e}")))?;
    if !meta.is_file() {
        return Err(Fail::invalid(format!("{path} is not a regular file")));
    }
    Ok((
        FileSource {
            file,
            path: path.to_owned(),
            stopped: Stopped(None),
        },
        meta.len(),
    ))
}

/// Runs a download into a file: the file is removed again when the transfer fails.
fn to_file(
    path: &str,
    run: impl FnOnce(&mut FileSink) -> xenapi::Result<Transferred>,
) -> Result<Transferred, Fail> {
    let mut sink = create(path)?;
    let result = run(&mut sink).and_then(|t| {
        sink.file.sync_all().map_err(|e| {
            xenapi::Error::InvalidArgument(format!("cannot write {}: {e}", sink.path))
        })?;
        Ok(t)
    });
    match result {
        Ok(t) => Ok(t),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(std::mem::replace(&mut sink.stopped, Stopped(None)).explain(e))
        }
    }
}

/// Stores a transfer's byte count through an optional out-pointer.
unsafe fn put_bytes(out_bytes: *mut u64, t: &Transferred) {
    if !out_bytes.is_null() {
        // SAFETY: a writable out-pointer (the caller's contract).
        unsafe { out_bytes.write(t.bytes) };
    }
}

/// The new VMs as a string list, through an optional out-pointer.
unsafe fn put_vms(out_vms: *mut *mut xenapi_string_list, vms: Vec<String>) {
    if !out_vms.is_null() {
        let list: Box<xenapi_string_list> = Box::new(List {
            items: vms.into_iter().map(cstring).collect(),
        });
        // SAFETY: a writable out-pointer (the caller's contract).
        unsafe { out_vms.write(Box::into_raw(list)) };
    }
}

/// A NULL-terminated array of name, value pairs (NULL: none).
unsafe fn query_pairs(query: *const *const c_char) -> Result<Vec<(String, String)>, Fail> {
    const MAX_PAIRS: usize = 4096;
    let mut pairs = Vec::new();
    if query.is_null() {
        return Ok(pairs);
    }
    for i in 0..MAX_PAIRS {
        // SAFETY: the array holds pairs up to a NULL name (the caller's contract).
        let name = unsafe { *query.add(2 * i) };
        if name.is_null() {
            return Ok(pairs);
        }
        // SAFETY: as above: a name is followed by its value.
        let value = unsafe { *query.add(2 * i + 1) };
        if value.is_null() {
            return Err(Fail::invalid(format!(
                "query pair {i} has a name and no value (the array is name, value, ..., NULL)"
            )));
        }
        // SAFETY: NUL-terminated strings.
        let name = unsafe { text(name, "query name") }?;
        let value = unsafe { text(value, "query value") }?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    Err(Fail::invalid(format!(
        "query has more than {MAX_PAIRS} pairs, or no terminating NULL"
    )))
}

// ---------------------------------------------------------------------------------------------
// Disks

/// Downloads a disk's content (`/export_raw_vdi?vdi=&format=`) through `write_cb`, in `format`.
/// `vdi` is a reference or a UUID. Follows a redirect to the host that holds the disk.
///
/// Fails as an API call does (`XENAPI_STATUS_API` with the server's code, e.g. `HANDLE_INVALID`
/// or `VDI_IN_USE`); `TASK_CANCELLED` when cancelled; `XENAPI_STATUS_INVALID_ARGUMENT`, "the
/// write callback failed", when `write_cb` returned false.
///
/// Ownership: every argument is borrowed; `user` is passed to `write_cb` and the progress callback
/// as is. On success `*out_bytes` (may be NULL) receives the bytes moved.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_vdi_export(
    session: *const xenapi_session,
    vdi: *const c_char,
    format: xenapi_disk_format,
    write_cb: xenapi_write_fn,
    user: *mut c_void,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vdi = unsafe { text(vdi, "vdi") }?;
        let mut sink = unsafe { write_fn(write_cb, user) }?;
        let control = unsafe { control_of(options) };
        let t = xenapi::transfer::export_vdi(s, vdi, format.into(), &mut sink, control)
            .map_err(|e| sink.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// `xenapi_transfer_vdi_export` into the file at `path` (created, or truncated), streamed: the
/// disk is never held in memory. On a failure the file is removed.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes written.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_vdi_export_file(
    session: *const xenapi_session,
    vdi: *const c_char,
    format: xenapi_disk_format,
    path: *const c_char,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vdi = unsafe { text(vdi, "vdi") }?;
        let path = unsafe { text(path, "path") }?;
        let control = unsafe { control_of(options) };
        let t = to_file(path, |sink| {
            xenapi::transfer::export_vdi(s, vdi, format.into(), sink, control)
        })?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// Replaces a disk's content (`/import_raw_vdi?vdi=&format=`) with what `read_cb` gives, in
/// `format`. `length` is the body's size, or -1 when unknown. On a failure or a cancel the
/// server leaves the disk as it was.
///
/// Fails as `xenapi_transfer_vdi_export` does; "the read callback failed" when `read_cb` returned
/// -1.
///
/// Ownership: every argument is borrowed; `user` is passed to `read_cb` and the progress callback.
/// On success `*out_bytes` (may be NULL) receives the bytes sent.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_vdi_import(
    session: *const xenapi_session,
    vdi: *const c_char,
    format: xenapi_disk_format,
    read_cb: xenapi_read_fn,
    user: *mut c_void,
    length: i64,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vdi = unsafe { text(vdi, "vdi") }?;
        let mut source = unsafe { read_fn(read_cb, user) }?;
        let length = self::length(length)?;
        let control = unsafe { control_of(options) };
        let t = xenapi::transfer::import_vdi(s, vdi, format.into(), &mut source, length, control)
            .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// `xenapi_transfer_vdi_import` from the file at `path`, streamed (its size is the length).
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes sent.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_vdi_import_file(
    session: *const xenapi_session,
    vdi: *const c_char,
    format: xenapi_disk_format,
    path: *const c_char,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vdi = unsafe { text(vdi, "vdi") }?;
        let path = unsafe { text(path, "path") }?;
        let control = unsafe { control_of(options) };
        let (mut source, len) = open(path)?;
        let t =
            xenapi::transfer::import_vdi(s, vdi, format.into(), &mut source, Some(len), control)
                .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// VMs

/// Downloads a VM as an XVA (`/export?uuid=&use_compression=`) through `write_cb`. `vm` is a UUID
/// or a reference.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes moved.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_vm_export(
    session: *const xenapi_session,
    vm: *const c_char,
    compression: xenapi_compression,
    write_cb: xenapi_write_fn,
    user: *mut c_void,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        let mut sink = unsafe { write_fn(write_cb, user) }?;
        let control = unsafe { control_of(options) };
        let t = xenapi::transfer::export_vm(s, vm, compression.into(), &mut sink, control)
            .map_err(|e| sink.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// `xenapi_transfer_vm_export` into the file at `path` (created, or truncated), streamed. On a
/// failure the file is removed.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes written.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_vm_export_file(
    session: *const xenapi_session,
    vm: *const c_char,
    compression: xenapi_compression,
    path: *const c_char,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        let path = unsafe { text(path, "path") }?;
        let control = unsafe { control_of(options) };
        let t = to_file(path, |sink| {
            xenapi::transfer::export_vm(s, vm, compression.into(), sink, control)
        })?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// Imports an XVA (`/import?sr_id=`) that `read_cb` gives into the SR `sr` (a reference; NULL: the
/// pool's default SR). `length` is the body's size, or -1 when unknown.
///
/// Ownership: every argument is borrowed. On success `*out_vms` (may be NULL) receives the new
/// VMs' references, a list the caller frees with `xenapi_string_list_free`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_vm_import(
    session: *const xenapi_session,
    read_cb: xenapi_read_fn,
    user: *mut c_void,
    length: i64,
    sr: *const c_char,
    options: *const xenapi_transfer_options,
    out_vms: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let mut source = unsafe { read_fn(read_cb, user) }?;
        let length = self::length(length)?;
        let sr = unsafe { opt_text(sr, "sr") }?;
        let control = unsafe { control_of(options) };
        let vms = xenapi::transfer::import_vm(s, &mut source, length, sr, control)
            .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_vms(out_vms, vms) };
        Ok(())
    })
}

/// `xenapi_transfer_vm_import` from the XVA file at `path`, streamed.
///
/// Ownership: every argument is borrowed. On success `*out_vms` (may be NULL) receives the new
/// VMs' references, a list the caller frees with `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_vm_import_file(
    session: *const xenapi_session,
    path: *const c_char,
    sr: *const c_char,
    options: *const xenapi_transfer_options,
    out_vms: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let path = unsafe { text(path, "path") }?;
        let sr = unsafe { opt_text(sr, "sr") }?;
        let control = unsafe { control_of(options) };
        let (mut source, len) = open(path)?;
        let vms = xenapi::transfer::import_vm(s, &mut source, Some(len), sr, control)
            .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_vms(out_vms, vms) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Any handler

/// The target of a generic transfer.
unsafe fn target(path: *const c_char, query: *const *const c_char) -> Result<Target, Fail> {
    // SAFETY: the caller's contract.
    let path = unsafe { text(path, "path") }?;
    if !path.starts_with('/') {
        return Err(Fail::invalid(format!(
            "path {path:?} must start with / (a handler such as /export_raw_vdi)"
        )));
    }
    let mut t = Target::new(path);
    // SAFETY: the caller's contract.
    for (k, v) in unsafe { query_pairs(query) }? {
        t = t.arg(k, v);
    }
    Ok(t)
}

/// GETs any handler beside the API (`path`, e.g. `"/export_raw_vdi"`) through `write_cb`. `query`
/// is a NULL-terminated array of name, value pairs (`{"vdi", ref, "format", "raw", NULL}`), or
/// NULL for none; `session_id` and `task_id` are added.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes moved.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_download(
    session: *const xenapi_session,
    path: *const c_char,
    query: *const *const c_char,
    write_cb: xenapi_write_fn,
    user: *mut c_void,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let target = unsafe { target(path, query) }?;
        let mut sink = unsafe { write_fn(write_cb, user) }?;
        let control = unsafe { control_of(options) };
        let t = xenapi::transfer::download(s, &target, &mut sink, control)
            .map_err(|e| sink.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// PUTs what `read_cb` gives to any handler beside the API (see `xenapi_transfer_download`).
/// `length` is the body's size, or -1 when unknown.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes sent.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_upload(
    session: *const xenapi_session,
    path: *const c_char,
    query: *const *const c_char,
    read_cb: xenapi_read_fn,
    user: *mut c_void,
    length: i64,
    options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let s = unsafe { session_of(session) }?;
        let target = unsafe { target(path, query) }?;
        let mut source = unsafe { read_fn(read_cb, user) }?;
        let length = self::length(length)?;
        let control = unsafe { control_of(options) };
        let t = xenapi::transfer::upload(s, &target, &mut source, length, control)
            .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// GETs a whole URL (`https://host/export_raw_vdi?session_id=…&task_id=…&vdi=…`, the caller's
/// query as is) through `write_cb`, without a session, under `options`' TLS policy, proxy and
/// timeouts: XenServer.NET's `HTTP_actions` style.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes moved.
#[no_mangle]
pub unsafe extern "C" fn xenapi_transfer_download_url(
    options: *const xenapi_options,
    url: *const c_char,
    write_cb: xenapi_write_fn,
    user: *mut c_void,
    transfer_options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let o = unsafe { handle(options, "options") }?;
        let url = unsafe { text(url, "url") }?;
        let mut sink = unsafe { write_fn(write_cb, user) }?;
        let control = unsafe { control_of(transfer_options) };
        let t = xenapi::transfer::download_url(&o.inner, url, &mut sink, control)
            .map_err(|e| sink.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

/// PUTs what `read_cb` gives to a whole URL; see `xenapi_transfer_download_url`. `length` is the
/// body's size, or -1 when unknown.
///
/// Ownership: every argument is borrowed. On success `*out_bytes` (may be NULL) receives the
/// bytes sent.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xenapi_transfer_upload_url(
    options: *const xenapi_options,
    url: *const c_char,
    read_cb: xenapi_read_fn,
    user: *mut c_void,
    length: i64,
    transfer_options: *const xenapi_transfer_options,
    out_bytes: *mut u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or live handles / NUL-terminated strings.
        let o = unsafe { handle(options, "options") }?;
        let url = unsafe { text(url, "url") }?;
        let mut source = unsafe { read_fn(read_cb, user) }?;
        let length = self::length(length)?;
        let control = unsafe { control_of(transfer_options) };
        let t = xenapi::transfer::upload_url(&o.inner, url, &mut source, length, control)
            .map_err(|e| source.stopped.explain(e))?;
        // SAFETY: NULL or writable.
        unsafe { put_bytes(out_bytes, &t) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    unsafe extern "C" fn refuse(_: *mut c_void, _: *const u8, _: usize) -> bool {
        false
    }

    unsafe extern "C" fn too_much(_: *mut c_void, _: *mut u8, cap: usize) -> i64 {
        cap as i64 + 1
    }

    unsafe extern "C" fn broken(_: *mut c_void, _: *mut u8, _: usize) -> i64 {
        -1
    }

    #[test]
    fn query_pairs_up_to_the_null_name() {
        assert!(unsafe { query_pairs(std::ptr::null()) }.unwrap().is_empty());
        let (a, b, c) = (
            CString::new("vdi").unwrap(),
            CString::new("OpaqueRef:1").unwrap(),
            CString::new("format").unwrap(),
        );
        let raw = CString::new("raw").unwrap();
        let q = [
            a.as_ptr(),
            b.as_ptr(),
            c.as_ptr(),
            raw.as_ptr(),
            std::ptr::null(),
        ];
        let pairs = unsafe { query_pairs(q.as_ptr()) }.unwrap();
        assert_eq!(
            pairs,
            vec![
                ("vdi".to_owned(), "OpaqueRef:1".to_owned()),
                ("format".to_owned(), "raw".to_owned())
            ]
        );
        let odd = [a.as_ptr(), std::ptr::null()];
        let e = unsafe { query_pairs(odd.as_ptr()) }.unwrap_err();
        assert_eq!(e.status, xenapi_status::InvalidArgument);
    }

    #[test]
    fn lengths_from_c() {
        assert_eq!(length(-1).unwrap(), None);
        assert_eq!(length(0).unwrap(), Some(0));
        assert_eq!(length(5).unwrap(), Some(5));
        assert_eq!(
            length(-2).unwrap_err().status,
            xenapi_status::InvalidArgument
        );
    }

    /// A callback's failure is what the caller hears, whatever the core made of the I/O error.
    #[test]
    fn a_failing_callback_is_named() {
        let mut sink = unsafe { write_fn(Some(refuse), std::ptr::null_mut()) }.unwrap();
        assert_eq!(sink.write(b"").unwrap(), 0, "nothing to write: no call");
        assert!(sink.write(b"x").is_err());
        let core = xenapi::Error::Protocol("the sink failed".into());
        let fail = sink.stopped.explain(core);
        assert_eq!(fail.status, xenapi_status::InvalidArgument);
        let e = xenapi_error::from(fail);
        let msg = unsafe { std::ffi::CStr::from_ptr(crate::error::xenapi_error_message(&e)) };
        assert_eq!(msg.to_str().unwrap(), "the write callback failed");

        let mut buf = [0u8; 8];
        let mut src = unsafe { read_fn(Some(too_much), std::ptr::null_mut()) }.unwrap();
        assert!(src.read(&mut buf).is_err());
        assert!(src
            .stopped
            .0
            .as_deref()
            .unwrap()
            .contains("more than the 8 bytes"));
        let mut src = unsafe { read_fn(Some(broken), std::ptr::null_mut()) }.unwrap();
        assert!(src.read(&mut buf).is_err());
        assert_eq!(src.stopped.0.as_deref(), Some("the read callback failed"));
        // No callback failure: the core's error stands.
        let fail = Stopped(None).explain(xenapi::Error::Protocol("bad reply".into()));
        assert_eq!(fail.status, xenapi_status::Protocol);
        assert!(unsafe { write_fn(None, std::ptr::null_mut()) }.is_err());
    }
}
