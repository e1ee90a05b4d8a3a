//! Connection options: URL, timeouts, TLS policy, coordinator redirect, login details.

use std::time::Duration;

use xenapi::{Options, Protocol, TlsPolicy};

use crate::boundary::{fallible, handle_mut, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};

/// How to reach a server. Created with `xenapi_options_new`, changed with the
/// `xenapi_options_set_*` functions, read (copied) by `xenapi_session_new`, freed with
/// `xenapi_options_free`. Not safe to change from several threads at once.
///
/// Defaults: connect timeout 10 s, call timeout 300 s, TLS verified against the system's trusted
/// certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set), coordinator redirect on, login
/// version `1.0`, originator `xenapi-rs`, User-Agent `libxenapi/{version} xenapi-rs/{version}`.
pub struct xenapi_options {
    pub(crate) inner: Options,
}

/// The product token of the User-Agent unless `xenapi_options_set_binding` says otherwise.
const BINDING: &str = "libxenapi";

impl xenapi_options {
    fn update(&mut self, f: impl FnOnce(Options) -> Options) {
        self.inner = f(self.inner.clone());
    }
}

/// Creates options for `url`: `http://host[:port]`, `https://host[:port]`, or
/// `unix:///path/to/socket` (xapi's `/var/lib/xcp/xapi`, xend's `/var/run/xend/xen-api.sock`); a
/// bare `host[:port]` means `https://`. The URL is checked when the session is created
/// (`XENAPI_STATUS_INVALID_ARGUMENT` there for a URL that cannot be used).
///
/// Ownership: `url` is borrowed (copied). On success `*out` receives a new options object that the
/// caller frees with `xenapi_options_free`; on failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_new(
    url: *const std::ffi::c_char,
    out_options: *mut *mut xenapi_options,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_options, "out_options")?;
        // SAFETY: NULL or a NUL-terminated string.
        let url = unsafe { text(url, "url") }?;
        let boxed = Box::new(xenapi_options {
            inner: Options::new(url).binding(BINDING, env!("CARGO_PKG_VERSION")),
        });
        // SAFETY: checked above.
        unsafe { put(out_options, Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Frees options. NULL is allowed. Sessions created from them keep their own copy.
///
/// Ownership: takes `options`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_free(options: *mut xenapi_options) {
    crate::boundary::infallible((), || {
        if !options.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

unsafe fn with_options(
    options: *mut xenapi_options,
    err: *mut *mut xenapi_error,
    f: impl FnOnce(&mut xenapi_options) -> Result<(), Fail>,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live options object.
        let o = unsafe { handle_mut(options, "options") }?;
        f(o)
    })
}

/// Sets how long to wait for the TCP (and TLS) connection, in milliseconds (at least 1).
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_connect_timeout_ms(
    options: *mut xenapi_options,
    milliseconds: u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            if milliseconds == 0 {
                return Err(Fail::invalid("the connect timeout must be at least 1 ms"));
            }
            o.update(|x| x.connect_timeout(Duration::from_millis(milliseconds)));
            Ok(())
        })
    }
}

/// Sets the deadline of a whole operation, in milliseconds (at least 1): from the moment a
/// function is called to the last byte of the last reply, the library's own calls inside it
/// included. Those are: for a login (`xenapi_session_connect`,
/// `xenapi_session_login_with_password`), the protocol probe, the login itself (again at the
/// pool coordinator after `HOST_IS_SLAVE`) and `host.get_all_records` noting the pool's members
/// for failover; for a call, a new login after `SESSION_INVALID` and a failover to a new
/// coordinator (`xenapi_options_set_failover`); for `xenapi_session_free`, the logout, which
/// waits at most the smaller of this timeout and 5 s. Default 300 s. A view of a session
/// (`xenapi_session_with_timeout`, `xenapi_session_with_call_options`) may have its own.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_timeout_ms(
    options: *mut xenapi_options,
    milliseconds: u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            if milliseconds == 0 {
                return Err(Fail::invalid("the call timeout must be at least 1 ms"));
            }
            o.update(|x| x.timeout(Duration::from_millis(milliseconds)));
            Ok(())
        })
    }
}

/// Verifies the server's certificate against the PEM certificates in the file `path` (a private CA,
/// or the host's own self-signed certificate) instead of the system's certificates. The file is read when
/// the session is created.
///
/// Ownership: `options` and `path` are borrowed (`path` is copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_ca_file(
    options: *mut xenapi_options,
    path: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let path = text(path, "path")?;
            o.update(|x| x.tls(TlsPolicy::CaFile(path.into())));
            Ok(())
        })
    }
}

/// Accepts exactly the certificate whose DER encoding has this SHA-256 digest, whatever its chain,
/// name or dates (xapi's self-signed certificate): 64 hex digits, with or without `:` separators,
/// optionally prefixed `sha256:`. A connection to a server with another certificate fails with
/// `XENAPI_STATUS_TLS`. Malformed text gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `options` and `fingerprint` are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_fingerprint(
    options: *mut xenapi_options,
    fingerprint: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let policy = TlsPolicy::fingerprint(text(fingerprint, "fingerprint")?)?;
            o.update(|x| x.tls(policy));
            Ok(())
        })
    }
}

/// With `skip` true, accepts any certificate: anyone on the path can read and change the traffic,
/// so only for tests and labs. With `skip` false, goes back to verifying against the system's
/// certificates if verification was skipped (a CA file or pin set earlier stays).
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_insecure_skip_verify(
    options: *mut xenapi_options,
    skip: bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            if skip {
                o.update(|x| x.tls(TlsPolicy::InsecureSkipVerify));
            } else if *o.inner.tls_policy() == TlsPolicy::InsecureSkipVerify {
                o.update(|x| x.tls(TlsPolicy::Verify));
            }
            Ok(())
        })
    }
}

/// Whether a login on a pool member that answers `HOST_IS_SLAVE` moves to the pool coordinator
/// (keeping the TLS policy). Default true.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_follow_coordinator(
    options: *mut xenapi_options,
    follow: bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            o.update(|x| x.follow_coordinator(follow));
            Ok(())
        })
    }
}

/// Pool failover, on by default. After each login the session notes the pool's host addresses;
/// when the coordinator stops answering (connection refused, connect timeout, reset) or names
/// another one, it probes them with short timeouts, follows `HOST_IS_SLAVE` to the new
/// coordinator, logs in there with the same credentials and goes on (the URL keeps its scheme
/// and port). A call that was in flight is sent again only if it was never sent or only reads
/// (`get_*`); otherwise it fails with `XENAPI_STATUS_CONNECT` and a message saying it may have
/// been carried out.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_failover(
    options: *mut xenapi_options,
    on: bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            o.update(|x| x.failover(on));
            Ok(())
        })
    }
}

/// The most calls a session has in flight at once (default 20, at least 1); more wait for a
/// slot within their deadline (`XENAPI_STATUS_TIMEOUT` when none comes free in time).
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_max_concurrent_calls(
    options: *mut xenapi_options,
    max_calls: usize,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            if max_calls == 0 {
                return Err(Fail::invalid("max_calls must be at least 1"));
            }
            o.update(|x| x.max_concurrent_calls(max_calls));
            Ok(())
        })
    }
}

/// A wire protocol (`xenapi_options_set_protocol`, `xenapi_session_get_protocol`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_protocol {
    /// JSON-RPC when the server offers it, found out once at login; XML-RPC otherwise (xend,
    /// older xapi). The default. From a session: no login has found out yet.
    Auto = 0,
    /// JSON-RPC 2.0 on `/jsonrpc` (xapi).
    Jsonrpc = 1,
    /// XML-RPC on `/` (xapi and xend).
    Xmlrpc = 2,
}

impl From<xenapi_protocol> for Protocol {
    fn from(p: xenapi_protocol) -> Self {
        match p {
            xenapi_protocol::Auto => Protocol::Auto,
            xenapi_protocol::Jsonrpc => Protocol::JsonRpc,
            xenapi_protocol::Xmlrpc => Protocol::XmlRpc,
        }
    }
}

impl From<Protocol> for xenapi_protocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Auto => xenapi_protocol::Auto,
            Protocol::JsonRpc => xenapi_protocol::Jsonrpc,
            Protocol::XmlRpc => xenapi_protocol::Xmlrpc,
        }
    }
}

/// The wire protocol: `XENAPI_PROTOCOL_AUTO` (default), `XENAPI_PROTOCOL_JSONRPC` or
/// `XENAPI_PROTOCOL_XMLRPC`. Results are the same values whichever carries them.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_protocol(
    options: *mut xenapi_options,
    protocol: xenapi_protocol,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            o.update(|x| x.protocol(protocol.into()));
            Ok(())
        })
    }
}

/// The most a reply may be, in bytes: counted both as bytes read (after decompression) and as
/// memory its decoded values take. Default 192 MiB, enough for `VM.get_all_records` of about
/// 12,000 VMs.
///
/// Ownership: `options` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_max_response_bytes(
    options: *mut xenapi_options,
    bytes: u64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            o.update(|x| x.max_response_bytes(bytes));
            Ok(())
        })
    }
}

/// The API version sent at login when the login itself gives none. Default `"1.0"`.
///
/// Ownership: `options` and `version` are borrowed (`version` is copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_version(
    options: *mut xenapi_options,
    version: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let v = text(version, "version")?;
            o.update(|x| x.version(v));
            Ok(())
        })
    }
}

/// The originator sent at login when the login itself gives none (xapi counts sessions per
/// originator). Default `"xenapi-rs"`.
///
/// Ownership: `options` and `originator` are borrowed (`originator` is copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_originator(
    options: *mut xenapi_options,
    originator: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let v = text(originator, "originator")?;
            o.update(|x| x.originator(v));
            Ok(())
        })
    }
}

/// Names the program (or binding) making the calls, for the `User-Agent` header every request
/// sends (xapi logs it): `"{name}/{version} xenapi-rs/{core version}"`. Characters other than
/// letters, digits and `!#$%&'*+-.^_`|~` become `_`. Default: `"libxenapi/{library version}"`
/// (the version `xenapi_version()` gives). A binding over this library (the .NET package) sets
/// its own name and version.
///
/// Ownership: `options`, `name` and `version` are borrowed (copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_binding(
    options: *mut xenapi_options,
    name: *const std::ffi::c_char,
    version: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let name = text(name, "name")?;
            let version = text(version, "version")?;
            if name.is_empty() || version.is_empty() {
                return Err(Fail::invalid(
                    "the binding's name and version must not be empty",
                ));
            }
            o.update(|x| x.binding(name, version));
            Ok(())
        })
    }
}

/// An HTTP proxy for the HTTP transfers beside the API (`xenapi_transfer_*`) and RRD fetches
/// from pool members: `http://proxy:3128`, or `http://user:password@proxy:3128` (sent as
/// `Proxy-Authorization: Basic`, never shown in errors). An `https://` target is reached through
/// a `CONNECT` tunnel (TLS end to end, checked as the options say). API calls themselves go
/// straight to the host. NULL or an empty string: no proxy (the default; the environment's
/// `http_proxy` is never read).
///
/// Ownership: `options` and `proxy_url` are borrowed (`proxy_url` is copied).
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_proxy(
    options: *mut xenapi_options,
    proxy_url: *const std::ffi::c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, |o| {
            let v = crate::boundary::opt_text(proxy_url, "proxy_url")?.unwrap_or("");
            o.update(|x| x.proxy(v));
            Ok(())
        })
    }
}

/// What the default certificate check found, as told to a `xenapi_certificate_callback`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_certificate_problem {
    /// The certificate chains to a Mozilla root and is valid for the name and date.
    None = 0,
    /// Not signed by a trusted root (xapi's self-signed certificate), or a broken chain.
    Untrusted = 1,
    /// Valid, but not for the name connected to.
    NameMismatch = 2,
    /// Outside its validity period.
    Expired = 3,
    /// Anything else (a malformed certificate, a bad extension).
    Other = 4,
}

/// A program's decision on a server's certificate: return true to accept it.
///
/// Called on the thread that opens a connection, once per new connection, during the TLS
/// handshake; calls wait for it. Arguments, all borrowed for the duration of the call:
/// `user_data` as given to `xenapi_options_set_certificate_callback`; the server's certificate,
/// DER-encoded (`der`, `der_len` bytes); the host name or address connected to (UTF-8,
/// NUL-terminated); what the default check found; and, unless `problem` is
/// `XENAPI_CERTIFICATE_PROBLEM_NONE` (then NULL), the explanation with the certificate's SHA-256
/// fingerprint (UTF-8, NUL-terminated). The handshake's signatures are checked against the
/// certificate whatever the callback says.
pub type xenapi_certificate_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut std::ffi::c_void,
        der: *const u8,
        der_len: usize,
        server_name: *const std::ffi::c_char,
        problem: xenapi_certificate_problem,
        explanation: *const std::ffi::c_char,
    ) -> bool,
>;

/// Called once with `user_data` when no session or options object uses the callback any more.
pub type xenapi_user_data_finalizer =
    Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void)>;

/// `user_data` and its finalizer, shared by every copy of the policy.
struct UserData {
    ptr: *mut std::ffi::c_void,
    finalizer: xenapi_user_data_finalizer,
}

// SAFETY: the caller promises (documented below) that `user_data` may be used from any thread.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(f) = self.finalizer {
            // SAFETY: the caller's finalizer, called once with its own pointer.
            unsafe { f(self.ptr) }
        }
    }
}

/// Lets `callback` decide on each server certificate after the default check (the Mozilla
/// roots, the name, the dates): the way to apply a program's own rule, and what the C# package
/// does with .NET's `ServerCertificateValidationCallback`. A callback that always returns true
/// is as unsafe as `xenapi_options_set_insecure_skip_verify`. A refused certificate fails the
/// call with `XENAPI_STATUS_TLS`, saying the callback refused it and why the default check
/// would have. Replaces a CA file, pin or skip set earlier; a later one replaces the callback.
/// A NULL `callback` is `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `options` is borrowed. `user_data` is the caller's: it must stay valid, and be
/// usable from any thread, until `finalizer` (if not NULL) is called with it, once, when neither
/// these options nor any session created from them holds the callback; with no finalizer, until
/// all of those are freed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_options_set_certificate_callback(
    options: *mut xenapi_options,
    callback: xenapi_certificate_callback,
    user_data: *mut std::ffi::c_void,
    finalizer: xenapi_user_data_finalizer,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // Owned before anything can fail, so that the finalizer runs even on an error.
    let data = std::sync::Arc::new(UserData {
        ptr: user_data,
        finalizer,
    });
    // SAFETY: forwarded caller contract.
    unsafe {
        with_options(options, err, move |o| {
            let Some(callback) = callback else {
                return Err(Fail::invalid("callback must not be NULL"));
            };
            let decide = decider(callback, data);
            o.update(|x| x.tls(TlsPolicy::Callback(decide)));
            Ok(())
        })
    }
}

/// The core's callback around the caller's C function.
fn decider(
    callback: unsafe extern "C" fn(
        *mut std::ffi::c_void,
        *const u8,
        usize,
        *const std::ffi::c_char,
        xenapi_certificate_problem,
        *const std::ffi::c_char,
    ) -> bool,
    data: std::sync::Arc<UserData>,
) -> xenapi::CertificateCallback {
    xenapi::CertificateCallback::new(move |check| {
        let (problem, why) = match &check.problem {
            None => (xenapi_certificate_problem::None, None),
            Some((p, why)) => (
                match p {
                    xenapi::CertificateProblem::Untrusted => xenapi_certificate_problem::Untrusted,
                    xenapi::CertificateProblem::NameMismatch => {
                        xenapi_certificate_problem::NameMismatch
                    }
                    xenapi::CertificateProblem::Expired => xenapi_certificate_problem::Expired,
                    xenapi::CertificateProblem::Other => xenapi_certificate_problem::Other,
                },
                Some(nul_free(why)),
            ),
        };
        let name = nul_free(&check.server_name);
        // SAFETY: the caller's callback, with pointers valid for the call.
        unsafe {
            callback(
                data.ptr,
                check.certificate.as_ptr(),
                check.certificate.len(),
                name.as_ptr(),
                problem,
                why.as_ref().map_or(std::ptr::null(), |w| w.as_ptr()),
            )
        }
    })
}

/// `text` as a C string (it holds no NUL: a host name or our own message; any NUL is dropped).
fn nul_free(text: &str) -> std::ffi::CString {
    std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default()
}
