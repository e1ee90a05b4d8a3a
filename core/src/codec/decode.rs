//! Streaming XML-RPC decoder: recursive descent over quick-xml events, with a depth counter.

use std::io::BufRead;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::limited::Limited;
use super::{parse_double, CodecError, Limits, Response};
use crate::{DateTime, Value};

/// Decodes a `<methodResponse>` from `input`.
pub fn decode_response<R: BufRead>(input: R, limits: Limits) -> Result<Response, CodecError> {
    let mut p = Parser::new(input, limits);
    p.run(|p| {
        p.expect_start(Tag::MethodResponse)?;
        let response = match p.next_element()? {
            Ev::Start(Tag::Params) => {
                p.expect_start(Tag::Param)?;
                let v = p.value_element(0)?;
                p.expect_end(Tag::Param)?;
                p.expect_end(Tag::Params)?;
                Response::Value(v)
            }
            Ev::Start(Tag::Fault) => {
                let v = p.value_element(0)?;
                p.expect_end(Tag::Fault)?;
                fault(v)?
            }
            other => return Err(p.unexpected("<params> or <fault>", other)),
        };
        p.expect_end(Tag::MethodResponse)?;
        p.expect_eof()?;
        Ok(response)
    })
}

/// Decodes a `<methodCall>` from `input`: the method name and its parameters.
pub fn decode_call<R: BufRead>(
    input: R,
    limits: Limits,
) -> Result<(String, Vec<Value>), CodecError> {
    let mut p = Parser::new(input, limits);
    p.run(|p| {
        p.expect_start(Tag::MethodCall)?;
        p.expect_start(Tag::MethodName)?;
        let name = p.scalar_text(Tag::MethodName)?.trim().to_owned();
        if name.is_empty() {
            return Err(CodecError::Malformed("empty <methodName>".into()));
        }
        let mut params = Vec::new();
        match p.next_element()? {
            Ev::Start(Tag::Params) => loop {
                match p.next_element()? {
                    Ev::Start(Tag::Param) => {
                        params.push(p.value_element(0)?);
                        p.expect_end(Tag::Param)?;
                    }
                    Ev::End(Tag::Params) => {
                        p.expect_end(Tag::MethodCall)?;
                        break;
                    }
                    other => return Err(p.unexpected("<param> or </params>", other)),
                }
            },
            Ev::Empty(Tag::Params) => p.expect_end(Tag::MethodCall)?,
            Ev::End(Tag::MethodCall) => {}
            other => return Err(p.unexpected("<params>", other)),
        }
        p.expect_eof()?;
        Ok((name, params))
    })
}

/// Decodes one `<value>…</value>` fragment, as `task.get_result` returns it.
pub fn decode_value(xml: &str, limits: Limits) -> Result<Value, CodecError> {
    let mut p = Parser::new(xml.as_bytes(), limits);
    p.run(|p| {
        let v = p.value_element(0)?;
        p.expect_eof()?;
        Ok(v)
    })
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    MethodResponse,
    MethodCall,
    MethodName,
    Params,
    Param,
    Fault,
    Value,
    Struct,
    Member,
    Name,
    Array,
    Data,
    String,
    Int,
    Boolean,
    Double,
    DateTime,
    Base64,
    Nil,
}

impl Tag {
    fn from_name(name: &[u8]) -> Option<Tag> {
        // Extensions come namespaced (`ex:nil`, `ex:i8`): match on the local name.
        let local = match name.iter().rposition(|b| *b == b':') {
            Some(i) => &name[i + 1..],
            None => name,
        };
        Some(match local {
            b"methodResponse" => Tag::MethodResponse,
            b"methodCall" => Tag::MethodCall,
            b"methodName" => Tag::MethodName,
            b"params" => Tag::Params,
            b"param" => Tag::Param,
            b"fault" => Tag::Fault,
            b"value" => Tag::Value,
            b"struct" => Tag::Struct,
            b"member" => Tag::Member,
            b"name" => Tag::Name,
            b"array" => Tag::Array,
            b"data" => Tag::Data,
            b"string" => Tag::String,
            b"int" | b"i4" | b"i8" | b"i2" | b"i1" => Tag::Int,
            b"boolean" => Tag::Boolean,
            b"double" | b"float" => Tag::Double,
            b"dateTime.iso8601" => Tag::DateTime,
            b"base64" => Tag::Base64,
            b"nil" => Tag::Nil,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Tag::MethodResponse => "methodResponse",
            Tag::MethodCall => "methodCall",
            Tag::MethodName => "methodName",
            Tag::Params => "params",
            Tag::Param => "param",
            Tag::Fault => "fault",
            Tag::Value => "value",
            Tag::Struct => "struct",
            Tag::Member => "member",
            Tag::Name => "name",
            Tag::Array => "array",
            Tag::Data => "data",
            Tag::String => "string",
            Tag::Int => "int",
            Tag::Boolean => "boolean",
            Tag::Double => "double",
            Tag::DateTime => "dateTime.iso8601",
            Tag::Base64 => "base64",
            Tag::Nil => "nil",
        }
    }
}

/// One markup event; text is appended to `Parser::text` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Start(Tag),
    End(Tag),
    Empty(Tag),
    Text,
    Eof,
}

struct Parser<R> {
    reader: Reader<Limited<R>>,
    buf: Vec<u8>,
    text: String,
    limits: Limits,
}

impl<R: BufRead> Parser<R> {
    fn new(input: R, limits: Limits) -> Self {
        let mut reader = Reader::from_reader(Limited::new(input, limits.max_bytes));
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        Parser {
            reader,
            buf: Vec::with_capacity(256),
            text: String::new(),
            limits,
        }
    }

    /// Runs `body`, turning a read failure caused by the size limit into `TooLarge`.
    fn run<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        let result = body(self);
        if result.is_err() && self.reader.get_ref().exceeded {
            return Err(CodecError::TooLarge(self.reader.get_ref().limit()));
        }
        result
    }

    /// The next event. Text (with entity and character references resolved) goes to `self.text`.
    fn next(&mut self) -> Result<Ev, CodecError> {
        // A loop, not recursion, over skipped events: a long run of comments must not overflow
        // the stack.
        let event = loop {
            self.buf.clear();
            match self.reader.read_event_into(&mut self.buf) {
                Ok(Event::Decl(_) | Event::PI(_) | Event::Comment(_)) => continue,
                Ok(e) => break e,
                Err(quick_xml::Error::Io(e)) => {
                    let e = std::sync::Arc::try_unwrap(e)
                        .unwrap_or_else(|e| std::io::Error::new(e.kind(), e.to_string()));
                    return Err(CodecError::Io(e));
                }
                Err(e) => return Err(CodecError::Malformed(e.to_string())),
            }
        };
        match event {
            Event::Start(e) => Ok(Ev::Start(tag(e.name().as_ref().as_bytes())?)),
            Event::End(e) => Ok(Ev::End(tag(e.name().as_ref().as_bytes())?)),
            Event::Empty(e) => Ok(Ev::Empty(tag(e.name().as_ref().as_bytes())?)),
            Event::Text(t) => {
                self.text.push_str(&t.xml10_content());
                Ok(Ev::Text)
            }
            Event::CData(t) => {
                self.text.push_str(&t.xml10_content());
                Ok(Ev::Text)
            }
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => self.text.push(c),
                        _ => {
                            return Err(CodecError::Malformed("invalid character reference".into()))
                        }
                    }
                } else {
                    let name = r.xml10_content();
                    let c = match &*name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(CodecError::Malformed(format!(
                                "unknown entity &{other}; (entities are never expanded)"
                            )))
                        }
                    };
                    self.text.push(c);
                }
                Ok(Ev::Text)
            }
            Event::DocType(_) => Err(CodecError::Malformed(
                "a DOCTYPE is not allowed in XML-RPC (DTDs are never processed)".into(),
            )),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => unreachable!("skipped above"),
            Event::Eof => Ok(Ev::Eof),
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
            Ev::End(t) => format!("</{}>", t.name()),
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
            Ev::End(t) if t == want => Ok(()),
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
                Ev::End(t) if t == tag => return Ok(&self.text),
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
                Ev::End(Tag::Value) => return Ok(Value::String(std::mem::take(&mut self.text))),
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
                Ok(Value::String(std::mem::take(&mut self.text)))
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
        let mut items = Vec::new();
        match self.next_element()? {
            Ev::Start(Tag::Data) => loop {
                match self.next_element()? {
                    Ev::Start(Tag::Value) => items.push(self.value_body(depth + 1)?),
                    Ev::Empty(Tag::Value) => items.push(Value::String(String::new())),
                    Ev::End(Tag::Data) => break,
                    other => return Err(self.unexpected("<value> or </data>", other)),
                }
            },
            Ev::Empty(Tag::Data) => {}
            other => return Err(self.unexpected("<data>", other)),
        }
        self.expect_end(Tag::Array)?;
        Ok(Value::Array(items))
    }

    fn structure(&mut self, depth: usize) -> Result<Value, CodecError> {
        let mut members = Vec::new();
        loop {
            match self.next_element()? {
                Ev::Start(Tag::Member) => {
                    let mut name = None;
                    let mut value = None;
                    loop {
                        match self.next_element()? {
                            Ev::Start(Tag::Name) if name.is_none() => {
                                self.scalar_text(Tag::Name)?;
                                name = Some(std::mem::take(&mut self.text));
                            }
                            Ev::Empty(Tag::Name) if name.is_none() => name = Some(String::new()),
                            Ev::Start(Tag::Value) if value.is_none() => {
                                value = Some(self.value_body(depth + 1)?)
                            }
                            Ev::Empty(Tag::Value) if value.is_none() => {
                                value = Some(Value::String(String::new()))
                            }
                            Ev::End(Tag::Member) => break,
                            other => {
                                return Err(self.unexpected("<name>, <value> or </member>", other))
                            }
                        }
                    }
                    match (name, value) {
                        (Some(n), Some(v)) => members.push((n, v)),
                        _ => {
                            return Err(CodecError::Malformed(
                                "<member> needs a <name> and a <value>".into(),
                            ))
                        }
                    }
                }
                Ev::End(Tag::Struct) => return Ok(Value::Struct(members)),
                other => return Err(self.unexpected("<member> or </struct>", other)),
            }
        }
    }
}

fn tag(name: &[u8]) -> Result<Tag, CodecError> {
    Tag::from_name(name).ok_or_else(|| {
        CodecError::Malformed(format!(
            "unknown element <{}>",
            shorten(&String::from_utf8_lossy(name))
        ))
    })
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
