//! Ctrl-C during blocking work: every native entry that releases the GIL and waits goes through
//! [`blocking`] (core calls, which look at the thread's interrupt check every
//! [`xenapi::call::TICK`]) or [`wait`] (waits the core does not tick itself: a queue, a helper
//! thread). Both run Python's signal handlers on the main thread while they wait; the exception
//! a handler raised (normally `KeyboardInterrupt`) is what the caller sees once the work has
//! stopped, and the interrupted call's connection is dropped by the core, so that the session
//! stays usable.
//!
//! Only the main thread gets signals (Python runs handlers there alone): elsewhere no check is
//! installed and a blocking call costs nothing more.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;

thread_local! {
    /// Whether this OS thread is Python's main thread, found once per thread.
    static MAIN: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether the calling thread is the one Python runs signal handlers on.
fn on_main_thread(py: Python<'_>) -> bool {
    if let Some(known) = MAIN.with(Cell::get) {
        return known;
    }
    static IDENT: PyOnceLock<(u64, Py<PyCFunction>)> = PyOnceLock::new();
    let found = (|| -> PyResult<bool> {
        let (main, get_ident) = IDENT.get_or_try_init(py, || -> PyResult<_> {
            let threading = py.import("threading")?;
            let main: u64 = threading
                .call_method0("main_thread")?
                .getattr("ident")?
                .extract()?;
            let get_ident = py
                .import("_thread")?
                .getattr("get_ident")?
                .cast_into::<PyCFunction>()?
                .unbind();
            Ok((main, get_ident))
        })?;
        Ok(get_ident.bind(py).call0()?.extract::<u64>()? == *main)
    })()
    // Not knowing, check: the check itself is harmless off the main thread.
    .unwrap_or(true);
    MAIN.with(|c| c.set(Some(found)));
    found
}

/// The exception a signal handler raised while we waited, kept for the caller.
#[derive(Default)]
struct Pending(RefCell<Option<PyErr>>);

impl Pending {
    /// Runs the pending signal handlers (taking the GIL); `true` once one has raised.
    fn check(&self) -> bool {
        if self.0.borrow().is_some() {
            return true;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *self.0.borrow_mut() = Some(e);
                true
            }
        })
    }

    fn into_result<T>(self, value: T) -> PyResult<T> {
        match self.0.into_inner() {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// Runs `f` (core calls) with the GIL released. On the main thread, the core asks Python's
/// signal handlers every tick while it waits; when one raises, the call stops with
/// `Error::Cancelled` (its connection dropped) and that exception is raised instead of
/// whatever `f` returned.
pub(crate) fn blocking<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    if !on_main_thread(py) {
        return Ok(py.detach(f));
    }
    let pending = Pending::default();
    let check = || pending.check();
    let value = xenapi::call::with_interrupt_check(&check, || py.detach(f));
    pending.into_result(value)
}

/// Waits for `step` to give a value, calling it with the GIL released for at most
/// [`xenapi::call::TICK`] each time, and running Python's signal handlers between calls (main
/// thread). When a handler raises, `on_interrupt` runs once and says whether to keep waiting:
/// `false` raises the exception at once (the work waited for ends on its own), `true` waits for
/// `step`'s value (`on_interrupt` told the work to stop) and then raises it.
pub(crate) fn wait<T: Send>(
    py: Python<'_>,
    mut step: impl FnMut(Duration) -> Option<T> + Send,
    on_interrupt: impl FnOnce() -> bool,
) -> PyResult<T> {
    let main = on_main_thread(py);
    let tick = xenapi::call::TICK;
    let mut raised: Option<PyErr> = None;
    let mut on_interrupt = Some(on_interrupt);
    loop {
        if let Some(v) = py.detach(|| step(tick)) {
            return match raised {
                Some(e) => Err(e),
                None => Ok(v),
            };
        }
        if main && raised.is_none() {
            if let Err(e) = py.check_signals() {
                if !on_interrupt.take().is_some_and(|f| f()) {
                    return Err(e);
                }
                raised = Some(e);
            }
        }
    }
}
