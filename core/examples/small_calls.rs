//! Sequential small-call rate against a server: `cargo run --release --example small_calls URL [N]`
//! (user root, password password). Prints calls per second for `VM.get_power_state`.

use std::time::Instant;

use xenapi::api::Vm;
use xenapi::{Options, Ref, Session};

fn main() -> xenapi::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9363".into());
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let session = Session::connect(Options::new(url), "root", "password")?;
    let vm = Vm::get_all(&session)?
        .into_iter()
        .next()
        .unwrap_or_else(Ref::null);
    let start = Instant::now();
    for _ in 0..n {
        Vm::get_power_state(&session, &vm)?;
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "{n} x VM.get_power_state: {:.0}/s ({:.0} us/call)",
        f64::from(n) / dt,
        dt / f64::from(n) * 1e6
    );
    session.logout()
}
