//! XML-RPC decoder made for XML-RPC's small grammar: a tokenizer over the bytes (not a general XML
//! event loop) feeding a recursive-descent parser, with depth, size and memory limits.
//!
//! Input comes through a [`Window`]: bytes already in memory (nothing is copied but the text that
//! becomes values), or a reader, read piece by piece into a buffer that keeps only the unread
//! bytes. Only a tag has to be whole in that buffer (at most [`MAX_TAG`] bytes); text, comments,
//! processing instructions and CDATA are read a piece at a time, so memory stays bounded whatever
//! the document holds.
//!
//! Refused: a DOCTYPE (no DTD is ever read, no entity ever expanded), any reference but the five
//! predefined entities and character references, characters XML 1.0 forbids, text that is not
//! UTF-8, an end tag that does not match its start tag literally (`<int>…</i4>`), unknown elements,
//! and values whose memory would pass [`Limits::max_value_bytes`].

use std::io;
use std::mem::size_of;

use base64::Engine as _;

use super::window::{ReadWindow, SliceWindow, Window};
use super::{parse_double, CodecError, Limits, Response};
use crate::{DateTime, Value};

/// The longest tag (name and attributes) accepted: XML-RPC's tags are a few bytes, and a
/// namespace declaration a few dozen.
pub(crate) const MAX_TAG: usize = 16 * 1024;

/// Decodes a `<methodResponse>` from `input`, reading it as it arrives.
pub fn decode_response<R: io::BufRead>(input: R, limits: Limits) -> Result<Response, CodecError> {
    Parser::new(ReadWindow::new(input, limits.max_bytes), limits).run(Parser::response)
}

/// Decodes a `<methodResponse>` that is already in memory: the same result as [`decode_response`]
/// on the same bytes, without copying the input first.
pub fn decode_response_slice(input: &[u8], limits: Limits) -> Result<Response, CodecError> {
    Parser::new(SliceWindow::new(input, limits)?, limits).run(Parser::response)
}

/// Decodes a `<methodCall>` from `input`: the method name and its parameters.
pub fn decode_call<R: io::BufRead>(
    input: R,
    limits: Limits,
) -> Result<(String, Vec<Value>), CodecError> {
    Parser::new(ReadWindow::new(input, limits.max_bytes), limits).run(Parser::call)
}

/// Decodes a `<methodCall>` that is already in memory (see [`decode_response_slice`]).
pub fn decode_call_slice(input: &[u8], limits: Limits) -> Result<(String, Vec<Value>), CodecError> {
    Parser::new(SliceWindow::new(input, limits)?, limits).run(Parser::call)
}

/// Decodes one `<value>…</value>` fragment, as `task.get_result` returns it.
pub fn decode_value(xml: &str, limits: Limits) -> Result<Value, CodecError> {
    Parser::new(SliceWindow::new(xml.as_bytes(), limits)?, limits).run(|p| {
        let v = p.value_element(0)?;
        p.expect_eof()?;
        Ok(v)
    })
}

// ---------------------------------------------------------------------------------------------
// Text and the memory budget

/// What decoding builds is counted against [`Limits::max_value_bytes`] as the memory it takes:
/// each heap block (a string's bytes, an array's or struct's slots at their exact size) with the
/// allocator's overhead, and the capacity of the stacks values wait on until their array or
/// struct is complete, charged before they grow.
const HEAP_OVERHEAD: u64 = 16;

#[inline]
fn heap_cost(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        len as u64 + HEAP_OVERHEAD
    }
}

/// The block holding `n` items or members.
#[inline]
fn block_cost<T>(n: usize) -> u64 {
    heap_cost(n * size_of::<T>())
}

/// Strings at least this long are moved out of the scratch buffer rather than copied out of it.
const MOVE_TEXT_FROM: usize = 4096;

/// The text read since the last markup (line ends folded, references resolved), and the memory the
/// values built so far take.
struct Text {
    buf: Vec<u8>,
    /// Whether `buf` may hold a byte to look at when it is taken: a control character or 0xEF
    /// (the lead byte of U+FFFE and U+FFFF).
    special: bool,
    /// The last byte read raw was a carriage return (already folded): a line feed right after it
    /// belongs to the same line end.
    after_cr: bool,
    used: u64,
    max: u64,
}

impl Text {
    #[inline(always)]
    fn clear(&mut self) {
        self.buf.clear();
        self.special = false;
        self.after_cr = false;
    }

    /// Counts `n` bytes of values built.
    #[inline(always)]
    fn charge(&mut self, n: u64) -> Result<(), CodecError> {
        self.used += n;
        if self.used > self.max {
            return Err(CodecError::ValuesTooLarge(self.max));
        }
        Ok(())
    }

    /// Makes room for one more item on a stack, counting the growth first (the stack doubles).
    #[inline]
    fn reserve<T>(&mut self, stack: &mut Vec<T>) -> Result<(), CodecError> {
        if stack.len() == stack.capacity() {
            let more = stack.capacity().max(16);
            self.charge((more * size_of::<T>()) as u64)?;
            stack.reserve_exact(more);
        }
        Ok(())
    }

    /// Appends text as it appears in the document, folding `\r\n` and `\r` to `\n` (XML 1.0).
    #[inline]
    fn push_raw(&mut self, s: &[u8]) -> Result<(), CodecError> {
        if s.is_empty() {
            return Ok(());
        }
        if (self.buf.len() + s.len()) as u64 + self.used > self.max {
            return Err(CodecError::ValuesTooLarge(self.max));
        }
        if !has_special(s) {
            self.buf.extend_from_slice(s);
            self.after_cr = false;
            return Ok(());
        }
        self.push_special(s);
        Ok(())
    }

    #[cold]
    fn push_special(&mut self, mut s: &[u8]) {
        self.special = true;
        if self.after_cr && s[0] == b'\n' {
            s = &s[1..];
        }
        self.after_cr = false;
        while let Some(i) = memchr::memchr(b'\r', s) {
            self.buf.extend_from_slice(&s[..i]);
            self.buf.push(b'\n');
            s = &s[i + 1..];
            match s.first() {
                Some(b'\n') => s = &s[1..],
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        self.buf.extend_from_slice(s);
    }

    /// Appends a character a reference stands for (never folded, never forbidden: see
    /// [`resolve`]).
    fn push_char(&mut self, c: char) -> Result<(), CodecError> {
        self.after_cr = false;
        if (self.buf.len() + 4) as u64 + self.used > self.max {
            return Err(CodecError::ValuesTooLarge(self.max));
        }
        let mut utf8 = [0u8; 4];
        self.buf
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        Ok(())
    }

    /// The text, checked: UTF-8, and no character XML 1.0 forbids.
    #[inline]
    fn as_str(&self) -> Result<&str, CodecError> {
        let s = std::str::from_utf8(&self.buf).map_err(|_| not_utf8())?;
        if self.special {
            check_chars(s)?;
        }
        Ok(s)
    }

    /// The text as an owned string (checked as by [`Text::as_str`]), leaving the buffer empty.
    #[inline]
    fn take(&mut self) -> Result<String, CodecError> {
        let s = if self.buf.len() < MOVE_TEXT_FROM {
            self.as_str()?.to_owned()
        } else {
            let s = String::from_utf8(std::mem::take(&mut self.buf)).map_err(|_| not_utf8())?;
            check_chars(&s)?;
            s
        };
        self.clear();
        Ok(s)
    }

    /// Whether the text is only whitespace (as `str::trim` sees it).
    fn is_blank(&self) -> Result<bool, CodecError> {
        if self.buf.iter().all(|b| is_ws(*b)) {
            return Ok(true);
        }
        Ok(self.as_str()?.trim().is_empty())
    }

    fn shown(&self) -> String {
        shorten(&String::from_utf8_lossy(&self.buf))
    }
}

/// How much of `b` is UTF-8, allowing for a character cut short at its end; an error for bytes
/// that are not UTF-8 before that.
fn utf8_prefix(b: &[u8]) -> Result<usize, CodecError> {
    match std::str::from_utf8(b) {
        Ok(_) => Ok(b.len()),
        Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
        Err(_) => Err(not_utf8()),
    }
}

/// Slice equality without a `memcmp` call: names are a few bytes.
#[inline(always)]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn check_chars(s: &str) -> Result<(), CodecError> {
    match s.chars().find(|c| super::xml_forbidden(*c)) {
        Some(c) => Err(forbidden(c)),
        None => Ok(()),
    }
}

#[cold]
fn not_utf8() -> CodecError {
    CodecError::Malformed("text that is not UTF-8".into())
}

#[inline(always)]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

// ---------------------------------------------------------------------------------------------
// Tags

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
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
    #[inline]
    pub(super) fn from_name(name: &[u8]) -> Option<Tag> {
        // Extensions come namespaced (`ex:nil`, `ex:i8`): match on the local name. No known name
        // has a `:`, so the whole name is tried first and the `:` looked for only if that fails.
        match Tag::from_local(name) {
            Some(t) => Some(t),
            None => Tag::from_prefixed(name),
        }
    }

    #[cold]
    #[inline(never)]
    fn from_prefixed(name: &[u8]) -> Option<Tag> {
        let i = name.iter().rposition(|b| *b == b':')?;
        if i == 0 {
            return None;
        }
        Tag::from_local(&name[i + 1..])
    }

    /// By length first, then bytes (a handful of compares instead of up to 23).
    #[inline]
    fn from_local(name: &[u8]) -> Option<Tag> {
        Some(match name.len() {
            2 => match name {
                b"i4" | b"i8" | b"i2" | b"i1" => Tag::Int,
                _ => return None,
            },
            3 => match name {
                b"int" => Tag::Int,
                b"nil" => Tag::Nil,
                _ => return None,
            },
            4 => match name {
                b"name" => Tag::Name,
                b"data" => Tag::Data,
                _ => return None,
            },
            5 => match name {
                b"value" => Tag::Value,
                b"array" => Tag::Array,
                b"param" => Tag::Param,
                b"fault" => Tag::Fault,
                b"float" => Tag::Double,
                _ => return None,
            },
            6 => match name {
                b"member" => Tag::Member,
                b"struct" => Tag::Struct,
                b"string" => Tag::String,
                b"params" => Tag::Params,
                b"double" => Tag::Double,
                b"base64" => Tag::Base64,
                _ => return None,
            },
            7 if name == b"boolean" => Tag::Boolean,
            10 => match name {
                b"methodCall" => Tag::MethodCall,
                b"methodName" => Tag::MethodName,
                _ => return None,
            },
            14 if name == b"methodResponse" => Tag::MethodResponse,
            16 if name == b"dateTime.iso8601" => Tag::DateTime,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
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

/// One markup token. An end tag carries no name: the tokenizer checks that it closes the innermost
/// open element literally, and the grammar reads every element it accepts through to its end, so
/// the element an end tag closes is always the one the grammar is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Start(Tag),
    End,
    Empty(Tag),
    Eof,
}

/// What `<` began.
enum Markup {
    Tag(Ev),
    /// A comment or processing instruction, skipped.
    Skipped,
    /// A CDATA section, whose text was appended.
    CData,
}

/// An element not yet closed: its tag, and where its name is kept in `Parser::names` when it is
/// not the tag's own name (`i4`, `ex:nil`).
#[derive(Clone, Copy)]
struct Open {
    tag: Tag,
    name_len: u16,
    name_at: u32,
}

const OWN_NAME: u32 = u32::MAX;

// ---------------------------------------------------------------------------------------------
// The tokenizer and the grammar

struct Parser<W> {
    win: W,
    text: Text,
    open: Vec<Open>,
    names: Vec<u8>,
    /// The members of the structs being read, innermost last: each struct's members are collected
    /// here and moved into an exactly sized `Vec` at `</struct>` (no repeated growth).
    members: Vec<(String, Value)>,
    /// The same for array items.
    items: Vec<Value>,
    max_depth: usize,
}

impl<W: Window> Parser<W> {
    fn new(win: W, limits: Limits) -> Self {
        Parser {
            win,
            text: Text {
                buf: Vec::with_capacity(256),
                special: false,
                after_cr: false,
                used: 0,
                max: limits.max_value_bytes,
            },
            open: Vec::with_capacity(16),
            names: Vec::new(),
            members: Vec::new(),
            items: Vec::new(),
            max_depth: limits.max_depth,
        }
    }

    fn run<T>(
        mut self,
        body: impl FnOnce(&mut Self) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        // A UTF-8 byte order mark is not part of the document.
        if self.starts_with(b"\xEF\xBB\xBF")? {
            self.win.advance(3);
        }
        body(&mut self)
    }

    // --- bytes

    /// Whether at least `n` bytes are available, reading more if needed.
    #[inline]
    fn have(&mut self, n: usize) -> Result<bool, CodecError> {
        while self.win.bytes().len() < n {
            if !self.win.more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn starts_with(&mut self, prefix: &[u8]) -> Result<bool, CodecError> {
        self.have(prefix.len())?;
        Ok(self.win.bytes().starts_with(prefix))
    }

    /// Consumes everything up to and including `end`, which must come before the input ends; what
    /// it skips must be UTF-8 all the same.
    fn skip_past(&mut self, end: &[u8], what: &str) -> Result<(), CodecError> {
        loop {
            let b = self.win.bytes();
            if let Some(i) = memchr::memmem::find(b, end) {
                std::str::from_utf8(&b[..i]).map_err(|_| not_utf8())?;
                self.win.advance(i + end.len());
                return Ok(());
            }
            // Keep what could be the start of `end`, or of a character cut by the window's end.
            let keep = b.len().min(end.len() - 1);
            let n = utf8_prefix(&b[..b.len() - keep])?;
            self.win.advance(n);
            if !self.win.more()? {
                return Err(CodecError::Malformed(format!(
                    "the document ends inside {what}"
                )));
            }
        }
    }

    // --- markup

    /// The index of the `>` that ends the tag starting the window, reading more as needed.
    #[inline]
    fn tag_end(&mut self) -> Result<usize, CodecError> {
        let mut i = 1;
        let mut quote = 0u8;
        loop {
            let b = self.win.bytes();
            let b = &b[..b.len().min(MAX_TAG + 1)];
            while i < b.len() {
                let c = b[i];
                if quote != 0 {
                    if c == quote {
                        quote = 0;
                    } else if c == b'<' {
                        return Err(CodecError::Malformed("`<` inside a tag".into()));
                    }
                } else {
                    match c {
                        b'>' => return Ok(i),
                        b'"' | b'\'' => quote = c,
                        b'<' => return Err(CodecError::Malformed("`<` inside a tag".into())),
                        _ => {}
                    }
                }
                i += 1;
            }
            if i > MAX_TAG {
                return Err(CodecError::Malformed(format!(
                    "a tag longer than {MAX_TAG} bytes"
                )));
            }
            if !self.win.more()? {
                return Err(CodecError::Malformed(
                    "the document ends inside a tag".into(),
                ));
            }
        }
    }

    /// Reads the markup that starts the window (`<`).
    #[inline]
    fn markup(&mut self) -> Result<Markup, CodecError> {
        self.text.after_cr = false;
        if !self.have(2)? {
            return Err(CodecError::Malformed(
                "the document ends inside a tag".into(),
            ));
        }
        match self.win.bytes()[1] {
            b'/' => self.end_tag().map(Markup::Tag),
            b'!' => self.bang(),
            b'?' => {
                // A processing instruction starts with its target's name: `<?>` and `<??` are
                // not one (and `<?>…?>` must not pass for one closed further on).
                if !self.have(3)? || matches!(self.win.bytes()[2], b'?' | b'>') {
                    return Err(CodecError::Malformed(
                        "a processing instruction without a target".into(),
                    ));
                }
                self.win.advance(2);
                self.skip_past(b"?>", "a processing instruction")?;
                Ok(Markup::Skipped)
            }
            _ => self.start_tag().map(Markup::Tag),
        }
    }

    #[inline]
    fn start_tag(&mut self) -> Result<Ev, CodecError> {
        // The common case first: a bare name and `>` or `/>`, all in the window.
        let b = self.win.bytes();
        let n = b.len().min(MAX_TAG);
        let mut i = 1;
        while i < n
            && !matches!(
                b[i],
                b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'<'
            )
        {
            i += 1;
        }
        if i < n {
            let empty = match b[i] {
                b'>' => Some(false),
                b'/' if b.get(i + 1) == Some(&b'>') => Some(true),
                _ => None,
            };
            if let Some(empty) = empty {
                let name = &b[1..i];
                let tag = match Tag::from_name(name) {
                    Some(t) => t,
                    None => return Err(unknown_element(name)),
                };
                if empty {
                    self.win.advance(i + 2);
                    return Ok(Ev::Empty(tag));
                }
                if short_eq(name, tag.name().as_bytes()) {
                    self.open.push(Open {
                        tag,
                        name_len: 0,
                        name_at: OWN_NAME,
                    });
                    self.win.advance(i + 1);
                    return Ok(Ev::Start(tag));
                }
            }
        }
        self.start_tag_slow()
    }

    /// A start tag with attributes or an unusual name, or not all in the window yet.
    #[inline(never)]
    fn start_tag_slow(&mut self) -> Result<Ev, CodecError> {
        let end = self.tag_end()?;
        let b = &self.win.bytes()[1..end];
        let (inner, empty) = match b.split_last() {
            Some((b'/', inner)) => (inner, true),
            _ => (b, false),
        };
        // Attributes (namespace declarations) are allowed and ignored, but must be UTF-8.
        std::str::from_utf8(inner).map_err(|_| not_utf8())?;
        let name = match inner.iter().position(|c| is_ws(*c)) {
            Some(i) => &inner[..i],
            None => inner,
        };
        let tag = match Tag::from_name(name) {
            Some(t) => t,
            None => return Err(unknown_element(name)),
        };
        if !empty {
            // A name fits in a u16: the whole tag is at most MAX_TAG bytes.
            let name_at = if name == tag.name().as_bytes() {
                OWN_NAME
            } else {
                let at = self.names.len() as u32;
                self.names.extend_from_slice(name);
                at
            };
            self.open.push(Open {
                tag,
                name_len: name.len() as u16,
                name_at,
            });
        }
        self.win.advance(end + 1);
        Ok(if empty {
            Ev::Empty(tag)
        } else {
            Ev::Start(tag)
        })
    }

    #[inline]
    fn end_tag(&mut self) -> Result<Ev, CodecError> {
        // The common case first: `</name>` closing an element with its tag's own name.
        if let Some(open) = self.open.last() {
            if open.name_at == OWN_NAME {
                let want = open.tag.name().as_bytes();
                let b = self.win.bytes();
                if b.len() > want.len() + 2
                    && b[want.len() + 2] == b'>'
                    && short_eq(&b[2..want.len() + 2], want)
                {
                    self.open.pop();
                    self.win.advance(want.len() + 3);
                    return Ok(Ev::End);
                }
            }
        }
        self.end_tag_slow()
    }

    #[inline(never)]
    fn end_tag_slow(&mut self) -> Result<Ev, CodecError> {
        let end = self.tag_end()?;
        let b = &self.win.bytes()[2..end];
        let name = match b.iter().rposition(|c| !is_ws(*c)) {
            Some(i) => &b[..=i],
            None => &b[..0],
        };
        let Some(open) = self.open.pop() else {
            return Err(CodecError::Malformed(format!(
                "</{}> closes no element",
                shorten(&String::from_utf8_lossy(name))
            )));
        };
        let want: &[u8] = if open.name_at == OWN_NAME {
            open.tag.name().as_bytes()
        } else {
            let at = open.name_at as usize;
            &self.names[at..at + usize::from(open.name_len)]
        };
        if name != want {
            return Err(CodecError::Malformed(format!(
                "</{}> does not close <{}>",
                shorten(&String::from_utf8_lossy(name)),
                shorten(&String::from_utf8_lossy(want))
            )));
        }
        if open.name_at != OWN_NAME {
            self.names.truncate(open.name_at as usize);
        }
        self.win.advance(end + 1);
        Ok(Ev::End)
    }

    /// `<!`: a comment, CDATA, or a DOCTYPE (refused).
    fn bang(&mut self) -> Result<Markup, CodecError> {
        if self.starts_with(b"<!--")? {
            self.win.advance(4);
            self.skip_past(b"-->", "a comment")?;
            return Ok(Markup::Skipped);
        }
        if self.starts_with(b"<![CDATA[")? {
            self.win.advance(9);
            self.cdata()?;
            return Ok(Markup::CData);
        }
        if self.starts_with(b"<!DOCTYPE")? {
            return Err(CodecError::Malformed(
                "a DOCTYPE is not allowed in XML-RPC (DTDs are never processed)".into(),
            ));
        }
        Err(CodecError::Malformed("unknown markup after `<!`".into()))
    }

    /// The text of a CDATA section whose `<![CDATA[` was read, through `]]>`.
    fn cdata(&mut self) -> Result<(), CodecError> {
        loop {
            let b = self.win.bytes();
            if let Some(i) = memchr::memmem::find(b, b"]]>") {
                self.text.push_raw(&b[..i])?;
                self.win.advance(i + 3);
                self.text.after_cr = false;
                return Ok(());
            }
            let keep = b.len().min(2);
            let n = b.len() - keep;
            self.text.push_raw(&b[..n])?;
            self.win.advance(n);
            if !self.win.more()? {
                return Err(CodecError::Malformed(
                    "the document ends inside CDATA".into(),
                ));
            }
        }
    }

    /// The character the reference starting the window (`&`) stands for.
    fn reference(&mut self) -> Result<char, CodecError> {
        // The longest sensible reference is a character reference with a few leading zeros.
        const LONGEST: usize = 40;
        loop {
            let b = self.win.bytes();
            let scan = &b[..b.len().min(LONGEST)];
            if let Some(i) = memchr::memchr(b';', scan) {
                let c = resolve(&b[1..i])?;
                self.win.advance(i + 1);
                return Ok(c);
            }
            if b.len() >= LONGEST || !self.win.more()? {
                return Err(CodecError::Malformed(
                    "`&` without a reference after it".into(),
                ));
            }
        }
    }

    /// Appends text, CDATA and references to `self.text`, skipping comments and processing
    /// instructions, up to the next tag (or the end of input).
    #[inline]
    fn text_then_markup(&mut self) -> Result<Ev, CodecError> {
        loop {
            let b = self.win.bytes();
            match memchr::memchr2(b'<', b'&', b) {
                Some(i) => {
                    let c = b[i];
                    self.text.push_raw(&b[..i])?;
                    self.win.advance(i);
                    if c == b'<' {
                        if let Markup::Tag(ev) = self.markup()? {
                            return Ok(ev);
                        }
                    } else {
                        let c = self.reference()?;
                        self.text.push_char(c)?;
                    }
                }
                None => {
                    let n = b.len();
                    self.text.push_raw(b)?;
                    self.win.advance(n);
                    if !self.win.more()? {
                        return Ok(Ev::Eof);
                    }
                }
            }
        }
    }

    /// The next tag, skipping whitespace (which is never kept, however long), comments and
    /// processing instructions; other text is an error.
    fn next_element(&mut self) -> Result<Ev, CodecError> {
        self.text.clear();
        loop {
            let b = self.win.bytes();
            let Some(&c) = b.first() else {
                if self.win.more()? {
                    continue;
                }
                return Ok(Ev::Eof);
            };
            match c {
                b'<' => match self.markup()? {
                    Markup::Tag(ev) => {
                        self.text.clear();
                        return Ok(ev);
                    }
                    Markup::Skipped => {}
                    Markup::CData => self.blank_so_far()?,
                },
                _ if is_ws(c) => {
                    let n = b.iter().position(|c| !is_ws(*c)).unwrap_or(b.len());
                    self.win.advance(n);
                }
                b'&' => {
                    let c = self.reference()?;
                    self.text.push_char(c)?;
                    self.blank_so_far()?;
                }
                _ => {
                    // Other text: read it through, for the message (or, rarely, to find that it
                    // is whitespace after all: `str::trim` knows more than XML's four).
                    let n = memchr::memchr2(b'<', b'&', b).unwrap_or(b.len());
                    self.text.push_raw(&b[..n])?;
                    self.win.advance(n);
                    self.blank_so_far()?;
                }
            }
        }
    }

    fn blank_so_far(&self) -> Result<(), CodecError> {
        if self.text.is_blank()? {
            Ok(())
        } else {
            Err(CodecError::Malformed(format!(
                "unexpected text {:?}",
                self.text.shown()
            )))
        }
    }

    // --- grammar

    fn unexpected(&self, wanted: &str, got: Ev) -> CodecError {
        let got = match got {
            Ev::Start(t) => format!("<{}>", t.name()),
            Ev::Empty(t) => format!("<{}/>", t.name()),
            Ev::End => "an end tag".to_owned(),
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

    #[inline]
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
        self.scalar_text(Tag::MethodName)?;
        let name = self.text.as_str()?.trim().to_owned();
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

    /// The text up to `</tag>`, left in `self.text`; child elements are an error.
    #[inline]
    fn scalar_text(&mut self, tag: Tag) -> Result<(), CodecError> {
        self.text.clear();
        match self.text_then_markup()? {
            Ev::End => Ok(()),
            other => Err(self.unexpected(&format!("text or </{}>", tag.name()), other)),
        }
    }

    /// A string value from the text read.
    #[inline]
    fn string_value(&mut self) -> Result<Value, CodecError> {
        let s = self.text.take()?;
        self.text.charge(heap_cost(s.len()))?;
        Ok(Value::String(s))
    }

    /// Expects `<value>`, then reads it.
    fn value_element(&mut self, depth: usize) -> Result<Value, CodecError> {
        match self.next_element()? {
            Ev::Start(Tag::Value) => self.value_body(depth),
            // `<value/>` is an empty untyped string.
            Ev::Empty(Tag::Value) => self.empty_string(),
            other => Err(self.unexpected("<value>", other)),
        }
    }

    #[inline]
    fn empty_string(&mut self) -> Result<Value, CodecError> {
        Ok(Value::String(String::new()))
    }

    /// The inside of a `<value>` whose start tag was read, up to and including `</value>`.
    fn value_body(&mut self, depth: usize) -> Result<Value, CodecError> {
        if depth >= self.max_depth {
            return Err(CodecError::TooDeep(self.max_depth));
        }
        self.text.clear();
        match self.text_then_markup()? {
            // An untyped value is a string, kept exactly (no trimming).
            Ev::End => self.string_value(),
            Ev::Start(t) => {
                self.whitespace_only()?;
                let v = self.typed(t, depth)?;
                self.expect_end(Tag::Value)?;
                Ok(v)
            }
            Ev::Empty(t) => {
                self.whitespace_only()?;
                let v = empty_typed(t)?;
                self.expect_end(Tag::Value)?;
                Ok(v)
            }
            other => Err(self.unexpected("a value", other)),
        }
    }

    fn whitespace_only(&mut self) -> Result<(), CodecError> {
        if self.text.is_blank()? {
            self.text.clear();
            Ok(())
        } else {
            Err(CodecError::Malformed(format!(
                "text {:?} beside a typed value",
                self.text.shown()
            )))
        }
    }

    /// A typed value whose start tag `<t>` was read, up to and including `</t>`.
    fn typed(&mut self, t: Tag, depth: usize) -> Result<Value, CodecError> {
        let v = match t {
            Tag::String => {
                self.scalar_text(t)?;
                return self.string_value();
            }
            Tag::Array => return self.array(depth),
            Tag::Struct => return self.structure(depth),
            Tag::Int => {
                self.scalar_text(t)?;
                let s = self.text.as_str()?.trim();
                let s = s.strip_prefix('+').unwrap_or(s);
                s.parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| CodecError::Malformed(format!("bad integer {:?}", shorten(s))))?
            }
            Tag::Boolean => {
                self.scalar_text(t)?;
                match self.text.as_str()?.trim() {
                    "1" | "true" => Value::Bool(true),
                    "0" | "false" => Value::Bool(false),
                    s => {
                        return Err(CodecError::Malformed(format!(
                            "bad boolean {:?}",
                            shorten(s)
                        )))
                    }
                }
            }
            Tag::Double => {
                self.scalar_text(t)?;
                let s = self.text.as_str()?.trim();
                parse_double(s)
                    .map(Value::Double)
                    .ok_or_else(|| CodecError::Malformed(format!("bad double {:?}", shorten(s))))?
            }
            Tag::DateTime => {
                self.scalar_text(t)?;
                let s = self.text.as_str()?.trim().to_owned();
                self.text.charge(heap_cost(s.len()))?;
                Value::DateTime(DateTime::from_wire(s))
            }
            Tag::Base64 => {
                self.scalar_text(t)?;
                let compact: Vec<u8> = self
                    .text
                    .as_str()?
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&compact)
                    .map_err(|e| CodecError::Malformed(format!("bad base64: {e}")))?;
                self.text.charge(heap_cost(bytes.len()))?;
                Value::Base64(bytes)
            }
            Tag::Nil => {
                self.expect_end(Tag::Nil)?;
                Value::Nil
            }
            other => {
                return Err(CodecError::Malformed(format!(
                    "<{}> is not a value type",
                    other.name()
                )))
            }
        };
        Ok(v)
    }

    fn array(&mut self, depth: usize) -> Result<Value, CodecError> {
        let base = self.items.len();
        match self.next_element()? {
            Ev::Start(Tag::Data) => loop {
                match self.next_element()? {
                    Ev::Start(Tag::Value) => {
                        let v = self.value_body(depth + 1)?;
                        self.text.reserve(&mut self.items)?;
                        self.items.push(v);
                    }
                    Ev::Empty(Tag::Value) => {
                        let v = self.empty_string()?;
                        self.text.reserve(&mut self.items)?;
                        self.items.push(v);
                    }
                    Ev::End => break,
                    other => return Err(self.unexpected("<value> or </data>", other)),
                }
            },
            Ev::Empty(Tag::Data) => {}
            other => return Err(self.unexpected("<data>", other)),
        }
        self.expect_end(Tag::Array)?;
        let n = self.items.len() - base;
        self.text.charge(block_cost::<Value>(n))?;
        // On an error above the whole decode fails, so what is left on the stack does not matter.
        Ok(Value::Array(self.items.drain(base..).collect()))
    }

    fn structure(&mut self, depth: usize) -> Result<Value, CodecError> {
        let base = self.members.len();
        loop {
            match self.next_element()? {
                Ev::Start(Tag::Member) => {
                    let member = self.member(depth)?;
                    self.text.reserve(&mut self.members)?;
                    self.members.push(member);
                }
                Ev::End => {
                    let n = self.members.len() - base;
                    self.text.charge(block_cost::<(String, Value)>(n))?;
                    return Ok(Value::Struct(self.members.drain(base..).collect()));
                }
                other => return Err(self.unexpected("<member> or </struct>", other)),
            }
        }
    }

    /// A `<member>` whose start tag was read, through `</member>`.
    fn member(&mut self, depth: usize) -> Result<(String, Value), CodecError> {
        let mut name = None;
        let mut value = None;
        loop {
            match self.next_element()? {
                Ev::Start(Tag::Name) if name.is_none() => {
                    self.scalar_text(Tag::Name)?;
                    let n = self.text.take()?;
                    self.text.charge(heap_cost(n.len()))?;
                    name = Some(n);
                }
                Ev::Empty(Tag::Name) if name.is_none() => name = Some(String::new()),
                Ev::Start(Tag::Value) if value.is_none() => {
                    value = Some(self.value_body(depth + 1)?)
                }
                Ev::Empty(Tag::Value) if value.is_none() => value = Some(self.empty_string()?),
                Ev::End => break,
                other => return Err(self.unexpected("<name>, <value> or </member>", other)),
            }
        }
        match (name, value) {
            (Some(n), Some(v)) => Ok((n, v)),
            _ => Err(CodecError::Malformed(
                "<member> needs a <name> and a <value>".into(),
            )),
        }
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

/// The character a reference (between `&` and `;`) stands for: a character reference, or one of
/// the five predefined entities. Any other entity is refused (there is no DTD to define it, and
/// none is ever read), and so is a character XML 1.0 forbids.
fn resolve(r: &[u8]) -> Result<char, CodecError> {
    let number = match r {
        b"amp" => return Ok('&'),
        b"lt" => return Ok('<'),
        b"gt" => return Ok('>'),
        b"quot" => return Ok('"'),
        b"apos" => return Ok('\''),
        [b'#', b'x', hex @ ..] if !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit) => {
            digits(hex, 16)
        }
        [b'#', dec @ ..] if !dec.is_empty() && dec.iter().all(u8::is_ascii_digit) => {
            digits(dec, 10)
        }
        [b'#', ..] => None,
        other => {
            return Err(CodecError::Malformed(format!(
                "unknown entity &{}; (entities are never expanded)",
                shorten(&String::from_utf8_lossy(other))
            )))
        }
    };
    match number.and_then(char::from_u32) {
        Some(c) if c != '\0' && !super::xml_forbidden(c) => Ok(c),
        Some(c) if c != '\0' => Err(forbidden(c)),
        _ => Err(CodecError::Malformed("invalid character reference".into())),
    }
}

/// The number the digits spell, or `None` past `u32` (no such character either way).
fn digits(ds: &[u8], radix: u32) -> Option<u32> {
    ds.iter().try_fold(0u32, |n, d| {
        n.checked_mul(radix)?
            .checked_add(char::from(*d).to_digit(radix)?)
    })
}

/// Whether `b` holds a byte that needs a closer look: a control byte (below 0x20: `\r`, or one
/// XML forbids; tab and line feed count too) or 0xEF (the lead byte of U+FFFE and U+FFFF).
/// Eight bytes at a time: most texts are a few dozen bytes, where a `memchr` call costs more in
/// set-up than the scan.
#[inline]
pub(super) fn has_special(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let x = u64::from_ne_bytes(word);
        // Has-less-than (some byte below 0x20) and has-zero-byte on `x ^ 0xEF..` (some byte is
        // 0xEF): both exact as to whether there is one.
        let low = x.wrapping_sub(ONES * 0x20) & !x;
        let y = x ^ (ONES * 0xEF);
        let ef = y.wrapping_sub(ONES) & !y;
        if (low | ef) & HIGHS != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == 0xEF)
}

#[cold]
#[inline(never)]
fn forbidden(c: char) -> CodecError {
    CodecError::Malformed(format!(
        "the character U+{:04X} is not allowed in XML 1.0",
        u32::from(c)
    ))
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
