//! `xenapi-sim`: the simulator as a program. Prints `listening on http://ADDR:PORT` (after a
//! `fingerprint sha256 …` line with `--tls`, and a `pool member …` line per extra host) and
//! serves until killed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use xenapi_sim::{Config, Dialect, Simulator};

const USAGE: &str = "usage: xenapi-sim [--listen 127.0.0.1:9363] [--vms N] [--hosts N]
                  [--user U --password P] [--dialect xapi|xend]
                  [--session-timeout SECS] [--tls] [--cert-out FILE]
                  [--fault-delay-ms N] [--drip-interval-ms N] [--task-delay-ms N] [--seed N]
                  [--no-jsonrpc] [--no-xmlrpc]";

fn parse(args: &[String]) -> Result<Config, String> {
    let mut c = Config {
        listen: "127.0.0.1:9363"
            .parse()
            .map_err(|_| "bad default address")?,
        ..Config::default()
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--tls" {
            c.tls = true;
            continue;
        }
        if flag == "--no-jsonrpc" {
            c.jsonrpc = false;
            continue;
        }
        if flag == "--no-xmlrpc" {
            c.xmlrpc = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        let num = |v: &str| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--listen" => {
                c.listen = value
                    .parse()
                    .map_err(|_| format!("--listen: {value:?} is not ADDR:PORT"))?
            }
            "--vms" => c.vms = num(&value)? as usize,
            "--hosts" => c.hosts = (num(&value)? as usize).max(1),
            "--user" => c.user = value,
            "--password" => c.password = value,
            "--dialect" => {
                c.dialect = Dialect::parse(&value)
                    .ok_or_else(|| format!("--dialect: {value:?} is not xapi or xend"))?
            }
            "--session-timeout" => c.session_timeout = Duration::from_secs(num(&value)?),
            "--cert-out" => c.cert_out = Some(value.into()),
            "--fault-delay-ms" => c.fault_delay = Duration::from_millis(num(&value)?),
            "--drip-interval-ms" => c.drip_interval = Duration::from_millis(num(&value)?),
            "--task-delay-ms" => c.task_delay = Duration::from_millis(num(&value)?),
            "--seed" => c.seed = Some(num(&value)?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(c)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("xenapi-sim: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sim = match Simulator::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xenapi-sim: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = sim.url();
    let mut out = std::io::stdout().lock();
    if let Some(fp) = sim.fingerprint() {
        let _ = writeln!(out, "fingerprint sha256 {fp}");
    }
    for (i, m) in sim.member_urls().iter().enumerate() {
        let _ = writeln!(
            out,
            "pool member host{:02} {}",
            i + 2,
            m.trim_end_matches('/')
        );
    }
    let _ = writeln!(out, "listening on {}", url.trim_end_matches('/'));
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
