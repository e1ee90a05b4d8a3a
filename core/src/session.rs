//! Sessions: log in, call with the session reference, log in again when the session expires,
//! follow the pool coordinator, and log out when dropped.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::codes;
use crate::{Error, Options, Protocol, Value};

/// Which XenAPI server family is on the other end; found out at login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// xapi (XenServer, XCP-ng): `OpaqueRef:` references, `VM.start(vm, start_paused, force)`.
    Xapi,
    /// xend (Xen 3.x): UUID references, `VM.start(vm, start_paused)`, two-argument login.
    Xend,
}

/// A logged-in XenAPI session. Cheap to clone (clones share the session) and safe to use from
/// many threads at once. The last clone to be dropped logs out.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    client: RwLock<Arc<Client>>,
    auth: Mutex<Auth>,
    dialect: AtomicU8,
}

#[derive(Default)]
struct Auth {
    handle: Option<String>,
    credentials: Option<Credentials>,
    /// Bumped at every login, so that threads which all saw `SESSION_INVALID` log in once.
    generation: u64,
    /// The session came from `slave_local_login_with_password`: it ends with `local_logout`.
    local: bool,
}

impl Auth {
    /// The logout message for the current handle.
    fn logout_method(&self) -> &'static str {
        if self.local {
            "session.local_logout"
        } else {
            "session.logout"
        }
    }
}

struct Credentials {
    user: String,
    password: Zeroizing<String>,
    version: Option<String>,
    originator: Option<String>,
}

/// How long the logout on drop may take: dropping must not hang on a dead server.
const DROP_LOGOUT_DEADLINE: Duration = Duration::from_secs(5);
/// Coordinator redirects followed at most, in case a pool misreports its coordinator.
const MAX_REDIRECTS: usize = 3;

impl Session {
    /// A session object for the server in `options`, not yet logged in. Checks the options (URL,
    /// CA file, pin) but does not connect.
    pub fn new(options: Options) -> crate::Result<Self> {
        Ok(Session {
            inner: Arc::new(Inner {
                client: RwLock::new(Arc::new(Client::new(options)?)),
                auth: Mutex::new(Auth::default()),
                dialect: AtomicU8::new(0),
            }),
        })
    }

    /// Connects and logs in: `Session::new` then `login_with_password`.
    pub fn connect(options: Options, user: &str, password: &str) -> crate::Result<Self> {
        let s = Session::new(options)?;
        s.login_with_password(user, password)?;
        Ok(s)
    }

    /// Logs in (again, if already logged in: the old session is logged out first), sending the
    /// version and originator of the [`Options`].
    ///
    /// Sends `(user, password, version, originator)`; a server that wants two parameters (xend)
    /// is asked again with two. On `HOST_IS_SLAVE` the login moves to the pool coordinator unless
    /// [`Options::follow_coordinator`] is off. The password is kept, zeroized on drop, only to log
    /// in again when the server expires the session.
    pub fn login_with_password(&self, user: &str, password: &str) -> crate::Result<()> {
        self.login_with_password_as(user, password, None, None)
    }

    /// [`Session::login_with_password`] with this login's own API version and originator
    /// (`None`: those of the [`Options`]), as `XenAPI.py` and libxenserver take them.
    pub fn login_with_password_as(
        &self,
        user: &str,
        password: &str,
        version: Option<&str>,
        originator: Option<&str>,
    ) -> crate::Result<()> {
        let credentials = Credentials {
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            version: version.map(str::to_owned),
            originator: originator.map(str::to_owned),
        };
        let mut auth = lock(&self.inner.auth);
        if let Some(old) = auth.handle.take() {
            let _ = self
                .client()
                .call(auth.logout_method(), &[Value::String(old)]);
        }
        let handle = self.login_at_coordinator(&credentials)?;
        auth.handle = Some(handle);
        auth.credentials = Some(credentials);
        auth.local = false;
        auth.generation += 1;
        Ok(())
    }

    /// `session.slave_local_login_with_password`: logs in to this host's own copy of the pool
    /// database, as xapi allows on a pool member whose coordinator is unreachable (emergency
    /// mode). Unlike [`Session::login_with_password`] it never moves to the coordinator and does
    /// not log in again when the session expires (the password is not kept). The session ends
    /// with `session.local_logout` ([`Session::local_logout`], [`Session::logout`], or drop).
    pub fn slave_local_login_with_password(&self, user: &str, password: &str) -> crate::Result<()> {
        let mut auth = lock(&self.inner.auth);
        if let Some(old) = auth.handle.take() {
            let _ = self
                .client()
                .call(auth.logout_method(), &[Value::String(old)]);
        }
        auth.credentials = None;
        let args = [
            Value::String(user.to_owned()),
            Value::String(password.to_owned()),
        ];
        let reply = self
            .client()
            .call("session.slave_local_login_with_password", &args)
            .map_err(|e| redact(e, password))?;
        auth.handle = Some(session_reference(reply)?);
        auth.local = true;
        auth.generation += 1;
        Ok(())
    }

    /// `session.login_with_password` with `args` exactly as given (any count, any types), as
    /// `XenAPI.py` sends whatever its caller passed: for bindings that must behave like it. The
    /// server's refusal (`MESSAGE_PARAMETER_COUNT_MISMATCH`, ...) is the error, with a string
    /// second argument (the password) masked in it. A session the server grants is kept, but
    /// with no credentials to log in again with when it expires.
    pub fn login_with_password_args(&self, args: &[Value]) -> crate::Result<()> {
        let mut auth = lock(&self.inner.auth);
        if let Some(old) = auth.handle.take() {
            let _ = self
                .client()
                .call(auth.logout_method(), &[Value::String(old)]);
        }
        auth.credentials = None;
        let secret = args.get(1).and_then(Value::as_str).unwrap_or("");
        let reply = self
            .client()
            .call("session.login_with_password", args)
            .map_err(|e| redact(e, secret))?;
        auth.handle = Some(session_reference(reply)?);
        auth.local = false;
        auth.generation += 1;
        Ok(())
    }

    /// `session.local_logout`: ends a session from [`Session::slave_local_login_with_password`]
    /// ([`Session::logout`] does the same for such a session). Logging out twice is harmless.
    pub fn local_logout(&self) -> crate::Result<()> {
        self.logout()
    }

    /// Calls `method` with the session reference first, then `args`; returns the `Value` of the
    /// reply. A `SESSION_INVALID` reply causes one new login with the remembered credentials and
    /// one retry.
    pub fn call(&self, method: &str, args: Vec<Value>) -> crate::Result<Value> {
        let (handle, generation) = self.current_handle()?;
        let mut params = Vec::with_capacity(args.len() + 1);
        params.push(Value::String(handle));
        params.extend(args);
        adapt_to_dialect(self.dialect(), method, &mut params);
        let client = self.client();
        match client.call(method, &params) {
            Err(e) if e.code() == Some(codes::SESSION_INVALID) => {
                if !self.relogin(generation)? {
                    return Err(e);
                }
                params[0] = Value::String(self.current_handle()?.0);
                self.client().call(method, &params)
            }
            other => other,
        }
    }

    /// Logs out. Further calls fail until the next login. Logging out twice is harmless.
    pub fn logout(&self) -> crate::Result<()> {
        let mut auth = lock(&self.inner.auth);
        auth.credentials = None;
        let Some(handle) = auth.handle.take() else {
            return Ok(());
        };
        match self
            .client()
            .call(auth.logout_method(), &[Value::String(handle)])
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(codes::SESSION_INVALID) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The session reference, if logged in (bindings expose it as `session.handle`). It grants
    /// access to the host: do not log it.
    pub fn handle(&self) -> Option<String> {
        lock(&self.inner.auth).handle.clone()
    }

    pub fn is_logged_in(&self) -> bool {
        lock(&self.inner.auth).handle.is_some()
    }

    /// The server family, as found at login (xapi until a login says otherwise).
    pub fn dialect(&self) -> Dialect {
        match self.inner.dialect.load(Ordering::Relaxed) {
            1 => Dialect::Xend,
            _ => Dialect::Xapi,
        }
    }

    /// The wire protocol calls go over: JSON-RPC or XML-RPC once logged in ([`Protocol::Auto`]
    /// before a login with `Auto` has found out).
    pub fn protocol(&self) -> Protocol {
        self.client().protocol()
    }

    /// The URL calls go to (the coordinator's, after a redirect).
    pub fn url(&self) -> String {
        self.client().url().to_owned()
    }

    /// The endpoint below the session, for calls that take no session reference.
    pub fn client(&self) -> Arc<Client> {
        self.inner
            .client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn current_handle(&self) -> crate::Result<(String, u64)> {
        let auth = lock(&self.inner.auth);
        match &auth.handle {
            Some(h) => Ok((h.clone(), auth.generation)),
            None => Err(Error::InvalidArgument(
                "not logged in: call login_with_password first".into(),
            )),
        }
    }

    /// Logs in again after `SESSION_INVALID`, unless another thread already did since
    /// `generation`. Returns whether a retry makes sense.
    fn relogin(&self, generation: u64) -> crate::Result<bool> {
        let mut auth = lock(&self.inner.auth);
        if auth.generation != generation {
            return Ok(auth.handle.is_some());
        }
        let Some(credentials) = auth.credentials.take() else {
            return Ok(false);
        };
        let result = self.login_at_coordinator(&credentials);
        auth.credentials = Some(credentials);
        let handle = result?;
        auth.handle = Some(handle);
        auth.generation += 1;
        Ok(true)
    }

    /// Logs in, following `HOST_IS_SLAVE` to the coordinator when allowed.
    fn login_at_coordinator(&self, credentials: &Credentials) -> crate::Result<String> {
        let mut client = self.client();
        for _ in 0..=MAX_REDIRECTS {
            match self.login_once(&client, credentials) {
                Err(Error::Api(f))
                    if f.is(codes::HOST_IS_SLAVE) && client.options().follow_coordinator =>
                {
                    let master = f
                        .param(crate::error::HOST_IS_SLAVE_MASTER)
                        .unwrap_or_default()
                        .to_owned();
                    let url = coordinator_url(client.url(), &master)?;
                    let options = client.options().clone();
                    // The coordinator runs the same xapi: keep the protocol found here.
                    let options = Options {
                        url,
                        protocol: client.protocol(),
                        ..options
                    };
                    client = Arc::new(Client::new(options)?);
                    *self.inner.client.write().unwrap_or_else(|p| p.into_inner()) = client.clone();
                }
                other => return other,
            }
        }
        Err(Error::Protocol(
            "the pool kept redirecting the login to another coordinator".into(),
        ))
    }

    fn login_once(&self, client: &Client, c: &Credentials) -> crate::Result<String> {
        self.login_once_unredacted(client, c)
            .map_err(|e| redact(e, c.password.as_str()))
    }

    fn login_once_unredacted(&self, client: &Client, c: &Credentials) -> crate::Result<String> {
        let opts = client.options();
        let four = [
            Value::String(c.user.clone()),
            Value::String(c.password.to_string()),
            Value::String(c.version.clone().unwrap_or_else(|| opts.version.clone())),
            Value::String(
                c.originator
                    .clone()
                    .unwrap_or_else(|| opts.originator.clone()),
            ),
        ];
        if client.protocol() == Protocol::Auto {
            // Found out once: a server without JSON-RPC (xend, an older xapi) answers a JSON-RPC
            // login with an HTTP error (404, 500) or a body that is not JSON; some answer the
            // 404 and close before reading the request body, which breaks the connection under
            // the client (EPIPE, ECONNRESET). XML-RPC is then tried, and reports any real
            // connection failure itself.
            match client.call_json("session.login_with_password", &four, None) {
                Err(Error::Http { .. }) | Err(Error::Protocol(_)) | Err(Error::Connect { .. }) => {
                    client.set_protocol(Protocol::XmlRpc)
                }
                // JSON-RPC is there; a login that wants two parameters goes on below.
                Err(e) if e.code() == Some(codes::MESSAGE_PARAMETER_COUNT_MISMATCH) => {
                    client.set_protocol(Protocol::JsonRpc)
                }
                Err(e @ Error::Api(_)) => {
                    client.set_protocol(Protocol::JsonRpc);
                    self.inner.dialect.store(0, Ordering::Relaxed);
                    return Err(e);
                }
                Err(e) => return Err(e),
                Ok(reply) => {
                    client.set_protocol(Protocol::JsonRpc);
                    self.inner.dialect.store(0, Ordering::Relaxed);
                    return session_reference(reply);
                }
            }
        }
        // A session that already found xend (a re-login, a redirect) asks with two at once.
        let known_xend = self.dialect() == Dialect::Xend;
        let first = if known_xend { &four[..2] } else { &four[..] };
        let reply = match client.call("session.login_with_password", first) {
            Err(e) if known_xend => return Err(e),
            Err(e) if e.code() == Some(codes::MESSAGE_PARAMETER_COUNT_MISMATCH) => {
                // xend (and libxenserver's fallback): login takes only user and password.
                let reply = client.call("session.login_with_password", &four[..2])?;
                self.inner.dialect.store(1, Ordering::Relaxed);
                reply
            }
            other => {
                let reply = other?;
                if !known_xend {
                    self.inner.dialect.store(0, Ordering::Relaxed);
                }
                reply
            }
        };
        session_reference(reply)
    }
}

/// The session reference a login returned.
fn session_reference(reply: Value) -> crate::Result<String> {
    match reply {
        Value::String(handle) if !handle.is_empty() => Ok(handle),
        other => Err(Error::Protocol(format!(
            "login returned a {} instead of a session reference",
            other.type_name()
        ))),
    }
}

/// `e` with every occurrence of `secret` masked: a server (or a proxy) that echoes the login
/// request in an error page or a failure must not put the password into a log.
fn redact(e: Error, secret: &str) -> Error {
    if secret.is_empty() {
        return e;
    }
    let r = |s: String| {
        if s.contains(secret) {
            mask(&s, secret)
        } else {
            s
        }
    };
    match e {
        Error::Api(f) => Error::Api(crate::Failure::new(
            f.description().iter().cloned().map(r).collect(),
        )),
        Error::Connect { url, message } => Error::Connect {
            url: r(url),
            message: r(message),
        },
        Error::Tls { url, message } => Error::Tls {
            url: r(url),
            message: r(message),
        },
        Error::Http {
            url,
            status,
            message,
        } => Error::Http {
            url: r(url),
            status,
            message: r(message),
        },
        Error::Timeout { url, message } => Error::Timeout {
            url: r(url),
            message: r(message),
        },
        Error::Protocol(m) => Error::Protocol(r(m)),
        Error::InvalidArgument(m) => Error::InvalidArgument(r(m)),
    }
}

/// Method names a login error may quote (`MESSAGE_PARAMETER_COUNT_MISMATCH` does): a password
/// that happens to be a word of one (`password`) is not masked inside it.
const LOGIN_NAMES: &[&str] = &[
    "session.slave_local_login_with_password",
    "session.login_with_password",
];

/// `s` with `secret` masked everywhere but inside the login method names.
fn mask(s: &str, secret: &str) -> String {
    for name in LOGIN_NAMES {
        if s.contains(name) {
            let parts: Vec<String> = s.split(name).map(|p| mask(p, secret)).collect();
            return parts.join(name);
        }
    }
    s.replace(secret, "********")
}

/// xend's `VM.start`/`VM.resume` take `(session, vm, start_paused)`; xapi's add `force`.
fn adapt_to_dialect(dialect: Dialect, method: &str, params: &mut Vec<Value>) {
    if dialect == Dialect::Xend {
        let m = method.strip_prefix("Async.").unwrap_or(method);
        if (m == "VM.start" || m == "VM.resume") && params.len() == 4 {
            params.pop();
        }
    }
}

/// The URL of the coordinator named by `HOST_IS_SLAVE`, keeping the scheme (and so the TLS
/// policy) and, when the address has none, the port of `current`.
fn coordinator_url(current: &str, master: &str) -> crate::Result<String> {
    let master = master.trim();
    if master.is_empty() {
        return Err(Error::Protocol(
            "HOST_IS_SLAVE without the coordinator's address".into(),
        ));
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("https", current));
    // From the local socket, the coordinator is another host: reach it over HTTPS on 443.
    let (scheme, rest) = if scheme == "unix" {
        ("https", "")
    } else {
        (scheme, rest)
    };
    let authority = rest.split('/').next().unwrap_or("");
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let colons = master.matches(':').count();
    let host = if colons == 1 {
        return Ok(format!("{scheme}://{master}/"));
    } else if colons > 1 && !master.starts_with('[') {
        format!("[{master}]")
    } else {
        master.to_owned()
    };
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}/"),
        None => format!("{scheme}://{host}/"),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Inner {
    fn drop(&mut self) {
        let auth = self.auth.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = auth.handle.take() {
            let client = self
                .client
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let _ = client.call_with_deadline(
                auth.logout_method(),
                &[Value::String(handle)],
                DROP_LOGOUT_DEADLINE,
            );
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = lock(&self.inner.auth);
        f.debug_struct("Session")
            .field("url", &self.client().url())
            .field("dialect", &self.dialect())
            .field("protocol", &self.protocol())
            .field("user", &auth.credentials.as_ref().map(|c| c.user.as_str()))
            .field("logged_in", &auth.handle.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_urls() {
        let u = |c, m| coordinator_url(c, m).unwrap();
        assert_eq!(u("https://10.0.0.2/", "10.0.0.1"), "https://10.0.0.1/");
        assert_eq!(
            u("https://10.0.0.2:8443/", "10.0.0.1"),
            "https://10.0.0.1:8443/"
        );
        assert_eq!(
            u("http://127.0.0.1:5000", "127.0.0.1:6000"),
            "http://127.0.0.1:6000/"
        );
        assert_eq!(u("https://h/", "fe80::1"), "https://[fe80::1]/");
        assert!(coordinator_url("https://h/", "").is_err());
        assert_eq!(
            u("unix:///var/lib/xcp/xapi", "10.0.0.1"),
            "https://10.0.0.1/"
        );
    }

    #[test]
    fn xend_start_drops_force() {
        let mut p = vec![
            Value::from("s"),
            Value::from("vm"),
            false.into(),
            false.into(),
        ];
        adapt_to_dialect(Dialect::Xapi, "VM.start", &mut p);
        assert_eq!(p.len(), 4);
        adapt_to_dialect(Dialect::Xend, "Async.VM.start", &mut p);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Session::new(Options::new("http://127.0.0.1:1")).unwrap();
        lock(&s.inner.auth).credentials = Some(Credentials {
            user: "root".into(),
            password: Zeroizing::new("hunter2".into()),
            version: None,
            originator: None,
        });
        lock(&s.inner.auth).handle = Some("OpaqueRef:secret".into());
        let shown = format!("{s:?}");
        assert!(shown.contains("root") && !shown.contains("hunter2") && !shown.contains("secret"));
        lock(&s.inner.auth).handle = None; // nothing to log out from on drop
    }
}
