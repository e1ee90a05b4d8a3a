//! The commands: each one a few XenAPI calls and a little formatting.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use xenapi::{Error, Session, Value};

use crate::args::Command;
use crate::table::Table;

type Result<T> = std::result::Result<T, Error>;

/// A failed command: the error, and the VM it was about (to name it instead of its reference).
pub struct Failed {
    pub error: Error,
    vm: Option<(String, String)>,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.error.to_string();
        match &self.vm {
            Some((r, name)) if !r.is_empty() => f.write_str(&text.replace(r.as_str(), name)),
            _ => f.write_str(&text),
        }
    }
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed { error, vm: None }
    }
}

pub fn run(s: &Session, command: &Command, out: &mut dyn Write) -> std::result::Result<(), Failed> {
    let mut vm = None;
    run_command(s, command, out, &mut vm).map_err(|error| Failed { error, vm })
}

fn run_command(
    s: &Session,
    command: &Command,
    out: &mut dyn Write,
    found: &mut Option<(String, String)>,
) -> Result<()> {
    // Resolves a VM argument and remembers it for the error message.
    let mut find_vm = |key: &str| -> Result<(String, String)> {
        let vm = find_vm(s, key)?;
        *found = Some(vm.clone());
        Ok(vm)
    };
    match command {
        Command::List => list(s, out),
        Command::Start { vm, paused } => {
            let (r, name) = find_vm(vm)?;
            // xapi: (vm, start_paused, force); the core drops `force` for xend.
            s.call("VM.start", vec![r.into(), (*paused).into(), false.into()])?;
            say(
                out,
                &format!("{name}: started{}", if *paused { " (paused)" } else { "" }),
            )
        }
        Command::Shutdown { vm, force } => {
            let (r, name) = find_vm(vm)?;
            let method = if *force {
                "VM.hard_shutdown"
            } else {
                "VM.clean_shutdown"
            };
            s.call(method, vec![r.as_str().into()])?;
            wait_for_state(s, &r, "Halted", Duration::from_secs(120))?;
            say(out, &format!("{name}: halted"))
        }
        Command::Reboot { vm, force } => {
            let (r, name) = find_vm(vm)?;
            let method = if *force {
                "VM.hard_reboot"
            } else {
                "VM.clean_reboot"
            };
            s.call(method, vec![r.into()])?;
            say(out, &format!("{name}: rebooted"))
        }
        Command::Pause(vm) => simple(s, out, find_vm(vm)?, "VM.pause", "paused"),
        Command::Unpause(vm) => simple(s, out, find_vm(vm)?, "VM.unpause", "unpaused"),
        Command::Suspend(vm) => simple(s, out, find_vm(vm)?, "VM.suspend", "suspended"),
        Command::Resume(vm) => {
            let (r, name) = find_vm(vm)?;
            s.call("VM.resume", vec![r.into(), false.into(), false.into()])?;
            say(out, &format!("{name}: resumed"))
        }
        Command::Dmesg => {
            let host = coordinator(s)?;
            text(out, &s.call("host.dmesg", vec![host.into()])?)
        }
        Command::Log => {
            let host = coordinator(s)?;
            text(out, &s.call("host.get_log", vec![host.into()])?)
        }
        Command::Methods => {
            let methods = s.call("host.list_methods", vec![])?;
            for m in strings(&methods, "host.list_methods")? {
                say(out, &m)?;
            }
            Ok(())
        }
        Command::Top { count, interval } => {
            for i in 0..*count {
                if i > 0 {
                    std::thread::sleep(*interval);
                    say(out, "")?;
                }
                top(s, out)?;
            }
            Ok(())
        }
        Command::Watch { count, timeout } => watch(s, out, *count, *timeout),
        Command::Help => say(out, crate::args::USAGE),
    }
}

/// Set when the reader of our output went away (`xenctl methods | head`): not a failure.
pub static OUTPUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn say(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            OUTPUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Error::InvalidArgument(format!("cannot write output: {e}"))
    })
}

fn text(out: &mut dyn Write, v: &Value) -> Result<()> {
    let t = v
        .as_str()
        .ok_or_else(|| Error::Protocol(format!("expected text, got a {}", v.type_name())))?;
    say(out, t.trim_end())
}

fn simple(
    s: &Session,
    out: &mut dyn Write,
    (r, name): (String, String),
    method: &str,
    done: &str,
) -> Result<()> {
    s.call(method, vec![r.into()])?;
    say(out, &format!("{name}: {done}"))
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>> {
    v.as_array()
        .ok_or_else(|| Error::Protocol(format!("{what} did not return a list")))?
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::Protocol(format!("{what} returned a non-string")))
        })
        .collect()
}

fn struct_members(v: Value, what: &str) -> Result<Vec<(String, Value)>> {
    match v {
        Value::Struct(m) => Ok(m),
        other => Err(Error::Protocol(format!(
            "{what} returned a {}, not a map",
            other.type_name()
        ))),
    }
}

fn field<'a>(rec: &'a Value, name: &str) -> Option<&'a Value> {
    rec.get(name)
}

fn field_str<'a>(rec: &'a Value, name: &str) -> &'a str {
    field(rec, name).and_then(Value::as_str).unwrap_or("")
}

fn field_i64(rec: &Value, name: &str) -> Option<i64> {
    field(rec, name).and_then(Value::as_i64)
}

/// The VM whose name label or UUID is `key`: its reference and name.
fn find_vm(s: &Session, key: &str) -> Result<(String, String)> {
    let all = struct_members(s.call("VM.get_all_records", vec![])?, "VM.get_all_records")?;
    let mut found: Vec<(String, String)> = all
        .iter()
        .filter(|(_, rec)| field_str(rec, "uuid") == key || field_str(rec, "name_label") == key)
        .filter(|(_, rec)| field(rec, "is_a_template").and_then(Value::as_bool) != Some(true))
        .map(|(r, rec)| (r.clone(), field_str(rec, "name_label").to_owned()))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::InvalidArgument(format!(
            "no VM is named {key:?} or has that UUID (see xenctl list)"
        ))),
        n => Err(Error::InvalidArgument(format!(
            "{n} VMs are named {key:?}: give the UUID instead"
        ))),
    }
}

fn wait_for_state(s: &Session, vm: &str, state: &str, limit: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let now = s.call("VM.get_power_state", vec![vm.into()])?;
        if now.as_str() == Some(state) {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(Error::Timeout {
                url: s.url(),
                message: format!(
                    "the VM is still {} after {} s",
                    now.as_str().unwrap_or("?"),
                    limit.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pool coordinator (xend has no pool: its only host).
fn coordinator(s: &Session) -> Result<String> {
    if let Ok(pools) = s.call("pool.get_all", vec![]) {
        if let Some(pool) = pools.as_array().and_then(|p| p.first()).cloned() {
            if let Ok(Value::String(master)) = s.call("pool.get_master", vec![pool]) {
                return Ok(master);
            }
        }
    }
    let hosts = strings(&s.call("host.get_all", vec![])?, "host.get_all")?;
    hosts
        .into_iter()
        .next()
        .ok_or_else(|| Error::Protocol("the server lists no host".into()))
}

/// A VM's row for `list` and `top`.
struct VmRow {
    name: String,
    domid: Option<i64>,
    mem_mib: f64,
    vcpus: i64,
    state: String,
    cpu_percent: f64,
    is_dom0: bool,
}

fn vm_rows(s: &Session) -> Result<Vec<VmRow>> {
    let vms = struct_members(s.call("VM.get_all_records", vec![])?, "VM.get_all_records")?;
    // One call for every VM's metrics, instead of one per VM.
    let metrics: HashMap<String, Value> = s
        .call("VM_metrics.get_all_records", vec![])
        .ok()
        .map(|m| struct_members(m, "VM_metrics.get_all_records"))
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut rows: Vec<VmRow> = vms
        .iter()
        .filter(|(_, r)| field(r, "is_a_template").and_then(Value::as_bool) != Some(true))
        .filter(|(_, r)| field(r, "is_a_snapshot").and_then(Value::as_bool) != Some(true))
        .map(|(_, r)| {
            let m = metrics.get(field_str(r, "metrics"));
            let state = field_str(r, "power_state").to_owned();
            let running = state == "Running" || state == "Paused";
            let mem = m
                .and_then(|m| field_i64(m, "memory_actual"))
                .filter(|_| running)
                .or_else(|| field_i64(r, "memory_dynamic_max"))
                .unwrap_or(0);
            let util: Vec<f64> = m
                .and_then(|m| field(m, "VCPUs_utilisation"))
                .and_then(Value::as_struct)
                .map(|u| u.iter().filter_map(|(_, v)| v.as_f64()).collect())
                .unwrap_or_default();
            let cpu = if util.is_empty() {
                0.0
            } else {
                100.0 * util.iter().sum::<f64>() / util.len() as f64
            };
            VmRow {
                name: field_str(r, "name_label").to_owned(),
                domid: field_i64(r, "domid").filter(|d| *d >= 0 && running),
                mem_mib: mem as f64 / (1024.0 * 1024.0),
                vcpus: m
                    .and_then(|m| field_i64(m, "VCPUs_number"))
                    .filter(|n| *n > 0)
                    .or_else(|| field_i64(r, "VCPUs_max"))
                    .unwrap_or(0),
                state,
                cpu_percent: if running { cpu } else { 0.0 },
                is_dom0: field(r, "is_control_domain").and_then(Value::as_bool) == Some(true),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.is_dom0.cmp(&a.is_dom0).then_with(|| a.name.cmp(&b.name)));
    Ok(rows)
}

fn list(s: &Session, out: &mut dyn Write) -> Result<()> {
    let mut t = Table::new(&["Name", "ID", "Mem MiB", "VCPUs", "State", "CPU%"]);
    for r in vm_rows(s)? {
        t.row(vec![
            r.name,
            r.domid.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            format!("{:.0}", r.mem_mib),
            r.vcpus.to_string(),
            r.state,
            format!("{:.1}", r.cpu_percent),
        ]);
    }
    say(out, t.render().trim_end())
}

fn top(s: &Session, out: &mut dyn Write) -> Result<()> {
    let host = coordinator(s)?;
    let host_rec = s.call("host.get_record", vec![host.as_str().into()])?;
    let name = field_str(&host_rec, "name_label").to_owned();
    // Host CPU: the mean utilisation of its physical CPUs.
    let mut cpu = Vec::new();
    if let Some(cpus) = field(&host_rec, "host_CPUs").and_then(Value::as_array) {
        for c in cpus {
            if let Ok(u) = s.call("host_cpu.get_utilisation", vec![c.clone()]) {
                cpu.extend(u.as_f64());
            }
        }
    }
    let cpu = if cpu.is_empty() {
        0.0
    } else {
        100.0 * cpu.iter().sum::<f64>() / cpu.len() as f64
    };
    let (mut total, mut free) = (0, 0);
    if let Some(m) = field(&host_rec, "metrics").and_then(Value::as_str) {
        if let Ok(rec) = s.call("host_metrics.get_record", vec![m.into()]) {
            total = field_i64(&rec, "memory_total").unwrap_or(0);
            free = field_i64(&rec, "memory_free").unwrap_or(0);
        }
    }
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    say(
        out,
        &format!(
            "host {name}: CPU {cpu:.1}%  memory {:.0} MiB used of {:.0} MiB ({:.0} MiB free)",
            mib(total - free),
            mib(total),
            mib(free)
        ),
    )?;
    let mut t = Table::new(&["Name", "State", "CPU%", "VCPUs", "Mem MiB"]);
    for r in vm_rows(s)? {
        t.row(vec![
            r.name,
            r.state,
            format!("{:.1}", r.cpu_percent),
            r.vcpus.to_string(),
            format!("{:.0}", r.mem_mib),
        ]);
    }
    say(out, t.render().trim_end())
}

fn watch(
    s: &Session,
    out: &mut dyn Write,
    count: Option<u32>,
    timeout: Option<Duration>,
) -> Result<()> {
    let start = Instant::now();
    let mut token = String::new();
    let mut seen = 0u32;
    let names: HashMap<String, String> =
        struct_members(s.call("VM.get_all_records", vec![])?, "VM.get_all_records")?
            .into_iter()
            .map(|(r, rec)| {
                let n = field_str(&rec, "name_label").to_owned();
                (r, n)
            })
            .collect();
    // Subscribe: an empty token answers with every existing VM as "add"; those are the present,
    // not news, so only the token is kept.
    let first = s.call(
        "event.from",
        vec![
            Value::Array(vec!["vm".into()]),
            "".into(),
            Value::Double(0.0),
        ],
    )?;
    if let Some(t) = first.get("token").and_then(Value::as_str) {
        token = t.to_owned();
    }
    loop {
        let left = match timeout {
            Some(t) => match t.checked_sub(start.elapsed()) {
                Some(left) if !left.is_zero() => left.as_secs_f64().min(30.0),
                _ => return Ok(()),
            },
            None => 30.0,
        };
        let reply = s.call(
            "event.from",
            vec![
                Value::Array(vec!["vm".into()]),
                token.as_str().into(),
                Value::Double(left),
            ],
        )?;
        if let Some(t) = reply.get("token").and_then(Value::as_str) {
            token = t.to_owned();
        }
        let events = reply.get("events").and_then(Value::as_array).unwrap_or(&[]);
        for e in events {
            let r = field_str(e, "ref");
            let snapshot = field(e, "snapshot");
            let name = snapshot
                .map(|s| field_str(s, "name_label"))
                .filter(|n| !n.is_empty())
                .or_else(|| names.get(r).map(String::as_str))
                .unwrap_or(r);
            let state = snapshot.map(|s| field_str(s, "power_state")).unwrap_or("");
            say(
                out,
                &format!(
                    "{:<5} {:<4} {name} {state}",
                    field_str(e, "class"),
                    field_str(e, "operation")
                ),
            )?;
            seen += 1;
            if count.is_some_and(|c| seen >= c) {
                return Ok(());
            }
        }
    }
}
