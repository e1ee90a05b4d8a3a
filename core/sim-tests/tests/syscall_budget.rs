//! The system-call budget of a small call (issue 22): after a warm-up, `VM.get_power_state` on
//! one session makes at most [`BUDGET`] system calls in the client process, over JSON-RPC and
//! over XML-RPC. `make everyday-bench` prints the same figure for every binding
//! (tests/bench/README.md).
//!
//! The test runs itself again as a child under `strace -f` (this process holds the simulator,
//! so that the child's trace is the client's alone). The child logs in, warms up, then makes
//! [`CALLS`] calls between two marker system calls (a `stat` of a path that does not exist);
//! the parent counts every system call of every thread between the markers. strace comes with
//! `make deps` (tests/bench/bench.mk adds it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use xenapi::api::Vm;
use xenapi::{Options, Protocol, Session};
use xenapi_tests::*;

/// The most system calls one small call may make (issue 22: one write of the request, reads of
/// the reply, no probe of a recently used connection, timeouts set only when they change).
const BUDGET: f64 = 5.0;
/// Calls counted per protocol.
const CALLS: usize = 300;
/// Calls before the count.
const WARM_UP: usize = 50;
/// Set in the child: the simulator's URL.
const CHILD_URL: &str = "XENAPI_SYSCALL_BUDGET_URL";
const PROTOCOLS: [(&str, Protocol); 2] =
    [("jsonrpc", Protocol::JsonRpc), ("xmlrpc", Protocol::XmlRpc)];

fn marker(protocol: &str, edge: &str) -> String {
    format!("/xenapi-syscall-budget/{protocol}-{edge}")
}

/// The child's part: warm-up, then the counted calls between the markers, per protocol.
fn child(url: &str) {
    for (name, protocol) in PROTOCOLS {
        let options = Options::new(url)
            .protocol(protocol)
            .timeout(Duration::from_secs(20));
        let s = Session::connect(options, "root", "password").expect("login");
        let vm = Vm::get_all(&s).expect("VM.get_all").remove(0);
        for _ in 0..WARM_UP {
            Vm::get_power_state(&s, &vm).expect("VM.get_power_state");
        }
        let _ = std::fs::metadata(marker(name, "begin"));
        for _ in 0..CALLS {
            Vm::get_power_state(&s, &vm).expect("VM.get_power_state");
        }
        let _ = std::fs::metadata(marker(name, "end"));
        s.logout().expect("logout");
    }
}

/// The system calls (by name) that a `strace -f` log shows between `begin` and `end`.
fn between(log: &str, begin: &str, end: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut on = false;
    for line in log.lines() {
        if line.contains(begin) {
            on = true;
            counts.clear();
            continue;
        }
        if line.contains(end) {
            assert!(on, "the end marker {end} came before {begin}");
            return counts;
        }
        if !on || line.contains("resumed>") {
            continue;
        }
        // `PID name(args) = result`, the PID present under -f.
        let call = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        if let Some((name, _)) = call.split_once('(') {
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                *counts.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    panic!("the markers {begin} and {end} are not both in the trace");
}

#[test]
fn a_small_call_makes_at_most_five_system_calls() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        child(&url);
        return;
    }
    let strace_found = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        strace_found,
        "strace is missing: `make deps` installs it (DEPS_APT in tests/bench/bench.mk)"
    );
    let sim = sim(Dialect::Xapi);
    let log: PathBuf =
        std::env::temp_dir().join(format!("xenapi-syscall-budget-{}.txt", std::process::id()));
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_small_call_makes_at_most_five_system_calls",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, sim.url())
        .output()
        .unwrap();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        out.status.success(),
        "the traced child failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, _) in PROTOCOLS {
        let counts = between(&trace, &marker(name, "begin"), &marker(name, "end"));
        let total: usize = counts.values().sum();
        let per_call = total as f64 / CALLS as f64;
        let breakdown: Vec<String> = counts
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", *v as f64 / CALLS as f64))
            .collect();
        assert!(
            per_call <= BUDGET,
            "{name}: {per_call:.2} system calls per small call, over the budget of {BUDGET} \
             ({})",
            breakdown.join(", ")
        );
        eprintln!(
            "{name}: {per_call:.2} system calls per small call ({})",
            breakdown.join(", ")
        );
    }
}
