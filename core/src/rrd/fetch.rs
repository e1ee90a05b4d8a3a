//! Fetching RRDs from the server: `/rrd_updates`, `/host_rrd`, `/vm_rrd`, with the session's
//! reference, TLS policy and limits. `/rrd_updates` answers for the host it is asked of (and the
//! VMs resident there), so a pool's figures take one request per host.

use super::{Consolidation, Rrd, Updates};
use crate::Session;

/// What to ask `/rrd_updates` for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesQuery {
    /// Seconds since the epoch; a negative number counts back from the newest row (xapi's rule).
    pub start: i64,
    /// Seconds between rows wanted (xapi picks the archive: 5, 60, 3600 or 86400); `None`: 5.
    pub interval: Option<i64>,
    /// One consolidation function, or `None` for every one the archive has.
    pub cf: Option<Consolidation>,
    /// Whether the host's own data sources are included (xapi's `host=true`).
    pub host: bool,
    /// Only this VM's data sources (xapi's `vm_uuid=`).
    pub vm_uuid: Option<String>,
}

impl UpdatesQuery {
    /// The host and its VMs over the last `seconds`, averages only.
    pub fn last(seconds: i64) -> Self {
        UpdatesQuery {
            start: -seconds.abs(),
            interval: None,
            cf: Some(Consolidation::Average),
            host: true,
            vm_uuid: None,
        }
    }
}

/// `/rrd_updates` from the session's server.
pub fn fetch_updates(session: &Session, q: &UpdatesQuery) -> crate::Result<Updates> {
    let start = q.start.to_string();
    let interval = q.interval.map(|i| i.to_string());
    let mut query: Vec<(&str, &str)> = vec![("start", &start)];
    if let Some(i) = &interval {
        query.push(("interval", i));
    }
    if let Some(cf) = q.cf {
        query.push(("cf", cf.as_str()));
    }
    if q.host {
        query.push(("host", "true"));
    }
    if let Some(u) = &q.vm_uuid {
        query.push(("vm_uuid", u));
    }
    let body = session.http_get("/rrd_updates", &query)?;
    Ok(Updates::parse(&body)?)
}

/// The whole RRD of the session's host (`/host_rrd`).
pub fn fetch_host_rrd(session: &Session) -> crate::Result<Rrd> {
    Ok(Rrd::parse(&session.http_get("/host_rrd", &[])?)?)
}

/// The whole RRD of a VM (`/vm_rrd?uuid=`), from the host it runs on.
pub fn fetch_vm_rrd(session: &Session, vm_uuid: &str) -> crate::Result<Rrd> {
    Ok(Rrd::parse(
        &session.http_get("/vm_rrd", &[("uuid", vm_uuid)])?,
    )?)
}
