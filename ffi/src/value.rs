//! Values: build call arguments and read replies of every XML-RPC/XenAPI type.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use xenapi::{DateTime, Value};

use crate::boundary::{fallible, handle, handle_mut, infallible, out, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::strings::{cstring, owned};

/// The kind of a value. A XenAPI int64 usually travels as a string: read it with
/// `xenapi_value_get_int64`, which accepts both; a reference (`OpaqueRef:...`) and an enum
/// (`Running`) are strings too.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_value_kind {
    /// Not a value: the handle was NULL.
    Invalid = 0,
    /// `<nil/>` (xend's None).
    Nil = 1,
    Bool = 2,
    /// An XML-RPC integer (`<int>`, `<i4>`, `<i8>`).
    Int = 3,
    Double = 4,
    /// A string, including references, enums and int64s sent as strings.
    String = 5,
    /// `dateTime.iso8601`.
    Datetime = 6,
    Base64 = 7,
    /// An array (XenAPI sets and lists).
    Array = 8,
    /// A struct (XenAPI records and maps; map keys are strings).
    Struct = 9,
}

/// A value: a scalar, an array or a struct (records, maps).
///
/// Owned handles come from the `xenapi_value_new_*` constructors, `xenapi_value_clone`,
/// `xenapi_session_call` and typed functions, and are freed with `xenapi_value_free`. Elements of
/// an array or struct are handed out as borrowed `const xenapi_value *`, valid until their
/// container is freed; changing a container (push, set) keeps earlier elements valid, except an
/// element replaced by `xenapi_value_struct_set`. A value that nobody changes may be read from
/// several threads at once.
pub struct xenapi_value {
    v: V,
}

// Elements are boxed so that the borrowed pointers handed out for them stay valid when the
// container grows.
#[allow(clippy::vec_box)]
enum V {
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(CString),
    DateTime(CString),
    Base64(Vec<u8>),
    Array(Vec<Box<xenapi_value>>),
    Struct(Vec<(CString, Box<xenapi_value>)>),
}

impl xenapi_value {
    fn new(v: V) -> Self {
        xenapi_value { v }
    }

    pub(crate) fn from_core(value: Value) -> Self {
        xenapi_value::new(match value {
            Value::Nil => V::Nil,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Double(d) => V::Double(d),
            Value::String(s) => V::String(cstring(s)),
            Value::DateTime(d) => V::DateTime(cstring(d.as_str())),
            Value::Base64(b) => V::Base64(b),
            Value::Array(items) => V::Array(
                items
                    .into_iter()
                    .map(|i| Box::new(xenapi_value::from_core(i)))
                    .collect(),
            ),
            Value::Struct(members) => V::Struct(
                members
                    .into_iter()
                    .map(|(k, v)| (cstring(k), Box::new(xenapi_value::from_core(v))))
                    .collect(),
            ),
        })
    }

    pub(crate) fn to_core(&self) -> Value {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match &self.v {
            V::Nil => Value::Nil,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::Int(*i),
            V::Double(d) => Value::Double(*d),
            V::String(c) => Value::String(s(c)),
            V::DateTime(c) => Value::DateTime(DateTime::from_wire(s(c))),
            V::Base64(b) => Value::Base64(b.clone()),
            V::Array(items) => Value::Array(items.iter().map(|i| i.to_core()).collect()),
            V::Struct(members) => {
                Value::Struct(members.iter().map(|(k, v)| (s(k), v.to_core())).collect())
            }
        }
    }

    fn kind(&self) -> xenapi_value_kind {
        match self.v {
            V::Nil => xenapi_value_kind::Nil,
            V::Bool(_) => xenapi_value_kind::Bool,
            V::Int(_) => xenapi_value_kind::Int,
            V::Double(_) => xenapi_value_kind::Double,
            V::String(_) => xenapi_value_kind::String,
            V::DateTime(_) => xenapi_value_kind::Datetime,
            V::Base64(_) => xenapi_value_kind::Base64,
            V::Array(_) => xenapi_value_kind::Array,
            V::Struct(_) => xenapi_value_kind::Struct,
        }
    }

    fn type_name(&self) -> &'static str {
        match self.v {
            V::Nil => "nil",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Double(_) => "double",
            V::String(_) => "string",
            V::DateTime(_) => "datetime",
            V::Base64(_) => "base64",
            V::Array(_) => "array",
            V::Struct(_) => "struct",
        }
    }

    fn wrong(&self, wanted: &str) -> Fail {
        Fail::invalid(format!(
            "the value is a {}, not a {wanted}",
            self.type_name()
        ))
    }

    pub(crate) fn into_raw(self) -> *mut xenapi_value {
        Box::into_raw(Box::new(self))
    }
}

fn boxed(v: V) -> *mut xenapi_value {
    xenapi_value::new(v).into_raw()
}

// ---------------------------------------------------------------------------------------------
// Constructors

/// A new nil value (`<nil/>`). Never NULL (aborts only if memory runs out).
///
/// Ownership: the caller owns the result; free it with `xenapi_value_free` or hand it to a
/// function that takes ownership (`xenapi_value_array_push`, `xenapi_value_struct_set`).
#[no_mangle]
pub extern "C" fn xenapi_value_new_nil() -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Nil))
}

/// A new boolean value. Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_bool(b: bool) -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Bool(b)))
}

/// A new int64 value. It is sent as XenAPI servers expect: an XML-RPC `<int>` when it fits in 32
/// bits, else a string of digits (so values above 2^31 survive every server). Read back with
/// `xenapi_value_get_int64`. Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_int64(i: i64) -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Int(i)))
}

/// A new double value (XenAPI floats: event timeouts, utilisation). Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_double(d: f64) -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Double(d)))
}

/// A new empty array; add elements with `xenapi_value_array_push`. Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_array() -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Array(Vec::new())))
}

/// A new empty struct (a record or a map); add members with `xenapi_value_struct_set`. Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_struct() -> *mut xenapi_value {
    infallible(ptr::null_mut(), || boxed(V::Struct(Vec::new())))
}

/// A new datetime for the UTC instant `unix_seconds` after the epoch, written as xapi does
/// (`YYYYMMDDTHH:MM:SSZ`). Never NULL.
///
/// Ownership: as `xenapi_value_new_nil`.
#[no_mangle]
pub extern "C" fn xenapi_value_new_datetime_unix(unix_seconds: i64) -> *mut xenapi_value {
    infallible(ptr::null_mut(), || {
        boxed(V::DateTime(cstring(
            DateTime::from_unix(unix_seconds).as_str(),
        )))
    })
}

unsafe fn new_text(
    s: *const c_char,
    name: &str,
    out_value: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
    make: fn(CString) -> V,
) -> xenapi_status {
    fallible(err, || {
        out(out_value, "out_value")?;
        // SAFETY: NULL or a NUL-terminated string.
        let t = unsafe { text(s, name) }?;
        // SAFETY: checked above.
        unsafe { put(out_value, boxed(make(cstring(t)))) };
        Ok(())
    })
}

/// A new string value from NUL-terminated UTF-8 text. Invalid UTF-8 gives
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `s` is borrowed (copied). On success `*out_value` receives a value the caller owns.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_new_string(
    s: *const c_char,
    out_value: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { new_text(s, "s", out_value, err, V::String) }
}

/// A new reference value (`OpaqueRef:...` on xapi, a UUID on xend). References travel as strings:
/// this is `xenapi_value_new_string` under a name that says what the argument is.
///
/// Ownership: as `xenapi_value_new_string`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_new_ref(
    reference: *const c_char,
    out_value: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { new_text(reference, "reference", out_value, err, V::String) }
}

/// A new datetime from its wire text, e.g. `"20250102T03:04:05Z"` (kept exactly as given).
///
/// Ownership: as `xenapi_value_new_string`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_new_datetime(
    iso8601: *const c_char,
    out_value: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { new_text(iso8601, "iso8601", out_value, err, V::DateTime) }
}

/// A new base64 value holding a copy of `len` bytes at `data` (`data` may be NULL when `len` is 0).
///
/// Ownership: `data` is borrowed (copied). On success `*out_value` receives a value the caller owns.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_new_base64(
    data: *const u8,
    len: usize,
    out_value: *mut *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_value, "out_value")?;
        let bytes = if len == 0 {
            Vec::new()
        } else if data.is_null() {
            return Err(Fail::null("data"));
        } else {
            // SAFETY: the caller passes `len` readable bytes.
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        };
        // SAFETY: checked above.
        unsafe { put(out_value, boxed(V::Base64(bytes))) };
        Ok(())
    })
}

/// A deep copy of `value`; NULL if `value` is NULL.
///
/// Ownership: `value` is borrowed; the caller owns the copy.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_clone(value: *const xenapi_value) -> *mut xenapi_value {
    infallible(ptr::null_mut(), || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() } {
            Some(v) => xenapi_value::from_core(v.to_core()).into_raw(),
            None => ptr::null_mut(),
        }
    })
}

/// Frees a value and everything in it. NULL is allowed. Never free a borrowed element of an array
/// or struct.
///
/// Ownership: takes `value`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_free(value: *mut xenapi_value) {
    infallible((), || {
        if !value.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(value) });
        }
    })
}

/// Takes ownership of an owned element pointer (NULL is None).
unsafe fn take(item: *mut xenapi_value) -> Option<Box<xenapi_value>> {
    if item.is_null() {
        None
    } else {
        // SAFETY: an owned pointer from this library.
        Some(unsafe { Box::from_raw(item) })
    }
}

/// Appends `item` to the array `array`.
///
/// Ownership: `array` is borrowed. `item` is always taken, on failure too (then it is freed), so
/// `xenapi_value_array_push(a, xenapi_value_new_bool(true), NULL)` never leaks. `item` must be an
/// owned value, not a borrowed element of another container. A non-array `array` gives
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_array_push(
    array: *mut xenapi_value,
    item: *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: owned pointer or NULL.
    let item = unsafe { take(item) };
    fallible(err, || {
        let item = item.ok_or_else(|| Fail::null("item"))?;
        // SAFETY: NULL or a live value.
        let a = unsafe { handle_mut(array, "array") }?;
        match &mut a.v {
            V::Array(items) => {
                items.push(item);
                Ok(())
            }
            _ => Err(a.wrong("array")),
        }
    })
}

/// Sets the member `key` of the struct `st` to `item`, replacing (and freeing) an existing member
/// of that name, else appending it. Members keep their insertion order.
///
/// Ownership: `st` and `key` are borrowed (`key` is copied). `item` is always taken, on failure
/// too (then it is freed); it must be an owned value. A non-struct `st` gives
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_struct_set(
    st: *mut xenapi_value,
    key: *const c_char,
    item: *mut xenapi_value,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: owned pointer or NULL.
    let item = unsafe { take(item) };
    fallible(err, || {
        let item = item.ok_or_else(|| Fail::null("item"))?;
        // SAFETY: NULL or a live value / NUL-terminated string.
        let s = unsafe { handle_mut(st, "st") }?;
        let key = unsafe { text(key, "key") }?;
        match &mut s.v {
            V::Struct(members) => {
                match members
                    .iter_mut()
                    .find(|(k, _)| k.as_bytes() == key.as_bytes())
                {
                    Some((_, slot)) => *slot = item,
                    None => members.push((cstring(key), item)),
                }
                Ok(())
            }
            _ => Err(s.wrong("struct")),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Readers

/// The kind of `value`; `XENAPI_VALUE_KIND_INVALID` if `value` is NULL.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_kind(value: *const xenapi_value) -> xenapi_value_kind {
    infallible(xenapi_value_kind::Invalid, || {
        // SAFETY: NULL or a live value.
        unsafe { value.as_ref() }.map_or(xenapi_value_kind::Invalid, xenapi_value::kind)
    })
}

unsafe fn read<T>(
    value: *const xenapi_value,
    dest: *mut T,
    err: *mut *mut xenapi_error,
    f: impl FnOnce(&xenapi_value) -> Result<T, Fail>,
) -> xenapi_status {
    fallible(err, || {
        out(dest, "out")?;
        // SAFETY: NULL or a live value.
        let v = unsafe { handle(value, "value") }?;
        let got = f(v)?;
        // SAFETY: checked above.
        unsafe { put(dest, got) };
        Ok(())
    })
}

/// Reads a string value (also a reference or an enum). A value of another kind gives
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed; `*out` receives a string borrowed from `value` (valid until the
/// value, or the container it belongs to, is freed).
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_string(
    value: *const xenapi_value,
    out: *mut *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::String(s) => Ok(s.as_ptr()),
            _ => Err(v.wrong("string")),
        })
    }
}

/// Reads an int64 the XenAPI way: a string of digits (as xapi and xend send int64s) or an XML-RPC
/// integer. Anything else gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_int64(
    value: *const xenapi_value,
    out: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::Int(i) => Ok(*i),
            V::String(s) => Value::String(s.to_string_lossy().into_owned())
                .as_i64()
                .ok_or_else(|| Fail::invalid("the string is not an integer")),
            _ => Err(v.wrong("integer")),
        })
    }
}

/// Reads a boolean. Anything else gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_bool(
    value: *const xenapi_value,
    out: *mut bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::Bool(b) => Ok(*b),
            _ => Err(v.wrong("bool")),
        })
    }
}

/// Reads a double; integers and numeric strings (including `Infinity`, `NaN`) are accepted, as
/// servers differ. Anything else gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_double(
    value: *const xenapi_value,
    out: *mut f64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::Double(d) => Ok(*d),
            V::Int(i) => Ok(*i as f64),
            V::String(s) => Value::String(s.to_string_lossy().into_owned())
                .as_f64()
                .ok_or_else(|| Fail::invalid("the string is not a number")),
            _ => Err(v.wrong("double")),
        })
    }
}

/// Reads a datetime's wire text, e.g. `"20250102T03:04:05Z"`. Anything but a datetime gives
/// `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed; `*out` receives a string borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_datetime(
    value: *const xenapi_value,
    out: *mut *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::DateTime(s) => Ok(s.as_ptr()),
            _ => Err(v.wrong("datetime")),
        })
    }
}

/// Reads a datetime as seconds since the Unix epoch (UTC; no zone means UTC). Text that does not
/// read as a date, or a value of another kind, gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_datetime_unix(
    value: *const xenapi_value,
    out: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        read(value, out, err, |v| match &v.v {
            V::DateTime(s) => DateTime::from_wire(s.to_string_lossy().into_owned())
                .unix_timestamp()
                .ok_or_else(|| Fail::invalid("the datetime text does not read as a date")),
            _ => Err(v.wrong("datetime")),
        })
    }
}

/// Reads a base64 value's decoded bytes: `*out_data` (borrowed from `value`; NULL when empty) and
/// `*out_len`. Anything else gives `XENAPI_STATUS_INVALID_ARGUMENT`.
///
/// Ownership: `value` is borrowed; the bytes are borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_get_base64(
    value: *const xenapi_value,
    out_data: *mut *const u8,
    out_len: *mut usize,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_data, "out_data")?;
        out(out_len, "out_len")?;
        // SAFETY: NULL or a live value.
        let v = unsafe { handle(value, "value") }?;
        match &v.v {
            V::Base64(b) => {
                let p = if b.is_empty() {
                    ptr::null()
                } else {
                    b.as_ptr()
                };
                // SAFETY: checked above.
                unsafe {
                    put(out_data, p);
                    put(out_len, b.len());
                }
                Ok(())
            }
            _ => Err(v.wrong("base64")),
        }
    })
}

/// The number of elements of an array; 0 if `value` is NULL or not an array.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_array_len(value: *const xenapi_value) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Array(items)) => items.len(),
            _ => 0,
        }
    })
}

/// The element `index` (from 0) of an array; NULL if out of range, or `value` is NULL or not an
/// array.
///
/// Ownership: `value` is borrowed; the element is borrowed from `value` (do not free it).
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_array_get(
    value: *const xenapi_value,
    index: usize,
) -> *const xenapi_value {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Array(items)) => items.get(index).map_or(ptr::null(), |b| &**b),
            _ => ptr::null(),
        }
    })
}

/// The number of members of a struct (record or map); 0 if `value` is NULL or not a struct.
/// Iterate with `xenapi_value_struct_key` and `xenapi_value_struct_value`.
///
/// Ownership: `value` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_struct_len(value: *const xenapi_value) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Struct(members)) => members.len(),
            _ => 0,
        }
    })
}

/// The name of member `index` (from 0) of a struct, in the server's order; NULL if out of range or
/// `value` is NULL or not a struct.
///
/// Ownership: `value` is borrowed; the string is borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_struct_key(
    value: *const xenapi_value,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Struct(members)) => members.get(index).map_or(ptr::null(), |(k, _)| k.as_ptr()),
            _ => ptr::null(),
        }
    })
}

/// The value of member `index` (from 0) of a struct; NULL if out of range or `value` is NULL or
/// not a struct.
///
/// Ownership: `value` is borrowed; the member is borrowed from `value` (do not free it).
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_struct_value(
    value: *const xenapi_value,
    index: usize,
) -> *const xenapi_value {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live value.
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Struct(members)) => members.get(index).map_or(ptr::null(), |(_, v)| &**v),
            _ => ptr::null(),
        }
    })
}

/// The member named `key` of a struct (the first, if the server sent duplicates); NULL if there is
/// none, or `value` is NULL or not a struct, or `key` is NULL.
///
/// Ownership: `value` and `key` are borrowed; the member is borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_struct_get(
    value: *const xenapi_value,
    key: *const c_char,
) -> *const xenapi_value {
    infallible(ptr::null(), || {
        if key.is_null() {
            return ptr::null();
        }
        // SAFETY: NULL or a live value; a NUL-terminated key.
        let key = unsafe { CStr::from_ptr(key) };
        match unsafe { value.as_ref() }.map(|v| &v.v) {
            Some(V::Struct(members)) => members
                .iter()
                .find(|(k, _)| k.as_c_str() == key)
                .map_or(ptr::null(), |(_, v)| &**v),
            _ => ptr::null(),
        }
    })
}

/// A debugging rendering of `value` (Rust debug syntax; not a stable format).
///
/// Ownership: `value` is borrowed; on success `*out` receives a string the caller frees with
/// `xenapi_string_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_value_to_debug_string(
    value: *const xenapi_value,
    out: *mut *mut c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { read(value, out, err, |v| Ok(owned(format!("{:?}", v.to_core())))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_values_round_trip() {
        let v = Value::structure([
            ("s", Value::from("x")),
            ("i", Value::Int(1 << 40)),
            ("d", Value::Double(0.5)),
            ("b", Value::Bool(true)),
            ("t", Value::DateTime(DateTime::from_unix(0))),
            ("n", Value::Nil),
            ("bytes", Value::Base64(vec![0, 1, 2])),
            ("a", Value::from(vec!["p", "q"])),
        ]);
        assert_eq!(xenapi_value::from_core(v.clone()).to_core(), v);
    }

    #[test]
    fn interior_nul_does_not_truncate() {
        let c = cstring("a\0b");
        assert_eq!(c.to_str().unwrap(), "a\u{FFFD}b");
    }
}
