//! JSON-RPC beside XML-RPC: the key scenario over JSON-RPC, `Protocol::Auto` finding out (and
//! falling back for xend and a server without JSON-RPC), protocol errors from a misbehaving
//! server, and a differential check that both transports give identical `Value`s.

use std::time::Duration;

use xenapi::api::{Event, Vm, VmPowerState};
use xenapi::{Error, ErrorKind, Protocol, Session, Value};
use xenapi_tests::*;

fn connect_with(running: &Running, p: Protocol) -> Session {
    Session::connect(options(running).protocol(p), "root", "password").expect("login")
}

#[test]
fn the_key_scenario_runs_over_jsonrpc() {
    let sim = sim(Dialect::Xapi);
    let s = connect_with(&sim, Protocol::JsonRpc);
    assert_eq!(s.protocol(), Protocol::JsonRpc);
    assert_eq!(s.dialect(), xenapi::Dialect::Xapi);

    // Typed records: int64s and enums read as over XML-RPC.
    let all = Vm::get_all_records(&s).unwrap();
    assert_eq!(all.len(), 5);
    let (vm02, rec) = all.iter().find(|(_, r)| r.name_label == "vm02").unwrap();
    assert_eq!(rec.power_state, VmPowerState::Halted);
    assert!(rec.memory_static_max > 0);
    assert!(rec.vcpus_max >= 1);

    // Power operations, and an API error with its code and parameters.
    Vm::start(&s, vm02, false, false).unwrap();
    assert_eq!(power_state(&s, vm02.as_str()), "Running");
    let e = Vm::start(&s, vm02, false, false).unwrap_err();
    assert_eq!(e.code(), Some("VM_BAD_POWER_STATE"), "{e}");
    assert_eq!(
        e.failure().unwrap().params(),
        &[vm02.as_str(), "halted", "running"]
    );
    Vm::hard_shutdown(&s, vm02).unwrap();
    assert_eq!(power_state(&s, vm02.as_str()), "Halted");
    assert_failure(
        s.call("VM.get_record", vec!["OpaqueRef:nope".into()]),
        "HANDLE_INVALID",
        &["VM", "OpaqueRef:nope"],
    );

    // event.from, typed: the token moves and VM events carry typed snapshots.
    let batch = Event::from(&s, &["vm".to_owned()], "", 0.0).unwrap();
    assert!(!batch.token.is_empty());
    assert!(!batch.events.is_empty());

    // A bad password is the same failure as over XML-RPC.
    let e =
        Session::connect(options(&sim).protocol(Protocol::JsonRpc), "root", "wrong").unwrap_err();
    assert_eq!(e.code(), Some("SESSION_AUTHENTICATION_FAILED"), "{e}");
    let e = Session::connect(options(&sim).protocol(Protocol::Auto), "root", "wrong").unwrap_err();
    assert_eq!(e.code(), Some("SESSION_AUTHENTICATION_FAILED"), "{e}");
}

#[test]
fn auto_uses_jsonrpc_where_offered_and_falls_back_where_not() {
    let xapi = sim(Dialect::Xapi);
    assert_eq!(connect(&xapi).protocol(), Protocol::JsonRpc);

    let no_json = sim_with(Dialect::Xapi, |c| c.jsonrpc = false);
    let s = connect(&no_json);
    assert_eq!(s.protocol(), Protocol::XmlRpc);
    assert_eq!(Vm::get_all_records(&s).unwrap().len(), 5);

    let xend = sim(Dialect::Xend);
    let s = connect(&xend);
    assert_eq!(s.protocol(), Protocol::XmlRpc);
    assert_eq!(s.dialect(), xenapi::Dialect::Xend);
    assert_eq!(Vm::get_all_records(&s).unwrap().len(), 5);

    // JSON-RPC only: Auto still finds it; XML-RPC asked for by name fails.
    let no_xml = sim_with(Dialect::Xapi, |c| c.xmlrpc = false);
    let s = connect(&no_xml);
    assert_eq!(s.protocol(), Protocol::JsonRpc);
    assert_eq!(Vm::get_all_records(&s).unwrap().len(), 5);
    let e = Session::connect(
        options(&no_xml).protocol(Protocol::XmlRpc),
        "root",
        "password",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
    // And JSON-RPC asked for by name where there is none fails too.
    let e = Session::connect(
        options(&xend).protocol(Protocol::JsonRpc),
        "root",
        "password",
    )
    .unwrap_err();
    assert!(matches!(e, Error::Http { .. } | Error::Protocol(_)), "{e}");
}

#[test]
fn the_protocol_survives_relogin_and_the_coordinator_redirect() {
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 2);
    let member = sim.member_urls()[0].clone();
    let s = Session::connect(
        xenapi::Options::new(member).timeout(Duration::from_secs(20)),
        "root",
        "password",
    )
    .unwrap();
    assert_eq!(s.url(), sim.url());
    assert_eq!(s.protocol(), Protocol::JsonRpc);
    sim.expire_sessions();
    assert!(!Vm::get_all_records(&s).unwrap().is_empty());
    assert_eq!(s.protocol(), Protocol::JsonRpc);

    let no_json = sim_with(Dialect::Xapi, |c| {
        c.hosts = 2;
        c.jsonrpc = false;
    });
    let member = no_json.member_urls()[0].clone();
    let s = Session::connect(
        xenapi::Options::new(member).timeout(Duration::from_secs(20)),
        "root",
        "password",
    )
    .unwrap();
    assert_eq!(s.protocol(), Protocol::XmlRpc);
}

/// Every `get_all_records` the simulator serves gives identical `Value`s over both protocols.
#[test]
fn both_protocols_give_identical_values() {
    let sim = sim(Dialect::Xapi);
    let json = connect_with(&sim, Protocol::JsonRpc);
    let xml = connect_with(&sim, Protocol::XmlRpc);
    let methods = xml.call("host.list_methods", vec![]).unwrap();
    let mut compared = 0;
    for m in methods.as_array().unwrap() {
        let m = m.as_str().unwrap();
        if !m.ends_with(".get_all_records") || m.starts_with("session.") {
            continue;
        }
        let a = xml.call(m, vec![]);
        let b = json.call(m, vec![]);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{m} differs between XML-RPC and JSON-RPC");
                compared += 1;
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{m}"),
            (a, b) => panic!("{m}: {a:?} vs {b:?}"),
        }
    }
    assert!(compared >= 5, "only {compared} classes compared");
    // Scalars of every kind the datamodel has: int64, float, datetime, void.
    let vm = vm_ref(&xml, "vm01");
    for (m, args) in [
        ("VM.get_memory_static_max", vec![Value::from(vm.as_str())]),
        ("VM.get_VCPUs_max", vec![Value::from(vm.as_str())]),
        ("VM.get_record", vec![Value::from(vm.as_str())]),
        ("host.get_all_records", vec![]),
    ] {
        assert_eq!(
            xml.call(m, args.clone()).unwrap(),
            json.call(m, args).unwrap(),
            "{m}"
        );
    }
}

/// A server that answers every request (XML-RPC or JSON-RPC) with `body`.
fn misbehaving(body: &'static str) -> String {
    serve(move |_| body.to_owned())
}

/// A server that answers each request body with `answer(body)`, as JSON.
fn serve(answer: impl Fn(&[u8]) -> String + Send + 'static) -> String {
    raw_server("application/json", move |request| {
        Some(answer(request).into_bytes())
    })
}

#[test]
fn malformed_jsonrpc_replies_are_protocol_errors() {
    for (body, says) in [
        ("<html>hello</html>", "not a JSON object"),
        (
            r#"{"jsonrpc":"2.0","result":"OpaqueRef:x","id":999}"#,
            "is not the request's id",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1}"#,
            "neither a result nor an error",
        ),
    ] {
        let url = misbehaving(body);
        let opts = xenapi::Options::new(url)
            .timeout(Duration::from_secs(5))
            .protocol(Protocol::JsonRpc);
        let e = Session::connect(opts, "root", "password").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{body}: {e}");
        assert!(e.to_string().contains(says), "{body}: {e}");
        assert!(e.to_string().contains("JSON-RPC"), "{body}: {e}");
    }
}

/// A JSON-RPC server whose login takes two arguments only: Auto keeps JSON-RPC and retries the
/// login with two.
#[test]
fn a_jsonrpc_login_that_wants_two_arguments_is_retried() {
    let url = serve(|req| {
        let (method, params, id) =
            xenapi::jsonrpc::decode_call_slice(req, xenapi::codec::Limits::default()).unwrap();
        let reply = match (method.as_str(), params.len()) {
            ("session.login_with_password", 2) => Ok(Value::from("OpaqueRef:two")),
            ("session.login_with_password", n) => Err(vec![
                "MESSAGE_PARAMETER_COUNT_MISMATCH".to_owned(),
                method.clone(),
                "2".to_owned(),
                n.to_string(),
            ]),
            _ => Ok(Value::from("")),
        };
        let out = match &reply {
            Ok(v) => xenapi::jsonrpc::encode_response(Ok(v), &id, true),
            Err(d) => xenapi::jsonrpc::encode_response(Err(d), &id, true),
        };
        String::from_utf8(out).unwrap()
    });
    let s = Session::connect(
        xenapi::Options::new(url).timeout(Duration::from_secs(5)),
        "root",
        "password",
    )
    .unwrap();
    assert_eq!(s.protocol(), Protocol::JsonRpc);
    assert_eq!(s.handle().as_deref(), Some("OpaqueRef:two"));
}
