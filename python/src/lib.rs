//! `xenapi_rs._native`: the PyO3 module under the `xenapi_rs` package.
//!
//! It exposes the core's [`xenapi::Session`] and [`xenapi::Client`] and a `Dispatcher` that turns
//! `session.xenapi.VM.start(...)` into `Session::call("VM.start", ...)`. All protocol work (codec,
//! transport, TLS, login, re-login on `SESSION_INVALID`, coordinator redirect, logout on drop) is
//! the core's; this crate converts arguments and results and releases the GIL while the core
//! works. The Pythonic surface (`Session`, `Failure`, `xapi_local`, `ServerProxy`) is in
//! `python/xenapi_rs/`.

/// Decoding a large reply makes millions of small allocations; mimalloc makes them and their
/// release markedly cheaper than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod aio;
mod cache;
mod convert;
mod errors;
mod interrupt;
mod rrd;
mod tracing;
mod transfer;

use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use pyo3::exceptions::{PyAttributeError, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rustc_hash::FxHashMap;
use xenapi::{Dialect, Options, TlsPolicy, Value};

/// The connection settings shared by `Session` and `Client`.
#[allow(clippy::too_many_arguments)]
fn make_options(
    url: &str,
    insecure: bool,
    ca_file: Option<PathBuf>,
    fingerprint: Option<&str>,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    follow_coordinator: bool,
    version: Option<String>,
    originator: Option<String>,
) -> PyResult<Options> {
    let chosen =
        usize::from(insecure) + usize::from(ca_file.is_some()) + usize::from(fingerprint.is_some());
    if chosen > 1 {
        return Err(PyValueError::new_err(
            "choose one TLS policy: insecure (verify=False / ignore_ssl=True), ca_file or fingerprint",
        ));
    }
    let tls = if let Some(fp) = fingerprint {
        TlsPolicy::fingerprint(fp).map_err(|e| PyValueError::new_err(e.to_string()))?
    } else if let Some(path) = ca_file {
        TlsPolicy::CaFile(path)
    } else if insecure {
        TlsPolicy::InsecureSkipVerify
    } else {
        TlsPolicy::Verify
    };
    let seconds = |name: &str, s: f64| -> PyResult<Duration> {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                PyValueError::new_err(format!("{name} must be a positive number of seconds"))
            })
    };
    let mut o = Options::new(url)
        .tls(tls)
        .follow_coordinator(follow_coordinator)
        .binding("xenapi-rs-python", env!("CARGO_PKG_VERSION"));
    if let Some(t) = timeout {
        o = o.timeout(seconds("timeout", t)?);
        if connect_timeout.is_none() {
            // A short call deadline also bounds the connection attempt.
            o = o.connect_timeout(seconds("timeout", t)?.min(Duration::from_secs(10)));
        }
    }
    if let Some(t) = connect_timeout {
        o = o.connect_timeout(seconds("connect_timeout", t)?);
    }
    if let Some(v) = version {
        o = o.version(v);
    }
    if let Some(v) = originator {
        o = o.originator(v);
    }
    Ok(o)
}

/// A XenAPI session (the core's `xenapi::Session`): thread-safe, logs out when dropped.
#[pyclass(frozen, module = "xenapi_rs._native", name = "Session")]
pub struct PySession {
    /// Taken out in `Drop`, to log out with the GIL released.
    inner: ManuallyDrop<xenapi::Session>,
    /// XenAPI.py's `API_version` cache: "1.1" before login and after logout, `None` (read it
    /// from the server when asked) after a login.
    api_version: Mutex<Option<String>>,
    /// `with session.timeout(s):` overrides, per thread; `any_timeouts` spares the lookup when
    /// there are none.
    timeouts: Mutex<FxHashMap<ThreadId, Duration>>,
    any_timeouts: AtomicBool,
}

impl PySession {
    /// The core session (the cache follows events over it).
    pub(crate) fn session(&self) -> &xenapi::Session {
        &self.inner
    }

    /// After a login: `API_version` is read from the server when next asked.
    pub(crate) fn forget_api_version(&self) {
        *lock(&self.api_version) = None;
    }

    /// The session as this thread's calls see it: with its `session.timeout(...)` deadline.
    pub(crate) fn view(&self) -> std::borrow::Cow<'_, xenapi::Session> {
        if self.any_timeouts.load(Ordering::Relaxed) {
            let id = std::thread::current().id();
            if let Some(d) = lock(&self.timeouts).get(&id) {
                return std::borrow::Cow::Owned(self.inner.with_timeout(*d));
            }
        }
        std::borrow::Cow::Borrowed(&self.inner)
    }

    /// `base` with the caller's trace context (OpenTelemetry's current span), if any.
    fn traced<'a>(
        py: Python<'_>,
        base: std::borrow::Cow<'a, xenapi::Session>,
    ) -> std::borrow::Cow<'a, xenapi::Session> {
        let Some(tp) = tracing::traceparent(py) else {
            return base;
        };
        match xenapi::CallOptions::new().traceparent(&tp) {
            Ok(o) => std::borrow::Cow::Owned(base.with_call_options(&o)),
            Err(_) => base,
        }
    }

    /// [`PySession::view`] with the caller's trace context: what this thread's calls go through.
    pub(crate) fn call_view(&self, py: Python<'_>) -> std::borrow::Cow<'_, xenapi::Session> {
        Self::traced(py, self.view())
    }

    fn call_value(&self, py: Python<'_>, method: &str, params: Vec<Value>) -> PyResult<Py<PyAny>> {
        let inner = self.call_view(py);
        let inner = &*inner;
        match interrupt::blocking(py, || inner.call(method, params))? {
            Ok(v) => convert::reply_to_python(py, v),
            Err(e) => Err(errors::to_pyerr(py, e, inner.is_logged_in())),
        }
    }
}

/// A `login_with_password` as the caller gave it.
pub(crate) enum Login {
    /// `(user, password[, version[, originator]])`: the session's own login.
    Strings(Vec<String>),
    /// Anything else goes to the server as it is, as XenAPI.py sends it: its answer (e.g.
    /// MESSAGE_PARAMETER_COUNT_MISMATCH) is the Failure the caller sees.
    AsGiven(Vec<Value>),
}

impl Login {
    pub(crate) fn from_args(params: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let text: Option<Vec<String>> = params.iter().map(|p| p.extract::<String>().ok()).collect();
        Ok(match text {
            Some(t) if (2..=4).contains(&t.len()) => Login::Strings(t),
            _ => Login::AsGiven(convert::args_to_values(params)?),
        })
    }

    pub(crate) fn run(&self, session: &xenapi::Session) -> xenapi::Result<()> {
        match self {
            Login::Strings(t) => session.login_with_password_as(
                &t[0],
                &t[1],
                t.get(2).map(String::as_str),
                t.get(3).map(String::as_str),
            ),
            Login::AsGiven(values) => session.login_with_password_args(values),
        }
    }

    /// The `logged_in` of [`errors::to_pyerr`] for this login's error.
    pub(crate) fn logged_in_if_refused(&self) -> bool {
        matches!(self, Login::Strings(_))
    }
}

/// A cancel request for `Session.wait_task` (the core's `xenapi::task::Cancel`): `cancel()`
/// from any thread ends the waits given it.
#[pyclass(frozen, module = "xenapi_rs._native", name = "Cancel")]
#[derive(Default)]
pub struct PyCancel {
    pub(crate) inner: xenapi::task::Cancel,
}

#[pymethods]
impl PyCancel {
    #[new]
    fn new() -> Self {
        PyCancel::default()
    }

    /// Ends the waits given this object: each notices within half a second, cancels and
    /// destroys its task, and raises `Failure` `TASK_CANCELLED`.
    fn cancel(&self) {
        self.inner.cancel();
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (url, *, insecure=false, ca_file=None, fingerprint=None, timeout=None,
                        connect_timeout=None, follow_coordinator=true, version=None, originator=None,
                        protocol="auto", max_response_bytes=None, failover=true,
                        max_concurrent_calls=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        insecure: bool,
        ca_file: Option<PathBuf>,
        fingerprint: Option<&str>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        follow_coordinator: bool,
        version: Option<String>,
        originator: Option<String>,
        protocol: &str,
        max_response_bytes: Option<u64>,
        failover: bool,
        max_concurrent_calls: Option<usize>,
    ) -> PyResult<Self> {
        let protocol = xenapi::Protocol::parse(protocol).ok_or_else(|| {
            PyValueError::new_err(format!(
                "protocol must be \"auto\", \"jsonrpc\" or \"xmlrpc\", not {protocol:?}"
            ))
        })?;
        let options = make_options(
            url,
            insecure,
            ca_file,
            fingerprint,
            timeout,
            connect_timeout,
            follow_coordinator,
            version,
            originator,
        )?
        .protocol(protocol);
        let options = match max_response_bytes {
            Some(0) => return Err(PyValueError::new_err("max_response_bytes must be positive")),
            Some(n) => options.max_response_bytes(n),
            None => options,
        };
        let options = match max_concurrent_calls {
            Some(0) => {
                return Err(PyValueError::new_err(
                    "max_concurrent_calls must be at least 1",
                ))
            }
            Some(n) => options.max_concurrent_calls(n),
            None => options,
        }
        .failover(failover);
        let inner = xenapi::Session::new(options).map_err(|e| errors::to_pyerr(py, e, true))?;
        Ok(PySession {
            inner: ManuallyDrop::new(inner),
            api_version: Mutex::new(Some("1.1".to_owned())),
            timeouts: Mutex::new(FxHashMap::default()),
            any_timeouts: AtomicBool::new(false),
        })
    }

    /// Sets this thread's call deadline (seconds; `None`: the session's own) and returns the
    /// previous one, for `with session.timeout(s):`.
    fn _set_call_timeout(&self, seconds: Option<f64>) -> PyResult<Option<f64>> {
        let d = match seconds {
            None => None,
            Some(s) => Some(
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        PyValueError::new_err("timeout must be a positive number of seconds")
                    })?,
            ),
        };
        let id = std::thread::current().id();
        let mut map = lock(&self.timeouts);
        let old = match d {
            Some(d) => map.insert(id, d),
            None => map.remove(&id),
        };
        self.any_timeouts.store(!map.is_empty(), Ordering::Relaxed);
        Ok(old.map(|d| d.as_secs_f64()))
    }

    /// The deadline of this thread's calls, in seconds.
    #[getter]
    fn call_timeout(&self) -> f64 {
        self.view().timeout().as_secs_f64()
    }

    /// The most calls in flight at once.
    #[getter]
    fn max_concurrent_calls(&self) -> usize {
        self.inner.max_concurrent_calls()
    }

    /// The pool's host addresses noted after the last login (for failover).
    #[getter]
    fn pool_addresses(&self) -> Vec<String> {
        self.inner.pool_addresses()
    }

    /// Waits for the task `task` (what `Async.*` returned), over `event.from` where the server
    /// has it (polling on xend), and returns what the synchronous call returns (`''` for a void
    /// message, a dict for a record, a str for a ref). Its failure raises `Failure`; the
    /// deadline or `cancel` cancels and destroys the task.
    #[pyo3(signature = (task, timeout, cancel=None))]
    fn wait_task(
        &self,
        py: Python<'_>,
        task: String,
        timeout: f64,
        cancel: Option<&PyCancel>,
    ) -> PyResult<Py<PyAny>> {
        let d = Duration::try_from_secs_f64(timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| PyValueError::new_err("timeout must be a positive number of seconds"))?;
        let cancel = cancel.map(|c| c.inner.clone()).unwrap_or_default();
        let inner = self.call_view(py);
        let inner = &*inner;
        let task = xenapi::Ref::new(task);
        match interrupt::blocking(py, || {
            xenapi::task::wait_cancellable(inner, &task, d, &cancel)
        })? {
            Ok(v) => convert::reply_to_python(py, v),
            Err(e) => Err(errors::to_pyerr(py, e, inner.is_logged_in())),
        }
    }

    /// `login_with_password(user, password[, version[, originator]])`, as in XenAPI.py.
    #[pyo3(signature = (*params))]
    fn login_with_password(&self, py: Python<'_>, params: &Bound<'_, PyTuple>) -> PyResult<()> {
        let login = Login::from_args(params)?;
        let inner = Self::traced(py, std::borrow::Cow::Borrowed(&*self.inner));
        let inner = &*inner;
        let result = interrupt::blocking(py, || login.run(inner))?;
        *lock(&self.api_version) = None;
        result.map_err(|e| errors::to_pyerr(py, e, login.logged_in_if_refused()))
    }

    /// `slave_local_login_with_password(user, password)`, as in XenAPI.py: a login to this pool
    /// member's own database (emergency mode), ended by `logout()` with `session.local_logout`.
    fn slave_local_login_with_password(
        &self,
        py: Python<'_>,
        user: String,
        password: String,
    ) -> PyResult<()> {
        let inner = Self::traced(py, std::borrow::Cow::Borrowed(&*self.inner));
        let inner = &*inner;
        let result = interrupt::blocking(py, || {
            inner.slave_local_login_with_password(&user, &password)
        })?;
        *lock(&self.api_version) = None;
        result.map_err(|e| errors::to_pyerr(py, e, true))
    }

    /// Logs out (harmless when not logged in).
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let inner = Self::traced(py, std::borrow::Cow::Borrowed(&*self.inner));
        let inner = &*inner;
        let result = interrupt::blocking(py, || inner.logout())?;
        *lock(&self.api_version) = Some("1.1".to_owned());
        result.map_err(|e| errors::to_pyerr(py, e, true))
    }

    /// Calls `method` with the session reference and `args`; returns the reply's `Value`.
    fn call(&self, py: Python<'_>, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let params = convert::args_to_values(args)?;
        self.call_value(py, method, params)
    }

    /// Calls `method` with `args` exactly as given (no session reference); returns the whole
    /// reply (the `{Status, Value | ErrorDescription}` dict).
    fn call_raw(
        &self,
        py: Python<'_>,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        let params = convert::args_to_values(args)?;
        let client = self.inner.client();
        match interrupt::blocking(py, || client.call_raw(method, &params))? {
            Ok(v) => convert::reply_to_python(py, v),
            Err(e) => Err(errors::to_pyerr(py, e, true)),
        }
    }

    /// The session reference, or `None` when not logged in.
    #[getter]
    fn handle(&self) -> Option<String> {
        self.inner.handle()
    }

    #[getter]
    fn is_logged_in(&self) -> bool {
        self.inner.is_logged_in()
    }

    /// The URL calls go to (the coordinator's, after a redirect).
    #[getter]
    fn url(&self) -> String {
        self.inner.url()
    }

    /// `"xapi"` or `"xend"`, as found at login.
    #[getter]
    fn dialect(&self) -> &'static str {
        match self.inner.dialect() {
            Dialect::Xend => "xend",
            _ => "xapi",
        }
    }

    /// `"jsonrpc"` or `"xmlrpc"` once logged in (`"auto"` before a login has found out).
    #[getter]
    fn protocol(&self) -> &'static str {
        self.inner.protocol().as_str()
    }

    #[getter]
    fn _api_version(&self) -> Option<String> {
        lock(&self.api_version).clone()
    }

    #[setter(_api_version)]
    fn set_api_version(&self, v: Option<String>) {
        *lock(&self.api_version) = v;
    }

    fn __repr__(&self) -> String {
        format!(
            "<xenapi_rs._native.Session {} {}>",
            self.inner.url(),
            if self.inner.is_logged_in() {
                "logged in"
            } else {
                "logged out"
            }
        )
    }
}

impl Drop for PySession {
    fn drop(&mut self) {
        // SAFETY: `inner` is not used again: this is the end of the object.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        // The core logs out when the last clone goes (bounded by a short deadline). Without the
        // GIL: the server may be Python code in this very process (a test double), and other
        // threads should not wait for the network.
        Python::attach(|py| py.detach(move || drop(inner)));
    }
}

/// A XenAPI endpoint without a session (the core's `xenapi::Client`): `ServerProxy`'s backend.
#[pyclass(frozen, module = "xenapi_rs._native", name = "Client")]
pub struct PyClient {
    inner: Arc<xenapi::Client>,
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (url, *, insecure=false, ca_file=None, fingerprint=None, timeout=None,
                        connect_timeout=None))]
    fn new(
        py: Python<'_>,
        url: &str,
        insecure: bool,
        ca_file: Option<PathBuf>,
        fingerprint: Option<&str>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let options = make_options(
            url,
            insecure,
            ca_file,
            fingerprint,
            timeout,
            connect_timeout,
            true,
            None,
            None,
        )?;
        let inner = xenapi::Client::new(options).map_err(|e| errors::to_pyerr(py, e, true))?;
        Ok(PyClient {
            inner: Arc::new(inner),
        })
    }

    /// Calls `method` with `args` as given; returns the whole reply.
    fn call_raw(
        &self,
        py: Python<'_>,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        let params = convert::args_to_values(args)?;
        let client = &self.inner;
        match interrupt::blocking(py, || client.call_raw(method, &params))? {
            Ok(v) => convert::reply_to_python(py, v),
            Err(e) => Err(errors::to_pyerr(py, e, true)),
        }
    }

    #[getter]
    fn url(&self) -> String {
        self.inner.url().to_owned()
    }
}

enum Target {
    /// `session.xenapi.*`: session reference first, envelope unwrapped, failures raised.
    Session(Py<PySession>),
    /// `session.<name>` and `ServerProxy`: arguments as given, the envelope returned.
    SessionRaw(Py<PySession>),
    Client(Py<PyClient>),
}

/// `session.xenapi` and everything below it: `.VM`, `.VM.start`, `.Async.VM.start`. Calling one
/// calls the method of that dotted name. Children are made once and cached.
#[pyclass(frozen, module = "xenapi_rs._native")]
pub struct Dispatcher {
    target: Target,
    name: Option<String>,
    children: Mutex<FxHashMap<String, Py<PyAny>>>,
}

impl Dispatcher {
    fn child(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let full = match &self.name {
            Some(parent) => format!("{parent}.{name}"),
            None => name.to_owned(),
        };
        if let Target::Session(s) = &self.target {
            // XenAPI.py's xenapi_request: login* and logout manage the session itself.
            if self.name.is_none() && name.starts_with("login") {
                if name == "login_with_password" {
                    return Ok(s.bind(py).getattr("login_with_password")?.unbind());
                }
                return Err(PyNotImplementedError::new_err(format!(
                    "xenapi_rs logs in with login_with_password only; {name} is not supported"
                )));
            }
            if full == "logout" || full == "session.logout" {
                return Ok(s.bind(py).getattr("logout")?.unbind());
            }
        }
        let target = match &self.target {
            Target::Session(s) => Target::Session(s.clone_ref(py)),
            Target::SessionRaw(s) => Target::SessionRaw(s.clone_ref(py)),
            Target::Client(c) => Target::Client(c.clone_ref(py)),
        };
        let d = Dispatcher {
            target,
            name: Some(full),
            children: Mutex::new(FxHashMap::default()),
        };
        Ok(Py::new(py, d)?.into_any())
    }
}

#[pymethods]
impl Dispatcher {
    /// A dispatcher for `session.xenapi` (`raw=False`) or for raw calls (`raw=True`).
    #[new]
    #[pyo3(signature = (target, raw=false))]
    fn new(target: &Bound<'_, PyAny>, raw: bool) -> PyResult<Self> {
        let target = if let Ok(s) = target.cast::<PySession>() {
            if raw {
                Target::SessionRaw(s.clone().unbind())
            } else {
                Target::Session(s.clone().unbind())
            }
        } else if let Ok(c) = target.cast::<PyClient>() {
            Target::Client(c.clone().unbind())
        } else {
            return Err(PyTypeError::new_err(
                "a Dispatcher needs a _native.Session or _native.Client",
            ));
        };
        Ok(Dispatcher {
            target,
            name: None,
            children: Mutex::new(FxHashMap::default()),
        })
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        if name.starts_with("__") && name.ends_with("__") {
            return Err(PyAttributeError::new_err(name.to_owned()));
        }
        if let Some(c) = lock(&self.children).get(name) {
            return Ok(c.clone_ref(py));
        }
        let c = self.child(py, name)?;
        lock(&self.children).insert(name.to_owned(), c.clone_ref(py));
        Ok(c)
    }

    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let Some(method) = self.name.as_deref() else {
            return Err(PyTypeError::new_err(
                "call a method, e.g. session.xenapi.VM.get_all()",
            ));
        };
        match &self.target {
            Target::Session(s) => {
                let params = convert::args_to_values(args)?;
                s.get().call_value(py, method, params)
            }
            Target::SessionRaw(s) => s.get().call_raw(py, method, args),
            Target::Client(c) => c.get().call_raw(py, method, args),
        }
    }

    /// The dotted method name (`None` at the root).
    #[getter]
    fn _name(&self) -> Option<String> {
        self.name.clone()
    }

    fn __repr__(&self) -> String {
        match &self.name {
            Some(n) => format!("<xenapi_rs._Dispatcher for {n}>"),
            None => "<xenapi_rs._Dispatcher>".to_owned(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySession>()?;
    m.add_class::<PyClient>()?;
    m.add_class::<Dispatcher>()?;
    m.add_class::<cache::PyCache>()?;
    m.add_class::<cache::PySnapshot>()?;
    m.add_class::<PyCancel>()?;
    rrd::register(m)?;
    aio::register(m)?;
    transfer::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
