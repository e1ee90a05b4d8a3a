//! # xenapi-sim
//!
//! A XenAPI server simulator: XML-RPC over HTTP/1.1 (or HTTPS) that answers like xapi or like
//! xend 3.x, with a pool of hosts, a control domain and guest VMs, the VM power-state machine,
//! moving metrics, `Async.*` tasks, `event.from`, session expiry and fault injection; and the
//! objects users' automation works with: networks and PIFs, SRs with PBDs and space accounting,
//! VDIs, VBDs, VIFs, consoles, templates, and the VM life cycle (create, clone, copy, provision,
//! snapshot, revert, destroy) with xapi's rules and error codes (see `sim/MODEL.md`). A pool can
//! be saved as a JSON inventory ([`Running::save_state`]) and started from one
//! ([`Config::state`]).
//!
//! ```no_run
//! let sim = xenapi_sim::Simulator::start(xenapi_sim::Config {
//!     vms: 8,
//!     ..xenapi_sim::Config::default()
//! })?;
//! println!("{}", sim.url()); // http://127.0.0.1:PORT/
//! sim.set_fault(Some(xenapi_sim::Fault::Reset), 1); // the next reply closes the connection
//! assert_eq!(sim.session_count(), 0);
//! sim.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

mod blobs;
mod control;
mod datamodel;
mod devices;
mod dialect;
mod disks;
mod dispatch;
mod events;
mod faults;
mod generic;
mod host_ops;
mod http;
mod inventory;
mod lifecycle;
mod metrics;
mod migrate;
mod net;
mod objects;
mod pbd;
mod pool;
mod rrd;
mod server;
mod session;
mod shared;
mod state;
mod storage;
mod tasks;
mod template_disks;
mod tls;
mod transfer;
mod transfer_vhd;
mod vm;
mod world;
mod xva;
mod xva_http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use dialect::Dialect;
pub use faults::Fault;

use shared::{Settings, Shared};

/// How to start a simulator. `Config::default()` is xapi on `127.0.0.1:0` (a free port) with
/// user `root`, password `password`, 4 VMs and 1 host.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the coordinator listens (port 0: a free port).
    pub listen: SocketAddr,
    /// Guest VMs (`vm01`, `vm02`, …; odd ones start Running, even ones Halted).
    pub vms: usize,
    /// Templates (`is_a_template`, with xapi's install keys in `other_config`): none by default,
    /// so that `VM.get_all` counts only the control domains and the guests (the command line
    /// starts with five; `--templates 0` for none).
    pub templates: usize,
    /// Hosts in the pool; each after the first gets its own listener that answers login with
    /// `HOST_IS_SLAVE`.
    pub hosts: usize,
    pub user: String,
    pub password: String,
    pub dialect: Dialect,
    /// Idle time after which a session is invalid (xapi: 24 h).
    pub session_timeout: Duration,
    /// Serve HTTPS with a self-signed certificate made at start.
    pub tls: bool,
    /// Write the certificate (PEM) here, for clients to use as a CA file.
    pub cert_out: Option<PathBuf>,
    /// With `tls`: serve this certificate chain and private key (both PEM, e.g. a certificate a
    /// test CA signed) instead of a self-signed one.
    pub tls_identity: Option<(String, String)>,
    /// Delay before every XML-RPC reply.
    pub fault_delay: Duration,
    /// The byte interval of the `drip` fault (2 s by default).
    pub drip_interval: Duration,
    /// How long an `Async.*` task stays pending before it runs.
    pub task_delay: Duration,
    /// How long `event.next` blocks before answering an empty list.
    pub event_next_wait: Duration,
    /// Seed for UUIDs (default: from the clock).
    pub seed: Option<u64>,
    /// Serve JSON-RPC on `/jsonrpc` as xapi does (default on; the xend dialect never does).
    pub jsonrpc: bool,
    /// Serve XML-RPC (default on); off, `/` answers 404.
    pub xmlrpc: bool,
    /// Start from this inventory (JSON, as [`Running::save_state`] writes it) instead of
    /// building a pool from `hosts`, `vms` and `templates`.
    pub state: Option<PathBuf>,
    /// Where disk content lives (a sparse file per VDI, named by its uuid; kept). Default:
    /// `STATE.disks` beside [`Config::state`], else a temporary directory removed at stop.
    pub disk_dir: Option<PathBuf>,
    /// Serve the metric fields xapi removed in XenServer 6.1 (`tampa`:
    /// `VM_metrics.VCPUs_utilisation`, `host_metrics.memory_free`, …) as older xapi did: live
    /// values and working getters. Off (the default), the xapi dialect answers their getters
    /// `MESSAGE_REMOVED` and records carry `VCPUs_utilisation` as zeros, as today's xapi does.
    /// The xend dialect always has them live.
    pub old_metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            vms: 4,
            templates: 0,
            hosts: 1,
            user: "root".to_owned(),
            password: "password".to_owned(),
            dialect: Dialect::Xapi,
            session_timeout: Duration::from_secs(24 * 3600),
            tls: false,
            cert_out: None,
            tls_identity: None,
            fault_delay: Duration::ZERO,
            drip_interval: Duration::from_secs(2),
            task_delay: Duration::from_millis(50),
            event_next_wait: Duration::from_secs(60),
            seed: None,
            jsonrpc: true,
            xmlrpc: true,
            state: None,
            disk_dir: None,
            old_metrics: false,
        }
    }
}

/// Counters, as `GET /sim/stats` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Live (not logged out, not expired) sessions.
    pub sessions: usize,
    /// XML-RPC calls answered (the side channel not included).
    pub calls: u64,
    pub logins: u64,
    pub logouts: u64,
    /// The most calls answered at once (their reply delay included) since the start or
    /// [`Running::reset_max_in_flight`].
    pub max_in_flight: u64,
}

/// The simulator's entry point.
pub struct Simulator;

impl Simulator {
    /// Builds the pool, binds the listeners and starts serving; returns once connections are
    /// accepted.
    pub fn start(config: Config) -> std::io::Result<Running> {
        let seed = config.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x5eed)
        });
        let mut st = state::State::new(config.dialect, seed);
        match (&config.disk_dir, &config.state) {
            (Some(dir), _) => st.disks = Arc::new(disks::Disks::at(dir.clone())),
            (None, Some(path)) => {
                st.disks = Arc::new(disks::Disks::at(disks::Disks::beside(path)));
            }
            (None, None) => {}
        }
        st.old_metrics = config.old_metrics;
        let hosts = match &config.state {
            Some(path) => {
                inventory::load(&mut st, path)?;
                st.table("host").map_or(1, |t| t.len())
            }
            None => {
                world::build(&mut st, config.hosts, config.vms, config.templates);
                config.hosts.max(1)
            }
        };
        let (sockets, same_port) = pool::bind(config.listen, hosts - 1)?;
        let addr = sockets[0].1;
        st.coordinator_addr = addr.to_string();
        let host_refs = pool::hosts_in_order(&st);
        let addrs: Vec<SocketAddr> = sockets.iter().map(|(_, a)| *a).collect();
        pool::set_addresses(&mut st, &host_refs, &addrs, same_port);
        let tls = if config.tls {
            let names: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            let t = match &config.tls_identity {
                Some((chain, key)) => tls::from_pem(chain, key)?,
                None => tls::make(&names)?,
            };
            if let Some(path) = &config.cert_out {
                std::fs::write(path, &t.pem)?;
            }
            Some(t)
        } else {
            None
        };
        st.events.clear();
        let shared = Arc::new(Shared::new(
            st,
            Settings {
                dialect: config.dialect,
                jsonrpc: config.jsonrpc,
                xmlrpc: config.xmlrpc,
                user: config.user.clone(),
                password: config.password.clone(),
                session_timeout: config.session_timeout,
                event_next_wait: config.event_next_wait,
                task_delay: config.task_delay,
                tls: config.tls,
            },
            faults::Faults::new(config.fault_delay.as_millis() as u64, config.drip_interval),
        ));
        let tls_cfg = tls.as_ref().map(|t| Arc::clone(&t.config));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut listeners = Vec::new();
        let mut accept = Vec::new();
        for ((socket, a), host) in sockets.into_iter().zip(host_refs) {
            let l = server::Listener::new(host, a);
            accept.push(server::spawn(
                socket,
                Arc::clone(&shared),
                Arc::clone(&l),
                tls_cfg.clone(),
            )?);
            listeners.push(l);
        }
        shared.set_listeners(listeners);
        let member_addrs = addrs[1..].to_vec();
        Ok(Running {
            addr,
            members: member_addrs,
            scheme,
            fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
            cert_pem: tls.map(|t| t.pem),
            shared,
            accept,
        })
    }
}

/// A running simulator. Dropping it stops it.
pub struct Running {
    addr: SocketAddr,
    members: Vec<SocketAddr>,
    scheme: &'static str,
    fingerprint: Option<String>,
    cert_pem: Option<String>,
    shared: Arc<Shared>,
    accept: Vec<JoinHandle<()>>,
}

impl Running {
    /// `http://ADDR:PORT/` (or `https://`).
    pub fn url(&self) -> String {
        format!("{}://{}/", self.scheme, self.addr)
    }

    /// The coordinator's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URLs of the pool members (hosts 2..N), which answer login with `HOST_IS_SLAVE`.
    pub fn member_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|a| format!("{}://{}/", self.scheme, a))
            .collect()
    }

    /// SHA-256 of the certificate, `AA:BB:…`, when serving HTTPS.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// The certificate in PEM, when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Writes the pool (every object but sessions and tasks) as a JSON inventory that
    /// [`Config::state`] loads, and the disks' content into `PATH.disks` beside it.
    pub fn save_state(&self, path: &std::path::Path) -> std::io::Result<()> {
        let st = self.shared.lock();
        st.disks.copy_all_to(&disks::Disks::beside(path))?;
        inventory::save(&st, path)
    }

    /// The pool as a JSON inventory document.
    pub fn state_json(&self) -> String {
        inventory::dump(&self.shared.lock())
    }

    /// Live sessions (expired ones are dropped first).
    pub fn session_count(&self) -> usize {
        session::live_count(&self.shared)
    }

    pub fn stats(&self) -> Stats {
        let sessions = session::live_count(&self.shared);
        let s = self.shared.lock().stats;
        Stats {
            sessions,
            calls: s.calls,
            logins: s.logins,
            logouts: s.logouts,
            max_in_flight: self.shared.max_in_flight(),
        }
    }

    /// Starts counting [`Stats::max_in_flight`] again from the calls in flight now.
    pub fn reset_max_in_flight(&self) {
        self.shared.reset_max_in_flight();
    }

    /// The URL of the pool coordinator now (after [`Running::failover`], the promoted member's).
    pub fn coordinator_url(&self) -> String {
        let addr = self.shared.lock().coordinator_addr.clone();
        format!("{}://{}/", self.scheme, addr)
    }

    /// HA's failover: stops the coordinator (its port closes and its connections drop, calls in
    /// flight included) and promotes host number `to` (1-based, in the order of
    /// [`Running::url`] then [`Running::member_urls`]; `None`: the first live member). Returns
    /// the new coordinator's URL. With a pool on `127.0.0.1`, each host listens on its own
    /// loopback address on the same port, and `host.address` is that address.
    pub fn failover(&self, to: Option<usize>) -> Result<String, String> {
        let addr = pool::failover(&self.shared, to)?;
        Ok(format!("{}://{}/", self.scheme, addr))
    }

    /// Arms `fault` for the next `count` XML-RPC replies (`u64::MAX`: until cleared); `None`
    /// clears.
    pub fn set_fault(&self, fault: Option<Fault>, count: u64) {
        self.shared.faults.set(fault, count);
    }

    /// Delays every XML-RPC reply by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.faults.set_delay_ms(delay.as_millis() as u64);
    }

    /// Invalidates every session (clients must log in again); returns how many there were.
    pub fn expire_sessions(&self) -> usize {
        session::expire_all(&self.shared)
    }

    /// Makes the next `event.from` with a token (one waiting now included), or `event.next`,
    /// answer `EVENTS_LOST`, as a server that dropped the history the token points into.
    pub fn lose_events(&self) {
        control::lose_events(&self.shared);
    }

    /// Refuses every `event.from` token issued so far (`EVENT_FROM_TOKEN_PARSE_FAILURE`), as a
    /// restarted xapi refuses the tokens of the one before.
    pub fn invalidate_event_tokens(&self) {
        control::invalidate_tokens(&self.shared);
    }

    /// Stops accepting, closes open connections and waits for the accept loops.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.accept.is_empty() {
            return;
        }
        self.shared.stop();
        let listeners = self.shared.listeners();
        for l in &listeners {
            if !l.stopped() {
                server::wake(l.addr);
            }
        }
        for h in self.accept.drain(..) {
            let _ = h.join();
        }
        for l in &listeners {
            l.close_all();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}
