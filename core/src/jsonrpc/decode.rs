//! A streaming JSON decoder straight into [`Value`] (no JSON tree first): recursive descent over
//! a window of the input (the reply as it arrives, or bytes in memory), with the depth, size and
//! memory limits of [`Limits`]. Strings are scanned a run at a time and copied out once, at their
//! exact size.

use std::io::BufRead;

use super::Reply;
use crate::codec::window::{ReadWindow, SliceWindow, Window};
use crate::codec::{CodecError, Limits};
use crate::Value;

/// Decodes a JSON-RPC reply (2.0 or 1.0) to the call with id `id`, reading it as it arrives.
///
/// Not JSON, not an object, no `id` or another one, or neither `result` nor `error`: an error
/// ([`CodecError::Malformed`]) saying which.
pub fn decode_response<R: BufRead>(input: R, limits: Limits, id: u64) -> Result<Reply, CodecError> {
    Parser::new(ReadWindow::new(input, limits.max_bytes), limits).reply(id)
}

/// [`decode_response`] on bytes already in memory.
pub fn decode_response_slice(input: &[u8], limits: Limits, id: u64) -> Result<Reply, CodecError> {
    Parser::new(SliceWindow::new(input, limits)?, limits).reply(id)
}

/// Decodes one JSON document (an object or an array) from bytes in memory, within `limits`: the
/// JSON that xapi serves beside the API (`/rrd_updates?json=true`), read into [`Value`]s.
pub fn decode_document_slice(input: &[u8], limits: Limits) -> Result<Value, CodecError> {
    Parser::new(SliceWindow::new(input, limits)?, limits).document()
}

/// Decodes a JSON-RPC request (for a server): `(method, params, id)`; the id is kept as sent.
pub fn decode_call_slice(
    input: &[u8],
    limits: Limits,
) -> Result<(String, Vec<Value>, Value), CodecError> {
    let v = Parser::new(SliceWindow::new(input, limits)?, limits).document()?;
    let Value::Struct(members) = v else {
        return Err(malformed("the request is not a JSON object"));
    };
    let mut method = None;
    let mut params = Vec::new();
    let mut id = Value::Nil;
    for (k, v) in members {
        match (k.as_str(), v) {
            ("method", Value::String(m)) => method = Some(m),
            ("params", Value::Array(a)) => params = a,
            ("params", Value::Nil) => {}
            ("params", Value::Struct(s)) => params = vec![Value::Struct(s)],
            ("id", v) => id = v,
            _ => {}
        }
    }
    let method = method.ok_or_else(|| malformed("the request has no method"))?;
    Ok((method, params, id))
}

fn malformed(m: impl Into<String>) -> CodecError {
    CodecError::Malformed(m.into())
}

struct Parser<W> {
    win: W,
    max_depth: usize,
    /// Memory the values built so far take, counted as the XML-RPC decoder counts it, and the most
    /// they may ([`Limits::max_value_bytes`]).
    used: u64,
    max_value_bytes: u64,
    /// A string being read, reused: each string is copied out of it at its exact size.
    scratch: Vec<u8>,
    /// The members of the objects being read, innermost last, moved into an exactly sized `Vec`
    /// at each `}` (no repeated growth); the same for array items.
    members: Vec<(String, Value)>,
    items: Vec<Value>,
}

/// What a value costs against [`Limits::max_value_bytes`], counted as the XML-RPC decoder counts:
/// its heap block (a string's bytes, an array's or object's slots at their exact size) with the
/// allocator's overhead; the values inside count for themselves.
fn cost(v: &Value) -> u64 {
    let heap = |bytes: usize| {
        if bytes == 0 {
            0
        } else {
            bytes as u64 + 16
        }
    };
    match v {
        Value::String(s) => heap(s.len()),
        Value::Array(a) => heap(a.len() * std::mem::size_of::<Value>()),
        Value::Struct(m) => heap(m.len() * std::mem::size_of::<(String, Value)>()),
        _ => 0,
    }
}

type Res<T> = Result<T, CodecError>;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<W: Window> Parser<W> {
    fn new(win: W, limits: Limits) -> Self {
        Parser {
            win,
            max_depth: limits.max_depth,
            used: 0,
            max_value_bytes: limits.max_value_bytes,
            scratch: Vec::with_capacity(256),
            members: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The next byte that is not white space, not consumed; `None` at the end.
    #[inline]
    fn peek_nonws(&mut self) -> Res<Option<u8>> {
        loop {
            let b = self.win.bytes();
            match b.iter().position(|c| !is_ws(*c)) {
                Some(i) => {
                    let c = b[i];
                    self.win.advance(i);
                    return Ok(Some(c));
                }
                None => {
                    let n = b.len();
                    self.win.advance(n);
                    if !self.win.more()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    #[inline]
    fn next_nonws(&mut self, what: &str) -> Res<u8> {
        match self.peek_nonws()? {
            Some(b) => {
                self.win.advance(1);
                Ok(b)
            }
            None => Err(malformed(format!(
                "the reply ends where {what} was expected"
            ))),
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Res<()> {
        let b = self.next_nonws(what)?;
        if b != want {
            return Err(malformed(format!("expected {what}, found {}", shown(b))));
        }
        Ok(())
    }

    /// One value, then the end of the input.
    fn document(&mut self) -> Res<Value> {
        match self.peek_nonws()? {
            None => return Err(malformed("the reply is empty, not JSON")),
            Some(b'{') | Some(b'[') => {}
            Some(b) => {
                return Err(malformed(format!(
                    "the reply is not JSON (it starts with {})",
                    shown(b)
                )))
            }
        }
        let v = self.value(0)?;
        self.end()?;
        Ok(v)
    }

    fn end(&mut self) -> Res<()> {
        match self.peek_nonws()? {
            None => Ok(()),
            Some(b) => Err(malformed(format!(
                "unexpected {} after the end of the reply",
                shown(b)
            ))),
        }
    }

    fn reply(&mut self, want_id: u64) -> Res<Reply> {
        match self.peek_nonws()? {
            None => return Err(malformed("the reply is empty, not JSON")),
            Some(b'{') => self.win.advance(1),
            Some(b) => {
                return Err(malformed(format!(
                    "the reply is not a JSON object (it starts with {})",
                    shown(b)
                )))
            }
        }
        let mut result = None;
        let mut error = None;
        let mut id = None;
        if self.peek_nonws()? == Some(b'}') {
            self.win.advance(1);
        } else {
            loop {
                self.expect(b'"', "a member name")?;
                let key = self.string_body()?;
                self.expect(b':', "':'")?;
                let v = self.value(1)?;
                match key.as_str() {
                    "result" => result = Some(v),
                    "error" => error = Some(v),
                    "id" => id = Some(v),
                    _ => {}
                }
                match self.next_nonws("',' or '}'")? {
                    b',' => continue,
                    b'}' => break,
                    b => {
                        return Err(malformed(format!(
                            "expected ',' or '}}' in the reply object, found {}",
                            shown(b)
                        )))
                    }
                }
            }
        }
        self.end()?;
        match &id {
            Some(Value::Int(i)) if u64::try_from(*i).ok() == Some(want_id) => {}
            Some(Value::String(s)) if s.parse::<u64>().ok() == Some(want_id) => {}
            Some(other) => {
                return Err(malformed(format!(
                    "the reply's id {} is not the request's id {want_id}",
                    show_value(other)
                )))
            }
            None => {
                return Err(malformed(format!(
                    "the reply has no id (the request's was {want_id})"
                )))
            }
        }
        match (result, error) {
            // JSON-RPC 1.0 sends both, one of them null.
            (_, Some(e)) if e != Value::Nil => Ok(Reply::Error(error_description(e)?)),
            (Some(r), _) => Ok(Reply::Result(r)),
            (None, _) => Err(malformed("the reply has neither a result nor an error")),
        }
    }

    fn charge(&mut self, n: u64) -> Res<()> {
        self.used += n;
        if self.used > self.max_value_bytes {
            return Err(CodecError::ValuesTooLarge(self.max_value_bytes));
        }
        Ok(())
    }

    /// A member name, counted.
    fn key(&mut self) -> Res<String> {
        let key = self.string_body()?;
        self.charge(if key.is_empty() {
            0
        } else {
            key.len() as u64 + 16
        })?;
        Ok(key)
    }

    /// Makes room for one more item on a stack, counting the growth first (the stack doubles).
    fn reserve<T>(&mut self, stack_len: usize, stack_cap: usize) -> Res<usize> {
        if stack_len < stack_cap {
            return Ok(0);
        }
        let more = stack_cap.max(16);
        self.charge((more * std::mem::size_of::<T>()) as u64)?;
        Ok(more)
    }

    fn value(&mut self, depth: usize) -> Res<Value> {
        let v = self.value_uncounted(depth)?;
        self.charge(cost(&v))?;
        Ok(v)
    }

    fn value_uncounted(&mut self, depth: usize) -> Res<Value> {
        let b = self.next_nonws("a value")?;
        match b {
            b'"' => Ok(Value::String(self.string_body()?)),
            b'{' => {
                if depth >= self.max_depth {
                    return Err(CodecError::TooDeep(self.max_depth));
                }
                if self.peek_nonws()? == Some(b'}') {
                    self.win.advance(1);
                    return Ok(Value::Struct(Vec::new()));
                }
                // On an error the whole decode fails, so what is left on the stack does not matter.
                let base = self.members.len();
                loop {
                    self.expect(b'"', "a member name")?;
                    let key = self.key()?;
                    self.expect(b':', "':'")?;
                    let v = self.value(depth + 1)?;
                    let more = self
                        .reserve::<(String, Value)>(self.members.len(), self.members.capacity())?;
                    self.members.reserve_exact(more);
                    self.members.push((key, v));
                    match self.next_nonws("',' or '}'")? {
                        b',' => {}
                        b'}' => return Ok(Value::Struct(self.members.drain(base..).collect())),
                        b => {
                            return Err(malformed(format!(
                                "expected ',' or '}}' in an object, found {}",
                                shown(b)
                            )))
                        }
                    }
                }
            }
            b'[' => {
                if depth >= self.max_depth {
                    return Err(CodecError::TooDeep(self.max_depth));
                }
                if self.peek_nonws()? == Some(b']') {
                    self.win.advance(1);
                    return Ok(Value::Array(Vec::new()));
                }
                let base = self.items.len();
                loop {
                    let v = self.value(depth + 1)?;
                    let more = self.reserve::<Value>(self.items.len(), self.items.capacity())?;
                    self.items.reserve_exact(more);
                    self.items.push(v);
                    match self.next_nonws("',' or ']'")? {
                        b',' => {}
                        b']' => return Ok(Value::Array(self.items.drain(base..).collect())),
                        b => {
                            return Err(malformed(format!(
                                "expected ',' or ']' in an array, found {}",
                                shown(b)
                            )))
                        }
                    }
                }
            }
            b't' => self.literal(b"rue", Value::Bool(true)),
            b'f' => self.literal(b"alse", Value::Bool(false)),
            b'n' => self.literal(b"ull", Value::Nil),
            b'-' | b'0'..=b'9' => self.number(b),
            b => Err(malformed(format!("expected a value, found {}", shown(b)))),
        }
    }

    fn byte(&mut self) -> Res<Option<u8>> {
        if self.win.bytes().is_empty() && !self.win.more()? {
            return Ok(None);
        }
        let b = self.win.bytes()[0];
        self.win.advance(1);
        Ok(Some(b))
    }

    fn literal(&mut self, rest: &[u8], v: Value) -> Res<Value> {
        for want in rest {
            if self.byte()? != Some(*want) {
                return Err(malformed("a misspelt true, false or null"));
            }
        }
        Ok(v)
    }

    fn number(&mut self, first: u8) -> Res<Value> {
        let mut text = [0u8; 400];
        text[0] = first;
        let mut len = 1;
        loop {
            let b = self.win.bytes();
            let n = b
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(b.len());
            if len + n > text.len() {
                return Err(malformed("a number longer than 400 characters"));
            }
            text[len..len + n].copy_from_slice(&b[..n]);
            len += n;
            let done = n < b.len();
            self.win.advance(n);
            if done || !self.win.more()? {
                break;
            }
        }
        let text = &text[..len];
        let s = std::str::from_utf8(text).expect("ASCII");
        if !valid_number(s) {
            return Err(malformed(format!("{s:?} is not a JSON number")));
        }
        if !s.contains(['.', 'e', 'E']) {
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        s.parse::<f64>()
            .map(Value::Double)
            .map_err(|_| malformed(format!("{s:?} is not a JSON number")))
    }

    /// A string's body, after its opening quote.
    #[inline]
    fn string_body(&mut self) -> Res<String> {
        // The common case: the whole string, without escapes, in the window.
        let b = self.win.bytes();
        if let Some(i) = b.iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f)) {
            if b[i] == b'"' {
                let s = std::str::from_utf8(&b[..i])
                    .map_err(|_| malformed("a string that is not UTF-8"))?
                    .to_owned();
                self.win.advance(i + 1);
                return Ok(s);
            }
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let r = self.string_into(&mut out);
        let s = r.and_then(|()| {
            std::str::from_utf8(&out)
                .map(str::to_owned)
                .map_err(|_| malformed("a string that is not UTF-8"))
        });
        self.scratch = out;
        s
    }

    fn string_into(&mut self, out: &mut Vec<u8>) -> Res<()> {
        loop {
            let b = self.win.bytes();
            if b.is_empty() {
                if !self.win.more()? {
                    return Err(malformed("the reply ends inside a string"));
                }
                continue;
            }
            let (n, stop) = match b.iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f)) {
                Some(i) => (i, Some(b[i])),
                None => (b.len(), None),
            };
            if (out.len() + n) as u64 + self.used > self.max_value_bytes {
                return Err(CodecError::ValuesTooLarge(self.max_value_bytes));
            }
            out.extend_from_slice(&b[..n]);
            self.win.advance(n + usize::from(stop.is_some()));
            match stop {
                None => {}
                Some(b'"') => return Ok(()),
                Some(b'\\') => self.escape(out)?,
                Some(_) => return Err(malformed("a control character inside a string")),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Res<()> {
        let c = match self.byte()? {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    // A surrogate pair: the low half must follow as another \u escape.
                    if self.byte()? != Some(b'\\') || self.byte()? != Some(b'u') {
                        return Err(malformed("a lone surrogate in a \\u escape"));
                    }
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(malformed("a lone surrogate in a \\u escape"));
                    }
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(cp).ok_or_else(|| malformed("a bad \\u escape"))?
                } else {
                    char::from_u32(hi)
                        .ok_or_else(|| malformed("a lone surrogate in a \\u escape"))?
                }
            }
            _ => return Err(malformed("a bad escape in a string")),
        };
        let mut tmp = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Res<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .byte()?
                .and_then(|b| (b as char).to_digit(16))
                .ok_or_else(|| malformed("a bad \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn valid_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e') | Some(b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+') | Some(b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The XenAPI `ErrorDescription` of a JSON-RPC `error`: xapi's 2.0 error object has the code in
/// `message` and the parameters in `data`; 1.0 (and xapi's fallback path) sends the whole
/// description as an array.
fn error_description(e: Value) -> Res<Vec<String>> {
    match e {
        Value::Array(items) => Ok(items.into_iter().map(text).collect()),
        Value::Struct(members) => {
            let mut message = None;
            let mut data = None;
            let mut code = None;
            for (k, v) in members {
                match k.as_str() {
                    "message" => message = Some(v),
                    "data" => data = Some(v),
                    "code" => code = Some(v),
                    _ => {}
                }
            }
            let mut description = match message {
                Some(m) => vec![text(m)],
                None => match code {
                    Some(c) => vec![text(c)],
                    None => {
                        return Err(malformed(
                            "the reply's error object has no message and no code",
                        ))
                    }
                },
            };
            match data {
                Some(Value::Array(items)) => description.extend(items.into_iter().map(text)),
                Some(Value::Nil) | None => {}
                Some(other) => description.push(text(other)),
            }
            Ok(description)
        }
        Value::String(s) => Ok(vec![s]),
        other => Err(malformed(format!(
            "the reply's error is a {}, not an object",
            other.type_name()
        ))),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Nil => String::new(),
        other => show_value(&other),
    }
}

fn show_value(v: &Value) -> String {
    let mut s = String::new();
    super::encode::write_value(&mut s, v);
    if s.len() > 40 {
        let mut cut = 40;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn shown(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
