//! XML-RPC, both directions: requests and replies for the client, calls and replies for the
//! simulator.
//!
//! Decoding reads from a [`BufRead`](std::io::BufRead) (the HTTP body as it arrives) or, with the
//! `_slice` entry points, from bytes already in memory, with a tokenizer made for XML-RPC's
//! grammar; it never expands a DTD entity, and stops with an error at the depth, size and memory
//! limits of [`Limits`].

mod decode;
mod encode;
/// The byte limit over a `BufRead`, for the reference decoder.
#[cfg(test)]
pub(crate) mod limited;
/// The previous decoder, on quick-xml's event loop: kept to test the tokenizer against.
#[cfg(test)]
#[allow(dead_code)]
mod reference;
pub(crate) mod window;

pub use decode::{
    decode_call, decode_call_slice, decode_response, decode_response_slice, decode_value,
};
pub use encode::{encode_call, encode_fault, encode_response, encode_value, Encoder};

use std::fmt;
use std::io;

/// The default of both [`Limits::max_bytes`] and [`Limits::max_value_bytes`], and of the client's
/// `max_response_bytes`: 192 MiB. A reply that passes it stops with an error while the process
/// is still well under 512 MiB resident, whichever binding turns the values into its own objects;
/// `VM.get_all_records` of about 12,000 VMs of 11 KB each fits (10,000 such VMs are a 108 MB reply).
pub const DEFAULT_MAX_BYTES: u64 = 192 * 1024 * 1024;

/// What a decoder accepts before it gives up with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How deeply values may nest (`<value>` inside `<array>`/`<struct>`).
    pub max_depth: usize,
    /// How many bytes may be read (after any HTTP decompression).
    pub max_bytes: u64,
    /// How much memory the decoded values may take, counted as they are built (each value, each
    /// heap block with the allocator's overhead, and the text being read): a document of few bytes
    /// can stand for many values (`<value/>` is 8 bytes, its value 32).
    pub max_value_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_bytes: DEFAULT_MAX_BYTES,
            max_value_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// A decoded `<methodResponse>`.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// `<params><param><value>…`: for XenAPI, the `Status` envelope.
    Value(crate::Value),
    /// `<fault>`: XenAPI servers do not use it for API errors, but a proxy or a broken server may.
    Fault { code: i64, message: String },
}

/// Why decoding stopped.
#[derive(Debug)]
pub enum CodecError {
    /// Reading the input failed (connection lost, deadline passed).
    Io(io::Error),
    /// The input is not XML-RPC.
    Malformed(String),
    /// The input is longer than [`Limits::max_bytes`].
    TooLarge(u64),
    /// Values nest deeper than [`Limits::max_depth`].
    TooDeep(usize),
    /// The decoded values would take more memory than [`Limits::max_value_bytes`].
    ValuesTooLarge(u64),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "reading the reply failed: {e}"),
            CodecError::Malformed(m) => write!(f, "malformed XML-RPC: {m}"),
            CodecError::TooLarge(n) => write!(f, "the reply is larger than the limit of {n} bytes"),
            CodecError::TooDeep(n) => write!(f, "values nest deeper than the limit of {n}"),
            CodecError::ValuesTooLarge(n) => write!(
                f,
                "the reply's values would take more than the limit of {n} bytes of memory"
            ),
        }
    }
}

impl std::error::Error for CodecError {}

impl CodecError {
    /// The client's error for a reply from `url` that failed to decode.
    pub fn into_error(self, url: &str) -> crate::Error {
        match self {
            CodecError::Io(e) => match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => crate::Error::Timeout {
                    url: url.to_owned(),
                    message: format!("no complete reply in time ({e})"),
                },
                _ => crate::Error::Connect {
                    url: url.to_owned(),
                    message: format!("the connection broke while reading the reply: {e}"),
                },
            },
            other => crate::Error::Protocol(other.to_string()),
        }
    }
}

/// Whether XML 1.0 forbids `c` in a document, raw or as a character reference: the C0 controls
/// other than tab, line feed and carriage return, and U+FFFE and U+FFFF (XML 1.0, production
/// `Char`). Neither direction lets one through: a reply holding one is malformed, and an argument
/// holding one is refused before it is sent, so that no binding reports success on a value the
/// server could not have meant.
pub fn xml_forbidden(c: char) -> bool {
    matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Refuses values that XML-RPC cannot carry: a string (or struct member name) holding a character
/// XML 1.0 forbids. The message says where (`argument 2, member "name_label"`) and which
/// character, never the text itself (it may be a secret).
pub fn check_sendable(params: &[crate::Value]) -> Result<(), String> {
    fn walk(v: &crate::Value, at: &mut Vec<String>) -> Result<(), String> {
        use crate::Value;
        let bad = |s: &str, at: &[String]| -> Result<(), String> {
            match s.chars().find(|c| xml_forbidden(*c)) {
                None => Ok(()),
                Some(c) => Err(format!(
                    "{} holds the character U+{:04X}, which XML cannot carry",
                    at.join(", "),
                    u32::from(c)
                )),
            }
        };
        match v {
            Value::String(s) => bad(s, at),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(format!("item {i}"));
                    walk(item, at)?;
                    at.pop();
                }
                Ok(())
            }
            Value::Struct(members) => {
                for (k, item) in members {
                    at.push("a member name".to_owned());
                    bad(k, at)?;
                    at.pop();
                    at.push(format!("member {:?}", shorten_name(k)));
                    walk(item, at)?;
                    at.pop();
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    for (i, p) in params.iter().enumerate() {
        let mut at = vec![format!("argument {}", i + 1)];
        walk(p, &mut at)?;
    }
    Ok(())
}

/// A member name for a message: at most 40 characters, with any forbidden character replaced.
fn shorten_name(k: &str) -> String {
    k.chars()
        .take(40)
        .map(|c| if xml_forbidden(c) { '\u{fffd}' } else { c })
        .collect()
}

/// Parses an XML-RPC double, including the bare tokens `Infinity`, `-Infinity` and `NaN` that
/// xapi writes (and Python's `inf`/`nan`).
pub fn parse_double(s: &str) -> Option<f64> {
    match s {
        "Infinity" | "+Infinity" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" | "-nan" | "+nan" => Some(f64::NAN),
        _ => {
            // Rust's parser also takes "infinity" and friends; only digits forms reach it here.
            let ok = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
            if ok {
                s.parse().ok()
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
