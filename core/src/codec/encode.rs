//! XML-RPC encoder: writes calls, replies and faults into a byte buffer.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::Value;

/// How values are written. The defaults suit a client talking to xapi or xend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoder {
    /// Write strings as untyped `<value>text</value>` (as xapi does) instead of `<string>`.
    pub untyped_strings: bool,
    /// Write integers outside the 32-bit range as `<i8>` instead of as strings. XenAPI servers
    /// expect int64 values as strings, so a client leaves this off.
    pub i8_for_wide_ints: bool,
}

const DECL: &str = "<?xml version=\"1.0\"?>\n";

/// `<methodCall>` for `method` with `params`.
pub fn encode_call(method: &str, params: &[Value], enc: &Encoder) -> Vec<u8> {
    let mut out = String::with_capacity(128 + 64 * params.len());
    out.push_str(DECL);
    out.push_str("<methodCall><methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName><params>");
    for p in params {
        out.push_str("<param>");
        write_value(&mut out, p, enc);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out.into_bytes()
}

/// `<methodResponse>` carrying `value`.
pub fn encode_response(value: &Value, enc: &Encoder) -> Vec<u8> {
    // Sized up front: a large reply (18 MB for 2,000 VM records) would otherwise be regrown and
    // copied some twenty times.
    let mut out = String::with_capacity(96 + size_hint(value));
    out.push_str(DECL);
    out.push_str("<methodResponse><params><param>");
    write_value(&mut out, value, enc);
    out.push_str("</param></params></methodResponse>\n");
    out.into_bytes()
}

/// `<methodResponse>` carrying a `<fault>`.
pub fn encode_fault(code: i64, message: &str, enc: &Encoder) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str(DECL);
    out.push_str("<methodResponse><fault>");
    let fault = Value::structure([
        ("faultCode", Value::Int(code)),
        ("faultString", Value::String(message.to_owned())),
    ]);
    write_value(&mut out, &fault, enc);
    out.push_str("</fault></methodResponse>\n");
    out.into_bytes()
}

/// One `<value>…</value>` fragment (what `task.get_result` carries).
pub fn encode_value(value: &Value, enc: &Encoder) -> String {
    let mut out = String::new();
    write_value(&mut out, value, enc);
    out
}

/// About how many bytes `write_value` writes for `v`: the markup plus the unescaped text, so a
/// slight underestimate for text with many `&`, `<` or `>` (the buffer then grows once).
fn size_hint(v: &Value) -> usize {
    const VALUE: usize = "<value></value>".len();
    VALUE
        + match v {
            Value::Nil => "<nil/>".len(),
            Value::Bool(_) => "<boolean>0</boolean>".len(),
            Value::Int(_) => "<string>-9223372036854775808</string>".len(),
            Value::Double(_) => "<double></double>".len() + 24,
            Value::String(s) => "<string></string>".len() + s.len(),
            Value::DateTime(d) => "<dateTime.iso8601></dateTime.iso8601>".len() + d.as_str().len(),
            Value::Base64(b) => "<base64></base64>".len() + b.len().div_ceil(3) * 4,
            Value::Array(items) => {
                "<array><data></data></array>".len() + items.iter().map(size_hint).sum::<usize>()
            }
            Value::Struct(members) => {
                "<struct></struct>".len()
                    + members
                        .iter()
                        .map(|(k, v)| {
                            "<member><name></name></member>".len() + k.len() + size_hint(v)
                        })
                        .sum::<usize>()
            }
        }
}

fn write_value(out: &mut String, v: &Value, enc: &Encoder) {
    out.push_str("<value>");
    match v {
        Value::Nil => out.push_str("<nil/>"),
        Value::Bool(b) => out.push_str(if *b {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::Int(i) => {
            if i32::try_from(*i).is_ok() {
                let _ = write!(out, "<int>{i}</int>");
            } else if enc.i8_for_wide_ints {
                let _ = write!(out, "<i8>{i}</i8>");
            } else {
                // XenAPI int64: a string of digits (Python's xmlrpc.client cannot send these).
                let _ = write!(out, "<string>{i}</string>");
            }
        }
        Value::Double(d) => {
            out.push_str("<double>");
            write_double(out, *d);
            out.push_str("</double>");
        }
        Value::String(s) => {
            if enc.untyped_strings {
                escape_into(out, s);
            } else {
                out.push_str("<string>");
                escape_into(out, s);
                out.push_str("</string>");
            }
        }
        Value::DateTime(d) => {
            out.push_str("<dateTime.iso8601>");
            escape_into(out, d.as_str());
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
            out.push_str("</base64>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item, enc);
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, value) in members {
                out.push_str("<member><name>");
                escape_into(out, name);
                out.push_str("</name>");
                write_value(out, value, enc);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

fn write_double(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("NaN");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Shortest text that reads back to the same double; no exponent, as XML-RPC asks.
        let _ = write!(out, "{d}");
    }
}

/// Escapes `&`, `<`, `>` and `\r` (a bare CR would be folded into LF by any XML parser).
fn escape_into(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}
