//! The pool's hosts as listeners, and failover as HA does it: the coordinator dies (its port
//! closes, its connections drop, calls in flight included) and a member becomes the coordinator
//! (`pool.master` changes; every member now names the new one in `HOST_IS_SLAVE`).
//!
//! A member answers `session.login_with_password`, and every call made with a session that is
//! not its own local one (`session.slave_local_login_with_password`), with
//! `HOST_IS_SLAVE [coordinator address]`, as xapi's `Session_check.check` does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use xenapi::Value;

use crate::shared::Shared;
use crate::state::{set_field, str_field, State};

/// Binds the coordinator at `listen` and a member per other host.
///
/// On a loopback IPv4 address (`127.0.0.1:P`) the members listen on `127.0.0.2:P`,
/// `127.0.0.3:P`, … (Linux routes all of 127/8 to the loopback interface), so that, as in a real
/// pool, every host answers on the same port at its own address, and `host.address` is that
/// IP. Elsewhere (or where those addresses cannot be bound) members take free ports on the
/// coordinator's IP and `host.address` is `IP:PORT`.
pub(crate) fn bind(
    listen: SocketAddr,
    members: usize,
) -> std::io::Result<(Vec<(TcpListener, SocketAddr)>, bool)> {
    let loopback = matches!(listen.ip(), IpAddr::V4(ip) if ip.is_loopback());
    if members > 0 && loopback && members < 250 {
        // A free port for the coordinator may be taken on another loopback address: try a few.
        let tries = if listen.port() == 0 { 8 } else { 1 };
        for _ in 0..tries {
            let coordinator = TcpListener::bind(listen)?;
            let addr = coordinator.local_addr()?;
            let mut out = vec![(coordinator, addr)];
            let mut failed = None;
            for i in 0..members {
                let ip = Ipv4Addr::new(127, 0, 0, 2 + i as u8);
                match TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), addr.port())) {
                    Ok(l) => {
                        let a = l.local_addr()?;
                        out.push((l, a));
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => return Ok((out, true)),
                Some(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Some(_) => break,
            }
        }
    }
    let coordinator = TcpListener::bind(listen)?;
    let addr = coordinator.local_addr()?;
    let mut out = vec![(coordinator, addr)];
    for _ in 0..members {
        let l = TcpListener::bind(SocketAddr::new(addr.ip(), 0))?;
        let a = l.local_addr()?;
        out.push((l, a));
    }
    // A lone host's address is its IP alone, as xapi's always is: clients (the core's
    // rrd::fetch_updates_at) reach it at the session's port.
    Ok((out, members == 0))
}

/// The hosts in listener order: the coordinator first, then the others in creation order.
pub(crate) fn hosts_in_order(st: &State) -> Vec<String> {
    let mut hosts = vec![st.coordinator.clone()];
    if let Some(t) = st.table("host") {
        hosts.extend(t.refs().iter().filter(|h| **h != st.coordinator).cloned());
    }
    hosts
}

/// Sets each host's `address` to where its listener answers.
pub(crate) fn set_addresses(
    st: &mut State,
    hosts: &[String],
    addrs: &[SocketAddr],
    same_port: bool,
) {
    for (h, a) in hosts.iter().zip(addrs) {
        let address = if same_port {
            a.ip().to_string()
        } else {
            a.to_string()
        };
        st.touch("host", h, |rec| {
            set_field(rec, "address", Value::String(address))
        });
    }
}

/// Stops the coordinator and promotes host number `to` (1-based, in the order the simulator
/// prints them: 1 is the first coordinator), or the first live member. Returns the new
/// coordinator's address.
pub(crate) fn failover(shared: &Shared, to: Option<usize>) -> Result<SocketAddr, String> {
    let listeners = shared.listeners();
    let mut st = shared.lock();
    let old = listeners
        .iter()
        .position(|l| l.host == st.coordinator)
        .ok_or("the coordinator has no listener")?;
    let new = match to {
        Some(n) if n == 0 || n > listeners.len() => {
            return Err(format!(
                "to must be a host number from 1 to {}",
                listeners.len()
            ))
        }
        Some(n) => n - 1,
        None => (0..listeners.len())
            .find(|i| *i != old && !listeners[*i].stopped())
            .ok_or("the pool has no live member to promote")?,
    };
    if new == old {
        return Err("that host is the coordinator already".into());
    }
    if listeners[new].stopped() {
        return Err("that host is stopped".into());
    }
    let host = listeners[new].host.clone();
    let old_host = std::mem::replace(&mut st.coordinator, host.clone());
    st.coordinator_addr = listeners[new].addr.to_string();
    let pools: Vec<String> = st
        .table("pool")
        .map(|t| t.refs().to_vec())
        .unwrap_or_default();
    for p in pools {
        st.modify("pool", &p, |rec| {
            set_field(rec, "master", Value::String(host.clone()))
        });
    }
    let metrics = st
        .get("host", &old_host)
        .map(|rec| str_field(rec, "metrics").to_owned());
    if let Some(m) = metrics {
        st.modify("host_metrics", &m, |rec| {
            set_field(rec, "live", Value::Bool(false))
        });
    }
    let name = |st: &State, h: &str| {
        st.get("host", h)
            .map(|r| str_field(r, "name_label").to_owned())
            .unwrap_or_default()
    };
    let msg = format!(
        "pool failover: coordinator {} stopped, {} promoted",
        name(&st, &old_host),
        name(&st, &host)
    );
    st.log(msg);
    drop(st);
    shared.notify();
    listeners[old].stop();
    Ok(listeners[new].addr)
}
