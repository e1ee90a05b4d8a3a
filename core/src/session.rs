//! Sessions: log in, call with the session reference, log in again when the session expires,
//! follow the pool coordinator, and log out when dropped.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::call::{self, CallCtx, CallOptions};
use crate::client::Client;
use crate::error::codes;
use crate::task::Cancel;
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
///
/// At most [`Options::max_concurrent_calls`] calls (default 20) are in flight at once, over all
/// clones; more wait for a slot within their deadline. With [`Options::failover`] (default on)
/// the session follows the pool to a new coordinator when the one it talks to stops answering.
///
/// A timeout bounds the whole operation it was given to, the session's own calls inside it
/// included. The operations that make calls of their own:
/// - a login ([`Session::connect`], [`Session::login_with_password`]): with
///   [`crate::Protocol::Auto`] a JSON-RPC login first (then XML-RPC if the server has no
///   JSON-RPC, then a two-argument login for xend), a move to the coordinator on
///   `HOST_IS_SLAVE`, a logout of the session it replaces, and `host.get_all_records` to note the
///   pool's members for failover (at most 10 s of what is left);
/// - a call: one new login and a retry after `SESSION_INVALID`; with failover, probes of the pool's
///   members, a login at the new coordinator and a retry of a call that was not carried out;
/// - dropping the last clone: `session.logout`, within the options' timeout and at most 5 s.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    /// This view's deadline per call ([`Session::with_timeout`]); `None`: the options'.
    timeout: Option<Duration>,
    /// This view's cancel and trace context ([`Session::with_call_options`]).
    cancel: Option<Cancel>,
    traceparent: Option<Arc<str>>,
}

struct Inner {
    client: RwLock<Arc<Client>>,
    auth: Mutex<Auth>,
    dialect: AtomicU8,
    /// The pool's host addresses (`host.address`) as of the last login, for failover.
    members: Mutex<Vec<String>>,
    /// One failover at a time.
    failing_over: Mutex<()>,
    slots: Slots,
}

/// The cap on calls in flight: a counting semaphore whose waits have a deadline.
struct Slots {
    max: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

/// A call slot, given back when dropped.
struct Slot<'a>(&'a Slots);

impl Slots {
    /// A slot, or `None` when the deadline of `ctx` passed first; [`Error::Cancelled`] when it
    /// is stopped while waiting (it looks every [`call::TICK`]).
    fn acquire(&self, ctx: &CallCtx<'_>, url: &str) -> crate::Result<Option<Slot<'_>>> {
        let mut used = lock(&self.used);
        while *used >= self.max {
            ctx.check(url)?;
            let now = Instant::now();
            if now >= ctx.deadline {
                return Ok(None);
            }
            used = match self
                .freed
                .wait_timeout(used, (ctx.deadline - now).min(call::TICK))
            {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        *used += 1;
        Ok(Some(Slot(self)))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // Only a full set of slots has waiters; waking none costs a system call all the same.
        let was_full = {
            let mut used = lock(&self.0.used);
            let full = *used >= self.0.max;
            *used -= 1;
            full
        };
        if was_full {
            self.0.freed.notify_one();
        }
    }
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

#[derive(Clone)]
struct Credentials {
    user: String,
    password: Zeroizing<String>,
    version: Option<String>,
    originator: Option<String>,
}

/// How long the logout on drop may take at most (less when the options' timeout is shorter):
/// dropping must not hang on a dead server.
const DROP_LOGOUT_DEADLINE: Duration = Duration::from_secs(5);
/// Coordinator redirects followed at most, in case a pool misreports its coordinator.
const MAX_REDIRECTS: usize = 3;
/// How long a failover probe of one pool member may take to connect, and in all.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between two rounds of probes while no member answers as the coordinator (HA takes
/// a while to promote one).
const PROBE_ROUND_PAUSE: Duration = Duration::from_millis(250);
/// The deadline of the `host.get_all_records` after a login that notes the pool's addresses.
const MEMBERS_DEADLINE: Duration = Duration::from_secs(10);

impl Session {
    /// A session object for the server in `options`, not yet logged in. Checks the options (URL,
    /// CA file, pin) but does not connect.
    pub fn new(options: Options) -> crate::Result<Self> {
        let max = options.max_concurrent_calls.max(1);
        Ok(Session {
            inner: Arc::new(Inner {
                client: RwLock::new(Arc::new(Client::new(options)?)),
                auth: Mutex::new(Auth::default()),
                dialect: AtomicU8::new(0),
                members: Mutex::new(Vec::new()),
                failing_over: Mutex::new(()),
                slots: Slots {
                    max,
                    used: Mutex::new(0),
                    freed: Condvar::new(),
                },
            }),
            timeout: None,
            cancel: None,
            traceparent: None,
        })
    }

    /// A view of this session whose calls have the deadline `d` instead of
    /// [`Options::timeout`]; it shares everything else (login, connections, the call cap). For
    /// a synchronous call known to be long (`VM.migrate`, `VDI.copy`):
    /// `Vdi::copy(&session.with_timeout(Duration::from_secs(3600)), ...)`. Prefer the `Async.*`
    /// form and [`crate::task::wait`] for those: a task outlives a dropped connection and can
    /// be cancelled.
    pub fn with_timeout(&self, d: Duration) -> Session {
        Session {
            timeout: Some(d),
            ..self.clone()
        }
    }

    /// A view of this session whose calls follow `options` (deadline, cancel, trace context);
    /// what `options` leaves unset stays as in this view. Like [`Session::with_timeout`] it
    /// shares the login, the connections and the call cap.
    ///
    /// ```no_run
    /// # fn f(session: &xenapi::Session) -> xenapi::Result<()> {
    /// use xenapi::{CallOptions, Cancel};
    /// let cancel = Cancel::new();
    /// let view = session.with_call_options(&CallOptions::new().cancel(cancel.clone()));
    /// // another thread: cancel.cancel() ends the call below within 100 ms
    /// view.call("event.from", vec![vec!["vm"].into(), "".into(), 30.0.into()])?;
    /// # Ok(()) }
    /// ```
    pub fn with_call_options(&self, options: &CallOptions) -> Session {
        Session {
            inner: Arc::clone(&self.inner),
            timeout: options.timeout.or(self.timeout),
            cancel: options.cancel.clone().or_else(|| self.cancel.clone()),
            traceparent: options
                .traceparent
                .clone()
                .or_else(|| self.traceparent.clone()),
        }
    }

    /// The context of one operation of this view starting now.
    fn ctx(&self) -> CallCtx<'_> {
        let timeout = self.timeout();
        CallCtx {
            deadline: Instant::now() + timeout,
            timeout,
            cancel: self.cancel.as_ref(),
            traceparent: self.traceparent.as_deref(),
        }
    }

    /// The deadline of this view's calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or_else(|| self.client().options().timeout)
    }

    /// The most calls in flight at once ([`Options::max_concurrent_calls`]).
    pub fn max_concurrent_calls(&self) -> usize {
        self.inner.slots.max
    }

    /// The pool's host addresses as noted after the last login (empty on xend, on a local
    /// socket, with failover off, or before a login).
    pub fn pool_addresses(&self) -> Vec<String> {
        lock(&self.inner.members).clone()
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
    ///
    /// The view's timeout bounds the whole login: the protocol probe, the login itself, a move
    /// to the coordinator and the `host.get_all_records` that notes the pool's members for
    /// failover.
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
        let ctx = self.ctx();
        let mut auth = lock(&self.inner.auth);
        self.drop_old_handle(&mut auth, &ctx);
        let handle = self.login_at_coordinator(&ctx, &credentials)?;
        auth.handle = Some(handle);
        auth.credentials = Some(credentials);
        auth.local = false;
        auth.generation += 1;
        drop(auth);
        self.note_pool_addresses(&ctx);
        Ok(())
    }

    /// `session.slave_local_login_with_password`: logs in to this host's own copy of the pool
    /// database, as xapi allows on a pool member whose coordinator is unreachable (emergency
    /// mode). Unlike [`Session::login_with_password`] it never moves to the coordinator and does
    /// not log in again when the session expires (the password is not kept). The session ends
    /// with `session.local_logout` ([`Session::local_logout`], [`Session::logout`], or drop).
    pub fn slave_local_login_with_password(&self, user: &str, password: &str) -> crate::Result<()> {
        let ctx = self.ctx();
        let mut auth = lock(&self.inner.auth);
        self.drop_old_handle(&mut auth, &ctx);
        auth.credentials = None;
        let args = [
            Value::String(user.to_owned()),
            Value::String(password.to_owned()),
        ];
        let reply = self
            .client()
            .call_ctx("session.slave_local_login_with_password", &args, &ctx)
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
        let ctx = self.ctx();
        let mut auth = lock(&self.inner.auth);
        self.drop_old_handle(&mut auth, &ctx);
        auth.credentials = None;
        let secret = args.get(1).and_then(Value::as_str).unwrap_or("");
        let reply = self
            .client()
            .call_ctx("session.login_with_password", args, &ctx)
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
    /// one retry. The call waits for a slot under [`Options::max_concurrent_calls`] and has this
    /// view's deadline ([`Session::with_timeout`], else [`Options::timeout`]) from the start,
    /// the wait included. When the coordinator is gone, see [`Options::failover`].
    pub fn call(&self, method: &str, args: Vec<Value>) -> crate::Result<Value> {
        self.call_in(&self.ctx(), method, args)
    }

    /// Runs [`Session::call`] on one of the library's worker threads and hands its outcome to
    /// `done` there, so that the caller never blocks: for event loops (Python's asyncio, .NET
    /// tasks, a C callback). The deadline counts from now, the wait for a worker and for a call
    /// slot included; the view's cancel stops it as it stops a blocking call. `done` runs once,
    /// on a worker thread; it should hand the result over and return quickly. On Linux the
    /// workers run as `SCHED_BATCH`, so that their wake-ups never take the CPU from the thread
    /// they hand results to.
    pub fn call_async(
        &self,
        method: &str,
        args: Vec<Value>,
        done: impl FnOnce(crate::Result<Value>) + Send + 'static,
    ) {
        let view = self.clone();
        let method = method.to_owned();
        let timeout = self.timeout();
        let deadline = Instant::now() + timeout;
        call::spawn(Box::new(move || {
            let ctx = CallCtx {
                deadline,
                timeout,
                cancel: view.cancel.as_ref(),
                traceparent: view.traceparent.as_deref(),
            };
            let result = view.call_in(&ctx, &method, args);
            done(result)
        }));
    }

    /// [`Session::call`] within `ctx`.
    fn call_in(&self, ctx: &CallCtx<'_>, method: &str, args: Vec<Value>) -> crate::Result<Value> {
        let Some(_slot) = self.inner.slots.acquire(ctx, &self.url())? else {
            return Err(Error::Timeout {
                url: self.url(),
                message: format!(
                    "{method} waited its whole deadline of {:?} for one of the session's {} \
                     call slots (Options::max_concurrent_calls)",
                    ctx.timeout, self.inner.slots.max
                ),
            });
        };
        let (handle, generation) = self.current_handle()?;
        let mut params = Vec::with_capacity(args.len() + 1);
        params.push(Value::String(handle));
        params.extend(args);
        adapt_to_dialect(self.dialect(), method, &mut params);
        let client = self.client();
        let first = client.call_ctx(method, &params, ctx);
        let unsent = crate::transport::last_call_unsent();
        match first {
            Err(e) if e.code() == Some(codes::SESSION_INVALID) => {
                if !self.relogin(ctx, generation)? {
                    return Err(e);
                }
                params[0] = Value::String(self.current_handle()?.0);
                self.client().call_ctx(method, &params, ctx)
            }
            Err(e) if self.may_fail_over(&e) => {
                // A HOST_IS_SLAVE reply was not carried out; names the new coordinator.
                let (unsent, hint) = match e.failure() {
                    Some(f) => (
                        true,
                        f.param(crate::error::HOST_IS_SLAVE_MASTER)
                            .map(str::to_owned),
                    ),
                    None => (unsent, None),
                };
                match self.fail_over(ctx, &client, hint) {
                    Ok(true) if unsent || crate::transport::read_only(method) => {
                        params[0] = Value::String(self.current_handle()?.0);
                        self.client().call_ctx(method, &params, ctx)
                    }
                    Ok(true) => Err(carried_out_maybe(e, method, &self.url())),
                    Ok(false) | Err(_) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Logs out the handle `auth` holds, if any, before a new login (best effort).
    fn drop_old_handle(&self, auth: &mut Auth, ctx: &CallCtx<'_>) {
        if let Some(old) = auth.handle.take() {
            let _ = self
                .client()
                .call_ctx(auth.logout_method(), &[Value::String(old)], ctx);
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
            .call_ctx(auth.logout_method(), &[Value::String(handle)], &self.ctx())
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

    /// GETs an HTTP handler xapi serves beside the API (`/rrd_updates`, `/host_rrd`, `/vm_rrd`)
    /// with this session's reference as `session_id`, at the session's current server; see
    /// [`Client::http_get`]. The reference never appears in errors.
    pub fn http_get(&self, path: &str, query: &[(&str, &str)]) -> crate::Result<Vec<u8>> {
        let (handle, _) = self.current_handle()?;
        let mut q: Vec<(&str, &str)> = vec![("session_id", handle.as_str())];
        q.extend_from_slice(query);
        self.client().http_get(path, &q)
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
    fn relogin(&self, ctx: &CallCtx<'_>, generation: u64) -> crate::Result<bool> {
        let mut auth = lock(&self.inner.auth);
        if auth.generation != generation {
            return Ok(auth.handle.is_some());
        }
        let Some(credentials) = auth.credentials.take() else {
            return Ok(false);
        };
        let result = self.login_at_coordinator(ctx, &credentials);
        auth.credentials = Some(credentials);
        let handle = result?;
        auth.handle = Some(handle);
        auth.generation += 1;
        drop(auth);
        self.note_pool_addresses(ctx);
        Ok(true)
    }

    /// Whether `e`, from a call, says the coordinator is gone (and failover is on and can log
    /// in again): the connection was refused, timed out connecting, or broke; or the host now
    /// answers `HOST_IS_SLAVE` (another host was made the coordinator).
    fn may_fail_over(&self, e: &Error) -> bool {
        let client = self.client();
        if !client.options().failover || self.dialect() == Dialect::Xend {
            return false;
        }
        // Without other hosts to go to, a connection failure is only that.
        let pool = || lock(&self.inner.members).len() > 1;
        let gone = match e {
            Error::Connect { .. } => pool(),
            Error::Timeout { .. } => crate::transport::last_call_unsent() && pool(),
            Error::Api(f) => f.is(codes::HOST_IS_SLAVE),
            _ => false,
        };
        if !gone {
            return false;
        }
        let auth = lock(&self.inner.auth);
        auth.credentials.is_some() && !auth.local
    }

    /// Finds the pool's coordinator after `failed` stopped answering as one, and logs in there:
    /// the host `hint` names first (a `HOST_IS_SLAVE` parameter), else the current host (still
    /// the coordinator: nothing to do), then every pool member, following `HOST_IS_SLAVE`; in
    /// rounds until `deadline`. Returns whether the session moved (or another thread moved it).
    fn fail_over(
        &self,
        ctx: &CallCtx<'_>,
        failed: &Arc<Client>,
        hint: Option<String>,
    ) -> crate::Result<bool> {
        let deadline = ctx.deadline;
        let _one = lock(&self.inner.failing_over);
        if !Arc::ptr_eq(&self.client(), failed) {
            return Ok(true);
        }
        let (credentials, handle) = {
            let auth = lock(&self.inner.auth);
            match (&auth.credentials, &auth.handle) {
                (Some(c), Some(h)) if !auth.local => (c.clone(), h.clone()),
                _ => return Ok(false),
            }
        };
        let options = failed.options().clone();
        let protocol = failed.protocol();
        let current = failed.url().to_owned();
        let probe = |url: &str| {
            Client::new(Options {
                url: url.to_owned(),
                protocol,
                connect_timeout: options.connect_timeout.min(PROBE_CONNECT_TIMEOUT),
                timeout: options.timeout.min(PROBE_TIMEOUT),
                ..options.clone()
            })
        };
        let members: Vec<String> = lock(&self.inner.members)
            .iter()
            .filter_map(|a| coordinator_url(&current, a).ok())
            .collect();
        let mut first_round = true;
        loop {
            let mut queue: std::collections::VecDeque<String> = std::collections::VecDeque::new();
            if let Some(h) = &hint {
                queue.extend(coordinator_url(&current, h).ok());
            }
            if first_round && hint.is_none() {
                // Is the coordinator still there? A reset may have been only that.
                let c = probe(&current)?;
                match c.call_ctx(
                    "session.get_this_host",
                    &[Value::String(handle.clone()), Value::String(handle.clone())],
                    &ctx.at_most(PROBE_TIMEOUT),
                ) {
                    Ok(_) => return Ok(false),
                    Err(Error::Api(f)) if f.is(codes::HOST_IS_SLAVE) => {
                        let m = f.param(crate::error::HOST_IS_SLAVE_MASTER).unwrap_or("");
                        queue.extend(coordinator_url(&current, m).ok());
                    }
                    Err(Error::Api(_)) => queue.push_back(current.clone()),
                    Err(_) => {}
                }
            }
            for m in &members {
                if *m != current || !first_round {
                    queue.push_back(m.clone());
                }
            }
            first_round = false;
            let mut tried = Vec::new();
            while let Some(url) = queue.pop_front() {
                if Instant::now() >= deadline {
                    break;
                }
                if tried.contains(&url) {
                    continue;
                }
                tried.push(url.clone());
                let c = probe(&url)?;
                match self.login_once(&ctx.at_most(PROBE_TIMEOUT), &c, &credentials) {
                    Ok(new_handle) => {
                        let client = Arc::new(Client::new(Options {
                            url,
                            protocol,
                            ..options.clone()
                        })?);
                        *self.inner.client.write().unwrap_or_else(|p| p.into_inner()) = client;
                        {
                            let mut auth = lock(&self.inner.auth);
                            auth.handle = Some(new_handle);
                            auth.generation += 1;
                        }
                        self.note_pool_addresses(ctx);
                        return Ok(true);
                    }
                    Err(Error::Api(f)) if f.is(codes::HOST_IS_SLAVE) => {
                        let m = f.param(crate::error::HOST_IS_SLAVE_MASTER).unwrap_or("");
                        if let Ok(u) = coordinator_url(&current, m) {
                            queue.push_front(u);
                        }
                    }
                    // Wrong credentials there: no other host will take them either.
                    Err(e @ Error::Api(_)) => return Err(e),
                    Err(_) => {}
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    url: current,
                    message: "no pool member answered as the coordinator within the call's \
                              deadline"
                        .into(),
                });
            }
            call::sleep(ctx, PROBE_ROUND_PAUSE.min(deadline - now), &current)?;
        }
    }

    /// Notes the pool's host addresses (`host.address` of `host.get_all_records`) for failover.
    /// Only with failover on, on xapi, for a pool login over the network; a failure leaves the
    /// last list.
    fn note_pool_addresses(&self, ctx: &CallCtx<'_>) {
        let client = self.client();
        if !client.options().failover
            || self.dialect() == Dialect::Xend
            || client.url().starts_with("unix://")
        {
            return;
        }
        let handle = {
            let auth = lock(&self.inner.auth);
            match &auth.handle {
                Some(h) if !auth.local => h.clone(),
                _ => return,
            }
        };
        let Ok(Value::Struct(hosts)) = client.call_ctx(
            "host.get_all_records",
            &[Value::String(handle)],
            &ctx.at_most(MEMBERS_DEADLINE),
        ) else {
            return;
        };
        let addresses: Vec<String> = hosts
            .iter()
            .filter_map(|(_, rec)| {
                rec.as_struct()?
                    .iter()
                    .find(|(k, _)| k == "address")?
                    .1
                    .as_str()
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
            })
            .collect();
        *lock(&self.inner.members) = addresses;
    }

    /// Logs in, following `HOST_IS_SLAVE` to the coordinator when allowed.
    fn login_at_coordinator(
        &self,
        ctx: &CallCtx<'_>,
        credentials: &Credentials,
    ) -> crate::Result<String> {
        let mut client = self.client();
        for _ in 0..=MAX_REDIRECTS {
            match self.login_once(ctx, &client, credentials) {
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

    fn login_once(
        &self,
        ctx: &CallCtx<'_>,
        client: &Client,
        c: &Credentials,
    ) -> crate::Result<String> {
        self.login_once_unredacted(ctx, client, c)
            .map_err(|e| redact(e, c.password.as_str()))
    }

    fn login_once_unredacted(
        &self,
        ctx: &CallCtx<'_>,
        client: &Client,
        c: &Credentials,
    ) -> crate::Result<String> {
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
            match client.call_json("session.login_with_password", &four, ctx) {
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
        let reply = match client.call_ctx("session.login_with_password", first, ctx) {
            Err(e) if known_xend => return Err(e),
            Err(e) if e.code() == Some(codes::MESSAGE_PARAMETER_COUNT_MISMATCH) => {
                // xend (and libxenserver's fallback): login takes only user and password.
                let reply = client.call_ctx("session.login_with_password", &four[..2], ctx)?;
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

/// What is left of `deadline`, or the timeout error when nothing is.
/// The error of a call with side effects that was in flight when the coordinator died.
fn carried_out_maybe(e: Error, method: &str, now_at: &str) -> Error {
    let note = format!(
        "; the pool coordinator stopped answering during {method}, which may have been carried \
         out: it was not sent again (the session has moved to the new coordinator {now_at})"
    );
    match e {
        Error::Connect { url, message } => Error::Connect {
            url,
            message: message + &note,
        },
        Error::Timeout { url, message } => Error::Timeout {
            url,
            message: message + &note,
        },
        other => other,
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
        Error::Cancelled { url, message } => Error::Cancelled {
            url: r(url),
            message: r(message),
        },
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

/// The URL of the pool member at `master` (the coordinator named by `HOST_IS_SLAVE`, or a
/// `host.address`), keeping the scheme (and so the TLS policy) of `current` and, when the address
/// has no port, its port.
pub(crate) fn coordinator_url(current: &str, master: &str) -> crate::Result<String> {
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
            let ctx = CallCtx::within(client.options().timeout.min(DROP_LOGOUT_DEADLINE));
            let _ = client.call_ctx(auth.logout_method(), &[Value::String(handle)], &ctx);
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
