//! The background thread: polls, applies each batch in order under the store lock, tells the
//! subscribers, and recovers (fetch again, log in again, reconnect with bounded backoff).

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use super::change::{Change, ChangeKind, Queue};
use super::source::{Full, Polled, RawEvent, Source};
use super::store::{Snapshot, Store};
use super::{CacheOptions, Status};
use crate::api::EventOperation;
use crate::Session;

/// What the cache and its thread share.
pub(crate) struct Inner {
    store: Mutex<Arc<Store>>,
    queues: Mutex<Vec<Weak<Queue>>>,
    stop: Mutex<bool>,
    stopped: Condvar,
    status: Mutex<Status>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub fn new(full: Full) -> Arc<Inner> {
        let inner = Arc::new(Inner {
            store: Mutex::new(Arc::new(Store::default())),
            queues: Mutex::new(Vec::new()),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
            status: Mutex::new(Status::default()),
        });
        inner.replace(full);
        inner
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            store: Arc::clone(&lock(&self.store)),
        }
    }

    pub fn add_queue(&self, q: &Arc<Queue>) {
        let mut qs = lock(&self.queues);
        qs.retain(|w| w.strong_count() > 0);
        qs.push(Arc::downgrade(q));
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    fn tell(&self, changes: &[Change]) {
        let queues: Vec<Arc<Queue>> = lock(&self.queues)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for q in queues {
            q.push_all(changes);
        }
    }

    /// Everything replaced by `full`.
    fn replace(&self, full: Full) {
        let mut store = Store::default();
        for (class, objects) in full {
            store.classes.entry(class).or_default();
            for (r, v) in objects {
                store.put(class, &r, v);
            }
        }
        *lock(&self.store) = Arc::new(store);
    }

    /// Applies `events` in order, then tells the subscribers.
    fn apply(&self, events: Vec<RawEvent>) {
        if events.is_empty() {
            return;
        }
        let mut changes = Vec::with_capacity(events.len());
        {
            let mut guard = lock(&self.store);
            let store = Arc::make_mut(&mut guard);
            for e in events {
                let (kind, record) = match (e.op, e.snapshot) {
                    (EventOperation::Del, snapshot) => {
                        let last = store.remove(e.class, &e.reference);
                        (ChangeKind::Del, snapshot.map(Arc::new).or(last))
                    }
                    (_, Some(snapshot)) => {
                        // Told as the cache sees it: a mod of an object it did not have adds it.
                        let existed = store
                            .classes
                            .get(e.class)
                            .is_some_and(|o| o.contains_key(&e.reference));
                        let kind = if existed {
                            ChangeKind::Mod
                        } else {
                            ChangeKind::Add
                        };
                        (kind, Some(store.put(e.class, &e.reference, snapshot)))
                    }
                    // A mod without a snapshot tells nothing to keep.
                    (_, None) => continue,
                };
                changes.push(Change {
                    kind,
                    class: e.class.to_owned(),
                    reference: e.reference,
                    record,
                });
            }
        }
        lock(&self.status).events += changes.len() as u64;
        self.tell(&changes);
    }

    pub fn request_stop(&self) {
        *lock(&self.stop) = true;
        self.stopped.notify_all();
    }

    pub fn stopping(&self) -> bool {
        *lock(&self.stop)
    }

    /// Sleeps `d` unless asked to stop first; returns whether to stop.
    fn sleep(&self, d: Duration) -> bool {
        let guard = lock(&self.stop);
        let (guard, _) = self
            .stopped
            .wait_timeout_while(guard, d, |stop| !*stop)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    pub fn close_queues(&self) {
        for q in lock(&self.queues).iter().filter_map(Weak::upgrade) {
            q.close();
        }
    }
}

/// The thread's loop, until asked to stop.
pub(crate) fn run(session: Session, mut source: Source, inner: Arc<Inner>, opts: CacheOptions) {
    let mut backoff = opts.backoff_min;
    while !inner.stopping() {
        let polled = source.poll(&session);
        if inner.stopping() {
            break;
        }
        match polled {
            Ok(Polled::Events(events)) => {
                backoff = opts.backoff_min;
                {
                    let mut st = lock(&inner.status);
                    st.polls += 1;
                    st.connected = true;
                }
                inner.apply(events);
            }
            Ok(Polled::Refetched(full)) => {
                backoff = opts.backoff_min;
                inner.replace(full);
                {
                    let mut st = lock(&inner.status);
                    st.refetches += 1;
                    st.connected = true;
                }
                inner.tell(&[Change::marker(ChangeKind::Refetched)]);
            }
            Err(e) => {
                {
                    let mut st = lock(&inner.status);
                    st.errors += 1;
                    st.connected = false;
                    st.last_error = Some(e.to_string());
                }
                if inner.sleep(backoff) {
                    break;
                }
                backoff = (backoff * 2).min(opts.backoff_max);
            }
        }
    }
}
