//! A XenAPI endpoint without a session: encode a call, post it, unwrap the `Status` envelope.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::call::CallCtx;
use crate::codec::{self, Encoder, Response};
use crate::jsonrpc::{self, Reply};
use crate::transport::{Decoded, Transport, Wire};
use crate::{Error, Failure, Options, Protocol, Value};

/// A connection to one XenAPI server, below sessions: for `session.login_with_password` itself,
/// for methods that take no session, and for bindings that want the raw envelope (the talk's
/// `xmlrpclib` style).
pub struct Client {
    transport: Transport,
    options: Options,
    /// The protocol in use: [`Protocol::Auto`] until a login has found out (XML-RPC meanwhile).
    protocol: AtomicU8,
    /// The id of the next JSON-RPC request.
    next_id: AtomicU64,
}

fn protocol_code(p: Protocol) -> u8 {
    match p {
        Protocol::Auto => 0,
        Protocol::JsonRpc => 1,
        Protocol::XmlRpc => 2,
    }
}

impl Client {
    /// Checks the options (URL, CA file, pin) and prepares the connection pool. Connects lazily.
    pub fn new(options: Options) -> crate::Result<Self> {
        Ok(Client {
            transport: Transport::new(&options)?,
            protocol: AtomicU8::new(protocol_code(options.protocol)),
            options,
            next_id: AtomicU64::new(1),
        })
    }

    /// The protocol calls use: JSON-RPC or XML-RPC, or [`Protocol::Auto`] while no login has
    /// found out yet (calls then go over XML-RPC).
    pub fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Relaxed) {
            1 => Protocol::JsonRpc,
            2 => Protocol::XmlRpc,
            _ => Protocol::Auto,
        }
    }

    /// Settles `Auto` (the session does, at login).
    pub(crate) fn set_protocol(&self, p: Protocol) {
        self.protocol.store(protocol_code(p), Ordering::Relaxed);
    }

    pub fn url(&self) -> &str {
        self.transport.url()
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Calls `method` and unwraps the XenAPI envelope: the `Value` on success, [`Error::Api`]
    /// on any other `Status`.
    pub fn call(&self, method: &str, params: &[Value]) -> crate::Result<Value> {
        self.call_ctx(method, params, &CallCtx::within(self.options.timeout))
    }

    /// [`Client::call`] with its own deadline (`None`: the options').
    pub fn call_within(
        &self,
        method: &str,
        params: &[Value],
        deadline: Option<std::time::Duration>,
    ) -> crate::Result<Value> {
        let ctx = CallCtx::within(deadline.unwrap_or(self.options.timeout));
        self.call_ctx(method, params, &ctx)
    }

    /// Calls `method` with `params` exactly as given and returns the reply's value as is: for a
    /// XenAPI server, the `{Status, Value | ErrorDescription}` struct. A `<fault>` is an error.
    ///
    /// Over JSON-RPC the envelope is made up from the reply, so that it reads the same.
    pub fn call_raw(&self, method: &str, params: &[Value]) -> crate::Result<Value> {
        let ctx = CallCtx::within(self.options.timeout);
        Ok(match self.send(method, params, &ctx, self.json())? {
            Decoded::Xml(r) => xml_value(r)?,
            Decoded::Json(Reply::Result(v)) => Value::structure([
                ("Status", "Success".into()),
                ("Value", jsonrpc::normalise(method, v)),
            ]),
            Decoded::Json(Reply::Error(description)) => Value::structure([
                ("Status", "Failure".into()),
                ("ErrorDescription", Value::from(description)),
            ]),
        })
    }

    /// [`Client::call`] within `ctx`: its deadline, cancel and trace context.
    pub(crate) fn call_ctx(
        &self,
        method: &str,
        params: &[Value],
        ctx: &CallCtx<'_>,
    ) -> crate::Result<Value> {
        unwrap(method, self.send(method, params, ctx, self.json())?)
    }

    /// One JSON-RPC call whatever the protocol in use (the login's probe); the result
    /// normalised to what XML-RPC would have carried.
    pub(crate) fn call_json(
        &self,
        method: &str,
        params: &[Value],
        ctx: &CallCtx<'_>,
    ) -> crate::Result<Value> {
        unwrap(method, self.send(method, params, ctx, true)?)
    }

    /// GETs one of the HTTP handlers xapi serves beside the API (`/rrd_updates`, `/host_rrd`,
    /// …): `path` with `query` (names and values, percent-encoded here), the body of a 200 reply
    /// of at most [`Options::max_response_bytes`]. The caller adds `session_id`.
    pub fn http_get(&self, path: &str, query: &[(&str, &str)]) -> crate::Result<Vec<u8>> {
        let mut target = path.to_owned();
        for (i, (k, v)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&percent_encode(k));
            target.push('=');
            target.push_str(&percent_encode(v));
        }
        let ctx = CallCtx::within(self.options.timeout);
        self.transport
            .get(&target, self.options.max_response_bytes, &ctx)
    }

    fn json(&self) -> bool {
        self.protocol() == Protocol::JsonRpc
    }

    /// The one path of every call: checked, encoded, sent and decoded by the transport.
    fn send(
        &self,
        method: &str,
        params: &[Value],
        ctx: &CallCtx<'_>,
        json: bool,
    ) -> crate::Result<Decoded> {
        sendable(method, params)?;
        ctx.go_on(self.url())?;
        if json {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = jsonrpc::encode_call(method, params, id);
            self.transport.call(method, Wire::Json(id), &body, ctx)
        } else {
            let body = codec::encode_call(method, params, &Encoder::default());
            self.transport.call(method, Wire::Xml, &body, ctx)
        }
    }
}

/// A decoded reply to the call's result: the envelope unwrapped (XML-RPC), the result
/// normalised (JSON-RPC).
fn unwrap(method: &str, reply: Decoded) -> crate::Result<Value> {
    match reply {
        Decoded::Xml(r) => unwrap_envelope(xml_value(r)?),
        Decoded::Json(Reply::Result(v)) => Ok(jsonrpc::normalise(method, v)),
        Decoded::Json(Reply::Error(description)) => Err(Error::Api(Failure::new(description))),
    }
}

/// An XML-RPC reply's value; a `<fault>` is an error.
fn xml_value(r: Response) -> crate::Result<Value> {
    match r {
        Response::Value(v) => Ok(v),
        Response::Fault { code, message } => Err(Error::Protocol(format!(
            "the server answered with an XML-RPC fault {code}: {message}"
        ))),
    }
}

/// Refuses, before anything is sent, arguments XML cannot carry ([`codec::check_sendable`]).
fn sendable(method: &str, params: &[Value]) -> crate::Result<()> {
    codec::check_sendable(params).map_err(|m| Error::InvalidArgument(format!("{method}: {m}")))
}

/// `{Status: "Success", Value: v}` to `v`; any other status to the failure it describes.
pub fn unwrap_envelope(reply: Value) -> crate::Result<Value> {
    let Value::Struct(members) = reply else {
        return Err(Error::Protocol(format!(
            "expected the XenAPI status struct, got a {}",
            reply.type_name()
        )));
    };
    let mut status = None;
    let mut value = None;
    let mut description = None;
    for (name, v) in members {
        match name.as_str() {
            "Status" => status = Some(v),
            "Value" => value = Some(v),
            "ErrorDescription" => description = Some(v),
            _ => {}
        }
    }
    match status {
        Some(Value::String(s)) if s == "Success" => {
            // A void result may come as "" or (some xend versions) with no Value at all.
            Ok(value.unwrap_or(Value::String(String::new())))
        }
        Some(Value::String(_)) => {
            let failure = match description {
                Some(Value::Array(items)) => Failure::from_items(items),
                Some(other) => Failure::from_items(vec![other]),
                None => Failure::with_code(
                    crate::codes::INTERNAL_ERROR,
                    &["failure reply without ErrorDescription"],
                ),
            };
            Err(Error::Api(failure))
        }
        Some(other) => Err(Error::Protocol(format!(
            "Status is a {}, not a string",
            other.type_name()
        ))),
        None => Err(Error::Protocol("the reply has no Status member".into())),
    }
}

/// A query component as RFC 3986 wants it: unreserved bytes as they are, the rest `%XX`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        let ok = Value::structure([("Status", "Success".into()), ("Value", Value::Int(3))]);
        assert_eq!(unwrap_envelope(ok).unwrap(), Value::Int(3));
        let fail = Value::structure([
            ("Status", "Failure".into()),
            (
                "ErrorDescription",
                Value::from(vec!["HANDLE_INVALID", "VM", "OpaqueRef:x"]),
            ),
        ]);
        let e = unwrap_envelope(fail).unwrap_err();
        assert_eq!(e.code(), Some("HANDLE_INVALID"));
        // xend 3.1 answers unimplemented getters with Status "Error".
        let xend = Value::structure([
            ("Status", "Error".into()),
            ("ErrorDescription", Value::from(vec!["ETODO"])),
        ]);
        assert_eq!(unwrap_envelope(xend).unwrap_err().code(), Some("ETODO"));
        let nostatus = Value::structure([("Value", Value::Int(3))]);
        assert!(matches!(unwrap_envelope(nostatus), Err(Error::Protocol(_))));
    }

    #[test]
    fn failure_items_keep_their_types() {
        let items = vec![
            Value::from("VM_BAD_POWER_STATE"),
            Value::Int(12),
            Value::Bool(true),
            Value::Nil,
        ];
        let fail = Value::structure([
            ("Status", "Failure".into()),
            ("ErrorDescription", Value::Array(items.clone())),
        ]);
        let Err(Error::Api(f)) = unwrap_envelope(fail) else {
            panic!("a failure")
        };
        assert_eq!(f.description(), ["VM_BAD_POWER_STATE", "12", "true", ""]);
        assert_eq!(f.items(), items);
        // All strings: the items are the description.
        let f = Failure::from_items(vec![Value::from("HANDLE_INVALID"), Value::from("VM")]);
        assert_eq!(
            f.items(),
            vec![Value::from("HANDLE_INVALID"), Value::from("VM")]
        );
        assert_eq!(f, Failure::with_code("HANDLE_INVALID", &["VM"]));
    }
}
