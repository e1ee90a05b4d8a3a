//! The C ABI's value functions (`xenapi_value_*`), called as a C program would, from a script of
//! operations read from the input: constructors (text with invalid UTF-8 and early NULs
//! included), array and struct building, every getter on every kind, clone, free and NULL
//! arguments. A panic aborts here even where the boundary would catch it; AddressSanitizer sees
//! the rest (use after free, overreads).
#![no_main]
// The opaque handles are only ever behind pointers, as in C.
#![allow(improper_ctypes)]

use std::ffi::{c_char, CStr};
use std::ptr;

use libfuzzer_sys::fuzz_target;
use xenapi_ffi::{xenapi_error, xenapi_status, xenapi_value, xenapi_value_kind};

// libxenapi's own functions, linked from the rlib of its sources (their Rust paths are private).
extern "C" {
    fn xenapi_value_new_nil() -> *mut xenapi_value;
    fn xenapi_value_new_bool(b: bool) -> *mut xenapi_value;
    fn xenapi_value_new_int64(i: i64) -> *mut xenapi_value;
    fn xenapi_value_new_double(d: f64) -> *mut xenapi_value;
    fn xenapi_value_new_array() -> *mut xenapi_value;
    fn xenapi_value_new_struct() -> *mut xenapi_value;
    fn xenapi_value_new_datetime_unix(unix_seconds: i64) -> *mut xenapi_value;
    fn xenapi_value_new_string(s: *const c_char, out: *mut *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_new_ref(s: *const c_char, out: *mut *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_new_datetime(s: *const c_char, out: *mut *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_new_base64(data: *const u8, len: usize, out: *mut *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_clone(v: *const xenapi_value) -> *mut xenapi_value;
    fn xenapi_value_free(v: *mut xenapi_value);
    fn xenapi_value_array_push(a: *mut xenapi_value, item: *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_struct_set(st: *mut xenapi_value, key: *const c_char, item: *mut xenapi_value, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_kind(v: *const xenapi_value) -> xenapi_value_kind;
    fn xenapi_value_get_string(v: *const xenapi_value, out: *mut *const c_char, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_int64(v: *const xenapi_value, out: *mut i64, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_bool(v: *const xenapi_value, out: *mut bool, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_double(v: *const xenapi_value, out: *mut f64, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_datetime(v: *const xenapi_value, out: *mut *const c_char, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_datetime_unix(v: *const xenapi_value, out: *mut i64, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_get_base64(v: *const xenapi_value, data: *mut *const u8, len: *mut usize, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_value_array_len(v: *const xenapi_value) -> usize;
    fn xenapi_value_array_get(v: *const xenapi_value, i: usize) -> *const xenapi_value;
    fn xenapi_value_struct_len(v: *const xenapi_value) -> usize;
    fn xenapi_value_struct_key(v: *const xenapi_value, i: usize) -> *const c_char;
    fn xenapi_value_struct_value(v: *const xenapi_value, i: usize) -> *const xenapi_value;
    fn xenapi_value_struct_get(v: *const xenapi_value, key: *const c_char) -> *const xenapi_value;
    fn xenapi_value_to_debug_string(v: *const xenapi_value, out: *mut *mut c_char, err: *mut *mut xenapi_error) -> xenapi_status;
    fn xenapi_string_free(s: *mut c_char);
    fn xenapi_error_free(err: *mut xenapi_error);
}

/// Values the script owns; a slot is NULL once freed or handed to a container.
const SLOTS: usize = 8;

struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a
    }

    fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        let got = self.bytes(8);
        b[..got.len()].copy_from_slice(got);
        i64::from_le_bytes(b)
    }

    /// NUL-terminated text (maybe with a NUL inside, maybe not UTF-8).
    fn text(&mut self) -> Vec<u8> {
        let n = usize::from(self.byte().unwrap_or(0) % 32);
        let mut t = self.bytes(n).to_vec();
        t.push(0);
        t
    }
}

fn check(status: xenapi_status, err: *mut xenapi_error) {
    // SAFETY: NULL or an error this library made.
    unsafe {
        if status == xenapi_status::Ok {
            assert!(err.is_null(), "an error object with status Ok");
        } else {
            assert!(!err.is_null(), "status {status:?} without an error object");
            assert_ne!(status, xenapi_status::Panic, "the library panicked");
        }
        xenapi_error_free(err);
    }
}

/// Every reader on `v` (NULL, an owned value or a borrowed child).
unsafe fn read_all(v: *const xenapi_value, key: &[u8]) {
    unsafe {
        let _ = xenapi_value_get_kind(v);
        let mut err = ptr::null_mut();
        let mut s: *const c_char = ptr::null();
        let st = xenapi_value_get_string(v, &mut s, &mut err);
        if st == xenapi_status::Ok {
            let _ = CStr::from_ptr(s).to_bytes().len();
        }
        check(st, err);
        let mut err = ptr::null_mut();
        let mut i = 0i64;
        check(xenapi_value_get_int64(v, &mut i, &mut err), err);
        let mut err = ptr::null_mut();
        let mut b = false;
        check(xenapi_value_get_bool(v, &mut b, &mut err), err);
        let mut err = ptr::null_mut();
        let mut d = 0f64;
        check(xenapi_value_get_double(v, &mut d, &mut err), err);
        let mut err = ptr::null_mut();
        let st = xenapi_value_get_datetime(v, &mut s, &mut err);
        if st == xenapi_status::Ok {
            let _ = CStr::from_ptr(s).to_bytes().len();
        }
        check(st, err);
        let mut err = ptr::null_mut();
        check(xenapi_value_get_datetime_unix(v, &mut i, &mut err), err);
        let mut err = ptr::null_mut();
        let (mut data, mut len) = (ptr::null::<u8>(), 0usize);
        let st = xenapi_value_get_base64(v, &mut data, &mut len, &mut err);
        if st == xenapi_status::Ok && len > 0 {
            let _ = std::slice::from_raw_parts(data, len)
                .iter()
                .fold(0u8, |a, b| a.wrapping_add(*b));
        }
        check(st, err);
        // NULL out-pointers are refused, not written.
        let mut err = ptr::null_mut();
        check(xenapi_value_get_int64(v, ptr::null_mut(), &mut err), err);
        for i in 0..xenapi_value_array_len(v) + 1 {
            let _ = xenapi_value_get_kind(xenapi_value_array_get(v, i));
        }
        for i in 0..xenapi_value_struct_len(v) + 1 {
            let k = xenapi_value_struct_key(v, i);
            if !k.is_null() {
                let _ = CStr::from_ptr(k).to_bytes().len();
            }
            let _ = xenapi_value_get_kind(xenapi_value_struct_value(v, i));
        }
        let _ = xenapi_value_struct_get(v, key.as_ptr().cast());
        let _ = xenapi_value_struct_get(v, ptr::null());
        let mut err = ptr::null_mut();
        let mut dbg: *mut c_char = ptr::null_mut();
        let st = xenapi_value_to_debug_string(v, &mut dbg, &mut err);
        if st == xenapi_status::Ok {
            let _ = CStr::from_ptr(dbg).to_bytes().len();
            xenapi_string_free(dbg);
        }
        check(st, err);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script(data);
    let mut slots: [*mut xenapi_value; SLOTS] = [ptr::null_mut(); SLOTS];
    let mut steps = 0;
    // SAFETY: every pointer passed is NULL, a live value the script owns, or a child borrowed
    // from one and used before anything changes it.
    unsafe {
        while let Some(op) = script.byte() {
            steps += 1;
            if steps > 256 {
                break;
            }
            let slot = usize::from(script.byte().unwrap_or(0)) % SLOTS;
            let other = usize::from(script.byte().unwrap_or(1)) % SLOTS;
            let mut made: *mut xenapi_value = ptr::null_mut();
            match op % 18 {
                0 => made = xenapi_value_new_nil(),
                1 => made = xenapi_value_new_bool(script.byte().unwrap_or(0) & 1 == 1),
                2 => made = xenapi_value_new_int64(script.i64()),
                3 => made = xenapi_value_new_double(f64::from_bits(script.i64() as u64)),
                4 => made = xenapi_value_new_array(),
                5 => made = xenapi_value_new_struct(),
                6 => made = xenapi_value_new_datetime_unix(script.i64()),
                7..=9 => {
                    let t = script.text();
                    let mut err = ptr::null_mut();
                    let f = match op % 18 {
                        7 => xenapi_value_new_string,
                        8 => xenapi_value_new_ref,
                        _ => xenapi_value_new_datetime,
                    };
                    check(f(t.as_ptr().cast(), &mut made, &mut err), err);
                    let mut err = ptr::null_mut();
                    let mut none = ptr::null_mut();
                    check(f(ptr::null(), &mut none, &mut err), err);
                    assert!(none.is_null());
                }
                10 => {
                    let n = usize::from(script.byte().unwrap_or(0) % 64);
                    let bytes = script.bytes(n).to_vec();
                    let mut err = ptr::null_mut();
                    check(
                        xenapi_value_new_base64(bytes.as_ptr(), bytes.len(), &mut made, &mut err),
                        err,
                    );
                    // NULL data: fine when empty, refused otherwise.
                    let mut err = ptr::null_mut();
                    let mut more = ptr::null_mut();
                    check(
                        xenapi_value_new_base64(ptr::null(), n % 2, &mut more, &mut err),
                        err,
                    );
                    xenapi_value_free(more);
                }
                11 if slot != other => {
                    let mut err = ptr::null_mut();
                    let item = std::mem::replace(&mut slots[other], ptr::null_mut());
                    check(xenapi_value_array_push(slots[slot], item, &mut err), err);
                }
                12 if slot != other => {
                    let key = script.text();
                    let mut err = ptr::null_mut();
                    let item = std::mem::replace(&mut slots[other], ptr::null_mut());
                    check(
                        xenapi_value_struct_set(slots[slot], key.as_ptr().cast(), item, &mut err),
                        err,
                    );
                }
                13 => {
                    let key = script.text();
                    read_all(slots[slot], &key);
                }
                14 => {
                    // A child, borrowed: read it where it lives.
                    let v = slots[slot];
                    let i = usize::from(script.byte().unwrap_or(0));
                    let key = script.text();
                    read_all(xenapi_value_array_get(v, i), &key);
                    read_all(xenapi_value_struct_value(v, i), &key);
                    read_all(xenapi_value_struct_get(v, key.as_ptr().cast()), &key);
                }
                15 => made = xenapi_value_clone(slots[other]),
                16 => {
                    xenapi_value_free(slots[slot]);
                    slots[slot] = ptr::null_mut();
                }
                _ => {
                    // Constructors that take out-pointers, given none.
                    let mut err = ptr::null_mut();
                    check(
                        xenapi_value_new_string(b"x\0".as_ptr().cast(), ptr::null_mut(), &mut err),
                        err,
                    );
                    let _ = xenapi_value_array_push(ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
                }
            }
            if !made.is_null() {
                xenapi_value_free(std::mem::replace(&mut slots[slot], made));
            }
        }
        for v in slots {
            xenapi_value_free(v);
        }
    }
});
