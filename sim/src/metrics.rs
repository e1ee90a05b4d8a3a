//! Metrics that move: refreshed (at most once a second) when a client reads them. Utilisation is
//! a deterministic function of the object and the second, so it varies but never leaves 0..1;
//! everything is zero for a VM that is not running.

use xenapi::Value;

use crate::dialect::Dialect;
use crate::state::{field, int, mix, set_field, str_field, unix_now, State};
use crate::vm::{PAUSED, RUNNING};

/// The share of a CPU that `seed`'s CPU `i` used in the second `now`: the same figure in
/// `VM_metrics`/`host_cpu` and in the RRDs (`crate::rrd`).
fn fraction(seed: &str, i: i64, now: i64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    let x = mix(h ^ mix(i as u64) ^ mix(now as u64));
    // Mostly light load, sometimes busy.
    let f = (x >> 11) as f64 / (1u64 << 53) as f64;
    (f * f * 0.95 + 0.01).min(1.0)
}

/// vCPU `i`'s use of a VM (by its `VM_metrics` reference) at second `t`: none unless running.
pub(crate) fn vcpu_use(metrics: &str, i: i64, t: i64, running: bool) -> f64 {
    if running {
        fraction(metrics, i, t)
    } else {
        0.0
    }
}

/// A physical CPU's use (by its `host_cpu` reference) at second `t`.
pub(crate) fn pcpu_use(host_cpu: &str, t: i64) -> f64 {
    fraction(host_cpu, 0, t) * 0.6
}

/// The memory a VM's domain has at second `t`: its target less a little that moves; none unless
/// it is running or paused.
pub(crate) fn memory_actual(metrics: &str, target: i64, t: i64, live: bool) -> i64 {
    if live {
        target - (fraction(metrics, -1, t) * 8.0) as i64 * 4096
    } else {
        0
    }
}

/// Whether the fields xapi removed in 6.1 (`tampa`) hold live values and answer their getters:
/// always on xend, on xapi only with `--old-metrics`.
pub(crate) fn removed_live(st: &State) -> bool {
    st.dialect == Dialect::Xend || st.old_metrics
}

/// A VM's `VM_metrics.VCPUs_utilisation` at second `now`. Live where the field is
/// ([`removed_live`]); otherwise what today's xapi stores and never updates: zeros, `{0: 0.0}`
/// for a guest (`Xapi_vm_helpers.copy_metrics`), one per vCPU numbered from 1 for the control
/// domain (`create_domain_zero_metrics_record`). The same figures are in the RRDs either way.
pub(crate) fn vcpus_utilisation(
    st: &State,
    metrics: &str,
    vcpus: i64,
    now: i64,
    running: bool,
    control: bool,
) -> Value {
    let pairs: Vec<(String, Value)> = if removed_live(st) {
        (0..vcpus)
            .map(|i| {
                (
                    i.to_string(),
                    Value::Double(vcpu_use(metrics, i, now, running)),
                )
            })
            .collect()
    } else if control {
        (1..=vcpus.max(1))
            .map(|i| (i.to_string(), Value::Double(0.0)))
            .collect()
    } else {
        vec![("0".to_owned(), Value::Double(0.0))]
    };
    Value::Struct(pairs)
}

/// Brings VM_metrics, host_cpu and host_metrics up to the current second.
pub(crate) fn refresh(st: &mut State) {
    let now = unix_now();
    if st.metrics_second == now {
        return;
    }
    st.metrics_second = now;
    let mut per_host_used: Vec<(String, i64)> = Vec::new();
    let vms: Vec<(String, String, i64, i64, String, bool)> = st
        .table("VM")
        .map(|t| {
            t.iter()
                .map(|(_, r)| {
                    (
                        str_field(r, "metrics").to_owned(),
                        str_field(r, "power_state").to_owned(),
                        field(r, "VCPUs_at_startup")
                            .and_then(Value::as_i64)
                            .unwrap_or(1),
                        field(r, "memory_target")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                        str_field(r, "resident_on").to_owned(),
                        field(r, "is_control_domain")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (m, state, vcpus, mem, host, control) in vms {
        let live = state == RUNNING || state == PAUSED;
        let running = state == RUNNING;
        let actual = memory_actual(&m, mem, now, live);
        if live {
            match per_host_used.iter_mut().find(|(h, _)| *h == host) {
                Some((_, used)) => *used += actual,
                None => per_host_used.push((host, actual)),
            }
        }
        let util = vcpus_utilisation(st, &m, vcpus, now, running, control);
        st.touch("VM_metrics", &m, |r| {
            set_field(r, "VCPUs_utilisation", util);
            set_field(r, "memory_actual", int(actual));
            set_field(
                r,
                "last_updated",
                Value::DateTime(xenapi::DateTime::from_unix(now)),
            );
        });
    }
    let cpus: Vec<String> = st
        .table("host_cpu")
        .map(|t| t.refs().to_vec())
        .unwrap_or_default();
    for c in cpus {
        let f = pcpu_use(&c, now);
        st.touch("host_cpu", &c, |r| {
            set_field(r, "utilisation", Value::Double(f));
        });
    }
    let hosts: Vec<(String, String)> = st
        .table("host")
        .map(|t| {
            t.iter()
                .map(|(h, r)| (h.clone(), str_field(r, "metrics").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for (h, m) in hosts {
        let used = per_host_used
            .iter()
            .find(|(x, _)| *x == h)
            .map(|(_, u)| *u)
            .unwrap_or(0);
        st.touch("host_metrics", &m, |r| {
            let total = field(r, "memory_total")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            set_field(r, "memory_free", int((total - used).max(0)));
            set_field(
                r,
                "last_updated",
                Value::DateTime(xenapi::DateTime::from_unix(now)),
            );
        });
    }
}
