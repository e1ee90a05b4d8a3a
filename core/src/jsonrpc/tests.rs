use super::*;
use crate::codec::{CodecError, Limits};

fn reply(json: &str, id: u64) -> Result<Reply, CodecError> {
    decode_response(json.as_bytes(), Limits::default(), id)
}

#[test]
fn results_and_values() {
    let r = reply(
        r#"{"jsonrpc":"2.0","result":{"a":[1,-2,3.5,"x\n\u00e9\ud83d\ude00",true,false,null],"b":{}},"id":7}"#,
        7,
    )
    .unwrap();
    assert_eq!(
        r,
        Reply::Result(Value::structure([
            (
                "a",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Int(-2),
                    Value::Double(3.5),
                    Value::String("x\né😀".into()),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Nil,
                ])
            ),
            ("b", Value::Struct(vec![])),
        ]))
    );
    // JSON-RPC 1.0: both members, one null; the id may come first, and as a string.
    let r = reply(r#"{"id":"3","result":"OpaqueRef:x","error":null}"#, 3).unwrap();
    assert_eq!(r, Reply::Result("OpaqueRef:x".into()));
}

#[test]
fn errors_carry_the_xenapi_code_and_params() {
    let v2 = r#"{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["VM","OpaqueRef:x"]},"id":1}"#;
    let want = Reply::Error(vec![
        "HANDLE_INVALID".into(),
        "VM".into(),
        "OpaqueRef:x".into(),
    ]);
    assert_eq!(reply(v2, 1).unwrap(), want);
    let v1 = r#"{"result":null,"error":["HANDLE_INVALID","VM","OpaqueRef:x"],"id":1}"#;
    assert_eq!(reply(v1, 1).unwrap(), want);
}

#[test]
fn protocol_errors_say_what_is_wrong() {
    let msg = |json: &str| match reply(json, 5) {
        Err(CodecError::Malformed(m)) => m,
        other => panic!("{json}: {other:?}"),
    };
    assert!(msg("<html>404</html>").contains("not a JSON object"));
    assert!(msg("").contains("empty"));
    assert!(
        msg(r#"{"jsonrpc":"2.0","result":1,"id":6}"#).contains("id 6 is not the request's id 5")
    );
    assert!(msg(r#"{"jsonrpc":"2.0","result":1}"#).contains("no id"));
    assert!(msg(r#"{"jsonrpc":"2.0","id":5}"#).contains("neither a result nor an error"));
    assert!(msg(r#"{"result":1,"id":5} x"#).contains("after the end"));
    assert!(msg(r#"{"result":[1,],"id":5}"#).contains("expected a value"));
    assert!(msg(r#"{"result":01,"id":5}"#).contains("not a JSON number"));
    assert!(msg(r#"{"result":"abc"#).contains("ends inside a string"));
}

#[test]
fn limits_hold() {
    let deep = format!(
        r#"{{"result":{}{},"id":1}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert!(matches!(reply(&deep, 1), Err(CodecError::TooDeep(64))));
    let big = format!(r#"{{"result":"{}","id":1}}"#, "x".repeat(1000));
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        decode_response(big.as_bytes(), limits, 1),
        Err(CodecError::TooLarge(100))
    ));
}

#[test]
fn what_decoding_builds_is_counted_against_the_value_limit() {
    let limits = Limits {
        max_value_bytes: 4 << 20,
        ..Limits::default()
    };
    // 3 bytes of JSON, 32 of value each.
    let many = format!(r#"{{"result":[{}[]],"id":1}}"#, "[],".repeat(100_000));
    assert!(matches!(
        decode_response(many.as_bytes(), limits, 1),
        Err(CodecError::ValuesTooLarge(n)) if n == 4 << 20
    ));
    let long = format!(r#"{{"result":"{}","id":1}}"#, "x".repeat(5 << 20));
    assert!(matches!(
        decode_response(long.as_bytes(), limits, 1),
        Err(CodecError::ValuesTooLarge(_))
    ));
    let few = format!(r#"{{"result":[{}[]],"id":1}}"#, "[],".repeat(10_000));
    assert!(decode_response(few.as_bytes(), limits, 1).is_ok());
}

#[test]
fn encode_round_trips() {
    let params = vec![
        Value::from("OpaqueRef:s"),
        Value::from("quote\" back\\ nl\n ctl\u{1}"),
        Value::Int(-3),
        Value::Double(1.0),
        Value::Bool(true),
        Value::structure([("k", Value::from(vec!["a", "b"]))]),
    ];
    let body = encode_call("VM.frob", &params, 9);
    let (method, got, id) = decode_call_slice(&body, Limits::default()).unwrap();
    assert_eq!(method, "VM.frob");
    assert_eq!(got, params);
    assert_eq!(id, Value::Int(9));
    let v = Value::structure([("x", Value::Int(1))]);
    for v2 in [true, false] {
        let out = encode_response(Ok(&v), &Value::Int(9), v2);
        assert_eq!(
            reply(std::str::from_utf8(&out).unwrap(), 9).unwrap(),
            Reply::Result(v.clone())
        );
        let d = vec!["CODE".to_owned(), "p".to_owned()];
        let out = encode_response(Err(&d), &Value::Int(9), v2);
        assert_eq!(
            reply(std::str::from_utf8(&out).unwrap(), 9).unwrap(),
            Reply::Error(d)
        );
    }
}

#[test]
fn normalise_restores_xmlrpc_types() {
    let rec = Value::structure([
        ("uuid", Value::from("u")),
        ("memory_static_max", Value::Int(1024)),
        ("VCPUs_max", Value::Int(2)),
        ("other_config", Value::structure([("k", Value::from("v"))])),
    ]);
    let all = Value::structure([("OpaqueRef:1", rec)]);
    let n = normalise("VM.get_all_records", all.clone());
    let r = n.get("OpaqueRef:1").unwrap();
    assert_eq!(r.get("memory_static_max"), Some(&Value::from("1024")));
    assert_eq!(r.get("VCPUs_max"), Some(&Value::from("2")));
    assert_eq!(denormalise("VM.get_all_records", n), all);
    assert_eq!(
        normalise(
            "VM_metrics.get_start_time",
            Value::from("20240102T03:04:05Z")
        ),
        Value::DateTime(crate::DateTime::from_wire("20240102T03:04:05Z"))
    );
    assert_eq!(normalise("VM.start", Value::Nil), Value::from(""));
    assert_eq!(
        normalise("Async.VM.start", Value::from("OpaqueRef:t")),
        Value::from("OpaqueRef:t")
    );
    assert_eq!(
        normalise("VM.get_memory_target", Value::Int(5)),
        Value::from("5")
    );
}

/// The same verdict and value whether the reply is in memory, streamed, or streamed 3 bytes at a
/// time (tokens cut at every place).
fn agree(doc: &[u8]) {
    let show = |r: Result<Reply, CodecError>| format!("{r:?}");
    let slice = show(decode_response_slice(doc, Limits::default(), 1));
    let stream = show(decode_response(doc, Limits::default(), 1));
    let small = show(decode_response(
        std::io::BufReader::with_capacity(3, doc),
        Limits::default(),
        1,
    ));
    assert_eq!(slice, stream, "{:?}", String::from_utf8_lossy(doc));
    assert_eq!(slice, small, "{:?}", String::from_utf8_lossy(doc));
}

fn json_soup() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let tokens = vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"",
        "\"result\"",
        "\"error\"",
        "\"id\"",
        "1",
        "-0.5e3",
        "01",
        "true",
        "fals",
        "null",
        "\"a\\u00e9\\ud83d\\ude00\"",
        "\"\\n\"",
        "\\",
        "\"x",
        "é",
        "\u{1}",
    ];
    proptest::collection::vec(proptest::sample::select(tokens), 0..40)
        .prop_map(|ts| ts.concat().into_bytes())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    #[test]
    fn slice_and_stream_agree_on_json_soup(doc in json_soup()) {
        agree(&doc);
        let framed = [b"{\"id\":1,\"result\":".as_slice(), &doc, b"}"].concat();
        agree(&framed);
    }

    #[test]
    fn slice_and_stream_agree_on_bytes(doc in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        agree(&doc);
    }
}

#[test]
fn strings_cut_anywhere_decode_alike() {
    for s in [
        "",
        "plain",
        "é€😀",
        "esc\\\"aped\\\\ \\u00e9 \\ud83d\\ude00",
        &"long".repeat(5000),
    ] {
        let doc = format!(r#"{{"id":1,"result":{{"k":"{s}","n":[1,-2.5,true,null]}}}}"#);
        agree(doc.as_bytes());
        assert!(matches!(reply(&doc, 1), Ok(Reply::Result(_))), "{s}");
    }
}
