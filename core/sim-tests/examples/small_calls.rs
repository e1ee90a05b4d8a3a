//! Small calls from Rust for `make everyday-bench` (tests/bench/README.md): `VM.get_power_state`
//! in a loop on one logged-in session against a running server.
//!
//! ```text
//! small_calls URL time SECONDS   calls for SECONDS, then prints `small rust CALLS SECONDS`
//! small_calls URL count CALLS    CALLS calls between two marker syscalls (a `stat` of
//!                                /xenapi-bench-mark/begin and /xenapi-bench-mark/end), for a
//!                                tracer (strace) to count the system calls in between; prints
//!                                `count rust CALLS`
//! small_calls URL interrupt HOLD a held call (`event.from` on a quiet server for HOLD seconds)
//!                                on a view with a per-call `Cancel` fired from another thread
//!                                after 300 ms; prints `interrupt rust MS OUTCOME USABLE`: the
//!                                time from `Cancel::cancel` to the call's return, how it ended
//!                                and whether the session answers a call afterwards
//! ```
//!
//! Both log in (`XENAPI_USER`, `XENAPI_PASSWORD`; root / password by default) and warm up first:
//! the login, the protocol probe and the first connection are not what is measured.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use xenapi::api::{Event, Vm};
use xenapi::{CallOptions, Cancel, Error, Options, Session};

/// Calls made before anything is measured.
const WARM_UP: usize = 200;

/// The marker the tracer looks for: a `stat` of a path that does not exist.
fn mark(what: &str) {
    let _ = std::fs::metadata(format!("/xenapi-bench-mark/{what}"));
}

/// A held `event.from` (`hold` seconds on a quiet server) cancelled 300 ms in: the milliseconds
/// from the cancel to the call's return, and how the call ended.
fn interrupt(session: &Session, hold: f64) -> xenapi::Result<(f64, String)> {
    let classes = vec!["vm".to_owned()];
    let token = Event::from(session, &classes, "", 0.0)?.token;
    let cancel = Cancel::new();
    let view = session.with_call_options(&CallOptions::new().cancel(cancel.clone()));
    let fired = std::thread::scope(|scope| {
        let canceller = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            let t = Instant::now();
            cancel.cancel();
            t
        });
        let result = Event::from(&view, &classes, &token, hold);
        let done = Instant::now();
        let fired = canceller.join().expect("the cancelling thread");
        (result, done.saturating_duration_since(fired))
    });
    let outcome = match fired.0 {
        Ok(_) => "returned".to_owned(),
        Err(Error::Cancelled { .. }) => "cancelled".to_owned(),
        Err(Error::Api(f)) => f.code().to_owned(),
        Err(e) => format!("{:?}", e.kind()).to_lowercase(),
    };
    Ok((fired.1.as_secs_f64() * 1000.0, outcome))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(mode), Some(n)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: small_calls URL time SECONDS | small_calls URL count CALLS");
        return ExitCode::from(2);
    };
    let Ok(n) = n.parse::<f64>() else {
        eprintln!("small_calls: {n:?} is not a number");
        return ExitCode::from(2);
    };
    let user = std::env::var("XENAPI_USER").unwrap_or_else(|_| "root".into());
    let password = std::env::var("XENAPI_PASSWORD").unwrap_or_else(|_| "password".into());
    let session = match Session::connect(Options::new(url.as_str()), &user, &password) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("small_calls: login failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let vm = match Vm::get_all(&session) {
        Ok(vms) if !vms.is_empty() => vms[0].clone(),
        Ok(_) => {
            eprintln!("small_calls: the server has no VM");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("small_calls: VM.get_all: {e}");
            return ExitCode::FAILURE;
        }
    };
    let call = || Vm::get_power_state(&session, &vm).map(|_| ());
    for _ in 0..WARM_UP {
        if let Err(e) = call() {
            eprintln!("small_calls: VM.get_power_state: {e}");
            return ExitCode::FAILURE;
        }
    }
    let outcome = match mode.as_str() {
        "time" => {
            let span = Duration::from_secs_f64(n);
            let t0 = Instant::now();
            let mut calls = 0u64;
            let mut result = Ok(());
            while t0.elapsed() < span {
                result = call();
                if result.is_err() {
                    break;
                }
                calls += 1;
            }
            let secs = t0.elapsed().as_secs_f64();
            result.map(|()| println!("small rust {calls} {secs:.6}"))
        }
        "count" => {
            let calls = n as u64;
            mark("begin");
            let result = (0..calls).try_for_each(|_| call());
            mark("end");
            result.map(|()| println!("count rust {calls}"))
        }
        "interrupt" => interrupt(&session, n).map(|(ms, outcome)| {
            let usable = if call().is_ok() { "usable" } else { "unusable" };
            println!("interrupt rust {ms:.1} {outcome} {usable}");
        }),
        other => {
            eprintln!("small_calls: the mode is time, count or interrupt, not {other:?}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = outcome {
        eprintln!("small_calls: VM.get_power_state: {e}");
        return ExitCode::FAILURE;
    }
    let _ = session.logout();
    ExitCode::SUCCESS
}
