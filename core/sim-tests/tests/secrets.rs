//! No error text, `Debug` output or server log shows the password (or the session handle).

use std::time::Duration;

use xenapi::{Options, Session};
use xenapi_tests::*;

#[track_caller]
fn clean(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET_PASSWORD),
        "{what} shows the password: {text}"
    );
    assert!(
        !text.contains("Tr0ub4dor"),
        "{what} shows part of the password: {text}"
    );
}

fn secret_sim(d: Dialect, change: impl FnOnce(&mut xenapi_sim::Config)) -> Running {
    sim_with(d, |c| {
        c.password = SECRET_PASSWORD.to_owned();
        change(c)
    })
}

#[test]
fn errors_and_debug_output_never_show_the_password() {
    for d in DIALECTS {
        let sim = secret_sim(d, |c| {
            c.hosts = 2;
            c.drip_interval = Duration::from_millis(200);
        });
        let mut shown = Vec::new();

        // A good login: the session and its options.
        let s = Session::connect(options(&sim), "root", SECRET_PASSWORD).unwrap();
        shown.push(("Session Debug", format!("{s:?}")));
        let handle = s.handle().unwrap();
        assert!(
            !format!("{s:?}").contains(&handle),
            "Debug shows the handle"
        );

        // A wrong password, and the right password to the wrong user.
        for (user, pw) in [("root", "Tr0ub4dor&3-wrong"), ("nobody", SECRET_PASSWORD)] {
            let e = Session::connect(options(&sim), user, pw).unwrap_err();
            shown.push(("auth failure", format!("{e} / {e:?}")));
        }
        // Coordinator redirect refused.
        let e = Session::connect(
            Options::new(&sim.member_urls()[0]).follow_coordinator(false),
            "root",
            SECRET_PASSWORD,
        )
        .unwrap_err();
        shown.push(("HOST_IS_SLAVE", format!("{e} / {e:?}")));
        // Transport failures during login.
        for protocol in [xenapi::Protocol::XmlRpc, xenapi::Protocol::JsonRpc] {
            for fault in [
                Fault::Http500,
                Fault::Garbage,
                Fault::Reset,
                Fault::Truncate,
            ] {
                sim.set_fault(Some(fault), 1);
                let opts = options(&sim).protocol(protocol);
                let e = Session::connect(opts, "root", SECRET_PASSWORD).unwrap_err();
                shown.push((
                    "login fault",
                    format!("{protocol:?} {fault:?}: {e} / {e:?}"),
                ));
            }
        }
        sim.set_fault(Some(Fault::Drip), 1);
        let e = Session::connect(
            options(&sim).timeout(Duration::from_millis(300)),
            "root",
            SECRET_PASSWORD,
        )
        .unwrap_err();
        shown.push(("login timeout", format!("{e} / {e:?}")));
        // A re-login that fails after expiry: the error of the call.
        sim.expire_sessions();
        sim.set_fault(Some(Fault::Http500), 1);
        // The first reply (SESSION_INVALID) is hit by the fault; a second try must still not leak.
        if let Err(e) = s.call("VM.get_all", vec![]) {
            shown.push(("call fault", format!("{e} / {e:?}")));
        }
        sim.expire_sessions();
        if let Err(e) = s.call("VM.get_all", vec![]) {
            shown.push(("re-login", format!("{e} / {e:?}")));
        }
        shown.push(("Session Debug after re-login", format!("{s:?}")));

        // What the server wrote in its log.
        let host = host_ref(&s);
        let log = s.call("host.get_log", vec![host.into()]).unwrap();
        shown.push(("server log", log.as_str().unwrap().to_owned()));

        for (what, text) in &shown {
            clean(what, text);
        }
        assert!(shown.len() >= 10);
    }
}

#[test]
fn unreachable_and_tls_errors_never_show_the_password() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Session::connect(
        Options::new(format!("http://127.0.0.1:{port}/")),
        "root",
        SECRET_PASSWORD,
    )
    .unwrap_err();
    clean("connect error", &format!("{e} / {e:?}"));
    let sim = secret_sim(Dialect::Xapi, |c| c.tls = true);
    let e = Session::connect(
        Options::new(sim.url()).timeout(Duration::from_secs(5)),
        "root",
        SECRET_PASSWORD,
    )
    .unwrap_err();
    clean("TLS error", &format!("{e} / {e:?}"));
}
