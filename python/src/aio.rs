//! Native support of `xenapi_rs.aio`: work that completes an asyncio future instead of blocking
//! its caller. API calls run on the core's worker threads ([`xenapi::Session::call_async`]);
//! what the core does not offer asynchronously (login, logout, task waits, the cache) runs on a
//! thread of its own. Either way the network is waited for outside the GIL, and the outcome is
//! handed to the loop's thread with `loop.call_soon_threadsafe(...)`.
//!
//! API calls complete through the loop's [`Completions`]: a worker queues the reply as it came
//! (a `Value`, no GIL needed) and takes the GIL only to schedule one drain for many replies; the
//! drain, on the loop's thread, converts the replies and sets the futures, a few milliseconds'
//! worth at a time, so that a burst of replies never holds up the loop's other callbacks.
//!
//! A call and a cache wait return a `Cancel`, and a task wait takes one: the Python side fires
//! it when the awaiting task is cancelled, which ends the request (the core drops its
//! connection) or the wait. A login, a logout or a cache's start or close, once begun, runs to
//! its end. Nothing here raises on a worker thread: when the loop is closed or the future
//! already cancelled, the outcome is dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use xenapi::{CallOptions, Cancel, Value};

use crate::cache::{cache_options, seconds, PyCache};
use crate::{convert, errors, lock, tracing, Login, PyCancel, PySession};

/// `xenapi_rs.aio._complete(future, ok, value, undelivered)`.
static COMPLETE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Where an outcome goes: an asyncio future and its loop.
struct Target {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

impl Target {
    /// Hands `outcome` to the future on the loop's thread (`undelivered(value)` runs there if
    /// the future is done by then). Never raises.
    fn settle(self, py: Python<'_>, outcome: PyResult<Py<PyAny>>, undelivered: Option<Py<PyAny>>) {
        let (ok, value) = match outcome {
            Ok(v) => (true, v),
            Err(e) => (false, e.into_value(py).into_any()),
        };
        let Ok(complete) = COMPLETE.import(py, "xenapi_rs.aio", "_complete") else {
            return;
        };
        // A closed loop raises RuntimeError: the awaiting side is gone, so is the outcome.
        let _ = self.event_loop.call_method1(
            py,
            "call_soon_threadsafe",
            (complete, self.future, ok, value, undelivered),
        );
    }
}

/// Runs `work` on a thread of its own, then `finish` with the GIL, and settles `target`.
fn spawn<T: Send + 'static>(
    target: Target,
    work: impl FnOnce() -> T + Send + 'static,
    finish: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
) -> PyResult<()> {
    std::thread::Builder::new()
        .name("xenapi-aio".into())
        .spawn(move || {
            let value = work();
            Python::attach(|py| {
                let outcome = finish(py, value);
                target.settle(py, outcome, None);
            });
        })
        .map(drop)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))
}

/// How long one drain converts replies before it lets the loop run other callbacks.
const DRAIN_SLICE: Duration = Duration::from_millis(2);

/// A call's reply, waiting for its loop's thread.
struct Reply {
    future: Py<PyAny>,
    result: xenapi::Result<Value>,
    logged_in: bool,
}

#[derive(Default)]
struct Queue {
    replies: std::collections::VecDeque<Reply>,
    /// A drain is scheduled on the loop (or running): no need to schedule another.
    scheduled: bool,
}

/// The replies of one event loop's calls on their way to its thread (`xenapi_rs.aio` keeps one
/// per loop).
#[pyclass(frozen, module = "xenapi_rs._native", name = "Completions")]
pub struct Completions {
    queue: Arc<Mutex<Queue>>,
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> Self {
        Completions {
            queue: Arc::default(),
        }
    }
}

/// One scheduled drain of a [`Completions`] (a callable for `call_soon_threadsafe`).
#[pyclass(frozen, module = "xenapi_rs._native")]
struct Drain {
    queue: Arc<Mutex<Queue>>,
}

#[pymethods]
impl Drain {
    /// Settles the queued replies' futures for at most [`DRAIN_SLICE`], then schedules itself
    /// again (`loop.call_soon`) if replies are left.
    fn __call__(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let start = Instant::now();
        loop {
            let next = {
                let mut q = lock(&slf.get().queue);
                match q.replies.pop_front() {
                    Some(r) => r,
                    None => {
                        q.scheduled = false;
                        return;
                    }
                }
            };
            settle_reply(py, next);
            if start.elapsed() >= DRAIN_SLICE {
                break;
            }
        }
        // More to do: after the loop's other ready callbacks.
        let future = {
            let mut q = lock(&slf.get().queue);
            match q.replies.front() {
                Some(r) => r.future.clone_ref(py),
                None => {
                    q.scheduled = false;
                    return;
                }
            }
        };
        let scheduled = future
            .bind(py)
            .call_method0("get_loop")
            .and_then(|l| l.call_method1("call_soon", (slf,)));
        if scheduled.is_err() {
            drop_all(py, &slf.get().queue);
        }
    }
}

/// Converts a reply and sets its future (unless the awaiting side gave up).
fn settle_reply(py: Python<'_>, r: Reply) {
    let future = r.future.bind(py);
    if future
        .call_method0("done")
        .and_then(|d| d.is_truthy())
        .unwrap_or(true)
    {
        return;
    }
    let _ = match r.result {
        Ok(v) => match convert::reply_to_python(py, v) {
            Ok(v) => future.call_method1("set_result", (v,)),
            Err(e) => future.call_method1("set_exception", (e.into_value(py),)),
        },
        Err(e) => future.call_method1(
            "set_exception",
            (errors::to_pyerr(py, e, r.logged_in).into_value(py),),
        ),
    };
}

/// Forgets the queued replies (their loop is closed), with the GIL held so that their futures
/// are released at once.
fn drop_all(_py: Python<'_>, queue: &Mutex<Queue>) {
    let replies = {
        let mut q = lock(queue);
        q.scheduled = false;
        std::mem::take(&mut q.replies)
    };
    drop(replies);
}

/// Queues a reply (on a worker thread, without the GIL); the first one since the last drain
/// schedules a drain on the future's loop.
fn queue_reply(queue: &Arc<Mutex<Queue>>, reply: Reply) {
    let schedule = {
        let mut q = lock(queue);
        q.replies.push_back(reply);
        !std::mem::replace(&mut q.scheduled, true)
    };
    if !schedule {
        return;
    }
    Python::attach(|py| {
        let future = lock(queue).replies.front().map(|r| r.future.clone_ref(py));
        let Some(future) = future else {
            lock(queue).scheduled = false;
            return;
        };
        let drain = Drain {
            queue: Arc::clone(queue),
        };
        let scheduled = Py::new(py, drain).and_then(|d| {
            future
                .bind(py)
                .call_method0("get_loop")?
                .call_method1("call_soon_threadsafe", (d,))
        });
        // A closed loop: nobody will read these replies.
        if scheduled.is_err() {
            drop_all(py, queue);
        }
    });
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
    let queue = Arc::clone(&completions.queue);
    view.call_async(method, params, move |result| {
        if gave_up.is_cancelled() {
            // The awaiting task was cancelled: nobody reads this outcome.
            // Released without the GIL (PyO3 defers it): the interpreter may be exiting.
            drop(future);
            return;
        }
        let reply = Reply {
            future,
            result,
            logged_in: observer.is_logged_in(),
        };
        queue_reply(&queue, reply);
    });
    Ok(PyCancel { inner: cancel })
}

/// `login_with_password(*params)`, as the blocking session's.
#[pyfunction]
fn aio_login(
    py: Python<'_>,
    session: Py<PySession>,
    params: &Bound<'_, PyTuple>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<()> {
    let login = Login::from_args(params)?;
    let view = session_view(py, &session);
    spawn(
        Target { event_loop, future },
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
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<()> {
    let view = session_view(py, &session);
    spawn(
        Target { event_loop, future },
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
fn aio_wait_task(
    py: Python<'_>,
    session: Py<PySession>,
    task: String,
    timeout: f64,
    cancel: &PyCancel,
    event_loop: Py<PyAny>,
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
        Target { event_loop, future },
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
#[pyo3(signature = (session, classes, poll_timeout, queue_capacity, event_loop, future))]
fn aio_watch(
    session: &PySession,
    classes: Vec<String>,
    poll_timeout: Option<f64>,
    queue_capacity: Option<usize>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<()> {
    let opts = cache_options(poll_timeout, queue_capacity)?;
    let session = session.session().clone();
    spawn(
        Target { event_loop, future },
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
#[pyo3(signature = (cache, timeout, event_loop, future))]
fn aio_next_change(
    cache: Py<PyCache>,
    timeout: Option<f64>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<PyCancel> {
    let target = Target { event_loop, future };
    let deadline = match timeout {
        Some(t) => Some(Instant::now() + seconds("timeout", t)?),
        None => None,
    };
    let cancel = Cancel::new();
    let stop = cancel.clone();
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
            Python::attach(|py| {
                let outcome = match change {
                    Some(c) => c.into_python(py),
                    None if stop.is_cancelled() => return,
                    None => Ok(py.None()),
                };
                let give_back = cache.bind(py).getattr("_unread").ok().map(Bound::unbind);
                match outcome {
                    Ok(c) if stop.is_cancelled() => crate::lock(&cache.get().unread).push_back(c),
                    outcome => target.settle(py, outcome, give_back),
                }
            });
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    Ok(PyCancel { inner: cancel })
}

/// `Cache.close()` without blocking the loop.
#[pyfunction]
fn aio_cache_close(cache: &PyCache, event_loop: Py<PyAny>, future: Py<PyAny>) -> PyResult<()> {
    let inner = std::sync::Arc::clone(&cache.inner);
    spawn(
        Target { event_loop, future },
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
