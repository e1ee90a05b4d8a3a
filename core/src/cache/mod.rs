//! A live object cache: the pool's objects of the classes asked for, read without a server call
//! and kept current by a background thread that follows the server's events.
//!
//! ```no_run
//! use std::time::Duration;
//! use xenapi::api::{Vm, VmPowerState};
//! use xenapi::cache::{Cache, ChangeKind};
//! use xenapi::{Options, Session};
//!
//! let session = Session::connect(Options::new("https://xs1"), "root", "password")?;
//! let cache = Cache::new(&session, &["VM", "host"])?; // returns once full
//! for (vm, record) in cache.records::<Vm>()? {
//!     if record.power_state == VmPowerState::Running {
//!         println!("{} {}", vm, record.name_label);
//!     }
//! }
//! while let Some(change) = cache.next_change(Duration::from_secs(10)) {
//!     if change.kind == ChangeKind::Mod && change.class == "VM" {
//!         println!("{} changed", change.reference);
//!     }
//! }
//! cache.close();
//! # Ok::<(), xenapi::Error>(())
//! ```
//!
//! How it follows the server:
//! - xapi: a first `event.from(classes, "", timeout)` returns every object as an `add` with its
//!   record and a token; later calls with the token return the `add`, `mod` and `del` events
//!   since, applied in order. On `EVENTS_LOST` or a token the server refuses
//!   (`EVENT_FROM_TOKEN_PARSE_FAILURE`) the cache reads everything again and tells subscribers
//!   [`ChangeKind::Refetched`].
//! - xend 3.x, which has no `event.from`: `event.register(classes)`, `<class>.get_all_records`,
//!   then `event.next`; an event without a record is read with `<class>.get_record`.
//!   `EVENTS_LOST`, or `SESSION_NOT_REGISTERED` after a re-login, registers and reads again.
//! - `SESSION_INVALID`: the [`Session`] logs in again with its credentials and the call goes
//!   on; a failed call (connection dropped, server restarting) is tried again after a backoff
//!   that doubles from [`CacheOptions::backoff_min`] to [`CacheOptions::backoff_max`], from the
//!   same token: nothing is missed. [`Cache::status`] counts the errors and tells the last.
//!
//! The cache keeps the current record of each object and nothing else (no history); each
//! subscriber's queue holds at most [`CacheOptions::queue_capacity`] changes, past which it drops
//! them for one [`ChangeKind::Missed`].

mod change;
mod follow;
mod source;
mod store;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use change::{Change, ChangeKind, Changes};
pub use store::Snapshot;

use crate::api::HasRecord;
use crate::{Ref, Result, Session, Value};
use change::Queue;
use follow::Inner;
use source::{Classes, Source};

/// How the cache follows the server.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// How long the server may hold each `event.from` (default 30 s); must be shorter than the
    /// session's call deadline ([`crate::Options::timeout`]).
    pub poll_timeout: Duration,
    /// The most changes a subscriber's queue holds (default 10,000).
    pub queue_capacity: usize,
    /// The first wait after a failed call (default 100 ms), doubled after each failure ...
    pub backoff_min: Duration,
    /// ... up to this (default 10 s).
    pub backoff_max: Duration,
    /// How long [`Cache::close`] waits for the thread (default 2 s); a thread still in a call
    /// (xend's `event.next`) then ends on its own when the call returns.
    pub close_wait: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            poll_timeout: Duration::from_secs(30),
            queue_capacity: 10_000,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            close_wait: Duration::from_secs(2),
        }
    }
}

/// How the following goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
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
    /// The last failure, as the error says it (no secrets: errors never hold them).
    pub last_error: Option<String>,
}

/// The live cache. Share it by reference (it is `Send + Sync`); [`Cache::close`] or dropping it
/// stops the thread.
pub struct Cache {
    inner: Arc<Inner>,
    session: Session,
    changes: Arc<Queue>,
    classes: Vec<&'static str>,
    can_wake: bool,
    opts: CacheOptions,
    thread: Mutex<Option<(JoinHandle<()>, mpsc::Receiver<()>)>>,
}

impl Cache {
    /// A cache of `classes` (datamodel names in any case: `"VM"`, `"host"`; `"*"` or none for
    /// every class, on xapi) with default [`CacheOptions`]; returns once every object is read.
    pub fn new(session: &Session, classes: &[&str]) -> Result<Cache> {
        Cache::with_options(session, classes, CacheOptions::default())
    }

    /// [`Cache::new`] with options.
    pub fn with_options(session: &Session, classes: &[&str], opts: CacheOptions) -> Result<Cache> {
        let classes = Classes::parse(classes)?;
        let names = classes.names();
        let (source, full) = Source::fill(session, classes, opts.poll_timeout)?;
        let inner = Inner::new(full);
        let changes = Queue::new(opts.queue_capacity);
        inner.add_queue(&changes);
        let can_wake = source.can_wake();
        let (done_tx, done_rx) = mpsc::channel();
        let thread = {
            let (session, inner, opts) = (session.clone(), Arc::clone(&inner), opts.clone());
            std::thread::Builder::new()
                .name("xenapi-cache".into())
                .spawn(move || {
                    follow::run(session, source, inner, opts);
                    let _ = done_tx.send(());
                })
                .map_err(|e| crate::Error::InvalidArgument(format!("cannot start a thread: {e}")))?
        };
        Ok(Cache {
            inner,
            session: session.clone(),
            changes,
            classes: names,
            can_wake,
            opts,
            thread: Mutex::new(Some((thread, done_rx))),
        })
    }

    /// The cache now, consistent across classes.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    /// The typed record of `r`: `cache.get::<Vm>(&vm)?` is an `Option<VmRecord>`.
    pub fn get<C: HasRecord>(&self, r: &Ref<C>) -> Result<Option<C::Record>> {
        self.snapshot().get(r)
    }

    /// Every cached object of class `C`, typed: `cache.records::<Vm>()?`.
    pub fn records<C: HasRecord>(&self) -> Result<std::collections::HashMap<Ref<C>, C::Record>> {
        self.snapshot().records::<C>()
    }

    /// The untyped record of `r` (the struct `<class>.get_record` returns).
    pub fn value(&self, class: &str, r: &str) -> Option<Arc<Value>> {
        self.snapshot().value(class, r)
    }

    /// The references of the cached objects of `class`, sorted.
    pub fn refs(&self, class: &str) -> Vec<String> {
        self.snapshot().refs(class)
    }

    /// The classes followed, as the datamodel names them.
    pub fn classes(&self) -> &[&'static str] {
        &self.classes
    }

    /// The next change since the cache was full (the cache's own queue: read it from one place),
    /// waiting at most `timeout`; `None` on timeout or once closed.
    pub fn next_change(&self, timeout: Duration) -> Option<Change> {
        self.changes.pop(timeout)
    }

    /// A new subscriber: every change from now on, in order, in a queue of its own.
    pub fn subscribe(&self) -> Changes {
        let queue = Queue::new(self.opts.queue_capacity);
        if self.inner.stopping() {
            queue.close();
        }
        self.inner.add_queue(&queue);
        Changes { queue }
    }

    /// How the following goes: polls, changes applied, refetches, errors.
    pub fn status(&self) -> Status {
        self.inner.status()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.stopping()
    }

    /// Stops the thread and ends every subscriber's changes. On xapi the waiting `event.from`
    /// is ended at once with `event.inject` on a cached object; the thread is waited for at
    /// most [`CacheOptions::close_wait`]. Closing twice is harmless; reads still work on the
    /// last state.
    pub fn close(&self) {
        let Some((thread, done)) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
        else {
            return;
        };
        self.inner.request_stop();
        if self.can_wake {
            let snapshot = self.snapshot();
            let target = snapshot
                .classes()
                .into_iter()
                .find_map(|c| snapshot.refs(c).into_iter().next().map(|r| (c, r)));
            if let Some((class, r)) = target {
                let _ = crate::api::Event::inject(&self.session, &class.to_ascii_lowercase(), &r);
            }
        }
        if done.recv_timeout(self.opts.close_wait).is_ok() {
            let _ = thread.join();
        }
        self.inner.close_queues();
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("classes", &self.classes)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
