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
mod resolver;
mod tls;

use std::io::{self, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use ureq::unversioned::transport::{Connector, TcpConnector};

use crate::codec::{self, CodecError, Limits, Response};
use crate::{Error, Options};

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
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.timeout))
            .max_idle_connections_per_host(16)
            .max_idle_connections(16)
            // A 3xx is reported (with its Location), not followed: following would turn the POST
            // into a GET or resend the login to wherever the server points.
            .max_redirects(0)
            // Management traffic goes straight to the host, never through an environment proxy.
            .proxy(None)
            .user_agent(concat!("xenapi-rs/", env!("CARGO_PKG_VERSION")))
            .build();
        let (agent, request_url) = match endpoint {
            Endpoint::Tcp => {
                let connector = ()
                    .chain(TcpConnector::default())
                    .chain(connector::TlsConnector::new(tls::client_config(&opts.tls)?));
                let agent = ureq::Agent::with_parts(
                    config,
                    connector,
                    resolver::CachingResolver::default(),
                );
                (agent, url.clone())
            }
            Endpoint::Unix(path) => {
                // The socket carries plain HTTP; the TLS policy stays in the options for a
                // coordinator redirect, which goes to https://.
                let connector = connector::UnixConnector::new(path);
                let agent = ureq::Agent::with_parts(config, connector, connector::NoLookup);
                (agent, "http://localhost/".to_owned())
            }
        };
        let json_url = crate::jsonrpc::jsonrpc_url(&request_url);
        Ok(Transport {
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
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Sends one `<methodCall>` and decodes the `<methodResponse>`.
    pub(crate) fn post(&self, body: Vec<u8>) -> crate::Result<Response> {
        self.post_with_deadline(body, None)
    }

    /// [`Transport::post`] with a deadline shorter than the agent's.
    pub(crate) fn post_with_deadline(
        &self,
        body: Vec<u8>,
        deadline: Option<Duration>,
    ) -> crate::Result<Response> {
        let d = deadline.unwrap_or(self.timeout);
        let reader = self.exchange(&self.request_url, "text/xml", body, deadline)?;
        codec::decode_response(reader, self.limits).map_err(|e| self.map_codec(e, d))
    }

    /// Sends one JSON-RPC request with id `id` to `/jsonrpc` and decodes the reply.
    pub(crate) fn post_json(
        &self,
        body: Vec<u8>,
        id: u64,
        deadline: Option<Duration>,
    ) -> crate::Result<crate::jsonrpc::Reply> {
        let d = deadline.unwrap_or(self.timeout);
        let reader = self.exchange(&self.json_url, "application/json", body, deadline)?;
        crate::jsonrpc::decode_response(reader, self.limits, id).map_err(|e| match e {
            CodecError::Malformed(m) => Error::Protocol(format!("malformed JSON-RPC: {m}")),
            other => self.map_codec(other, d),
        })
    }

    /// Posts `body` to `url` and returns the body of a 200 reply as it streams in.
    fn exchange(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
        deadline: Option<Duration>,
    ) -> crate::Result<BufReader<impl io::Read>> {
        let mut request = self.agent.post(url).header("Content-Type", content_type);
        if let Some(d) = deadline {
            request = request.config().timeout_global(Some(d)).build();
        }
        let deadline = deadline.unwrap_or(self.timeout);
        let response = request
            .send(&body[..])
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
        Ok(BufReader::with_capacity(64 * 1024, reader))
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
        if let Some(u) = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<connector::UnixConnectError>())
        {
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
            io::ErrorKind::ConnectionRefused => Error::Connect {
                url,
                message: "connection refused: nothing listens at that address and port".into(),
            },
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => Error::Connect {
                url,
                message: format!("the host is unreachable ({e})"),
            },
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
            ureq::Error::Timeout(T::Connect) => Error::Timeout {
                url,
                message: format!(
                    "could not connect within the connect timeout of {}",
                    seconds(self.connect_timeout.min(deadline))
                ),
            },
            ureq::Error::Timeout(T::Resolve) => Error::Timeout {
                url,
                message: "the host name lookup did not finish in time".into(),
            },
            ureq::Error::Timeout(_) => Error::Timeout {
                url,
                message: self.deadline_message(deadline),
            },
            ureq::Error::HostNotFound => Error::Connect {
                url,
                message: "host name not found".into(),
            },
            ureq::Error::ConnectionFailed => Error::Connect {
                url,
                message: "connection failed".into(),
            },
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
