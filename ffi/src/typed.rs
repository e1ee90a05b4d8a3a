//! The runtime of the generated C API (`ffi/src/api/`, written by `cargo run -p xenapi-codegen`).
//!
//! The generated functions stay one-liners over the few generic helpers here, so that thousands
//! of entry points compile quickly:
//! - [`Conv`] ties each core type (`String`, `Ref<C>`, `i64`, enums, `Vec<T>`, `IndexMap<K, V>`,
//!   records, ...) to its C storage (`CString`, [`List`], [`Map`], record handles), its getter
//!   type, its result (out-pointer) type and its parameter type, with the conversions both ways.
//!   Storage is built once from the core value, so getters only borrow.
//! - [`run`] is the one non-generic panic boundary every generated fallible function goes
//!   through (`&mut dyn FnMut`: `catch_unwind` is instantiated once, not per entry point).
//! - [`List`] and [`Map`] are the storage behind every list and map handle. A map's entries are
//!   in the order the server sent them (the core's `IndexMap`), entry `i` the `i`-th member;
//!   maps keyed by ints (per-CPU maps) also have a lookup by key and a key order, through an
//!   index sorted once, on first use.
//!
//! Text from the server with an interior NUL cannot be a C string: it is a
//! `XENAPI_STATUS_PROTOCOL` failure, never a string cut short.

use std::ffi::{c_char, c_int, CStr, CString};
use std::hash::Hash;
use std::marker::PhantomData;
use std::ptr;
use std::sync::OnceLock;

use xenapi::{DateTime, IndexMap, Ref, Value};

use crate::boundary::{fallible, handle, handle_mut, put, text};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::value::xenapi_value;

/// The C storage of core type `T`.
pub(crate) type S<T> = <T as Conv>::C;

/// A core type as the C API stores, hands out and receives it.
pub(crate) trait Conv: Sized {
    /// Storage inside records and collections (C-ready: `CString`, handles).
    type C;
    /// What a record getter or a collection getter returns (borrowed from the storage).
    type Get;
    /// What a result out-pointer receives (owned by the caller).
    type Out;
    /// The C parameter type.
    type P: Copy;
    /// Core value to storage; fails only on text C cannot hold (interior NUL).
    fn to_c(self) -> Result<Self::C, Fail>;
    /// Storage back to a core value (for parameters).
    fn from_c(c: &Self::C) -> Self;
    /// The getter's view of stored data; `None` (a NULL handle or an index out of range) gives
    /// the type's zero.
    fn get(c: Option<&Self::C>) -> Self::Get;
    /// Storage handed to the caller as a result.
    fn out(c: Self::C) -> Self::Out;
    /// Reads a C parameter named `name`.
    ///
    /// # Safety
    /// Pointers are NULL or valid for the type.
    unsafe fn arg(p: Self::P, name: &str) -> Result<Self, Fail>;
}

/// Runs a generated fallible entry point: the one panic boundary, instantiated once (and never
/// inlined into the thousands of entry points).
#[inline(never)]
pub(crate) fn run(
    err: *mut *mut xenapi_error,
    f: &mut dyn FnMut() -> Result<(), Fail>,
) -> xenapi_status {
    fallible(err, f)
}

/// Converts `v` and stores it through `out` (checked for NULL before the call was made).
///
/// # Safety
/// `out` is writable.
pub(crate) unsafe fn ret<T: Conv>(out: *mut T::Out, v: T) -> Result<(), Fail> {
    let c = v.to_c()?;
    // SAFETY: the caller checked `out`.
    unsafe { put(out, T::out(c)) };
    Ok(())
}

/// A C string of server text; an interior NUL is a protocol failure.
pub(crate) fn c_text(s: String) -> Result<CString, Fail> {
    CString::new(s).map_err(|_| {
        Fail::new(
            xenapi_status::Protocol,
            "the server sent text with a NUL character, which C strings cannot hold",
        )
    })
}

fn text_of(c: &CString) -> String {
    // Storage is built from Rust strings or checked C parameters: always UTF-8.
    String::from_utf8_lossy(c.as_bytes()).into_owned()
}

/// Frees a handle made by `Box::into_raw`; NULL is allowed.
///
/// # Safety
/// `p` is NULL or a live handle of this type, freed once.
pub(crate) unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(p) });
    }
}

fn borrow<T>(c: Option<&T>) -> *const T {
    c.map_or(ptr::null(), |c| c as *const T)
}

fn boxed<T>(c: T) -> *mut T {
    Box::into_raw(Box::new(c))
}

// ---- scalars and text ----------------------------------------------------------------------

impl Conv for String {
    type C = CString;
    type Get = *const c_char;
    type Out = *mut c_char;
    type P = *const c_char;
    fn to_c(self) -> Result<CString, Fail> {
        c_text(self)
    }
    fn from_c(c: &CString) -> Self {
        text_of(c)
    }
    fn get(c: Option<&CString>) -> *const c_char {
        c.map_or(ptr::null(), |c| c.as_ptr())
    }
    fn out(c: CString) -> *mut c_char {
        c.into_raw()
    }
    unsafe fn arg(p: *const c_char, name: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract.
        unsafe { text(p, name) }.map(str::to_owned)
    }
}

impl<K> Conv for Ref<K> {
    type C = CString;
    type Get = *const c_char;
    type Out = *mut c_char;
    type P = *const c_char;
    fn to_c(self) -> Result<CString, Fail> {
        c_text(self.into_string())
    }
    fn from_c(c: &CString) -> Self {
        Ref::new(text_of(c))
    }
    fn get(c: Option<&CString>) -> *const c_char {
        String::get(c)
    }
    fn out(c: CString) -> *mut c_char {
        c.into_raw()
    }
    unsafe fn arg(p: *const c_char, name: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract.
        unsafe { text(p, name) }.map(Ref::new)
    }
}

macro_rules! scalar {
    ($t:ty) => {
        impl Conv for $t {
            type C = $t;
            type Get = $t;
            type Out = $t;
            type P = $t;
            fn to_c(self) -> Result<$t, Fail> {
                Ok(self)
            }
            fn from_c(c: &$t) -> Self {
                *c
            }
            fn get(c: Option<&$t>) -> $t {
                c.copied().unwrap_or_default()
            }
            fn out(c: $t) -> $t {
                c
            }
            unsafe fn arg(p: $t, _: &str) -> Result<Self, Fail> {
                Ok(p)
            }
        }
    };
}
scalar!(i64);
scalar!(f64);
scalar!(bool);

/// Datetimes are Unix seconds (UTC); one the server wrote unreadably reads as 0.
impl Conv for DateTime {
    type C = i64;
    type Get = i64;
    type Out = i64;
    type P = i64;
    fn to_c(self) -> Result<i64, Fail> {
        Ok(self.unix_timestamp().unwrap_or(0))
    }
    fn from_c(c: &i64) -> Self {
        DateTime::from_unix(*c)
    }
    fn get(c: Option<&i64>) -> i64 {
        c.copied().unwrap_or(0)
    }
    fn out(c: i64) -> i64 {
        c
    }
    unsafe fn arg(p: i64, _: &str) -> Result<Self, Fail> {
        Ok(DateTime::from_unix(p))
    }
}

/// An untyped value (`<class> record`, the event snapshot): the hand-written value handle.
impl Conv for Value {
    type C = xenapi_value;
    type Get = *const xenapi_value;
    type Out = *mut xenapi_value;
    type P = *const xenapi_value;
    fn to_c(self) -> Result<xenapi_value, Fail> {
        Ok(xenapi_value::from_core(self))
    }
    fn from_c(c: &xenapi_value) -> Self {
        c.to_core()
    }
    fn get(c: Option<&xenapi_value>) -> *const xenapi_value {
        borrow(c)
    }
    fn out(c: xenapi_value) -> *mut xenapi_value {
        boxed(c)
    }
    unsafe fn arg(p: *const xenapi_value, name: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract.
        unsafe { handle(p, name) }.map(xenapi_value::to_core)
    }
}

/// Pointer types, for `T option`: NULL is "none".
pub(crate) trait Nullable: Copy {
    fn null() -> Self;
    fn is_null_ptr(self) -> bool;
}
impl<T> Nullable for *const T {
    fn null() -> Self {
        ptr::null()
    }
    fn is_null_ptr(self) -> bool {
        self.is_null()
    }
}
impl<T> Nullable for *mut T {
    fn null() -> Self {
        ptr::null_mut()
    }
    fn is_null_ptr(self) -> bool {
        self.is_null()
    }
}

impl<T: Conv> Conv for Option<T>
where
    T::Get: Nullable,
    T::Out: Nullable,
    T::P: Nullable,
{
    type C = Option<T::C>;
    type Get = T::Get;
    type Out = T::Out;
    type P = T::P;
    fn to_c(self) -> Result<Self::C, Fail> {
        self.map(T::to_c).transpose()
    }
    fn from_c(c: &Self::C) -> Self {
        c.as_ref().map(T::from_c)
    }
    fn get(c: Option<&Self::C>) -> T::Get {
        match c {
            Some(Some(c)) => T::get(Some(c)),
            _ => T::Get::null(),
        }
    }
    fn out(c: Self::C) -> T::Out {
        c.map_or_else(T::Out::null, T::out)
    }
    unsafe fn arg(p: T::P, name: &str) -> Result<Self, Fail> {
        if p.is_null_ptr() {
            Ok(None)
        } else {
            // SAFETY: the caller's contract.
            unsafe { T::arg(p, name) }.map(Some)
        }
    }
}

// ---- enums ---------------------------------------------------------------------------------

/// A generated enum: its wire names in the order of their pinned C numbers
/// (`ffi/abi/c-enums.json`: C value `i + 1` is `NAMES[i]`, values gone from the datamodel
/// included), each with a trailing NUL so that it is also the C string.
pub(crate) trait CEnum: Sized {
    const NAMES: &'static [&'static str];
    /// The pinned C number (1-based position in `NAMES`), 0 for a value this library does not
    /// know.
    fn code(&self) -> c_int;
    fn wire(&self) -> &str;
    fn from_wire(s: &str) -> Self;
}

/// A stored enum value: the C value, and the wire text when the library does not know it.
pub(crate) struct EnumVal<E> {
    code: c_int,
    other: Option<CString>,
    kind: PhantomData<fn() -> E>,
}

impl<E> PartialEq for EnumVal<E> {
    fn eq(&self, o: &Self) -> bool {
        self.code == o.code && self.other == o.other
    }
}

fn name_of<E: CEnum>(code: c_int) -> Option<&'static str> {
    let i = usize::try_from(code).ok()?.checked_sub(1)?;
    E::NAMES.get(i).copied()
}

pub(crate) fn enum_to_c<E: CEnum>(e: E) -> Result<EnumVal<E>, Fail> {
    let code = e.code();
    let other = if code == 0 {
        Some(c_text(e.wire().to_owned())?)
    } else {
        None
    };
    Ok(EnumVal {
        code,
        other,
        kind: PhantomData,
    })
}

pub(crate) fn enum_from_c<E: CEnum>(c: &EnumVal<E>) -> E {
    match (name_of::<E>(c.code), &c.other) {
        (Some(n), _) => E::from_wire(&n[..n.len() - 1]),
        (None, Some(o)) => E::from_wire(&text_of(o)),
        (None, None) => E::from_wire(""),
    }
}

pub(crate) fn enum_get<E>(c: Option<&EnumVal<E>>) -> c_int {
    c.map_or(0, |c| c.code)
}

/// An enum parameter: 1..=NAMES.len(); 0 (UNKNOWN) or anything else is refused.
pub(crate) fn enum_arg<E: CEnum>(p: c_int, name: &str) -> Result<E, Fail> {
    match name_of::<E>(p) {
        Some(n) => Ok(E::from_wire(&n[..n.len() - 1])),
        None => Err(Fail::invalid(format!(
            "{name}: {p} is not a value of the enum"
        ))),
    }
}

/// The wire text of a stored value (static for known values); NULL for no value.
pub(crate) fn enum_name<E: CEnum>(c: Option<&EnumVal<E>>) -> *const c_char {
    match c {
        None => ptr::null(),
        Some(c) => match (name_of::<E>(c.code), &c.other) {
            (Some(n), _) => n.as_ptr().cast(),
            (None, Some(o)) => o.as_ptr(),
            (None, None) => c"".as_ptr(),
        },
    }
}

/// `xenapi_<enum>_to_string`: static text, NULL for UNKNOWN or a number out of range.
pub(crate) fn enum_to_string<E: CEnum>(v: c_int) -> *const c_char {
    name_of::<E>(v).map_or(ptr::null(), |n| n.as_ptr().cast())
}

/// `xenapi_<enum>_from_string`: the value of a wire name (exact), 0 (UNKNOWN) otherwise.
///
/// # Safety
/// `s` is NULL or NUL-terminated.
pub(crate) unsafe fn enum_from_string<E: CEnum>(s: *const c_char) -> c_int {
    if s.is_null() {
        return 0;
    }
    // SAFETY: the caller's contract.
    let s = unsafe { CStr::from_ptr(s) }.to_bytes_with_nul();
    E::NAMES
        .iter()
        .position(|n| n.as_bytes() == s)
        .map_or(0, |i| i as c_int + 1)
}

/// The body of a generated enum's `Conv` impl.
macro_rules! enum_conv {
    () => {
        type C = $crate::typed::EnumVal<Self>;
        type Get = ::std::ffi::c_int;
        type Out = ::std::ffi::c_int;
        type P = ::std::ffi::c_int;
        fn to_c(self) -> Result<Self::C, $crate::error::Fail> {
            $crate::typed::enum_to_c(self)
        }
        fn from_c(c: &Self::C) -> Self {
            $crate::typed::enum_from_c(c)
        }
        fn get(c: Option<&Self::C>) -> ::std::ffi::c_int {
            $crate::typed::enum_get(c)
        }
        fn out(c: Self::C) -> ::std::ffi::c_int {
            $crate::typed::enum_get(Some(&c))
        }
        unsafe fn arg(p: ::std::ffi::c_int, name: &str) -> Result<Self, $crate::error::Fail> {
            $crate::typed::enum_arg(p, name)
        }
    };
}
pub(crate) use enum_conv;

// ---- records -------------------------------------------------------------------------------

/// The `get`, `out` and `arg` of a generated record's `Conv` impl (record handle `$h`).
macro_rules! record_conv {
    ($h:ty) => {
        type C = $h;
        type Get = *const $h;
        type Out = *mut $h;
        type P = *const $h;
        fn get(c: Option<&$h>) -> *const $h {
            $crate::typed::record_get(c)
        }
        fn out(c: $h) -> *mut $h {
            $crate::typed::record_out(c)
        }
        unsafe fn arg(p: *const $h, name: &str) -> Result<Self, $crate::error::Fail> {
            // SAFETY: the caller's contract.
            unsafe { $crate::typed::record_arg(p, name) }
        }
    };
}
pub(crate) use record_conv;

pub(crate) fn record_get<T>(c: Option<&T>) -> *const T {
    borrow(c)
}

pub(crate) fn record_out<T>(c: T) -> *mut T {
    boxed(c)
}

/// # Safety
/// `p` is NULL or a live record handle.
pub(crate) unsafe fn record_arg<T: Conv>(p: *const T::C, name: &str) -> Result<T, Fail> {
    // SAFETY: the caller's contract.
    unsafe { handle(p, name) }.map(T::from_c)
}

/// `extra` (members the datamodel does not list) as a struct value.
pub(crate) fn extra_to_c(extra: Vec<(String, Value)>) -> xenapi_value {
    xenapi_value::from_core(Value::Struct(extra))
}

pub(crate) fn extra_from_c(c: &xenapi_value) -> Vec<(String, Value)> {
    match c.to_core() {
        Value::Struct(m) => m,
        _ => Vec::new(),
    }
}

/// `xenapi_<c>_record_from_value`: the typed record of an untyped record value (a cached record,
/// an event's snapshot, a `get_record` reply through `xenapi_session_call`).
///
/// # Safety
/// `value` is NULL or a live value handle; `out` NULL or writable; `err` as for [`run`].
pub(crate) unsafe fn record_from_value<T: Conv<Out = *mut S<T>> + xenapi::FromValue>(
    value: *const xenapi_value,
    out: *mut *mut S<T>,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    run(err, &mut || {
        crate::boundary::out(out, "out")?;
        // SAFETY: the caller's contract.
        let v = unsafe { handle(value, "value") }?.to_core();
        let rec: T = xenapi::convert::from_value_in(v, "the record value")?;
        // SAFETY: `out` was checked above.
        unsafe { ret(out, rec) }
    })
}

/// `xenapi_<c>_record_new`: a record with every field at its default.
pub(crate) fn record_new<T: Conv + Default>() -> *mut T::C {
    T::default().to_c().map_or(ptr::null_mut(), boxed)
}

/// A record getter: the field `f` of `rec` through `T::get`.
///
/// # Safety
/// `rec` is NULL or a live record handle.
pub(crate) unsafe fn field<R, T: Conv>(rec: *const R, f: fn(&R) -> &T::C) -> T::Get {
    // SAFETY: the caller's contract.
    T::get(unsafe { rec.as_ref() }.map(f))
}

/// A record's enum `_name` getter.
///
/// # Safety
/// `rec` is NULL or a live record handle.
pub(crate) unsafe fn field_name<R, E: CEnum>(
    rec: *const R,
    f: fn(&R) -> &EnumVal<E>,
) -> *const c_char {
    // SAFETY: the caller's contract.
    enum_name(unsafe { rec.as_ref() }.map(f))
}

/// `xenapi_<c>_record_extra`.
///
/// # Safety
/// `rec` is NULL or a live record handle.
pub(crate) unsafe fn field_extra<R>(
    rec: *const R,
    f: fn(&R) -> &xenapi_value,
) -> *const xenapi_value {
    // SAFETY: the caller's contract.
    borrow(unsafe { rec.as_ref() }.map(f))
}

/// A record setter: converts `value` (a C parameter of `T`) and replaces the field.
///
/// # Safety
/// `rec` is NULL or a live record handle used by one thread; `value` as for `T::arg`.
pub(crate) unsafe fn set_field<R, T: Conv>(
    rec: *mut R,
    value: T::P,
    f: fn(&mut R) -> &mut T::C,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    run(err, &mut || {
        // SAFETY: the caller's contract.
        let r = unsafe { handle_mut(rec, "rec") }?;
        let v = unsafe { T::arg(value, "value") }?.to_c()?;
        *f(r) = v;
        Ok(())
    })
}

// ---- lists and maps ------------------------------------------------------------------------

/// The storage of every list handle (`xenapi_string_list`, `xenapi_<T>_list`): boxed nowhere,
/// so borrowed element pointers stay valid until the list is freed or pushed to.
pub struct List<T> {
    pub(crate) items: Vec<T>,
}

/// The storage of every map handle, in the order the core gives (the server's).
pub struct Map<K, V> {
    pub(crate) entries: Vec<(K, V)>,
    /// For int keys: the entries' positions in key order, made on first use (readers may be on
    /// several threads), dropped by every change.
    by_key: OnceLock<Box<[usize]>>,
}

impl<K, V> Map<K, V> {
    pub(crate) fn new(entries: Vec<(K, V)>) -> Self {
        Map {
            entries,
            by_key: OnceLock::new(),
        }
    }
}

impl<V> Map<i64, V> {
    /// The entries' positions in ascending key order.
    fn by_key(&self) -> &[usize] {
        self.by_key.get_or_init(|| {
            let mut order: Vec<usize> = (0..self.entries.len()).collect();
            order.sort_by_key(|&i| self.entries[i].0);
            order.into_boxed_slice()
        })
    }

    /// The position of the entry of `key`, by binary search in the key order.
    fn position(&self, key: i64) -> Option<usize> {
        let order = self.by_key();
        order
            .binary_search_by_key(&key, |&i| self.entries[i].0)
            .ok()
            .map(|at| order[at])
    }
}

impl<T: Conv> Conv for Vec<T> {
    type C = List<T::C>;
    type Get = *const List<T::C>;
    type Out = *mut List<T::C>;
    type P = *const List<T::C>;
    fn to_c(self) -> Result<Self::C, Fail> {
        // Sized up front (collecting into a Result loses the size hint, and records are big).
        let mut items = Vec::with_capacity(self.len());
        for item in self {
            items.push(item.to_c()?);
        }
        Ok(List { items })
    }
    fn from_c(c: &Self::C) -> Self {
        c.items.iter().map(T::from_c).collect()
    }
    fn get(c: Option<&Self::C>) -> Self::Get {
        borrow(c)
    }
    fn out(c: Self::C) -> Self::Out {
        boxed(c)
    }
    unsafe fn arg(p: Self::P, name: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract.
        unsafe { handle(p, name) }.map(Self::from_c)
    }
}

/// Entries in the map's order: the server's for a map read from it, the caller's (order of
/// `_set`) for a parameter.
impl<K: Conv + Eq + Hash, V: Conv> Conv for IndexMap<K, V> {
    type C = Map<K::C, V::C>;
    type Get = *const Map<K::C, V::C>;
    type Out = *mut Map<K::C, V::C>;
    type P = *const Map<K::C, V::C>;
    fn to_c(self) -> Result<Self::C, Fail> {
        let mut entries = Vec::with_capacity(self.len());
        for (k, v) in self {
            entries.push((k.to_c()?, v.to_c()?));
        }
        Ok(Map::new(entries))
    }
    fn from_c(c: &Self::C) -> Self {
        c.entries
            .iter()
            .map(|(k, v)| (K::from_c(k), V::from_c(v)))
            .collect()
    }
    fn get(c: Option<&Self::C>) -> Self::Get {
        borrow(c)
    }
    fn out(c: Self::C) -> Self::Out {
        boxed(c)
    }
    unsafe fn arg(p: Self::P, name: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract.
        unsafe { handle(p, name) }.map(Self::from_c)
    }
}

/// # Safety
/// `l` is NULL or a live list.
pub(crate) unsafe fn list_len<T>(l: *const List<T>) -> usize {
    // SAFETY: the caller's contract.
    unsafe { l.as_ref() }.map_or(0, |l| l.items.len())
}

/// # Safety
/// `l` is NULL or a live list.
pub(crate) unsafe fn list_get<T: Conv>(l: *const List<T::C>, i: usize) -> T::Get {
    // SAFETY: the caller's contract.
    T::get(unsafe { l.as_ref() }.and_then(|l| l.items.get(i)))
}

/// Copies the first `capacity` items of `l` (borrowed, as `list_get` gives them) into `out`;
/// the list's length, whatever `capacity` (0 for NULL).
///
/// # Safety
/// `l` is NULL or a live list; `out` is NULL or has room for `capacity` items.
pub(crate) unsafe fn list_items<T: Conv>(
    l: *const List<T::C>,
    out: *mut T::Get,
    capacity: usize,
) -> usize {
    // SAFETY: the caller's contract.
    let Some(l) = (unsafe { l.as_ref() }) else {
        return 0;
    };
    if !out.is_null() {
        for (i, item) in l.items.iter().take(capacity).enumerate() {
            // SAFETY: `i < capacity`, within `out` by the caller's contract.
            unsafe { out.add(i).write(T::get(Some(item))) };
        }
    }
    l.items.len()
}

/// # Safety
/// `l` is NULL or a live list.
pub(crate) unsafe fn list_get_name<E: CEnum>(
    l: *const List<EnumVal<E>>,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller's contract.
    enum_name(unsafe { l.as_ref() }.and_then(|l| l.items.get(i)))
}

pub(crate) fn list_new<T>() -> *mut List<T> {
    boxed(List { items: Vec::new() })
}

/// # Safety
/// `l` is NULL or a live list used by one thread; `item` as for `T::arg`.
pub(crate) unsafe fn list_push<T: Conv>(
    l: *mut List<T::C>,
    item: T::P,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    run(err, &mut || {
        // SAFETY: the caller's contract.
        let l = unsafe { handle_mut(l, "list") }?;
        let v = unsafe { T::arg(item, "item") }?.to_c()?;
        l.items.push(v);
        Ok(())
    })
}

/// # Safety
/// `m` is NULL or a live map.
pub(crate) unsafe fn map_len<K, V>(m: *const Map<K, V>) -> usize {
    // SAFETY: the caller's contract.
    unsafe { m.as_ref() }.map_or(0, |m| m.entries.len())
}

/// # Safety
/// `m` is NULL or a live map.
pub(crate) unsafe fn map_key<K: Conv, V: Conv>(m: *const Map<K::C, V::C>, i: usize) -> K::Get {
    // SAFETY: the caller's contract.
    K::get(
        unsafe { m.as_ref() }
            .and_then(|m| m.entries.get(i))
            .map(|e| &e.0),
    )
}

/// # Safety
/// `m` is NULL or a live map.
pub(crate) unsafe fn map_value<K: Conv, V: Conv>(m: *const Map<K::C, V::C>, i: usize) -> V::Get {
    // SAFETY: the caller's contract.
    V::get(
        unsafe { m.as_ref() }
            .and_then(|m| m.entries.get(i))
            .map(|e| &e.1),
    )
}

/// Copies the keys and values of the first `capacity` entries of `m` (borrowed, as `map_key` and
/// `map_value` give them) into `keys` and `values`, either of which may be NULL; the map's
/// length, whatever `capacity` (0 for NULL).
///
/// # Safety
/// `m` is NULL or a live map; `keys` and `values` are NULL or have room for `capacity` items.
pub(crate) unsafe fn map_entries<K: Conv, V: Conv>(
    m: *const Map<K::C, V::C>,
    keys: *mut K::Get,
    values: *mut V::Get,
    capacity: usize,
) -> usize {
    // SAFETY: the caller's contract.
    let Some(m) = (unsafe { m.as_ref() }) else {
        return 0;
    };
    for (i, (k, v)) in m.entries.iter().take(capacity).enumerate() {
        // SAFETY: `i < capacity`, within each non-NULL array by the caller's contract.
        unsafe {
            if !keys.is_null() {
                keys.add(i).write(K::get(Some(k)));
            }
            if !values.is_null() {
                values.add(i).write(V::get(Some(v)));
            }
        }
    }
    m.entries.len()
}

/// # Safety
/// `m` is NULL or a live map.
pub(crate) unsafe fn map_key_name<E: CEnum, V>(
    m: *const Map<EnumVal<E>, V>,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller's contract.
    enum_name(
        unsafe { m.as_ref() }
            .and_then(|m| m.entries.get(i))
            .map(|e| &e.0),
    )
}

/// # Safety
/// `m` is NULL or a live map.
pub(crate) unsafe fn map_value_name<K, E: CEnum>(
    m: *const Map<K, EnumVal<E>>,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller's contract.
    enum_name(
        unsafe { m.as_ref() }
            .and_then(|m| m.entries.get(i))
            .map(|e| &e.1),
    )
}

/// # Safety
/// `m` is NULL or a live map; `key` as for `K::arg`; `out_index` NULL or writable.
pub(crate) unsafe fn map_find<K: Conv, V: Conv>(
    m: *const Map<K::C, V::C>,
    key: K::P,
    out_index: *mut usize,
) -> bool
where
    K::C: PartialEq,
{
    // SAFETY: the caller's contract.
    let Some(m) = (unsafe { m.as_ref() }) else {
        return false;
    };
    let Some(k) = unsafe { K::arg(key, "key") }
        .ok()
        .and_then(|k| k.to_c().ok())
    else {
        return false;
    };
    match m.entries.iter().position(|e| e.0 == k) {
        Some(i) => {
            if !out_index.is_null() {
                // SAFETY: the caller's contract.
                unsafe { out_index.write(i) };
            }
            true
        }
        None => false,
    }
}

/// The value of int key `key` through `out` (when not NULL), without a scan: a binary search in
/// the key order; false if absent or `m` is NULL.
///
/// # Safety
/// `m` is NULL or a live map; `out` NULL or writable.
pub(crate) unsafe fn map_int_get<V: Conv>(
    m: *const Map<i64, V::C>,
    key: i64,
    out: *mut V::Get,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(m) = (unsafe { m.as_ref() }) else {
        return false;
    };
    let Some(i) = m.position(key) else {
        return false;
    };
    if !out.is_null() {
        // SAFETY: the caller's contract.
        unsafe { out.write(V::get(Some(&m.entries[i].1))) };
    }
    true
}

/// [`map_find`] for int keys: by the key order, without a scan.
///
/// # Safety
/// `m` is NULL or a live map; `out_index` NULL or writable.
pub(crate) unsafe fn map_int_find<V>(
    m: *const Map<i64, V>,
    key: i64,
    out_index: *mut usize,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(i) = (unsafe { m.as_ref() }).and_then(|m| m.position(key)) else {
        return false;
    };
    if !out_index.is_null() {
        // SAFETY: the caller's contract.
        unsafe { out_index.write(i) };
    }
    true
}

/// Writes the positions of the first `capacity` entries of `m` in ascending key order into
/// `indices` (when not NULL); the map's length, whatever `capacity` (0 for NULL).
///
/// # Safety
/// `m` is NULL or a live map; `indices` is NULL or has room for `capacity` items.
pub(crate) unsafe fn map_int_sorted<V>(
    m: *const Map<i64, V>,
    indices: *mut usize,
    capacity: usize,
) -> usize {
    // SAFETY: the caller's contract.
    let Some(m) = (unsafe { m.as_ref() }) else {
        return 0;
    };
    if !indices.is_null() {
        for (i, &at) in m.by_key().iter().take(capacity).enumerate() {
            // SAFETY: `i < capacity`, within `indices` by the caller's contract.
            unsafe { indices.add(i).write(at) };
        }
    }
    m.entries.len()
}

pub(crate) fn map_new<K, V>() -> *mut Map<K, V> {
    boxed(Map::new(Vec::new()))
}

/// # Safety
/// `m` is NULL or a live map used by one thread; `key` and `value` as for `arg`.
pub(crate) unsafe fn map_set<K: Conv, V: Conv>(
    m: *mut Map<K::C, V::C>,
    key: K::P,
    value: V::P,
    err: *mut *mut xenapi_error,
) -> xenapi_status
where
    K::C: PartialEq,
{
    run(err, &mut || {
        // SAFETY: the caller's contract.
        let m = unsafe { handle_mut(m, "map") }?;
        let k = unsafe { K::arg(key, "key") }?.to_c()?;
        let v = unsafe { V::arg(value, "value") }?.to_c()?;
        match m.entries.iter_mut().find(|e| e.0 == k) {
            Some(e) => e.1 = v,
            None => {
                m.entries.push((k, v));
                m.by_key = OnceLock::new();
            }
        }
        Ok(())
    })
}

pub(crate) use crate::boundary::out as check_out;
/// The C type of session handles in generated code.
pub(crate) use crate::session::{session_of, xenapi_session};

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi::api::{Vm, VmPowerState, VmRecord};

    #[test]
    fn server_text_with_a_nul_is_a_protocol_failure() {
        let f = c_text("a\0b".to_owned()).unwrap_err();
        assert_eq!(f.status, xenapi_status::Protocol);
        let rec = VmRecord {
            name_label: "x\0y".into(),
            ..VmRecord::default()
        };
        assert_eq!(rec.to_c().err().unwrap().status, xenapi_status::Protocol);
    }

    #[test]
    fn enums_are_checked_and_keep_unknown_names() {
        assert!(enum_arg::<VmPowerState>(0, "p").is_err());
        assert!(enum_arg::<VmPowerState>(-1, "p").is_err());
        assert!(enum_arg::<VmPowerState>(99, "p").is_err());
        let first = enum_arg::<VmPowerState>(1, "p").unwrap();
        assert_eq!(
            first.as_str(),
            VmPowerState::NAMES[0].trim_end_matches('\0')
        );
        let other = VmPowerState::from("Crashed").to_c().unwrap();
        assert_eq!(VmPowerState::get(Some(&other)), 0);
        let name = unsafe { CStr::from_ptr(enum_name(Some(&other))) };
        assert_eq!(name.to_str().unwrap(), "Crashed");
        assert_eq!(VmPowerState::from_c(&other), VmPowerState::from("Crashed"));
        assert!(enum_to_string::<VmPowerState>(0).is_null());
        let n = unsafe { enum_from_string::<VmPowerState>(c"Halted".as_ptr()) };
        assert_eq!(
            enum_to_string::<VmPowerState>(n),
            VmPowerState::NAMES[n as usize - 1].as_ptr().cast()
        );
    }

    #[test]
    fn records_round_trip_through_their_storage() {
        let mut rec = VmRecord {
            name_label: "web".into(),
            power_state: VmPowerState::from("Running"),
            memory_static_max: 1 << 30,
            ..VmRecord::default()
        };
        rec.other_config.insert("k".into(), "v".into());
        rec.extra.push(("new_field".into(), Value::from("n")));
        let c = rec.clone().to_c().unwrap();
        assert_eq!(VmRecord::from_c(&c), rec);
        let r: Ref<Vm> = Ref::new("OpaqueRef:1");
        assert_eq!(Ref::<Vm>::from_c(&r.clone().to_c().unwrap()), r);
    }

    #[test]
    fn lists_and_maps() {
        unsafe {
            let l = list_new::<S<i64>>();
            assert_eq!(list_push::<i64>(l, 7, ptr::null_mut()), xenapi_status::Ok);
            assert_eq!(list_len(l), 1);
            assert_eq!(list_get::<i64>(l, 0), 7);
            assert_eq!(list_get::<i64>(l, 1), 0);
            free(l);
            let m = map_new::<S<String>, S<f64>>();
            let (k1, k2) = (c"a", c"b");
            assert_eq!(
                map_set::<String, f64>(m, k1.as_ptr(), 1.0, ptr::null_mut()),
                xenapi_status::Ok
            );
            assert_eq!(
                map_set::<String, f64>(m, k2.as_ptr(), 2.0, ptr::null_mut()),
                xenapi_status::Ok
            );
            assert_eq!(
                map_set::<String, f64>(m, k1.as_ptr(), 3.0, ptr::null_mut()),
                xenapi_status::Ok
            );
            assert_eq!(map_len(m), 2);
            let mut at = 9;
            assert!(map_find::<String, f64>(m, k1.as_ptr(), &mut at));
            assert_eq!((at, map_value::<String, f64>(m, at)), (0, 3.0));
            assert!(!map_find::<String, f64>(m, c"c".as_ptr(), ptr::null_mut()));
            assert_eq!(
                map_set::<String, f64>(m, ptr::null(), 1.0, ptr::null_mut()),
                xenapi_status::NullArgument
            );
            free(m);
        }
        let none: Option<String> = None;
        assert!(Option::<String>::get(Some(&none.to_c().unwrap())).is_null());
    }
}
