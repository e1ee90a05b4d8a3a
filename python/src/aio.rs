//! Native support of `xenapi_rs.aio`: work that completes an asyncio future instead of blocking
//! its caller. API calls run on the core's worker threads ([`xenapi::Session::call_async`]);
//! what the core does not offer asynchronously (login, logout, task waits, the cache) runs on a
//! thread of its own. Either way the network is waited for outside the GIL.
//!
//! Outcomes reach the loop's thread through the loop's [`Completions`]: a worker queues the
//! outcome as Rust data and, for the first one since the last drain, writes a byte to a socket
//! whose other end the loop watches (`loop.add_reader`, or `sock_recv` on loops without it).
//! Worker threads never take the GIL: they do not compete with the loop for it (a stalled loop),
//! and none can be inside the interpreter when it finalizes (CPython ends such a thread with
//! `pthread_exit`, which unwinds through Rust frames and crashes). The drain, on the loop's
//! thread, converts the outcomes and sets the futures, a few milliseconds' worth at a time, so
//! that a burst of replies never holds up the loop's other callbacks.
//!
//! A call and a cache wait return a `Cancel`, and a task wait takes one: the Python side fires
//! it when the awaiting task is cancelled, which ends the request (the core drops its
//! connection) or the wait. A login, a logout or a cache's start or close, once begun, runs to
//! its end. Nothing here raises on a worker thread: when the loop is gone or the future already
//! cancelled, the outcome is dropped.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use xenapi::{CallOptions, Cancel};

use crate::cache::{cache_options, seconds, PyCache};
use crate::{convert, errors, lock, tracing, Login, PyCancel, PySession};

/// How long one drain converts outcomes before it lets the loop run other callbacks.
const DRAIN_SLICE: Duration = Duration::from_millis(2);

/// What the loop's thread does with an outcome: given the future and whether the awaiting side
/// gave up already (the future is done), settle it, or put the outcome back where it came from.
type Settle = Box<dyn FnOnce(Python<'_>, &Bound<'_, PyAny>, bool) + Send>;

/// An outcome waiting for its loop's thread.
struct Pending {
    future: Py<PyAny>,
    settle: Settle,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Pending>,
    /// The loop was woken (or a drain is running) since the last time the queue was found
    /// empty: no need to wake it again.
    woken: bool,
}

/// The socket end a worker writes a byte to, to wake the loop.
#[cfg(unix)]
type WakeSocket = std::os::unix::net::UnixStream;
#[cfg(windows)]
type WakeSocket = std::net::TcpStream;

struct Shared {
    queue: Mutex<Queue>,
    wake: WakeSocket,
}

impl Shared {
    /// Queues an outcome (on any thread, without the GIL); the first since the last drain
    /// wakes the loop.
    fn push(&self, pending: Pending) {
        let wake = {
            let mut q = lock(&self.queue);
            q.pending.push_back(pending);
            !std::mem::replace(&mut q.woken, true)
        };
        if wake {
            // Non-blocking; a full buffer already holds a wake-up, and a closed peer means
            // the loop is gone (its outcomes with it).
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// One event loop's outcomes on their way to its thread (`xenapi_rs.aio` keeps one per loop).
#[pyclass(frozen, module = "xenapi_rs._native", name = "Completions")]
pub struct Completions {
    shared: Arc<Shared>,
}

#[cfg(unix)]
fn wake_socket(socket: i64) -> std::io::Result<WakeSocket> {
    use std::os::fd::{BorrowedFd, RawFd};
    let fd = RawFd::try_from(socket)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a descriptor"))?;
    if fd < 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a descriptor",
        ));
    }
    // SAFETY: the caller's socket object is open for the duration of this call (Python holds
    // it); the borrow ends here, with a duplicate of our own.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    Ok(WakeSocket::from(owned))
}

#[cfg(windows)]
fn wake_socket(socket: i64) -> std::io::Result<WakeSocket> {
    use std::os::windows::io::{BorrowedSocket, RawSocket};
    let raw = RawSocket::try_from(socket)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a socket"))?;
    // SAFETY: as on Unix: the caller's socket is open during this call; we keep a duplicate.
    let owned = unsafe { BorrowedSocket::borrow_raw(raw) }.try_clone_to_owned()?;
    Ok(WakeSocket::from(owned))
}

#[pymethods]
impl Completions {
    /// `Completions(wake_fileno)`: a duplicate of the socket `wake_fileno` is written to when
    /// outcomes are waiting; the loop watches the socket's peer and then calls [`drain`].
    #[new]
    fn new(wake_fileno: i64) -> PyResult<Self> {
        let wake = wake_socket(wake_fileno)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|e| PyRuntimeError::new_err(format!("cannot use the wake-up socket: {e}")))?;
        Ok(Completions {
            shared: Arc::new(Shared {
                queue: Mutex::default(),
                wake,
            }),
        })
    }

    /// Settles the waiting outcomes' futures, for at most [`DRAIN_SLICE`]; true when outcomes
    /// are left (the caller schedules another drain after the loop's other callbacks).
    fn drain(&self, py: Python<'_>) -> bool {
        let start = Instant::now();
        loop {
            let next = {
                let mut q = lock(&self.shared.queue);
                match q.pending.pop_front() {
                    Some(p) => p,
                    None => {
                        q.woken = false;
                        return false;
                    }
                }
            };
            let future = next.future.bind(py);
            (next.settle)(py, future, is_done(future));
            if start.elapsed() >= DRAIN_SLICE {
                let mut q = lock(&self.shared.queue);
                if q.pending.is_empty() {
                    q.woken = false;
                    return false;
                }
                return true;
            }
        }
    }
}

/// True when the awaiting side gave up (or the future cannot be asked).
fn is_done(future: &Bound<'_, PyAny>) -> bool {
    future
        .call_method0("done")
        .and_then(|d| d.is_truthy())
        .unwrap_or(true)
}

/// Sets `future`'s result or exception (the drain found it not done).
fn set(py: Python<'_>, future: &Bound<'_, PyAny>, outcome: PyResult<Py<PyAny>>) {
    let _ = match outcome {
        Ok(v) => future.call_method1("set_result", (v,)),
        Err(e) => future.call_method1("set_exception", (e.into_value(py),)),
    };
}

/// Runs `work` on a thread of its own; `finish` turns its value into the future's outcome on
/// the loop's thread.
fn spawn<T: Send + 'static>(
    completions: &Completions,
    future: Py<PyAny>,
    work: impl FnOnce() -> T + Send + 'static,
    finish: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
) -> PyResult<()> {
    let shared = Arc::clone(&completions.shared);
    std::thread::Builder::new()
        .name("xenapi-aio".into())
        .spawn(move || {
            let value = work();
            shared.push(Pending {
                future,
                settle: Box::new(move |py, future, done| {
                    if !done {
                        set(py, future, finish(py, value));
                    }
                }),
            });
        })
        .map(drop)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))
}

/// `method(*args)` with the session reference first, as `Session.xenapi` calls it; settles
/// `future` (of the loop `completions` serves) with its result or exception.
#[pyfunction]
fn aio_call(
    py: Python<'_>,
    session: &PySession,
    method: &str,
    args: &Bound<'_, PyTuple>,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<PyCancel> {
    let params = convert::args_to_values(args)?;
    let cancel = Cancel::new();
    let mut options = CallOptions::new().cancel(cancel.clone());
    if let Some(tp) = tracing::traceparent(py) {
        if let Ok(o) = options.clone().traceparent(&tp) {
            options = o;
        }
    }
    let view = session.session().with_call_options(&options);
    let observer = view.clone();
    let gave_up = cancel.clone();
    let shared = Arc::clone(&completions.shared);
    view.call_async(method, params, move |result| {
        if gave_up.is_cancelled() {
            // The awaiting task was cancelled: nobody reads this outcome. The future is
            // released without the GIL (PyO3 defers it).
            drop(future);
            return;
        }
        let logged_in = observer.is_logged_in();
        shared.push(Pending {
            future,
            settle: Box::new(move |py, future, done| {
                if done {
                    return;
                }
                let outcome = match result {
                    Ok(v) => convert::reply_to_python(py, v),
                    Err(e) => Err(errors::to_pyerr(py, e, logged_in)),
                };
                set(py, future, outcome);
            }),
        });
    });
    Ok(PyCancel { inner: cancel })
}

/// `login_with_password(*params)`, as the blocking session's.
#[pyfunction]
fn aio_login(
    py: Python<'_>,
    session: Py<PySession>,
    params: &Bound<'_, PyTuple>,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<()> {
    let login = Login::from_args(params)?;
    let view = session_view(py, &session);
    spawn(
        completions,
        future,
        move || {
            login
                .run(&view)
                .map_err(|e| (e, login.logged_in_if_refused()))
        },
        move |py, r| {
            session.get().forget_api_version();
            match r {
                Ok(()) => Ok(py.None()),
                Err((e, logged_in)) => Err(errors::to_pyerr(py, e, logged_in)),
            }
        },
    )
}

/// The session with the caller's trace context.
fn session_view(py: Python<'_>, session: &Py<PySession>) -> xenapi::Session {
    let base = session.get().session();
    match tracing::traceparent(py).and_then(|tp| CallOptions::new().traceparent(&tp).ok()) {
        Some(o) => base.with_call_options(&o),
        None => base.clone(),
    }
}

/// Logs out (harmless when not logged in).
#[pyfunction]
fn aio_logout(
    py: Python<'_>,
    session: Py<PySession>,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<()> {
    let view = session_view(py, &session);
    spawn(
        completions,
        future,
        move || view.logout(),
        |py, r| {
            r.map(|()| py.None())
                .map_err(|e| errors::to_pyerr(py, e, true))
        },
    )
}

/// Waits for `task` as `Session.wait_task` does; `cancel` (fired when the awaiting task is
/// cancelled) cancels and destroys the task.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn aio_wait_task(
    py: Python<'_>,
    session: Py<PySession>,
    task: String,
    timeout: f64,
    cancel: &PyCancel,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<()> {
    let d = Duration::try_from_secs_f64(timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("timeout must be a positive number of seconds")
        })?;
    let view = session_view(py, &session);
    let cancel = cancel.inner.clone();
    spawn(
        completions,
        future,
        move || {
            let task = xenapi::Ref::new(task);
            let r = xenapi::task::wait_cancellable(&view, &task, d, &cancel);
            (r, view.is_logged_in())
        },
        |py, (r, logged_in)| match r {
            Ok(v) => convert::reply_to_python(py, v),
            Err(e) => Err(errors::to_pyerr(py, e, logged_in)),
        },
    )
}

/// A filled `_native.Cache` over `session`, as `xenapi_rs.watch` makes it.
#[pyfunction]
#[pyo3(signature = (session, classes, poll_timeout, queue_capacity, completions, future))]
fn aio_watch(
    session: &PySession,
    classes: Vec<String>,
    poll_timeout: Option<f64>,
    queue_capacity: Option<usize>,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<()> {
    let opts = cache_options(poll_timeout, queue_capacity)?;
    let session = session.session().clone();
    spawn(
        completions,
        future,
        move || {
            let names: Vec<&str> = classes.iter().map(String::as_str).collect();
            let r = xenapi::cache::Cache::with_options(&session, &names, opts);
            (r, session.is_logged_in())
        },
        |py, (r, logged_in)| match r {
            Ok(c) => Ok(Py::new(py, PyCache::new_from(c))?.into_any()),
            Err(e) => Err(errors::to_pyerr(py, e, logged_in)),
        },
    )
}

/// The next change of `cache` (`None` on timeout or once closed), as `Cache.next_change`; a
/// change read after the wait was cancelled is given back to the cache for the next read.
#[pyfunction]
#[pyo3(signature = (cache, timeout, completions, future))]
fn aio_next_change(
    cache: Py<PyCache>,
    timeout: Option<f64>,
    completions: &Completions,
    future: Py<PyAny>,
) -> PyResult<PyCancel> {
    let deadline = match timeout {
        Some(t) => Some(Instant::now() + seconds("timeout", t)?),
        None => None,
    };
    let cancel = Cancel::new();
    let stop = cancel.clone();
    let shared = Arc::clone(&completions.shared);
    std::thread::Builder::new()
        .name("xenapi-aio".into())
        .spawn(move || {
            // In ticks, so that a cancelled wait ends its thread soon.
            let this = cache.get();
            let change = loop {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let tick = left.map_or(xenapi::call::TICK, |l| l.min(xenapi::call::TICK));
                // Each tick also looks at the changes a cancelled wait gave back.
                if let Some(c) = this.read(tick) {
                    break Some(c);
                }
                if stop.is_cancelled() || this.inner.is_closed() || left.is_some_and(|l| l <= tick)
                {
                    break None;
                }
            };
            if change.is_none() && stop.is_cancelled() {
                return;
            }
            shared.push(Pending {
                future,
                settle: Box::new(move |py, future, done| {
                    let Some(change) = change else {
                        if !done {
                            set(py, future, Ok(py.None()));
                        }
                        return;
                    };
                    let Ok(c) = change.into_python(py) else {
                        return;
                    };
                    if stop.is_cancelled() || done {
                        // Nobody awaits it any more: the next read gets it.
                        lock(&cache.get().unread).push_back(c);
                    } else {
                        set(py, future, Ok(c));
                    }
                }),
            });
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    Ok(PyCancel { inner: cancel })
}

/// `Cache.close()` without blocking the loop.
#[pyfunction]
fn aio_cache_close(cache: &PyCache, completions: &Completions, future: Py<PyAny>) -> PyResult<()> {
    let inner = std::sync::Arc::clone(&cache.inner);
    spawn(
        completions,
        future,
        move || inner.close(),
        |py, ()| Ok(py.None()),
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Completions>()?;
    m.add_function(wrap_pyfunction!(aio_call, m)?)?;
    m.add_function(wrap_pyfunction!(aio_login, m)?)?;
    m.add_function(wrap_pyfunction!(aio_logout, m)?)?;
    m.add_function(wrap_pyfunction!(aio_wait_task, m)?)?;
    m.add_function(wrap_pyfunction!(aio_watch, m)?)?;
    m.add_function(wrap_pyfunction!(aio_next_change, m)?)?;
    m.add_function(wrap_pyfunction!(aio_cache_close, m)?)?;
    Ok(())
}
