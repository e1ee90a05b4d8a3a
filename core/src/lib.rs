//! # xenapi
//!
//! A blocking client for the Xen Management API (XenAPI): XML-RPC over HTTP(S) to xapi (XenServer,
//! XCP-ng) or to xend (Xen 3.x).
//!
//! ```no_run
//! use xenapi::{Session, Options};
//!
//! let session = Session::login_with_password(
//!     Options::new("http://127.0.0.1:9363"), "root", "password")?;
//! for method in session.call("host.list_methods", vec![])?.as_array().unwrap_or(&[]) {
//!     println!("{}", method.as_str().unwrap_or("?"));
//! }
//! session.logout()?;
//! # Ok::<(), xenapi::Error>(())
//! ```

pub mod api;
pub mod codec;
mod datetime;
mod error;
mod value;


pub use datetime::{DateTime, DateTimeParts};
pub use error::{codes, Error, ErrorKind, Failure};
pub use value::Value;

/// Result of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
