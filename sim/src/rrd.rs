//! xcp-rrdd's HTTP side: `/rrd_updates`, `/host_rrd` and `/vm_rrd`, as xapi serves them beside
//! the API (ocaml/xcp-rrdd/bin/rrdd/rrdd_http_handler.ml; the formats of
//! ocaml/libs/xapi-rrd/lib/rrd_updates.ml and rrd.ml). The figures are those of `VM_metrics`,
//! `host_cpu` and `host_metrics` at each second (crate::metrics), so a running VM shows CPU use
//! and a halted one has no RRD here at all (xapi keeps a VM's RRD on the host it runs on).
//!
//! Simplified: one archive per step (5 s, 1 min, 1 h, 1 day rows), each row the value at its own
//! second rather than a consolidation of finer rows; MIN and MAX equal AVERAGE.

use std::fmt::Write as _;

use xenapi::Value;

use crate::metrics::{memory_actual, pcpu_use, vcpu_use};
use crate::session;
use crate::shared::Shared;
use crate::state::{field, str_field, unix_now};
use crate::vm::{PAUSED, RUNNING};

/// Rows an archive keeps, per step (xcp-rrdd's: 10 minutes of 5 s, 2 hours of minutes, a week
/// of hours, a year of days).
const ARCHIVES: [(i64, usize); 4] = [(5, 120), (60, 120), (3600, 168), (86400, 366)];

/// An object's data sources and their values at a second.
type Sources<'a> = Box<dyn Fn(i64) -> Vec<(String, f64)> + 'a>;

/// What a request answers: status, content type, body.
pub(crate) type Reply = (u16, &'static str, Vec<u8>);

struct VmFigures {
    uuid: String,
    metrics: String,
    running: bool,
    live: bool,
    vcpus: i64,
    target: i64,
}

struct HostFigures {
    uuid: String,
    cpus: Vec<String>,
    memory_total: i64,
    vms: Vec<VmFigures>,
}

impl VmFigures {
    /// (data source, value at second t), in xcp-rrdd's names and units.
    fn sources(&self, t: i64) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = (0..self.vcpus)
            .map(|i| {
                (
                    format!("cpu{i}"),
                    vcpu_use(&self.metrics, i, t, self.running),
                )
            })
            .collect();
        let actual = memory_actual(&self.metrics, self.target, t, self.live) as f64;
        v.push(("memory".into(), actual));
        v.push(("memory_target".into(), self.target as f64));
        // The guest agent's view: a third of its memory free, more when idle.
        let idle = 1.0 - vcpu_use(&self.metrics, 0, t, self.running);
        v.push((
            "memory_internal_free".into(),
            (actual / 1024.0 * (0.2 + 0.3 * idle)).floor(),
        ));
        let busy = vcpu_use(&self.metrics, 0, t, self.running);
        v.push(("vbd_xvda_read".into(), (busy * 4.0e6).floor()));
        v.push(("vbd_xvda_write".into(), (busy * 1.0e6).floor()));
        v.push(("vif_0_rx".into(), (busy * 2.0e5).floor()));
        v.push(("vif_0_tx".into(), (busy * 1.0e5).floor()));
        v
    }
}

impl HostFigures {
    fn sources(&self, t: i64) -> Vec<(String, f64)> {
        let uses: Vec<f64> = self.cpus.iter().map(|c| pcpu_use(c, t)).collect();
        let mut v: Vec<(String, f64)> = uses
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("cpu{i}"), *u))
            .collect();
        if !uses.is_empty() {
            v.push((
                "cpu_avg".into(),
                uses.iter().sum::<f64>() / uses.len() as f64,
            ));
        }
        let used: i64 = self
            .vms
            .iter()
            .map(|vm| memory_actual(&vm.metrics, vm.target, t, vm.live))
            .sum();
        v.push(("memory_total_kib".into(), (self.memory_total / 1024) as f64));
        v.push((
            "memory_free_kib".into(),
            ((self.memory_total - used).max(0) / 1024) as f64,
        ));
        let busy = uses.first().copied().unwrap_or(0.0);
        v.push(("pif_eth0_rx".into(), (busy * 1.0e6).floor()));
        v.push(("pif_eth0_tx".into(), (busy * 5.0e5).floor()));
        v
    }
}

/// Reads what the figures need, for the host `host` (a reference) and the VMs resident there,
/// its control domain included (xcp-rrdd keeps dom0's RRD like any VM's).
fn figures(shared: &Shared, host: &str) -> Option<HostFigures> {
    let st = shared.lock();
    let h = st.get("host", host)?;
    // host.host_cpus is derived from host_cpu.host (crate::objects); read that side, by number.
    let mut cpus: Vec<(i64, String)> = st
        .table("host_cpu")
        .map(|t| {
            t.iter()
                .filter(|(_, c)| str_field(c, "host") == host)
                .map(|(r, c)| {
                    let n = field(c, "number").and_then(Value::as_i64).unwrap_or(0);
                    (n, r.clone())
                })
                .collect()
        })
        .unwrap_or_default();
    cpus.sort();
    let cpus = cpus.into_iter().map(|(_, r)| r).collect();
    let memory_total = st
        .get("host_metrics", str_field(h, "metrics"))
        .and_then(|m| field(m, "memory_total"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let vms = st
        .table("VM")
        .map(|t| {
            t.iter()
                .filter(|(_, r)| str_field(r, "resident_on") == host)
                .map(|(_, r)| {
                    let state = str_field(r, "power_state");
                    VmFigures {
                        uuid: str_field(r, "uuid").to_owned(),
                        metrics: str_field(r, "metrics").to_owned(),
                        running: state == RUNNING,
                        live: state == RUNNING || state == PAUSED,
                        vcpus: field(r, "VCPUs_at_startup")
                            .and_then(Value::as_i64)
                            .unwrap_or(1),
                        target: field(r, "memory_target")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                    }
                })
                .filter(|vm| vm.live)
                .collect()
        })
        .unwrap_or_default();
    Some(HostFigures {
        uuid: str_field(h, "uuid").to_owned(),
        cpus,
        memory_total,
        vms,
    })
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&v[i + 1..i + 3], 16) {
                Ok(x) => {
                    out.push(x);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refused(status: u16, why: &str) -> Reply {
    (
        status,
        "text/html",
        format!("<html><body><h1>HTTP {status}</h1>{why}</body></html>").into_bytes(),
    )
}

/// The session in the query, or the reply refusing the request (xapi answers 401).
fn authorised(shared: &Shared, query: &str) -> Result<(), Reply> {
    let Some(s) = param(query, "session_id").map(decode) else {
        return Err(refused(401, "no session_id"));
    };
    // An HTTP handler on a pool member takes the pool's sessions (it asks the coordinator).
    session::check(shared, false, &s)
        .map(|_| ())
        .map_err(|_| refused(401, "the session is not valid"))
}

/// The archive step that serves an interval: the finest at least as coarse.
fn step_for(interval: i64) -> (i64, usize) {
    ARCHIVES
        .iter()
        .copied()
        .find(|(s, _)| *s >= interval)
        .unwrap_or(ARCHIVES[3])
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{v:.4}")
    }
}

/// `/rrd_updates?session_id=&start=&interval=&cf=&host=true&vm_uuid=&json=true`, for the host
/// whose listener took the request.
pub(crate) fn updates(shared: &Shared, host: &str, query: &str) -> Reply {
    if let Err(r) = authorised(shared, query) {
        return r;
    }
    let Some(start) = param(query, "start").and_then(|s| decode(s).parse::<i64>().ok()) else {
        return refused(400, "start is missing or not a number");
    };
    let interval = param(query, "interval")
        .and_then(|s| decode(s).parse::<i64>().ok())
        .unwrap_or(0);
    let cfs: Vec<&str> = match param(query, "cf").map(decode).as_deref() {
        None | Some("") => vec!["AVERAGE", "MIN", "MAX"],
        Some("AVERAGE") => vec!["AVERAGE"],
        Some("MIN") => vec!["MIN"],
        Some("MAX") => vec!["MAX"],
        Some(_) => return refused(400, "cf is not AVERAGE, MIN or MAX"),
    };
    let with_host = param(query, "host").is_some_and(|v| v == "true");
    let only_vm = param(query, "vm_uuid").map(decode);
    let json = param(query, "json").is_some_and(|v| v == "true");
    let Some(figs) = figures(shared, host) else {
        return refused(500, "the host is gone");
    };
    let (step, keep) = step_for(interval);
    let now = unix_now();
    let last = now - now.rem_euclid(step);
    let start = if start < 0 { last + start } else { start };
    let oldest = last - step * (keep as i64 - 1);
    let first = start.max(oldest);
    // Newest first, as xapi sends them; a start in the future gets no rows.
    let times: Vec<i64> = (0..keep as i64)
        .map(|k| last - k * step)
        .take_while(|t| *t >= first)
        .collect();
    // Columns: the host's (if asked), then each VM's (or the one asked).
    let mut objects: Vec<(&str, &str, Sources<'_>)> = Vec::new();
    if with_host && only_vm.is_none() {
        objects.push(("host", &figs.uuid, Box::new(|t| figs.sources(t))));
    }
    for vm in &figs.vms {
        if only_vm.as_deref().is_some_and(|u| u != vm.uuid) {
            continue;
        }
        objects.push(("vm", &vm.uuid, Box::new(move |t| vm.sources(t))));
    }
    let mut legend = Vec::new();
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); times.len()];
    for (kind, uuid, sources) in &objects {
        let names: Vec<String> = sources(last).into_iter().map(|(n, _)| n).collect();
        for cf in &cfs {
            for n in &names {
                legend.push(format!("{cf}:{kind}:{uuid}:{n}"));
            }
        }
        for (row, t) in rows.iter_mut().zip(&times) {
            let values: Vec<f64> = sources(*t).into_iter().map(|(_, v)| v).collect();
            for _ in &cfs {
                row.extend_from_slice(&values);
            }
        }
    }
    let end = times.first().copied().unwrap_or(last);
    let begin = times.last().copied().unwrap_or(start);
    let body = if json {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"meta\":{{\"start\":\"{begin}\",\"step\":\"{step}\",\"end\":\"{end}\",\"rows\":\"{}\",\"columns\":\"{}\",\"legend\":[",
            times.len(),
            legend.len()
        );
        for (i, l) in legend.iter().enumerate() {
            let _ = write!(s, "{}\"{l}\"", if i > 0 { "," } else { "" });
        }
        s.push_str("]},\"data\":[");
        for (i, (t, row)) in times.iter().zip(&rows).enumerate() {
            let _ = write!(
                s,
                "{}{{\"t\":\"{t}\",\"values\":[",
                if i > 0 { "," } else { "" }
            );
            for (j, v) in row.iter().enumerate() {
                let _ = write!(s, "{}\"{}\"", if j > 0 { "," } else { "" }, number(*v));
            }
            s.push_str("]}");
        }
        s.push_str("]}");
        s
    } else {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><xport><meta>");
        let _ = write!(
            s,
            "<start>{begin}</start><step>{step}</step><end>{end}</end><rows>{}</rows><columns>{}</columns><legend>",
            times.len(),
            legend.len()
        );
        for l in &legend {
            let _ = write!(s, "<entry>{l}</entry>");
        }
        s.push_str("</legend></meta><data>");
        for (t, row) in times.iter().zip(&rows) {
            let _ = write!(s, "<row><t>{t}</t>");
            for v in row {
                let _ = write!(s, "<v>{}</v>", number(*v));
            }
            s.push_str("</row>");
        }
        s.push_str("</data></xport>");
        s
    };
    let ct = if json { "application/json" } else { "text/xml" };
    (200, ct, body.into_bytes())
}

/// A whole RRD in rrdtool's dump format, the archives of [`ARCHIVES`] with AVERAGE rows.
fn dump(sources: &dyn Fn(i64) -> Vec<(String, f64)>) -> Vec<u8> {
    let now = unix_now();
    let names: Vec<String> = sources(now).into_iter().map(|(n, _)| n).collect();
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rrd><version>0003</version>");
    let _ = write!(s, "<step>5</step><lastupdate>{now}</lastupdate>");
    for n in &names {
        let counter = ["cpu", "vbd_", "vif_", "pif_"]
            .iter()
            .any(|p| n.starts_with(p));
        let kind = if counter { "DERIVE" } else { "GAUGE" };
        let _ = write!(
            s,
            "<ds><name>{n}</name><type>{kind}</type><minimal_heartbeat>300.0000</minimal_heartbeat><min>0.0</min><max>Infinity</max><last_ds>0</last_ds><value>0.0</value><unknown_sec>0</unknown_sec></ds>"
        );
    }
    for (step, keep) in ARCHIVES {
        let last = now - now.rem_euclid(step);
        let _ = write!(
            s,
            "<rra><cf>AVERAGE</cf><pdp_per_row>{}</pdp_per_row><params><xff>0.5000</xff></params><cdp_prep>",
            step / 5
        );
        for _ in &names {
            s.push_str("<ds><primary_value>0.0</primary_value><secondary_value>0.0</secondary_value><value>0.0</value><unknown_datapoints>0</unknown_datapoints></ds>");
        }
        s.push_str("</cdp_prep><database>");
        // Oldest row first, as rrdtool dumps them.
        for k in (0..keep as i64).rev() {
            s.push_str("<row>");
            for (_, v) in sources(last - k * step) {
                let _ = write!(s, "<v>{}</v>", number(v));
            }
            s.push_str("</row>");
        }
        s.push_str("</database></rra>");
    }
    s.push_str("</rrd>");
    s.into_bytes()
}

/// `/host_rrd?session_id=`: the whole RRD of the host whose listener took the request.
pub(crate) fn host_rrd(shared: &Shared, host: &str, query: &str) -> Reply {
    if let Err(r) = authorised(shared, query) {
        return r;
    }
    let Some(figs) = figures(shared, host) else {
        return refused(500, "the host is gone");
    };
    (200, "text/xml", dump(&|t| figs.sources(t)))
}

/// `/vm_rrd?session_id=&uuid=`: a VM's whole RRD, from the host it runs on (404 elsewhere, and for
/// a VM that is not running).
pub(crate) fn vm_rrd(shared: &Shared, host: &str, query: &str) -> Reply {
    if let Err(r) = authorised(shared, query) {
        return r;
    }
    let Some(uuid) = param(query, "uuid").map(decode) else {
        return refused(400, "uuid is missing");
    };
    let Some(figs) = figures(shared, host) else {
        return refused(500, "the host is gone");
    };
    match figs.vms.iter().find(|vm| vm.uuid == uuid) {
        Some(vm) => (200, "text/xml", dump(&|t| vm.sources(t))),
        None => refused(404, "no RRD for that VM on this host"),
    }
}
