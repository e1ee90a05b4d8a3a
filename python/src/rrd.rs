//! `_native.rrd_*`: the core's [`xenapi::rrd`] for `xenapi_rs.rrd`. Fetching and parsing are the
//! core's; this module turns its types into plain tuples and lists (the Python module makes them
//! named tuples and classes), with the GIL released while the core works.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use xenapi::rrd::{self, Consolidation, Rrd, Updates};

use crate::{errors, interrupt, PySession};

/// `(cf, kind, uuid, name)`.
type PyColumn = (&'static str, String, String, String);
/// `(time, values)`.
type PyRow = (i64, Vec<f64>);
/// `(start, end, step, columns, rows)`.
type PyUpdates = (i64, i64, i64, Vec<PyColumn>, Vec<PyRow>);
/// `(name, type, min, max)`.
type PySource = (String, String, f64, f64);
/// `(cf, pdp_per_row, step, rows)`.
type PyArchive = (&'static str, i64, i64, Vec<PyRow>);
/// `(step, last_update, sources, archives)`.
type PyRrd = (i64, i64, Vec<PySource>, Vec<PyArchive>);
/// `(cpus, memory_total, memory_free, memory_used, disk_read, disk_write, net_rx, net_tx)`.
type PyUsage = (
    Vec<Option<f64>>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn updates_to_py(u: Updates) -> PyUpdates {
    let columns = u
        .columns
        .into_iter()
        .map(|c| (c.cf.as_str(), c.kind, c.uuid, c.name))
        .collect();
    let rows = u.rows.into_iter().map(|r| (r.time, r.values)).collect();
    (u.start, u.end, u.step, columns, rows)
}

fn rrd_to_py(r: Rrd) -> PyRrd {
    let sources = r
        .sources
        .into_iter()
        .map(|s| (s.name, s.kind, s.min, s.max))
        .collect();
    let archives = r
        .archives
        .into_iter()
        .map(|a| {
            let rows = a.rows.into_iter().map(|r| (r.time, r.values)).collect();
            (a.cf.as_str(), a.pdp_per_row, a.step, rows)
        })
        .collect();
    (r.step, r.last_update, sources, archives)
}

fn usage_to_py(u: rrd::usage::Usage) -> PyUsage {
    let used = u.memory_used();
    (
        u.cpus,
        u.memory_total,
        u.memory_free,
        used,
        u.disk_read,
        u.disk_write,
        u.net_rx,
        u.net_tx,
    )
}

/// `AVERAGE`, `MIN`, `MAX` or `LAST` (any case); `None` for every one the archive has.
fn consolidation(cf: Option<&str>) -> PyResult<Option<Consolidation>> {
    cf.map(|s| {
        Consolidation::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            PyValueError::new_err(format!(
                "cf must be \"AVERAGE\", \"MIN\", \"MAX\", \"LAST\" or None, not {s:?}"
            ))
        })
    })
    .transpose()
}

fn minutes_to_seconds(minutes: f64) -> PyResult<i64> {
    if !(0.0..=366.0 * 24.0 * 60.0).contains(&minutes) {
        return Err(PyValueError::new_err(
            "minutes must be a number from 0 to a year's worth",
        ));
    }
    Ok((minutes * 60.0).round() as i64)
}

/// `/rrd_updates` of the session's host (or of `host_ref`'s, one request per host).
#[pyfunction]
#[pyo3(signature = (session, start, interval, cf, host, vm_uuid, host_ref))]
#[allow(clippy::too_many_arguments)]
fn rrd_fetch_updates(
    py: Python<'_>,
    session: &PySession,
    start: i64,
    interval: Option<i64>,
    cf: Option<&str>,
    host: bool,
    vm_uuid: Option<String>,
    host_ref: Option<String>,
) -> PyResult<PyUpdates> {
    if interval.is_some_and(|i| i <= 0) {
        return Err(PyValueError::new_err(
            "interval must be a positive number of seconds",
        ));
    }
    let query = rrd::UpdatesQuery {
        start,
        interval,
        cf: consolidation(cf)?,
        host,
        vm_uuid,
    };
    let s = session.call_view(py);
    let s = &*s;
    let result = interrupt::blocking(py, || match &host_ref {
        None => rrd::fetch_updates(s, &query),
        Some(h) => rrd::fetch_updates_at(s, h, &query),
    })?;
    result
        .map(updates_to_py)
        .map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

/// Reads an `/rrd_updates` reply (XML or JSON).
#[pyfunction]
fn rrd_parse_updates(py: Python<'_>, data: &[u8]) -> PyResult<PyUpdates> {
    py.detach(|| Updates::parse(data))
        .map(updates_to_py)
        .map_err(|e| errors::to_pyerr(py, e.into(), true))
}

/// `/host_rrd`: the whole RRD of the session's host.
#[pyfunction]
fn rrd_fetch_host_rrd(py: Python<'_>, session: &PySession) -> PyResult<PyRrd> {
    let s = session.call_view(py);
    let s = &*s;
    interrupt::blocking(py, || rrd::fetch_host_rrd(s))?
        .map(rrd_to_py)
        .map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

/// `/vm_rrd?uuid=`: the whole RRD of a VM.
#[pyfunction]
fn rrd_fetch_vm_rrd(py: Python<'_>, session: &PySession, uuid: String) -> PyResult<PyRrd> {
    let s = session.call_view(py);
    let s = &*s;
    interrupt::blocking(py, || rrd::fetch_vm_rrd(s, &uuid))?
        .map(rrd_to_py)
        .map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

/// Reads a whole RRD (`/host_rrd`, `/vm_rrd`).
#[pyfunction]
fn rrd_parse_rrd(py: Python<'_>, data: &[u8]) -> PyResult<PyRrd> {
    py.detach(|| Rrd::parse(data))
        .map(rrd_to_py)
        .map_err(|e| errors::to_pyerr(py, e.into(), true))
}

/// A VM's usage over the last `minutes`, from the host it runs on; a VM that is not running
/// has no live figures (`InvalidArgument`).
#[pyfunction]
fn rrd_vm_usage(
    py: Python<'_>,
    session: &PySession,
    vm_uuid: String,
    minutes: f64,
) -> PyResult<PyUsage> {
    let window = minutes_to_seconds(minutes)?;
    let s = session.call_view(py);
    let s = &*s;
    interrupt::blocking(py, || rrd::vm_usage(s, &vm_uuid, window))?
        .map(usage_to_py)
        .map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

/// A host's usage over the last `minutes`, asked of that host.
#[pyfunction]
fn rrd_host_usage(
    py: Python<'_>,
    session: &PySession,
    host_uuid: String,
    minutes: f64,
) -> PyResult<PyUsage> {
    let window = minutes_to_seconds(minutes)?;
    let s = session.call_view(py);
    let s = &*s;
    interrupt::blocking(py, || rrd::host_usage(s, &host_uuid, window))?
        .map(usage_to_py)
        .map_err(|e| errors::to_pyerr(py, e, s.is_logged_in()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rrd_fetch_updates, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_parse_updates, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_fetch_host_rrd, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_fetch_vm_rrd, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_parse_rrd, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_vm_usage, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_host_usage, m)?)?;
    Ok(())
}
