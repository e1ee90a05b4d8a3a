//! Connection options: URL, timeouts, TLS policy, coordinator redirect, login details.

use std::time::Duration;

use xenapi::{Options, Protocol, TlsPolicy};

use crate::boundary::{fallible, handle_mut, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};

/// How to reach a server. Created with `xenapi_options_new`, changed with the
/// `xenapi_options_set_*` functions, read (copied) by `xenapi_session_new`, freed with
/// `xenapi_options_free`. Not safe to change from several threads at once.
///
/// Defaults: connect timeout 10 s, call timeout 300 s, TLS verified against the Mozilla roots,
/// coordinator redirect on, login version `1.0`, originator `xenapi-rs`.
pub struct xenapi_options {
    pub(crate) inner: Options,
}

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
            inner: Options::new(url),
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

/// Sets the deadline of a whole call, from connecting to the last byte of the reply, in
/// milliseconds (at least 1).
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
/// or the host's own self-signed certificate) instead of the Mozilla roots. The file is read when
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
/// so only for tests and labs. With `skip` false, goes back to verifying against the Mozilla roots
/// if verification was skipped (a CA file or pin set earlier stays).
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
