//! # xenapi
//!
//! A blocking client for the Xen Management API (XenAPI): XML-RPC over HTTP(S) to xapi (XenServer,
//! XCP-ng) or to xend (Xen 3.x).
//!
//! ```no_run
//! use xenapi::{Options, Session};
//!
//! let session = Session::connect(Options::new("http://127.0.0.1:9363"), "root", "password")?;
//! for method in session.call("host.list_methods", vec![])?.as_array().unwrap_or(&[]) {
//!     println!("{}", method.as_str().unwrap_or("?"));
//! }
//! session.logout()?;
//! # Ok::<(), xenapi::Error>(())
//! ```
//!
//! Layers, bottom up: [`codec`] (XML-RPC) and [`jsonrpc`] (JSON-RPC), the HTTP(S) transport, [`Client`] (envelope, no
//! session), [`Session`] (login, re-login, coordinator, logout), and [`api`] (typed classes
//! generated from the datamodel).
//!
//! Typed maps (record fields such as `other_config`, `get_all_records` results) are
//! [`IndexMap`]s in the order the server sent them, the same from call to call: see [`convert`].

pub mod api;
pub mod cache;
pub mod call;
pub mod certificate;
mod client;
pub mod codec;
pub mod convert;
mod datetime;
mod error;
pub mod event;
pub mod jsonrpc;
mod options;
mod reference;
pub mod rrd;
mod session;
pub mod task;
pub mod transfer;
mod transport;
mod value;
pub mod vhd;

pub use call::CallOptions;
pub use certificate::{CertificateCallback, CertificateCheck, CertificateProblem};
pub use client::{unwrap_envelope, Client};
pub use convert::{FromValue, MapArg, MapKey, ToValue};
pub use datetime::{DateTime, DateTimeParts};
pub use error::{codes, Error, ErrorKind, Failure};
/// The map of the typed API: the order the server sent (see [`convert`]).
pub use indexmap::{self, IndexMap};
pub use jsonrpc::Protocol;
pub use options::{Options, TlsPolicy, DEFAULT_MAX_CONCURRENT_CALLS};
pub use reference::{Ref, NULL_REF};
pub use session::{Dialect, Session};
pub use task::Cancel;
pub use value::Value;

/// For the fuzz targets only: the HTTP reply handling on fixed bytes.
#[doc(hidden)]
pub use transport::replay_reply;

/// Result of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
