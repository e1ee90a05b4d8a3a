//! Shared helpers for the integration tests: start the embedded simulator in a dialect, log in,
//! find VMs, and check failures.

use std::time::{Duration, Instant};

use xenapi::{Error, Options, Session, Value};
pub use xenapi_sim::{Config, Dialect, Fault, Running, Simulator, Stats};

/// Both dialects, for tests that run the same scenario against xapi and xend.
pub const DIALECTS: [Dialect; 2] = [Dialect::Xapi, Dialect::Xend];

/// A password no code path should ever print (see the secrets tests).
pub const SECRET_PASSWORD: &str = "Tr0ub4dor&3-do-not-print";

/// The simulator in `dialect` on a free loopback port: 4 VMs (`vm01`, `vm03` Running; `vm02`,
/// `vm04` Halted), one host, `root`/`password`.
pub fn sim(dialect: Dialect) -> Running {
    sim_with(dialect, |_| {})
}

/// [`sim`] with changes to the config (hosts, TLS, delays, …).
pub fn sim_with(dialect: Dialect, change: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config {
        dialect,
        task_delay: Duration::from_millis(20),
        seed: Some(42),
        ..Config::default()
    };
    change(&mut config);
    Simulator::start(config).expect("the simulator starts")
}

/// Options for `running`'s URL with a short deadline, so a hang fails the test instead of
/// stalling it.
pub fn options(running: &Running) -> Options {
    Options::new(running.url()).timeout(Duration::from_secs(20))
}

/// Logs in as root.
pub fn connect(running: &Running) -> Session {
    Session::connect(options(running), "root", "password").expect("login")
}

/// The reference of the VM named `name` (via `VM.get_by_name_label`).
pub fn vm_ref(s: &Session, name: &str) -> String {
    let refs = s
        .call("VM.get_by_name_label", vec![name.into()])
        .expect("VM.get_by_name_label");
    let refs = refs.as_array().expect("a set of refs");
    assert_eq!(refs.len(), 1, "one VM is named {name}: {refs:?}");
    refs[0].as_str().expect("a ref").to_owned()
}

/// The power state of `vm` (`Running`, `Halted`, `Paused`, `Suspended`).
pub fn power_state(s: &Session, vm: &str) -> String {
    s.call("VM.get_power_state", vec![vm.into()])
        .expect("VM.get_power_state")
        .as_str()
        .expect("a string")
        .to_owned()
}

/// The first (coordinator) host.
pub fn host_ref(s: &Session) -> String {
    let hosts = s.call("host.get_all", vec![]).expect("host.get_all");
    hosts.as_array().expect("a set")[0]
        .as_str()
        .expect("a ref")
        .to_owned()
}

/// `VM.start(vm, paused, force)`: the core drops `force` for xend.
pub fn start(s: &Session, vm: &str, paused: bool) -> xenapi::Result<Value> {
    s.call("VM.start", vec![vm.into(), paused.into(), false.into()])
}

/// `VM.resume(vm, paused, force)`.
pub fn resume(s: &Session, vm: &str, paused: bool) -> xenapi::Result<Value> {
    s.call("VM.resume", vec![vm.into(), paused.into(), false.into()])
}

/// Calls a one-argument VM operation (`VM.pause`, …).
pub fn vm_op(s: &Session, method: &str, vm: &str) -> xenapi::Result<Value> {
    s.call(method, vec![vm.into()])
}

/// Asserts that `result` failed with the XenAPI `code` and exactly `params`.
#[track_caller]
pub fn assert_failure<T: std::fmt::Debug>(result: xenapi::Result<T>, code: &str, params: &[&str]) {
    let err = result.expect_err("the call should fail");
    let f = err
        .failure()
        .unwrap_or_else(|| panic!("expected XenAPI failure {code}, got {err:?}"));
    assert_eq!(f.code(), code, "{err}");
    assert_eq!(f.params(), params, "{code} params");
}

/// The error of `result`, asserting it is of `kind`.
#[track_caller]
pub fn expect_kind<T: std::fmt::Debug>(
    result: xenapi::Result<T>,
    kind: xenapi::ErrorKind,
) -> Error {
    let err = result.expect_err("the call should fail");
    assert_eq!(err.kind(), kind, "{err:?}");
    err
}

/// A struct value's members as `(key, f64)` pairs (for `VCPUs_utilisation`).
pub fn float_map(v: &Value) -> Vec<(String, f64)> {
    v.as_struct()
        .expect("a map")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().expect("a float")))
        .collect()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A state name as `VM_BAD_POWER_STATE` spells it in `dialect`.
pub fn state_word(dialect: Dialect, state: &str) -> String {
    match dialect {
        Dialect::Xapi => state.to_ascii_lowercase(),
        Dialect::Xend => state.to_owned(),
    }
}

/// A new user VDI of `size` bytes in `sr` (the pool's default SR when `None`), for the
/// transfer tests.
pub fn new_vdi(s: &Session, sr: Option<&str>, size: usize) -> String {
    let sr = match sr {
        Some(sr) => sr.to_owned(),
        None => {
            let pool = s.call("pool.get_all", vec![]).unwrap();
            let pool = pool.as_array().unwrap()[0].clone();
            ref_of(s.call("pool.get_default_SR", vec![pool]).unwrap())
        }
    };
    let rec = Value::Struct(vec![
        ("name_label".into(), "transfer".into()),
        ("name_description".into(), "".into()),
        ("SR".into(), sr.into()),
        ("virtual_size".into(), Value::String(size.to_string())),
        ("type".into(), "user".into()),
        ("sharable".into(), false.into()),
        ("read_only".into(), false.into()),
        ("other_config".into(), Value::Struct(vec![])),
        ("xenstore_data".into(), Value::Struct(vec![])),
        ("sm_config".into(), Value::Struct(vec![])),
        ("tags".into(), Value::Array(vec![])),
    ]);
    ref_of(s.call("VDI.create", vec![rec]).expect("VDI.create"))
}

fn ref_of(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => panic!("expected a reference, got {other:?}"),
    }
}

/// A raw HTTP server on a free loopback port for replies the simulator never sends: each
/// connection carries one request, whose body `answer` turns into the body of a 200 reply of
/// `content_type`, or into a 404 when it gives `None` (then the connection closes). Returns its
/// URL.
pub fn raw_server(
    content_type: &'static str,
    answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut request = vec![0; length];
            if reader.read_exact(&mut request).is_err() {
                continue;
            }
            let mut out = stream;
            let Some(body) = answer(&request) else {
                let _ = write!(
                    out,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            };
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(&body);
        }
    });
    url
}
