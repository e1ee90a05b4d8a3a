//! What people ask of the RRDs first: a VM's or a host's CPU use per vCPU/pCPU, memory used and
//! free, disk and network throughput, averaged over the last minutes.
//!
//! The data source names are xcp-rrdd's: `cpuN` (the share of one physical CPU that vCPU or pCPU
//! N used, 0 to 1); for a VM `memory` (bytes the domain has) and `memory_internal_free` (KiB its
//! guest agent reports free), `vbd_<dev>_read`/`_write` and `vif_<n>_rx`/`_tx` (bytes per
//! second); for a host `memory_total_kib`, `memory_free_kib`, `pif_<dev>_rx`/`_tx`.

use super::{Consolidation, Rrd, Updates};

/// Averages over a window; `None` where the server had no such data source or only `NaN`s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Per vCPU (VM) or pCPU (host), by number: the share of one physical CPU used, 0 to 1.
    pub cpus: Vec<Option<f64>>,
    /// Bytes: the domain's memory (VM), or the host's.
    pub memory_total: Option<f64>,
    /// Bytes: free inside the guest (VM, needs its guest agent), or on the host.
    pub memory_free: Option<f64>,
    /// Bytes per second, over every disk (`vbd_*`).
    pub disk_read: Option<f64>,
    pub disk_write: Option<f64>,
    /// Bytes per second, over every network interface (`vif_*` of a VM, `pif_*` of a host).
    pub net_rx: Option<f64>,
    pub net_tx: Option<f64>,
}

impl Usage {
    /// Memory in use, in bytes: total less free, when both are known.
    pub fn memory_used(&self) -> Option<f64> {
        Some(self.memory_total? - self.memory_free?)
    }

    /// Average CPU use over every vCPU/pCPU that has a value, 0 to 1.
    pub fn cpu_average(&self) -> Option<f64> {
        let known: Vec<f64> = self.cpus.iter().flatten().copied().collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    }

    /// From data sources named as xcp-rrdd names them, each as its average over the window.
    fn from_sources<'a>(sources: impl Iterator<Item = (&'a str, Option<f64>)>) -> Self {
        let mut u = Usage::default();
        let add = |slot: &mut Option<f64>, v: Option<f64>| {
            if let Some(v) = v {
                *slot = Some(slot.unwrap_or(0.0) + v);
            }
        };
        for (name, avg) in sources {
            if let Some(n) = name
                .strip_prefix("cpu")
                .and_then(|n| n.parse::<usize>().ok())
            {
                if n < 4096 {
                    if u.cpus.len() <= n {
                        u.cpus.resize(n + 1, None);
                    }
                    u.cpus[n] = avg;
                }
                continue;
            }
            match name {
                "memory" => u.memory_total = avg,
                "memory_internal_free" => u.memory_free = avg.map(|k| k * 1024.0),
                "memory_total_kib" => u.memory_total = avg.map(|k| k * 1024.0),
                "memory_free_kib" => u.memory_free = avg.map(|k| k * 1024.0),
                _ => {
                    let io = |prefix: &str, suffix: &str| {
                        name.strip_prefix(prefix)
                            .and_then(|r| r.strip_suffix(suffix))
                            .is_some_and(|dev| !dev.is_empty() && !dev.contains('_'))
                    };
                    if io("vbd_", "_read") {
                        add(&mut u.disk_read, avg);
                    } else if io("vbd_", "_write") {
                        add(&mut u.disk_write, avg);
                    } else if io("vif_", "_rx") || io("pif_", "_rx") {
                        add(&mut u.net_rx, avg);
                    } else if io("vif_", "_tx") || io("pif_", "_tx") {
                        add(&mut u.net_tx, avg);
                    }
                }
            }
        }
        u
    }
}

/// The average of the values that are numbers.
fn average(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for v in values.filter(|v| v.is_finite()) {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// An object's usage from `/rrd_updates`, over the rows of the last `window_seconds` (at least
/// the newest row). `kind` is `vm` or `host`, as in the legend.
pub fn from_updates(u: &Updates, kind: &str, uuid: &str, window_seconds: i64) -> Option<Usage> {
    let newest = u.rows.iter().map(|r| r.time).max()?;
    let from = newest - window_seconds.max(0);
    let columns: Vec<(usize, &str)> = u
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.cf == Consolidation::Average && c.kind == kind && c.uuid == uuid)
        .map(|(i, c)| (i, c.name.as_str()))
        .collect();
    if columns.is_empty() {
        return None;
    }
    let rows: Vec<_> = u
        .rows
        .iter()
        .filter(|r| r.time > from || r.time == newest)
        .collect();
    Some(Usage::from_sources(columns.into_iter().map(|(i, name)| {
        (name, average(rows.iter().map(|r| r.values[i])))
    })))
}

/// A host's or VM's usage from its whole RRD, over the last `window_seconds` of its finest
/// averaging archive.
pub fn from_rrd(rrd: &Rrd, window_seconds: i64) -> Option<Usage> {
    let archive = rrd.finest(Consolidation::Average)?;
    let newest = archive.rows.first()?.time;
    let rows: Vec<_> = archive
        .rows
        .iter()
        .filter(|r| r.time > newest - window_seconds.max(0) || r.time == newest)
        .collect();
    Some(Usage::from_sources(rrd.sources.iter().enumerate().map(
        |(i, s)| (s.name.as_str(), average(rows.iter().map(|r| r.values[i]))),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updates() -> Updates {
        let legend = [
            "AVERAGE:vm:v1:cpu0",
            "AVERAGE:vm:v1:cpu1",
            "AVERAGE:vm:v1:memory",
            "AVERAGE:vm:v1:memory_internal_free",
            "AVERAGE:vm:v1:vbd_xvda_read",
            "AVERAGE:vm:v1:vbd_xvdb_read",
            "AVERAGE:vm:v1:vbd_xvda_read_latency",
            "AVERAGE:vm:v1:vif_0_tx",
            "MAX:vm:v1:cpu0",
            "AVERAGE:host:h1:cpu0",
            "AVERAGE:host:h1:memory_total_kib",
            "AVERAGE:host:h1:memory_free_kib",
            "AVERAGE:host:h1:pif_eth0_rx",
        ];
        let entries: String = legend
            .iter()
            .map(|e| format!("<entry>{e}</entry>"))
            .collect();
        let row = |t: i64, vs: [&str; 13]| {
            let v: String = vs.iter().map(|v| format!("<v>{v}</v>")).collect();
            format!("<row><t>{t}</t>{v}</row>")
        };
        let xml =
            format!(
            "<xport><meta><start>0</start><step>5</step><end>100</end><legend>{entries}</legend>\
             </meta><data>{}{}{}</data></xport>",
            row(100, ["0.5", "NaN", "2147483648", "1048576", "1000", "500", "7", "10", "0.9",
                      "0.25", "16777216", "8388608", "300"]),
            row(95, ["0.3", "NaN", "2147483648", "1048576", "3000", "500", "7", "30", "0.9",
                     "0.75", "16777216", "8388608", "100"]),
            row(40, ["1.0", "1.0", "0", "0", "0", "0", "0", "0", "1", "1", "0", "0", "0"]),
        );
        Updates::parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn a_vms_usage_over_the_last_minute() {
        let u = from_updates(&updates(), "vm", "v1", 60).unwrap();
        // Rows at 100 and 95 only (40 is over a minute older); MAX columns ignored.
        assert_eq!(u.cpus, vec![Some(0.4), None]);
        assert_eq!(u.cpu_average(), Some(0.4));
        assert_eq!(u.memory_total, Some(2_147_483_648.0));
        assert_eq!(u.memory_free, Some(1_073_741_824.0));
        assert_eq!(u.memory_used(), Some(1_073_741_824.0));
        assert_eq!(u.disk_read, Some(2500.0), "both disks, not the latency");
        assert_eq!(u.disk_write, None);
        assert_eq!(u.net_tx, Some(20.0));
    }

    #[test]
    fn a_hosts_usage_and_the_newest_row_alone() {
        let h = from_updates(&updates(), "host", "h1", 0).unwrap();
        assert_eq!(h.cpus, vec![Some(0.25)]);
        assert_eq!(h.memory_total, Some(16_777_216.0 * 1024.0));
        assert_eq!(h.memory_used(), Some(8_388_608.0 * 1024.0));
        assert_eq!(h.net_rx, Some(300.0));
        assert!(from_updates(&updates(), "vm", "nobody", 60).is_none());
    }

    #[test]
    fn usage_from_a_whole_rrd() {
        let rrd = Rrd::parse(super::super::dump::tests_dump().as_bytes()).unwrap();
        let u = from_rrd(&rrd, 10).unwrap();
        // Rows at ...010 (cpu NaN) and ...005 (0.2): the NaN is skipped.
        assert_eq!(u.cpus, vec![Some(0.2)]);
        assert_eq!(u.memory_total, Some(250.0));
    }
}
