//! XML-RPC decoder: recursive descent over quick-xml events, with a depth counter.
//!
//! Two sources feed the same parser: a [`BufRead`] (the HTTP body as it arrives: quick-xml copies
//! each event into a reused buffer, and [`Limited`] enforces the size limit as bytes are read) and
//! a byte slice (a body already in memory: events borrow from it, and the size limit is checked
//! once, up front).

use std::io::BufRead;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::limited::Limited;
use super::{parse_double, CodecError, Limits, Response};
use crate::{DateTime, Value};

/// Decodes a `<methodResponse>` from `input`, reading it as it arrives.
pub fn decode_response<R: BufRead>(input: R, limits: Limits) -> Result<Response, CodecError> {
    Parser::new(Stream::new(input, limits.max_bytes), limits).run(Parser::response)
}

/// Decodes a `<methodResponse>` that is already in memory: the same result as [`decode_response`]
/// on the same bytes, but without copying each event out of the input first.
pub fn decode_response_slice(input: &[u8], limits: Limits) -> Result<Response, CodecError> {
    Parser::new(Slice::new(input, limits)?, limits).run(Parser::response)
}

/// Decodes a `<methodCall>` from `input`: the method name and its parameters.
pub fn decode_call<R: BufRead>(
    input: R,
    limits: Limits,
) -> Result<(String, Vec<Value>), CodecError> {
    Parser::new(Stream::new(input, limits.max_bytes), limits).run(Parser::call)
}

/// Decodes a `<methodCall>` that is already in memory (see [`decode_response_slice`]).
pub fn decode_call_slice(input: &[u8], limits: Limits) -> Result<(String, Vec<Value>), CodecError> {
    Parser::new(Slice::new(input, limits)?, limits).run(Parser::call)
}

/// Decodes one `<value>…</value>` fragment, as `task.get_result` returns it.
pub fn decode_value(xml: &str, limits: Limits) -> Result<Value, CodecError> {
    Parser::new(Slice::new(xml.as_bytes(), limits)?, limits).run(|p| {
        let v = p.value_element(0)?;
        p.expect_eof()?;
        Ok(v)
    })
}

/// Where events come from.
trait Source {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error>;
    /// `Some(limit)` once reading stopped at the size limit.
    fn exceeded(&self) -> Option<u64>;
}

fn configure<R>(reader: &mut Reader<R>) {
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    // Kept on: our grammar checks which element each end tag closes, but `<int>…</i4>` and
    // `<ex:nil></nil>` map to the same tag, and quick-xml keeps the stack of open names either way
    // (the comparison itself is a few instructions).
    config.check_end_names = true;
}

/// A `BufRead` source: events are copied into `buf`, which is reused.
struct Stream<R> {
    reader: Reader<Limited<R>>,
    buf: Vec<u8>,
}

impl<R: BufRead> Stream<R> {
    fn new(input: R, max_bytes: u64) -> Self {
        let mut reader = Reader::from_reader(Limited::new(input, max_bytes));
        configure(&mut reader);
        Stream {
            reader,
            buf: Vec::with_capacity(256),
        }
    }
}

impl<R: BufRead> Source for Stream<R> {
    #[inline]
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.buf.clear();
        self.reader.read_event_into(&mut self.buf)
    }

    fn exceeded(&self) -> Option<u64> {
        let l = self.reader.get_ref();
        l.exceeded.then(|| l.limit())
    }
}

/// An in-memory source: events borrow from the input.
struct Slice<'a> {
    reader: Reader<&'a [u8]>,
}

impl<'a> Slice<'a> {
    /// Refuses input longer than `limits.max_bytes` before reading any of it (the streaming
    /// source refuses it on reaching the limit; both accept exactly `max_bytes`).
    fn new(input: &'a [u8], limits: Limits) -> Result<Self, CodecError> {
        if u64::try_from(input.len()).map_or(true, |n| n > limits.max_bytes) {
            return Err(CodecError::TooLarge(limits.max_bytes));
        }
        let mut reader = Reader::from_reader(input);
        configure(&mut reader);
        Ok(Slice { reader })
    }
}

impl Source for Slice<'_> {
    #[inline]
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.reader.read_event()
    }

    fn exceeded(&self) -> Option<u64> {
        None
    }
}

fn fault(v: Value) -> Result<Response, CodecError> {
    let code = v.get("faultCode").and_then(Value::as_i64);
    let message = v.get("faultString").and_then(Value::as_str);
    match (code, message) {
        (Some(code), Some(message)) => Ok(Response::Fault {
            code,
            message: message.to_owned(),
        }),
        _ => Err(CodecError::Malformed(
            "<fault> without faultCode and faultString".into(),
        )),
    }
}

// The tag table and the special-byte scan are the tokenizer's (shared, so that the two decoders
// differ where the test means them to: in how they read the document).
use super::decode::{has_special, Tag};

/// One markup event; text is appended to `Parser::text` instead.
///
/// An end tag carries no name: quick-xml checks that it matches the innermost open start tag
/// (`check_end_names`), and the grammar below reads every element it accepts through to its end, so
/// the element an end tag closes is always the one the grammar is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Start(Tag),
    End,
    Empty(Tag),
    Text,
    Eof,
}

/// Strings longer than this are moved out of `Parser::text` rather than copied out of it.
const MOVE_TEXT_FROM: usize = 4096;

struct Parser<S> {
    src: S,
    /// The text read since the last markup event (references resolved, line ends normalised).
    text: String,
    /// The members of the structs being read, innermost last: each struct's members are collected
    /// here and moved into an exactly sized `Vec` at `</struct>` (no repeated growth).
    members: Vec<(String, Value)>,
    /// The same for array items.
    items: Vec<Value>,
    limits: Limits,
}

impl<S: Source> Parser<S> {
    fn new(src: S, limits: Limits) -> Self {
        Parser {
            src,
            text: String::with_capacity(256),
            members: Vec::new(),
            items: Vec::new(),
            limits,
        }
    }

    /// Runs `body`, turning a read failure caused by the size limit into `TooLarge`.
    fn run<T>(
        mut self,
        body: impl FnOnce(&mut Self) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        let result = body(&mut self);
        if result.is_err() {
            if let Some(limit) = self.src.exceeded() {
                return Err(CodecError::TooLarge(limit));
            }
        }
        result
    }

    fn response(&mut self) -> Result<Response, CodecError> {
        self.expect_start(Tag::MethodResponse)?;
        let response = match self.next_element()? {
            Ev::Start(Tag::Params) => {
                self.expect_start(Tag::Param)?;
                let v = self.value_element(0)?;
                self.expect_end(Tag::Param)?;
                self.expect_end(Tag::Params)?;
                Response::Value(v)
            }
            Ev::Start(Tag::Fault) => {
                let v = self.value_element(0)?;
                self.expect_end(Tag::Fault)?;
                fault(v)?
            }
            other => return Err(self.unexpected("<params> or <fault>", other)),
        };
        self.expect_end(Tag::MethodResponse)?;
        self.expect_eof()?;
        Ok(response)
    }

    fn call(&mut self) -> Result<(String, Vec<Value>), CodecError> {
        self.expect_start(Tag::MethodCall)?;
        self.expect_start(Tag::MethodName)?;
        let name = self.scalar_text(Tag::MethodName)?.trim().to_owned();
        if name.is_empty() {
            return Err(CodecError::Malformed("empty <methodName>".into()));
        }
        let mut params = Vec::new();
        match self.next_element()? {
            Ev::Start(Tag::Params) => loop {
                match self.next_element()? {
                    Ev::Start(Tag::Param) => {
                        params.push(self.value_element(0)?);
                        self.expect_end(Tag::Param)?;
                    }
                    Ev::End => {
                        self.expect_end(Tag::MethodCall)?;
                        break;
                    }
                    other => return Err(self.unexpected("<param> or </params>", other)),
                }
            },
            Ev::Empty(Tag::Params) => self.expect_end(Tag::MethodCall)?,
            Ev::End => {}
            other => return Err(self.unexpected("<params>", other)),
        }
        self.expect_eof()?;
        Ok((name, params))
    }

    /// The text in `self.text` as an owned string, leaving `self.text` empty: short strings are
    /// copied into an exactly sized allocation (the scratch buffer keeps its capacity), long ones
    /// moved out.
    #[inline]
    fn take_text(&mut self) -> String {
        let s = if self.text.len() < MOVE_TEXT_FROM {
            self.text.as_str().to_owned()
        } else {
            std::mem::take(&mut self.text)
        };
        self.text.clear();
        s
    }

    /// The next event. Text (with entity and character references resolved) goes to `self.text`.
    #[inline]
    fn next(&mut self) -> Result<Ev, CodecError> {
        // A loop, not recursion, over skipped events: a long run of comments must not overflow
        // the stack.
        loop {
            return match self.src.next_event() {
                Ok(Event::Start(e)) => Ok(Ev::Start(tag(e.name().as_ref().as_bytes())?)),
                Ok(Event::End(_)) => Ok(Ev::End),
                Ok(Event::Text(t)) => {
                    push_text(&mut self.text, &t)?;
                    Ok(Ev::Text)
                }
                Ok(Event::Empty(e)) => Ok(Ev::Empty(tag(e.name().as_ref().as_bytes())?)),
                Ok(Event::GeneralRef(r)) => {
                    self.text.push(resolve_ref(&r)?);
                    Ok(Ev::Text)
                }
                Ok(Event::CData(t)) => {
                    push_text(&mut self.text, &t)?;
                    Ok(Ev::Text)
                }
                Ok(Event::Decl(_) | Event::PI(_) | Event::Comment(_)) => continue,
                Ok(Event::DocType(_)) => Err(CodecError::Malformed(
                    "a DOCTYPE is not allowed in XML-RPC (DTDs are never processed)".into(),
                )),
                Ok(Event::Eof) => Ok(Ev::Eof),
                Err(e) => Err(read_error(e)),
            };
        }
    }

    /// The next markup event, skipping whitespace; other text is an error.
    fn next_element(&mut self) -> Result<Ev, CodecError> {
        self.text.clear();
        loop {
            match self.next()? {
                Ev::Text => {
                    if !self.text.trim().is_empty() {
                        return Err(CodecError::Malformed(format!(
                            "unexpected text {:?}",
                            shorten(&self.text)
                        )));
                    }
                    self.text.clear();
                }
                ev => return Ok(ev),
            }
        }
    }

    fn unexpected(&self, wanted: &str, got: Ev) -> CodecError {
        let got = match got {
            Ev::Start(t) => format!("<{}>", t.name()),
            Ev::Empty(t) => format!("<{}/>", t.name()),
            Ev::End => "an end tag".to_owned(),
            Ev::Text => "text".to_owned(),
            Ev::Eof => "the end of the document".to_owned(),
        };
        CodecError::Malformed(format!("expected {wanted}, found {got}"))
    }

    fn expect_start(&mut self, want: Tag) -> Result<(), CodecError> {
        match self.next_element()? {
            Ev::Start(t) if t == want => Ok(()),
            other => Err(self.unexpected(&format!("<{}>", want.name()), other)),
        }
    }

    fn expect_end(&mut self, want: Tag) -> Result<(), CodecError> {
        match self.next_element()? {
            Ev::End => Ok(()),
            other => Err(self.unexpected(&format!("</{}>", want.name()), other)),
        }
    }

    fn expect_eof(&mut self) -> Result<(), CodecError> {
        match self.next_element()? {
            Ev::Eof => Ok(()),
            other => Err(self.unexpected("the end of the document", other)),
        }
    }

    /// The text up to `</tag>`; child elements are an error. Leaves the text in `self.text`.
    fn scalar_text(&mut self, tag: Tag) -> Result<&str, CodecError> {
        self.text.clear();
        loop {
            match self.next()? {
                Ev::Text => {}
                Ev::End => return Ok(&self.text),
                other => return Err(self.unexpected(&format!("text or </{}>", tag.name()), other)),
            }
        }
    }

    /// Expects `<value>`, then reads it.
    fn value_element(&mut self, depth: usize) -> Result<Value, CodecError> {
        match self.next_element()? {
            Ev::Start(Tag::Value) => self.value_body(depth),
            // `<value/>` is an empty untyped string.
            Ev::Empty(Tag::Value) => Ok(Value::String(String::new())),
            other => Err(self.unexpected("<value>", other)),
        }
    }

    /// The inside of a `<value>` whose start tag was read, up to and including `</value>`.
    fn value_body(&mut self, depth: usize) -> Result<Value, CodecError> {
        if depth >= self.limits.max_depth {
            return Err(CodecError::TooDeep(self.limits.max_depth));
        }
        self.text.clear();
        loop {
            match self.next()? {
                Ev::Text => {}
                // An untyped value is a string, kept exactly (no trimming).
                Ev::End => return Ok(Value::String(self.take_text())),
                Ev::Start(t) => {
                    self.whitespace_only()?;
                    let v = self.typed(t, depth)?;
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                Ev::Empty(t) => {
                    self.whitespace_only()?;
                    let v = empty_typed(t)?;
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                other => return Err(self.unexpected("a value", other)),
            }
        }
    }

    fn whitespace_only(&mut self) -> Result<(), CodecError> {
        if self.text.trim().is_empty() {
            self.text.clear();
            Ok(())
        } else {
            Err(CodecError::Malformed(format!(
                "text {:?} beside a typed value",
                shorten(&self.text)
            )))
        }
    }

    /// A typed value whose start tag `<t>` was read, up to and including `</t>`.
    fn typed(&mut self, t: Tag, depth: usize) -> Result<Value, CodecError> {
        match t {
            Tag::String => {
                self.scalar_text(t)?;
                Ok(Value::String(self.take_text()))
            }
            Tag::Int => {
                let s = self.scalar_text(t)?.trim();
                let s = s.strip_prefix('+').unwrap_or(s);
                s.parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| CodecError::Malformed(format!("bad integer {:?}", shorten(s))))
            }
            Tag::Boolean => match self.scalar_text(t)?.trim() {
                "1" | "true" => Ok(Value::Bool(true)),
                "0" | "false" => Ok(Value::Bool(false)),
                s => Err(CodecError::Malformed(format!(
                    "bad boolean {:?}",
                    shorten(s)
                ))),
            },
            Tag::Double => {
                let s = self.scalar_text(t)?.trim();
                parse_double(s)
                    .map(Value::Double)
                    .ok_or_else(|| CodecError::Malformed(format!("bad double {:?}", shorten(s))))
            }
            Tag::DateTime => Ok(Value::DateTime(DateTime::from_wire(
                self.scalar_text(t)?.trim(),
            ))),
            Tag::Base64 => {
                let s = self.scalar_text(t)?;
                let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(&compact)
                    .map(Value::Base64)
                    .map_err(|e| CodecError::Malformed(format!("bad base64: {e}")))
            }
            Tag::Nil => {
                self.expect_end(Tag::Nil)?;
                Ok(Value::Nil)
            }
            Tag::Array => self.array(depth),
            Tag::Struct => self.structure(depth),
            other => Err(CodecError::Malformed(format!(
                "<{}> is not a value type",
                other.name()
            ))),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, CodecError> {
        let base = self.items.len();
        match self.next_element()? {
            Ev::Start(Tag::Data) => loop {
                match self.next_element()? {
                    Ev::Start(Tag::Value) => {
                        let v = self.value_body(depth + 1)?;
                        self.items.push(v);
                    }
                    Ev::Empty(Tag::Value) => self.items.push(Value::String(String::new())),
                    Ev::End => break,
                    other => return Err(self.unexpected("<value> or </data>", other)),
                }
            },
            Ev::Empty(Tag::Data) => {}
            other => return Err(self.unexpected("<data>", other)),
        }
        self.expect_end(Tag::Array)?;
        // On an error above the whole decode fails, so what is left on the stack does not matter.
        Ok(Value::Array(self.items.drain(base..).collect()))
    }

    fn structure(&mut self, depth: usize) -> Result<Value, CodecError> {
        let base = self.members.len();
        loop {
            match self.next_element()? {
                Ev::Start(Tag::Member) => {
                    let mut name = None;
                    let mut value = None;
                    loop {
                        match self.next_element()? {
                            Ev::Start(Tag::Name) if name.is_none() => {
                                self.scalar_text(Tag::Name)?;
                                name = Some(self.take_text());
                            }
                            Ev::Empty(Tag::Name) if name.is_none() => name = Some(String::new()),
                            Ev::Start(Tag::Value) if value.is_none() => {
                                value = Some(self.value_body(depth + 1)?)
                            }
                            Ev::Empty(Tag::Value) if value.is_none() => {
                                value = Some(Value::String(String::new()))
                            }
                            Ev::End => break,
                            other => {
                                return Err(self.unexpected("<name>, <value> or </member>", other))
                            }
                        }
                    }
                    match (name, value) {
                        (Some(n), Some(v)) => self.members.push((n, v)),
                        _ => {
                            return Err(CodecError::Malformed(
                                "<member> needs a <name> and a <value>".into(),
                            ))
                        }
                    }
                }
                Ev::End => return Ok(Value::Struct(self.members.drain(base..).collect())),
                other => return Err(self.unexpected("<member> or </struct>", other)),
            }
        }
    }
}

fn read_error(e: quick_xml::Error) -> CodecError {
    match e {
        quick_xml::Error::Io(e) => CodecError::Io(
            std::sync::Arc::try_unwrap(e)
                .unwrap_or_else(|e| std::io::Error::new(e.kind(), e.to_string())),
        ),
        e => CodecError::Malformed(e.to_string()),
    }
}

/// The character a reference stands for: a character reference, or one of the five predefined
/// entities. Any other entity is refused (there is no DTD to define it, and none is ever read).
fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<char, CodecError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if super::xml_forbidden(c) => Err(forbidden(c)),
            Ok(Some(c)) => Ok(c),
            _ => Err(CodecError::Malformed("invalid character reference".into())),
        };
    }
    match &**r {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(CodecError::Malformed(format!(
            "unknown entity &{}; (entities are never expanded)",
            shorten(other)
        ))),
    }
}

/// Appends text to `out`, with XML 1.0 line-end normalisation (`\r\n` and `\r` become `\n`);
/// a character XML 1.0 forbids (NUL and the other C0 controls but tab, LF and CR; U+FFFE,
/// U+FFFF) makes the document malformed.
#[inline]
fn push_text(out: &mut String, text: &str) -> Result<(), CodecError> {
    // Short texts are the common case: without a special byte the text goes in as it is.
    if !has_special(text.as_bytes()) {
        out.push_str(text);
        return Ok(());
    }
    if let Some(c) = text.chars().find(|c| super::xml_forbidden(*c)) {
        return Err(forbidden(c));
    }
    if text.contains('\r') {
        let mut rest = text;
        while let Some(i) = rest.find('\r') {
            out.push_str(&rest[..i]);
            out.push('\n');
            rest = &rest[i + 1..];
            if let Some(after) = rest.strip_prefix('\n') {
                rest = after;
            }
        }
        out.push_str(rest);
    } else {
        out.push_str(text);
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn forbidden(c: char) -> CodecError {
    CodecError::Malformed(format!(
        "the character U+{:04X} is not allowed in XML 1.0",
        u32::from(c)
    ))
}

#[inline]
fn tag(name: &[u8]) -> Result<Tag, CodecError> {
    match Tag::from_name(name) {
        Some(t) => Ok(t),
        None => Err(unknown_element(name)),
    }
}

#[cold]
#[inline(never)]
fn unknown_element(name: &[u8]) -> CodecError {
    CodecError::Malformed(format!(
        "unknown element <{}>",
        shorten(&String::from_utf8_lossy(name))
    ))
}

fn empty_typed(t: Tag) -> Result<Value, CodecError> {
    match t {
        Tag::String => Ok(Value::String(String::new())),
        Tag::Nil => Ok(Value::Nil),
        Tag::Struct => Ok(Value::Struct(Vec::new())),
        Tag::Array => Ok(Value::Array(Vec::new())),
        Tag::Base64 => Ok(Value::Base64(Vec::new())),
        other => Err(CodecError::Malformed(format!(
            "empty <{}/> has no value",
            other.name()
        ))),
    }
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
