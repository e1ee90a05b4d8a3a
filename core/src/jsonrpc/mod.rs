//! JSON-RPC, beside XML-RPC: xapi serves it on `/jsonrpc`. See `README.md` in this directory for
//! the wire facts this module relies on and where each comes from.
//!
//! Replies are decoded straight from the HTTP body into [`Value`] (no intermediate JSON tree),
//! under the same [`Limits`] as XML-RPC, and then normalised with the datamodel's type of the
//! message's result ([`normalise`]) so that callers see exactly what XML-RPC would have given:
//! int64s as strings of digits, datetimes as [`Value::DateTime`], floats as [`Value::Double`],
//! a void result as `""`.

mod decode;
mod encode;

pub use decode::{
    decode_call_slice, decode_document_slice, decode_response, decode_response_slice,
};
pub use encode::{encode_call, encode_response};

use crate::{DateTime, Value};

/// Which wire protocol a session speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Protocol {
    /// JSON-RPC when the server offers it (found out once, at login), XML-RPC otherwise.
    #[default]
    Auto,
    /// JSON-RPC 2.0 on `/jsonrpc` only (xapi).
    JsonRpc,
    /// XML-RPC on `/` only (xapi, xend).
    XmlRpc,
}

impl Protocol {
    /// `auto`, `jsonrpc` or `xmlrpc` (as bindings spell it).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Protocol::Auto),
            "jsonrpc" | "json-rpc" | "json" => Some(Protocol::JsonRpc),
            "xmlrpc" | "xml-rpc" | "xml" => Some(Protocol::XmlRpc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Auto => "auto",
            Protocol::JsonRpc => "jsonrpc",
            Protocol::XmlRpc => "xmlrpc",
        }
    }
}

/// A decoded JSON-RPC reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `result`.
    Result(Value),
    /// `error`, as a XenAPI `ErrorDescription`: the code, then the parameters.
    Error(Vec<String>),
}

/// What a result looks like on the wire, as far as JSON-RPC and XML-RPC differ; generated from
/// the datamodel with its tables into `crate::api::shapes`, which imports nothing of this module.
pub use crate::api::shapes::Shape;

/// The shape of `method`'s result, from the datamodel (`None`: travels alike).
pub fn result_shape(method: &str) -> Option<Shape> {
    crate::api::shapes::result_shape(method)
}

/// `v`, a JSON-RPC result of `method`, as XML-RPC would have carried it.
pub fn normalise(method: &str, v: Value) -> Value {
    match result_shape(method) {
        Some(s) => normalise_shape(&s, v),
        None => v,
    }
}

fn normalise_shape(shape: &Shape, v: Value) -> Value {
    match (shape, v) {
        (Shape::Keep, v) => v,
        (Shape::Int, Value::Int(i)) => Value::String(i.to_string()),
        (Shape::Int, Value::Double(d)) if d.fract() == 0.0 && d.abs() < 9.3e18 => {
            Value::String((d as i64).to_string())
        }
        (Shape::Float, Value::Int(i)) => Value::Double(i as f64),
        (Shape::Float, Value::String(s)) => match crate::codec::parse_double(s.trim()) {
            Some(d) => Value::Double(d),
            None => Value::String(s),
        },
        (Shape::DateTime, Value::String(s)) => Value::DateTime(DateTime::from_wire(s)),
        (Shape::Void, Value::Nil) => Value::String(String::new()),
        (Shape::Set(inner), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|i| normalise_shape(inner, i))
                .collect(),
        ),
        (Shape::Map(inner), Value::Struct(members)) => Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k, normalise_shape(inner, v)))
                .collect(),
        ),
        (Shape::Record(class), Value::Struct(members)) => normalise_record(class, members),
        (_, v) => v,
    }
}

fn normalise_record(class: &str, mut members: Vec<(String, Value)>) -> Value {
    let fields = crate::api::shapes::record_shape(class);
    // An event's snapshot is untyped in the datamodel: it is a record of the event's class.
    let snapshot_class = if class == "event" {
        members
            .iter()
            .find(|(k, _)| k == "class")
            .and_then(|(_, v)| v.as_str())
            .and_then(|c| class_wire_name(c))
    } else {
        None
    };
    for (name, value) in members.iter_mut() {
        if let Some((_, s)) = fields.iter().find(|(f, _)| f == name) {
            let v = std::mem::replace(value, Value::Nil);
            *value = normalise_shape(s, v);
        } else if let (Some(c), "snapshot") = (snapshot_class, name.as_str()) {
            let v = std::mem::replace(value, Value::Nil);
            *value = normalise_shape(&Shape::Record(c), v);
        }
    }
    Value::Struct(members)
}

/// The datamodel's wire name of a class that an event names case-insensitively (`vm` is `VM`).
fn class_wire_name(c: &str) -> Option<&'static str> {
    crate::api::shapes::CLASS_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(c))
}

/// The reverse of [`normalise`], for a server (the simulator): `v`, as XML-RPC carries it, the
/// way xapi writes it in JSON (int64s as numbers, floats as numbers, void as `null`).
pub fn denormalise(method: &str, v: Value) -> Value {
    match result_shape(method) {
        Some(s) => denormalise_shape(&s, v),
        None => v,
    }
}

fn denormalise_shape(shape: &Shape, v: Value) -> Value {
    match (shape, v) {
        (Shape::Int, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::String(s),
        },
        (Shape::Void, Value::String(s)) if s.is_empty() => Value::Nil,
        (Shape::Set(inner), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|i| denormalise_shape(inner, i))
                .collect(),
        ),
        (Shape::Map(inner), Value::Struct(members)) => Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k, denormalise_shape(inner, v)))
                .collect(),
        ),
        (Shape::Record(class), Value::Struct(mut members)) => {
            let fields = crate::api::shapes::record_shape(class);
            let snapshot_class = if *class == "event" {
                members
                    .iter()
                    .find(|(k, _)| k == "class")
                    .and_then(|(_, v)| v.as_str())
                    .and_then(class_wire_name)
            } else {
                None
            };
            for (name, value) in members.iter_mut() {
                let v = std::mem::replace(value, Value::Nil);
                *value = if let Some((_, s)) = fields.iter().find(|(f, _)| f == name) {
                    denormalise_shape(s, v)
                } else if let (Some(c), "snapshot") = (snapshot_class, name.as_str()) {
                    denormalise_shape(&Shape::Record(c), v)
                } else {
                    v
                };
            }
            Value::Struct(members)
        }
        (_, v) => v,
    }
}

/// Where xapi serves JSON-RPC: `/jsonrpc` at the server's root, whatever the XML-RPC URL's path.
pub(crate) const PATH: &str = "/jsonrpc";

#[cfg(test)]
mod tests;
