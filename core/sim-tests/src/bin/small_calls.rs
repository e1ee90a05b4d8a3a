//! `small_calls URL N`: logs in at URL, makes 10 warm-up calls, then N calls of
//! `VM.get_power_state`, and logs out; prints the calls per second of the N. Run under
//! `strace -f -c` by tests/syscalls.rs to count the client's system calls per call.

use std::time::Instant;

use xenapi::{Options, Session, Value};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: small_calls URL N");
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: small_calls URL N");
    let s = Session::connect(Options::new(url), "root", "password").expect("login");
    let vms = s.call("VM.get_all", vec![]).expect("VM.get_all");
    let vm = vms.as_array().expect("a set")[0].clone();
    let call = |vm: &Value| {
        s.call("VM.get_power_state", vec![vm.clone()])
            .expect("VM.get_power_state")
    };
    for _ in 0..10 {
        call(&vm);
    }
    let started = Instant::now();
    for _ in 0..n {
        call(&vm);
    }
    let took = started.elapsed().as_secs_f64();
    if n > 0 {
        println!("{:.0} calls/s", n as f64 / took);
    }
    s.logout().expect("logout");
}
