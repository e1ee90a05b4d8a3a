//! Every error of spec/WIRE.md (Errors), with its parameters as each dialect sends them, and the
//! session behaviour built on them (re-login, coordinator redirect).

use xenapi::{codes, ErrorKind, Options, Session, Value};
use xenapi_tests::*;

#[test]
fn bad_password_is_session_authentication_failed() {
    for d in DIALECTS {
        let sim = sim(d);
        let r = Session::connect(options(&sim), "root", "wrong");
        match d {
            Dialect::Xapi => assert_failure(
                r,
                codes::SESSION_AUTHENTICATION_FAILED,
                &["root", "Authentication failure"],
            ),
            Dialect::Xend => assert_failure(r, codes::SESSION_AUTHENTICATION_FAILED, &[]),
        }
        let r = Session::connect(options(&sim), "nobody", "password");
        assert_eq!(
            r.unwrap_err().code(),
            Some(codes::SESSION_AUTHENTICATION_FAILED)
        );
        assert_eq!(sim.session_count(), 0);
        assert_eq!(sim.stats().logins, 0);
    }
}

#[test]
fn session_invalid_after_logout() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let handle = s.handle().unwrap();
        let client = s.client();
        s.logout().unwrap();
        // The raw handle is dead on the server.
        assert_failure(
            client.call("VM.get_all", &[Value::from(handle.as_str())]),
            codes::SESSION_INVALID,
            &[handle.as_str()],
        );
        // The session object knows it logged out and does not log in again by itself.
        let e = expect_kind(s.call("VM.get_all", vec![]), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("not logged in"), "{e}");
        assert_eq!(sim.stats().logins, 1);
        // An unknown handle is SESSION_INVALID too.
        let bogus = match d {
            Dialect::Xapi => "OpaqueRef:00000000-dead-beef-0000-000000000000",
            Dialect::Xend => "00000000-dead-beef-0000-000000000000",
        };
        assert_failure(
            client.call("host.get_all", &[Value::from(bogus)]),
            codes::SESSION_INVALID,
            &[bogus],
        );
    }
}

#[test]
fn expired_session_logs_in_again_transparently() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let first = s.handle().unwrap();
        assert_eq!(sim.expire_sessions(), 1);
        assert_eq!(sim.session_count(), 0);
        let vms = s.call("VM.get_all", vec![]).expect("re-login and retry");
        assert_eq!(vms.as_array().unwrap().len(), 5);
        assert_eq!(sim.stats().logins, 2, "the sim saw a second login");
        assert_eq!(sim.session_count(), 1);
        assert_ne!(s.handle().unwrap(), first);
        // The re-login kept the dialect's login form (xend: 2 arguments).
        assert_eq!(
            s.dialect(),
            match d {
                Dialect::Xapi => xenapi::Dialect::Xapi,
                Dialect::Xend => xenapi::Dialect::Xend,
            }
        );
        drop(s);
        assert_eq!(sim.session_count(), 0);
    }
}

#[test]
fn expired_sessions_with_idle_timeout() {
    let sim = sim_with(Dialect::Xapi, |c| {
        c.session_timeout = std::time::Duration::from_millis(300)
    });
    let s = connect(&sim);
    std::thread::sleep(std::time::Duration::from_millis(450));
    s.call("VM.get_all", vec![])
        .expect("re-login after idle expiry");
    assert_eq!(sim.stats().logins, 2);
}

#[test]
fn host_is_slave_is_followed_to_the_coordinator() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.hosts = 2);
        let members = sim.member_urls();
        assert_eq!(members.len(), 1);
        let opts = Options::new(&members[0]).timeout(std::time::Duration::from_secs(20));
        let s = Session::connect(opts, "root", "password").expect("follows the coordinator");
        assert_eq!(s.url(), sim.url());
        assert_eq!(
            s.call("host.get_all", vec![])
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(sim.session_count(), 1);
        drop(s);
        assert_eq!(sim.session_count(), 0);

        // Not following: the error names the coordinator.
        let opts = Options::new(&members[0])
            .timeout(std::time::Duration::from_secs(20))
            .follow_coordinator(false);
        let addr = sim.addr().to_string();
        let r = Session::connect(opts, "root", "password");
        assert_failure(r, codes::HOST_IS_SLAVE, &[addr.as_str()]);
        assert_eq!(sim.session_count(), 0);
    }
}

#[test]
fn slave_local_login_stays_on_the_member_and_ends_with_local_logout() {
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 2);
    let member = &sim.member_urls()[0];
    let s = Session::new(Options::new(member)).unwrap();
    s.slave_local_login_with_password("root", "password")
        .expect("a member takes a local login");
    assert_eq!(&s.url(), member, "no redirect to the coordinator");
    assert_eq!(sim.session_count(), 1);
    assert!(!s
        .call("VM.get_all", vec![])
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    s.local_logout().unwrap();
    assert_eq!(sim.session_count(), 0);

    // A bad password is the login's failure; the password is nowhere in it.
    let r = s.slave_local_login_with_password("root", "wrong-secret");
    let e = r.unwrap_err();
    assert_eq!(e.code(), Some(codes::SESSION_AUTHENTICATION_FAILED));
    assert!(!format!("{e} {e:?}").contains("wrong-secret"));

    // Dropping a locally logged-in session logs it out too.
    let s = Session::new(Options::new(member)).unwrap();
    s.slave_local_login_with_password("root", "password")
        .unwrap();
    assert_eq!(sim.session_count(), 1);
    drop(s);
    assert_eq!(sim.session_count(), 0);

    // xend has no pools and no local login.
    let xend = sim_with(Dialect::Xend, |_| {});
    let s = Session::new(Options::new(xend.url())).unwrap();
    let e = s
        .slave_local_login_with_password("root", "password")
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::MESSAGE_METHOD_UNKNOWN));
}

#[test]
fn a_login_with_arguments_as_given_is_the_servers_answer() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = Session::new(Options::new(sim.url())).unwrap();
        // The method name the server quotes stays whole even if the password is "password".
        // xend refuses five arguments; xapi reads its defaulted version and originator from
        // what follows the password and ignores the rest (gen_server.ml), so it logs in below.
        let five = ["root", "password", "1.0", "me", "extra"].map(Value::from);
        if d == Dialect::Xend {
            let e = s.login_with_password_args(&five).unwrap_err();
            assert_eq!(
                e.code(),
                Some(codes::MESSAGE_PARAMETER_COUNT_MISMATCH),
                "{d:?}"
            );
            assert!(e.to_string().contains("session.login_with_password"), "{e}");
        }
        let wrong = [Value::from("root"), Value::from("hidden-pw")];
        let e = s.login_with_password_args(&wrong).unwrap_err();
        assert_eq!(e.code(), Some(codes::SESSION_AUTHENTICATION_FAILED));
        assert!(!format!("{e} {e:?}").contains("hidden-pw"));
        assert!(!s.is_logged_in());
        assert_eq!(sim.session_count(), 0);
        // Arguments the server takes give a working session, logged out on drop.
        let two = [Value::from("root"), Value::from("password")];
        let right: &[Value] = if d == Dialect::Xapi { &five } else { &two };
        s.login_with_password_args(right).unwrap();
        assert!(s.call("VM.get_all", vec![]).is_ok());
        assert_eq!(sim.session_count(), 1);
        drop(s);
        assert_eq!(sim.session_count(), 0);
    }
}

#[test]
fn handle_invalid() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let bogus = match d {
            Dialect::Xapi => "OpaqueRef:12345678-0000-0000-0000-000000000000",
            Dialect::Xend => "12345678-0000-0000-0000-000000000000",
        };
        assert_failure(
            s.call("VM.get_record", vec![bogus.into()]),
            codes::HANDLE_INVALID,
            &["VM", bogus],
        );
        assert_failure(
            start(&s, bogus, false),
            codes::HANDLE_INVALID,
            &["VM", bogus],
        );
        assert_failure(
            s.call("host.dmesg", vec![bogus.into()]),
            codes::HANDLE_INVALID,
            &["host", bogus],
        );
        // A ref of the wrong class is invalid for this class.
        let host = host_ref(&s);
        assert_failure(
            s.call("VM.get_power_state", vec![host.as_str().into()]),
            codes::HANDLE_INVALID,
            &["VM", host.as_str()],
        );
    }
}

/// The operations and the states they start from (spec/WIRE.md, Power states). `hard_shutdown` on xend
/// works from any live state (Running, Paused), on xapi also from Suspended.
fn allowed(d: Dialect, op: &str) -> &'static [&'static str] {
    match op {
        "start" => &["Halted"],
        "clean_shutdown" | "clean_reboot" | "pause" | "suspend" => &["Running"],
        "unpause" => &["Paused"],
        "resume" => &["Suspended"],
        "hard_shutdown" if d == Dialect::Xapi => &["Paused", "Suspended", "Running"],
        "hard_shutdown" | "hard_reboot" => &["Paused", "Running"],
        _ => unreachable!("{op}"),
    }
}

const OPS: [&str; 9] = [
    "start",
    "clean_shutdown",
    "hard_shutdown",
    "clean_reboot",
    "hard_reboot",
    "pause",
    "unpause",
    "suspend",
    "resume",
];

fn call_op(s: &Session, op: &str, vm: &str) -> xenapi::Result<Value> {
    match op {
        "start" => start(s, vm, false),
        "resume" => resume(s, vm, false),
        _ => vm_op(s, &format!("VM.{op}"), vm),
    }
}

/// Puts `vm` (Halted) into `state`.
fn reach(s: &Session, vm: &str, state: &str) {
    match state {
        "Halted" => {}
        "Running" => {
            start(s, vm, false).unwrap();
        }
        "Paused" => {
            start(s, vm, true).unwrap();
        }
        "Suspended" => {
            start(s, vm, false).unwrap();
            vm_op(s, "VM.suspend", vm).unwrap();
        }
        _ => unreachable!(),
    }
    assert_eq!(power_state(s, vm), state);
}

#[test]
fn vm_bad_power_state_for_every_wrong_state_operation() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.vms = 8);
        let s = connect(&sim);
        let mut checked = 0;
        for (i, state) in ["Halted", "Running", "Paused", "Suspended"]
            .iter()
            .enumerate()
        {
            // An even VM starts Halted: vm02, vm04, vm06, vm08.
            let vm = vm_ref(&s, &format!("vm{:02}", 2 * i + 2));
            reach(&s, &vm, state);
            for op in OPS {
                let ok = allowed(d, op);
                if ok.contains(state) {
                    continue;
                }
                let expected = ok
                    .iter()
                    .map(|st| state_word(d, st))
                    .collect::<Vec<_>>()
                    .join(", ");
                let actual = state_word(d, state);
                assert_failure(
                    call_op(&s, op, &vm),
                    codes::VM_BAD_POWER_STATE,
                    &[vm.as_str(), expected.as_str(), actual.as_str()],
                );
                assert_eq!(&power_state(&s, &vm), state, "{op} changed nothing");
                checked += 1;
            }
        }
        // 8 ops refused from Halted, 3 from Running, 6 from Paused, and from Suspended 7 (xapi:
        // hard_shutdown allowed) or 8 (xend).
        let expected = match d {
            Dialect::Xapi => 8 + 3 + 6 + 7,
            Dialect::Xend => 8 + 3 + 6 + 8,
        };
        assert_eq!(checked, expected, "{d:?}");
        // The spellings of spec/WIRE.md (Errors): xapi lowercase, xend capitalised.
        let vm01 = vm_ref(&s, "vm01");
        let e = start(&s, &vm01, false).unwrap_err();
        let f = e.failure().unwrap();
        match d {
            Dialect::Xapi => assert_eq!(f.params()[1..], ["halted", "running"]),
            Dialect::Xend => assert_eq!(f.params()[1..], ["Halted", "Running"]),
        }
        assert!(e.to_string().contains("VM_BAD_POWER_STATE"), "{e}");
    }
}

#[test]
fn control_domain_refuses_power_operations() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let host = host_ref(&s);
        let dom0 = s
            .call("host.get_control_domain", vec![host.into()])
            .unwrap();
        let e = vm_op(&s, "VM.clean_shutdown", dom0.as_str().unwrap()).unwrap_err();
        assert_eq!(e.code(), Some("OPERATION_NOT_ALLOWED"), "{e}");
    }
}

#[test]
fn message_method_unknown() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        assert_failure(
            s.call("VM.frobnicate", vec![]),
            codes::MESSAGE_METHOD_UNKNOWN,
            &["VM.frobnicate"],
        );
        assert_failure(
            s.call("nosuchclass.get_all", vec![]),
            codes::MESSAGE_METHOD_UNKNOWN,
            &["nosuchclass.get_all"],
        );
        assert_failure(
            s.call("nodot", vec![]),
            codes::MESSAGE_METHOD_UNKNOWN,
            &["nodot"],
        );
    }
}

#[test]
fn message_parameter_count_mismatch() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let vm = vm_ref(&s, "vm02");
        // VM.start(session, vm): xapi counts exclude the session (3 expected: vm, start_paused,
        // force); xend's VM.start is (session, vm, start_paused) and counts include the session.
        let r = s.call("VM.start", vec![vm.as_str().into()]);
        match d {
            Dialect::Xapi => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.start", "3", "1"],
            ),
            Dialect::Xend => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.start", "3", "2"],
            ),
        }
        let r = s.call("VM.get_power_state", vec![]);
        match d {
            Dialect::Xapi => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.get_power_state", "1", "0"],
            ),
            Dialect::Xend => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.get_power_state", "2", "1"],
            ),
        }
        let r = s.call(
            "VM.get_power_state",
            vec![vm.as_str().into(), "extra".into()],
        );
        match d {
            Dialect::Xapi => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.get_power_state", "1", "2"],
            ),
            Dialect::Xend => assert_failure(
                r,
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.get_power_state", "2", "3"],
            ),
        }
        // The raw 4-argument login on xend is refused with its own count (user, password).
        if d == Dialect::Xend {
            let args: Vec<Value> = ["root", "password", "1.0", "t"].map(Value::from).to_vec();
            assert_failure(
                s.client().call("session.login_with_password", &args),
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["session.login_with_password", "2", "4"],
            );
        }
        assert_eq!(power_state(&s, &vm), "Halted");
    }
}

#[test]
fn error_messages_name_the_code_and_the_params() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = vm_ref(&s, "vm01");
    let e = vm_op(&s, "VM.unpause", &vm).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("VM_BAD_POWER_STATE: "), "{text}");
    assert!(
        text.contains(&vm) && text.contains("running") && text.contains("paused"),
        "{text}"
    );
}
