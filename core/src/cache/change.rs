//! What subscribers are told: one [`Change`] per applied event, in order, through bounded queues.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{FromValue, Result, Value};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new object (the record is its first).
    Add,
    /// An object changed (the record is the new one).
    Mod,
    /// An object went away (the record is its last, when the server or the cache had it).
    Del,
    /// The cache fetched everything again (after `EVENTS_LOST`, a refused token, or a lost xend
    /// registration): changes between the last one seen and now were not told one by one; read
    /// the cache again. `class` and `reference` are empty.
    Refetched,
    /// This subscriber fell behind by more than its queue holds: older changes were dropped;
    /// read the cache again. `class` and `reference` are empty.
    Missed,
}

impl ChangeKind {
    /// `add`, `mod`, `del` (as the XenAPI names them), `refetched`, `missed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Add => "add",
            ChangeKind::Mod => "mod",
            ChangeKind::Del => "del",
            ChangeKind::Refetched => "refetched",
            ChangeKind::Missed => "missed",
        }
    }
}

/// One change to the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    /// The class as the datamodel names it (`VM`, `host`), or empty.
    pub class: String,
    /// The object's reference, or empty.
    pub reference: String,
    /// The record after the change (for `Del`, the last one), shared with the cache.
    pub record: Option<Arc<Value>>,
}

impl Change {
    pub(crate) fn marker(kind: ChangeKind) -> Change {
        Change {
            kind,
            class: String::new(),
            reference: String::new(),
            record: None,
        }
    }

    /// The record as a typed record, e.g. `change.record_as::<VmRecord>()`.
    pub fn record_as<R: FromValue>(&self) -> Option<Result<R>> {
        self.record
            .as_ref()
            .map(|v| crate::convert::from_value_in(Value::clone(v), "a cached record"))
    }
}

struct State {
    items: VecDeque<Change>,
    closed: bool,
}

/// A bounded queue of changes: the cache pushes, one subscriber pops.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
}

impl Queue {
    pub fn new(capacity: usize) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `changes`; a queue that would hold more than its capacity drops what it holds and
    /// starts with a [`ChangeKind::Missed`] marker instead (memory stays bounded).
    pub fn push_all(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut st = self.lock();
        if st.closed {
            return;
        }
        for c in changes {
            if st.items.len() >= self.capacity {
                st.items.clear();
                st.items.push_back(Change::marker(ChangeKind::Missed));
            }
            st.items.push_back(c.clone());
        }
        drop(st);
        self.ready.notify_all();
    }

    /// The next change, waiting at most `timeout`; `None` on timeout or once closed and empty.
    pub fn pop(&self, timeout: Duration) -> Option<Change> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.lock();
        loop {
            if let Some(c) = st.items.pop_front() {
                return Some(c);
            }
            if st.closed {
                return None;
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if d <= now => return None,
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            st = match self.ready.wait_timeout(st, wait) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Ends the queue: what it holds can still be popped, then `pop` answers `None` at once.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// A subscriber's changes, from when it subscribed ([`super::Cache::subscribe`]), in the order
/// the cache applied them. As an iterator it blocks until the next change and ends when the cache
/// closes.
pub struct Changes {
    pub(crate) queue: Arc<Queue>,
}

impl Changes {
    /// The next change, waiting at most `timeout`; `None` on timeout or when the cache is closed
    /// and every change was read.
    pub fn next_timeout(&self, timeout: Duration) -> Option<Change> {
        self.queue.pop(timeout)
    }

    /// Whether the cache has closed (changes already queued can still be read).
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

impl Iterator for Changes {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        loop {
            if let Some(c) = self.queue.pop(Duration::from_secs(3600)) {
                return Some(c);
            }
            if self.queue.is_closed() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(r: &str) -> Change {
        Change {
            kind: ChangeKind::Mod,
            class: "VM".into(),
            reference: r.into(),
            record: None,
        }
    }

    #[test]
    fn keeps_order_and_bounds_memory() {
        let q = Queue::new(3);
        q.push_all(&[change("a"), change("b")]);
        assert_eq!(q.pop(Duration::ZERO).unwrap().reference, "a");
        q.push_all(&[change("c"), change("d"), change("e"), change("f")]);
        // b c d filled it: dropped for a Missed marker, then e f.
        let kinds: Vec<(ChangeKind, String)> = std::iter::from_fn(|| q.pop(Duration::ZERO))
            .map(|c| (c.kind, c.reference))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ChangeKind::Missed, String::new()),
                (ChangeKind::Mod, "e".into()),
                (ChangeKind::Mod, "f".into())
            ]
        );
        assert!(q.pop(Duration::from_millis(20)).is_none());
        q.push_all(&[change("g")]);
        q.close();
        assert_eq!(q.pop(Duration::ZERO).unwrap().reference, "g");
        assert!(q.pop(Duration::from_secs(5)).is_none(), "closed: at once");
    }
}
