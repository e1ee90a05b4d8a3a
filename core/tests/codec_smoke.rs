use xenapi::codec::{self, Encoder, Limits, Response};
use xenapi::{DateTime, Value};

#[test]
fn round_trip_and_xapi_forms() {
    let v = Value::structure([
        ("Status", Value::from("Success")),
        (
            "Value",
            Value::Array(vec![
                Value::Int(7),
                Value::Int(1 << 40),
                Value::Double(f64::INFINITY),
                Value::Bool(true),
                Value::DateTime(DateTime::from_wire("20070101T00:00:00Z")),
                Value::Base64(b"hi\0there".to_vec()),
                Value::Nil,
                Value::from("a<b&c>\r\n ünï"),
            ]),
        ),
    ]);
    let enc = Encoder {
        i8_for_wide_ints: true,
        ..Encoder::default()
    };
    let xml = codec::encode_response(&v, &enc);
    let back = codec::decode_response(&xml[..], Limits::default()).unwrap();
    assert_eq!(back, Response::Value(v));

    let xapi = br#"<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>12&amp;&#x41;<![CDATA[<x>]]></value></member></struct></value></param></params></methodResponse>"#;
    let Response::Value(v) = codec::decode_response(&xapi[..], Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(v.get("Value"), Some(&Value::from("12&A<x>")));
}

#[test]
fn refuses_dtd_depth_and_size() {
    let dtd = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodResponse><params><param><value>&a;</value></param></params></methodResponse>"#;
    assert!(codec::decode_response(&dtd[..], Limits::default()).is_err());
    let deep = format!(
        "<methodResponse><params><param>{}{}</param></params></methodResponse>",
        "<value><array><data>".repeat(1000),
        "</data></array></value>".repeat(1000)
    );
    assert!(matches!(
        codec::decode_response(deep.as_bytes(), Limits::default()),
        Err(codec::CodecError::TooDeep(_))
    ));
    let big = codec::encode_response(&Value::from("x".repeat(10_000)), &Encoder::default());
    let small = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        codec::decode_response(&big[..], small),
        Err(codec::CodecError::TooLarge(1000))
    ));
}

#[test]
fn call_round_trip() {
    let xml = codec::encode_call(
        "VM.start",
        &[Value::from("OpaqueRef:x"), Value::Bool(false)],
        &Encoder::default(),
    );
    let (m, p) = codec::decode_call(&xml[..], Limits::default()).unwrap();
    assert_eq!(m, "VM.start");
    assert_eq!(p, vec![Value::from("OpaqueRef:x"), Value::Bool(false)]);
}
