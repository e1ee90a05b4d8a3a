//! The aim for small calls: at most 5 system calls per call in the client (one write of
//! the request, reads of the reply; no probe of a pooled connection, no socket option per call).
//! `small_calls` (src/bin) runs under `strace -f -c` against the simulator in this process,
//! once with no measured calls and once with 2,000; the difference is the calls' own. Skipped,
//! saying so, where strace is not installed or may not trace.

use std::process::Command;

use xenapi_tests::*;

/// The `total` line of an `strace -c` summary: the number of calls.
fn total(summary: &str) -> Option<u64> {
    let line = summary
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    // % time, seconds, usecs/call, calls, [errors], "total"
    fields.get(3)?.parse().ok()
}

fn traced(url: &str, n: usize) -> Option<(u64, String)> {
    let out = std::env::temp_dir().join(format!("xenapi-strace-{}-{n}", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_small_calls"))
        .arg(url)
        .arg(n.to_string())
        .status()
        .ok()?;
    let summary = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    assert!(status.success(), "small_calls failed under strace");
    let summary = summary?;
    let t = total(&summary).unwrap_or_else(|| panic!("no total in:\n{summary}"));
    Some((t, summary))
}

#[test]
fn a_small_call_costs_at_most_five_system_calls() {
    let can_trace = Command::new("strace")
        .args(["-c", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can_trace {
        eprintln!("SKIPPED: strace is not installed or cannot trace here (apt-get install strace)");
        return;
    }
    let sim = sim(Dialect::Xapi);
    let url = sim.url();
    const N: u64 = 2000;
    let (base, _) = traced(&url, 0).unwrap();
    let (with, summary) = traced(&url, N as usize).unwrap();
    eprintln!("{summary}");
    let per_call = with.saturating_sub(base) as f64 / N as f64;
    eprintln!("{base} system calls without the {N} calls, {with} with: {per_call:.2} per call");
    assert!(per_call <= 5.0, "{per_call:.2} system calls per small call");
    assert!(
        per_call >= 1.0,
        "{per_call:.2}: strace did not see the calls"
    );
}
