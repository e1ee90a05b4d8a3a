//! The pool as JSON, for `--state FILE` (load at start) and `--save FILE` (write on exit):
//!
//! ```json
//! {"format": "xenapi-sim inventory 1",
//!  "objects": {"VM": [{"ref": "OpaqueRef:…", "uuid": "…", "name_label": "vm01", …}, …], …}}
//! ```
//!
//! Every member is optional but `ref`: a missing field takes its type's default (a missing
//! `uuid` a fresh one), an int may be a JSON number or a string of digits, a datetime is
//! xapi's `20260101T00:00:00Z`. Classes the datamodel does not have, and members a class does
//! not have, are refused, so that a typo does not silently give a different pool. Sessions and
//! tasks are not part of an inventory.

use std::io;
use std::path::Path;

use serde_json::{Map, Number, Value as Json};
use xenapi::Value;

use crate::datamodel::{self, ClassExt};
use crate::generic;
use crate::objects::{i64_of, s};
use crate::state::{set_field, str_field, State};

const FORMAT: &str = "xenapi-sim inventory 1";
const SKIP: &[&str] = &["session", "task", "event"];

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::String(String::new()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        Json::Object(o) => Value::Struct(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil | Value::Base64(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Double(d) => Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::DateTime(d) => Json::String(d.as_str().to_owned()),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Struct(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                o.insert(k.clone(), to_json(v));
            }
            Json::Object(o)
        }
    }
}

/// Replaces the (empty) store with the inventory in `path`.
pub(crate) fn load(st: &mut State, path: &Path) -> io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let doc: Json = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{}: not JSON: {e}", path.display())))?;
    if let Some(f) = doc.get("format").and_then(Json::as_str) {
        if f != FORMAT {
            return Err(bad(format!(
                "{}: format {f:?} is not {FORMAT:?}",
                path.display()
            )));
        }
    }
    let objects = doc
        .get("objects")
        .and_then(Json::as_object)
        .ok_or_else(|| bad(format!("{}: no \"objects\" map", path.display())))?;
    let model = datamodel::model();
    for (class, entries) in objects {
        let c = model.class(class).ok_or_else(|| {
            bad(format!(
                "{}: no class {class:?} in the datamodel",
                path.display()
            ))
        })?;
        if SKIP.contains(&class.as_str()) {
            continue;
        }
        let list: Vec<(Option<String>, &Map<String, Json>)> = match entries {
            Json::Array(a) => a
                .iter()
                .map(|e| {
                    let o = e
                        .as_object()
                        .ok_or_else(|| bad(format!("{class}: an entry is not an object")))?;
                    let r = o.get("ref").and_then(Json::as_str).map(str::to_owned);
                    Ok((r, o))
                })
                .collect::<io::Result<_>>()?,
            Json::Object(o) => o
                .iter()
                .map(|(r, e)| {
                    let o = e
                        .as_object()
                        .ok_or_else(|| bad(format!("{class} {r}: not an object")))?;
                    Ok((Some(r.clone()), o))
                })
                .collect::<io::Result<_>>()?,
            _ => return Err(bad(format!("{class}: neither a list nor a map of objects"))),
        };
        for (r, fields) in list {
            let (fresh_ref, mut rec) = st.blank(class);
            for (k, v) in fields {
                if k == "ref" {
                    continue;
                }
                let f = c
                    .field(k)
                    .ok_or_else(|| bad(format!("{class}: no field {k:?}")))?;
                let value = generic::convert(&f.ty, &to_value(v)).ok_or_else(|| {
                    bad(format!("{class}.{k}: {v} does not fit the field's type"))
                })?;
                set_field(&mut rec, k, value);
            }
            let r = match r {
                Some(r) => r,
                None if fields.contains_key("uuid") => st.dialect.make_ref(str_field(&rec, "uuid")),
                None => fresh_ref,
            };
            st.add(class, r, rec);
        }
    }
    let pool_master = st.table("pool").and_then(|t| {
        t.iter()
            .next()
            .map(|(_, p)| str_field(p, "master").to_owned())
    });
    let first_host = st
        .table("host")
        .and_then(|t| t.refs().first().cloned())
        .ok_or_else(|| bad(format!("{}: the inventory has no host", path.display())))?;
    st.coordinator = match pool_master {
        Some(m) if st.get("host", &m).is_some() => m,
        Some(_) => {
            return Err(bad(format!(
                "{}: pool.master is not a host",
                path.display()
            )))
        }
        None => {
            let (pr, mut p) = st.blank("pool");
            set_field(&mut p, "name_label", s("pool"));
            set_field(&mut p, "master", s(&first_host));
            st.add("pool", pr, p);
            first_host
        }
    };
    let max_domid = st
        .table("VM")
        .map(|t| t.iter().map(|(_, r)| i64_of(r, "domid")).max().unwrap_or(0))
        .unwrap_or(0);
    st.next_domid = max_domid.max(0) + 1;
    st.log(format!(
        "xapi starting: pool database loaded from {}",
        path.display()
    ));
    Ok(())
}

/// The store as an inventory document.
pub(crate) fn dump(st: &State) -> String {
    let mut objects = Map::new();
    for c in datamodel::model().classes() {
        if SKIP.contains(&c.name.as_str()) {
            continue;
        }
        let Some(t) = st.table(&c.name) else { continue };
        if t.len() == 0 {
            continue;
        }
        let list: Vec<Json> = t
            .iter()
            .map(|(r, rec)| {
                let mut o = Map::new();
                o.insert("ref".into(), Json::String(r.clone()));
                for (k, v) in rec {
                    o.insert(k.clone(), to_json(v));
                }
                Json::Object(o)
            })
            .collect();
        objects.insert(c.name.clone(), Json::Array(list));
    }
    let mut doc = Map::new();
    doc.insert("format".into(), Json::String(FORMAT.into()));
    doc.insert("objects".into(), Json::Object(objects));
    serde_json::to_string_pretty(&Json::Object(doc)).unwrap_or_default()
}

/// Writes the inventory to `path` (through a temporary file, so a reader never sees half).
pub(crate) fn save(st: &State, path: &Path) -> io::Result<()> {
    let text = dump(st);
    let tmp = path.with_extension("tmp-xenapi-sim");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}
