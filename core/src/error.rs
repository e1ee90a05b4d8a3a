//! The one error type of the client, and the XenAPI failure it carries.

use std::fmt;

/// Everything a XenAPI call can fail with.
///
/// Messages are for people and never contain a password or a session reference.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The server answered `Status: Failure` (or any status other than `Success`).
    Api(Failure),
    /// The host could not be reached, or the connection broke before a full reply.
    Connect { url: String, message: String },
    /// The TLS handshake failed: an untrusted or mismatching certificate, or no common protocol.
    Tls { url: String, message: String },
    /// The server answered with an HTTP error status instead of an XML-RPC reply.
    Http {
        url: String,
        status: u16,
        message: String,
    },
    /// The connect timeout or the whole-call deadline passed.
    Timeout { url: String, message: String },
    /// The reply was not a XenAPI reply: bad XML, no `Status`, a `<fault>`, a value of the wrong type,
    /// or a body over the size limit.
    Protocol(String),
    /// The caller passed something unusable (a bad URL, an option that makes no sense).
    InvalidArgument(String),
    /// The caller stopped the call: its [`crate::Cancel`] fired, or the binding's interrupt
    /// check ([`crate::call::with_interrupt_check`], Ctrl-C in Python) said so. The connection
    /// it used was dropped, never reused; the session stays usable. The server may or may not
    /// have carried the call out.
    Cancelled { url: String, message: String },
}

/// The kind of an [`Error`], for bindings that map it to a status code or an exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Api,
    Connect,
    Tls,
    Http,
    Timeout,
    Protocol,
    InvalidArgument,
    Cancelled,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api(_) => ErrorKind::Api,
            Error::Connect { .. } => ErrorKind::Connect,
            Error::Tls { .. } => ErrorKind::Tls,
            Error::Http { .. } => ErrorKind::Http,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// The XenAPI failure, if the server sent one.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Api(f) => Some(f),
            _ => None,
        }
    }

    /// The XenAPI error code (`VM_BAD_POWER_STATE`, ...), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.failure().map(Failure::code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(failure) => failure.fmt(f),
            Error::Connect { url, message } => write!(f, "cannot reach {url}: {message}"),
            Error::Tls { url, message } => write!(f, "TLS failure talking to {url}: {message}"),
            Error::Http {
                url,
                status,
                message,
            } => {
                write!(f, "{url} answered HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Error::Timeout { url, message } => write!(f, "timed out talking to {url}: {message}"),
            Error::Protocol(m) => write!(f, "not a valid XenAPI reply: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Cancelled { url, message } => write!(f, "call to {url} cancelled: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// A XenAPI failure: `ErrorDescription = [CODE, param, ...]`.
#[derive(Debug, Clone)]
pub struct Failure {
    description: Vec<String>,
    /// The description as sent, when an item was not a string (xend sends ints and others):
    /// bindings that hand the items over as they came (Python's `Failure.details`) keep types.
    items: Option<Vec<crate::Value>>,
}

/// Failures are equal when their descriptions are.
impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        self.description == other.description
    }
}

impl Eq for Failure {}

impl Failure {
    /// From the server's `ErrorDescription`. An empty description becomes `INTERNAL_ERROR`.
    pub fn new(description: Vec<String>) -> Self {
        if description.is_empty() {
            return Failure {
                description: vec![
                    codes::INTERNAL_ERROR.to_owned(),
                    "empty ErrorDescription".to_owned(),
                ],
                items: None,
            };
        }
        Failure {
            description,
            items: None,
        }
    }

    /// From the server's `ErrorDescription` items, whatever their types: the description is
    /// their text (an int as its digits), and [`Failure::items`] gives them back as sent.
    pub fn from_items(items: Vec<crate::Value>) -> Self {
        let all_strings = items.iter().all(|i| matches!(i, crate::Value::String(_)));
        let description: Vec<String> = items.iter().map(display_item).collect();
        let mut f = Failure::new(description);
        if !all_strings && !items.is_empty() {
            f.items = Some(items);
        }
        f
    }

    /// The `ErrorDescription` as the server sent it: strings, or (from xend) ints, booleans and
    /// the like with their types.
    pub fn items(&self) -> Vec<crate::Value> {
        match &self.items {
            Some(items) => items.clone(),
            None => self
                .description
                .iter()
                .cloned()
                .map(crate::Value::String)
                .collect(),
        }
    }

    /// A failure with this code and these parameters.
    pub fn with_code(code: &str, params: &[&str]) -> Self {
        let mut description = vec![code.to_owned()];
        description.extend(params.iter().map(|p| (*p).to_owned()));
        Failure {
            description,
            items: None,
        }
    }

    pub fn code(&self) -> &str {
        &self.description[0]
    }

    pub fn params(&self) -> &[String] {
        &self.description[1..]
    }

    /// The whole `ErrorDescription`: the code, then the parameters.
    pub fn description(&self) -> &[String] {
        &self.description
    }

    pub fn is(&self, code: &str) -> bool {
        self.code() == code
    }

    /// The parameter that `errors.json` calls `name` for this failure's code
    /// (`f.param("handle")` of a `HANDLE_INVALID`); `None` when the code is not listed, lists
    /// no such parameter, or the server sent fewer.
    pub fn param(&self, name: &str) -> Option<&str> {
        let names = crate::api::error_param_names(self.code())?;
        let i = names.iter().position(|n| *n == name)?;
        self.params().get(i).map(String::as_str)
    }
}

/// An `ErrorDescription` item as text.
fn display_item(v: &crate::Value) -> String {
    use crate::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => (if *b { "true" } else { "false" }).to_owned(),
        Value::Double(d) => d.to_string(),
        Value::DateTime(d) => d.to_string(),
        Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

/// The name `errors.json` gives the coordinator's address in `HOST_IS_SLAVE`.
pub(crate) const HOST_IS_SLAVE_MASTER: &str = "Master IP address";

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.params();
        // Parameters by their names in errors.json.
        let arg = |name: &str| self.param(name).unwrap_or("?");
        write!(f, "{}: ", self.code())?;
        match self.code() {
            codes::SESSION_AUTHENTICATION_FAILED => {
                write!(f, "the user name or password was not accepted")?;
                // errors.json lists no parameters; xapi sends the user name first.
                if let Some(user) = p.first().filter(|u| !u.is_empty()) {
                    write!(f, " (user {user})")?;
                }
                Ok(())
            }
            codes::SESSION_INVALID => {
                write!(f, "the session is no longer valid (expired or logged out)")
            }
            codes::HOST_IS_SLAVE => write!(
                f,
                "this host is a pool member, not the coordinator; connect to {}",
                arg(HOST_IS_SLAVE_MASTER)
            ),
            codes::HANDLE_INVALID => write!(
                f,
                "no {} object has the reference {}",
                arg("class"),
                arg("handle")
            ),
            codes::VM_BAD_POWER_STATE => write!(
                f,
                "VM {} is {}, but the operation needs it to be {}",
                arg("vm"),
                arg("actual"),
                arg("expected")
            ),
            codes::MESSAGE_METHOD_UNKNOWN => {
                write!(f, "the server has no method {}", arg("method"))
            }
            codes::MESSAGE_PARAMETER_COUNT_MISMATCH => write!(
                f,
                "{} takes {} parameters but was given {}",
                arg("method"),
                arg("expected"),
                arg("received")
            ),
            codes::INTERNAL_ERROR => write!(f, "the server failed internally: {}", p.join(", ")),
            _ => {
                if p.is_empty() {
                    write!(f, "the server refused the call")
                } else {
                    let names = crate::api::error_param_names(self.code()).unwrap_or(&[]);
                    let shown: Vec<String> = p
                        .iter()
                        .enumerate()
                        .map(|(i, v)| match names.get(i) {
                            Some(n) => format!("{n}={v}"),
                            None => v.clone(),
                        })
                        .collect();
                    write!(f, "{}", shown.join(", "))
                }
            }
        }
    }
}

/// Every error code of the datamodel's `errors.json`, generated (`xenapi::codes::HANDLE_INVALID`);
/// [`crate::api::ERROR_CODES`] lists them with their parameter names.
pub use crate::api::codes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_code_and_read_as_sentences() {
        let e = Error::Api(Failure::with_code(
            codes::VM_BAD_POWER_STATE,
            &["OpaqueRef:1", "halted", "running"],
        ));
        assert_eq!(
            e.to_string(),
            "VM_BAD_POWER_STATE: VM OpaqueRef:1 is running, but the operation needs it to be halted"
        );
        assert_eq!(e.code(), Some("VM_BAD_POWER_STATE"));
        let auth = Failure::with_code(codes::SESSION_AUTHENTICATION_FAILED, &["root", "x"]);
        assert!(auth.to_string().contains("user root"));
        assert_eq!(Failure::new(vec![]).code(), codes::INTERNAL_ERROR);
    }

    /// Every parameter the messages above name is one errors.json lists (a renamed parameter
    /// would print "?").
    #[test]
    fn messages_read_parameters_errors_json_lists() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                codes::HOST_IS_SLAVE,
                &["10.0.0.1"],
                "HOST_IS_SLAVE: this host is a pool member, not the coordinator; connect to \
                 10.0.0.1",
            ),
            (
                codes::HANDLE_INVALID,
                &["VM", "OpaqueRef:x"],
                "HANDLE_INVALID: no VM object has the reference OpaqueRef:x",
            ),
            (
                codes::MESSAGE_METHOD_UNKNOWN,
                &["VM.frob"],
                "MESSAGE_METHOD_UNKNOWN: the server has no method VM.frob",
            ),
            (
                codes::MESSAGE_PARAMETER_COUNT_MISMATCH,
                &["VM.start", "3", "2"],
                "MESSAGE_PARAMETER_COUNT_MISMATCH: VM.start takes 3 parameters but was given 2",
            ),
        ];
        for (code, params, text) in cases {
            assert_eq!(Failure::with_code(code, params).to_string(), *text);
        }
        let f = Failure::with_code(codes::HANDLE_INVALID, &["VM"]);
        assert_eq!(f.param("class"), Some("VM"));
        assert_eq!(f.param("handle"), None);
        assert_eq!(
            Failure::with_code("NOT_A_CODE_YET", &["x"]).param("x"),
            None
        );
    }
}
