//! `xenapi-dotnet-bench URL [iterations [jsonrpc|xmlrpc]]`: the best times of
//! `VM.get_all_records` through the Rust core over that protocol (default JSON-RPC), printed as
//! `rust-core-PROTOCOL <ms>` (the generic call, decoded to `Value`: what `Session.Call` in C# sits
//! on) and `rust-core-typed-PROTOCOL <ms>` (the generated typed API, `Vm::get_all_records`: what
//! the generated C# `VM.get_all_records` sits on, via libxenapi).

use std::time::Instant;

use xenapi::api::Vm;
use xenapi::{Options, Session};

fn best(xs: Vec<f64>) -> f64 {
    xs.into_iter().fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), xenapi::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: xenapi-dotnet-bench URL [iterations]");
    let n: usize = args.next().map_or(10, |s| s.parse().expect("iterations"));
    let protocol = args.next().unwrap_or_else(|| "jsonrpc".to_owned());
    let wire = match protocol.as_str() {
        "jsonrpc" => xenapi::Protocol::JsonRpc,
        "xmlrpc" => xenapi::Protocol::XmlRpc,
        other => panic!("the protocol is jsonrpc or xmlrpc, not {other}"),
    };
    let session = Session::connect(Options::new(url).protocol(wire), "root", "password")?;
    let (mut generic, mut typed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut count = 0;
    for i in 0..n + 2 {
        let t = Instant::now();
        let v = session.call("VM.get_all_records", vec![])?;
        let g = t.elapsed().as_secs_f64() * 1000.0;
        count = v.as_struct().map_or(0, |s| s.len());
        let t = Instant::now();
        let records = Vm::get_all_records(&session)?;
        let ty = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(records.len(), count);
        if i >= 2 {
            generic.push(g);
            typed.push(ty);
        }
    }
    println!("records {count}");
    println!("rust-core-{protocol} {:.1}", best(generic));
    println!("rust-core-typed-{protocol} {:.1}", best(typed));
    session.logout()?;
    Ok(())
}
