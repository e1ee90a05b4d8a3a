//! The one place where the typed C functions reach the core: each is a call into the generated
//! typed API (`xenapi::api::*`) or `xenapi::task::wait`, with the result put in the shape the C
//! side hands out. No XenAPI method name is spelled here.

use std::time::Duration;

use xenapi::api::{Event, Host, HostCpu, HostMetrics, Task, Vm, VmMetrics};
use xenapi::convert::ToValue;
use xenapi::{Error, Ref, Session, Value};

type R<T> = Result<T, Error>;

fn refs<C>(v: Vec<Ref<C>>) -> Vec<String> {
    v.into_iter().map(Ref::into_string).collect()
}

/// Every VM with its record as a struct value (unknown fields kept), sorted by name then
/// reference so that listings are stable.
pub(crate) fn vm_get_all_records(session: &Session) -> R<Vec<(String, Value)>> {
    let mut all: Vec<(String, String, Value)> = Vm::get_all_records(session)?
        .into_iter()
        .map(|(r, rec)| (rec.name_label.clone(), r.into_string(), rec.to_value()))
        .collect();
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(all.into_iter().map(|(_, r, v)| (r, v)).collect())
}

pub(crate) fn vm_get_by_name_label(session: &Session, label: &str) -> R<Vec<String>> {
    Ok(refs(Vm::get_by_name_label(session, label)?))
}

/// The power state as the server wrote it.
pub(crate) fn vm_get_power_state(session: &Session, vm: &str) -> R<String> {
    // The generated enum already knows the wire names (and keeps unknown ones).
    Ok(Vm::get_power_state(session, &Ref::new(vm))?
        .as_str()
        .to_owned())
}

/// The VM power operations the C ABI offers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum VmOp {
    Start { paused: bool, force: bool },
    Resume { paused: bool, force: bool },
    CleanShutdown,
    HardShutdown,
    CleanReboot,
    HardReboot,
    Pause,
    Unpause,
    Suspend,
}

pub(crate) fn vm_op(session: &Session, vm: &str, op: VmOp) -> R<()> {
    let vm: Ref<Vm> = Ref::new(vm);
    match op {
        VmOp::Start { paused, force } => Vm::start(session, &vm, paused, force),
        VmOp::Resume { paused, force } => Vm::resume(session, &vm, paused, force),
        VmOp::CleanShutdown => Vm::clean_shutdown(session, &vm),
        VmOp::HardShutdown => Vm::hard_shutdown(session, &vm),
        VmOp::CleanReboot => Vm::clean_reboot(session, &vm),
        VmOp::HardReboot => Vm::hard_reboot(session, &vm),
        VmOp::Pause => Vm::pause(session, &vm),
        VmOp::Unpause => Vm::unpause(session, &vm),
        VmOp::Suspend => Vm::suspend(session, &vm),
    }
}

pub(crate) fn vm_memory_actual(session: &Session, vm: &str) -> R<i64> {
    let m = Vm::get_metrics(session, &Ref::new(vm))?;
    VmMetrics::get_memory_actual(session, &m)
}

/// `(VCPU number, fraction)`, ordered by VCPU number.
pub(crate) fn vm_vcpus_utilisation(session: &Session, vm: &str) -> R<Vec<(i64, f64)>> {
    let m = Vm::get_metrics(session, &Ref::new(vm))?;
    let mut items: Vec<(i64, f64)> = VmMetrics::get_vcpus_utilisation(session, &m)?
        .into_iter()
        .collect();
    items.sort_by_key(|(cpu, _)| *cpu);
    Ok(items)
}

pub(crate) fn host_get_all(session: &Session) -> R<Vec<String>> {
    Ok(refs(Host::get_all(session)?))
}

pub(crate) fn host_list_methods(session: &Session) -> R<Vec<String>> {
    Host::list_methods(session)
}

pub(crate) fn host_dmesg(session: &Session, host: &str) -> R<String> {
    Host::dmesg(session, &Ref::new(host))
}

pub(crate) fn host_get_log(session: &Session, host: &str) -> R<String> {
    Host::get_log(session, &Ref::new(host))
}

/// `(CPU number, fraction)` for every physical CPU of the host, ordered by number.
pub(crate) fn host_cpu_utilisation(session: &Session, host: &str) -> R<Vec<(i64, f64)>> {
    let mut items = Host::get_host_cpus(session, &Ref::new(host))?
        .iter()
        .map(|cpu| HostCpu::get_record(session, cpu).map(|r| (r.number, r.utilisation)))
        .collect::<R<Vec<_>>>()?;
    items.sort_by_key(|(cpu, _)| *cpu);
    Ok(items)
}

/// `(memory_total, memory_free)` in bytes.
pub(crate) fn host_memory(session: &Session, host: &str) -> R<(i64, i64)> {
    let m = Host::get_metrics(session, &Ref::new(host))?;
    let rec = HostMetrics::get_record(session, &m)?;
    Ok((rec.memory_total, rec.memory_free))
}

pub(crate) fn event_from(
    session: &Session,
    classes: Vec<String>,
    token: &str,
    timeout: f64,
) -> R<Value> {
    Ok(Event::from(session, &classes, token, timeout)?.to_value())
}

pub(crate) fn task_wait(session: &Session, task: &str, timeout: Duration) -> R<Value> {
    let task: Ref<Task> = Ref::new(task);
    xenapi::task::wait(session, &task, timeout)
}
