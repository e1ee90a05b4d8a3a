//! What every connection thread shares: the store, its condition variable, settings, faults.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::dialect::Dialect;
use crate::faults::Faults;
use crate::server::Listener;
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
    /// Serving HTTPS (a transfer's redirect names the scheme).
    pub tls: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    pub settings: Settings,
    pub faults: Faults,
    stopping: AtomicBool,
    /// Every host's listener, the first coordinator's first (set once they are bound).
    listeners: Mutex<Vec<Arc<Listener>>>,
    /// RPC calls being answered, and the most there were at once.
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Counts a call in flight until dropped.
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub fn new(state: State, settings: Settings, faults: Faults) -> Self {
        Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            settings,
            faults,
            stopping: AtomicBool::new(false),
            listeners: Mutex::new(Vec::new()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }

    pub fn set_listeners(&self, l: Vec<Arc<Listener>>) {
        *self.listeners.lock().unwrap_or_else(|e| e.into_inner()) = l;
    }

    pub fn listeners(&self) -> Vec<Arc<Listener>> {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `host` is a pool member (not the coordinator) now.
    pub fn is_member(&self, host: &str) -> bool {
        self.lock().coordinator != host
    }

    /// Marks an RPC call in flight until the guard drops.
    pub fn call_started(&self) -> InFlight<'_> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        InFlight(&self.in_flight)
    }

    /// The most RPC calls answered at once since the start (or the last reset).
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
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
