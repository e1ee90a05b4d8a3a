//! Calls per second with one session shared by many threads:
//! `cargo run --release --example load URL [CALLS_PER_THREAD] [THREADS...]` (user root, password
//! password; default 200 calls and 1 4 16 64 threads). Each line: `rust THREADS CALLS/s ERRORS`.
//! Exits 1 when any call failed.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use xenapi::api::Vm;
use xenapi::{Options, Ref, Session};

fn main() -> xenapi::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9363".into());
    let calls: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut threads: Vec<usize> = args.filter_map(|s| s.parse().ok()).collect();
    if threads.is_empty() {
        threads = vec![1, 4, 16, 64];
    }
    let session = Session::connect(Options::new(url), "root", "password")?;
    let vm = Vm::get_all(&session)?
        .into_iter()
        .next()
        .unwrap_or_else(Ref::null);
    let mut failed = false;
    for n in threads {
        let barrier = Arc::new(Barrier::new(n + 1));
        let (errors, dt) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..n)
                .map(|_| {
                    let (session, vm, barrier) = (&session, &vm, Arc::clone(&barrier));
                    scope.spawn(move || {
                        barrier.wait();
                        (0..calls)
                            .filter(|_| Vm::get_power_state(session, vm).is_err())
                            .count()
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let errors: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
            (errors, start.elapsed().as_secs_f64())
        });
        println!("rust {n} {:.0} {errors}", (n * calls) as f64 / dt);
        failed |= errors > 0;
    }
    session.logout()?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
