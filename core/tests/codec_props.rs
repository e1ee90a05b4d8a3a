//! Properties of the XML-RPC codec: round trips over generated values, robustness against
//! arbitrary and mutated input, the depth and size limits, DTD refusal, and the wire forms that
//! xapi, xend and Python's `xmlrpc.client` actually send.
//!
//! Run: `cargo test -p xenapi --test codec_props` (`PROPTEST_CASES=5000` for a longer run).

use std::io::BufReader;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use xenapi::codec::{self, CodecError, Encoder, Limits, Response};
use xenapi::{DateTime, Value};

// ---------------------------------------------------------------------------------------------
// Comparison: structural, with doubles compared by bits except that every NaN equals every NaN
// (the wire has one NaN token).

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

/// What the default encoder's output decodes to: int64s outside the 32-bit range travel as
/// strings of digits (the XenAPI convention), everything else is unchanged.
fn via_default_encoder(v: &Value) -> Value {
    match v {
        Value::Int(i) if i32::try_from(*i).is_err() => Value::String(i.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(via_default_encoder).collect()),
        Value::Struct(members) => Value::Struct(
            members
                .iter()
                .map(|(k, v)| (k.clone(), via_default_encoder(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn response_value(r: Response) -> Value {
    match r {
        Response::Value(v) => v,
        Response::Fault { code, message } => panic!("unexpected fault {code} {message:?}"),
    }
}

fn decode_resp(xml: &[u8]) -> Result<Response, CodecError> {
    codec::decode_response(xml, Limits::default())
}

fn decode_ok(xml: &str) -> Value {
    response_value(decode_resp(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}")))
}

/// A `<methodResponse>` around one `<value>` fragment.
fn reply(value_xml: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodResponse><params><param>{value_xml}</param></params></methodResponse>"
    )
}

const ENCODERS: [Encoder; 4] = [
    Encoder {
        untyped_strings: false,
        i8_for_wide_ints: false,
    },
    Encoder {
        untyped_strings: true,
        i8_for_wide_ints: false,
    },
    Encoder {
        untyped_strings: false,
        i8_for_wide_ints: true,
    },
    Encoder {
        untyped_strings: true,
        i8_for_wide_ints: true,
    },
];

fn expected(v: &Value, enc: &Encoder) -> Value {
    if enc.i8_for_wide_ints {
        v.clone()
    } else {
        via_default_encoder(v)
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// The characters XML 1.0 can carry (`Char` production).
fn xml_char_ok(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => select(vec![
            '<', '>', '&', '"', '\'', '\r', '\n', '\t', ' ', ']', ';', '#', 'é', '\u{7f}',
            '\u{85}', '\u{a0}', '\u{2028}', '\u{feff}', '\u{fffd}', '\u{10ffff}', '😀', '\u{e000}',
        ]),
        2 => proptest::char::range('a', 'z'),
        5 => any::<char>().prop_map(|c| if xml_char_ok(c) { c } else { '?' }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(xml_char(), 0..24).prop_map(|cs| cs.into_iter().collect::<String>()),
        1 => select(vec![
            "", " ", "  padded  ", "\n", "\r\n", "\r", "a\r\nb\rc\n\rd", "]]>", "<![CDATA[x]]>",
            "&amp;", "&#13;", "&lt;value&gt;", "<value>", "OpaqueRef:NULL", "Infinity", "NaN",
            "123", "-9223372036854775808", "\u{feff}bom", "tab\there",
        ])
        .prop_map(str::to_owned),
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -1000i64..1000,
        select(vec![
            i64::MIN,
            i64::MAX,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(i32::MIN) - 1,
            i64::from(i32::MAX) + 1,
            1 << 32,
            -(1 << 53),
        ]),
    ]
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        select(vec![
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            0.1,
            1e21,
            1e-7,
            123456789.125,
        ]),
        (-1e6f64..1e6),
    ]
}

fn datetime() -> impl Strategy<Value = DateTime> {
    prop_oneof![
        // Years 0001..9999, xapi's form.
        (-62_135_596_800i64..253_402_300_800).prop_map(DateTime::from_unix),
        any::<i64>().prop_map(DateTime::from_unix),
        select(vec![
            "20070601T12:30:00",
            "20070601T12:30:00Z",
            "20070601T21:30:00+09:00",
            "2007-06-01T07:30:00-05:00",
            "20070601T12:30:00.123Z",
            "20070601T12:30:00+0000",
            "yesterday",
            "",
            "19700101T00:00:00Z",
        ])
        .prop_map(DateTime::from_wire),
        // The decoder trims dateTime text (as xmlrpc.client does); any other text is kept.
        text().prop_map(|s| DateTime::from_wire(s.trim())),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Nil),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => int().prop_map(Value::Int),
        2 => double().prop_map(Value::Double),
        3 => text().prop_map(Value::String),
        1 => datetime().prop_map(Value::DateTime),
        1 => vec(any::<u8>(), 0..48).prop_map(Value::Base64),
    ]
}

/// Member names: a small pool (so duplicates and empty names are common) or arbitrary text.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["", "Status", "Value", "dup", " spaced ", "a&b"]).prop_map(str::to_owned),
        text(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 128, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((member_name(), inner), 0..6).prop_map(Value::Struct),
        ]
    })
}

fn method_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_.]{0,30}",
        // decode_call trims the name; anything else non-empty is kept.
        text().prop_filter_map("blank name", |s| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Round trips.

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn response_round_trip(v in value()) {
        for enc in &ENCODERS {
            let xml = codec::encode_response(&v, enc);
            let back = response_value(decode_resp(&xml).map_err(|e| {
                TestCaseError::fail(format!("{e} in {}", String::from_utf8_lossy(&xml)))
            })?);
            let want = expected(&v, enc);
            prop_assert!(same(&back, &want), "{:?}\n  came back as\n{:?}\n  via {:?}", want, back, enc);
        }
    }

    #[test]
    fn call_round_trip(name in method_name(), params in vec(value(), 0..5)) {
        for enc in &ENCODERS {
            let xml = codec::encode_call(&name, &params, enc);
            let (m, back) = codec::decode_call(&xml[..], Limits::default()).map_err(|e| {
                TestCaseError::fail(format!("{e} in {}", String::from_utf8_lossy(&xml)))
            })?;
            prop_assert_eq!(&m, &name);
            let want: Vec<Value> = params.iter().map(|p| expected(p, enc)).collect();
            prop_assert!(same(&Value::Array(back.clone()), &Value::Array(want.clone())),
                "{:?}\n  came back as\n{:?}", want, back);
        }
    }

    #[test]
    fn value_fragment_round_trip(v in value()) {
        for enc in &ENCODERS {
            let xml = codec::encode_value(&v, enc);
            let back = codec::decode_value(&xml, Limits::default())
                .map_err(|e| TestCaseError::fail(format!("{e} in {xml}")))?;
            prop_assert!(same(&back, &expected(&v, enc)), "{:?} vs {:?}", back, v);
        }
    }

    #[test]
    fn fault_round_trip(code in int(), message in text()) {
        for enc in &ENCODERS {
            let xml = codec::encode_fault(code, &message, enc);
            let back = decode_resp(&xml).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, Response::Fault { code, message: message.clone() });
        }
    }

    /// The decoder streams: reading the body one byte at a time gives the same value.
    #[test]
    fn byte_at_a_time_reader(v in value()) {
        let enc = Encoder { untyped_strings: true, i8_for_wide_ints: true };
        let xml = codec::encode_response(&v, &enc);
        let back = codec::decode_response(BufReader::with_capacity(1, &xml[..]), Limits::default())
            .map(response_value)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(same(&back, &v));
    }

    /// The size limit is exact: a document of n bytes reads with `max_bytes = n` and is refused
    /// with `TooLarge` at `n - 1`.
    #[test]
    fn size_limit_is_exact(v in value()) {
        let xml = codec::encode_response(&v, &Encoder::default());
        let n = xml.len() as u64;
        let at = Limits { max_bytes: n, ..Limits::default() };
        prop_assert!(codec::decode_response(&xml[..], at).is_ok());
        let under = Limits { max_bytes: n - 1, ..Limits::default() };
        let r = codec::decode_response(&xml[..], under);
        prop_assert!(matches!(r, Err(CodecError::TooLarge(m)) if m == n - 1), "{:?}", r);
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input makes a decoder panic.

fn decode_everything(bytes: &[u8], limits: Limits) {
    let _ = codec::decode_response(bytes, limits);
    let _ = codec::decode_call(bytes, limits);
    let _ = codec::decode_value(&String::from_utf8_lossy(bytes), limits);
    let _ = codec::decode_response(BufReader::with_capacity(3, bytes), limits);
}

/// XML-RPC-shaped token soup: far likelier than random bytes to reach deep decoder states.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let tokens = vec![
        "<?xml version=\"1.0\"?>",
        "<methodResponse>",
        "</methodResponse>",
        "<methodCall>",
        "</methodCall>",
        "<methodName>",
        "</methodName>",
        "<params>",
        "</params>",
        "<params/>",
        "<param>",
        "</param>",
        "<fault>",
        "</fault>",
        "<value>",
        "</value>",
        "<value/>",
        "<array>",
        "</array>",
        "<data>",
        "</data>",
        "<data/>",
        "<struct>",
        "</struct>",
        "<member>",
        "</member>",
        "<name>",
        "</name>",
        "<string>",
        "</string>",
        "<int>",
        "</int>",
        "<i8>",
        "</i8>",
        "<boolean>",
        "</boolean>",
        "<double>",
        "</double>",
        "<base64>",
        "</base64>",
        "<dateTime.iso8601>",
        "</dateTime.iso8601>",
        "<nil/>",
        "<ex:nil/>",
        "<nil>",
        "</nil>",
        "<bogus>",
        "faultCode",
        "faultString",
        "1",
        "-",
        "x",
        "NaN",
        "AAAA",
        "=",
        " ",
        "\r\n",
        "\r",
        "&amp;",
        "&#",
        "&#x1F600;",
        "&#0;",
        "&bogus;",
        ";",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<!DOCTYPE x>",
        "<?pi?>",
        "<",
        ">",
        "/>",
        "</",
        "\u{fffe}",
        "\u{0}",
    ];
    vec(select(tokens), 0..64).prop_map(|ts| ts.concat().into_bytes())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Delete(Index, usize),
    Insert(Index, u8),
    Duplicate(Index, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), select(b"<>/&;![]-\"=x \r".to_vec()))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(doc: &mut Vec<u8>, m: &Mutation) {
    if doc.is_empty() {
        return;
    }
    match m {
        Mutation::Flip(i, b) => {
            let i = i.index(doc.len());
            doc[i] ^= b | 1;
        }
        Mutation::Delete(i, n) => {
            let i = i.index(doc.len());
            let end = (i + n).min(doc.len());
            doc.drain(i..end);
        }
        Mutation::Insert(i, b) => {
            let i = i.index(doc.len() + 1);
            doc.insert(i, *b);
        }
        Mutation::Duplicate(i, n) => {
            let i = i.index(doc.len());
            let end = (i + n).min(doc.len());
            let slice = doc[i..end].to_vec();
            doc.splice(i..i, slice);
        }
        Mutation::Truncate(i) => {
            let i = i.index(doc.len());
            doc.truncate(i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes, Limits::default());
    }

    #[test]
    fn token_soup_never_panics(bytes in token_soup(), depth in 1usize..8, size in 16u64..4096) {
        decode_everything(&bytes, Limits::default());
        decode_everything(&bytes, Limits { max_depth: depth, max_bytes: size, max_value_bytes: size * 4 });
    }

    #[test]
    fn mutated_documents_never_panic(
        v in value(),
        call in any::<bool>(),
        muts in vec(mutation(), 1..6),
        depth in 1usize..8,
    ) {
        let enc = Encoder { untyped_strings: true, i8_for_wide_ints: true };
        let mut doc = if call {
            codec::encode_call("VM.get_record", std::slice::from_ref(&v), &enc)
        } else {
            codec::encode_response(&v, &enc)
        };
        for m in &muts {
            mutate(&mut doc, m);
        }
        decode_everything(&doc, Limits::default());
        decode_everything(&doc, Limits { max_depth: depth, max_bytes: doc.len() as u64 / 2, max_value_bytes: doc.len() as u64 });
    }
}

// ---------------------------------------------------------------------------------------------
// Limits and hostile documents.

fn nested_arrays(levels: usize) -> String {
    format!(
        "{}<value>leaf</value>{}",
        "<value><array><data>".repeat(levels),
        "</data></array></value>".repeat(levels)
    )
}

fn nested_structs(levels: usize) -> String {
    format!(
        "{}<value>leaf</value>{}",
        "<value><struct><member><name>m</name>".repeat(levels),
        "</member></struct></value>".repeat(levels)
    )
}

#[test]
fn depth_limit_is_exact_for_arrays_and_structs() {
    for max_depth in [1usize, 2, 5, 64] {
        let limits = Limits {
            max_depth,
            ..Limits::default()
        };
        // `levels` containers plus the leaf are `levels + 1` nested values.
        for build in [nested_arrays, nested_structs] {
            let fits = reply(&build(max_depth - 1));
            let v = codec::decode_response(fits.as_bytes(), limits).unwrap();
            let mut cur = response_value(v);
            for _ in 0..max_depth - 1 {
                cur = match cur {
                    Value::Array(mut a) => a.pop().unwrap(),
                    Value::Struct(mut s) => s.pop().unwrap().1,
                    other => panic!("unexpected {other:?}"),
                };
            }
            assert_eq!(cur, Value::from("leaf"));
            let deeper = reply(&build(max_depth));
            let r = codec::decode_response(deeper.as_bytes(), limits);
            assert!(
                matches!(r, Err(CodecError::TooDeep(d)) if d == max_depth),
                "{r:?}"
            );
            // The same limit holds in calls and value fragments.
            let call = format!(
                "<methodCall><methodName>m</methodName><params><param>{}</param></params></methodCall>",
                build(max_depth)
            );
            assert!(matches!(
                codec::decode_call(call.as_bytes(), limits),
                Err(CodecError::TooDeep(_))
            ));
            assert!(matches!(
                codec::decode_value(&build(max_depth), limits),
                Err(CodecError::TooDeep(_))
            ));
        }
    }
}

#[test]
fn very_deep_input_is_refused_without_overflowing_the_stack() {
    let deep = reply(&nested_arrays(200_000));
    let r = codec::decode_response(deep.as_bytes(), Limits::default());
    assert!(matches!(r, Err(CodecError::TooDeep(64))), "{r:?}");
}

#[test]
fn size_limit_counts_streamed_bytes() {
    let big = codec::encode_response(&Value::from("x".repeat(1 << 20)), &Encoder::default());
    for max in [0u64, 1, 100, 4096, 1 << 19] {
        let r = codec::decode_response(
            BufReader::with_capacity(7, &big[..]),
            Limits {
                max_bytes: max,
                ..Limits::default()
            },
        );
        assert!(
            matches!(r, Err(CodecError::TooLarge(m)) if m == max),
            "{max}: {r:?}"
        );
    }
    assert!(codec::decode_response(&big[..], Limits::default()).is_ok());
}

fn assert_refused_fast(doc: &str) {
    let t = Instant::now();
    let r = decode_resp(doc.as_bytes());
    assert!(
        matches!(r, Err(CodecError::Malformed(_))),
        "{r:?} for {doc}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn doctype_and_entity_bombs_are_refused_fast() {
    // Billion laughs.
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        bomb.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    bomb.push_str("]>\n");
    bomb.push_str(&reply("<value>&lol9;</value>").replace("<?xml version=\"1.0\"?>", ""));
    assert_refused_fast(&bomb);
    // External entity (XXE).
    assert_refused_fast(&format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        reply("<value>&x;</value>").replace("<?xml version=\"1.0\"?>", "")
    ));
    // An entity reference without any DTD, and a bare DOCTYPE.
    assert_refused_fast(&reply("<value>&lol;</value>"));
    assert_refused_fast(&format!(
        "<!DOCTYPE methodResponse>{}",
        reply("<value>x</value>").replace("<?xml version=\"1.0\"?>", "")
    ));
}

#[test]
fn many_comments_do_not_overflow_the_stack() {
    // One million comments in a row (7 MB, well under the size limit) between two elements.
    let doc = format!(
        "<methodResponse><params><param><value>{}<string>ok</string></value></param></params></methodResponse>",
        "<!---->".repeat(1_000_000)
    );
    assert_eq!(decode_ok(&doc), Value::from("ok"));
    let pis = format!(
        "<methodResponse>{}<params><param><value>ok</value></param></params></methodResponse>",
        "<?p?>".repeat(1_000_000)
    );
    assert_eq!(decode_ok(&pis), Value::from("ok"));
}

// ---------------------------------------------------------------------------------------------
// Wire forms.

#[test]
fn fault_decodes_to_response_fault() {
    for code in [
        "<int>-32601</int>",
        "<i4>-32601</i4>",
        "<i8>-32601</i8>",
        "<string>-32601</string>",
        "-32601",
    ] {
        let doc = format!(
            "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
             <member>\n<name>faultCode</name>\n<value>{code}</value>\n</member>\n\
             <member>\n<name>faultString</name>\n<value><string>no such method &lt;x&gt;</string></value>\n</member>\n\
             </struct></value>\n</fault>\n</methodResponse>\n"
        );
        assert_eq!(
            decode_resp(doc.as_bytes()).unwrap(),
            Response::Fault {
                code: -32601,
                message: "no such method <x>".into()
            },
            "{code}"
        );
    }
    let missing = "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>";
    assert!(matches!(
        decode_resp(missing.as_bytes()),
        Err(CodecError::Malformed(_))
    ));
}

#[test]
fn integer_forms() {
    for (xml, want) in [
        ("<int>42</int>", 42),
        ("<i4>-7</i4>", -7),
        ("<i8>9223372036854775807</i8>", i64::MAX),
        ("<i8>-9223372036854775808</i8>", i64::MIN),
        ("<ex:i8>4294967296</ex:i8>", 1 << 32),
        ("<int> +5 </int>", 5),
        ("<int>\n12\n</int>", 12),
    ] {
        assert_eq!(
            decode_ok(&reply(&format!("<value>{xml}</value>"))),
            Value::Int(want),
            "{xml}"
        );
    }
    for bad in [
        "<int>9223372036854775808</int>",
        "<int>1.5</int>",
        "<int></int>",
        "<int/>",
        "<i4>x</i4>",
        "<int>1</i4>",
    ] {
        assert!(
            decode_resp(reply(&format!("<value>{bad}</value>")).as_bytes()).is_err(),
            "{bad}"
        );
    }
    // XenAPI int64s are untyped strings on the wire, readable through as_i64.
    let v = decode_ok(&reply("<value>17179869184</value>"));
    assert_eq!(v, Value::from("17179869184"));
    assert_eq!(v.as_i64(), Some(17_179_869_184));
}

#[test]
fn default_encoder_sends_wide_ints_as_strings() {
    let xml = codec::encode_value(&Value::Int(1 << 40), &Encoder::default());
    assert_eq!(xml, "<value><string>1099511627776</string></value>");
    let xml = codec::encode_value(
        &Value::Int(1 << 40),
        &Encoder {
            i8_for_wide_ints: true,
            ..Encoder::default()
        },
    );
    assert_eq!(xml, "<value><i8>1099511627776</i8></value>");
    let xml = codec::encode_value(&Value::Int(i64::from(i32::MIN)), &Encoder::default());
    assert_eq!(xml, "<value><int>-2147483648</int></value>");
    let xml = codec::encode_value(
        &Value::from("x"),
        &Encoder {
            untyped_strings: true,
            ..Encoder::default()
        },
    );
    assert_eq!(xml, "<value>x</value>");
}

#[test]
fn nil_forms() {
    for xml in [
        "<nil/>",
        "<nil></nil>",
        "<ex:nil/>",
        "<ex:nil xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"/>",
        " <nil/> ",
    ] {
        assert_eq!(
            decode_ok(&reply(&format!("<value>{xml}</value>"))),
            Value::Nil,
            "{xml}"
        );
    }
    // xend nests nil inside structs and arrays.
    assert_eq!(
        decode_ok(&reply(
            "<value><array><data><value><nil/></value><value><struct><member><name>a</name><value><nil/></value></member></struct></value></data></array></value>"
        )),
        Value::Array(vec![Value::Nil, Value::structure([("a", Value::Nil)])])
    );
}

#[test]
fn double_forms() {
    for (xml, want) in [
        ("Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("1e+300", 1e300),
        ("-0.0", -0.0),
        (" 0.5 ", 0.5),
        ("1.", 1.0),
    ] {
        let v = decode_ok(&reply(&format!("<value><double>{xml}</double></value>")));
        assert!(same(&v, &Value::Double(want)), "{xml}: {v:?}");
    }
    for nan in ["NaN", "nan"] {
        let v = decode_ok(&reply(&format!("<value><double>{nan}</double></value>")));
        assert!(matches!(v, Value::Double(d) if d.is_nan()), "{nan}");
    }
    for bad in ["infinity", "0x10", "", "1,5", "e"] {
        assert!(
            decode_resp(reply(&format!("<value><double>{bad}</double></value>")).as_bytes())
                .is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        codec::encode_value(&Value::Double(f64::NEG_INFINITY), &Encoder::default()),
        "<value><double>-Infinity</double></value>"
    );
    assert_eq!(
        codec::encode_value(&Value::Double(f64::NAN), &Encoder::default()),
        "<value><double>NaN</double></value>"
    );
}

#[test]
fn datetime_forms_are_kept_verbatim() {
    for raw in [
        "20250102T03:04:05Z",
        "20250102T03:04:05",
        "20250102T12:04:05+09:00",
        "2025-01-02T03:04:05-05:00",
    ] {
        let v = decode_ok(&reply(&format!(
            "<value><dateTime.iso8601>{raw}</dateTime.iso8601></value>"
        )));
        let Value::DateTime(d) = &v else {
            panic!("{v:?}")
        };
        assert_eq!(d.as_str(), raw);
        assert!(d.unix_timestamp().is_some(), "{raw}");
        // And written back as received.
        assert!(codec::encode_value(&v, &Encoder::default()).contains(raw));
    }
    // Surrounding whitespace is dropped, as xmlrpc.client does.
    let v = decode_ok(&reply(
        "<value><dateTime.iso8601>\n 20250102T03:04:05Z \n</dateTime.iso8601></value>",
    ));
    assert_eq!(
        v,
        Value::DateTime(DateTime::from_wire("20250102T03:04:05Z"))
    );
}

#[test]
fn text_forms_cdata_references_and_line_ends() {
    let cases: &[(&str, &str)] = &[
        // Untyped values are kept verbatim, spaces included.
        ("<value> spaced </value>", " spaced "),
        ("<value>\n\t x \n</value>", "\n\t x \n"),
        ("<value></value>", ""),
        ("<value/>", ""),
        ("<value><string/></value>", ""),
        ("<value><string> s </string></value>", " s "),
        // CDATA, alone and mixed with text and references.
        ("<value><![CDATA[<a>&amp;]]></value>", "<a>&amp;"),
        (
            "<value>x<![CDATA[]]>y<![CDATA[]]]]><![CDATA[>]]></value>",
            "xy]]>",
        ),
        // Character and predefined entity references.
        ("<value>&#65;&#x42;&#x1F600;&#233;</value>", "AB😀é"),
        ("<value>&lt;&gt;&amp;&quot;&apos;</value>", "<>&\"'"),
        ("<value><string>a&#13;&#10;b</string></value>", "a\r\nb"),
        // Literal CR LF and lone CR become LF (XML 1.0 end-of-line handling).
        ("<value>a\r\nb\rc\n\rd</value>", "a\nb\nc\n\nd"),
        ("<value><![CDATA[a\r\nb]]></value>", "a\nb"),
        // Comments and processing instructions vanish.
        ("<value>a<!-- c -->b<?pi x?>c</value>", "abc"),
    ];
    for (xml, want) in cases {
        assert_eq!(decode_ok(&reply(xml)), Value::from(*want), "{xml}");
    }
    for bad in [
        "<value>&#0;</value>",
        "<value>&#xD800;</value>",
        "<value>&#x110000;</value>",
        "<value>&#-1;</value>",
        "<value>&nbsp;</value>",
        "<value>x<string>y</string></value>",
        "<value><string>y</string>x</value>",
        "<value><string>a<b/></string></value>",
    ] {
        assert!(decode_resp(reply(bad).as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn line_ends_split_across_reads() {
    let doc = reply("<value>a\r\nb\r\nc\rd\r\n</value>");
    for cap in 1..12 {
        let v = codec::decode_response(
            BufReader::with_capacity(cap, doc.as_bytes()),
            Limits::default(),
        )
        .map(response_value)
        .unwrap();
        assert_eq!(v, Value::from("a\nb\nc\nd\n"), "capacity {cap}");
    }
}

#[test]
fn whitespace_between_elements_python_style() {
    // What xmlrpc.client.dumps((v,), methodresponse=True, allow_none=True) writes.
    let doc = "<?xml version='1.0'?>\r\n<methodResponse>\r\n<params>\r\n<param>\r\n\
               <value><struct>\r\n<member>\r\n<name>Status</name>\r\n<value><string>Success</string></value>\r\n</member>\r\n\
               <member>\r\n<name>Value</name>\r\n<value><array><data>\r\n<value><int>1</int></value>\r\n\
               <value><base64>\r\naGk=\r\n</base64></value>\r\n<value><nil/></value>\r\n<value><boolean>0</boolean></value>\r\n\
               </data></array></value>\r\n</member>\r\n</struct></value>\r\n</param>\r\n</params>\r\n</methodResponse>\r\n";
    assert_eq!(
        decode_ok(doc),
        Value::structure([
            ("Status", Value::from("Success")),
            (
                "Value",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Base64(b"hi".to_vec()),
                    Value::Nil,
                    Value::Bool(false)
                ])
            ),
        ])
    );
}

#[test]
fn xapi_reply_shape() {
    let doc = "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>\
        <member><name>Status</name><value>Success</value></member>\
        <member><name>Value</name><value><struct>\
        <member><name>OpaqueRef:9a0e</name><value><struct>\
        <member><name>memory_static_max</name><value>4294967296</value></member>\
        <member><name>power_state</name><value>Running</value></member>\
        <member><name>is_a_template</name><value><boolean>0</boolean></value></member>\
        <member><name>HVM_shadow_multiplier</name><value><double>1</double></value></member>\
        <member><name>tags</name><value><array><data/></array></value></member>\
        <member><name>other_config</name><value><struct/></value></member>\
        <member><name>snapshot_time</name><value><dateTime.iso8601>19700101T00:00:00Z</dateTime.iso8601></value></member>\
        </struct></value></member></struct></value></member></struct></value></param></params></methodResponse>";
    let v = decode_ok(doc);
    assert_eq!(v.get("Status"), Some(&Value::from("Success")));
    let rec = v.get("Value").unwrap().get("OpaqueRef:9a0e").unwrap();
    assert_eq!(
        rec.get("memory_static_max").unwrap().as_i64(),
        Some(4_294_967_296)
    );
    assert_eq!(rec.get("is_a_template"), Some(&Value::Bool(false)));
    assert_eq!(rec.get("HVM_shadow_multiplier"), Some(&Value::Double(1.0)));
    assert_eq!(rec.get("tags"), Some(&Value::Array(vec![])));
    assert_eq!(rec.get("other_config"), Some(&Value::Struct(vec![])));
    assert_eq!(
        rec.get("snapshot_time"),
        Some(&Value::DateTime(DateTime::from_unix(0)))
    );
}

#[test]
fn structural_errors() {
    for bad in [
        "",
        "<methodResponse/>",
        "<methodResponse><params/></methodResponse>",
        "<methodResponse><params><param></param></params></methodResponse>",
        "<methodResponse><params><param><value>1</value><value>2</value></param></params></methodResponse>",
        "<methodResponse><params><param><value>1</value></param></params></methodResponse><x/>",
        "<methodResponse><params><param><value>1</value></param></params></methodResponse>junk",
        "<methodResponse><params><param><value>1</value></param></params>",
        "<methodResponse><params><param><value><bogus/></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><value>1</value></member></struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><array><value>1</value></array></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><base64>!!</base64></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>x</value></string></param></params></methodResponse>",
        "<methodCall><methodName>x</methodName></methodCall>",
    ] {
        assert!(decode_resp(bad.as_bytes()).is_err(), "{bad}");
    }
    for bad in [
        "<methodCall><methodName> </methodName></methodCall>",
        "<methodCall><params/></methodCall>",
        "<methodResponse><params><param><value>1</value></param></params></methodResponse>",
    ] {
        assert!(
            codec::decode_call(bad.as_bytes(), Limits::default()).is_err(),
            "{bad}"
        );
    }
    // A call without <params> has none.
    assert_eq!(
        codec::decode_call(
            &b"<methodCall><methodName>session.logout</methodName></methodCall>"[..],
            Limits::default()
        )
        .unwrap(),
        ("session.logout".to_owned(), vec![])
    );
}

#[test]
fn encoder_escapes_markup_and_carriage_returns() {
    let xml = codec::encode_value(&Value::from("<a>&\r\n]]>"), &Encoder::default());
    assert_eq!(
        xml,
        "<value><string>&lt;a&gt;&amp;&#13;\n]]&gt;</string></value>"
    );
    let xml = codec::encode_call("a<b", &[], &Encoder::default());
    assert!(String::from_utf8(xml)
        .unwrap()
        .contains("<methodName>a&lt;b</methodName>"));
}
