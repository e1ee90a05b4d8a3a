//! What every connection thread shares: the store, its condition variable, settings, faults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::dialect::Dialect;
use crate::faults::Faults;
use crate::state::State;

/// Settings fixed at start.
pub(crate) struct Settings {
    pub dialect: Dialect,
    /// Serve JSON-RPC on `/jsonrpc` (xapi dialect only).
    pub jsonrpc: bool,
    /// Serve XML-RPC.
    pub xmlrpc: bool,
    pub user: String,
    pub password: String,
    pub session_timeout: Duration,
    /// How long `event.next` blocks before answering `[]`.
    pub event_next_wait: Duration,
    /// How long an `Async.*` task stays `pending` before it runs.
    pub task_delay: Duration,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    pub settings: Settings,
    pub faults: Faults,
    stopping: AtomicBool,
}

impl Shared {
    pub fn new(state: State, settings: Settings, faults: Faults) -> Self {
        Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            settings,
            faults,
            stopping: AtomicBool::new(false),
        }
    }

    /// The store. A panic in another thread does not lock everyone out (the poison is ignored:
    /// every mutation leaves the store consistent at each step).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the threads blocked in `event.from`/`event.next`.
    pub fn notify(&self) {
        self.changed.notify_all();
    }

    pub fn wait<'a>(&self, g: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(g, d) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.notify();
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}
