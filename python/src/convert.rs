//! Python objects to `xenapi::Value` and back, with the types `xmlrpc.client` uses.
//!
//! Python to wire: `None`, `bool`, `int` (any size that fits int64), `float`, `str`, `bytes`,
//! `bytearray`, `xmlrpc.client.Binary`, `xmlrpc.client.DateTime`, `datetime.datetime`, `dict`
//! (str or int keys), `list`, `tuple`.
//!
//! Wire to Python, as `xmlrpc.client.loads` with its defaults: `int`, `bool`, `float`, `str`,
//! `None`, `list`, `dict`, `xmlrpc.client.DateTime`, `xmlrpc.client.Binary`. Dictionaries are
//! built directly, and member names that repeat (record fields) are made once and interned.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple,
    PyType,
};
use rustc_hash::FxHashMap;
use xenapi::{DateTime, Value};

/// How deeply arguments may nest (the core's decoder has the same limit for replies).
const MAX_DEPTH: usize = 64;
/// Member names up to this length are made once per reply and interned (record field names);
/// longer ones (object references as map keys) are not worth a cache entry.
const CACHED_KEY_LEN: usize = 40;

static XMLRPC_DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static XMLRPC_BINARY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PY_DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn xmlrpc_datetime(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    XMLRPC_DATETIME.import(py, "xmlrpc.client", "DateTime")
}

fn xmlrpc_binary(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    XMLRPC_BINARY.import(py, "xmlrpc.client", "Binary")
}

fn py_datetime(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    PY_DATETIME.import(py, "datetime", "datetime")
}

/// The call's positional arguments as XML-RPC values.
pub fn args_to_values(args: &Bound<'_, PyTuple>) -> PyResult<Vec<Value>> {
    args.iter().map(|a| to_value(&a, 0)).collect()
}

/// One Python object as an XML-RPC value.
pub fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "arguments nest deeper than {MAX_DEPTH} levels"
        )));
    }
    let py = obj.py();
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    // bool before int: True is an int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return match i.extract::<i64>() {
            Ok(v) => Ok(Value::Int(v)),
            Err(_) => Err(PyOverflowError::new_err(format!(
                "XenAPI integers are 64-bit: {} is outside the int64 range \
                 (-9223372036854775808 to 9223372036854775807)",
                i.str().map(|s| s.to_string()).unwrap_or_default()
            ))),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Double(f.value()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut members = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = if let Ok(s) = k.cast::<PyString>() {
                s.to_cow()?.into_owned()
            } else if k.cast::<PyInt>().is_ok() && k.cast::<PyBool>().is_err() {
                // XenAPI maps with int keys travel with the keys as decimal strings.
                k.str()?.to_cow()?.into_owned()
            } else {
                return Err(PyTypeError::new_err(format!(
                    "dictionary keys must be str (or int), not {}",
                    k.get_type().name()?
                )));
            };
            members.push((key, to_value(&v, depth + 1)?));
        }
        return Ok(Value::Struct(members));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| to_value(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Base64(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Base64(b.to_vec()));
    }
    if obj.is_instance(xmlrpc_binary(py)?)? {
        let data = obj.getattr("data")?;
        return to_value(&data, depth + 1).and_then(|v| match v {
            Value::Base64(b) => Ok(Value::Base64(b)),
            _ => Err(PyTypeError::new_err(
                "xmlrpc.client.Binary.data must be bytes",
            )),
        });
    }
    if obj.is_instance(xmlrpc_datetime(py)?)? {
        let raw: String = obj.getattr("value")?.extract()?;
        return Ok(Value::DateTime(DateTime::from_wire(raw)));
    }
    if obj.is_instance(py_datetime(py)?)? {
        // As xmlrpc.client writes a datetime.datetime: no zone, whatever its tzinfo.
        let f = |n: &str| -> PyResult<i64> { obj.getattr(n)?.extract() };
        let raw = format!(
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            f("year")?,
            f("month")?,
            f("day")?,
            f("hour")?,
            f("minute")?,
            f("second")?
        );
        return Ok(Value::DateTime(DateTime::from_wire(raw)));
    }
    Err(PyTypeError::new_err(format!(
        "cannot marshal {} objects for XML-RPC",
        obj.get_type().name()?
    )))
}

/// Converts replies to Python objects. One per reply: it caches member names.
pub struct ToPython<'py, 'v> {
    py: Python<'py>,
    keys: FxHashMap<&'v str, Bound<'py, PyString>>,
}

impl<'py, 'v> ToPython<'py, 'v> {
    pub fn new(py: Python<'py>) -> Self {
        ToPython {
            py,
            keys: FxHashMap::default(),
        }
    }

    pub fn convert(&mut self, v: &'v Value) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match v {
            Value::String(s) => PyString::new(py, s).into_any(),
            Value::Struct(members) => {
                let dict = PyDict::new(py);
                for (k, item) in members {
                    let key = self.key(k);
                    let value = self.convert(item)?;
                    // SAFETY: both pointers are valid, owned by Bounds alive across the call;
                    // PyDict_SetItem does not steal references.
                    let rc =
                        unsafe { ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) };
                    if rc != 0 {
                        return Err(PyErr::fetch(py));
                    }
                }
                dict.into_any()
            }
            Value::Array(items) => {
                let n = ffi::Py_ssize_t::try_from(items.len())
                    .map_err(|_| PyOverflowError::new_err("array too long"))?;
                // SAFETY: PyList_New returns a new reference or NULL (turned into the error).
                let list = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n))? };
                for (i, item) in items.iter().enumerate() {
                    let value = self.convert(item)?;
                    // SAFETY: `list` is a fresh list of length n and i < n; PyList_SetItem steals
                    // the reference that into_ptr hands over. On an early return the list is
                    // freed with its unset (NULL) slots, which list deallocation allows.
                    let rc = unsafe {
                        ffi::PyList_SetItem(list.as_ptr(), i as ffi::Py_ssize_t, value.into_ptr())
                    };
                    if rc != 0 {
                        return Err(PyErr::fetch(py));
                    }
                }
                list
            }
            Value::Int(i) => i.into_pyobject(py)?.into_any(),
            Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Value::Double(d) => PyFloat::new(py, *d).into_any(),
            Value::Nil => py.None().into_bound(py),
            Value::DateTime(d) => xmlrpc_datetime(py)?.call1((d.as_str(),))?,
            Value::Base64(b) => xmlrpc_binary(py)?.call1((PyBytes::new(py, b),))?,
        })
    }

    fn key(&mut self, k: &'v str) -> Bound<'py, PyString> {
        if k.len() > CACHED_KEY_LEN {
            return PyString::new(self.py, k);
        }
        let py = self.py;
        self.keys
            .entry(k)
            .or_insert_with(|| PyString::intern(py, k))
            .clone()
    }
}

/// Replies with at least this many members at the top (`get_all_records` of a pool) are
/// converted with Python's cyclic GC paused and freed on another thread.
const LARGE_REPLY: usize = 256;

static GC_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A reply value as a Python object.
///
/// For a large reply, Python's cyclic garbage collector is paused while the objects are built
/// (every new dict and list would otherwise count towards a collection that walks all of them:
/// about 15% of the time of a 2,000-VM `get_all_records`), and the Rust value is freed on a
/// background thread, off the caller's path.
pub fn reply_to_python(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    let large = match &v {
        Value::Struct(m) => m.len() >= LARGE_REPLY,
        Value::Array(a) => a.len() >= LARGE_REPLY,
        _ => false,
    };
    if !large {
        return Ok(ToPython::new(py).convert(&v)?.unbind());
    }
    let gc = GC_MODULE
        .get_or_try_init(py, || py.import("gc").map(Bound::unbind))?
        .bind(py);
    let was_enabled = gc.call_method0("isenabled")?.is_truthy()?;
    if was_enabled {
        gc.call_method0("disable")?;
    }
    let result = ToPython::new(py).convert(&v).map(Bound::unbind);
    if was_enabled {
        gc.call_method0("enable")?;
    }
    // Should no thread be had, the closure, and so the value, is dropped here instead.
    let _ = std::thread::Builder::new()
        .name("xenapi-free".into())
        .spawn(move || drop(v));
    result
}
