//! `_native.Cache` and `_native.Snapshot`: the core's [`xenapi::cache::Cache`] for Python. The
//! cache and its thread are the core's; records are converted to the dicts `get_record` returns
//! (the same conversion as replies), only when read.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use xenapi::cache::{Cache, CacheOptions, Snapshot};

use crate::{convert, errors, interrupt, PySession};

/// A live object cache over a session (`xenapi_rs.watch` wraps it).
#[pyclass(frozen, module = "xenapi_rs._native", name = "Cache")]
pub struct PyCache {
    /// Shared with the thread of an interrupted `close` and with `xenapi_rs.aio`'s waits.
    pub(crate) inner: Arc<Cache>,
    /// Changes read from the queue but not delivered (their `xenapi_rs.aio` wait was
    /// cancelled): the next read gives them first, in order.
    pub(crate) unread: std::sync::Mutex<std::collections::VecDeque<Py<PyAny>>>,
}

impl PyCache {
    pub(crate) fn new_from(inner: Cache) -> Self {
        PyCache {
            inner: Arc::new(inner),
            unread: Default::default(),
        }
    }

    /// The oldest undelivered change, if any.
    pub(crate) fn take_unread(&self) -> Option<Py<PyAny>> {
        crate::lock(&self.unread).pop_front()
    }

    /// The next change (an undelivered one first), waiting at most `wait` for the queue; no
    /// GIL needed.
    pub(crate) fn read(&self, wait: Duration) -> Option<Read> {
        if let Some(c) = self.take_unread() {
            return Some(Read::Given(c));
        }
        self.inner.next_change(wait).map(Read::Queued)
    }
}

/// A change as [`PyCache::read`] found it.
pub(crate) enum Read {
    /// From the cache's queue.
    Queued(xenapi::cache::Change),
    /// Given back by a cancelled wait, converted already.
    Given(Py<PyAny>),
}

impl Read {
    pub(crate) fn into_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            Read::Queued(c) => change_to_python(py, c),
            Read::Given(c) => Ok(c),
        }
    }
}

/// The cache's options from `watch`'s keywords.
pub(crate) fn cache_options(
    poll_timeout: Option<f64>,
    queue_capacity: Option<usize>,
) -> PyResult<CacheOptions> {
    let mut opts = CacheOptions::default();
    if let Some(t) = poll_timeout {
        opts.poll_timeout = seconds("poll_timeout", t)?;
    }
    if let Some(n) = queue_capacity {
        opts.queue_capacity = n;
    }
    Ok(opts)
}

pub(crate) fn seconds(name: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a number of seconds >= 0")))
}

#[pymethods]
impl PyCache {
    /// Fills the cache (returns once every object is read) and starts following changes.
    #[new]
    #[pyo3(signature = (session, classes, *, poll_timeout=None, queue_capacity=None))]
    fn new(
        py: Python<'_>,
        session: &Bound<'_, PySession>,
        classes: Vec<String>,
        poll_timeout: Option<f64>,
        queue_capacity: Option<usize>,
    ) -> PyResult<Self> {
        let opts = cache_options(poll_timeout, queue_capacity)?;
        let session = session.get().session().clone();
        let logged_in = session.is_logged_in();
        let names: Vec<&str> = classes.iter().map(String::as_str).collect();
        let inner = interrupt::blocking(py, || Cache::with_options(&session, &names, opts))?
            .map_err(|e| errors::to_pyerr(py, e, logged_in))?;
        Ok(PyCache::new_from(inner))
    }

    /// The cache now: a consistent snapshot.
    fn snapshot(&self) -> PySnapshot {
        PySnapshot {
            inner: self.inner.snapshot(),
        }
    }

    /// The classes followed, as the datamodel names them.
    #[getter]
    fn classes(&self) -> Vec<&'static str> {
        self.inner.classes().to_vec()
    }

    /// The next change as `(operation, class, ref, record or None)`, waiting at most `timeout`
    /// seconds (`None`: until the cache closes); `None` on timeout or once closed.
    #[pyo3(signature = (timeout=None))]
    fn next_change(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let wait = match timeout {
            Some(t) => seconds("timeout", t)?,
            None => Duration::from_secs(u32::MAX as u64),
        };
        let deadline = std::time::Instant::now() + wait;
        let change = interrupt::wait(
            py,
            |tick| {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match self.read(left.min(tick)) {
                    Some(c) => Some(Some(c)),
                    None if self.inner.is_closed() || left <= tick => Some(None),
                    None => None,
                }
            },
            || false,
        )?;
        change.map(|c| c.into_python(py)).transpose()
    }

    /// `{"polls", "events", "refetches", "errors", "connected", "last_error"}`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.status();
        let d = PyDict::new(py);
        d.set_item("polls", s.polls)?;
        d.set_item("events", s.events)?;
        d.set_item("refetches", s.refetches)?;
        d.set_item("errors", s.errors)?;
        d.set_item("connected", s.connected)?;
        d.set_item("last_error", s.last_error)?;
        Ok(d)
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Stops following (promptly); reads still see the last state. Ctrl-C ends the wait for
    /// the cache's thread; the closing goes on in the background.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = Arc::clone(&self.inner);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("xenapi-cache-close".into())
            .spawn(move || {
                inner.close();
                let _ = tx.send(());
            })
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        let rx = std::sync::Mutex::new(rx);
        interrupt::wait(
            py,
            |tick| match crate::lock(&rx).recv_timeout(tick) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                _ => Some(()),
            },
            || false,
        )
    }
}

/// A change as `(operation, class, ref, record or None)`.
pub(crate) fn change_to_python(py: Python<'_>, c: xenapi::cache::Change) -> PyResult<Py<PyAny>> {
    let record = match &c.record {
        Some(v) => convert::reply_to_python(py, (**v).clone())?,
        None => py.None(),
    };
    let t = PyTuple::new(
        py,
        [
            c.kind.as_str().into_pyobject(py)?.into_any().unbind(),
            c.class.into_pyobject(py)?.into_any().unbind(),
            c.reference.into_pyobject(py)?.into_any().unbind(),
            record,
        ],
    )?;
    Ok(t.into_any().unbind())
}

impl Drop for PyCache {
    fn drop(&mut self) {
        // Closing may make a call (event.inject) and wait for the thread: without the GIL, as a
        // session's logout on drop, since the server may be Python code in this very process.
        let inner = &self.inner;
        Python::attach(|py| py.detach(|| inner.close()));
    }
}

/// The cache at one moment.
#[pyclass(frozen, module = "xenapi_rs._native", name = "Snapshot")]
pub struct PySnapshot {
    inner: Snapshot,
}

#[pymethods]
impl PySnapshot {
    /// The record of `ref` as `<class>.get_record` returns it, or `None`.
    fn get(&self, py: Python<'_>, class: &str, r: &str) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.value(class, r) {
            Some(v) => Ok(Some(convert::reply_to_python(py, (*v).clone())?)),
            None => Ok(None),
        }
    }

    /// The references of the cached objects of `class`, sorted.
    fn refs<'py>(&self, py: Python<'py>, class: &str) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.refs(class))
    }

    /// Every object of `class`: `{ref: record}`, as `<class>.get_all_records` returns it.
    fn records(&self, py: Python<'_>, class: &str) -> PyResult<Py<PyAny>> {
        let all = xenapi::Value::Struct(
            self.inner
                .values(class)
                .into_iter()
                .map(|(r, v)| (r, (*v).clone()))
                .collect(),
        );
        convert::reply_to_python(py, all)
    }

    fn count(&self, class: &str) -> usize {
        self.inner.len(class)
    }
}
