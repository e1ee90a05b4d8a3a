//! Listeners: an accept loop per address and a thread per connection (plain TCP or TLS). A panic
//! in a connection thread ends that connection only.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
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
}

/// Starts the accept loop for `listener`; `member` marks a pool member (not the coordinator).
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    member: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    conns: Arc<Conns>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("xenapi-sim-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if shared.stopping() {
                    break;
                }
                let Ok(stream) = stream else {
                    // Out of descriptors and the like: back off, keep serving.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (shared, tls, conns) = (Arc::clone(&shared), tls.clone(), Arc::clone(&conns));
                let _ = std::thread::Builder::new()
                    .name("xenapi-sim-conn".into())
                    .spawn(move || {
                        let id = conns.add(&stream);
                        let run = std::panic::AssertUnwindSafe(|| match tls {
                            None => http::serve(&stream, &shared, member),
                            Some(cfg) => {
                                if let Ok(conn) = rustls::ServerConnection::new(cfg) {
                                    let tls_stream = rustls::StreamOwned::new(conn, &stream);
                                    http::serve(tls_stream, &shared, member);
                                }
                            }
                        });
                        let _ = std::panic::catch_unwind(run);
                        conns.remove(id);
                    });
            }
        })
}

/// Wakes an accept loop blocked in `accept` so it sees the stop flag.
pub(crate) fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(500));
}
