//! `xenapi-dotnet-bench URL [iterations]`: median time of `VM.get_all_records` through the Rust
//! core (decoded to `Value`), printed as `rust-core <ms>`.

use std::time::Instant;

use xenapi::{Options, Session};

fn main() -> Result<(), xenapi::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: xenapi-dotnet-bench URL [iterations]");
    let n: usize = args.next().map_or(10, |s| s.parse().expect("iterations"));
    let session = Session::connect(Options::new(url), "root", "password")?;
    let mut times = Vec::with_capacity(n);
    let mut count = 0;
    for i in 0..n + 2 {
        let t = Instant::now();
        let v = session.call("VM.get_all_records", vec![])?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        count = v.as_struct().map_or(0, |s| s.len());
        if i >= 2 {
            times.push(ms);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("records {count}");
    println!("rust-core {:.1}", times[times.len() / 2]);
    session.logout()?;
    Ok(())
}
