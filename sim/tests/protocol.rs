//! Sessions, errors, dialect differences and the HTTP layer, over real HTTP.

mod common;

use std::time::Duration;

use common::{s, stats, Client};
use xenapi::Value;
use xenapi_sim::{Config, Dialect, Simulator};

fn xend() -> Config {
    Config {
        dialect: Dialect::Xend,
        ..Config::default()
    }
}

#[test]
fn login_ok_and_bad_password_and_logout_drops_the_session() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    assert!(session.starts_with("OpaqueRef:"), "{session}");
    assert_eq!(sim.session_count(), 1);
    assert_eq!(stats(sim.addr())["sessions"], 1);
    // The 2-argument login works on xapi too.
    let second = c
        .ok(
            "session.login_with_password",
            vec![s("root"), s("password")],
        )
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sim.session_count(), 2);
    assert_eq!(
        c.err(
            "session.login_with_password",
            vec![s("root"), s("nope"), s("1.0"), s("t")]
        ),
        [
            "SESSION_AUTHENTICATION_FAILED",
            "root",
            "Authentication failure"
        ]
    );
    c.ok("session.logout", vec![s(&second)]);
    assert_eq!(sim.session_count(), 1);
    let st = stats(sim.addr());
    assert_eq!(st["sessions"], 1);
    assert_eq!(st["logins"], 2);
    assert_eq!(st["logouts"], 1);
    assert_eq!(
        c.err("VM.get_all", vec![s(&second)]),
        ["SESSION_INVALID", second.as_str()]
    );
    // The password never reaches the log.
    let host = c.ok("host.get_all", vec![s(&session)]).as_array().unwrap()[0].clone();
    let log = c.ok("host.get_log", vec![s(&session), host]);
    let log = log.as_str().unwrap();
    assert!(
        log.contains("logged in") && log.contains("logged out"),
        "{log}"
    );
    assert!(
        !log.contains("password\"") && !log.contains("nope"),
        "{log}"
    );
}

#[test]
fn parameter_count_mismatch_xapi_excludes_the_session() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    let vm = c.vm(&session, "vm01");
    assert_eq!(
        c.err("VM.start", vec![s(&session), s(&vm)]),
        ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"]
    );
    assert_eq!(
        c.err("session.login_with_password", vec![s("root")]),
        [
            "MESSAGE_PARAMETER_COUNT_MISMATCH",
            "session.login_with_password",
            "2",
            "1"
        ]
    );
}

#[test]
fn xapi_takes_underscore_wire_names() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    let dotted = c.ok("VM.get_all", vec![s(&session)]);
    assert_eq!(c.ok("VM_get_all", vec![s(&session)]), dotted);
    let metrics = c.ok("VM_metrics_get_all", vec![s(&session)]);
    assert!(!metrics.as_array().unwrap().is_empty());
    let task = c.ok("Async.VM_get_all", vec![s(&session)]);
    assert!(task.as_str().unwrap().starts_with("OpaqueRef:"));
    assert_eq!(
        c.err("VM_no_such_message", vec![s(&session)]),
        ["MESSAGE_METHOD_UNKNOWN", "VM_no_such_message"]
    );
}

#[test]
fn xend_has_only_dotted_wire_names() {
    let sim = Simulator::start(xend()).unwrap();
    let mut c = Client::connect(sim.addr());
    assert_eq!(
        c.err("VM_get_all", vec![s("whatever")]),
        ["MESSAGE_METHOD_UNKNOWN", "VM_get_all"]
    );
}

#[test]
fn xapi_fills_defaulted_trailing_parameters() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    let vm = c.vm(&session, "vm01");
    // VM.snapshot(vm, name): ignore_vdis defaults to the empty set.
    let snap = c.ok("VM.snapshot", vec![s(&session), s(&vm), s("before")]);
    let is_snapshot = c.ok("VM.get_is_a_snapshot", vec![s(&session), snap.clone()]);
    assert_eq!(is_snapshot, Value::Bool(true));
    // Extra trailing parameters of such a message are ignored, as xapi's dispatcher does.
    let snap2 = c.ok(
        "VM.snapshot",
        vec![
            s(&session),
            s(&vm),
            s("again"),
            Value::Array(vec![]),
            s("x"),
        ],
    );
    assert_ne!(snap2, snap);
    // The count xapi reports is of the parameters without a default.
    assert_eq!(
        c.err("VM.snapshot", vec![s(&session), s(&vm)]),
        ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.snapshot", "2", "1"]
    );
    // VM.create_new_blob(vm, name, mime_type): public defaults to false.
    let blob = c.ok(
        "VM.create_new_blob",
        vec![s(&session), s(&vm), s("notes"), s("")],
    );
    assert_eq!(
        c.ok("blob.get_public", vec![s(&session), blob.clone()]),
        Value::Bool(false)
    );
    assert_eq!(
        c.ok("blob.get_mime_type", vec![s(&session), blob.clone()]),
        s("application/octet-stream")
    );
    let blobs = c.ok("VM.get_blobs", vec![s(&session), s(&vm)]);
    assert_eq!(blobs.get("notes"), Some(&blob));
    c.ok("blob.destroy", vec![s(&session), blob.clone()]);
    let blobs = c.ok("VM.get_blobs", vec![s(&session), s(&vm)]);
    assert_eq!(blobs, Value::Struct(Vec::new()));
    // A message without defaults still needs every parameter.
    assert_eq!(
        c.err("VM.start", vec![s(&session), s(&vm), Value::Bool(false)]),
        ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "2"]
    );
}

#[test]
fn xend_dialect_counts_include_the_session_and_login_takes_two() {
    let sim = Simulator::start(xend()).unwrap();
    let mut c = Client::connect(sim.addr());
    assert_eq!(
        c.err(
            "session.login_with_password",
            vec![s("root"), s("password"), s("1.0"), s("t")]
        ),
        [
            "MESSAGE_PARAMETER_COUNT_MISMATCH",
            "session.login_with_password",
            "2",
            "4"
        ]
    );
    let session = c
        .ok(
            "session.login_with_password",
            vec![s("root"), s("password")],
        )
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!session.starts_with("OpaqueRef:"));
    let vm = c.vm(&session, "vm02");
    assert_eq!(
        c.err("VM.start", vec![s(&session), s(&vm)]),
        ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "2"]
    );
    // xend's start has no `force`.
    assert_eq!(
        c.err(
            "VM.start",
            vec![s(&session), s(&vm), Value::Bool(false), Value::Bool(false)]
        ),
        ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "4"]
    );
    c.ok("VM.start", vec![s(&session), s(&vm), Value::Bool(false)]);
    assert_eq!(c.power_state(&session, &vm), "Running");
    // Refs are UUIDs; Domain-0 is the all-zero UUID.
    let dom0 = "00000000-0000-0000-0000-000000000000";
    let rec = c.ok("VM.get_record", vec![s(&session), s(dom0)]);
    assert_eq!(rec.get("name_label"), Some(&s("Domain-0")));
    assert_eq!(rec.get("is_control_domain"), Some(&Value::Bool(true)));
    assert_eq!(rec.get("domid"), Some(&s("0")));
    assert_eq!(
        c.err("session.login_with_password", vec![s("root"), s("bad")]),
        ["SESSION_AUTHENTICATION_FAILED"]
    );
}

#[test]
fn xend_writes_typed_strings_and_xapi_untyped() {
    for (config, typed) in [(Config::default(), false), (xend(), true)] {
        let sim = Simulator::start(config).unwrap();
        let mut c = Client::connect(sim.addr());
        let body = xenapi::codec::encode_call(
            "session.login_with_password",
            &[s("root"), s("password")],
            &xenapi::codec::Encoder::default(),
        );
        let r = c.request("POST", "/RPC2", &body).unwrap();
        let text = String::from_utf8(r.body).unwrap();
        assert_eq!(text.contains("<string>Success</string>"), typed, "{text}");
        assert_eq!(text.contains("<value>Success</value>"), !typed, "{text}");
    }
}

#[test]
fn unknown_method_handle_invalid_and_not_implemented() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    assert_eq!(
        c.err("VM.frobnicate", vec![s(&session)]),
        ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    );
    assert_eq!(
        c.err("nonsense", vec![]),
        ["MESSAGE_METHOD_UNKNOWN", "nonsense"]
    );
    assert_eq!(
        c.err("VM.get_record", vec![s(&session), s("OpaqueRef:nope")]),
        ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    );
    assert_eq!(
        c.err("VM.get_by_uuid", vec![s(&session), s("nope")]),
        ["UUID_INVALID", "VM", "nope"]
    );
    let vm = c.vm(&session, "vm02");
    let e = c.err("VM.assert_agile", vec![s(&session), s(&vm)]);
    assert_eq!(e, ["NOT_IMPLEMENTED", "VM.assert_agile"]);
}

#[test]
fn list_methods_and_generic_getters_setters() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    let methods = c.ok("host.list_methods", vec![s(&session)]);
    let methods: Vec<&str> = methods
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(methods.len(), 1828);
    for m in [
        "VM.start",
        "session.login_with_password",
        "event.from",
        "host.dmesg",
    ] {
        assert!(methods.contains(&m), "{m}");
    }
    let vm = c.vm(&session, "vm01");
    c.ok("VM.set_name_label", vec![s(&session), s(&vm), s("renamed")]);
    assert_eq!(
        c.ok("VM.get_name_label", vec![s(&session), s(&vm)]),
        s("renamed")
    );
    assert_eq!(
        c.err(
            "VM.set_name_label",
            vec![s(&session), s(&vm), Value::Bool(true)]
        ),
        ["FIELD_TYPE_ERROR", "name_label"]
    );
    c.ok(
        "VM.add_to_other_config",
        vec![s(&session), s(&vm), s("k"), s("v")],
    );
    assert_eq!(
        c.err(
            "VM.add_to_other_config",
            vec![s(&session), s(&vm), s("k"), s("v")]
        )[0],
        "MAP_DUPLICATE_KEY"
    );
    let oc = c.ok("VM.get_other_config", vec![s(&session), s(&vm)]);
    assert_eq!(oc.get("k"), Some(&s("v")));
    c.ok("VM.add_tags", vec![s(&session), s(&vm), s("web")]);
    assert_eq!(
        c.ok("VM.get_tags", vec![s(&session), s(&vm)]),
        Value::Array(vec![s("web")])
    );
    // Every datamodel field is in the record, ints as strings.
    let rec = c.ok("VM.get_record", vec![s(&session), s(&vm)]);
    let fields = rec.as_struct().unwrap();
    assert_eq!(fields.len(), 90);
    assert!(
        rec.get("memory_static_max")
            .unwrap()
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            >= 1 << 30
    );
    // Classes the simulator does not populate have no objects.
    assert_eq!(
        c.ok("Bond.get_all", vec![s(&session)]),
        Value::Array(vec![])
    );
    let uuid = rec.get("uuid").unwrap().clone();
    assert_eq!(c.ok("VM.get_by_uuid", vec![s(&session), uuid]), s(&vm));
    let all = c.ok("VM.get_all_records", vec![s(&session)]);
    // Domain-0 and 4 guests.
    assert_eq!(all.as_struct().unwrap().len(), 5);
}

#[test]
fn host_is_slave_names_the_coordinator() {
    let sim = Simulator::start(Config {
        hosts: 3,
        ..Config::default()
    })
    .unwrap();
    let members = sim.member_urls();
    assert_eq!(members.len(), 2);
    for url in members {
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let mut c = Client::connect(addr);
        assert_eq!(
            c.err(
                "session.login_with_password",
                vec![s("root"), s("password"), s("1.0"), s("t")]
            ),
            ["HOST_IS_SLAVE", sim.addr().to_string().as_str()]
        );
    }
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    assert_eq!(
        c.ok("host.get_all", vec![s(&session)])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn sessions_expire_after_the_idle_timeout() {
    let sim = Simulator::start(Config {
        session_timeout: Duration::from_millis(1000),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    c.ok("VM.get_all", vec![s(&session)]);
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(
        c.err("VM.get_all", vec![s(&session)]),
        ["SESSION_INVALID", session.as_str()]
    );
    assert_eq!(sim.session_count(), 0);
    // The side channel expires sessions on demand.
    let again = c.login();
    let mut ctl = Client::connect(sim.addr());
    let r = ctl.request("POST", "/sim/expire-sessions", b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(c.err("VM.get_all", vec![s(&again)])[0], "SESSION_INVALID");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let session = c.login();
    let local = c.stream().local_addr().unwrap();
    for _ in 0..20 {
        c.ok("VM.get_all", vec![s(&session)]);
    }
    assert_eq!(c.stream().local_addr().unwrap(), local);
    assert_eq!(stats(sim.addr())["calls"], 21);
}

#[test]
fn malformed_requests_get_http_500_and_the_server_survives() {
    let sim = Simulator::start(Config::default()).unwrap();
    let mut c = Client::connect(sim.addr());
    let r = c
        .request("POST", "/", b"<methodCall><methodName>x")
        .unwrap();
    assert_eq!(r.status, 500);
    let mut c = Client::connect(sim.addr());
    let r = c
        .request(
            "POST",
            "/",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><methodCall/>",
        )
        .unwrap();
    assert_eq!(r.status, 500);
    let mut c = Client::connect(sim.addr());
    let r = c.request("POST", "/elsewhere", b"").unwrap();
    assert_eq!(r.status, 404);
    // A request line that is not HTTP.
    use std::io::Write;
    let mut raw = std::net::TcpStream::connect(sim.addr()).unwrap();
    raw.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    let mut c = Client::connect(sim.addr());
    assert!(!c.login().is_empty());
}

#[test]
fn chunked_bodies_and_expect_continue() {
    use std::io::{BufReader, Write};
    let sim = Simulator::start(Config::default()).unwrap();
    let body = xenapi::codec::encode_call(
        "session.login_with_password",
        &[s("root"), s("password")],
        &xenapi::codec::Encoder::default(),
    );
    let mut raw = std::net::TcpStream::connect(sim.addr()).unwrap();
    let (a, b) = body.split_at(body.len() / 2);
    let mut req =
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
            .to_vec();
    for part in [a, b] {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    raw.write_all(&req).unwrap();
    let mut r = BufReader::new(raw);
    let cont = common::read_reply(&mut r).unwrap();
    assert_eq!(cont.status, 100);
    let reply = common::read_reply(&mut r).unwrap();
    assert_eq!(reply.status, 200);
    assert!(String::from_utf8_lossy(&reply.body).contains("OpaqueRef:"));
}

#[test]
fn many_concurrent_clients() {
    let sim = Simulator::start(Config::default()).unwrap();
    let addr = sim.addr();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let session = c.login();
                for _ in 0..5 {
                    c.ok("VM.get_all_records", vec![s(&session)]);
                }
                c.ok("session.logout", vec![s(&session)]);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sim.session_count(), 0);
}
