//! Following changes with `event.from`: an iterator of [`Event`]s that keeps the token between
//! calls.
//!
//! ```no_run
//! use std::time::Duration;
//! use xenapi::event::{Events, Operation};
//! use xenapi::{Options, Session};
//!
//! let session = Session::connect(Options::new("https://xen1"), "root", "password")?;
//! for event in Events::new(&session, &["vm"], Duration::from_secs(30)) {
//!     let event = event?;
//!     if event.operation == Operation::Mod {
//!         println!("{} {} changed", event.class, event.reference);
//!     }
//! }
//! # Ok::<(), xenapi::Error>(())
//! ```
//!
//! `event.from` is xapi's; xend 3.x has only `event.register/next/unregister` (generated as
//! `api::Event::register` and so on).

use std::collections::VecDeque;
use std::time::Duration;

use crate::api::EventBatch;
pub use crate::api::EventOperation as Operation;
use crate::{Error, Result, Session, Value};

/// One change: an object of `class` was added, deleted or modified.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: i64,
    /// As sent (xapi: seconds since the epoch with a fraction, `"1700000000.123"`).
    pub timestamp: String,
    /// The class in lowercase, as xapi sends it (`vm`, `host`).
    pub class: String,
    pub operation: Operation,
    /// The object's reference.
    pub reference: String,
    /// The object's record after the change; absent for some deletions. Read it with
    /// [`crate::FromValue`], e.g. `VmRecord::from_value(snapshot)`.
    pub snapshot: Option<Value>,
}

/// Events from `event.from(classes, token, timeout)`, in order.
///
/// As an iterator it blocks until events come (a poll that returns none just polls again); after
/// an error it yields the error and ends: create a new one with [`Events::with_token`] to resume
/// where it stopped (after `EVENTS_LOST`, resume with an empty token). [`Events::poll_once`] is
/// one call, for callers that keep control.
///
/// The server holds each call up to `timeout`; the session's call deadline
/// ([`crate::Options`], 300 s by default) must be longer.
pub struct Events {
    session: Session,
    classes: Vec<String>,
    token: String,
    timeout: Duration,
    queued: VecDeque<Event>,
    failed: bool,
}

impl Events {
    /// Events of `classes` (lowercase class names, `"*"` for all, or `"vm/<ref>"` for one object)
    /// from now on. The first call returns every object of `classes` as an `add`, as xapi does
    /// for an empty token.
    pub fn new(session: &Session, classes: &[&str], timeout: Duration) -> Self {
        Events {
            session: session.clone(),
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
            token: String::new(),
            timeout,
            queued: VecDeque::new(),
            failed: false,
        }
    }

    /// Starts from `token` (from [`Events::token`]) instead of the beginning.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The token of the last successful poll: where the next one starts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How long the server may hold each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// One `event.from` call: the events since the token (maybe none, after `timeout`). Moves
    /// the token on.
    pub fn poll_once(&mut self) -> Result<Vec<Event>> {
        let batch = crate::api::Event::from(
            &self.session,
            &self.classes,
            &self.token,
            self.timeout.as_secs_f64(),
        )?;
        let (events, token) = parse_batch(batch)?;
        self.token = token;
        Ok(events)
    }
}

impl Iterator for Events {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(e) = self.queued.pop_front() {
                return Some(Ok(e));
            }
            if self.failed {
                return None;
            }
            match self.poll_once() {
                Ok(events) => self.queued.extend(events),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn protocol(m: &str) -> Error {
    Error::Protocol(format!("event.from: {m}"))
}

/// The events and token of a batch; a reply without a token cannot be continued from (xapi
/// always sends one), so it is refused.
fn parse_batch(batch: EventBatch) -> Result<(Vec<Event>, String)> {
    if batch.token.is_empty() {
        return Err(protocol("no token in the reply"));
    }
    let events = batch
        .events
        .into_iter()
        .map(|r| Event {
            id: r.id,
            timestamp: r.timestamp.as_str().to_owned(),
            class: r.class,
            operation: r.operation,
            reference: r.ref_,
            snapshot: r.snapshot.filter(|v| *v != Value::Nil),
        })
        .collect();
    Ok((events, batch.token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FromValue;

    #[test]
    fn reads_a_batch() {
        let batch = Value::structure([
            (
                "events",
                Value::Array(vec![Value::structure([
                    ("id", Value::from("42")),
                    ("timestamp", Value::from("1700000000.123")),
                    ("class", Value::from("vm")),
                    ("operation", Value::from("mod")),
                    ("ref", Value::from("OpaqueRef:1")),
                    ("snapshot", Value::structure([("uuid", Value::from("u"))])),
                ])]),
            ),
            (
                "valid_ref_counts",
                Value::structure([("vm", Value::Int(1))]),
            ),
            (
                "token",
                Value::from("00000000000000000042,00000000000000000000"),
            ),
        ]);
        let (events, token) = parse_batch(EventBatch::from_value(batch).unwrap()).unwrap();
        assert_eq!(token, "00000000000000000042,00000000000000000000");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, 42);
        assert_eq!(events[0].operation, Operation::Mod);
        assert_eq!(events[0].reference, "OpaqueRef:1");
        assert!(events[0].snapshot.is_some());
    }

    #[test]
    fn a_batch_without_token_is_a_protocol_error() {
        let batch = EventBatch::from_value(Value::structure([("events", Value::Array(vec![]))]));
        let e = parse_batch(batch.unwrap()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Protocol);
        let e = EventBatch::from_value(Value::structure([
            ("token", Value::from("t")),
            ("events", Value::Array(vec![Value::Int(1)])),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("[0]"), "{e}");
    }
}
