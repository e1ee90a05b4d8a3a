//! `/rrd_updates`: the rows of one host's RRDs (and its VMs') since a time, in rrdtool's `xport`
//! shape, as xapi's `Rrd_updates` writes it (ocaml/libs/xapi-rrd/lib/rrd_updates.ml):
//!
//! - XML: `<xport><meta><start/><step/><end/><rows/><columns/><legend><entry>CF:kind:uuid:name`
//!   `</entry>…</legend></meta><data><row><t>time</t><v>value</v>…</row>…</data></xport>`;
//! - JSON (`json=true`): `{"meta": {"start", "step", "end", "rows", "columns", "legend": […]},
//!   "data": [{"t": time, "values": […]}]}`, numbers often as strings (`"NaN"`, `"Infinity"`).
//!   Older xapi nested `data` inside `meta`, and wrote JSON5-like text (bare keys, bare `NaN`),
//!   which xen-orchestra reads with a JSON5 parser: both are accepted.

use super::{parse_int, parse_number, xml, Column, Consolidation, RrdError};
use crate::codec::Limits;
use crate::Value;

/// One row: a time (seconds since the epoch) and a value per column, `NaN` where none.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub time: i64,
    pub values: Vec<f64>,
}

/// A parsed `/rrd_updates` reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Updates {
    pub start: i64,
    pub end: i64,
    /// Seconds between rows (5 for the finest archive).
    pub step: i64,
    pub columns: Vec<Column>,
    /// Newest first, as xapi sends them.
    pub rows: Vec<Row>,
}

impl Updates {
    /// Reads an `/rrd_updates` reply, XML or JSON (told apart by the first character).
    pub fn parse(body: &[u8]) -> Result<Self, RrdError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| RrdError::new(format!("the reply is not UTF-8 ({e})")))?;
        match text.trim_start().as_bytes().first() {
            Some(b'<') => Self::parse_xml(text),
            Some(b'{') => Self::parse_json(text),
            Some(_) => Err(RrdError::new("the reply is neither XML nor JSON")),
            None => Err(RrdError::new("the reply is empty")),
        }
    }

    /// The XML form.
    pub fn parse_xml(text: &str) -> Result<Self, RrdError> {
        let mut r = xml::Reader::new(text);
        r.expect_start("xport")?;
        r.expect_start("meta")?;
        let (mut start, mut step, mut end) = (None, None, None);
        let mut columns = None;
        loop {
            match r.next()? {
                xml::Event::Start("start") => start = Some(parse_int(&r.text()?, "start")?),
                xml::Event::Start("step") => step = Some(parse_int(&r.text()?, "step")?),
                xml::Event::Start("end") => end = Some(parse_int(&r.text()?, "end")?),
                xml::Event::Start("legend") => {
                    let mut cols = Vec::new();
                    loop {
                        match r.next()? {
                            xml::Event::Start("entry") => cols.push(Column::parse(&r.text()?)?),
                            xml::Event::End(_) => break,
                            other => {
                                return Err(RrdError::new(format!(
                                    "unexpected {other:?} in <legend>"
                                )))
                            }
                        }
                    }
                    columns = Some(cols);
                }
                // rows, columns: counts, checked against what follows; anything newer: skipped.
                xml::Event::Start(_) => r.skip()?,
                xml::Event::End(_) => break,
                other => return Err(RrdError::new(format!("unexpected {other:?} in <meta>"))),
            }
        }
        let columns = columns.ok_or_else(|| RrdError::new("<meta> has no <legend>"))?;
        r.expect_start("data")?;
        let mut rows = Vec::new();
        loop {
            match r.next()? {
                xml::Event::Start("row") => {
                    let time = parse_int(&r.element_text("t")?, "row time")?;
                    let mut values = Vec::with_capacity(columns.len());
                    loop {
                        match r.next()? {
                            xml::Event::Start("v") => values.push(parse_number(&r.text()?)?),
                            xml::Event::End(_) => break,
                            other => {
                                return Err(RrdError::new(format!("unexpected {other:?} in <row>")))
                            }
                        }
                    }
                    rows.push(Row { time, values });
                }
                xml::Event::End(_) => break,
                other => return Err(RrdError::new(format!("unexpected {other:?} in <data>"))),
            }
        }
        Self::checked(start, step, end, columns, rows)
    }

    /// The JSON form, strict or as older xapi wrote it.
    pub fn parse_json(text: &str) -> Result<Self, RrdError> {
        let limits = Limits::default();
        let doc = match crate::jsonrpc::decode_document_slice(text.as_bytes(), limits) {
            Ok(v) => v,
            Err(strict) => {
                let relaxed = relax_json(text);
                crate::jsonrpc::decode_document_slice(relaxed.as_bytes(), limits)
                    .map_err(|_| RrdError::new(format!("the JSON reply is malformed: {strict}")))?
            }
        };
        let Value::Struct(top) = doc else {
            return Err(RrdError::new("the JSON reply is not an object"));
        };
        let meta = member(&top, "meta").ok_or_else(|| RrdError::new("the reply has no meta"))?;
        let Value::Struct(meta) = meta else {
            return Err(RrdError::new("meta is not an object"));
        };
        let int = |name: &str| -> Result<Option<i64>, RrdError> {
            member(meta, name).map(|v| json_int(v, name)).transpose()
        };
        let (start, step, end) = (int("start")?, int("step")?, int("end")?);
        let Some(Value::Array(legend)) = member(meta, "legend") else {
            return Err(RrdError::new("meta has no legend array"));
        };
        let columns = legend
            .iter()
            .map(|e| match e {
                Value::String(s) => Column::parse(s),
                other => Err(RrdError::new(format!(
                    "a legend entry is not text: {other:?}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Newer xapi: data beside meta; older: inside it.
        let data = member(&top, "data")
            .or_else(|| member(meta, "data"))
            .ok_or_else(|| RrdError::new("the reply has no data"))?;
        let Value::Array(data) = data else {
            return Err(RrdError::new("data is not an array"));
        };
        let mut rows = Vec::with_capacity(data.len());
        for row in data {
            let Value::Struct(row) = row else {
                return Err(RrdError::new("a data row is not an object"));
            };
            let time = member(row, "t")
                .ok_or_else(|| RrdError::new("a data row has no t"))
                .and_then(|t| json_int(t, "row time"))?;
            let Some(Value::Array(vs)) = member(row, "values") else {
                return Err(RrdError::new("a data row has no values array"));
            };
            let values = vs.iter().map(json_number).collect::<Result<Vec<_>, _>>()?;
            rows.push(Row { time, values });
        }
        Self::checked(start, step, end, columns, rows)
    }

    fn checked(
        start: Option<i64>,
        step: Option<i64>,
        end: Option<i64>,
        columns: Vec<Column>,
        rows: Vec<Row>,
    ) -> Result<Self, RrdError> {
        let (Some(start), Some(step), Some(end)) = (start, step, end) else {
            return Err(RrdError::new("meta lacks start, step or end"));
        };
        if step <= 0 {
            return Err(RrdError::new(format!("the step {step} is not positive")));
        }
        if let Some(bad) = rows.iter().find(|r| r.values.len() != columns.len()) {
            return Err(RrdError::new(format!(
                "the row at {} has {} values for {} columns",
                bad.time,
                bad.values.len(),
                columns.len()
            )));
        }
        Ok(Updates {
            start,
            end,
            step,
            columns,
            rows,
        })
    }

    /// The index of the column for this object's data source, with this consolidation.
    pub fn column(&self, kind: &str, uuid: &str, name: &str, cf: Consolidation) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.cf == cf && c.kind == kind && c.uuid == uuid && c.name == name)
    }

    /// The (time, value) pairs of a column, newest first.
    pub fn series(&self, column: usize) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.rows
            .iter()
            .filter_map(move |r| r.values.get(column).map(|v| (r.time, *v)))
    }

    /// The objects (kind, uuid) that have columns, in the order they first appear.
    pub fn objects(&self) -> Vec<(&str, &str)> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for c in &self.columns {
            let o = (c.kind.as_str(), c.uuid.as_str());
            if !seen.contains(&o) {
                seen.push(o);
            }
        }
        seen
    }
}

fn member<'a>(members: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn json_int(v: &Value, what: &str) -> Result<i64, RrdError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Ok(*d as i64),
        Value::String(s) => parse_int(s, what),
        other => Err(RrdError::new(format!(
            "the {what} is not a number: {other:?}"
        ))),
    }
}

fn json_number(v: &Value) -> Result<f64, RrdError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Double(d) => Ok(*d),
        Value::String(s) => parse_number(s),
        Value::Nil => Ok(f64::NAN),
        other => Err(RrdError::new(format!("a value is not a number: {other:?}"))),
    }
}

/// Older xapi's JSON-like text as JSON: bare keys quoted, bare `NaN`/`Infinity` as strings,
/// single-quoted strings double-quoted, trailing commas dropped. Strings are copied as they are.
fn relax_json(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' => {
                let quote = c;
                let mut j = i + 1;
                while j < b.len() && b[j] != quote {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let body = &text[i + 1..j.min(b.len())];
                out.push('"');
                if quote == b'\'' {
                    out.push_str(&body.replace("\\'", "'").replace('"', "\\\""));
                } else {
                    out.push_str(body);
                }
                out.push('"');
                i = j + 1;
            }
            b',' => {
                let next = text[i + 1..].trim_start().bytes().next();
                if !matches!(next, Some(b'}') | Some(b']')) {
                    out.push(',');
                }
                i += 1;
            }
            c if c.is_ascii_digit()
                || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                // A number, exponent included (its `e` is not a bare word).
                let mut j = i + 1;
                while j < b.len() && matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    j += 1;
                }
                out.push_str(&text[i..j]);
                i = j;
            }
            c if c.is_ascii_alphabetic()
                || c == b'_'
                || (c == b'-' && b.get(i + 1) == Some(&b'I')) =>
            {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let word = &text[i..j];
                let is_key = text[j..].trim_start().starts_with(':');
                match word {
                    "true" | "false" | "null" if !is_key => out.push_str(word),
                    _ => {
                        out.push('"');
                        out.push_str(word);
                        out.push('"');
                    }
                }
                i = j;
            }
            _ => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><xport><meta><start>1700000000</start><step>5</step><end>1700000010</end><rows>2</rows><columns>3</columns><legend><entry>AVERAGE:host:h1:cpu0</entry><entry>AVERAGE:vm:v1:cpu0</entry><entry>AVERAGE:vm:v1:memory</entry></legend></meta><data><row><t>1700000010</t><v>0.25</v><v>0.5</v><v>1073741824.0000</v></row><row><t>1700000005</t><v>NaN</v><v>0.1</v><v>1073741824.0000</v></row></data></xport>"#;

    fn check(u: &Updates) {
        assert_eq!((u.start, u.step, u.end), (1_700_000_000, 5, 1_700_000_010));
        assert_eq!(u.columns.len(), 3);
        assert_eq!(u.rows.len(), 2);
        let cpu = u
            .column("vm", "v1", "cpu0", Consolidation::Average)
            .unwrap();
        assert_eq!(
            u.series(cpu).collect::<Vec<_>>(),
            vec![(1_700_000_010, 0.5), (1_700_000_005, 0.1)]
        );
        let host = u
            .column("host", "h1", "cpu0", Consolidation::Average)
            .unwrap();
        assert!(u.rows[1].values[host].is_nan(), "NaN is kept");
        assert_eq!(u.objects(), vec![("host", "h1"), ("vm", "v1")]);
    }

    #[test]
    fn reads_the_xml_form() {
        check(&Updates::parse(XML.as_bytes()).unwrap());
    }

    #[test]
    fn reads_the_json_form_with_string_numbers() {
        let json = r#"{"meta":{"start":"1700000000","step":"5","end":"1700000010","rows":"2","columns":"3","legend":["AVERAGE:host:h1:cpu0","AVERAGE:vm:v1:cpu0","AVERAGE:vm:v1:memory"]},"data":[{"t":"1700000010","values":["0.25","0.5","1073741824.0"]},{"t":"1700000005","values":["NaN","0.1","1073741824"]}]}"#;
        check(&Updates::parse(json.as_bytes()).unwrap());
    }

    #[test]
    fn reads_older_json_with_data_inside_meta_and_bare_words() {
        let json = "{meta: {start: 1700000000, step: 5, end: 1700000010, rows: 2, columns: 3,\n\
            legend: ['AVERAGE:host:h1:cpu0', 'AVERAGE:vm:v1:cpu0', 'AVERAGE:vm:v1:memory'],\n\
            data: [{t: 1700000010, values: [2.5e-1, 0.5, 1073741824]},\n\
                   {t: 1700000005, values: [NaN, 0.1, 1073741824],},]}}";
        check(&Updates::parse(json.as_bytes()).unwrap());
        let inf =
            "{meta:{start:1,step:5,end:1,legend:['MAX:vm:v:x']},data:[{t:1,values:[-Infinity]}]}";
        let u = Updates::parse(inf.as_bytes()).unwrap();
        assert_eq!(u.rows[0].values[0], f64::NEG_INFINITY);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let short = XML.replace("<v>0.1</v>", "");
        let e = Updates::parse(short.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("2 values for 3 columns"), "{e}");
        let bad = XML.replace("AVERAGE:vm:v1:cpu0", "cpu0");
        assert!(Updates::parse(bad.as_bytes()).is_err());
        let nostep = XML.replace("<step>5</step>", "");
        assert!(Updates::parse(nostep.as_bytes()).is_err());
        assert!(Updates::parse(b"").is_err());
        assert!(Updates::parse(b"HTTP/1.1 500").is_err());
        assert!(Updates::parse(b"{\"meta\": 3}").is_err());
        let word = XML.replace("<v>0.25</v>", "<v>fast</v>");
        assert!(Updates::parse(word.as_bytes()).is_err());
    }
}
