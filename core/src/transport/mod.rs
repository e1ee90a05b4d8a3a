//! HTTP(S) transport: one ureq agent (keep-alive pool) per server, posting XML-RPC documents and
//! decoding the reply as it streams in.
//!
//! The agent is built from parts (`Agent::with_parts`): ureq's TCP connector, then our own TLS
//! connector whose rustls configuration carries the verifier of the [`crate::TlsPolicy`] (ureq's
//! `TlsConfig` has no verifier hook, and a fingerprint pin needs one). A `unix://PATH` URL gets a
//! connector that dials the socket instead.
//!
//! Every call has one deadline ([`Options::timeout`], ureq's `timeout_global`) covering connect,
//! TLS handshake, sending and reading the whole body; the connect part alone is also bounded by
//! [`Options::connect_timeout`].

mod connector;
mod probe;
pub(crate) mod raw;
mod replay;
mod resolver;
mod tls;
#[cfg(unix)]
mod unix;

use std::cell::Cell;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{Connector, TcpConnector};

#[doc(hidden)]
pub use replay::replay_reply;

use crate::codec::{self, CodecError, Limits, Response};
use crate::{Error, Options};

thread_local! {
    /// The error being mapped on this thread came from connecting (refused, unreachable, the
    /// connect timeout, the name lookup): no byte of the request went out.
    static CONNECT_FAILED: Cell<bool> = const { Cell::new(false) };
    /// The last call on this thread failed without any attempt sending its request.
    static LAST_UNSENT: Cell<bool> = const { Cell::new(false) };
}

fn connect_failed() {
    CONNECT_FAILED.with(|c| c.set(true));
}

/// Whether the last call of this thread that failed did so before any attempt could send its
/// request (every attempt failed to connect), so that the server cannot have carried it out.
pub(crate) fn last_call_unsent() -> bool {
    LAST_UNSENT.with(Cell::get)
}

/// Posts XML-RPC calls to one URL.
pub(crate) struct Transport {
    agent: ureq::Agent,
    /// The URL as the user gave it (in messages).
    url: String,
    /// The URL requests go to (`http://localhost/` for a Unix socket).
    request_url: String,
    /// Where JSON-RPC requests go: `/jsonrpc` at the root of `request_url`.
    json_url: String,
    limits: Limits,
    connect_timeout: Duration,
    timeout: Duration,
}

/// Where a URL leads.
enum Endpoint {
    Tcp,
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(PathBuf),
}

fn endpoint(url: &str) -> crate::Result<Endpoint> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Endpoint::Tcp);
    }
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "unsupported URL {url:?}: a Unix socket URL names an absolute path, as in \
                 unix:///var/lib/xcp/xapi"
            )));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    Err(Error::InvalidArgument(format!(
        "unsupported URL {url:?}: use http://, https:// or unix:///path/to/socket"
    )))
}

impl Transport {
    pub(crate) fn new(opts: &Options) -> crate::Result<Self> {
        let url = opts.url.clone();
        let endpoint = endpoint(&url)?;
        if opts.timeout.is_zero() || opts.connect_timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "the connect timeout and the call deadline must be longer than zero".into(),
            ));
        }
        let config = Self::config(opts);
        let (agent, request_url) = match endpoint {
            Endpoint::Tcp => {
                let connector =
                    ().chain(TcpConnector::default())
                        .chain(connector::TlsConnector::new(tls::client_config(&opts.tls)?))
                        .chain(probe::ProbeConnector);
                let agent = ureq::Agent::with_parts(
                    config,
                    connector,
                    resolver::CachingResolver::default(),
                );
                (agent, url.clone())
            }
            #[cfg(unix)]
            Endpoint::Unix(path) => {
                // The socket carries plain HTTP; the TLS policy stays in the options for a
                // coordinator redirect, which goes to https://.
                let connector = unix::UnixConnector::new(path).chain(probe::ProbeConnector);
                let agent = ureq::Agent::with_parts(config, connector, connector::NoLookup);
                (agent, "http://localhost/".to_owned())
            }
            #[cfg(not(unix))]
            Endpoint::Unix(_) => {
                return Err(Error::InvalidArgument(format!(
                    "unsupported URL {url:?}: unix:// sockets exist only on Unix-like systems \
                     (xapi's and xend's local socket); on this platform use http:// or https://"
                )));
            }
        };
        Ok(Self::with_agent(opts, agent, request_url))
    }

    /// The agent's configuration: one deadline per call, a keep-alive pool, no redirects.
    fn config(opts: &Options) -> ureq::config::Config {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.timeout))
            // Room for one idle connection per thread of a 64-thread caller sharing a session,
            // so that a busy pool does not open (and the server accept) a connection per call.
            .max_idle_connections_per_host(POOL_SIZE)
            .max_idle_connections(POOL_SIZE)
            // A 3xx is reported (with its Location), not followed: following would turn the POST
            // into a GET or resend the login to wherever the server points.
            .max_redirects(0)
            // Management traffic goes straight to the host, never through an environment proxy.
            .proxy(None)
            .user_agent(opts.user_agent())
            .build()
    }

    fn with_agent(opts: &Options, agent: ureq::Agent, request_url: String) -> Self {
        let url = opts.url.clone();
        let json_url = crate::jsonrpc::jsonrpc_url(&request_url);
        Transport {
            agent,
            url,
            request_url,
            json_url,
            limits: Limits {
                max_bytes: opts.max_response_bytes,
                max_value_bytes: opts.max_response_bytes,
                ..Limits::default()
            },
            connect_timeout: opts.connect_timeout,
            timeout: opts.timeout,
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Sends one `<methodCall>` of `method` and decodes the `<methodResponse>`.
    pub(crate) fn post(&self, method: &str, body: Vec<u8>) -> crate::Result<Response> {
        self.post_with_deadline(method, body, None)
    }

    /// [`Transport::post`] with a deadline shorter than the agent's.
    pub(crate) fn post_with_deadline(
        &self,
        method: &str,
        body: Vec<u8>,
        deadline: Option<Duration>,
    ) -> crate::Result<Response> {
        self.with_retry(method, deadline, |d, fresh| {
            let reader = self.exchange(&self.request_url, "text/xml", &body, d, fresh)?;
            codec::decode_response(reader, self.limits).map_err(|e| self.map_codec(e, d))
        })
    }

    /// Sends one JSON-RPC request of `method` with id `id` to `/jsonrpc` and decodes the reply.
    pub(crate) fn post_json(
        &self,
        method: &str,
        body: Vec<u8>,
        id: u64,
        deadline: Option<Duration>,
    ) -> crate::Result<crate::jsonrpc::Reply> {
        self.with_retry(method, deadline, |d, fresh| {
            let reader = self.exchange(&self.json_url, "application/json", &body, d, fresh)?;
            crate::jsonrpc::decode_response(reader, self.limits, id).map_err(|e| match e {
                CodecError::Malformed(m) => Error::Protocol(format!("malformed JSON-RPC: {m}")),
                other => self.map_codec(other, d),
            })
        })
    }

    /// GETs `path_and_query` (`/rrd_updates?…`) from the server's root, beside the API, and
    /// returns the body of a 200 reply, at most `max_bytes` of it (after decompression).
    pub(crate) fn get(
        &self,
        path_and_query: &str,
        max_bytes: u64,
        deadline: Option<Duration>,
    ) -> crate::Result<Vec<u8>> {
        use std::io::Read;
        let d = deadline.unwrap_or(self.timeout);
        let root = self.request_url.trim_end_matches('/');
        let url = format!("{root}{path_and_query}");
        let mut request = self.agent.get(&url);
        if d != self.timeout {
            request = request.config().timeout_global(Some(d)).build();
        }
        let response = request
            .call()
            .map_err(|e| self.map_ureq(e, d, Stage::Exchange))?;
        let status = response.status().as_u16();
        if status != 200 {
            let path = path_and_query.split('?').next().unwrap_or("");
            let message = match status {
                401 | 403 => format!("{path}: the server refused the session (expired or invalid)"),
                404 => format!("{path}: the server has no such object or handler"),
                _ => format!(
                    "{path}: {}",
                    response
                        .status()
                        .canonical_reason()
                        .unwrap_or("unexpected status")
                ),
            };
            return Err(Error::Http {
                url: self.url.clone(),
                status,
                message,
            });
        }
        let mut body = Vec::new();
        response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader()
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|e| self.map_io(e, d, Stage::Exchange))?;
        if body.len() as u64 > max_bytes {
            return Err(Error::Protocol(format!(
                "the reply is larger than the limit of {max_bytes} bytes"
            )));
        }
        Ok(body)
    }

    /// Runs `attempt(deadline, fresh)` for one call of `method`, and once more, on a new
    /// connection and within what is left of the deadline, when the connection broke and
    /// repeating cannot do anything twice:
    /// - a pooled connection that ended before any byte of the reply: the server had closed it
    ///   between calls (an idle timeout, a restart) and never read the request; any call;
    /// - a connection that broke anywhere else, in the middle of the reply included: only for a
    ///   read-only call ([`read_only`]); a call with side effects reports the error, since the
    ///   server may have carried it out.
    ///
    /// A timeout, an HTTP status, a fault or a failure is never retried.
    fn with_retry<T>(
        &self,
        method: &str,
        deadline: Option<Duration>,
        mut attempt: impl FnMut(Duration, bool) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let total = deadline.unwrap_or(self.timeout);
        let start = Instant::now();
        probe::reset();
        CONNECT_FAILED.with(|c| c.set(false));
        LAST_UNSENT.with(|c| c.set(false));
        let e = match attempt(total, false) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let mut unsent = CONNECT_FAILED.with(|c| c.replace(false));
        LAST_UNSENT.with(|c| c.set(unsent));
        let seen = probe::take();
        let broke = seen.broke
            && matches!(
                e,
                Error::Connect { .. } | Error::Protocol(_) | Error::Tls { .. }
            );
        let unread = !seen.fresh && !seen.received;
        if !broke || !(unread || read_only(method)) {
            return Err(e);
        }
        let Some(left) = total.checked_sub(start.elapsed()).filter(|d| !d.is_zero()) else {
            return Err(e);
        };
        probe::reset();
        let again = attempt(left, true);
        probe::take();
        unsent &= CONNECT_FAILED.with(|c| c.replace(false));
        LAST_UNSENT.with(|c| c.set(unsent && again.is_err()));
        again
    }

    /// Posts `body` to `url` and returns the body of a 200 reply as it streams in; `fresh`
    /// takes a new connection rather than one from the pool.
    fn exchange(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
        deadline: Duration,
        fresh: bool,
    ) -> crate::Result<BufReader<impl io::Read>> {
        let mut request = self.agent.post(url).header("Content-Type", content_type);
        if deadline != self.timeout || fresh {
            let mut config = request.config().timeout_global(Some(deadline));
            if fresh {
                // Every pooled connection is older than zero: none is used.
                config = config.max_idle_age(Duration::ZERO);
            }
            request = config.build();
        }
        let response = request
            .send(body)
            .map_err(|e| self.map_ureq(e, deadline, Stage::Exchange))?;
        let status = response.status();
        if status.as_u16() != 200 {
            let mut message = status.canonical_reason().unwrap_or("").to_owned();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("?");
                message = format!(
                    "{message}; the server redirects to {location}: use that URL (redirects are \
                     not followed)"
                );
            }
            return Err(Error::Http {
                url: self.url.clone(),
                status: status.as_u16(),
                message,
            });
        }
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX) // the codec enforces the limit after decompression
            .reader();
        // Both decoders read through a window buffer of their own (codec/window.rs), in reads of
        // 4 KiB and more: a BufReader no larger than that passes them straight through instead of
        // copying every byte of the reply twice.
        Ok(BufReader::with_capacity(4 * 1024, reader))
    }

    fn map_codec(&self, e: CodecError, deadline: Duration) -> Error {
        match e {
            CodecError::Io(io) => self.map_io(io, deadline, Stage::Body),
            other => other.into_error(&self.url),
        }
    }

    /// An I/O error, which may carry a ureq error (a timeout, a TLS alert) inside.
    fn map_io(&self, e: io::Error, deadline: Duration, stage: Stage) -> Error {
        if e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
            let inner = e.into_inner().expect("checked above");
            let ureq = inner.downcast::<ureq::Error>().expect("checked above");
            return self.map_ureq(*ureq, deadline, stage);
        }
        let url = self.url.clone();
        if let Some(message) = tls::tls_error_in(&e) {
            return Error::Tls { url, message };
        }
        #[cfg(unix)]
        if let Some(u) = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<unix::UnixConnectError>())
        {
            connect_failed();
            return Error::Connect {
                url,
                message: u.to_string(),
            };
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout {
                url,
                message: self.deadline_message(deadline),
            },
            io::ErrorKind::ConnectionRefused => {
                connect_failed();
                Error::Connect {
                    url,
                    message: "connection refused: nothing listens at that address and port".into(),
                }
            }
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                connect_failed();
                Error::Connect {
                    url,
                    message: format!("the host is unreachable ({e})"),
                }
            }
            _ => Error::Connect {
                url,
                message: match stage {
                    Stage::Exchange => {
                        format!("the connection broke before the reply arrived ({e})")
                    }
                    Stage::Body => {
                        format!("the connection broke while reading the reply ({e})")
                    }
                },
            },
        }
    }

    fn deadline_message(&self, deadline: Duration) -> String {
        format!(
            "the call did not complete within its deadline of {}",
            seconds(deadline)
        )
    }

    fn map_ureq(&self, e: ureq::Error, deadline: Duration, stage: Stage) -> Error {
        use ureq::Timeout as T;
        let url = self.url.clone();
        match e {
            ureq::Error::Timeout(T::Connect) => {
                connect_failed();
                Error::Timeout {
                    url,
                    message: format!(
                        "could not connect within the connect timeout of {}",
                        seconds(self.connect_timeout.min(deadline))
                    ),
                }
            }
            ureq::Error::Timeout(T::Resolve) => {
                connect_failed();
                Error::Timeout {
                    url,
                    message: "the host name lookup did not finish in time".into(),
                }
            }
            ureq::Error::Timeout(_) => Error::Timeout {
                url,
                message: self.deadline_message(deadline),
            },
            ureq::Error::HostNotFound => {
                connect_failed();
                Error::Connect {
                    url,
                    message: "host name not found".into(),
                }
            }
            ureq::Error::ConnectionFailed => {
                connect_failed();
                Error::Connect {
                    url,
                    message: "connection failed".into(),
                }
            }
            ureq::Error::Io(io) => self.map_io(io, deadline, stage),
            ureq::Error::Tls(m) => Error::Tls {
                url,
                message: m.to_owned(),
            },
            ureq::Error::Rustls(r) => Error::Tls {
                url,
                message: tls::describe_rustls(&r),
            },
            ureq::Error::BadUri(u) => Error::InvalidArgument(format!("bad URL {url:?}: {u}")),
            ureq::Error::StatusCode(status) => Error::Http {
                url,
                status,
                message: String::new(),
            },
            ureq::Error::Protocol(p) => Error::Protocol(format!(
                "the server at {url} did not answer in HTTP/1.1 ({p})"
            )),
            ureq::Error::LargeResponseHeader(..) => Error::Protocol(format!(
                "the server at {url} sent HTTP headers larger than accepted"
            )),
            ureq::Error::Decompress(what, io) => match io.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                    Error::Protocol(format!("the {what} reply body is corrupt: {io}"))
                }
                // The connection below the decoder broke or timed out.
                _ => self.map_io(io, deadline, stage),
            },
            ureq::Error::BodyExceedsLimit(n) => {
                Error::Protocol(format!("the reply is larger than the limit of {n} bytes"))
            }
            other => Error::Connect {
                url,
                message: other.to_string(),
            },
        }
    }
}

/// Idle connections kept for reuse, per host and in all.
const POOL_SIZE: usize = 64;

/// Whether `method` only reads: a getter (`VM.get_power_state`, `VM.get_all_records`,
/// `session.get_this_host`: the name after the class's dot starts with `get_`), which may be
/// sent again when its reply was lost. An `Async.` call creates a task, so it does not qualify.
pub(crate) fn read_only(method: &str) -> bool {
    !method.starts_with("Async.")
        && method
            .split_once('.')
            .is_some_and(|(_, name)| name.starts_with("get_"))
}

/// Where in a call an error happened.
#[derive(Clone, Copy)]
enum Stage {
    /// Connecting, sending, or waiting for the reply's headers.
    Exchange,
    /// Reading the reply's body.
    Body,
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}
