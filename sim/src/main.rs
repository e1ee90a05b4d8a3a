//! `xenapi-sim`: the simulator as a program. Prints `listening on http://ADDR:PORT` (after a
//! `fingerprint sha256 …` line with `--tls`, and a `pool member …` line per extra host) and
//! serves until killed (SIGINT or SIGTERM; with `--save FILE` it writes the pool there first).
//!
//! `xenapi-sim run [options] -- CMD ARGS…` starts the simulator on a free port, runs CMD with
//! what a client needs in its environment (see [`run_env`]: `XENAPI_URL`, `XENAPI_USER`,
//! `XENAPI_PASSWORD`, `XENAPI_DIALECT`, with `--tls` `XENAPI_FINGERPRINT` and `XENAPI_CA_FILE`,
//! with `--hosts N` `XENAPI_MEMBER_URLS`), stops the simulator when CMD ends (saving with
//! `--save`) and exits with CMD's status. `--env NAME` names the variables `NAME_URL`, … instead,
//! so that runs nest: `xenapi-sim run --env XEND --dialect xend -- xenapi-sim run -- CMD` gives
//! CMD two simulators. This and the Python package's `xenapi_rs.testing` are the only code of
//! the project that starts a simulator; tests read these variables.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xenapi_sim::{Config, Dialect, Simulator};

const USAGE: &str =
    "usage: xenapi-sim [--listen 127.0.0.1:9363] [--vms N] [--hosts N] [--templates N]
                  [--state FILE] [--save FILE] [--disk-dir DIR]
                  [--user U --password P] [--dialect xapi|xend]
                  [--session-timeout SECS] [--tls] [--cert-out FILE]
                  [--tls-cert CHAIN.pem --tls-key KEY.pem]
                  [--fault-delay-ms N] [--drip-interval-ms N] [--task-delay-ms N] [--seed N]
                  [--event-next-wait-ms N] [--no-jsonrpc] [--no-xmlrpc] [--old-metrics]
       xenapi-sim run [--env NAME] [the options above] -- CMD [ARG...]";

/// Answering `get_all_records` of a large pool clones and encodes millions of small values;
/// mimalloc makes and frees them at a fraction of the system allocator's cost, and both clients
/// of a benchmark wait for it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Templates the command line starts with (the library's `Config` has none, so that its tests
/// count only control domains and guests).
const DEFAULT_TEMPLATES: usize = 5;

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signum: i32) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM set [`STOP`] instead of killing the process, so `--save` can write the
/// pool on the way out. The C library's `signal` has both, with these numbers, on Unix and in
/// Windows' C runtime (where Ctrl-C runs the handler on a thread of its own).
fn install_signal_handlers() {
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    // SAFETY: `signal` is the C library's; the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

struct Options {
    config: Config,
    save: Option<PathBuf>,
    /// `run --env NAME`: the prefix of the exported variables (`XENAPI`).
    env_prefix: String,
}

fn parse(args: &[String], run: bool) -> Result<Options, String> {
    let mut c = Config {
        listen: if run { "127.0.0.1:0" } else { "127.0.0.1:9363" }
            .parse()
            .map_err(|_| "bad default address")?,
        // A pool as users find one: templates to clone from (`--templates 0` for none).
        templates: DEFAULT_TEMPLATES,
        ..Config::default()
    };
    let mut save = None;
    let mut env_prefix = "XENAPI".to_owned();
    let (mut tls_cert, mut tls_key) = (None::<String>, None::<String>);
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
        if flag == "--old-metrics" {
            c.old_metrics = true;
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
            "--templates" => c.templates = num(&value)? as usize,
            "--state" => c.state = Some(value.into()),
            "--save" => save = Some(PathBuf::from(value)),
            "--disk-dir" => c.disk_dir = Some(value.into()),
            "--hosts" => c.hosts = (num(&value)? as usize).max(1),
            "--user" => c.user = value,
            "--password" => c.password = value,
            "--dialect" => {
                c.dialect = Dialect::parse(&value)
                    .ok_or_else(|| format!("--dialect: {value:?} is not xapi or xend"))?
            }
            "--session-timeout" => c.session_timeout = Duration::from_secs(num(&value)?),
            "--cert-out" => c.cert_out = Some(value.into()),
            "--tls-cert" => tls_cert = Some(value),
            "--tls-key" => tls_key = Some(value),
            "--fault-delay-ms" => c.fault_delay = Duration::from_millis(num(&value)?),
            "--drip-interval-ms" => c.drip_interval = Duration::from_millis(num(&value)?),
            "--task-delay-ms" => c.task_delay = Duration::from_millis(num(&value)?),
            "--seed" => c.seed = Some(num(&value)?),
            "--event-next-wait-ms" => c.event_next_wait = Duration::from_millis(num(&value)?),
            "--env" if run => {
                if value.is_empty()
                    || !value
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(format!(
                        "--env: {value:?} is not a variable prefix (A-Z, 0-9, _)"
                    ));
                }
                env_prefix = value
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
            c.tls = true;
            c.tls_identity = Some((read(&cert)?, read(&key)?));
        }
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    }
    Ok(Options {
        config: c,
        save,
        env_prefix,
    })
}

fn save(sim: &xenapi_sim::Running, path: &Option<PathBuf>) -> bool {
    let Some(path) = path else { return true };
    match sim.save_state(path) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "xenapi-sim: cannot save the pool to {}: {e}",
                path.display()
            );
            false
        }
    }
}

/// `xenapi-sim run [options] -- CMD ...`.
fn run(args: &[String]) -> ExitCode {
    let Some(split) = args.iter().position(|a| a == "--") else {
        eprintln!("xenapi-sim run: no command (put it after --)");
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    if cmd.is_empty() {
        eprintln!("xenapi-sim run: no command after --");
        return ExitCode::from(2);
    }
    let opts = match parse(opts, true) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("xenapi-sim: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = opts.config.clone();
    let sim = match Simulator::start(opts.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xenapi-sim: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    install_signal_handlers();
    // With --tls and no --cert-out, the certificate goes to a file of ours, removed at the end.
    let own_cert = match (sim.cert_pem(), &config.cert_out) {
        (Some(pem), None) => {
            let path = std::env::temp_dir().join(format!(
                "xenapi-sim-{}-{}.pem",
                std::process::id(),
                sim.addr().port()
            ));
            if let Err(e) = std::fs::write(&path, pem) {
                eprintln!("xenapi-sim run: cannot write {}: {e}", path.display());
                sim.stop();
                return ExitCode::FAILURE;
            }
            Some(path)
        }
        _ => None,
    };
    let ca_file = own_cert.clone().or(config.cert_out.clone());
    let env = run_env(&opts.env_prefix, &config, &sim, ca_file.as_deref());
    let spawned = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .envs(env)
        .spawn();
    let remove_cert = || {
        if let Some(p) = &own_cert {
            let _ = std::fs::remove_file(p);
        }
    };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xenapi-sim run: cannot run {:?}: {e}", cmd[0]);
            sim.stop();
            remove_cert();
            return ExitCode::from(127);
        }
    };
    // Wait for the command; a signal to us stops it too.
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(e) => {
                eprintln!("xenapi-sim run: waiting for the command: {e}");
                break None;
            }
        }
        if STOP.load(Ordering::SeqCst) {
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let saved = save(&sim, &opts.save);
    sim.stop();
    remove_cert();
    let code = match status {
        Some(st) => exit_code(st),
        None => 1,
    };
    if !saved && code == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::from(code)
}

/// What `run` exports to the command, each name after `PREFIX_`:
/// - `URL`: the coordinator, `http://127.0.0.1:PORT` (`https://` with `--tls`), no final slash;
/// - `USER`, `PASSWORD`: the login (`--user`, `--password`);
/// - `DIALECT`: `xapi` or `xend`;
/// - `FINGERPRINT`: with `--tls`, the certificate's SHA-256, `AA:BB:…` (a pin);
/// - `CA_FILE`: with `--tls`, the certificate in PEM (the `--cert-out` file, or one of ours);
/// - `MEMBER_URLS`: with `--hosts N`, the other hosts' URLs, space-separated (each answers
///   login with `HOST_IS_SLAVE`); empty with one host.
fn run_env(
    prefix: &str,
    config: &Config,
    sim: &xenapi_sim::Running,
    ca_file: Option<&std::path::Path>,
) -> Vec<(String, String)> {
    let var = |name: &str| format!("{prefix}_{name}");
    let trim = |u: String| u.trim_end_matches('/').to_owned();
    let mut env = vec![
        (var("URL"), trim(sim.url())),
        (var("USER"), config.user.clone()),
        (var("PASSWORD"), config.password.clone()),
        (
            var("DIALECT"),
            match config.dialect {
                Dialect::Xapi => "xapi",
                Dialect::Xend => "xend",
            }
            .to_owned(),
        ),
        (
            var("MEMBER_URLS"),
            sim.member_urls()
                .into_iter()
                .map(trim)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    if let Some(fp) = sim.fingerprint() {
        env.push((var("FINGERPRINT"), fp.to_owned()));
    }
    if let Some(p) = ca_file {
        env.push((var("CA_FILE"), p.display().to_string()));
    }
    env
}

/// The command's exit status as ours: its code, or 128 + the signal that ended it.
fn exit_code(st: std::process::ExitStatus) -> u8 {
    if let Some(c) = st.code() {
        return c.clamp(0, 255) as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = st.signal() {
            return (128 + sig).clamp(0, 255) as u8;
        }
    }
    1
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("run") {
        return run(&args[1..]);
    }
    let Options {
        config,
        save: save_to,
        ..
    } = match parse(&args, false) {
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
    // Before the ready line: a client that signals as soon as it reads it must find the
    // handlers in place.
    install_signal_handlers();
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
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let saved = save(&sim, &save_to);
    sim.stop();
    if saved {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
