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
    /// The next `event.from` with a token (or `event.next`) answers `EVENTS_LOST` (a test
    /// control: as if the server had dropped the history the token points into).
    lose_next: bool,
    /// Part of every token; bumping it refuses every token issued before (a test control: as a
    /// restarted xapi refuses the tokens of the one before).
    epoch: u64,
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

    /// Makes the next `event.from` with a token, or `event.next`, answer `EVENTS_LOST`.
    pub fn lose_next(&mut self) {
        self.lose_next = true;
    }

    /// Refuses every token issued so far (`EVENT_FROM_TOKEN_PARSE_FAILURE`, as xapi answers a
    /// token it cannot use).
    pub fn invalidate_tokens(&mut self) {
        self.epoch += 1;
    }

    /// The token of event `id` in the current epoch.
    fn token(&self, id: u64) -> String {
        format!("{id:020},{:020}", self.epoch)
    }

    /// The event id of `t`, if it is a token of the current epoch (a token without an epoch part
    /// is of epoch 0).
    fn parse_token(&self, t: &str) -> Option<u64> {
        let mut parts = t.split(',');
        let id = parts.next().unwrap_or("").trim().parse().ok()?;
        let epoch = match parts.next() {
            Some(e) => e.trim().parse().ok()?,
            None => 0,
        };
        (epoch == self.epoch).then_some(id)
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
        let token = st.events.token(id);
        return Ok(batch(events, counts(&st), token));
    }
    let after = st
        .events
        .parse_token(tok)
        .ok_or_else(|| Failure::new("EVENT_FROM_TOKEN_PARSE_FAILURE", &[tok]))?;
    loop {
        if after + 1 < st.events.oldest() || std::mem::take(&mut st.events.lose_next) {
            return Err(Failure::new("EVENTS_LOST", &[]));
        }
        // Tokens refused while this call waited end it too.
        if st.events.parse_token(tok).is_none() {
            return Err(Failure::new("EVENT_FROM_TOKEN_PARSE_FAILURE", &[tok]));
        }
        let events: Vec<Value> = st
            .events
            .since(after, classes)
            .map(|e| event_value(e.id, e.time, &e.class, e.op, &e.r, snapshot(&st, e)))
            .collect();
        let now = Instant::now();
        if !events.is_empty() || now >= deadline || shared.stopping() {
            let id = st.events.last_id().max(after);
            let token = st.events.token(id);
            return Ok(batch(events, counts(&st), token));
        }
        let wait = (deadline - now).min(Duration::from_millis(500));
        st = shared.wait(st, wait);
    }
}

fn batch(events: Vec<Value>, counts: Value, token: String) -> Value {
    Value::structure([
        ("events", Value::Array(events)),
        ("valid_ref_counts", counts),
        ("token", Value::String(token)),
    ])
}

/// `event.inject(class, ref)`: a `mod` event for the object, which wakes the `event.from` calls
/// that follow its class (xapi's way to end a long poll early); returns the event's token.
pub(crate) fn inject(st: &mut State, class: &str, r: &str) -> Result<Value, Failure> {
    let model = crate::datamodel::model();
    let Some(c) = model
        .classes()
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(class))
    else {
        return Err(Failure::new("HANDLE_INVALID", &[class, r]));
    };
    if st.get(&c.name, r).is_none() {
        return Err(Failure::new("HANDLE_INVALID", &[&c.name, r]));
    }
    let name = c.name.clone();
    st.events.push(&name, "mod", r, None);
    let id = st.events.last_id();
    Ok(Value::String(st.events.token(id)))
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
        if std::mem::take(&mut st.events.lose_next) {
            let last = st.events.last_id();
            if let Some(meta) = st.sessions.get_mut(session) {
                meta.next_seen = last;
            }
            return Err(Failure::new("EVENTS_LOST", &[]));
        }
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
