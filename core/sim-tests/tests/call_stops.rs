//! A blocked call notices its cancel, the thread's interrupt check and its deadline within a
//! tick; what the client sends with every request (User-Agent, traceparent).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xenapi::{call, CallOptions, Cancel, Error, Options, Session, Value};
use xenapi_tests::*;

/// How late a stop may be noticed: the 200 ms.
const PROMPT: Duration = Duration::from_millis(200);

#[test]
fn a_cancel_ends_a_held_call_promptly_and_the_session_goes_on() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    // A connection in the pool, so that the held call is on a pooled one.
    s.call("VM.get_all", vec![]).unwrap();
    sim.set_delay(Duration::from_secs(3));
    let cancel = Cancel::new();
    let view = s.with_call_options(&CallOptions::new().cancel(cancel.clone()));
    let fire = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
            Instant::now()
        })
    };
    let e = view.call("VM.get_all", vec![]).unwrap_err();
    let ended = Instant::now();
    let fired = fire.join().unwrap();
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    let late = ended.duration_since(fired);
    assert!(late < PROMPT, "ended {late:?} after the cancel");
    sim.set_delay(Duration::ZERO);
    let vms = s.call("VM.get_all", vec![]).unwrap();
    assert!(!vms.as_array().unwrap().is_empty());
}

#[test]
fn an_interrupt_check_ends_a_held_call_promptly() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    sim.set_delay(Duration::from_secs(3));
    let pending = Arc::new(AtomicBool::new(false));
    let setter = {
        let pending = pending.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            pending.store(true, Ordering::SeqCst);
            Instant::now()
        })
    };
    let check = || pending.load(Ordering::SeqCst);
    let r = call::with_interrupt_check(&check, || s.call("VM.get_all", vec![]));
    let ended = Instant::now();
    let set = setter.join().unwrap();
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    assert!(e.to_string().contains("interrupted"), "{e}");
    let late = ended.duration_since(set);
    assert!(late < PROMPT, "ended {late:?} after the interrupt");
    sim.set_delay(Duration::ZERO);
    // Outside the check, the same session works again (on a new connection).
    assert!(s.call("VM.get_all", vec![]).is_ok());
}

#[test]
fn a_timeout_bounds_a_held_call() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    sim.set_delay(Duration::from_secs(5));
    let started = Instant::now();
    let e = s
        .with_timeout(Duration::from_secs(1))
        .call("VM.get_all", vec![])
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("deadline of 1 s"), "{e}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(1000) + PROMPT,
        "{took:?}"
    );
    sim.set_delay(Duration::ZERO);
    assert!(s.call("VM.get_all", vec![]).is_ok());
}

#[test]
fn a_connect_to_a_silent_address_stops_at_a_cancel() {
    // 10.255.255.1 is not routed here: the SYN goes unanswered (or fails at once, which the
    // test accepts as long as it is not slow).
    let cancel = Cancel::new();
    let c = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c.cancel();
    });
    let s = Session::new(
        Options::new("http://10.255.255.1:9/").connect_timeout(Duration::from_secs(10)),
    )
    .unwrap()
    .with_call_options(&CallOptions::new().cancel(cancel));
    let started = Instant::now();
    let r = s.login_with_password("root", "password");
    let took = started.elapsed();
    assert!(r.is_err());
    assert!(
        took < Duration::from_millis(300) + PROMPT,
        "{took:?}: {r:?}"
    );
}

/// One request as a tiny server read it: its head.
fn serve_recording(heads: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let heads = heads.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    let (method, _) =
                        xenapi::codec::decode_call(&body[..], Default::default()).unwrap();
                    heads.lock().unwrap().push(head);
                    let value: Value = if method == "session.login_with_password" {
                        "OpaqueRef:s".into()
                    } else {
                        Value::Array(vec![])
                    };
                    let reply = xenapi::codec::encode_response(
                        &Value::structure([("Status", "Success".into()), ("Value", value)]),
                        &Default::default(),
                    );
                    let out = r.get_mut();
                    let _ = out.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                            reply.len()
                        )
                        .as_bytes(),
                    );
                    let _ = out.write_all(&reply);
                }
            });
        }
    });
    url
}

#[test]
fn every_request_names_the_client_and_carries_the_trace_context() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let url = serve_recording(heads.clone());
    let s = Session::connect(
        Options::new(url)
            .protocol(xenapi::Protocol::XmlRpc)
            .binding("xenapi-rs-test", "9.8.7"),
        "root",
        "password",
    )
    .unwrap();
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let traced = s.with_call_options(&CallOptions::new().traceparent(tp).unwrap());
    traced.call("VM.get_all", vec![]).unwrap();
    s.call("VM.get_all", vec![]).unwrap();
    let heads = heads.lock().unwrap().clone();
    assert!(heads.len() >= 3, "{heads:?}");
    let ua = format!(
        "user-agent: xenapi-rs-test/9.8.7 xenapi-rs/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for h in &heads {
        assert!(h.to_ascii_lowercase().contains(&ua), "{h}");
    }
    let with_tp: Vec<&String> = heads
        .iter()
        .filter(|h| h.contains(&format!("traceparent: {tp}\r\n")))
        .collect();
    assert_eq!(with_tp.len(), 1, "only the traced view's call: {heads:?}");
    assert!(heads.last().unwrap().starts_with("POST / HTTP/1.1\r\n"));
}

#[test]
fn over_tls_a_held_call_reads_on_through_its_ticks_and_stops_at_a_cancel() {
    let sim = sim_with(Dialect::Xapi, |c| c.tls = true);
    let s = Session::connect(
        Options::new(sim.url())
            .tls(xenapi::TlsPolicy::InsecureSkipVerify)
            .timeout(Duration::from_secs(20)),
        "root",
        "password",
    )
    .unwrap();
    let quick = s.call("VM.get_all_records", vec![]).unwrap();
    // Several ticks pass with nothing to read: rustls is asked again each time, and the reply
    // comes whole.
    sim.set_delay(Duration::from_millis(450));
    assert_eq!(s.call("VM.get_all_records", vec![]).unwrap(), quick);

    sim.set_delay(Duration::from_secs(3));
    let cancel = Cancel::new();
    let view = s.with_call_options(&CallOptions::new().cancel(cancel.clone()));
    let c = cancel.clone();
    let fire = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c.cancel();
        Instant::now()
    });
    let e = view.call("VM.get_all", vec![]).unwrap_err();
    let late = Instant::now().duration_since(fire.join().unwrap());
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    assert!(late < PROMPT, "ended {late:?} after the cancel");
    sim.set_delay(Duration::ZERO);
    assert_eq!(s.call("VM.get_all_records", vec![]).unwrap(), quick);
}
