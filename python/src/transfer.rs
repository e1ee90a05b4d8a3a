//! `_native.transfer_*`: the core's [`xenapi::transfer`] for `xenapi_rs.transfer`. The HTTP
//! work (the task, redirects, Content-Length rules, cancelling) is the core's; this module gives
//! it Python's sources and sinks and runs it without the GIL:
//!
//! - a sink is a path (written by Rust, no GIL) or an object with `write()`; a source is a path,
//!   an object with `read()` or an iterator of bytes-like objects. Python objects are called with
//!   the GIL taken for each chunk ([`xenapi::transfer::CHUNK`] bytes at most), so memory stays
//!   bounded whatever the size;
//! - the transfer runs on a helper thread while the calling thread waits without the GIL, waking
//!   every [`xenapi::call::TICK`] to run Python's signal handlers ([`crate::interrupt::wait`]):
//!   Ctrl-C (`KeyboardInterrupt`) cancels the transfer (and its task; a `Cancel` the caller gave
//!   is cancelled with it) and is raised once the transfer has stopped;
//! - an exception raised by `write()`, `read()`, the iterator or the progress callable stops the
//!   transfer (as a cancel) and is what the caller sees.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyIterator, PyString};
use xenapi::transfer::{self, Compression, Control, DiskFormat, Progress, Target};

use crate::{errors, interrupt, lock, PyCancel, PySession};

/// The first Python exception raised by a callback during a transfer.
#[derive(Clone, Default)]
struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    fn set(&self, e: PyErr) {
        let mut slot = lock(&self.0);
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    fn take(&self) -> Option<PyErr> {
        lock(&self.0).take()
    }

    /// An `io::Error` for the core, the exception kept for the caller.
    fn io(&self, e: PyErr) -> io::Error {
        self.set(e);
        io::Error::other("a Python callback raised an exception")
    }
}

/// `OSError(errno, message, path)`, which Python makes `FileNotFoundError` and the like.
fn os_error(e: &io::Error, path: &std::path::Path) -> PyErr {
    pyo3::exceptions::PyOSError::new_err((
        e.raw_os_error().unwrap_or(0),
        e.to_string(),
        path.display().to_string(),
    ))
}

/// Where a download goes.
enum Sink {
    File(File, PathBuf),
    Py(PyWriter),
}

struct PyWriter {
    obj: Py<PyAny>,
    raised: Raised,
}

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let r = self
                .obj
                .call_method1(py, "write", (PyBytes::new(py, buf),))
                .map_err(|e| self.raised.io(e))?;
            // Raw files may write less and say so; buffered ones return the length or None.
            match r.extract::<Option<usize>>(py) {
                Ok(Some(n)) => Ok(n.min(buf.len())),
                _ => Ok(buf.len()),
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Python::attach(|py| {
            if self.obj.bind(py).hasattr("flush").unwrap_or(false) {
                self.obj
                    .call_method0(py, "flush")
                    .map_err(|e| self.raised.io(e))?;
            }
            Ok(())
        })
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f, _) => f.write(buf),
            Sink::Py(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f, _) => f.flush(),
            Sink::Py(w) => w.flush(),
        }
    }
}

impl Sink {
    /// A `str` is a path (the Python module turns `os.PathLike` into one); anything else must
    /// have `write()`.
    fn new(dest: &Bound<'_, PyAny>, raised: &Raised) -> PyResult<Self> {
        if let Ok(s) = dest.cast::<PyString>() {
            let path: PathBuf = s.extract()?;
            let f = File::create(&path).map_err(|e| os_error(&e, &path))?;
            return Ok(Sink::File(f, path));
        }
        if !dest.hasattr("write")? {
            return Err(PyTypeError::new_err(
                "dest must be a path or a binary file object with write()",
            ));
        }
        Ok(Sink::Py(PyWriter {
            obj: dest.clone().unbind(),
            raised: raised.clone(),
        }))
    }

    /// After a failed download into a file this module made: the partial file goes.
    fn discard(self) {
        if let Sink::File(f, path) = self {
            drop(f);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where an upload comes from.
enum Source {
    File(File),
    Read {
        obj: Py<PyAny>,
        pending: Vec<u8>,
        at: usize,
        raised: Raised,
    },
    Iter {
        iter: Py<PyIterator>,
        pending: Vec<u8>,
        at: usize,
        raised: Raised,
    },
}

/// A bytes-like object's bytes (bytes, bytearray, memoryview, anything `bytes()` takes but
/// `str` and `int`).
fn bytes_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must give bytes, not {}",
            obj.get_type().name()?
        )));
    }
    let b = obj.py().get_type::<PyBytes>().call1((obj,)).map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must give bytes, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
}

impl Source {
    /// A `str` is a path; an object with `read()` is read; anything else is iterated.
    /// Returns the source and its length when known (a file's).
    fn new(src: &Bound<'_, PyAny>, raised: &Raised) -> PyResult<(Self, Option<u64>)> {
        if let Ok(s) = src.cast::<PyString>() {
            let path: PathBuf = s.extract()?;
            let open = || -> io::Result<(File, u64)> {
                let f = File::open(&path)?;
                let len = f.metadata()?.len();
                Ok((f, len))
            };
            let (f, len) = open().map_err(|e| os_error(&e, &path))?;
            return Ok((Source::File(f), Some(len)));
        }
        if src.is_instance_of::<PyBytes>() || src.is_instance_of::<PyByteArray>() {
            return Err(PyTypeError::new_err(
                "source must be a path, a binary file object or an iterable of bytes; \
                 wrap a bytes object in io.BytesIO or a list",
            ));
        }
        if src.hasattr("read")? {
            return Ok((
                Source::Read {
                    obj: src.clone().unbind(),
                    pending: Vec::new(),
                    at: 0,
                    raised: raised.clone(),
                },
                None,
            ));
        }
        let iter = src.try_iter().map_err(|_| {
            PyTypeError::new_err(
                "source must be a path, a binary file object with read() or an iterable of bytes",
            )
        })?;
        Ok((
            Source::Iter {
                iter: iter.unbind(),
                pending: Vec::new(),
                at: 0,
                raised: raised.clone(),
            },
            None,
        ))
    }
}

/// Copies what is pending into `buf`; `None` when nothing is.
fn drain(pending: &mut Vec<u8>, at: &mut usize, buf: &mut [u8]) -> Option<usize> {
    if *at >= pending.len() {
        return None;
    }
    let n = (pending.len() - *at).min(buf.len());
    buf[..n].copy_from_slice(&pending[*at..*at + n]);
    *at += n;
    if *at == pending.len() {
        pending.clear();
        *at = 0;
    }
    Some(n)
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self {
            Source::File(f) => f.read(buf),
            Source::Read {
                obj,
                pending,
                at,
                raised,
            } => {
                if let Some(n) = drain(pending, at, buf) {
                    return Ok(n);
                }
                let want = buf.len().min(transfer::CHUNK);
                let got = Python::attach(|py| {
                    let r = obj.call_method1(py, "read", (want,))?;
                    if r.is_none(py) {
                        // A non-blocking raw file with nothing yet: read again.
                        return Ok(None);
                    }
                    bytes_of(r.bind(py), "read()").map(Some)
                })
                .map_err(|e| raised.io(e))?;
                let Some(got) = got else {
                    return Err(io::ErrorKind::Interrupted.into());
                };
                *pending = got;
                *at = 0;
                Ok(drain(pending, at, buf).unwrap_or(0))
            }
            Source::Iter {
                iter,
                pending,
                at,
                raised,
            } => loop {
                if let Some(n) = drain(pending, at, buf) {
                    return Ok(n);
                }
                let next = Python::attach(|py| match iter.bind(py).clone().next() {
                    None => Ok(None),
                    Some(Err(e)) => Err(e),
                    Some(Ok(item)) => bytes_of(&item, "the source's items").map(Some),
                })
                .map_err(|e| raised.io(e))?;
                match next {
                    None => return Ok(0),
                    // Empty items are skipped: only the iterator's end ends the body.
                    Some(b) => {
                        *pending = b;
                        *at = 0;
                    }
                }
            },
        }
    }
}

/// What every transfer takes besides its source or sink.
struct Options<'a> {
    progress: Option<Py<PyAny>>,
    cancel: Option<&'a PyCancel>,
    task: Option<String>,
    idle_timeout: Option<f64>,
}

/// Runs `work` on a helper thread with a [`Control`] made from `opts`, while this thread waits
/// without the GIL, watching for Ctrl-C; returns `work`'s result or the exception the caller
/// should see.
fn run<T: Send>(
    py: Python<'_>,
    session: &PySession,
    opts: Options<'_>,
    raised: &Raised,
    work: impl FnOnce(&xenapi::Session, Control<'static>) -> xenapi::Result<T> + Send,
) -> PyResult<T> {
    let idle_timeout = opts
        .idle_timeout
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    PyValueError::new_err("idle_timeout must be a positive number of seconds")
                })
        })
        .transpose()?;
    // The caller's Cancel goes to the core as it is (noticed at once); Ctrl-C cancels it too.
    let internal = opts.cancel.map(|c| c.inner.clone()).unwrap_or_default();
    let progress = opts.progress.map(|cb| {
        let raised = raised.clone();
        Box::new(move |p: Progress| {
            Python::attach(|py| match cb.call1(py, (p.done, p.total)) {
                // Only an explicit False cancels: a callable that returns nothing goes on.
                Ok(r) => !r.bind(py).is(pyo3::types::PyBool::new(py, false)),
                Err(e) => {
                    raised.set(e);
                    false
                }
            })
        }) as Box<transfer::ProgressFn<'static>>
    });
    let control = Control {
        progress,
        cancel: Some(internal.clone()),
        task: opts.task,
        idle_timeout,
    };
    let s = session.call_view(py);
    let s = &*s;
    let (waited, result) = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<()>();
        // Shared with the detached closure (which must be Send): a Receiver is not Sync.
        let rx = Mutex::new(rx);
        let worker = scope.spawn(move || {
            let r = work(s, control);
            let _ = tx.send(());
            r
        });
        // Ctrl-C cancels the transfer; the exception is raised once it has stopped.
        let waited = interrupt::wait(
            py,
            |tick| match lock(&rx).recv_timeout(tick) {
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                _ => Some(()),
            },
            || {
                internal.cancel();
                true
            },
        );
        (waited, py.detach(|| worker.join()))
    });
    let result = match result {
        Ok(r) => r,
        Err(_) => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the transfer thread panicked",
            ))
        }
    };
    waited?;
    if let Some(e) = raised.take() {
        return Err(e);
    }
    result.map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

/// A download into `dest`: the partial file is removed when it fails.
fn download_into<T: Send>(
    py: Python<'_>,
    session: &PySession,
    dest: &Bound<'_, PyAny>,
    opts: Options<'_>,
    work: impl FnOnce(&xenapi::Session, &mut Sink, Control<'static>) -> xenapi::Result<T> + Send,
) -> PyResult<T> {
    let raised = Raised::default();
    let sink = Sink::new(dest, &raised)?;
    let mut slot = Some(sink);
    let result = {
        let sink_ref = &mut slot;
        run(py, session, opts, &raised, move |s, c| {
            let sink = sink_ref.as_mut().expect("the sink is there until the end");
            work(s, sink, c)
        })
    };
    let mut sink = slot.take().expect("the sink is there until the end");
    let result = result.and_then(|v| match sink.flush() {
        Ok(()) => Ok(v),
        Err(e) => Err(raised.take().unwrap_or_else(|| match &sink {
            Sink::File(_, path) => os_error(&e, path),
            Sink::Py(_) => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        })),
    });
    match result {
        Ok(v) => {
            drop(sink);
            Ok(v)
        }
        Err(e) => {
            py.detach(|| sink.discard());
            Err(e)
        }
    }
}

fn upload_from<T: Send>(
    py: Python<'_>,
    session: &PySession,
    source: &Bound<'_, PyAny>,
    length: Option<u64>,
    opts: Options<'_>,
    work: impl FnOnce(&xenapi::Session, &mut Source, Option<u64>, Control<'static>) -> xenapi::Result<T>
        + Send,
) -> PyResult<T> {
    let raised = Raised::default();
    let (mut src, known) = Source::new(source, &raised)?;
    let length = known.or(length);
    let src_ref = &mut src;
    let r = run(py, session, opts, &raised, move |s, c| {
        work(s, src_ref, length, c)
    });
    // Python objects held by the source are released with the GIL held.
    drop(src);
    r
}

fn format(text: &str) -> PyResult<DiskFormat> {
    DiskFormat::parse(text).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn compression(text: Option<&str>) -> PyResult<Compression> {
    Ok(match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") | Some("false") => Compression::None,
        Some("gzip") | Some("true") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some(_) => {
            return Err(PyValueError::new_err(format!(
                "compression must be None, \"gzip\" or \"zstd\", not {:?}",
                text.unwrap_or_default()
            )))
        }
    })
}

fn target(path: String, query: Vec<(String, String)>) -> PyResult<Target> {
    if !path.starts_with('/') {
        return Err(PyValueError::new_err(format!(
            "path must be a handler path beginning with /, not {path:?}"
        )));
    }
    let mut t = Target::new(path);
    for (k, v) in query {
        if k == "session_id" || k == "task_id" {
            return Err(PyValueError::new_err(format!(
                "{k} is added by the transfer: leave it out of query (give task= for a task)"
            )));
        }
        t = t.arg(k, v);
    }
    Ok(t)
}

/// `/export_raw_vdi`: a disk's content into `dest`; returns the bytes moved.
#[pyfunction]
#[pyo3(signature = (session, vdi, format_, dest, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_export_vdi(
    py: Python<'_>,
    session: &PySession,
    vdi: String,
    format_: &str,
    dest: &Bound<'_, PyAny>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<u64> {
    let fmt = format(format_)?;
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    download_into(py, session, dest, opts, move |s, sink, c| {
        transfer::export_vdi(s, &vdi, fmt, sink, c).map(|t| t.bytes)
    })
}

/// `/import_raw_vdi`: replaces a disk's content from `source`; returns the bytes moved.
#[pyfunction]
#[pyo3(signature = (session, vdi, format_, source, length, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_import_vdi(
    py: Python<'_>,
    session: &PySession,
    vdi: String,
    format_: &str,
    source: &Bound<'_, PyAny>,
    length: Option<u64>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<u64> {
    let fmt = format(format_)?;
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    upload_from(py, session, source, length, opts, move |s, src, len, c| {
        transfer::import_vdi(s, &vdi, fmt, src, len, c).map(|t| t.bytes)
    })
}

/// `/export`: a VM as an XVA into `dest`; returns the bytes moved.
#[pyfunction]
#[pyo3(signature = (session, vm, compression_, dest, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_export_vm(
    py: Python<'_>,
    session: &PySession,
    vm: String,
    compression_: Option<&str>,
    dest: &Bound<'_, PyAny>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<u64> {
    let comp = compression(compression_)?;
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    download_into(py, session, dest, opts, move |s, sink, c| {
        transfer::export_vm(s, &vm, comp, sink, c).map(|t| t.bytes)
    })
}

/// `/import`: an XVA from `source` into `sr` (the pool's default when `None`); returns the new
/// VMs' references.
#[pyfunction]
#[pyo3(signature = (session, source, length, sr, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_import_vm(
    py: Python<'_>,
    session: &PySession,
    source: &Bound<'_, PyAny>,
    length: Option<u64>,
    sr: Option<String>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<Vec<String>> {
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    upload_from(py, session, source, length, opts, move |s, src, len, c| {
        transfer::import_vm(s, src, len, sr.as_deref(), c)
    })
}

/// A GET of any handler beside the API into `dest`: `(bytes moved, the task's result)`.
#[pyfunction]
#[pyo3(signature = (session, path, query, dest, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_download(
    py: Python<'_>,
    session: &PySession,
    path: String,
    query: Vec<(String, String)>,
    dest: &Bound<'_, PyAny>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<(u64, String)> {
    let t = target(path, query)?;
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    download_into(py, session, dest, opts, move |s, sink, c| {
        transfer::download(s, &t, sink, c).map(|t| (t.bytes, t.result))
    })
}

/// A PUT of `source` to any handler beside the API: `(bytes moved, the task's result)`.
#[pyfunction]
#[pyo3(signature = (session, path, query, source, length, progress, cancel, task, idle_timeout))]
#[allow(clippy::too_many_arguments)]
fn transfer_upload(
    py: Python<'_>,
    session: &PySession,
    path: String,
    query: Vec<(String, String)>,
    source: &Bound<'_, PyAny>,
    length: Option<u64>,
    progress: Option<Py<PyAny>>,
    cancel: Option<PyRef<'_, PyCancel>>,
    task: Option<String>,
    idle_timeout: Option<f64>,
) -> PyResult<(u64, String)> {
    let t = target(path, query)?;
    let opts = Options {
        progress,
        cancel: cancel.as_deref(),
        task,
        idle_timeout,
    };
    upload_from(py, session, source, length, opts, move |s, src, len, c| {
        transfer::upload(s, &t, src, len, c).map(|t| (t.bytes, t.result))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(transfer_export_vdi, m)?)?;
    m.add_function(wrap_pyfunction!(transfer_import_vdi, m)?)?;
    m.add_function(wrap_pyfunction!(transfer_export_vm, m)?)?;
    m.add_function(wrap_pyfunction!(transfer_import_vm, m)?)?;
    m.add_function(wrap_pyfunction!(transfer_download, m)?)?;
    m.add_function(wrap_pyfunction!(transfer_upload, m)?)?;
    m.add("CHUNK", transfer::CHUNK)?;
    Ok(())
}
