//! Fault injection: what the next XML-RPC replies do instead of answering normally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A way for a reply to go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without replying.
    Reset,
    /// Answer `HTTP/1.1 500` with an HTML page.
    Http500,
    /// Answer `200 OK` with a body that is not XML-RPC.
    Garbage,
    /// Send the headers and half the body, then close.
    Truncate,
    /// Send the reply one byte at a time, every drip interval (2 s by default).
    Drip,
}

impl Fault {
    /// Parses `reset`, `http500`, `garbage`, `truncate`, `drip`.
    pub fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "reset" => Fault::Reset,
            "http500" => Fault::Http500,
            "garbage" => Fault::Garbage,
            "truncate" => Fault::Truncate,
            "drip" => Fault::Drip,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Http500 => "http500",
            Fault::Garbage => "garbage",
            Fault::Truncate => "truncate",
            Fault::Drip => "drip",
        }
    }
}

/// The armed faults and the reply delay.
pub(crate) struct Faults {
    /// The fault and how many more replies it hits (`u64::MAX`: until cleared).
    armed: Mutex<Option<(Fault, u64)>>,
    delay_ms: AtomicU64,
    pub drip_interval: Duration,
}

impl Faults {
    pub fn new(delay_ms: u64, drip_interval: Duration) -> Self {
        Faults {
            armed: Mutex::new(None),
            delay_ms: AtomicU64::new(delay_ms),
            drip_interval,
        }
    }

    /// Arms `fault` for the next `count` replies (`None` clears).
    pub fn set(&self, fault: Option<Fault>, count: u64) {
        let mut a = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        *a = fault.filter(|_| count > 0).map(|f| (f, count));
    }

    /// The fault for this reply, if one is armed (counting it down).
    pub fn take(&self) -> Option<Fault> {
        let mut a = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let (f, n) = (*a)?;
        *a = if n == u64::MAX || n > 1 {
            Some((f, if n == u64::MAX { n } else { n - 1 }))
        } else {
            None
        };
        Some(f)
    }

    pub fn set_delay_ms(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }
}
