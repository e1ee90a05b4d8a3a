//! The idle connections of one server, for reuse by the next call.
//!
//! A connection comes back only after a call that read its reply whole, on a connection the
//! server keeps open. It is handed out again without any probe while it has been idle for less
//! than [`KEEP_IDLE`]; an older one is closed instead (servers close idle connections, xapi
//! among them). A pooled connection the server closed all the same is what the retry rule of
//! [`super::Transport`] is for.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::conn::Conn;

/// Idle connections kept, at most: one per thread of a 64-thread caller sharing a session, so
/// that a busy pool does not open (and the server accept) a connection per call.
pub(super) const POOL_SIZE: usize = 64;

/// How long an idle connection is trusted to be open.
pub(super) const KEEP_IDLE: Duration = Duration::from_secs(15);

#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// The most recently used idle connection young enough to trust, if any.
    pub(super) fn take(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // The last one in is the youngest; anything older than it that is too old goes too.
        let c = idle.pop()?;
        if now.duration_since(c.used) < KEEP_IDLE {
            return Some(c);
        }
        let stale = std::mem::take(&mut *idle);
        drop(idle);
        drop(stale);
        drop(c);
        None
    }

    /// Gives a connection back after a complete exchange.
    pub(super) fn put(&self, mut c: Conn) {
        c.used = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(c);
        }
    }
}
