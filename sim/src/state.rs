//! The object store: one table of records per class, kept in wire form (ints as strings, refs in
//! the dialect's form), so a reply is a clone and an encode. Every change goes through
//! [`State::add`], [`State::modify`] or [`State::remove`], which record an event.

use std::collections::HashMap;
use std::time::Instant;

use xenapi::{DateTime, Value};

use crate::datamodel::{self, Ty};
use crate::dialect::Dialect;
use crate::events::EventLog;

/// A record: struct members in datamodel field order.
pub(crate) type Record = Vec<(String, Value)>;

/// The records of one class, in creation order.
#[derive(Default)]
pub(crate) struct Table {
    order: Vec<String>,
    map: HashMap<String, Record>,
}

impl Table {
    pub fn get(&self, r: &str) -> Option<&Record> {
        self.map.get(r)
    }
    pub fn refs(&self) -> &[String] {
        &self.order
    }
    pub fn len(&self) -> usize {
        self.order.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.order
            .iter()
            .filter_map(|r| self.map.get(r).map(|rec| (r, rec)))
    }
}

/// Member `name` of a record.
pub(crate) fn field<'a>(rec: &'a Record, name: &str) -> Option<&'a Value> {
    rec.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Sets member `name` (appending it when absent).
pub(crate) fn set_field(rec: &mut Record, name: &str, v: Value) {
    match rec.iter_mut().find(|(k, _)| k == name) {
        Some((_, slot)) => *slot = v,
        None => rec.push((name.to_owned(), v)),
    }
}

pub(crate) fn str_field<'a>(rec: &'a Record, name: &str) -> &'a str {
    field(rec, name).and_then(Value::as_str).unwrap_or("")
}

/// An int64 in wire form: a string of digits.
pub(crate) fn int(i: i64) -> Value {
    Value::String(i.to_string())
}

/// A small deterministic PRNG (splitmix64) for UUIDs and moving metrics.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// splitmix64's finaliser: a well-spread hash of `z`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What the server knows about a live session beyond its record.
pub(crate) struct SessionMeta {
    pub user: String,
    pub originator: String,
    pub last_active: Instant,
    /// Event classes registered with `event.register` and the last event id delivered by `next`.
    pub registered: Vec<String>,
    pub next_seen: u64,
    /// From `slave_local_login_with_password`: a pool member serves it itself.
    pub local: bool,
}

/// Counters for `GET /sim/stats`.
#[derive(Default, Clone, Copy)]
pub(crate) struct Stats {
    pub calls: u64,
    pub logins: u64,
    pub logouts: u64,
}

pub(crate) struct State {
    pub dialect: Dialect,
    tables: HashMap<String, Table>,
    pub events: EventLog,
    pub sessions: HashMap<String, SessionMeta>,
    pub log: Vec<String>,
    pub dmesg: Vec<String>,
    pub rng: Rng,
    pub next_domid: i64,
    pub stats: Stats,
    /// The pool coordinator's host ref.
    pub coordinator: String,
    /// Where the coordinator listens (`HOST_IS_SLAVE` names it).
    pub coordinator_addr: String,
    pub started: Instant,
    /// The second the moving metrics were last brought up to date.
    pub metrics_second: i64,
    /// Hosts disabled with `host.disable(auto_enable=false)`: they stay disabled across a
    /// reboot (xapi keeps the flag in its local database, `host_auto_enable`).
    pub no_auto_enable: Vec<String>,
    /// `Config::old_metrics`: removed fields live, as before xapi 6.1.
    pub old_metrics: bool,
    /// Disk content, by VDI uuid (crate::disks).
    pub disks: std::sync::Arc<crate::disks::Disks>,
}

impl State {
    pub fn new(dialect: Dialect, seed: u64) -> Self {
        State {
            dialect,
            tables: HashMap::new(),
            events: EventLog::default(),
            sessions: HashMap::new(),
            log: Vec::new(),
            dmesg: Vec::new(),
            rng: Rng::new(seed),
            next_domid: 1,
            stats: Stats::default(),
            coordinator: String::new(),
            coordinator_addr: String::new(),
            started: Instant::now(),
            metrics_second: 0,
            no_auto_enable: Vec::new(),
            old_metrics: false,
            disks: std::sync::Arc::new(crate::disks::Disks::temp()),
        }
    }

    pub fn table(&self, class: &str) -> Option<&Table> {
        self.tables.get(class)
    }

    pub fn get(&self, class: &str, r: &str) -> Option<&Record> {
        self.tables.get(class)?.get(r)
    }

    /// A fresh record of `class` with every datamodel field at its type's default, and `uuid`.
    pub fn blank(&mut self, class: &str) -> (String, Record) {
        let uuid = self.rng.uuid();
        let r = self.dialect.make_ref(&uuid);
        let mut rec = Record::new();
        if let Some(c) = datamodel::model().class(class) {
            for f in &c.fields {
                rec.push((f.name.clone(), default_value(&f.ty, self.dialect)));
            }
        }
        set_field(&mut rec, "uuid", Value::String(uuid));
        // Defaults the datamodel declares that are not their enum's first value
        // (ocaml/idl/datamodel.ml: VDI.on_boot `~default_value:(Some (VEnum "persist"))`).
        if class == "VDI" {
            set_field(&mut rec, "on_boot", Value::String("persist".to_owned()));
        }
        (r, rec)
    }

    pub fn add(&mut self, class: &str, r: String, rec: Record) {
        self.events.push(class, "add", &r, None);
        let t = self.tables.entry(class.to_owned()).or_default();
        if t.map.insert(r.clone(), rec).is_none() {
            t.order.push(r);
        }
    }

    /// Applies `f` to the record, records a `mod` event; `None` when there is no such object.
    pub fn modify<T>(
        &mut self,
        class: &str,
        r: &str,
        f: impl FnOnce(&mut Record) -> T,
    ) -> Option<T> {
        let rec = self.tables.get_mut(class)?.map.get_mut(r)?;
        let out = f(rec);
        self.events.push(class, "mod", r, None);
        Some(out)
    }

    /// Changes a record without an event (metrics that move on their own).
    pub fn touch(&mut self, class: &str, r: &str, f: impl FnOnce(&mut Record)) {
        if let Some(rec) = self.tables.get_mut(class).and_then(|t| t.map.get_mut(r)) {
            f(rec);
        }
    }

    pub fn remove(&mut self, class: &str, r: &str) -> Option<Record> {
        let t = self.tables.get_mut(class)?;
        let rec = t.map.remove(r)?;
        t.order.retain(|x| x != r);
        self.events
            .push(class, "del", r, Some(Value::Struct(rec.clone())));
        Some(rec)
    }

    /// Appends a line to `host.get_log`, with a timestamp.
    pub fn log(&mut self, line: impl AsRef<str>) {
        let t = DateTime::now();
        self.log.push(format!("[{}] {}", t.as_str(), line.as_ref()));
        if self.log.len() > 10_000 {
            self.log.drain(..1_000);
        }
    }

    /// Appends a line to the Xen console ring (`host.dmesg`).
    pub fn dmesg(&mut self, line: impl AsRef<str>) {
        let secs = self.started.elapsed().as_secs_f64() + 12.0;
        self.dmesg
            .push(format!("(XEN) [{secs:12.6}] {}", line.as_ref()));
        if self.dmesg.len() > 2_000 {
            self.dmesg.drain(..200);
        }
    }
}

/// The wire value a field of type `ty` has before anything is known.
pub(crate) fn default_value(ty: &Ty, dialect: Dialect) -> Value {
    match ty {
        Ty::String | Ty::Option(_) | Ty::Void => Value::String(String::new()),
        Ty::Int => int(0),
        Ty::Float => Value::Double(0.0),
        Ty::Bool => Value::Bool(false),
        Ty::DateTime => Value::DateTime(DateTime::from_unix(0)),
        Ty::Ref(_) => Value::String(dialect.null_ref().to_owned()),
        Ty::Enum(name) => Value::String(datamodel::model().enum_default(name).to_owned()),
        Ty::Set(_) => Value::Array(Vec::new()),
        Ty::Map(..) | Ty::Record(_) | Ty::Any => Value::Struct(Vec::new()),
    }
}
