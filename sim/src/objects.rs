//! Small helpers over stored records shared by the modelled messages: typed field reads, the
//! two sides of a reference kept in step, and records built from a `create` call's argument.

use xenapi::Value;

use crate::datamodel::{self, ClassExt};
use crate::dispatch::Failure;
use crate::generic;
use crate::state::{field, set_field, str_field, Record, State};
use crate::vm::{add_to_set, remove_from_set};

pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

pub(crate) fn i64_of(rec: &Record, f: &str) -> i64 {
    field(rec, f).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn bool_of(rec: &Record, f: &str) -> bool {
    field(rec, f).and_then(Value::as_bool).unwrap_or(false)
}

/// The members of a set-of-refs (or set-of-strings) field.
pub(crate) fn refs_of(rec: &Record, f: &str) -> Vec<String> {
    field(rec, f)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A `(string -> string) map` field as pairs.
pub(crate) fn map_of(rec: &Record, f: &str) -> Vec<(String, String)> {
    field(rec, f)
        .and_then(Value::as_struct)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn map_value(pairs: &[(String, String)]) -> Value {
    Value::Struct(pairs.iter().map(|(k, v)| (k.clone(), s(v))).collect())
}

/// Field `f` of object `class`/`r` as a string ("" when absent).
pub(crate) fn get_str(st: &State, class: &str, r: &str, f: &str) -> String {
    st.get(class, r)
        .map(|rec| str_field(rec, f).to_owned())
        .unwrap_or_default()
}

/// Whether `r` names an object of `class`.
pub(crate) fn exists(st: &State, class: &str, r: &str) -> bool {
    st.get(class, r).is_some()
}

/// `HANDLE_INVALID` unless `r` is an object of `class`; the record otherwise.
pub(crate) fn need<'a>(st: &'a State, class: &str, r: &str) -> Result<&'a Record, Failure> {
    st.get(class, r)
        .ok_or_else(|| Failure::new("HANDLE_INVALID", &[class, r]))
}

/// Adds `item` to set field `f` of `class`/`r` (a `mod` event), when that object exists.
pub(crate) fn link(st: &mut State, class: &str, r: &str, f: &str, item: &str) {
    if exists(st, class, r) {
        st.modify(class, r, |rec| add_to_set(rec, f, item));
    }
}

/// Removes `item` from set field `f` of `class`/`r`, when that object exists.
pub(crate) fn unlink(st: &mut State, class: &str, r: &str, f: &str, item: &str) {
    if exists(st, class, r) {
        st.modify(class, r, |rec| remove_from_set(rec, f, item));
    }
}

/// Sets one field of a stored object (a `mod` event).
pub(crate) fn put(st: &mut State, class: &str, r: &str, f: &str, v: Value) {
    st.modify(class, r, |rec| set_field(rec, f, v));
}

/// A fresh record of `class` with the members of a `create` call's record argument applied,
/// each converted to its field's type (`FIELD_TYPE_ERROR` naming the field otherwise). Members
/// the datamodel does not have for the class are ignored, as are read-only bookkeeping fields
/// the server owns (`uuid`, and the reverse sides of references, which the caller fills).
pub(crate) fn record_from_args(
    st: &mut State,
    class: &str,
    args: &Value,
    owned: &[&str],
) -> Result<(String, Record), Failure> {
    let members = args
        .as_struct()
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["args"]))?;
    let c = datamodel::model()
        .class(class)
        .ok_or_else(|| Failure::not_implemented(&format!("{class}.create")))?;
    let (r, mut rec) = st.blank(class);
    for (k, v) in members {
        if k == "uuid" || owned.contains(&k.as_str()) {
            continue;
        }
        let Some(f) = c.field(k) else { continue };
        let v = generic::convert(&f.ty, v).ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[k]))?;
        set_field(&mut rec, k, v);
    }
    Ok((r, rec))
}

/// A MAC address from the simulator's random stream, locally administered and unicast.
pub(crate) fn random_mac(st: &mut State) -> String {
    let x = st.rng.next_u64();
    let b: Vec<u8> = (0..5).map(|i| (x >> (i * 8)) as u8).collect();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4]
    )
}
