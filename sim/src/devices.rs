//! The device numbers a VM has free for a new VBD or VIF: `VM.get_allowed_VBD_devices` and
//! `VM.get_allowed_VIF_devices` (xapi_vm_helpers.ml `allowed_VBD_devices`,
//! `allowed_VIF_devices`), which provisioning scripts ask before `VBD.create` / `VIF.create`.

use xenapi::Value;

use crate::dispatch::Failure;
use crate::objects::{bool_of, get_str, need, refs_of, s};
use crate::state::State;

/// The numbers in `0..=last` that no device of `class` in `field` of the VM uses (by the
/// device's `key` field, read as a number).
fn free(
    st: &State,
    vm: &str,
    field: &str,
    class: &str,
    key: &str,
    last: u32,
) -> Result<Value, Failure> {
    let rec = need(st, "VM", vm)?;
    let used: Vec<u32> = refs_of(rec, field)
        .iter()
        .filter_map(|d| get_str(st, class, d, key).parse().ok())
        .collect();
    Ok(Value::Array(
        (0..=last)
            .filter(|n| !used.contains(n))
            .map(|n| s(&n.to_string()))
            .collect(),
    ))
}

/// `VM.get_allowed_VBD_devices(vm)`: userdevices 0 to 254 not in use (255 for a control
/// domain).
pub(crate) fn allowed_vbd_devices(st: &State, vm: &str) -> Result<Value, Failure> {
    let last = if bool_of(need(st, "VM", vm)?, "is_control_domain") {
        255
    } else {
        254
    };
    free(st, vm, "VBDs", "VBD", "userdevice", last)
}

/// `VM.get_allowed_VIF_devices(vm)`: devices 0 to 15 not in use.
pub(crate) fn allowed_vif_devices(st: &State, vm: &str) -> Result<Value, Failure> {
    free(st, vm, "VIFs", "VIF", "device", 15)
}
