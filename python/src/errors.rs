//! `xenapi::Error` to the Python exceptions of `xenapi_rs._errors`.
//!
//! The classes live in Python (so that `Failure` is the same plain class as `XenAPI.Failure`, and
//! the others subclass the standard exceptions scripts already catch); this module only picks one
//! and fills it in.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;
use xenapi::Error;

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for a core error. `logged_in` tells a call refused for want of a login
/// (XenAPI.py raises `Fault(401, 'You must log in')` there) from other invalid arguments.
pub fn to_pyerr(py: Python<'_>, e: Error, logged_in: bool) -> PyErr {
    match build(py, e, logged_in) {
        Ok(err) => err,
        Err(err) => err,
    }
}

fn build(py: Python<'_>, e: Error, logged_in: bool) -> PyResult<PyErr> {
    let factory = FROM_NATIVE.import(py, "xenapi_rs._errors", "_from_native")?;
    let message = e.to_string();
    let (kind, details, url, status): (&str, Option<Bound<'_, PyList>>, Option<String>, u16) =
        match &e {
            // The items as the server sent them: xend's ints stay ints, as in XenAPI.py.
            Error::Api(f) => {
                let sent = f.items();
                let mut conv = crate::convert::ToPython::new(py);
                let items = sent
                    .iter()
                    .map(|v| conv.convert(v))
                    .collect::<PyResult<Vec<_>>>()?;
                ("api", Some(PyList::new(py, items)?), None, 0)
            }
            Error::Connect { url, .. } => ("connect", None, Some(url.clone()), 0),
            Error::Tls { url, .. } => ("tls", None, Some(url.clone()), 0),
            Error::Timeout { url, .. } => ("timeout", None, Some(url.clone()), 0),
            Error::Http { url, status, .. } => ("http", None, Some(url.clone()), *status),
            Error::Protocol(_) => ("protocol", None, None, 0),
            Error::InvalidArgument(_) if !logged_in => ("not_logged_in", None, None, 0),
            Error::InvalidArgument(_) => ("invalid_argument", None, None, 0),
            Error::Cancelled { url, .. } => ("cancelled", None, Some(url.clone()), 0),
            _ => ("other", None, None, 0),
        };
    let exc = factory.call1((kind, message, details, url, status))?;
    Ok(PyErr::from_value(exc))
}
