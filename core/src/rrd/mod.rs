//! xapi's performance figures: the round-robin databases (RRDs) that its `xcp-rrdd` keeps for
//! each host, VM and SR, served over HTTP beside the API. Since XenServer 6.1 they are the only
//! source of live CPU, memory, disk and network use (`VM_metrics.VCPUs_utilisation` and
//! `host_metrics.memory_free` were removed from the datamodel).
//!
//! - [`Updates`]: `/rrd_updates?start=…` (XML, or JSON with `json=true`): the rows since a time,
//!   one column per data source, for the host asked and its VMs. Read with [`Updates::parse`].
//! - [`Rrd`]: the whole database of one host (`/host_rrd`) or VM (`/vm_rrd?uuid=`), every archive
//!   (5 s, 1 min, 1 h, 1 day rows), read with [`Rrd::parse`].
//! - [`usage`]: what people ask first (a VM's or host's CPU per vCPU/pCPU, memory used and free,
//!   disk and network throughput) over the last minutes of either.
//!
//! - [`fetch_updates`], [`fetch_host_rrd`], [`fetch_vm_rrd`]: the requests, with the session;
//!   [`fetch_updates_at`]: from one pool member; [`vm_usage`], [`host_usage`]: a VM's (from the
//!   host it runs on) or a host's figures in one call.
//!
//! Values are kept as the server sent them, `NaN` (no data) included.

mod dump;
mod fetch;
mod updates;
pub mod usage;
mod xml;

pub use dump::{Archive, DataSource, Rrd};
pub use fetch::{
    fetch_host_rrd, fetch_updates, fetch_updates_at, fetch_vm_rrd, host_usage, vm_usage,
    UpdatesQuery,
};
pub use updates::{Row, Updates};

use std::fmt;

/// Why an RRD document could not be read: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrdError(String);

impl RrdError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        RrdError(message.into())
    }
}

impl fmt::Display for RrdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an RRD document xapi would send: {}", self.0)
    }
}

impl std::error::Error for RrdError {}

impl From<RrdError> for crate::Error {
    fn from(e: RrdError) -> Self {
        crate::Error::Protocol(e.to_string())
    }
}

/// An archive's consolidation function: how the rows of a coarser archive sum up finer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consolidation {
    Average,
    Min,
    Max,
    Last,
}

impl Consolidation {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AVERAGE" => Consolidation::Average,
            "MIN" => Consolidation::Min,
            "MAX" => Consolidation::Max,
            "LAST" => Consolidation::Last,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Consolidation::Average => "AVERAGE",
            Consolidation::Min => "MIN",
            Consolidation::Max => "MAX",
            Consolidation::Last => "LAST",
        }
    }
}

/// What a column of [`Updates`] measures: `AVERAGE:vm:<uuid>:cpu0` is the average (`cf`) of the
/// VM (`kind`) `<uuid>`'s data source `cpu0` (`name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    pub cf: Consolidation,
    /// `host`, `vm` or `sr` (xapi's prefixes); kept as sent, so that a newer kind still reads.
    pub kind: String,
    pub uuid: String,
    pub name: String,
}

impl Column {
    /// Parses a legend entry, `CF:kind:uuid:name` (the name may itself hold colons).
    pub fn parse(entry: &str) -> Result<Self, RrdError> {
        let mut parts = entry.splitn(4, ':');
        let (Some(cf), Some(kind), Some(uuid), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(RrdError::new(format!(
                "the legend entry {entry:?} is not CF:kind:uuid:name"
            )));
        };
        let cf = Consolidation::parse(cf).ok_or_else(|| {
            RrdError::new(format!(
                "the legend entry {entry:?} names no consolidation function \
                 (AVERAGE, MIN, MAX, LAST)"
            ))
        })?;
        Ok(Column {
            cf,
            kind: kind.to_owned(),
            uuid: uuid.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.cf.as_str(),
            self.kind,
            self.uuid,
            self.name
        )
    }
}

/// A number as xapi writes it: a decimal, or `NaN`, `Infinity`, `-Infinity` (also `inf`, `nan`,
/// as OCaml's own printer spells them).
pub(crate) fn parse_number(s: &str) -> Result<f64, RrdError> {
    let t = s.trim();
    match t {
        "NaN" | "nan" | "-nan" | "-NaN" => Ok(f64::NAN),
        "Infinity" | "inf" | "+Infinity" | "+inf" => Ok(f64::INFINITY),
        "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
        _ => t
            .parse::<f64>()
            .map_err(|_| RrdError::new(format!("{t:?} is not a number"))),
    }
}

pub(crate) fn parse_int(s: &str, what: &str) -> Result<i64, RrdError> {
    let t = s.trim();
    t.parse::<i64>()
        .or_else(|_| {
            // Some servers write times as floats ("1700000000.0").
            t.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && f.fract() == 0.0)
                .map(|f| f as i64)
                .ok_or(())
        })
        .map_err(|_| RrdError::new(format!("the {what} {t:?} is not a whole number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_parse_with_colons_in_the_name() {
        let c = Column::parse("AVERAGE:vm:0e1f:cpu0").unwrap();
        assert_eq!(c.cf, Consolidation::Average);
        assert_eq!(
            (c.kind.as_str(), c.uuid.as_str(), c.name.as_str()),
            ("vm", "0e1f", "cpu0")
        );
        let c = Column::parse("MAX:host:ab:sr_x:read").unwrap();
        assert_eq!(c.name, "sr_x:read");
        assert_eq!(c.to_string(), "MAX:host:ab:sr_x:read");
        assert!(Column::parse("AVERAGE:vm:only").is_err());
        assert!(Column::parse("MEDIAN:vm:u:cpu0").is_err());
    }

    #[test]
    fn numbers_as_xapi_writes_them() {
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("Infinity").unwrap(), f64::INFINITY);
        assert_eq!(parse_number("-Infinity").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_number(" 0.0123 ").unwrap(), 0.0123);
        assert_eq!(parse_number("1.5e-3").unwrap(), 0.0015);
        assert!(parse_number("fast").is_err());
        assert_eq!(parse_int("1700000000.0", "time").unwrap(), 1_700_000_000);
        assert!(parse_int("1.5", "time").is_err());
    }
}
