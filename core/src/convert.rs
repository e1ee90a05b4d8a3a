//! Between wire [`Value`]s and typed Rust values: what the generated [`crate::api`] is built on.
//!
//! Reading is tolerant of how servers differ and strict about types:
//!
//! - `int` is an `<int>`/`<i4>`/`<i8>` or a string of digits (xapi and xend send strings);
//! - `float` is a `<double>`, an integer, or a numeric string including `Infinity`/`NaN`;
//! - `string` also accepts an integer (xend sends some string-typed values as ints), stringified;
//! - `datetime` is a `dateTime.iso8601` or a string, kept as received;
//! - `bool` is a `<boolean>`, or the strings `true`/`false`/`1`/`0`;
//! - a ref is a string; sets are arrays; maps are structs whose member names are the keys
//!   ([`MapKey`]: strings, refs, enums, ints stringified);
//! - maps read as [`IndexMap`]s, in the order the server sent their members (xapi sends its
//!   database's order, which is stable from call to call): iterating a typed map gives the
//!   server's order, as XenAPI.py's dicts do. A struct that repeats a key keeps the first
//!   place and the last value. [`HashMap`] can still be read, without an order;
//! - `()` (void) accepts any value: xapi sends `""`, xend sometimes `<nil/>`, and failing a call
//!   the server has already carried out, because of a value nobody reads, would invite a retry.
//!
//! Anything else is an [`Error::Protocol`] naming what was expected, what came, and where
//! (`VM.get_record: VM.memory_static_max: expected an int, got a boolean`). A value of the wrong
//! type never becomes a silent default. In records, a member that is missing or `<nil/>` (xend's
//! None) takes its type's default instead: that is how older servers say "not set".

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use indexmap::IndexMap;

use crate::{DateTime, Error, Ref, Result, Session, Value};

/// A typed value read from a wire [`Value`].
pub trait FromValue: Sized {
    fn from_value(v: Value) -> Result<Self>;
}

/// A typed value written as a wire [`Value`].
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// A map key: XenAPI maps are XML-RPC structs, so keys travel as member names.
pub trait MapKey: Sized {
    fn from_key(key: String) -> Result<Self>;
    fn to_key(&self) -> String;
}

/// Calls `method` with the session and `args`, and reads the reply as a `T`; a wrong type is an
/// [`Error::Protocol`] that names the method. Every generated function is one call of this.
///
/// Generic code here is instantiated once per type of the API (about 340 result types, 85 map
/// types), so it is kept to a few lines: plain loops, no closures, and the error formatting in
/// non-generic functions.
///
/// The arguments are trait objects so that each of the ~2,400 generated functions is a few
/// instructions (no per-function drop or unwinding code); they become `Value`s here, once.
pub fn call<T: FromValue>(session: &Session, method: &str, args: &[&dyn ToValue]) -> Result<T> {
    from_value_in(call_value(session, method, args)?, method)
}

fn call_value(session: &Session, method: &str, args: &[&dyn ToValue]) -> Result<Value> {
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        values.push(a.to_value());
    }
    session.call(method, values)
}

/// Reads `v` as a `T`; `what` names it in an error (`"VM.get_record"`, `"event.from events"`).
pub fn from_value_in<T: FromValue>(v: Value, what: &str) -> Result<T> {
    match T::from_value(v) {
        Ok(t) => Ok(t),
        Err(e) => Err(context(e, what)),
    }
}

/// The members of a record's struct, for the generated `from_value` of `class`'s record.
pub fn record_members(v: Value, class: &str) -> Result<Vec<(String, Value)>> {
    match v {
        Value::Struct(members) => Ok(members),
        other => Err(wrong(&format!("a {class} record (a struct)"), &other)),
    }
}

/// Reads record field `class.name`: missing-as-nil takes the default, a wrong type names the field.
pub fn field<T: FromValue + Default>(v: Value, class: &str, name: &str) -> Result<T> {
    match v {
        Value::Nil => Ok(T::default()),
        v => match T::from_value(v) {
            Ok(t) => Ok(t),
            Err(e) => Err(field_context(e, class, name)),
        },
    }
}

/// A record's struct: the fields in datamodel order, then the `extra` members.
pub fn record_struct(fields: &[(&str, &dyn ToValue)], extra: &[(String, Value)]) -> Value {
    let mut members = Vec::with_capacity(fields.len() + extra.len());
    for (name, v) in fields {
        members.push(((*name).to_owned(), v.to_value()));
    }
    members.extend(extra.iter().cloned());
    Value::Struct(members)
}

/// The wire string of an enum value of enum `name`.
pub fn enum_str(v: Value, name: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong(&format!("a {name} (a string)"), &other)),
    }
}

/// Prefixes a protocol error's message with where it happened; other errors pass unchanged.
fn context(e: Error, at: &str) -> Error {
    match e {
        Error::Protocol(m) => Error::Protocol(format!("{at}: {m}")),
        other => other,
    }
}

fn field_context(e: Error, class: &str, name: &str) -> Error {
    context(e, &format!("{class}.{name}"))
}

fn index_context(e: Error, i: usize) -> Error {
    context(e, &format!("[{i}]"))
}

fn key_context(e: Error, key: &str) -> Error {
    context(e, &format!("[{key:?}]"))
}

/// "expected X, got a Y". The value itself is not shown: it may be a secret or a session ref.
fn wrong(expected: &str, got: &Value) -> Error {
    Error::Protocol(format!("expected {expected}, got {}", described(got)))
}

fn described(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "an empty string".to_owned(),
        Value::String(_) => "a string that does not read as one".to_owned(),
        Value::Int(_) => "an int".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        other => format!("a {}", other.type_name()),
    }
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self> {
        Ok(v)
    }
}

impl FromValue for () {
    fn from_value(_: Value) -> Result<Self> {
        Ok(())
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::String(s) => Ok(s),
            Value::Int(i) => Ok(i.to_string()),
            other => Err(wrong("a string", &other)),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self> {
        v.as_i64().ok_or_else(|| wrong("an int", &v))
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self> {
        v.as_f64().ok_or_else(|| wrong("a float", &v))
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self> {
        match &v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(wrong("a bool", &v)),
            },
            _ => Err(wrong("a bool", &v)),
        }
    }
}

impl FromValue for DateTime {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::DateTime(d) => Ok(d),
            Value::String(s) => Ok(DateTime::from_wire(s)),
            other => Err(wrong("a datetime", &other)),
        }
    }
}

impl<C> FromValue for Ref<C> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::String(s) => Ok(Ref::new(s)),
            other => Err(wrong("a reference (a string)", &other)),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    /// `<nil/>` is `None`.
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Nil => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self> {
        let Value::Array(items) = v else {
            return Err(wrong("a set (an array)", &v));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.into_iter().enumerate() {
            match T::from_value(v) {
                Ok(t) => out.push(t),
                Err(e) => return Err(index_context(e, i)),
            }
        }
        Ok(out)
    }
}

/// In the order the server sent the members: `map.iter()`, `map.keys()`, `map[i]` by position
/// (`get_index`) all follow it.
impl<K: MapKey + Eq + Hash, V: FromValue> FromValue for IndexMap<K, V> {
    fn from_value(v: Value) -> Result<Self> {
        let Value::Struct(members) = v else {
            return Err(wrong("a map (a struct)", &v));
        };
        let mut out = IndexMap::with_capacity(members.len());
        for (k, v) in members {
            let value = match V::from_value(v) {
                Ok(value) => value,
                Err(e) => return Err(key_context(e, &k)),
            };
            match K::from_key(k) {
                Ok(key) => out.insert(key, value),
                Err(e) => return Err(e),
            };
        }
        Ok(out)
    }
}

/// Without the server's order: for code that asks for a `HashMap` by name.
impl<K: MapKey + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    fn from_value(v: Value) -> Result<Self> {
        Ok(IndexMap::<K, V>::from_value(v)?.into_iter().collect())
    }
}

impl MapKey for String {
    fn from_key(key: String) -> Result<Self> {
        Ok(key)
    }
    fn to_key(&self) -> String {
        self.clone()
    }
}

impl MapKey for i64 {
    fn from_key(key: String) -> Result<Self> {
        key.trim()
            .parse()
            .map_err(|_| Error::Protocol(format!("[{key:?}]: expected an int as map key")))
    }
    fn to_key(&self) -> String {
        self.to_string()
    }
}

impl<C> MapKey for Ref<C> {
    fn from_key(key: String) -> Result<Self> {
        Ok(Ref::new(key))
    }
    fn to_key(&self) -> String {
        self.as_str().to_owned()
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::String(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

/// An `<int>` on the wire when it fits 32 bits, a string of digits above (the encoder's rule:
/// XenAPI.py cannot send those, xen-api issue 2871).
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Double(*self)
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for DateTime {
    fn to_value(&self) -> Value {
        Value::DateTime(self.clone())
    }
}

impl<C> ToValue for Ref<C> {
    fn to_value(&self) -> Value {
        Value::String(self.as_str().to_owned())
    }
}

/// `None` is `<nil/>`: only xend reads it. No XenAPI parameter is optional.
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Nil, T::to_value)
    }
}

impl<T: ToValue> ToValue for [T] {
    fn to_value(&self) -> Value {
        let mut items = Vec::with_capacity(self.len());
        for t in self {
            items.push(t.to_value());
        }
        Value::Array(items)
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}

impl<K: MapKey, V: ToValue, S> ToValue for HashMap<K, V, S> {
    /// Members sorted by key, so that a request is the same bytes every time.
    fn to_value(&self) -> Value {
        let mut members = Vec::with_capacity(self.len());
        for (k, v) in self {
            members.push((k.to_key(), v.to_value()));
        }
        sorted_struct(members)
    }
}

/// Members in the map's own order: the order the server sent a map read from it, the order of
/// insertion for one built by the caller.
impl<K: MapKey, V: ToValue, S> ToValue for IndexMap<K, V, S> {
    fn to_value(&self) -> Value {
        let mut members = Vec::with_capacity(self.len());
        for (k, v) in self {
            members.push((k.to_key(), v.to_value()));
        }
        Value::Struct(members)
    }
}

/// Members in key order.
impl<K: MapKey, V: ToValue> ToValue for BTreeMap<K, V> {
    fn to_value(&self) -> Value {
        let mut members = Vec::with_capacity(self.len());
        for (k, v) in self {
            members.push((k.to_key(), v.to_value()));
        }
        Value::Struct(members)
    }
}

/// A map parameter of the typed API (`&dyn MapArg<K, V>`): an [`IndexMap`] (sent in its order,
/// so a map read from the server goes back as it came), a [`HashMap`] (sent sorted by key, so
/// that a request is the same bytes every time) or a [`BTreeMap`] (in key order), all with
/// keys `K` and values `V`.
pub trait MapArg<K, V>: ToValue {}

impl<K: MapKey, V: ToValue, S> MapArg<K, V> for IndexMap<K, V, S> {}
impl<K: MapKey, V: ToValue, S: BuildHasher> MapArg<K, V> for HashMap<K, V, S> {}
impl<K: MapKey, V: ToValue> MapArg<K, V> for BTreeMap<K, V> {}

fn sorted_struct(mut members: Vec<(String, Value)>) -> Value {
    members.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Struct(members)
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_from_strings_and_ints() {
        assert_eq!(i64::from_value(Value::from("8589934592")).unwrap(), 1 << 33);
        assert_eq!(i64::from_value(Value::Int(-3)).unwrap(), -3);
        let e = i64::from_value(Value::Bool(true)).unwrap_err();
        assert_eq!(
            e,
            Error::Protocol("expected an int, got a boolean".to_owned())
        );
    }

    #[test]
    fn floats_take_infinity_and_ints() {
        assert!(f64::from_value(Value::from("Infinity"))
            .unwrap()
            .is_infinite());
        assert!(f64::from_value(Value::from("NaN")).unwrap().is_nan());
        assert_eq!(f64::from_value(Value::Int(2)).unwrap(), 2.0);
    }

    #[test]
    fn nested_errors_say_where() {
        let v = Value::Array(vec![Value::from("a"), Value::Int(1), Value::Double(1.5)]);
        let e = Vec::<String>::from_value(v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a valid XenAPI reply: [2]: expected a string, got a double"
        );
    }

    /// Keys in an order that is neither sorted nor a hash order of these keys.
    fn unsorted() -> Value {
        Value::structure([
            ("z", Value::Int(1)),
            ("a", Value::Int(2)),
            ("m", Value::Int(3)),
            ("b", Value::Int(4)),
            ("y", Value::Int(5)),
        ])
    }

    #[test]
    fn maps_keep_the_servers_order() {
        let m = IndexMap::<String, i64>::from_value(unsorted()).unwrap();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m", "b", "y"]);
        assert_eq!(m.get_index(2), Some((&"m".to_owned(), &3)));
        // And back out in the same order.
        assert_eq!(m.to_value(), unsorted());
        let ints = IndexMap::<i64, String>::from_value(Value::structure([
            ("3", Value::from("c")),
            ("0", Value::from("a")),
            ("12", Value::from("l")),
        ]))
        .unwrap();
        assert_eq!(ints.keys().copied().collect::<Vec<_>>(), [3, 0, 12]);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        let v = Value::structure([
            ("b", Value::Int(1)),
            ("a", Value::Int(2)),
            ("b", Value::Int(3)),
        ]);
        let m = IndexMap::<String, i64>::from_value(v).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("b".to_owned(), 3), ("a".to_owned(), 2)]
        );
    }

    #[test]
    fn hash_and_btree_maps_still_convert() {
        let h = HashMap::<String, i64>::from_value(unsorted()).unwrap();
        assert_eq!((h.len(), h["m"]), (5, 3));
        let b: BTreeMap<i64, bool> = [(10, true), (9, false)].into();
        assert_eq!(
            b.to_value(),
            Value::structure([("9", Value::Bool(false)), ("10", Value::Bool(true))])
        );
        // Each is a map parameter of the typed API.
        fn takes(_: &dyn MapArg<String, i64>) {}
        takes(&h);
        takes(&IndexMap::<String, i64>::new());
        takes(&BTreeMap::<String, i64>::new());
    }

    #[test]
    fn maps_sort_members() {
        let m: HashMap<String, i64> = [("b".to_owned(), 2), ("a".to_owned(), 1)].into();
        assert_eq!(
            m.to_value(),
            Value::structure([("a", Value::Int(1)), ("b", Value::Int(2))])
        );
    }
}
