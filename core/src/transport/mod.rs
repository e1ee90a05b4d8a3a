//! HTTP(S) transport: one ureq agent (keep-alive pool) per server, posting XML-RPC documents and
//! decoding the reply as it streams in.

mod tls;

use std::io::{self, BufReader};

use crate::codec::{self, CodecError, Limits, Response};
use crate::{Error, Options};

/// Posts XML-RPC calls to one URL.
pub(crate) struct Transport {
    agent: ureq::Agent,
    url: String,
    limits: Limits,
}

impl Transport {
    pub(crate) fn new(opts: &Options) -> crate::Result<Self> {
        let url = opts.url.clone();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok {
            return Err(Error::InvalidArgument(format!(
                "unsupported URL {url:?}: use http:// or https://"
            )));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.timeout))
            .max_idle_connections_per_host(16)
            .user_agent(concat!("xenapi-rs/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls::ureq_tls_config(&opts.tls)?)
            .build();
        let agent = tls::agent(config, &opts.tls)?;
        Ok(Transport {
            agent,
            url,
            limits: Limits {
                max_bytes: opts.max_response_bytes,
                ..Limits::default()
            },
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
        deadline: Option<std::time::Duration>,
    ) -> crate::Result<Response> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "text/xml");
        if let Some(d) = deadline {
            request = request.config().timeout_global(Some(d)).build();
        }
        let response = request.send(&body[..]).map_err(|e| self.map_ureq(e))?;
        let status = response.status().as_u16();
        if status != 200 {
            let reason = response
                .status()
                .canonical_reason()
                .unwrap_or("")
                .to_owned();
            return Err(Error::Http {
                url: self.url.clone(),
                status,
                message: reason,
            });
        }
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX) // the codec enforces the limit after decompression
            .reader();
        codec::decode_response(BufReader::with_capacity(64 * 1024, reader), self.limits)
            .map_err(|e| self.map_codec(e))
    }

    fn map_codec(&self, e: CodecError) -> Error {
        match e {
            CodecError::Io(io) => self.map_io(io),
            other => other.into_error(&self.url),
        }
    }

    fn map_io(&self, e: io::Error) -> Error {
        let inner = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<ureq::Error>())
            .map(|u| match u {
                ureq::Error::Timeout(_) => Some(true),
                _ => None,
            });
        if let Some(Some(true)) = inner {
            return Error::Timeout {
                url: self.url.clone(),
                message: "the reply did not arrive before the call's deadline".into(),
            };
        }
        match e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
            Some(_) => {
                let boxed = e.into_inner().expect("checked above");
                match boxed.downcast::<ureq::Error>() {
                    Ok(u) => self.map_ureq(*u),
                    Err(other) => Error::Connect {
                        url: self.url.clone(),
                        message: other.to_string(),
                    },
                }
            }
            None => CodecError::Io(e).into_error(&self.url),
        }
    }

    fn map_ureq(&self, e: ureq::Error) -> Error {
        let url = self.url.clone();
        match e {
            ureq::Error::Timeout(t) => Error::Timeout {
                url,
                message: format!("{t} timeout passed"),
            },
            ureq::Error::HostNotFound => Error::Connect {
                url,
                message: "host name not found".into(),
            },
            ureq::Error::ConnectionFailed => Error::Connect {
                url,
                message: "connection refused or unreachable".into(),
            },
            ureq::Error::Io(io) => match io.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout {
                    url,
                    message: io.to_string(),
                },
                _ => {
                    if let Some(tls) = tls::tls_error_in(&io) {
                        Error::Tls { url, message: tls }
                    } else {
                        Error::Connect {
                            url,
                            message: io.to_string(),
                        }
                    }
                }
            },
            ureq::Error::Tls(m) => Error::Tls {
                url,
                message: m.to_owned(),
            },
            ureq::Error::Rustls(r) => Error::Tls {
                url,
                message: tls::describe_rustls(&r),
            },
            ureq::Error::Pem(p) => Error::InvalidArgument(format!("bad PEM certificate: {p}")),
            ureq::Error::BadUri(u) => Error::InvalidArgument(format!("bad URL: {u}")),
            ureq::Error::StatusCode(status) => Error::Http {
                url,
                status,
                message: String::new(),
            },
            other => Error::Connect {
                url,
                message: other.to_string(),
            },
        }
    }
}
