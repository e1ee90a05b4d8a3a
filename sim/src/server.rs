//! Listeners: an accept loop per address and a thread per connection (plain TCP or TLS). A panic
//! in a connection thread ends that connection only.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http;
use crate::shared::Shared;

/// The open connections, so `stop` can close them.
#[derive(Default)]
pub(crate) struct Conns {
    next: AtomicU64,
    open: Mutex<HashMap<u64, TcpStream>>,
}

impl Conns {
    fn add(&self, s: &TcpStream) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = s.try_clone() {
            self.open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        id
    }

    fn remove(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    pub fn close_all(&self) {
        for (_, s) in self.open.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Closes every open connection but the calling thread's own (the one that asked for the
    /// stop: its reply still goes out, then it closes).
    fn close_others(&self) {
        let me = CURRENT.with(Cell::get);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let others: Vec<u64> = open.keys().copied().filter(|id| Some(*id) != me).collect();
        for id in others {
            if let Some(s) = open.remove(&id) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

thread_local! {
    /// The connection a connection thread serves.
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// One host's listener: the coordinator's or a pool member's. Which it is follows the pool's
/// `master` (a failover promotes a member), so it is looked up per request.
pub(crate) struct Listener {
    /// The host it answers for.
    pub host: String,
    pub addr: SocketAddr,
    stopped: AtomicBool,
    conns: Conns,
}

impl Listener {
    pub fn new(host: String, addr: SocketAddr) -> Arc<Self> {
        Arc::new(Listener {
            host,
            addr,
            stopped: AtomicBool::new(false),
            conns: Conns::default(),
        })
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stops this listener as a dead host would: the port closes and open connections drop,
    /// calls in flight included (but the caller's own connection, which closes after its reply).
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        wake(self.addr);
        self.conns.close_others();
    }

    pub fn close_all(&self) {
        self.conns.close_all();
    }
}

/// Starts the accept loop of `socket` for the host of `listener`.
pub(crate) fn spawn(
    socket: TcpListener,
    shared: Arc<Shared>,
    listener: Arc<Listener>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("xenapi-sim-accept".into())
        .spawn(move || {
            for stream in socket.incoming() {
                if shared.stopping() || listener.stopped() {
                    break;
                }
                let Ok(stream) = stream else {
                    // Out of descriptors and the like: back off, keep serving.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (shared, tls, l) = (Arc::clone(&shared), tls.clone(), Arc::clone(&listener));
                let _ = std::thread::Builder::new()
                    .name("xenapi-sim-conn".into())
                    .spawn(move || {
                        let id = l.conns.add(&stream);
                        CURRENT.with(|c| c.set(Some(id)));
                        let run = std::panic::AssertUnwindSafe(|| match tls {
                            None => http::serve(&stream, &shared, &l),
                            Some(cfg) => {
                                if let Ok(conn) = rustls::ServerConnection::new(cfg) {
                                    let tls_stream = rustls::StreamOwned::new(conn, &stream);
                                    http::serve(tls_stream, &shared, &l);
                                }
                            }
                        });
                        let _ = std::panic::catch_unwind(run);
                        l.conns.remove(id);
                    });
            }
        })
}

/// Wakes an accept loop blocked in `accept` so it sees the stop flag.
pub(crate) fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(500));
}
