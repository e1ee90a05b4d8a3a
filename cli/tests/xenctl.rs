//! End-to-end: the built `xenctl` binary against an embedded simulator, in both dialects.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use xenapi::{Options, Session};
use xenapi_sim::{Config, Dialect, Running, Simulator};

const DIALECTS: [Dialect; 2] = [Dialect::Xapi, Dialect::Xend];

fn sim(d: Dialect) -> Running {
    Simulator::start(Config {
        dialect: d,
        task_delay: Duration::from_millis(10),
        ..Config::default()
    })
    .expect("sim starts")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `xenctl --url URL ARGS` with the password in `XENAPI_PASSWORD`; kills it after 30 s.
fn xenctl_with(url: &str, password: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xenctl"));
    cmd.arg("--url")
        .arg(url)
        .args(args)
        .env_remove("XENAPI_URL")
        .env_remove("XENAPI_USER")
        .env("XENAPI_PASSWORD", password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("xenctl runs");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("xenctl {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("output");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn xenctl(sim: &Running, args: &[&str]) -> Run {
    xenctl_with(&sim.url(), "password", args)
}

#[track_caller]
fn ok(sim: &Running, args: &[&str]) -> String {
    let r = xenctl(sim, args);
    assert_eq!(r.code, 0, "xenctl {args:?} failed: {}", r.stderr);
    r.stdout
}

#[track_caller]
fn fails(sim: &Running, args: &[&str], code: &str) -> Run {
    let r = xenctl(sim, args);
    assert_ne!(r.code, 0, "xenctl {args:?} should fail: {}", r.stdout);
    assert!(
        r.stderr.contains(code),
        "xenctl {args:?}: stderr lacks {code}: {}",
        r.stderr
    );
    r
}

fn session(sim: &Running) -> Session {
    Session::connect(Options::new(sim.url()), "root", "password").expect("login")
}

fn vm(s: &Session, name: &str) -> String {
    let v = s
        .call("VM.get_by_name_label", vec![name.into()])
        .expect("lookup");
    v.as_array().unwrap()[0].as_str().unwrap().to_owned()
}

fn state(s: &Session, name: &str) -> String {
    let r = vm(s, name);
    s.call("VM.get_power_state", vec![r.into()])
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

fn domid(s: &Session, name: &str) -> i64 {
    let r = vm(s, name);
    s.call("VM.get_domid", vec![r.into()])
        .unwrap()
        .as_i64()
        .unwrap()
}

#[test]
fn list_shows_every_vm_like_xm_list() {
    for d in DIALECTS {
        let sim = sim(d);
        let out = ok(&sim, &["list"]);
        let lines: Vec<&str> = out.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            ["Name", "ID", "Mem", "MiB", "VCPUs", "State", "CPU%"],
            "{out}"
        );
        assert_eq!(lines.len(), 6, "header, dom0, 4 guests:\n{out}");
        let dom0 = match d {
            Dialect::Xapi => "Control domain on host: host01",
            Dialect::Xend => "Domain-0",
        };
        assert!(lines[1].starts_with(dom0), "dom0 first:\n{out}");
        assert!(lines[1].contains(" 0 "), "dom0 is domain 0:\n{out}");
        for (i, line) in lines[2..].iter().enumerate() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let n = i + 1;
            assert_eq!(cols[0], format!("vm{n:02}"), "{out}");
            assert_eq!(cols[3], n.to_string(), "VCPUs of {line}");
            if n % 2 == 1 {
                assert_eq!(cols[4], "Running", "{line}");
                assert!(cols[1].parse::<i64>().unwrap() > 0, "{line}");
                let mem: f64 = cols[2].parse().unwrap();
                assert!(mem > (n * 1024) as f64 - 64.0, "{line}");
                let cpu: f64 = cols[5].parse().unwrap();
                assert!(cpu > 0.0 && cpu <= 100.0, "{line}");
            } else {
                assert_eq!(cols[4], "Halted", "{line}");
                assert_eq!(cols[1], "-", "{line}");
                assert_eq!(cols[5], "0.0", "{line}");
            }
        }
        assert_eq!(sim.session_count(), 0, "xenctl logged out");
        assert_eq!(sim.stats().logouts, 1);
    }
}

#[test]
fn every_power_command() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = session(&sim);
        let say = |args: &[&str], expect: &str| {
            let out = ok(&sim, args);
            assert_eq!(out.trim(), expect, "xenctl {args:?}");
        };
        say(&["start", "vm02"], "vm02: started");
        assert_eq!(state(&s, "vm02"), "Running");
        say(&["start", "--paused", "vm04"], "vm04: started (paused)");
        assert_eq!(state(&s, "vm04"), "Paused");
        say(&["unpause", "vm04"], "vm04: unpaused");
        assert_eq!(state(&s, "vm04"), "Running");
        say(&["pause", "vm04"], "vm04: paused");
        assert_eq!(state(&s, "vm04"), "Paused");
        say(&["shutdown", "--force", "vm04"], "vm04: halted");
        assert_eq!(state(&s, "vm04"), "Halted");
        say(&["shutdown", "vm02"], "vm02: halted");
        assert_eq!(state(&s, "vm02"), "Halted");

        let before = domid(&s, "vm01");
        say(&["reboot", "vm01"], "vm01: rebooted");
        let after = domid(&s, "vm01");
        assert!(after > before, "a new domain: {before} -> {after}");
        say(&["reboot", "--force", "vm01"], "vm01: rebooted");
        assert!(domid(&s, "vm01") > after);
        assert_eq!(state(&s, "vm01"), "Running");

        say(&["suspend", "vm03"], "vm03: suspended");
        assert_eq!(state(&s, "vm03"), "Suspended");
        say(&["resume", "vm03"], "vm03: resumed");
        assert_eq!(state(&s, "vm03"), "Running");

        // The server's log shows xenctl's operations and its logins and logouts.
        let out = ok(&sim, &["log"]);
        for op in [
            "VM.start vm02",
            "VM.start vm04",
            "VM.unpause vm04",
            "VM.pause vm04",
            "VM.hard_shutdown vm04",
            "VM.clean_shutdown vm02",
            "VM.clean_reboot vm01",
            "VM.hard_reboot vm01",
            "VM.suspend vm03",
            "VM.resume vm03",
        ] {
            assert!(out.contains(op), "log lacks {op}:\n{out}");
        }
        assert!(
            out.contains("originator \"xenctl\"") || d == Dialect::Xend,
            "{out}"
        );
        drop(s);
        assert_eq!(sim.session_count(), 0);
        let st = sim.stats();
        assert_eq!(st.logins, st.logouts, "every xenctl run logged out");
    }
}

#[test]
fn vm_by_uuid() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = session(&sim);
        let r = vm(&s, "vm02");
        let uuid = s.call("VM.get_uuid", vec![r.into()]).unwrap();
        let uuid = uuid.as_str().unwrap();
        let out = ok(&sim, &["start", uuid]);
        assert_eq!(out.trim(), "vm02: started");
        assert_eq!(state(&s, "vm02"), "Running");
        ok(&sim, &["shutdown", "--force", uuid]);
        assert_eq!(state(&s, "vm02"), "Halted");
        let r = xenctl(&sim, &["start", "no-such-vm"]);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("no-such-vm"), "{}", r.stderr);
    }
}

#[test]
fn dmesg_log_and_methods() {
    for d in DIALECTS {
        let sim = sim(d);
        let out = ok(&sim, &["dmesg"]);
        assert!(out.contains("Xen version"), "{out}");
        assert!(out.contains("(vm01) created"), "{out}");
        ok(&sim, &["start", "vm02"]);
        let out = ok(&sim, &["dmesg"]);
        assert!(out.contains("(vm02) created"), "{out}");
        let out = ok(&sim, &["log"]);
        assert!(out.contains("logged in"), "{out}");
        let out = ok(&sim, &["methods"]);
        let methods: Vec<&str> = out.lines().collect();
        assert!(methods.len() > 100);
        for m in ["VM.start", "host.dmesg", "session.logout", "event.from"] {
            assert!(methods.contains(&m), "{m}");
        }
    }
}

#[test]
fn top_shows_host_and_vm_use() {
    for d in DIALECTS {
        let sim = sim(d);
        let out = ok(&sim, &["top", "--once"]);
        let first = out.lines().next().unwrap();
        assert!(first.starts_with("host host01: CPU "), "{out}");
        assert!(first.contains("of 262144 MiB"), "256 GiB host: {out}");
        assert!(out.contains("Name") && out.contains("vm03"), "{out}");
        let vm03 = out.lines().find(|l| l.starts_with("vm03")).unwrap();
        let cols: Vec<&str> = vm03.split_whitespace().collect();
        assert_eq!(cols[1], "Running");
        let cpu: f64 = cols[2].parse().unwrap();
        assert!(cpu > 0.0 && cpu <= 100.0, "{vm03}");
        // Per-vCPU use comes from the RRDs (/rrd_updates) on xapi; xend has none.
        let per_vcpu = cols[5];
        match d {
            Dialect::Xapi => {
                let vcpus: usize = cols[3].parse().unwrap();
                let uses: Vec<f64> = per_vcpu.split(',').map(|c| c.parse().unwrap()).collect();
                assert_eq!(uses.len(), vcpus, "one figure per vCPU: {vm03}");
                assert!(uses.iter().all(|u| (0.0..=100.0).contains(u)), "{vm03}");
            }
            Dialect::Xend => assert_eq!(per_vcpu, "-", "{vm03}"),
        }
        // Two rounds, a short interval apart, the VMs from the cache: a VM started between
        // them shows in the second.
        let s = session(&sim);
        let url = sim.url();
        let top = std::thread::spawn(move || {
            xenctl_with(
                &url,
                "password",
                &["top", "--iterations", "2", "--interval", "1.5"],
            )
        });
        std::thread::sleep(Duration::from_millis(700));
        let r = vm(&s, "vm02");
        s.call("VM.start", vec![r.into(), false.into(), false.into()])
            .unwrap();
        let run = top.join().unwrap();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = run.stdout;
        assert_eq!(out.matches("host host01").count(), 2, "{out}");
        let states: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("vm02"))
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(states, ["Halted", "Running"], "{out}");
        // Left to run, it keeps refreshing.
        assert!(xenctl(&sim, &["top", "--once", "--iterations", "2"]).code != 0);
    }
}

#[test]
fn watch_sees_a_change_made_by_another_session() {
    for d in DIALECTS {
        let sim = sim(d);
        let url = sim.url();
        // watch reports changes from the moment it starts, not the VMs that already exist.
        let watcher = std::thread::spawn(move || {
            xenctl_with(
                &url,
                "password",
                &["watch", "--count", "1", "--timeout", "20"],
            )
        });
        // Wait until the watcher is logged in and subscribed, then change a VM.
        let s = session(&sim);
        let t0 = Instant::now();
        while sim.stats().calls < 3 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let r = vm(&s, "vm02");
        s.call("VM.start", vec![r.into(), false.into(), false.into()])
            .unwrap();
        let run = watcher.join().unwrap();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{}", run.stdout);
        let only: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(only, ["vm", "mod", "vm02", "Running"], "{}", run.stdout);
        // With nothing happening, --seconds (or its older name --timeout) ends the watch.
        for flag in ["--seconds", "--timeout"] {
            let t0 = Instant::now();
            let run = xenctl(&sim, &["watch", "--count", "99", flag, "0.5"]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(run.stdout, "");
            assert!(t0.elapsed() < Duration::from_secs(10));
        }
    }
}

#[test]
fn watch_follows_the_classes_named() {
    let sim = sim(Dialect::Xapi);
    let url = sim.url();
    let watcher = std::thread::spawn(move || {
        xenctl_with(
            &url,
            "password",
            &["watch", "--count", "3", "--seconds", "20", "VM", "network"],
        )
    });
    let s = session(&sim);
    let t0 = Instant::now();
    while sim.stats().calls < 3 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let net = s
        .call(
            "network.create",
            vec![xenapi::Value::structure([
                ("name_label", "lab".into()),
                ("name_description", "".into()),
                ("MTU", "1500".into()),
                ("other_config", xenapi::Value::Struct(vec![])),
            ])],
        )
        .unwrap();
    s.call("network.destroy", vec![net]).unwrap();
    let r = vm(&s, "vm02");
    s.call("VM.start", vec![r.into(), false.into(), false.into()])
        .unwrap();
    let run = watcher.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["network", "add", "lab"],
            vec!["network", "del", "lab"],
            vec!["vm", "mod", "vm02", "Running"],
        ],
        "{}",
        run.stdout
    );
    let run = xenctl(&sim, &["watch", "nosuch"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("nosuch"), "{}", run.stderr);
}

#[test]
fn failures_print_the_xenapi_code_and_exit_non_zero() {
    for d in DIALECTS {
        let sim = sim(d);
        let r = fails(&sim, &["start", "vm01"], "VM_BAD_POWER_STATE");
        assert_eq!(r.code, 1);
        let running = match d {
            Dialect::Xapi => "running",
            Dialect::Xend => "Running",
        };
        assert!(r.stderr.contains(running), "{}", r.stderr);
        fails(&sim, &["unpause", "vm01"], "VM_BAD_POWER_STATE");
        fails(&sim, &["resume", "vm02"], "VM_BAD_POWER_STATE");
        fails(&sim, &["pause", "vm02"], "VM_BAD_POWER_STATE");
        fails(&sim, &["suspend", "vm02"], "VM_BAD_POWER_STATE");
        fails(&sim, &["shutdown", "vm02"], "VM_BAD_POWER_STATE");
        fails(&sim, &["reboot", "vm02"], "VM_BAD_POWER_STATE");
        assert_eq!(sim.session_count(), 0, "xenctl logs out after a failure");
    }
}

#[test]
fn bad_password_fails_without_showing_it() {
    for d in DIALECTS {
        let sim = sim(d);
        let r = xenctl_with(&sim.url(), "Sup3r-secret-wrong", &["list"]);
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("SESSION_AUTHENTICATION_FAILED"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("Sup3r-secret-wrong"), "{}", r.stderr);
        assert!(!r.stdout.contains("Sup3r-secret-wrong"));
        // The password on the command line is not echoed either.
        let r = xenctl(&sim, &["--password", "Sup3r-secret-wrong", "list"]);
        assert_eq!(r.code, 1);
        assert!(!r.stderr.contains("Sup3r-secret-wrong"), "{}", r.stderr);
    }
}

#[test]
fn unreachable_host_exits_non_zero() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = xenctl_with(&format!("http://127.0.0.1:{port}"), "password", &["list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    assert!(r.stderr.contains(&port.to_string()), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let sim = sim(Dialect::Xapi);
    let r = xenctl(&sim, &["frobnicate"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown command"), "{}", r.stderr);
    let r = xenctl(&sim, &["start"]);
    assert_eq!(r.code, 2);
    let r = xenctl(&sim, &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("usage: xenctl"));
    assert_eq!(sim.stats().logins, 0);
}

#[test]
fn tls_options() {
    let sim = Simulator::start(Config {
        tls: true,
        ..Config::default()
    })
    .unwrap();
    let fp = sim.fingerprint().unwrap().to_owned();
    let out = ok(&sim, &["--fingerprint", &fp, "list"]);
    assert!(out.contains("vm01"));
    ok(&sim, &["--insecure", "list"]);
    let r = xenctl(&sim, &["list"]);
    assert_eq!(r.code, 1, "default verification refuses a self-signed cert");
    assert!(r.stderr.contains("TLS"), "{}", r.stderr);
    let wrong = format!("{}00", &fp[..fp.len() - 2]);
    let wrong = if wrong == fp {
        format!("{}11", &fp[..fp.len() - 2])
    } else {
        wrong
    };
    let r = xenctl(&sim, &["--fingerprint", &wrong, "list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn pool_member_url_follows_the_coordinator_unless_told_not_to() {
    let sim = Simulator::start(Config {
        hosts: 2,
        ..Config::default()
    })
    .unwrap();
    let member = sim.member_urls()[0].clone();
    let r = xenctl_with(&member, "password", &["list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("vm01"));
    let r = xenctl_with(&member, "password", &["--no-follow", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HOST_IS_SLAVE"), "{}", r.stderr);
    assert!(r.stderr.contains(&sim.addr().to_string()), "{}", r.stderr);
}

#[test]
fn rrd_shows_a_vms_and_the_hosts_figures_from_xapis_rrds() {
    let xapi = sim(Dialect::Xapi);
    let xend = sim(Dialect::Xend);
    let sim = xapi;
    let out = ok(&sim, &["rrd", "vm", "vm01", "--minutes", "1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("vm vm01 ("), "{out}");
    assert!(lines[0].contains("rows of 5 s"), "{out}");
    let cpu = lines
        .iter()
        .find(|l| l.trim_start().starts_with("CPU"))
        .unwrap();
    let per_vcpu = cpu.split("per vCPU:").nth(1).unwrap();
    let uses: Vec<f64> = per_vcpu
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert!(
        !uses.is_empty() && uses.iter().all(|u| *u > 0.0 && *u <= 100.0),
        "{out}"
    );
    assert!(out.contains("MiB used of"), "{out}");
    assert!(
        out.contains("disk     read") && out.contains("network  rx"),
        "{out}"
    );
    let host = ok(&sim, &["rrd", "host", "host01", "--minutes", "30"]);
    assert!(
        host.contains("rows of 60 s"),
        "minute rows past 10 minutes: {host}"
    );
    assert_eq!(
        host.lines()
            .nth(1)
            .unwrap()
            .split("pCPU:")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .count(),
        8,
        "{host}"
    );
    // A halted VM has no RRD; xend keeps none at all.
    let r = xenctl(&sim, &["rrd", "vm", "vm02"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("has no RRD"), "{}", r.stderr);
    let r = xenctl(&xend, &["rrd", "vm", "vm01"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("xend keeps no RRDs"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Transfers: xenctl against a scripted server that passes API calls to the simulator and serves
// /export_raw_vdi, /import_raw_vdi, /export and /import from memory, as xapi would.

mod disks {
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use xenapi::api::{Task, TaskStatusType};
    use xenapi::{Ref, Session};

    /// What the server holds and saw.
    #[derive(Default)]
    pub struct Store {
        /// Disk contents by the `vdi=` they were sent for.
        pub disks: HashMap<String, Vec<u8>>,
        /// `/import`'s task result (the new VMs).
        pub import_result: String,
        /// Exports stall after 2 MiB (for Ctrl-C).
        pub stall: bool,
        /// Whether a transfer request carried `Transfer-Encoding`.
        pub chunked: bool,
    }

    pub struct Server {
        pub url: String,
        pub store: Arc<Mutex<Store>>,
    }

    fn head(s: &mut TcpStream) -> Option<String> {
        let mut buf = Vec::new();
        let mut b = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).ok()? == 0 {
                return None;
            }
            buf.push(b[0]);
        }
        String::from_utf8(buf).ok()
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn param(target: &str, name: &str) -> Option<String> {
        let q = target.split_once('?')?.1;
        q.split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k == name).then(|| v.replace("%3A", ":"))
        })
    }

    pub fn start(api: SocketAddr, admin: Arc<Session>) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let store = Arc::new(Mutex::new(Store::default()));
        let st = Arc::clone(&store);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut s) = c else { return };
                let (st, admin) = (Arc::clone(&st), Arc::clone(&admin));
                std::thread::spawn(move || {
                    let Some(h) = head(&mut s) else { return };
                    serve(&h, &mut s, api, &st, &admin);
                });
            }
        });
        Server { url, store }
    }

    fn serve(h: &str, s: &mut TcpStream, api: SocketAddr, st: &Mutex<Store>, admin: &Session) {
        let first: Vec<&str> = h.split(' ').take(2).collect();
        let (method, target) = (first[0], first[1]);
        let length: u64 = header(h, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = Vec::new();
        let _ = Read::by_ref(s).take(length).read_to_end(&mut body);
        if method == "POST" {
            let head: String = h
                .split("\r\n")
                .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection"))
                .map(|l| format!("{l}\r\n"))
                .collect();
            let Ok(mut up) = TcpStream::connect(api) else {
                return;
            };
            let _ = up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
            let _ = up.write_all(&body);
            let mut reply = Vec::new();
            let _ = up.read_to_end(&mut reply);
            let _ = s.write_all(&reply);
            return;
        }
        if header(h, "transfer-encoding").is_some() {
            st.lock().unwrap().chunked = true;
        }
        let Some(task) = param(target, "task_id") else {
            // The client's redirect probe: nothing to do.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        let task = Ref::<Task>::new(task);
        let path = target.split('?').next().unwrap();
        let done = |result: &str| {
            Task::set_result(admin, &task, result).unwrap();
            Task::set_status(admin, &task, TaskStatusType::Success).unwrap();
        };
        match path {
            "/import_raw_vdi" => {
                let vdi = param(target, "vdi").unwrap();
                st.lock().unwrap().disks.insert(vdi, body);
                done("");
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
            "/export_raw_vdi" | "/export" => {
                let key = param(target, "vdi")
                    .or_else(|| param(target, "uuid"))
                    .unwrap();
                let (data, stall) = {
                    let g = st.lock().unwrap();
                    (g.disks.get(&key).cloned().unwrap_or_default(), g.stall)
                };
                if stall {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
                    let _ = s.write_all(&vec![9u8; 2 << 20]);
                    std::thread::sleep(std::time::Duration::from_secs(20));
                    return;
                }
                done("");
                let _ = s.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes(),
                );
                let _ = s.write_all(&data);
            }
            "/import" => {
                let result = st.lock().unwrap().import_result.clone();
                done(&result);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
            _ => {
                let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xenctl-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn some_vdi(s: &Session) -> (String, String) {
    let all = s.call("VDI.get_all", vec![]).unwrap();
    let r = all.as_array().unwrap()[0].as_str().unwrap().to_owned();
    let uuid = s
        .call("VDI.get_uuid", vec![r.clone().into()])
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    (r, uuid)
}

#[test]
fn vdi_import_then_export_round_trips_a_file() {
    let sim = sim(Dialect::Xapi);
    let admin = std::sync::Arc::new(session(&sim));
    let server = disks::start(sim.addr(), std::sync::Arc::clone(&admin));
    let (vdi_ref, uuid) = some_vdi(&admin);
    let dir = scratch("vdi");
    let src = dir.join("in.raw");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let r = xenctl_with(
        &server.url,
        "password",
        &[
            "vdi-import",
            &uuid,
            src.to_str().unwrap(),
            "--format",
            "raw",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("3000000 bytes (raw) imported"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        r.stderr
    );
    assert!(server.store.lock().unwrap().disks[&vdi_ref] == data);
    let dst = dir.join("out.vhd");
    let r = xenctl_with(
        &server.url,
        "password",
        &[
            "vdi-export",
            &uuid,
            dst.to_str().unwrap(),
            "--format",
            "vhd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(&dst).unwrap() == data);
    assert!(!server.store.lock().unwrap().chunked, "never chunked");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn vm_export_and_vm_import_print_what_they_did() {
    let sim = sim(Dialect::Xapi);
    let admin = std::sync::Arc::new(session(&sim));
    let server = disks::start(sim.addr(), std::sync::Arc::clone(&admin));
    let vm01 = vm(&admin, "vm01");
    let uuid = admin
        .call("VM.get_uuid", vec![vm01.clone().into()])
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    server
        .store
        .lock()
        .unwrap()
        .disks
        .insert(uuid.clone(), b"an XVA".to_vec());
    server.store.lock().unwrap().import_result =
        format!("<value><array><data><value>{vm01}</value></data></array></value>");
    let dir = scratch("vm");
    let file = dir.join("vm01.xva");
    let r = xenctl_with(
        &server.url,
        "password",
        &["vm-export", "vm01", file.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"an XVA");
    let r = xenctl_with(
        &server.url,
        "password",
        &["vm-import", file.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), format!("vm01 {uuid}"));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_an_export_and_removes_the_partial_file() {
    let sim = sim(Dialect::Xapi);
    let admin = std::sync::Arc::new(session(&sim));
    let server = disks::start(sim.addr(), std::sync::Arc::clone(&admin));
    server.store.lock().unwrap().stall = true;
    let (_, uuid) = some_vdi(&admin);
    let dir = scratch("ctrlc");
    let file = dir.join("partial.raw");
    let child = Command::new(env!("CARGO_BIN_EXE_xenctl"))
        .args([
            "--url",
            &server.url,
            "vdi-export",
            &uuid,
            file.to_str().unwrap(),
        ])
        .env("XENAPI_PASSWORD", "password")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first MiB is in the file.
    let start = Instant::now();
    while std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) < 1 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the export never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let at = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(at.elapsed() < Duration::from_secs(5), "{:?}", at.elapsed());
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TASK_CANCELLED"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!file.exists(), "the partial file is removed");
    let _ = std::fs::remove_dir_all(dir);
}
