//! Where changes come from: xapi's `event.from` with a token, or xend's `event.register` and
//! `event.next` (xend 3.x has no `event.from`), plus `get_all_records` where events carry no
//! snapshot.

use std::collections::HashMap;
use std::time::Duration;

use crate::api::{self, EventOperation};
use crate::error::codes;
use crate::event::Events;
use crate::{Dialect, Error, Result, Session, Value};

/// One event, its class named as the datamodel does.
pub(crate) struct RawEvent {
    pub class: &'static str,
    pub op: EventOperation,
    pub reference: String,
    pub snapshot: Option<Value>,
}

/// Every object, as a fill or a refetch reads them.
pub(crate) type Full = HashMap<&'static str, Vec<(String, Value)>>;

/// What a poll found: events to apply in order, or a reason to fetch everything again.
pub(crate) enum Polled {
    Events(Vec<RawEvent>),
    /// `EVENTS_LOST`, a refused token, a lost registration: the events since the last poll are
    /// gone; everything was read again.
    Refetched(Full),
}

/// The datamodel name of `class` in any case (`vm` is `VM`), if this client knows the class.
pub(crate) fn canonical(class: &str) -> Option<&'static str> {
    api::CLASSES
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(class))
}

/// The classes followed: datamodel names, or every class (`*`) on xapi.
#[derive(Clone, Debug)]
pub(crate) enum Classes {
    All,
    Named(Vec<&'static str>),
}

impl Classes {
    pub fn parse(classes: &[&str]) -> Result<Classes> {
        if classes.is_empty() || classes.contains(&"*") {
            return Ok(Classes::All);
        }
        let mut named = Vec::new();
        for c in classes {
            let name = canonical(c).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the cache cannot follow {c:?}: not a class of the XenAPI datamodel"
                ))
            })?;
            if !named.contains(&name) {
                named.push(name);
            }
        }
        Ok(Classes::Named(named))
    }

    /// `event.from`'s subscription: lowercase class names, or `*`.
    fn wire(&self) -> Vec<String> {
        match self {
            Classes::All => vec!["*".to_owned()],
            Classes::Named(n) => n.iter().map(|c| c.to_ascii_lowercase()).collect(),
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Classes::All => api::CLASSES.to_vec(),
            Classes::Named(n) => n.clone(),
        }
    }
}

/// The state of one way of following the server.
pub(crate) enum Source {
    /// xapi: `event.from` and its token.
    From { events: Events, classes: Classes },
    /// xend: registered for `classes`; `event.next` reports changes.
    Next { classes: Vec<&'static str> },
}

fn is_refused_token(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(codes::EVENTS_LOST) | Some(codes::EVENT_FROM_TOKEN_PARSE_FAILURE)
    )
}

impl Source {
    /// Subscribes and reads every object of `classes`: `event.from` with an empty token on
    /// xapi; `event.register` then `get_all_records` per class on xend (or on a server that does
    /// not know `event.from`).
    pub fn fill(session: &Session, classes: Classes, poll: Duration) -> Result<(Source, Full)> {
        if session.dialect() != Dialect::Xend {
            let wire = classes.wire();
            let wire: Vec<&str> = wire.iter().map(String::as_str).collect();
            let mut events = Events::new(session, &wire, poll);
            match events.poll_once() {
                Ok(batch) => {
                    let mut full = Full::new();
                    for e in batch {
                        if let (Some(class), Some(snapshot)) = (canonical(&e.class), e.snapshot) {
                            full.entry(class).or_default().push((e.reference, snapshot));
                        }
                    }
                    if let Classes::Named(n) = &classes {
                        for c in n {
                            full.entry(c).or_default();
                        }
                    }
                    return Ok((Source::From { events, classes }, full));
                }
                Err(e) if e.code() == Some(codes::MESSAGE_METHOD_UNKNOWN) => {}
                Err(e) => return Err(e),
            }
        }
        let Classes::Named(names) = classes else {
            return Err(Error::InvalidArgument(
                "xend has no event.from: name the classes to follow (not \"*\")".into(),
            ));
        };
        let mut source = Source::Next { classes: names };
        let full = source.register_and_read(session)?;
        Ok((source, full))
    }

    fn register_and_read(&mut self, session: &Session) -> Result<Full> {
        let Source::Next { classes } = self else {
            unreachable!("xend only")
        };
        let names: Vec<String> = classes.iter().map(|c| (*c).to_owned()).collect();
        api::Event::register(session, &names)?;
        read_all(session, classes)
    }

    /// The next changes; waits for some up to the poll timeout (xapi) or as long as the server
    /// holds `event.next` (xend).
    pub fn poll(&mut self, session: &Session) -> Result<Polled> {
        match self {
            Source::From { events, classes } => match events.poll_once() {
                Ok(batch) => Ok(Polled::Events(
                    batch
                        .into_iter()
                        .filter_map(|e| {
                            Some(RawEvent {
                                class: canonical(&e.class)?,
                                op: e.operation,
                                reference: e.reference,
                                snapshot: e.snapshot,
                            })
                        })
                        .collect(),
                )),
                Err(e) if is_refused_token(&e) => {
                    let poll = events.timeout();
                    let (fresh, full) = Source::fill(session, classes.clone(), poll)?;
                    *self = fresh;
                    Ok(Polled::Refetched(full))
                }
                Err(e) => Err(e),
            },
            Source::Next { classes } => match api::Event::next(session) {
                Ok(batch) => {
                    let mut out = Vec::with_capacity(batch.len());
                    for e in batch {
                        let Some(class) = canonical(&e.class) else {
                            continue;
                        };
                        if !classes.contains(&class) {
                            continue;
                        }
                        let snapshot = match (&e.operation, e.snapshot) {
                            (_, Some(s)) if s != Value::Nil => Some(s),
                            (EventOperation::Del, _) => None,
                            // xend's events name the object only: read it.
                            _ => read_one(session, class, &e.ref_)?,
                        };
                        let op = match (&e.operation, &snapshot) {
                            (EventOperation::Del, _) | (_, None) => EventOperation::Del,
                            (op, _) => op.clone(),
                        };
                        out.push(RawEvent {
                            class,
                            op,
                            reference: e.ref_,
                            snapshot,
                        });
                    }
                    Ok(Polled::Events(out))
                }
                // Lost events, or a new session (after a re-login) that is not registered.
                Err(e)
                    if matches!(
                        e.code(),
                        Some(codes::EVENTS_LOST) | Some(codes::SESSION_NOT_REGISTERED)
                    ) =>
                {
                    Ok(Polled::Refetched(self.register_and_read(session)?))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// A class and object whose `event.inject` ends the waiting `event.from` (xapi only).
    pub fn can_wake(&self) -> bool {
        matches!(self, Source::From { .. })
    }
}

/// `<class>.get_all_records` for each class.
fn read_all(session: &Session, classes: &[&'static str]) -> Result<Full> {
    let mut full = Full::new();
    for class in classes {
        let all = session.call(&format!("{class}.get_all_records"), vec![])?;
        let Value::Struct(members) = all else {
            return Err(Error::Protocol(format!(
                "{class}.get_all_records returned a {} instead of a struct",
                all.type_name()
            )));
        };
        full.insert(class, members);
    }
    Ok(full)
}

/// `<class>.get_record(r)`; `None` when the object is gone.
fn read_one(session: &Session, class: &str, r: &str) -> Result<Option<Value>> {
    match session.call(&format!("{class}.get_record"), vec![r.into()]) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(codes::HANDLE_INVALID) => Ok(None),
        Err(e) => Err(e),
    }
}
