//! The commands: each one a few calls of the typed XenAPI (`xenapi::api`) and a little
//! formatting.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use std::io::IsTerminal;

use xenapi::api::{
    Class, Host, HostCpu, HostMetrics, HostRecord, Pool, Vm, VmMetrics, VmPowerState, VmRecord,
};
use xenapi::cache::{Cache, Change, ChangeKind};
use xenapi::rrd::{self, UpdatesQuery};
use xenapi::{Dialect, Error, ErrorKind, Ref, Session};

use crate::args::{Command, RrdObject};
use crate::table::Table;

type Result<T> = std::result::Result<T, Error>;

/// A failed command: the error, and the VM it was about (to name it instead of its reference).
pub struct Failed {
    pub error: Error,
    vm: Option<(Ref<Vm>, String)>,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.error.to_string();
        match &self.vm {
            Some((r, name)) if !r.as_str().is_empty() => {
                f.write_str(&text.replace(r.as_str(), name))
            }
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

/// A VM message that takes only the VM.
type VmOp = fn(&Session, &Ref<Vm>) -> Result<()>;

fn run_command(
    s: &Session,
    command: &Command,
    out: &mut dyn Write,
    found: &mut Option<(Ref<Vm>, String)>,
) -> Result<()> {
    // Resolves a VM argument and remembers it for the error message.
    let mut find_vm = |key: &str| -> Result<(Ref<Vm>, String)> {
        let vm = find_vm(s, key)?;
        *found = Some(vm.clone());
        Ok(vm)
    };
    match command {
        Command::List => list(s, out),
        Command::Start { vm, paused } => {
            let (r, name) = find_vm(vm)?;
            // xapi: (vm, start_paused, force); the core drops `force` for xend.
            Vm::start(s, &r, *paused, false)?;
            say(
                out,
                &format!("{name}: started{}", if *paused { " (paused)" } else { "" }),
            )
        }
        Command::Shutdown { vm, force } => {
            let (r, name) = find_vm(vm)?;
            let op: VmOp = if *force {
                Vm::hard_shutdown
            } else {
                Vm::clean_shutdown
            };
            op(s, &r)?;
            wait_for_state(s, &r, VmPowerState::Halted, Duration::from_secs(120))?;
            say(out, &format!("{name}: halted"))
        }
        Command::Reboot { vm, force } => {
            let (r, name) = find_vm(vm)?;
            let op: VmOp = if *force {
                Vm::hard_reboot
            } else {
                Vm::clean_reboot
            };
            op(s, &r)?;
            say(out, &format!("{name}: rebooted"))
        }
        Command::Pause(vm) => simple(s, out, find_vm(vm)?, Vm::pause, "paused"),
        Command::Unpause(vm) => simple(s, out, find_vm(vm)?, Vm::unpause, "unpaused"),
        Command::Suspend(vm) => simple(s, out, find_vm(vm)?, Vm::suspend, "suspended"),
        Command::Resume(vm) => {
            let (r, name) = find_vm(vm)?;
            Vm::resume(s, &r, false, false)?;
            say(out, &format!("{name}: resumed"))
        }
        Command::Dmesg => {
            let host = coordinator(s)?;
            say(out, Host::dmesg(s, &host)?.trim_end())
        }
        Command::Log => {
            let host = coordinator(s)?;
            say(out, Host::get_log(s, &host)?.trim_end())
        }
        Command::Methods => {
            for m in Host::list_methods(s)? {
                say(out, &m)?;
            }
            Ok(())
        }
        Command::Top {
            iterations,
            interval,
        } => top(s, out, *iterations, *interval),
        Command::Watch {
            classes,
            count,
            seconds,
        } => watch(s, out, classes, *count, *seconds),
        Command::Rrd { object, minutes } => {
            let (kind, uuid, name) = match object {
                RrdObject::Vm(key) => {
                    let (r, name) = find_vm(key)?;
                    ("vm", Vm::get_uuid(s, &r)?, name)
                }
                RrdObject::Host(key) => {
                    let (uuid, name) = find_host(s, key)?;
                    ("host", uuid, name)
                }
            };
            rrd_usage(s, out, kind, &uuid, &name, *minutes)
        }
        Command::VdiExport { vdi, file, format } => {
            crate::transfer::vdi_export(s, out, vdi, file, *format)
        }
        Command::VdiImport { vdi, file, format } => {
            crate::transfer::vdi_import(s, out, vdi, file, *format)
        }
        Command::VmExport { vm, file, compress } => {
            let (r, name) = find_vm(vm)?;
            crate::transfer::vm_export(s, out, &r, &name, file, *compress)
        }
        Command::VmImport { file, sr } => crate::transfer::vm_import(s, out, file, sr.as_deref()),
        Command::Help => say(out, crate::args::USAGE),
    }
}

/// Set when the reader of our output went away (`xenctl methods | head`): not a failure.
pub static OUTPUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn say(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            OUTPUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Error::InvalidArgument(format!("cannot write output: {e}"))
    })
}

/// `text` as is (no newline), flushed: terminal control for `top`.
fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::InvalidArgument(format!("cannot write output: {e}")))
}

fn simple(
    s: &Session,
    out: &mut dyn Write,
    (r, name): (Ref<Vm>, String),
    op: VmOp,
    done: &str,
) -> Result<()> {
    op(s, &r)?;
    say(out, &format!("{name}: {done}"))
}

/// The VM whose name label or UUID is `key`: its reference and name.
fn find_vm(s: &Session, key: &str) -> Result<(Ref<Vm>, String)> {
    let found = Vm::get_all_records(s)?
        .into_iter()
        .filter(|(_, rec)| rec.uuid == key || rec.name_label == key)
        .filter(|(_, rec)| !rec.is_a_template)
        .map(|(r, rec)| (r, rec.name_label))
        .collect();
    only_one(found, "VM", key, " (see xenctl list)")
}

/// The one object a name label or UUID `key` found, or an error saying none or several did.
fn only_one<T>(mut found: Vec<T>, what: &str, key: &str, hint: &str) -> Result<T> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::InvalidArgument(format!(
            "no {what} is named {key:?} or has that UUID{hint}"
        ))),
        n => Err(Error::InvalidArgument(format!(
            "{n} {what}s are named {key:?}: give the UUID instead"
        ))),
    }
}

fn wait_for_state(s: &Session, vm: &Ref<Vm>, state: VmPowerState, limit: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let now = Vm::get_power_state(s, vm)?;
        if now == state {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(Error::Timeout {
                url: s.url(),
                message: format!(
                    "the VM is still {} after {} s",
                    now.as_str(),
                    limit.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pool coordinator (xend has no pool: its only host).
fn coordinator(s: &Session) -> Result<Ref<Host>> {
    if let Ok(pools) = Pool::get_all(s) {
        if let Some(pool) = pools.first() {
            if let Ok(master) = Pool::get_master(s, pool) {
                return Ok(master);
            }
        }
    }
    Host::get_all(s)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Protocol("the server lists no host".into()))
}

/// A VM's row for `list` and `top`.
struct VmRow {
    name: String,
    uuid: String,
    domid: Option<i64>,
    mem_mib: f64,
    vcpus: i64,
    state: String,
    cpu_percent: f64,
    is_dom0: bool,
}

fn vm_rows(s: &Session) -> Result<Vec<VmRow>> {
    rows_of(s, Vm::get_all_records(s)?)
}

/// The rows of `vms` (from the server or a cache), with their metrics read now.
fn rows_of(s: &Session, vms: impl IntoIterator<Item = (Ref<Vm>, VmRecord)>) -> Result<Vec<VmRow>> {
    // One call for every VM's metrics, instead of one per VM. A server without the call (or
    // that refuses it) has no metrics; a reply of the wrong type is an error.
    let metrics = match VmMetrics::get_all_records(s) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::Protocol => return Err(e),
        Err(_) => xenapi::IndexMap::new(),
    };
    let mut rows: Vec<VmRow> = vms
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| !r.is_a_template && !r.is_a_snapshot)
        .map(|r| {
            let m = metrics.get(&r.metrics);
            let running = matches!(r.power_state, VmPowerState::Running | VmPowerState::Paused);
            let mem = m
                .map(|m| m.memory_actual)
                .filter(|_| running)
                .unwrap_or(r.memory_dynamic_max);
            // In VCPU order, so that the mean does not depend on the map's order.
            let mut util: Vec<(i64, f64)> = m
                .map(|m| m.vcpus_utilisation.iter().map(|(k, v)| (*k, *v)).collect())
                .unwrap_or_default();
            util.sort_by_key(|(k, _)| *k);
            let cpu = if util.is_empty() {
                0.0
            } else {
                100.0 * util.iter().map(|(_, v)| v).sum::<f64>() / util.len() as f64
            };
            VmRow {
                domid: Some(r.domid).filter(|d| *d >= 0 && running),
                mem_mib: mem as f64 / (1024.0 * 1024.0),
                vcpus: m
                    .map(|m| m.vcpus_number)
                    .filter(|n| *n > 0)
                    .unwrap_or(r.vcpus_max),
                state: r.power_state.as_str().to_owned(),
                cpu_percent: if running { cpu } else { 0.0 },
                is_dom0: r.is_control_domain,
                name: r.name_label,
                uuid: r.uuid,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.is_dom0.cmp(&a.is_dom0).then_with(|| a.name.cmp(&b.name)));
    Ok(rows)
}

/// Usage of every host and VM from the RRDs, keyed by (`host` or `vm`, UUID): on xapi, where
/// `VM_metrics.VCPUs_utilisation` and `host_metrics.memory_free` were removed (XenServer 6.1:
/// zeros or `MESSAGE_REMOVED`), the only live figures. `/rrd_updates` answers for the host asked
/// and its VMs, so each pool member is asked; one that does not answer is left out (its VMs fall
/// back to the fields). Empty on xend, whose fields have the figures.
fn rrd_usages(s: &Session, seconds: i64) -> HashMap<(String, String), rrd::usage::Usage> {
    let mut out = HashMap::new();
    if s.dialect() != Dialect::Xapi {
        return out;
    }
    let Ok(hosts) = Host::get_all(s) else {
        return out;
    };
    for h in hosts {
        let Ok(u) = rrd::fetch_updates_at(s, h.as_str(), &UpdatesQuery::last(seconds)) else {
            continue;
        };
        for (kind, uuid) in u.objects() {
            if let Some(usage) = rrd::usage::from_updates(&u, kind, uuid, seconds) {
                out.insert((kind.to_owned(), uuid.to_owned()), usage);
            }
        }
    }
    out
}

fn list(s: &Session, out: &mut dyn Write) -> Result<()> {
    let mut t = Table::new(&["Name", "ID", "Mem MiB", "VCPUs", "State", "CPU%"]);
    let usages = rrd_usages(s, 10);
    for mut r in vm_rows(s)? {
        if let Some(avg) = usages
            .get(&("vm".to_owned(), r.uuid.clone()))
            .and_then(|u| u.cpu_average())
        {
            r.cpu_percent = 100.0 * avg;
        }
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

/// A table refreshed every `interval`, `iterations` times (`None`: until interrupted): the VMs and
/// hosts from a live cache (no `get_all_records` per refresh), their metrics read at each refresh.
fn top(
    s: &Session,
    out: &mut dyn Write,
    iterations: Option<u32>,
    interval: Duration,
) -> Result<()> {
    let cache = Cache::new(s, &["VM", "host", "pool"])?;
    let terminal = std::io::stdout().is_terminal();
    let mut done = 0u32;
    loop {
        if terminal {
            // Home and clear: the table replaces the last one.
            write_out(out, "\x1b[H\x1b[2J")?;
        } else if done > 0 {
            say(out, "")?;
        }
        top_once(s, &cache, out)?;
        done += 1;
        if iterations.is_some_and(|n| done >= n) {
            break;
        }
        std::thread::sleep(interval);
    }
    cache.close();
    Ok(())
}

fn top_once(s: &Session, cache: &Cache, out: &mut dyn Write) -> Result<()> {
    let snapshot = cache.snapshot();
    let hosts = snapshot.records::<Host>()?;
    let master = snapshot
        .records::<Pool>()?
        .into_values()
        .map(|p| p.master)
        .find(|m| hosts.contains_key(m));
    let host_rec = match master {
        Some(m) => hosts.get(&m).cloned(),
        None => {
            let mut all: Vec<_> = hosts.into_iter().collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all.into_iter().next().map(|(_, r)| r)
        }
    }
    .ok_or_else(|| Error::Protocol("the server lists no host".into()))?;
    let name = &host_rec.name_label;
    // On xapi the figures come from each pool member's RRDs (see rrd_usages); the fields are
    // the fallback, and xend's source.
    let usages = rrd_usages(s, 10);
    let usage_of =
        |kind: &str, uuid: &str| usages.get(&(kind.to_owned(), uuid.to_owned())).cloned();
    let host_usage = usage_of("host", &host_rec.uuid);
    let (cpu, total, free) = match &host_usage {
        Some(u) => (
            100.0 * u.cpu_average().unwrap_or(0.0),
            u.memory_total.unwrap_or(0.0) as i64,
            u.memory_free.unwrap_or(0.0) as i64,
        ),
        None => host_fields(s, &host_rec),
    };
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
    let mut t = Table::new(&["Name", "State", "CPU%", "VCPUs", "Mem MiB", "vCPU%"]);
    for mut r in rows_of(s, snapshot.records::<Vm>()?)? {
        let mut per_vcpu = "-".to_owned();
        if let Some(u) = usage_of("vm", &r.uuid) {
            if let Some(avg) = u.cpu_average() {
                r.cpu_percent = 100.0 * avg;
            }
            if let Some(m) = u.memory_total {
                r.mem_mib = m / (1024.0 * 1024.0);
            }
            per_vcpu = u
                .cpus
                .iter()
                .map(|c| c.map_or("?".to_owned(), |c| format!("{:.0}", 100.0 * c)))
                .collect::<Vec<_>>()
                .join(",");
        }
        t.row(vec![
            r.name,
            r.state,
            format!("{:.1}", r.cpu_percent),
            r.vcpus.to_string(),
            format!("{:.0}", r.mem_mib),
            per_vcpu,
        ]);
    }
    say(out, t.render().trim_end())
}

/// The host whose name label or UUID is `key`: its UUID and name.
fn find_host(s: &Session, key: &str) -> Result<(String, String)> {
    let found = Host::get_all_records(s)?
        .into_values()
        .filter(|h| h.uuid == key || h.name_label == key)
        .map(|h| (h.uuid, h.name_label))
        .collect();
    only_one(found, "host", key, "")
}

/// `xenctl rrd`: an object's figures over the last `minutes`, from `/rrd_updates` (5 s rows up
/// to 10 minutes, minute rows beyond).
fn rrd_usage(
    s: &Session,
    out: &mut dyn Write,
    kind: &str,
    uuid: &str,
    name: &str,
    minutes: u32,
) -> Result<()> {
    if s.dialect() == Dialect::Xend {
        return Err(Error::InvalidArgument(
            "xend keeps no RRDs: its records carry the figures (xenctl top)".into(),
        ));
    }
    let seconds = i64::from(minutes) * 60;
    let q = UpdatesQuery {
        interval: Some(if minutes <= 10 { 5 } else { 60 }),
        vm_uuid: (kind == "vm").then(|| uuid.to_owned()),
        host: kind == "host",
        ..UpdatesQuery::last(seconds)
    };
    let updates = rrd::fetch_updates(s, &q)?;
    let Some(u) = rrd::usage::from_updates(&updates, kind, uuid, seconds) else {
        return Err(Error::InvalidArgument(format!(
            "{name} has no RRD at {}: a VM has one only while it runs, on its host",
            s.url()
        )));
    };
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let rate = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.2} MB/s", v / 1e6));
    let per_cpu: Vec<String> = u
        .cpus
        .iter()
        .map(|c| c.map_or("?".to_owned(), |c| format!("{:.1}", 100.0 * c)))
        .collect();
    let unit = if kind == "vm" { "vCPU" } else { "pCPU" };
    say(
        out,
        &format!(
            "{kind} {name} ({uuid}), the last {minutes} min ({} rows of {} s)",
            updates.rows.len(),
            updates.step
        ),
    )?;
    say(
        out,
        &format!(
            "  CPU      {:.1}% average; per {unit}: {}",
            100.0 * u.cpu_average().unwrap_or(0.0),
            per_cpu.join(" ")
        ),
    )?;
    match (u.memory_total, u.memory_free) {
        (Some(t), Some(f)) => say(
            out,
            &format!(
                "  memory   {:.0} MiB used of {:.0} MiB ({:.0} MiB free)",
                mib(t - f),
                mib(t),
                mib(f)
            ),
        )?,
        (Some(t), None) => say(out, &format!("  memory   {:.0} MiB", mib(t)))?,
        _ => say(out, "  memory   -")?,
    }
    if kind == "vm" {
        say(
            out,
            &format!(
                "  disk     read {}, write {}",
                rate(u.disk_read),
                rate(u.disk_write)
            ),
        )?;
    }
    say(
        out,
        &format!("  network  rx {}, tx {}", rate(u.net_rx), rate(u.net_tx)),
    )
}

/// A host's CPU use (%, the mean of its pCPUs) and memory total and free (bytes) from the
/// datamodel's fields: xend's, and older xapi's.
fn host_fields(s: &Session, host: &HostRecord) -> (f64, i64, i64) {
    let cpu: Vec<f64> = host
        .host_cpus
        .iter()
        .filter_map(|c| HostCpu::get_utilisation(s, c).ok())
        .collect();
    let cpu = if cpu.is_empty() {
        0.0
    } else {
        100.0 * cpu.iter().sum::<f64>() / cpu.len() as f64
    };
    let (mut total, mut free) = (0, 0);
    if !host.metrics.is_null() {
        if let Ok(rec) = HostMetrics::get_record(s, &host.metrics) {
            total = rec.memory_total;
            free = rec.memory_free;
        }
    }
    (cpu, total, free)
}

/// Prints each change to the objects of `classes` as it comes (from a live cache, so not the
/// objects that already exist), until `count` changes or `seconds` have passed.
fn watch(
    s: &Session,
    out: &mut dyn Write,
    classes: &[String],
    count: Option<u32>,
    seconds: Option<Duration>,
) -> Result<()> {
    let names: Vec<&str> = classes.iter().map(String::as_str).collect();
    let cache = Cache::new(s, &names)?;
    let start = Instant::now();
    let mut seen = 0u32;
    loop {
        let wait = match seconds {
            Some(t) => match t.checked_sub(start.elapsed()) {
                Some(left) if !left.is_zero() => left.min(Duration::from_millis(500)),
                _ => break,
            },
            None => Duration::from_millis(500),
        };
        let Some(c) = cache.next_change(wait) else {
            if cache.is_closed() {
                break;
            }
            continue;
        };
        say(out, &change_line(&c))?;
        seen += 1;
        if count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    cache.close();
    Ok(())
}

/// `vm    mod  vm02 Running`: the class (lowercase, as events name it), the operation, the
/// object's name label (or reference) and, for a VM, its power state.
fn change_line(c: &Change) -> String {
    match c.kind {
        ChangeKind::Refetched => return "-     refetched (events were lost: read again)".into(),
        ChangeKind::Missed => return "-     missed (changes came faster than shown)".into(),
        _ => {}
    }
    let record = c.record.as_deref();
    let name = record
        .and_then(|r| r.get("name_label"))
        .and_then(|v| v.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(&c.reference);
    let state = if c.class == <Vm as Class>::NAME {
        c.record_as::<VmRecord>()
            .and_then(|r| r.ok())
            .map(|r| r.power_state.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    format!(
        "{:<5} {:<4} {name} {state}",
        c.class.to_ascii_lowercase(),
        c.kind.as_str()
    )
    .trim_end()
    .to_owned()
}
