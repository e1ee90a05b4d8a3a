//! A small pull reader for the XML that xapi's RRD handlers write (`Xmlm` output: a prolog, then
//! elements holding elements or text, no attributes). It reads what rrdtool-style dumps add too:
//! comments (rrdtool writes the time of each row in one) and attributes, which it skips. A DTD is
//! refused: nothing here needs one, and it is how entity bombs arrive.

use std::borrow::Cow;

use super::RrdError;

/// What the reader found next.
#[derive(Debug, PartialEq)]
pub(super) enum Event<'a> {
    Start(&'a str),
    End(&'a str),
    /// Text between tags, entities replaced; white space between elements is skipped.
    Text(Cow<'a, str>),
    Eof,
}

pub(super) struct Reader<'a> {
    s: &'a str,
    pos: usize,
    open: Vec<&'a str>,
    /// An empty element (`<v/>`) reads as its start, then this end.
    pending_end: Option<&'a str>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Reader {
            s,
            pos: 0,
            open: Vec::new(),
            pending_end: None,
        }
    }

    fn err(&self, what: impl std::fmt::Display) -> RrdError {
        RrdError::new(format!("{what} (at byte {})", self.pos))
    }

    pub(super) fn next(&mut self) -> Result<Event<'a>, RrdError> {
        if let Some(name) = self.pending_end.take() {
            return Ok(Event::End(name));
        }
        loop {
            let rest = &self.s[self.pos..];
            if rest.is_empty() {
                if let Some(open) = self.open.last() {
                    return Err(self.err(format!("the document ends inside <{open}>")));
                }
                return Ok(Event::Eof);
            }
            if let Some(after) = rest.strip_prefix("<?") {
                let end = after.find("?>").ok_or_else(|| self.err("an unclosed <?"))?;
                self.pos += 2 + end + 2;
            } else if let Some(after) = rest.strip_prefix("<!--") {
                let end = after
                    .find("-->")
                    .ok_or_else(|| self.err("an unclosed comment"))?;
                self.pos += 4 + end + 3;
            } else if rest.starts_with("<!") {
                return Err(self.err("a DTD or declaration, which RRD documents never carry"));
            } else if let Some(after) = rest.strip_prefix("</") {
                let end = after
                    .find('>')
                    .ok_or_else(|| self.err("an unclosed end tag"))?;
                let name = after[..end].trim_end();
                match self.open.pop() {
                    Some(open) if open == name => {}
                    Some(open) => {
                        return Err(self.err(format!("</{name}> closes <{open}>")));
                    }
                    None => return Err(self.err(format!("</{name}> closes nothing"))),
                }
                self.pos += 2 + end + 1;
                return Ok(Event::End(name));
            } else if let Some(after) = rest.strip_prefix('<') {
                let end = after.find('>').ok_or_else(|| self.err("an unclosed tag"))?;
                let inner = &after[..end];
                let (inner, empty) = match inner.strip_suffix('/') {
                    Some(i) => (i, true),
                    None => (inner, false),
                };
                let name = inner
                    .split(|c: char| c.is_ascii_whitespace())
                    .next()
                    .unwrap_or("");
                if name.is_empty() {
                    return Err(self.err("a tag without a name"));
                }
                self.pos += 1 + end + 1;
                if empty {
                    self.pending_end = Some(name);
                } else {
                    if self.open.len() >= 32 {
                        return Err(self.err("elements nested over 32 deep"));
                    }
                    self.open.push(name);
                }
                return Ok(Event::Start(name));
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let raw = &rest[..end];
                self.pos += end;
                if raw.trim().is_empty() {
                    continue;
                }
                if self.open.is_empty() {
                    return Err(self.err("text outside the document's element"));
                }
                return Ok(Event::Text(unescape(raw).map_err(|e| self.err(e))?));
            }
        }
    }

    /// The next start tag, whatever it is; an error at an end tag or the end of the document.
    pub(super) fn start(&mut self) -> Result<&'a str, RrdError> {
        match self.next()? {
            Event::Start(n) => Ok(n),
            other => Err(self.err(format!("expected an element, found {}", show(&other)))),
        }
    }

    /// The start tag `name`.
    pub(super) fn expect_start(&mut self, name: &str) -> Result<(), RrdError> {
        let found = self.start()?;
        if found != name {
            return Err(self.err(format!("expected <{name}>, found <{found}>")));
        }
        Ok(())
    }

    /// The text of the element just started, up to its end tag (empty for `<v/>` or `<v></v>`).
    pub(super) fn text(&mut self) -> Result<Cow<'a, str>, RrdError> {
        match self.next()? {
            Event::End(_) => Ok(Cow::Borrowed("")),
            Event::Text(t) => match self.next()? {
                Event::End(_) => Ok(t),
                other => Err(self.err(format!("expected an end tag, found {}", show(&other)))),
            },
            other => Err(self.err(format!("expected text, found {}", show(&other)))),
        }
    }

    /// `<name>text</name>`.
    pub(super) fn element_text(&mut self, name: &str) -> Result<Cow<'a, str>, RrdError> {
        self.expect_start(name)?;
        self.text()
    }

    /// Skips the rest of the element just started, children included.
    pub(super) fn skip(&mut self) -> Result<(), RrdError> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                Event::Text(_) => {}
                Event::Eof => return Err(self.err("the document ends inside an element")),
            }
        }
        Ok(())
    }
}

fn show(e: &Event<'_>) -> String {
    match e {
        Event::Start(n) => format!("<{n}>"),
        Event::End(n) => format!("</{n}>"),
        Event::Text(t) => format!("the text {:?}", t.chars().take(40).collect::<String>()),
        Event::Eof => "the end of the document".into(),
    }
}

fn unescape(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw.trim()));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.trim();
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| "an unterminated entity".to_owned())?;
        let name = &after[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("an unknown entity &{name};"))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_text_comments_and_empty_elements() {
        let doc =
            "<?xml version=\"1.0\"?>\n<a>\n <!-- t=1 --> <b x=\"1\">x &amp; y</b><c/><d></d></a>";
        let mut r = Reader::new(doc);
        assert_eq!(r.next().unwrap(), Event::Start("a"));
        assert_eq!(r.element_text("b").unwrap(), "x & y");
        r.expect_start("c").unwrap();
        assert_eq!(r.text().unwrap(), "");
        r.expect_start("d").unwrap();
        assert_eq!(r.text().unwrap(), "");
        assert_eq!(r.next().unwrap(), Event::End("a"));
        assert_eq!(r.next().unwrap(), Event::Eof);
    }

    #[test]
    fn refuses_broken_documents() {
        for doc in [
            "<a><b></a>",
            "<a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a/>",
            "<a>&bogus;</a>",
            "</a>",
            "<a></a>tail",
            "<a><b",
        ] {
            let mut r = Reader::new(doc);
            let mut failed = false;
            for _ in 0..10 {
                match r.next() {
                    Err(_) => {
                        failed = true;
                        break;
                    }
                    Ok(Event::Eof) => break,
                    Ok(_) => {}
                }
            }
            assert!(failed, "{doc:?} was accepted");
        }
    }
}
