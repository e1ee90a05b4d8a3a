//! Typed VM operations: the talk's list, power-state changes and metrics.
//!
//! Each calls the core's generated typed API (`xenapi::api::Vm`, `VmMetrics`) through `calls`.

use std::ffi::{c_char, CString};
use std::ptr;

use crate::boundary::{fallible, infallible, out, put, text};
use crate::calls::{self, VmOp};
use crate::error::{xenapi_error, xenapi_status, Fail};
use crate::host::xenapi_cpu_usage;
use crate::session::{session_of, xenapi_session};
use crate::strings::{cstring, xenapi_string_list};
use crate::value::xenapi_value;

/// A VM's power state (`vm_power_state`). Servers may add states: those read as
/// `XENAPI_VM_POWER_STATE_UNKNOWN` (the record still holds the text).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xenapi_vm_power_state {
    Halted = 0,
    Paused = 1,
    Running = 2,
    Suspended = 3,
    /// xend 3.3 and later.
    Crashed = 4,
    /// A state this library does not know, or no state (a NULL or out-of-range argument).
    Unknown = 5,
}

impl xenapi_vm_power_state {
    fn parse(s: &str) -> Self {
        // Servers write them capitalised; xapi's error parameters use lowercase.
        match s.to_ascii_lowercase().as_str() {
            "halted" => Self::Halted,
            "paused" => Self::Paused,
            "running" => Self::Running,
            "suspended" => Self::Suspended,
            "crashed" => Self::Crashed,
            _ => Self::Unknown,
        }
    }
}

/// The name of a power state as the server writes it (`"Halted"`, `"Running"`, ...);
/// `"Unknown"` for anything else.
///
/// Ownership: the string is static; do not free it.
#[no_mangle]
pub extern "C" fn xenapi_vm_power_state_name(state: i32) -> *const c_char {
    let s: &'static str = match state {
        0 => "Halted\0",
        1 => "Paused\0",
        2 => "Running\0",
        3 => "Suspended\0",
        4 => "Crashed\0",
        _ => "Unknown\0",
    };
    s.as_ptr().cast()
}

/// Every VM of the server (templates and the control domain included) with its record, from
/// `xenapi_vm_get_all_records`. Read it with the `xenapi_vm_list_*` accessors; free it with
/// `xenapi_vm_list_free`. Immutable: safe to read from several threads at once.
pub struct xenapi_vm_list {
    entries: Vec<(CString, xenapi_value)>,
}

/// Lists every VM with its record (`VM.get_all_records`), in the server's order.
///
/// Ownership: `session` is borrowed. On success `*out_list` receives a list the caller frees with
/// `xenapi_vm_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_get_all_records(
    session: *const xenapi_session,
    out_list: *mut *mut xenapi_vm_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_list, "out_list")?;
        // SAFETY: NULL or a live session.
        let s = unsafe { session_of(session) }?;
        let records = calls::vm_get_all_records(s)?;
        let entries = records
            .into_iter()
            .map(|(r, rec)| (cstring(r), xenapi_value::from_core(rec)))
            .collect();
        // SAFETY: checked above.
        unsafe {
            put(
                out_list,
                Box::into_raw(Box::new(xenapi_vm_list { entries })),
            )
        };
        Ok(())
    })
}

unsafe fn entry<'a>(
    list: *const xenapi_vm_list,
    index: usize,
) -> Option<&'a (CString, xenapi_value)> {
    // SAFETY: NULL or a live list.
    unsafe { list.as_ref() }.and_then(|l| l.entries.get(index))
}

fn field_str(rec: &xenapi_value, name: &str) -> *const c_char {
    rec.member(name)
        .and_then(xenapi_value::str_ptr)
        .map_or(ptr::null(), |c| c.as_ptr())
}

/// The number of VMs in `list`; 0 if `list` is NULL.
///
/// Ownership: `list` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_len(list: *const xenapi_vm_list) -> usize {
    infallible(0, || {
        // SAFETY: NULL or a live list.
        unsafe { list.as_ref() }.map_or(0, |l| l.entries.len())
    })
}

/// The reference of VM `index` (what the VM functions take); NULL if out of range or `list` is
/// NULL.
///
/// Ownership: `list` is borrowed; the string is borrowed from `list`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_ref(
    list: *const xenapi_vm_list,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live list.
        unsafe { entry(list, index) }.map_or(ptr::null(), |(r, _)| r.as_ptr())
    })
}

/// The `name_label` of VM `index`; NULL if out of range, `list` is NULL or the record has none.
///
/// Ownership: `list` is borrowed; the string is borrowed from `list`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_name_label(
    list: *const xenapi_vm_list,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live list.
        unsafe { entry(list, index) }.map_or(ptr::null(), |(_, rec)| field_str(rec, "name_label"))
    })
}

/// The `uuid` of VM `index`; NULL if out of range, `list` is NULL or the record has none.
///
/// Ownership: `list` is borrowed; the string is borrowed from `list`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_uuid(
    list: *const xenapi_vm_list,
    index: usize,
) -> *const c_char {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live list.
        unsafe { entry(list, index) }.map_or(ptr::null(), |(_, rec)| field_str(rec, "uuid"))
    })
}

/// The `power_state` of VM `index` when the list was made; `XENAPI_VM_POWER_STATE_UNKNOWN` if out
/// of range, `list` is NULL or the state is not one this library knows.
///
/// Ownership: `list` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_power_state(
    list: *const xenapi_vm_list,
    index: usize,
) -> xenapi_vm_power_state {
    infallible(xenapi_vm_power_state::Unknown, || {
        // SAFETY: NULL or a live list.
        unsafe { entry(list, index) }
            .and_then(|(_, rec)| rec.member("power_state"))
            .and_then(|v| v.str_ptr())
            .map_or(xenapi_vm_power_state::Unknown, |c| {
                xenapi_vm_power_state::parse(&c.to_string_lossy())
            })
    })
}

/// The whole record of VM `index` (a struct: `name_label`, `power_state`, `domid`,
/// `memory_target`, `VCPUs_max`, `is_a_template`, `is_control_domain`, `metrics`, ...; read it with
/// the `xenapi_value_*` functions); NULL if out of range or `list` is NULL.
///
/// Ownership: `list` is borrowed; the record is borrowed from `list` (do not free it).
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_record(
    list: *const xenapi_vm_list,
    index: usize,
) -> *const xenapi_value {
    infallible(ptr::null(), || {
        // SAFETY: NULL or a live list.
        unsafe { entry(list, index) }.map_or(ptr::null(), |(_, rec)| rec as *const _)
    })
}

/// Frees a VM list. NULL is allowed.
///
/// Ownership: takes `list`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_list_free(list: *mut xenapi_vm_list) {
    infallible((), || {
        if !list.is_null() {
            // SAFETY: a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// The references of the VMs whose `name_label` is `label` (`VM.get_by_name_label`); an empty
/// list when there is none.
///
/// Ownership: `session` and `label` are borrowed. On success `*out_list` receives a list the
/// caller frees with `xenapi_string_list_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_get_by_name_label(
    session: *const xenapi_session,
    label: *const c_char,
    out_list: *mut *mut xenapi_string_list,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_list, "out_list")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let label = unsafe { text(label, "label") }?;
        let refs = calls::vm_get_by_name_label(s, label)?;
        // SAFETY: checked above.
        unsafe {
            put(
                out_list,
                Box::into_raw(Box::new(xenapi_string_list::new(refs))),
            )
        };
        Ok(())
    })
}

/// The current power state of `vm` (`VM.get_power_state`). A state this library does not know
/// gives `XENAPI_VM_POWER_STATE_UNKNOWN`; a bad reference gives `XENAPI_STATUS_API` with code
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_get_power_state(
    session: *const xenapi_session,
    vm: *const c_char,
    out_state: *mut xenapi_vm_power_state,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_state, "out_state")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        let state = calls::vm_get_power_state(s, vm)?;
        // SAFETY: checked above.
        unsafe { put(out_state, xenapi_vm_power_state::parse(&state)) };
        Ok(())
    })
}

unsafe fn vm_op(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
    op: VmOp,
) -> xenapi_status {
    fallible(err, || {
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        calls::vm_op(s, vm, op).map_err(Fail::from)
    })
}

/// Starts a halted VM (`VM.start`); with `start_paused` it is left paused. `force` overrides
/// checks on xapi (xend has no such parameter: it is dropped there).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`; a bad
/// reference gives `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_start(
    session: *const xenapi_session,
    vm: *const c_char,
    start_paused: bool,
    force: bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        vm_op(
            session,
            vm,
            err,
            VmOp::Start {
                paused: start_paused,
                force,
            },
        )
    }
}

/// Resumes a suspended VM (`VM.resume`); `start_paused` and `force` as for `xenapi_vm_start`.
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_resume(
    session: *const xenapi_session,
    vm: *const c_char,
    start_paused: bool,
    force: bool,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        vm_op(
            session,
            vm,
            err,
            VmOp::Resume {
                paused: start_paused,
                force,
            },
        )
    }
}

/// Asks a running VM's guest to shut down (`VM.clean_shutdown`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_clean_shutdown(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::CleanShutdown) }
}

/// Stops a live VM at once, like pulling the plug (`VM.hard_shutdown`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_hard_shutdown(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::HardShutdown) }
}

/// Asks a running VM's guest to reboot (`VM.clean_reboot`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_clean_reboot(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::CleanReboot) }
}

/// Resets a live VM at once (`VM.hard_reboot`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_hard_reboot(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::HardReboot) }
}

/// Pauses a running VM (`VM.pause`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_pause(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::Pause) }
}

/// Unpauses a paused VM (`VM.unpause`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_unpause(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::Unpause) }
}

/// Suspends a running VM to disk (`VM.suspend`).
///
/// A VM in the wrong power state gives `XENAPI_STATUS_API` with code `VM_BAD_POWER_STATE`
/// (parameters: the VM, the expected and the actual state); a bad reference gives
/// `HANDLE_INVALID`.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_suspend(
    session: *const xenapi_session,
    vm: *const c_char,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    // SAFETY: forwarded caller contract.
    unsafe { vm_op(session, vm, err, VmOp::Suspend) }
}

/// The memory the VM actually has now, in bytes (`VM_metrics.memory_actual` of `VM.get_metrics`);
/// 0 for a halted VM.
///
/// Ownership: all arguments are borrowed.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_get_memory_actual(
    session: *const xenapi_session,
    vm: *const c_char,
    out_bytes: *mut i64,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_bytes, "out_bytes")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        let bytes = calls::vm_memory_actual(s, vm)?;
        // SAFETY: checked above.
        unsafe { put(out_bytes, bytes) };
        Ok(())
    })
}

/// The utilisation of each VCPU of `vm`, a fraction from 0 to 1 per VCPU
/// (`VM_metrics.VCPUs_utilisation`), ordered by VCPU number; empty for a halted VM.
///
/// Ownership: all arguments are borrowed. On success `*out_usage` receives a handle the caller
/// frees with `xenapi_cpu_usage_free`.
#[no_mangle]
pub unsafe extern "C" fn xenapi_vm_get_vcpus_utilisation(
    session: *const xenapi_session,
    vm: *const c_char,
    out_usage: *mut *mut xenapi_cpu_usage,
    err: *mut *mut xenapi_error,
) -> xenapi_status {
    fallible(err, || {
        out(out_usage, "out_usage")?;
        // SAFETY: NULL or a live session / NUL-terminated string.
        let s = unsafe { session_of(session) }?;
        let vm = unsafe { text(vm, "vm") }?;
        let usage = xenapi_cpu_usage::new(calls::vm_vcpus_utilisation(s, vm)?);
        // SAFETY: checked above.
        unsafe { put(out_usage, Box::into_raw(Box::new(usage))) };
        Ok(())
    })
}
