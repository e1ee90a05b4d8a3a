//! JSON-RPC encoding: requests for the client, replies for the simulator.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::Value;

/// A JSON-RPC 2.0 request: `{"jsonrpc":"2.0","method":…,"params":[…],"id":id}`. The session
/// reference, when there is one, is the first of `params`, as over XML-RPC.
pub fn encode_call(method: &str, params: &[Value], id: u64) -> Vec<u8> {
    let mut s = String::with_capacity(64 + method.len() + 32 * params.len());
    s.push_str("{\"jsonrpc\":\"2.0\",\"method\":");
    write_str(&mut s, method);
    s.push_str(",\"params\":[");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_value(&mut s, p);
    }
    let _ = write!(s, "],\"id\":{id}}}");
    s.into_bytes()
}

/// A JSON-RPC reply as xapi writes it: 2.0 (`jsonrpc` present in the request) with the failure as
/// an error object `{code, message: CODE, data: [params]}`, or 1.0 with `result` and `error` both
/// present and the failure as the whole description array.
pub fn encode_response(result: Result<&Value, &[String]>, id: &Value, version2: bool) -> Vec<u8> {
    let mut s = String::with_capacity(256 + result.map_or(0, size_hint));
    s.push('{');
    if version2 {
        s.push_str("\"jsonrpc\":\"2.0\",");
    }
    match result {
        Ok(v) => {
            s.push_str("\"result\":");
            write_value(&mut s, v);
            if !version2 {
                s.push_str(",\"error\":null");
            }
        }
        Err(description) => {
            if !version2 {
                s.push_str("\"result\":null,");
            }
            s.push_str("\"error\":");
            if version2 {
                s.push_str("{\"code\":1,\"message\":");
                write_str(
                    &mut s,
                    description.first().map(String::as_str).unwrap_or(""),
                );
                s.push_str(",\"data\":[");
                for (i, p) in description.iter().skip(1).enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    write_str(&mut s, p);
                }
                s.push_str("]}");
            } else {
                s.push('[');
                for (i, p) in description.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    write_str(&mut s, p);
                }
                s.push(']');
            }
        }
    }
    s.push_str(",\"id\":");
    write_value(&mut s, id);
    s.push('}');
    s.into_bytes()
}

/// One value as JSON. Datetimes and base64 become strings, as xapi writes them; a non-finite
/// float (which JSON cannot carry) becomes the string xapi's XML-RPC uses for it.
pub(crate) fn write_value(s: &mut String, v: &Value) {
    match v {
        Value::Nil => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(s, "{i}");
        }
        Value::Double(d) => {
            if d.is_finite() {
                // Debug keeps a fraction (`1.0`), so the value reads back as a float.
                let _ = write!(s, "{d:?}");
            } else if d.is_nan() {
                s.push_str("\"NaN\"");
            } else if *d > 0.0 {
                s.push_str("\"Infinity\"");
            } else {
                s.push_str("\"-Infinity\"");
            }
        }
        Value::String(t) => write_str(s, t),
        Value::DateTime(d) => write_str(s, d.as_str()),
        Value::Base64(b) => write_str(s, &base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                write_value(s, item);
            }
            s.push(']');
        }
        Value::Struct(members) => {
            s.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                write_str(s, k);
                s.push(':');
                write_value(s, v);
            }
            s.push('}');
        }
    }
}

/// A string in quotes, escaped. Every byte that needs an escape is ASCII, so the scan is over
/// bytes, and each cut falls on a character boundary.
fn write_str(s: &mut String, t: &str) {
    s.push('"');
    let mut start = 0;
    for (i, &b) in t.as_bytes().iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        s.push_str(&t[start..i]);
        if esc.is_empty() {
            let _ = write!(s, "\\u{:04x}", b);
        } else {
            s.push_str(esc);
        }
        start = i + 1;
    }
    s.push_str(&t[start..]);
    s.push('"');
}

/// About how long `v` is as JSON (escapes aside): the reply's buffer is made that size at once.
fn size_hint(v: &Value) -> usize {
    match v {
        Value::Nil | Value::Bool(_) => 5,
        Value::Int(_) | Value::Double(_) => 20,
        Value::String(t) => t.len() + 2,
        Value::DateTime(d) => d.as_str().len() + 2,
        Value::Base64(b) => b.len() * 4 / 3 + 6,
        Value::Array(items) => 2 + items.iter().map(|i| size_hint(i) + 1).sum::<usize>(),
        Value::Struct(members) => {
            2 + members
                .iter()
                .map(|(k, v)| k.len() + 4 + size_hint(v))
                .sum::<usize>()
        }
    }
}
