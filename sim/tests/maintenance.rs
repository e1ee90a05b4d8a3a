//! Host maintenance and migration within the pool, over the wire: host.disable/enable, the
//! evacuation plan and host.evacuate (with its defaulted parameters left out), host.reboot and
//! shutdown, VM.pool_migrate, VM.assert_can_migrate and VM.migrate_send, with their errors.

mod common;

use common::{s, strings, Client};
use xenapi::Value;
use xenapi_sim::{Config, Running, Simulator};

fn pool() -> Running {
    Simulator::start(Config {
        hosts: 2,
        seed: Some(5),
        ..Config::default()
    })
    .expect("the simulator starts")
}

struct Pool {
    c: Client,
    ss: String,
    hosts: Vec<String>,
}

impl Pool {
    fn new(sim: &Running) -> Pool {
        let mut c = Client::connect(sim.addr());
        let ss = c.login();
        let hosts = strings(&c.ok("host.get_all", vec![s(&ss)]));
        assert_eq!(hosts.len(), 2);
        Pool { c, ss, hosts }
    }

    fn get(&mut self, class: &str, field: &str, r: &str) -> Value {
        self.c
            .ok(&format!("{class}.get_{field}"), vec![s(&self.ss), s(r)])
    }

    fn guests_on(&mut self, host: &str) -> Vec<String> {
        strings(&self.get("host", "resident_VMs", host))
            .into_iter()
            .filter(|vm| self.get("VM", "is_control_domain", vm) == Value::Bool(false))
            .collect()
    }

    fn ok(&mut self, method: &str, args: &[Value]) -> Value {
        let mut params = vec![s(&self.ss)];
        params.extend_from_slice(args);
        self.c.ok(method, params)
    }

    fn err(&mut self, method: &str, args: &[Value]) -> Vec<String> {
        let mut params = vec![s(&self.ss)];
        params.extend_from_slice(args);
        self.c.err(method, params)
    }
}

fn map(pairs: &[(&str, &str)]) -> Value {
    Value::structure(pairs.iter().map(|(k, v)| (*k, s(v))))
}

#[test]
fn disable_evacuate_reboot_enable() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let (h0, h1) = (p.hosts[0].clone(), p.hosts[1].clone());
    let on_h0 = p.guests_on(&h0);
    assert!(!on_h0.is_empty(), "a running guest on the first host");

    // Reboot needs a disabled host, and the allowed operations say so.
    assert_eq!(p.err("host.reboot", &[s(&h0)]), ["HOST_NOT_DISABLED"]);
    assert_eq!(p.err("host.shutdown", &[s(&h0)]), ["HOST_NOT_DISABLED"]);
    assert!(!strings(&p.get("host", "allowed_operations", &h0)).contains(&"reboot".to_owned()));
    p.ok("host.disable", &[s(&h0)]);
    assert_eq!(p.get("host", "enabled", &h0), Value::Bool(false));
    assert!(strings(&p.get("host", "allowed_operations", &h0)).contains(&"reboot".to_owned()));

    // Nothing prevents the evacuation; the short form (no network, no batch size) moves
    // every guest to the other host and leaves the control domain.
    let blockers = p.ok("host.get_vms_which_prevent_evacuation", &[s(&h0)]);
    assert_eq!(blockers, Value::Struct(Vec::new()));
    p.ok("host.assert_can_evacuate", &[s(&h0)]);
    p.ok("host.evacuate", &[s(&h0)]);
    assert!(p.guests_on(&h0).is_empty());
    let on_h1 = p.guests_on(&h1);
    for vm in &on_h0 {
        assert!(on_h1.contains(vm));
        assert_eq!(p.get("VM", "resident_on", vm), s(&h1));
        assert_eq!(p.get("VM", "power_state", vm), s("Running"));
    }
    assert_eq!(strings(&p.get("host", "resident_VMs", &h0)).len(), 1);

    // A disabled host starts nothing: the halted guest starts on the other one.
    let vm2 = p.c.vm(&p.ss.clone(), "vm02");
    p.ok(
        "VM.start",
        &[s(&vm2), Value::Bool(false), Value::Bool(false)],
    );
    assert_eq!(p.get("VM", "resident_on", &vm2), s(&h1));

    // Reboot: the host comes back enabled (auto_enable defaults to true).
    p.ok("host.reboot", &[s(&h0)]);
    assert_eq!(p.get("host", "enabled", &h0), Value::Bool(true));
    p.ok("host.disable", &[s(&h0)]);
    p.ok("host.enable", &[s(&h0)]);
    assert_eq!(p.get("host", "enabled", &h0), Value::Bool(true));
}

#[test]
fn evacuation_errors_name_each_vm() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let (h0, h1) = (p.hosts[0].clone(), p.hosts[1].clone());
    let on_h0 = p.guests_on(&h0);
    // No other enabled host: NO_HOSTS_AVAILABLE per VM.
    p.ok("host.disable", &[s(&h1)]);
    let blockers = p.ok("host.get_vms_which_prevent_evacuation", &[s(&h0)]);
    for vm in &on_h0 {
        assert_eq!(
            blockers.get(vm).map(strings),
            Some(vec!["NO_HOSTS_AVAILABLE".to_owned(), vm.clone()])
        );
    }
    let err = p.err("host.assert_can_evacuate", &[s(&h0)]);
    assert_eq!(err[0], "CANNOT_EVACUATE_HOST");
    assert!(
        err[1].starts_with("NO_HOSTS_AVAILABLE,OpaqueRef:"),
        "{err:?}"
    );
    assert_eq!(p.err("host.evacuate", &[s(&h0)])[0], "NO_HOSTS_AVAILABLE");
    p.ok("host.enable", &[s(&h1)]);
    // A blocked pool_migrate stops its VM.
    let vm = on_h0[0].clone();
    p.ok(
        "VM.add_to_blocked_operations",
        &[s(&vm), s("pool_migrate"), s("kept here")],
    );
    let blockers = p.ok("host.get_vms_which_prevent_evacuation", &[s(&h0)]);
    assert_eq!(
        blockers.get(&vm).map(strings),
        Some(vec![
            "OPERATION_BLOCKED".to_owned(),
            vm.clone(),
            "kept here".to_owned()
        ])
    );
    p.ok(
        "VM.remove_from_blocked_operations",
        &[s(&vm), s("pool_migrate")],
    );
    // A migration network the destination has no PIF on.
    let internal = strings(&p.ok(
        "network.get_by_name_label",
        &[s("Host internal management network")],
    ))[0]
        .clone();
    assert_eq!(
        p.err("host.evacuate", &[s(&h0), s(&internal), s("0")]),
        ["PIF_NOT_PRESENT", &h1, &internal]
    );
    // A guest bigger than what the other host has free.
    let big = p.c.vm(&p.ss.clone(), "vm02");
    let gib = 1i64 << 30;
    let size = s(&(252 * gib).to_string());
    p.ok(
        "VM.set_memory_limits",
        &[s(&big), size.clone(), size.clone(), size.clone(), size],
    );
    p.ok("VM.set_affinity", &[s(&big), s(&h0)]);
    p.ok(
        "VM.start",
        &[s(&big), Value::Bool(false), Value::Bool(false)],
    );
    assert_eq!(p.get("VM", "resident_on", &big), s(&h0));
    let blockers = p.ok("host.get_vms_which_prevent_evacuation", &[s(&h0)]);
    assert_eq!(
        blockers.get(&big).map(strings),
        Some(vec!["HOST_NOT_ENOUGH_FREE_MEMORY".to_owned(), big.clone()])
    );
    assert_eq!(
        p.err(
            "VM.pool_migrate",
            &[s(&big), s(&h1), Value::Struct(Vec::new())]
        )[0],
        "HOST_NOT_ENOUGH_FREE_MEMORY"
    );
}

#[test]
fn pool_migrate_moves_a_running_vm_and_refuses_what_xapi_refuses() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let (h0, h1) = (p.hosts[0].clone(), p.hosts[1].clone());
    let vm = p.guests_on(&h0)[0].clone();
    let no_options = Value::Struct(Vec::new());
    p.ok("VM.pool_migrate", &[s(&vm), s(&h1), no_options.clone()]);
    assert_eq!(p.get("VM", "resident_on", &vm), s(&h1));
    assert!(p.guests_on(&h1).contains(&vm));
    // As a task.
    let task = p.ok(
        "Async.VM.pool_migrate",
        &[s(&vm), s(&h0), no_options.clone()],
    );
    let task = task.as_str().unwrap().to_owned();
    for _ in 0..100 {
        if p.get("task", "status", &task) != s("pending") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(p.get("task", "status", &task), s("success"));
    assert_eq!(p.get("VM", "resident_on", &vm), s(&h0));
    // Wrong power state, unknown host, disabled host.
    let halted = p.c.vm(&p.ss.clone(), "vm02");
    assert_eq!(
        p.err("VM.pool_migrate", &[s(&halted), s(&h1), no_options.clone()]),
        ["VM_BAD_POWER_STATE", &halted, "running", "halted"]
    );
    assert_eq!(
        p.err(
            "VM.pool_migrate",
            &[s(&vm), s("OpaqueRef:nope"), no_options.clone()]
        ),
        ["HANDLE_INVALID", "host", "OpaqueRef:nope"]
    );
    p.ok("host.disable", &[s(&h1)]);
    assert_eq!(
        p.err("VM.pool_migrate", &[s(&vm), s(&h1), no_options.clone()]),
        ["HOST_DISABLED", &h1]
    );
    // The operation checks on their own, and the allowed operations they give.
    assert_eq!(
        p.err("VM.assert_operation_valid", &[s(&vm), s("start")]),
        ["VM_BAD_POWER_STATE", &vm, "halted", "running"]
    );
    p.ok("VM.assert_operation_valid", &[s(&vm), s("clean_shutdown")]);
    p.ok("VM.update_allowed_operations", &[s(&vm)]);
    assert!(strings(&p.get("VM", "allowed_operations", &vm)).contains(&"pool_migrate".to_owned()));
    // The control domain does not migrate.
    let dom0 = p.get("host", "control_domain", &h0);
    assert_eq!(
        p.err("VM.pool_migrate", &[dom0, s(&h0), no_options])[0],
        "OPERATION_NOT_ALLOWED"
    );
}

#[test]
fn migrate_send_within_the_pool() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let (h0, h1) = (p.hosts[0].clone(), p.hosts[1].clone());
    let vm = p.guests_on(&h0)[0].clone();
    let vbds = strings(&p.get("VM", "VBDs", &vm));
    let mut disk = String::new();
    for b in &vbds {
        if p.get("VBD", "type", b) == s("Disk") {
            disk = p.get("VBD", "VDI", b).as_str().unwrap().to_owned();
        }
    }
    let sr = p.get("VDI", "SR", &disk).as_str().unwrap().to_owned();
    let dest = map(&[("host", &h1)]);
    let empty = Value::Struct(Vec::new());
    let vdi_map = map(&[(&disk, &sr)]);
    // Every disk must be in the VDI map.
    let no_vdis = [
        s(&vm),
        dest.clone(),
        Value::Bool(true),
        empty.clone(),
        empty.clone(),
        empty.clone(),
    ];
    assert_eq!(
        p.err("VM.assert_can_migrate", &no_vdis),
        ["VDI_NOT_IN_MAP", &disk]
    );
    // No VIF map within a pool.
    let vif = strings(&p.get("VM", "VIFs", &vm))[0].clone();
    let net = p.get("VIF", "network", &vif);
    let vif_map = Value::structure([(vif.as_str(), net)]);
    let err = p.err(
        "VM.assert_can_migrate",
        &[
            s(&vm),
            dest.clone(),
            Value::Bool(true),
            vdi_map.clone(),
            vif_map,
            empty.clone(),
        ],
    );
    assert_eq!(err[0], "OPERATION_NOT_ALLOWED");
    // The short forms (no vgpu_map) check, then move.
    let args = [
        s(&vm),
        dest.clone(),
        Value::Bool(true),
        vdi_map.clone(),
        empty.clone(),
        empty.clone(),
    ];
    p.ok("VM.assert_can_migrate", &args);
    assert_eq!(p.ok("VM.migrate_send", &args), s(&vm));
    assert_eq!(p.get("VM", "resident_on", &vm), s(&h1));
    // Another pool's host is not modelled.
    let elsewhere = map(&[("host", "OpaqueRef:elsewhere")]);
    let err = p.err(
        "VM.migrate_send",
        &[
            s(&vm),
            elsewhere,
            Value::Bool(true),
            vdi_map,
            empty.clone(),
            empty,
        ],
    );
    assert_eq!(err[0], "NOT_IMPLEMENTED");
}

#[test]
fn start_on_possible_hosts_and_free_memory() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let (h0, h1) = (p.hosts[0].clone(), p.hosts[1].clone());
    let vm = p.c.vm(&p.ss.clone(), "vm02");
    let both = p.ok("VM.get_possible_hosts", &[s(&vm)]);
    assert_eq!(strings(&both).len(), 2);
    p.ok("host.disable", &[s(&h1)]);
    let possible = strings(&p.ok("VM.get_possible_hosts", &[s(&vm)]));
    assert_eq!(possible.len(), 1);
    assert_eq!(possible[0], h0);
    assert_eq!(
        p.err("VM.assert_can_boot_here", &[s(&vm), s(&h1)]),
        ["HOST_DISABLED", &h1]
    );
    let no = Value::Bool(false);
    assert_eq!(
        p.err("VM.start_on", &[s(&vm), s(&h1), no.clone(), no.clone()]),
        ["HOST_DISABLED", &h1]
    );
    p.ok("host.enable", &[s(&h1)]);
    p.ok("VM.assert_can_boot_here", &[s(&vm), s(&h1)]);
    let free = |p: &mut Pool| {
        p.ok("host.compute_free_memory", &[s(&h1)])
            .as_i64()
            .expect("an int")
    };
    let before = free(&mut p);
    p.ok("VM.start_on", &[s(&vm), s(&h1), no.clone(), no.clone()]);
    assert_eq!(p.get("VM", "resident_on", &vm), s(&h1));
    assert_eq!(p.get("VM", "power_state", &vm), s("Running"));
    let needed = p.get("VM", "memory_dynamic_min", &vm).as_i64().unwrap()
        + p.get("VM", "memory_overhead", &vm).as_i64().unwrap();
    assert_eq!(before - free(&mut p), needed);
    assert_eq!(
        p.err("VM.start_on", &[s(&vm), s(&h0), no.clone(), no]),
        ["VM_BAD_POWER_STATE", &vm, "halted", "running"]
    );
}

#[test]
fn free_device_numbers_for_new_vbds_and_vifs() {
    let sim = pool();
    let mut p = Pool::new(&sim);
    let vm = p.c.vm(&p.ss.clone(), "vm02");
    // vm02 has a disk at 0 and a CD drive at 3, a VIF at 0.
    let vbds = strings(&p.ok("VM.get_allowed_VBD_devices", &[s(&vm)]));
    assert_eq!(vbds.len(), 255 - 2);
    assert_eq!(&vbds[..3], ["1", "2", "4"]);
    assert_eq!(vbds.last().map(String::as_str), Some("254"));
    let vifs = strings(&p.ok("VM.get_allowed_VIF_devices", &[s(&vm)]));
    assert_eq!(vifs, (1..=15).map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(
        p.err("VM.get_allowed_VIF_devices", &[s("OpaqueRef:none")]),
        ["HANDLE_INVALID", "VM", "OpaqueRef:none"]
    );
}

#[test]
fn xend_leaves_the_xapi_host_model_out() {
    let sim = Simulator::start(Config {
        dialect: xenapi_sim::Dialect::Xend,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.ok(
        "session.login_with_password",
        vec![s("root"), s("password")],
    );
    let host = c.ok("host.get_all", vec![ss.clone()]).as_array().unwrap()[0].clone();
    assert_eq!(
        c.err("host.disable", vec![ss.clone(), host.clone()]),
        ["NOT_IMPLEMENTED", "host.disable"]
    );
    assert_eq!(
        // xend counts parameters first and knows no defaults: the full form.
        c.err("host.evacuate", vec![ss, host, s("OpaqueRef:NULL"), s("0")]),
        ["MESSAGE_METHOD_UNKNOWN", "host.evacuate"]
    );
}
