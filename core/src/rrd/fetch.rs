//! Fetching RRDs from the server: `/rrd_updates`, `/host_rrd`, `/vm_rrd`, with the session's
//! reference, TLS policy and limits. `/rrd_updates` answers for the host it is asked of (and the
//! VMs resident there), so a pool's figures take one request per host.

use super::usage::{self, Usage};
use super::{Consolidation, Rrd, Updates};
use crate::api::{Host, Vm, VmPowerState};
use crate::client::percent_encode;
use crate::{Error, Ref, Session};

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
    let body = session.http_get("/rrd_updates", &pairs(q).as_refs())?;
    Ok(Updates::parse(&body)?)
}

/// `/rrd_updates` from one pool member, asked directly: the host `host` (a reference) at its
/// `host.address`, with the session's scheme, port, TLS policy, limits and reference. xcp-rrdd
/// answers only for the host it runs on and the VMs resident there, so a pool's figures take one
/// request per host.
pub fn fetch_updates_at(session: &Session, host: &str, q: &UpdatesQuery) -> crate::Result<Updates> {
    let address = Host::get_address(session, &Ref::<Host>::new(host))?;
    let options = member_options(session, &address)?;
    let handle = session.handle().ok_or_else(|| {
        Error::InvalidArgument("not logged in: call login_with_password first".into())
    })?;
    let mut query = vec![("session_id", handle.as_str())];
    let owned = pairs(q);
    query.extend(owned.as_refs());
    let encoded: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let url = format!("{}rrd_updates?{}", options.url(), encoded.join("&"));
    // Through the transfers' connection: the options' proxy applies, as to a transfer.
    let body = crate::transfer::get_bounded(&options, &url, options.max_response_bytes)?;
    Ok(Updates::parse(&body)?)
}

/// A VM's usage over the last `seconds`, from the host it runs on (`VM.resident_on`). A VM that
/// is not running (halted, suspended) has no live figures: an error says so.
pub fn vm_usage(session: &Session, vm_uuid: &str, seconds: i64) -> crate::Result<Usage> {
    let vm = Vm::get_by_uuid(session, vm_uuid)?;
    let state = Vm::get_power_state(session, &vm)?;
    if !matches!(state, VmPowerState::Running | VmPowerState::Paused) {
        return Err(Error::InvalidArgument(format!(
            "the VM {vm_uuid} is {state}, not running: only a running VM has live figures"
        )));
    }
    let host = Vm::get_resident_on(session, &vm)?;
    if host.is_null() {
        return Err(Error::InvalidArgument(format!(
            "the VM {vm_uuid} is not running on any host: it has no live figures"
        )));
    }
    let q = UpdatesQuery {
        host: false,
        vm_uuid: Some(vm_uuid.to_owned()),
        ..UpdatesQuery::last(seconds)
    };
    let u = fetch_updates_at(session, host.as_str(), &q)?;
    usage::from_updates(&u, "vm", vm_uuid, seconds).ok_or_else(|| {
        Error::Protocol(format!(
            "the host the VM {vm_uuid} runs on sent no figures for it"
        ))
    })
}

/// A host's usage over the last `seconds`, asked of that host.
pub fn host_usage(session: &Session, host_uuid: &str, seconds: i64) -> crate::Result<Usage> {
    let host = Host::get_by_uuid(session, host_uuid)?;
    let u = fetch_updates_at(session, host.as_str(), &UpdatesQuery::last(seconds))?;
    usage::from_updates(&u, "host", host_uuid, seconds)
        .ok_or_else(|| Error::Protocol(format!("the host {host_uuid} sent no figures of its own")))
}

/// The session's options for the pool member at `address`: the same scheme, and the same port
/// unless the address names one (a simulator's pool); https for a Unix socket session.
pub(crate) fn member_options(session: &Session, address: &str) -> crate::Result<crate::Options> {
    let member = crate::session::coordinator_url(&session.url(), address)?;
    Ok(session.client().options().with_url(member))
}

/// The query of `/rrd_updates` (without `session_id`), owned.
struct Pairs(Vec<(&'static str, String)>);

impl Pairs {
    fn as_refs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

fn pairs(q: &UpdatesQuery) -> Pairs {
    let mut out = vec![("start", q.start.to_string())];
    if let Some(i) = q.interval {
        out.push(("interval", i.to_string()));
    }
    if let Some(cf) = q.cf {
        out.push(("cf", cf.as_str().to_owned()));
    }
    if q.host {
        out.push(("host", "true".to_owned()));
    }
    if let Some(u) = &q.vm_uuid {
        out.push(("vm_uuid", u.clone()));
    }
    Pairs(out)
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
