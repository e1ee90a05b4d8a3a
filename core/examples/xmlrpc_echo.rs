//! XML-RPC echo and generator for the differential test against Python's `xmlrpc.client`
//! (`tests/differential/test_codec_differential.py`).
//!
//! Framing, both ways: a record is a header line `TAG LEN\n`, then exactly `LEN` bytes, then `\n`.
//! Binary-safe, no escaping, and a reader always knows where a record ends.
//!
//! Modes (each takes `--i8` for `Encoder::i8_for_wide_ints` and `--untyped` for
//! `Encoder::untyped_strings`):
//!
//! * `xmlrpc_echo` reads `DOC` records from stdin; for each it decodes a `<methodResponse>` and
//!   writes it back re-encoded as an `OK` record (a fault is re-encoded as a fault), or writes an
//!   `ERR` record with the decoder's message.
//! * `xmlrpc_echo --generate N SEED` writes, for N values from a seeded generator, a `DOC` record
//!   (the encoded `<methodResponse>`) and a `CANON` record: the value as JSON in the canonical form
//!   described below, as a reader of that document should see it (int64s outside the 32-bit range
//!   become strings of digits without `--i8`).
//! * `xmlrpc_echo --check N SEED` regenerates the same N values, reads N `DOC` records from stdin
//!   (the documents re-encoded by another implementation), decodes each and compares it with the
//!   value the reader should have seen; writes `OK` or `ERR` (with the difference) per record.
//!
//! Canonical JSON: `null` for nil; `{"bool":b}`, `{"int":"digits"}`, `{"double":"nan"|hex of the
//! 64 bits}`, `{"str":s}`, `{"dt":s}`, `{"b64":hex}`, `{"array":[...]}`, `{"struct":[[k,v],...]}`.

use std::io::{self, BufRead, BufWriter, Write};

use serde_json::json;
use xenapi::codec::{self, Encoder, Limits, Response};
use xenapi::{DateTime, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let enc = Encoder {
        i8_for_wide_ints: args.iter().any(|a| a == "--i8"),
        untyped_strings: args.iter().any(|a| a == "--untyped"),
    };
    let pos: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--i8" && *a != "--untyped")
        .map(String::as_str)
        .collect();
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let result = match pos.as_slice() {
        [] => echo(stdin, &mut out, &enc),
        ["--generate", n, seed] => generate(parse(n), parse(seed), &mut out, &enc),
        ["--check", n, seed] => check(parse(n), parse(seed), stdin, &mut out, &enc),
        _ => {
            eprintln!("usage: xmlrpc_echo [--i8] [--untyped] [--generate N SEED | --check N SEED]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result.and_then(|()| out.flush()) {
        eprintln!("xmlrpc_echo: {e}");
        std::process::exit(1);
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

// ---------------------------------------------------------------------------------------------
// Framing.

fn read_record(input: &mut impl BufRead) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut header = String::new();
    if input.read_line(&mut header)? == 0 {
        return Ok(None);
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad header {header:?}"));
    let (tag, len) = header.trim_end().split_once(' ').ok_or_else(bad)?;
    let len: usize = len.parse().map_err(|_| bad())?;
    let mut body = vec![0; len + 1];
    input.read_exact(&mut body)?;
    if body.pop() != Some(b'\n') {
        return Err(bad());
    }
    Ok(Some((tag.to_owned(), body)))
}

fn write_record(out: &mut impl Write, tag: &str, body: &[u8]) -> io::Result<()> {
    writeln!(out, "{tag} {}", body.len())?;
    out.write_all(body)?;
    out.write_all(b"\n")
}

// ---------------------------------------------------------------------------------------------
// Modes.

fn echo(mut input: impl BufRead, out: &mut impl Write, enc: &Encoder) -> io::Result<()> {
    while let Some((tag, doc)) = read_record(&mut input)? {
        if tag != "DOC" {
            write_record(
                out,
                "ERR",
                format!("expected a DOC record, got {tag}").as_bytes(),
            )?;
            continue;
        }
        match codec::decode_response(&doc[..], Limits::default()) {
            Ok(Response::Value(v)) => write_record(out, "OK", &codec::encode_response(&v, enc))?,
            Ok(Response::Fault { code, message }) => {
                write_record(out, "OK", &codec::encode_fault(code, &message, enc))?
            }
            Err(e) => write_record(out, "ERR", e.to_string().as_bytes())?,
        }
    }
    Ok(())
}

fn generate(n: usize, seed: u64, out: &mut impl Write, enc: &Encoder) -> io::Result<()> {
    let mut rng = Rng(seed);
    for _ in 0..n {
        let v = gen_value(&mut rng, 0);
        write_record(out, "DOC", &codec::encode_response(&v, enc))?;
        let canon = canon(&as_read(&v, enc)).to_string();
        write_record(out, "CANON", canon.as_bytes())?;
    }
    Ok(())
}

fn check(
    n: usize,
    seed: u64,
    mut input: impl BufRead,
    out: &mut impl Write,
    enc: &Encoder,
) -> io::Result<()> {
    let mut rng = Rng(seed);
    for i in 0..n {
        let want = as_read(&gen_value(&mut rng, 0), enc);
        let Some((_, doc)) = read_record(&mut input)? else {
            write_record(out, "ERR", format!("#{i}: input ended").as_bytes())?;
            return Ok(());
        };
        match codec::decode_response(&doc[..], Limits::default()) {
            Ok(Response::Value(got)) if same(&got, &want) => write_record(out, "OK", b"")?,
            Ok(other) => write_record(
                out,
                "ERR",
                format!("#{i}: expected\n{want:?}\ngot\n{other:?}").as_bytes(),
            )?,
            Err(e) => write_record(out, "ERR", format!("#{i}: {e}").as_bytes())?,
        }
    }
    Ok(())
}

/// The value a reader sees: without `i8_for_wide_ints`, wide ints travel as strings of digits.
fn as_read(v: &Value, enc: &Encoder) -> Value {
    match v {
        Value::Int(i) if !enc.i8_for_wide_ints && i32::try_from(*i).is_err() => {
            Value::String(i.to_string())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| as_read(v, enc)).collect()),
        Value::Struct(members) => Value::Struct(
            members
                .iter()
                .map(|(k, v)| (k.clone(), as_read(v, enc)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Structural equality; all NaNs are equal, other doubles compare by bits.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

fn canon(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => json!({ "bool": b }),
        Value::Int(i) => json!({ "int": i.to_string() }),
        Value::Double(d) if d.is_nan() => json!({ "double": "nan" }),
        Value::Double(d) => json!({ "double": format!("{:016x}", d.to_bits()) }),
        Value::String(s) => json!({ "str": s }),
        Value::DateTime(d) => json!({ "dt": d.as_str() }),
        Value::Base64(b) => {
            json!({ "b64": b.iter().map(|x| format!("{x:02x}")).collect::<String>() })
        }
        Value::Array(items) => json!({ "array": items.iter().map(canon).collect::<Vec<_>>() }),
        Value::Struct(members) => json!({
            "struct": members.iter().map(|(k, v)| json!([k, canon(v)])).collect::<Vec<_>>()
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// A seeded generator of values that a Python dict-based reader can represent (struct member
// names are unique) and that Python's writer can write back (no `<`, `&`, `>` or surrounding
// whitespace in datetimes, which xmlrpc.client writes unescaped and reads stripped).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen_char(rng: &mut Rng) -> char {
    const TRICKY: &[char] = &[
        '<',
        '>',
        '&',
        '"',
        '\'',
        '\r',
        '\n',
        '\t',
        ' ',
        ']',
        ';',
        '#',
        '\u{7f}',
        '\u{85}',
        '\u{a0}',
        '\u{2028}',
        '\u{feff}',
        '\u{fffd}',
        '\u{10ffff}',
        '😀',
        'é',
        'ß',
        '中',
    ];
    match rng.below(10) {
        0..=2 => TRICKY[rng.below(TRICKY.len() as u64) as usize],
        3..=5 => char::from(b' ' + rng.below(95) as u8),
        6 | 7 => char::from_u32(0xa0 + rng.below(0xd800 - 0xa0) as u32).unwrap_or('?'),
        8 => char::from_u32(0xe000 + rng.below(0xfffe - 0xe000) as u32).unwrap_or('?'),
        _ => char::from_u32(0x10000 + rng.below(0x100000) as u32).unwrap_or('?'),
    }
}

fn gen_string(rng: &mut Rng) -> String {
    let n = rng.below(20);
    (0..n).map(|_| gen_char(rng)).collect()
}

fn gen_int(rng: &mut Rng) -> i64 {
    match rng.below(4) {
        0 => rng.below(2000) as i64 - 1000,
        1 => [
            i64::MIN,
            i64::MAX,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(i32::MIN) - 1,
            i64::from(i32::MAX) + 1,
        ][rng.below(6) as usize],
        2 => rng.next() as i32 as i64,
        _ => rng.next() as i64,
    }
}

fn gen_double(rng: &mut Rng) -> f64 {
    match rng.below(4) {
        0 => [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            0.0,
            -0.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.1,
            1e21,
        ][rng.below(10) as usize],
        1 => (rng.below(2_000_000) as f64 - 1e6) / 64.0,
        _ => f64::from_bits(rng.next()),
    }
}

fn gen_datetime(rng: &mut Rng) -> DateTime {
    match rng.below(3) {
        0 => DateTime::from_wire(
            [
                "20070601T12:30:00",
                "20070601T21:30:00+09:00",
                "2007-06-01T07:30:00-05:00",
                "20070601T12:30:00.25Z",
                "yesterday",
            ][rng.below(5) as usize],
        ),
        // Years 0001..=9999.
        _ => DateTime::from_unix(rng.below(315_537_897_600) as i64 - 62_135_596_800),
    }
}

fn gen_value(rng: &mut Rng, depth: u32) -> Value {
    let kinds = if depth >= 4 { 8 } else { 11 };
    match rng.below(kinds) {
        0 => Value::Nil,
        1 => Value::Bool(rng.below(2) == 1),
        2 => Value::Int(gen_int(rng)),
        3 => Value::Double(gen_double(rng)),
        4 | 5 => Value::String(gen_string(rng)),
        6 => Value::DateTime(gen_datetime(rng)),
        7 => Value::Base64((0..rng.below(40)).map(|_| rng.next() as u8).collect()),
        8 | 9 => Value::Array(
            (0..rng.below(5))
                .map(|_| gen_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut members: Vec<(String, Value)> = Vec::new();
            for _ in 0..rng.below(5) {
                let name = gen_string(rng);
                let v = gen_value(rng, depth + 1);
                if !members.iter().any(|(k, _)| *k == name) {
                    members.push((name, v));
                }
            }
            Value::Struct(members)
        }
    }
}
