//! The event log behind `event.from` and the xend-era `event.register/next/unregister`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use xenapi::Value;

use crate::dispatch::Failure;
use crate::shared::Shared;
use crate::state::{int, State};

const KEEP: usize = 10_000;

/// One change to one object.
pub(crate) struct Event {
    pub id: u64,
    pub class: String,
    pub op: &'static str,
    pub r: String,
    /// The last record of a deleted object; `add`/`mod` events carry the current record when
    /// they are delivered, as xapi's do.
    pub snapshot: Option<Value>,
    pub time: f64,
}

#[derive(Default)]
pub(crate) struct EventLog {
    entries: VecDeque<Event>,
    last_id: u64,
}

impl EventLog {
    pub fn push(&mut self, class: &str, op: &'static str, r: &str, snapshot: Option<Value>) {
        self.last_id += 1;
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.entries.push_back(Event {
            id: self.last_id,
            class: class.to_owned(),
            op,
            r: r.to_owned(),
            snapshot,
            time,
        });
        if self.entries.len() > KEEP {
            self.entries.pop_front();
        }
    }

    /// Forgets the history (after the initial pool is built), keeping the ids going.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    fn oldest(&self) -> u64 {
        self.entries
            .front()
            .map(|e| e.id)
            .unwrap_or(self.last_id + 1)
    }

    fn since<'a>(&'a self, after: u64, subs: &'a [String]) -> impl Iterator<Item = &'a Event> {
        self.entries
            .iter()
            .filter(move |e| e.id > after && subs.iter().any(|s| matches(s, &e.class, &e.r)))
    }
}

/// Whether subscription `sub` (`*`, `vm`, `vm/OpaqueRef:…`) covers an event on `class`/`r`.
fn matches(sub: &str, class: &str, r: &str) -> bool {
    if sub == "*" {
        return true;
    }
    match sub.split_once('/') {
        Some((c, obj)) => c.eq_ignore_ascii_case(class) && obj == r,
        None => sub.eq_ignore_ascii_case(class),
    }
}

fn event_value(id: u64, time: f64, class: &str, op: &str, r: &str, snapshot: Value) -> Value {
    Value::structure([
        ("id", int(id as i64)),
        ("timestamp", Value::String(format!("{time:.6}"))),
        ("class", Value::String(class.to_ascii_lowercase())),
        ("operation", Value::String(op.to_owned())),
        ("ref", Value::String(r.to_owned())),
        ("snapshot", snapshot),
    ])
}

fn snapshot(st: &State, e: &Event) -> Value {
    match &e.snapshot {
        Some(v) => v.clone(),
        None => st
            .get(&e.class, &e.r)
            .map(|rec| Value::Struct(rec.clone()))
            .unwrap_or_else(|| Value::Struct(Vec::new())),
    }
}

fn token(id: u64) -> String {
    format!("{id:020}")
}

fn parse_token(t: &str) -> Option<u64> {
    let head = t.split(',').next().unwrap_or("").trim();
    head.parse().ok()
}

/// `event.from(classes, token, timeout)`.
pub(crate) fn from(
    shared: &Shared,
    classes: &[String],
    tok: &str,
    timeout: f64,
) -> Result<Value, Failure> {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    let mut st = shared.lock();
    let counts = |st: &State| {
        let model = crate::datamodel::model();
        let mut out = Vec::new();
        for c in model.classes() {
            if classes
                .iter()
                .any(|s| matches(s.split('/').next().unwrap_or(""), &c.name, ""))
            {
                let n = st.table(&c.name).map(|t| t.len()).unwrap_or(0);
                out.push((c.name.to_ascii_lowercase(), int(n as i64)));
            }
        }
        Value::Struct(out)
    };
    if tok.is_empty() {
        // A new subscriber: every current object of the classes, as `add`.
        let model = crate::datamodel::model();
        let id = st.events.last_id();
        let now = unix_f64();
        let mut events = Vec::new();
        for c in model.classes() {
            if let Some(t) = st.table(&c.name) {
                for (r, rec) in t.iter() {
                    if classes.iter().any(|s| matches(s, &c.name, r)) {
                        events.push(event_value(
                            id,
                            now,
                            &c.name,
                            "add",
                            r,
                            Value::Struct(rec.clone()),
                        ));
                    }
                }
            }
        }
        return Ok(batch(events, counts(&st), id));
    }
    let after =
        parse_token(tok).ok_or_else(|| Failure::new("EVENT_FROM_TOKEN_PARSE_FAILURE", &[tok]))?;
    loop {
        if after + 1 < st.events.oldest() {
            return Err(Failure::new("EVENTS_LOST", &[]));
        }
        let events: Vec<Value> = st
            .events
            .since(after, classes)
            .map(|e| event_value(e.id, e.time, &e.class, e.op, &e.r, snapshot(&st, e)))
            .collect();
        let now = Instant::now();
        if !events.is_empty() || now >= deadline || shared.stopping() {
            let id = st.events.last_id().max(after);
            return Ok(batch(events, counts(&st), id));
        }
        let wait = (deadline - now).min(Duration::from_millis(500));
        st = shared.wait(st, wait);
    }
}

fn batch(events: Vec<Value>, counts: Value, id: u64) -> Value {
    Value::structure([
        ("events", Value::Array(events)),
        ("valid_ref_counts", counts),
        ("token", Value::String(token(id))),
    ])
}

fn unix_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `event.register(classes)`: later `event.next` calls report changes to these classes.
pub(crate) fn register(st: &mut State, session: &str, classes: &[String]) {
    let last = st.events.last_id();
    if let Some(meta) = st.sessions.get_mut(session) {
        if meta.registered.is_empty() {
            meta.next_seen = last;
        }
        for c in classes {
            if !meta.registered.iter().any(|x| x.eq_ignore_ascii_case(c)) {
                meta.registered.push(c.clone());
            }
        }
    }
}

pub(crate) fn unregister(st: &mut State, session: &str, classes: &[String]) {
    if let Some(meta) = st.sessions.get_mut(session) {
        meta.registered
            .retain(|x| !classes.iter().any(|c| c.eq_ignore_ascii_case(x)));
    }
}

/// `event.next()`: blocks until a registered class changes (at most `max_wait`; then `[]`).
pub(crate) fn next(shared: &Shared, session: &str, max_wait: Duration) -> Result<Value, Failure> {
    let deadline = Instant::now() + max_wait;
    let mut st = shared.lock();
    loop {
        let Some(meta) = st.sessions.get(session) else {
            return Err(Failure::new("SESSION_INVALID", &[session]));
        };
        if meta.registered.is_empty() {
            return Err(Failure::new("SESSION_NOT_REGISTERED", &[session]));
        }
        let subs = meta.registered.clone();
        let seen = meta.next_seen;
        let events: Vec<Value> = st
            .events
            .since(seen, &subs)
            .map(|e| event_value(e.id, e.time, &e.class, e.op, &e.r, snapshot(&st, e)))
            .collect();
        let now = Instant::now();
        if !events.is_empty() || now >= deadline || shared.stopping() {
            let last = st.events.last_id();
            if let Some(meta) = st.sessions.get_mut(session) {
                meta.next_seen = last;
            }
            return Ok(Value::Array(events));
        }
        let wait = (deadline - now).min(Duration::from_millis(500));
        st = shared.wait(st, wait);
    }
}
