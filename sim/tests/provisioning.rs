//! The provisioning flow users' automation runs, through the `xenapi` client over XML-RPC:
//! clone a template, provision it, add a disk and a VIF, start it (as a task), snapshot it,
//! shut it down, destroy the VM, its snapshot and their disks, and get the SR's space back.
//! Plus the rules on the way (power states, memory and VCPU constraints, SR_FULL) and the
//! `--state` inventory round trip.

use std::time::{Duration, Instant};

use xenapi::{Options, Protocol, Session, Value};
use xenapi_sim::{Config, Running, Simulator};

const GIB: i64 = 1 << 30;

fn sim() -> Running {
    Simulator::start(Config {
        templates: 3,
        task_delay: Duration::from_millis(40),
        seed: Some(11),
        ..Config::default()
    })
    .expect("the simulator starts")
}

fn connect(sim: &Running) -> Session {
    connect_with(sim, Protocol::XmlRpc)
}

fn connect_with(sim: &Running, protocol: Protocol) -> Session {
    Session::connect(
        Options::new(sim.url())
            .protocol(protocol)
            .timeout(Duration::from_secs(20)),
        "root",
        "password",
    )
    .expect("login")
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn call(x: &Session, method: &str, args: Vec<Value>) -> Value {
    x.call(method, args)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn text(x: &Session, method: &str, args: Vec<Value>) -> String {
    call(x, method, args).as_str().expect("a string").to_owned()
}

/// The `ErrorDescription` of a call that must fail.
fn fails(x: &Session, method: &str, args: Vec<Value>) -> Vec<String> {
    match x.call(method, args) {
        Ok(v) => panic!("{method} succeeded: {v:?}"),
        Err(e) => e
            .failure()
            .unwrap_or_else(|| panic!("{method}: not a XenAPI failure: {e}"))
            .description()
            .to_vec(),
    }
}

fn refs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a set")
        .iter()
        .map(|r| r.as_str().expect("a ref").to_owned())
        .collect()
}

fn int(x: &Session, method: &str, r: &str) -> i64 {
    call(x, method, vec![s(r)]).as_i64().expect("an int")
}

fn by_name(x: &Session, class: &str, name: &str) -> String {
    let all = refs(&call(
        x,
        &format!("{class}.get_by_name_label"),
        vec![s(name)],
    ));
    assert_eq!(all.len(), 1, "one {class} named {name}");
    all[0].clone()
}

/// Runs `Async.<method>` and waits for the task; its result (a ref, or "").
fn run_task(x: &Session, method: &str, args: Vec<Value>) -> String {
    let task = text(x, &format!("Async.{method}"), args);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = text(x, "task.get_status", vec![s(&task)]);
        let progress = call(x, "task.get_progress", vec![s(&task)])
            .as_f64()
            .expect("a float");
        assert!((0.0..=1.0).contains(&progress), "progress {progress}");
        match status.as_str() {
            "pending" => {}
            "success" => {
                assert_eq!(progress, 1.0);
                let result = text(x, "task.get_result", vec![s(&task)]);
                call(x, "task.destroy", vec![s(&task)]);
                return result
                    .trim()
                    .trim_start_matches("<value>")
                    .trim_end_matches("</value>")
                    .to_owned();
            }
            other => panic!(
                "{method}: task {other}: {:?}",
                call(x, "task.get_error_info", vec![s(&task)])
            ),
        }
        assert!(
            Instant::now() < deadline,
            "{method}: the task never finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every reference kept on both sides, and each SR's utilisation the sum of its VDIs'.
fn assert_consistent(x: &Session) {
    let all = |class: &str| -> Vec<(String, Value)> {
        call(x, &format!("{class}.get_all_records"), vec![])
            .as_struct()
            .expect("a map")
            .to_vec()
    };
    let get = |rec: &Value, f: &str| rec.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
    let set = |rec: &Value, f: &str| refs(rec.get(f).expect("a set field"));
    let vms = all("VM");
    let vdis = all("VDI");
    let find = |list: &[(String, Value)], r: &str| {
        list.iter().find(|(k, _)| k == r).map(|(_, v)| v.clone())
    };
    for (b, rec) in all("VBD") {
        let vm = find(&vms, &get(&rec, "VM")).expect("a VBD's VM exists");
        assert!(set(&vm, "VBDs").contains(&b), "VM.VBDs lacks {b}");
        if rec.get("empty") != Some(&Value::Bool(true)) {
            let vdi = find(&vdis, &get(&rec, "VDI")).expect("a VBD's VDI exists");
            assert!(set(&vdi, "VBDs").contains(&b), "VDI.VBDs lacks {b}");
        }
    }
    for (v, rec) in &vms {
        for b in set(rec, "VBDs") {
            assert_eq!(text(x, "VBD.get_VM", vec![s(&b)]), *v);
        }
        for i in set(rec, "VIFs") {
            assert_eq!(text(x, "VIF.get_VM", vec![s(&i)]), *v);
        }
        let host = get(rec, "resident_on");
        if get(rec, "power_state") == "Running" {
            assert!(refs(&call(x, "host.get_resident_VMs", vec![s(&host)])).contains(v));
        }
    }
    for (i, rec) in all("VIF") {
        assert!(refs(&call(x, "network.get_VIFs", vec![s(&get(&rec, "network"))])).contains(&i));
    }
    for (sr, rec) in all("SR") {
        let mut used = 0;
        for v in set(&rec, "VDIs") {
            let vrec = find(&vdis, &v).expect("SR.VDIs names VDIs");
            assert_eq!(get(&vrec, "SR"), sr);
            used += vrec
                .get("physical_utilisation")
                .and_then(Value::as_i64)
                .unwrap();
        }
        assert_eq!(
            rec.get("physical_utilisation").and_then(Value::as_i64),
            Some(used),
            "{sr}"
        );
        for p in set(&rec, "PBDs") {
            assert_eq!(text(x, "PBD.get_SR", vec![s(&p)]), sr);
        }
    }
    for (v, rec) in &vdis {
        let sr = get(rec, "SR");
        assert!(refs(&call(x, "SR.get_VDIs", vec![s(&sr)])).contains(v));
    }
}

fn vdis_of(x: &Session, vm: &str) -> Vec<String> {
    refs(&call(x, "VM.get_VBDs", vec![s(vm)]))
        .iter()
        .filter(|b| text(x, "VBD.get_type", vec![s(b)]) == "Disk")
        .map(|b| text(x, "VBD.get_VDI", vec![s(b)]))
        .collect()
}

#[test]
fn provision_snapshot_destroy_and_the_space_comes_back() {
    flow(Protocol::XmlRpc);
}

#[test]
fn the_same_flow_over_json_rpc() {
    flow(Protocol::JsonRpc);
}

fn flow(protocol: Protocol) {
    let sim = sim();
    let x = connect_with(&sim, protocol);
    let pool = refs(&call(&x, "pool.get_all", vec![]))[0].clone();
    let sr = text(&x, "pool.get_default_SR", vec![s(&pool)]);
    let sr_uuid = text(&x, "SR.get_uuid", vec![s(&sr)]);
    let used_before = int(&x, "SR.get_physical_utilisation", &sr);
    let token = call(
        &x,
        "event.from",
        vec![Value::Array(vec![s("vm")]), s(""), Value::Double(0.0)],
    )
    .get("token")
    .and_then(Value::as_str)
    .expect("a token")
    .to_owned();

    // Clone the template: still a template, no longer a default one.
    let template = by_name(&x, "VM", "Debian Bookworm 12");
    assert_eq!(
        fails(
            &x,
            "VM.start",
            vec![s(&template), Value::Bool(false), Value::Bool(false)]
        ),
        ["VM_IS_TEMPLATE", &template, "start"]
    );
    let vm = run_task(&x, "VM.clone", vec![s(&template), s("web01")]);
    assert_eq!(
        call(&x, "VM.get_is_a_template", vec![s(&vm)]),
        Value::Bool(true)
    );
    let oc = call(&x, "VM.get_other_config", vec![s(&vm)]);
    assert!(oc.get("default_template").is_none());
    assert_eq!(oc.get("base_template_name"), Some(&s("Debian Bookworm 12")));

    // Point the template's disk at the default SR, as provisioning scripts do, and provision.
    let disks = oc
        .get("disks")
        .and_then(Value::as_str)
        .expect("a disks key");
    let disks = disks.replace("sr=\"\"", &format!("sr=\"{sr_uuid}\""));
    call(&x, "VM.remove_from_other_config", vec![s(&vm), s("disks")]);
    call(
        &x,
        "VM.add_to_other_config",
        vec![s(&vm), s("disks"), s(&disks)],
    );
    call(&x, "VM.provision", vec![s(&vm)]);
    assert_eq!(
        call(&x, "VM.get_is_a_template", vec![s(&vm)]),
        Value::Bool(false)
    );
    assert!(call(&x, "VM.get_other_config", vec![s(&vm)])
        .get("disks")
        .is_none());
    assert_eq!(
        fails(&x, "VM.provision", vec![s(&vm)]),
        ["PROVISION_ONLY_ALLOWED_ON_TEMPLATE"]
    );
    let system = vdis_of(&x, &vm);
    assert_eq!(system.len(), 1);
    assert_eq!(int(&x, "VDI.get_virtual_size", &system[0]), 10 * GIB);

    // A data disk: VDI.create on the SR and VBD.create, both ways linked.
    let vdi = text(
        &x,
        "VDI.create",
        vec![Value::structure([
            ("name_label", s("web01 data")),
            ("name_description", s("")),
            ("SR", s(&sr)),
            ("virtual_size", s(&GIB.to_string())),
            ("type", s("user")),
            ("sharable", Value::Bool(false)),
            ("read_only", Value::Bool(false)),
            ("other_config", Value::Struct(vec![])),
        ])],
    );
    assert!(refs(&call(&x, "SR.get_VDIs", vec![s(&sr)])).contains(&vdi));
    let vbd_args = |device: &str| {
        Value::structure([
            ("VM", s(&vm)),
            ("VDI", s(&vdi)),
            ("userdevice", s(device)),
            ("bootable", Value::Bool(false)),
            ("mode", s("RW")),
            ("type", s("Disk")),
            ("unpluggable", Value::Bool(true)),
            ("empty", Value::Bool(false)),
            ("other_config", Value::Struct(vec![])),
            ("qos_algorithm_type", s("")),
            ("qos_algorithm_params", Value::Struct(vec![])),
        ])
    };
    assert_eq!(
        fails(&x, "VBD.create", vec![vbd_args("0")]),
        ["DEVICE_ALREADY_EXISTS", "0"]
    );
    let vbd = text(&x, "VBD.create", vec![vbd_args("autodetect")]);
    assert_eq!(text(&x, "VBD.get_userdevice", vec![s(&vbd)]), "1");
    assert_eq!(text(&x, "VBD.get_VM", vec![s(&vbd)]), vm);
    assert!(refs(&call(&x, "VM.get_VBDs", vec![s(&vm)])).contains(&vbd));
    assert_eq!(
        refs(&call(&x, "VDI.get_VBDs", vec![s(&vdi)])),
        vec![vbd.clone()]
    );
    assert_eq!(
        int(&x, "SR.get_physical_utilisation", &sr),
        used_before + 11 * GIB
    );
    let huge = (int(&x, "SR.get_physical_size", &sr) * 2).to_string();
    let full = fails(
        &x,
        "VDI.create",
        vec![Value::structure([
            ("name_label", s("too big")),
            ("SR", s(&sr)),
            ("virtual_size", s(&huge)),
            ("type", s("user")),
        ])],
    );
    assert_eq!(full[0], "SR_FULL");
    assert_eq!(full[1], huge);

    // A VIF on the pool network; the MAC comes from the VM's mac_seed.
    let network = by_name(&x, "network", "Pool-wide network associated with eth0");
    let vif = text(
        &x,
        "VIF.create",
        vec![Value::structure([
            ("device", s("0")),
            ("network", s(&network)),
            ("VM", s(&vm)),
            ("MAC", s("")),
            ("MTU", s("1500")),
            ("other_config", Value::Struct(vec![])),
            ("qos_algorithm_type", s("")),
            ("qos_algorithm_params", Value::Struct(vec![])),
        ])],
    );
    assert_eq!(text(&x, "VIF.get_MAC", vec![s(&vif)]).len(), 17);
    assert!(refs(&call(&x, "network.get_VIFs", vec![s(&network)])).contains(&vif));
    assert!(refs(&call(&x, "VM.get_VIFs", vec![s(&vm)])).contains(&vif));

    // Memory and VCPU constraints while Halted.
    let mib = |n: i64| s(&(n << 20).to_string());
    assert_eq!(
        fails(
            &x,
            "VM.set_memory_limits",
            vec![s(&vm), mib(512), mib(1024), mib(2048), mib(1024)]
        ),
        ["MEMORY_CONSTRAINT_VIOLATION_ORDER"]
    );
    call(
        &x,
        "VM.set_memory_limits",
        vec![s(&vm), mib(512), mib(2048), mib(1024), mib(2048)],
    );
    assert_eq!(int(&x, "VM.get_memory_static_max", &vm), 2048 << 20);
    assert_eq!(
        fails(&x, "VM.set_VCPUs_at_startup", vec![s(&vm), s("8")])[0],
        "INVALID_VALUE"
    );
    call(&x, "VM.set_VCPUs_max", vec![s(&vm), s("4")]);
    call(&x, "VM.set_VCPUs_at_startup", vec![s(&vm), s("4")]);

    assert_consistent(&x);

    // Start it as a task: devices attach, a console appears, operations follow.
    run_task(
        &x,
        "VM.start",
        vec![s(&vm), Value::Bool(false), Value::Bool(false)],
    );
    assert_eq!(text(&x, "VM.get_power_state", vec![s(&vm)]), "Running");
    // The static range changes on a halted VM only (changing_static_range), as in xapi.
    assert_eq!(
        fails(&x, "VM.set_memory_static_max", vec![s(&vm), mib(4096)])[0],
        "VM_BAD_POWER_STATE"
    );
    assert_eq!(
        call(&x, "VBD.get_currently_attached", vec![s(&vbd)]),
        Value::Bool(true)
    );
    assert_eq!(text(&x, "VBD.get_device", vec![s(&vbd)]), "xvdb");
    assert_eq!(
        call(&x, "VIF.get_currently_attached", vec![s(&vif)]),
        Value::Bool(true)
    );
    assert_eq!(refs(&call(&x, "VM.get_consoles", vec![s(&vm)])).len(), 1);
    let host = text(&x, "VM.get_resident_on", vec![s(&vm)]);
    assert!(refs(&call(&x, "host.get_resident_VMs", vec![s(&host)])).contains(&vm));
    let ops = refs(&call(&x, "VM.get_allowed_operations", vec![s(&vm)]));
    assert!(ops.contains(&"clean_shutdown".to_owned()) && !ops.contains(&"destroy".to_owned()));
    assert_eq!(
        fails(&x, "VM.destroy", vec![s(&vm)]),
        ["VM_BAD_POWER_STATE", &vm, "halted, suspended", "running"]
    );
    assert_eq!(
        fails(&x, "VDI.destroy", vec![s(&vdi)]),
        ["VDI_IN_USE", &vdi, "destroy"]
    );
    assert_eq!(
        fails(&x, "VM.set_VCPUs_max", vec![s(&vm), s("2")])[0],
        "VM_BAD_POWER_STATE"
    );

    // Snapshot the running VM: disks snapshotted, the snapshot is a template of it.
    let snap = run_task(
        &x,
        "VM.snapshot",
        vec![s(&vm), s("web01 before upgrade"), Value::Array(vec![])],
    );
    assert_eq!(
        call(&x, "VM.get_is_a_snapshot", vec![s(&snap)]),
        Value::Bool(true)
    );
    assert_eq!(text(&x, "VM.get_snapshot_of", vec![s(&snap)]), vm);
    assert_eq!(
        refs(&call(&x, "VM.get_snapshots", vec![s(&vm)])),
        vec![snap.clone()]
    );
    assert_eq!(text(&x, "VM.get_power_state", vec![s(&snap)]), "Halted");
    let snap_vdis = vdis_of(&x, &snap);
    assert_eq!(snap_vdis.len(), 2);
    for v in &snap_vdis {
        assert!(!system.contains(v) && *v != vdi);
        assert_eq!(
            call(&x, "VDI.get_is_a_snapshot", vec![s(v)]),
            Value::Bool(true)
        );
    }
    assert_eq!(
        int(&x, "SR.get_physical_utilisation", &sr),
        used_before + 22 * GIB
    );
    assert_eq!(
        fails(
            &x,
            "VM.start",
            vec![s(&snap), Value::Bool(false), Value::Bool(false)]
        ),
        ["VM_IS_SNAPSHOT", &snap, "start"]
    );

    assert_consistent(&x);

    // Shut it down: devices detach, the console goes.
    call(&x, "VM.clean_shutdown", vec![s(&vm)]);
    assert_eq!(
        call(&x, "VBD.get_currently_attached", vec![s(&vbd)]),
        Value::Bool(false)
    );
    assert!(refs(&call(&x, "VM.get_consoles", vec![s(&vm)])).is_empty());

    // Destroy the VM and its snapshot: VBDs and VIFs go, VDIs stay (as in xapi).
    let all_vdis: Vec<String> = vdis_of(&x, &vm).into_iter().chain(snap_vdis).collect();
    assert_eq!(all_vdis.len(), 4);
    run_task(&x, "VM.destroy", vec![s(&snap)]);
    call(&x, "VM.destroy", vec![s(&vm)]);
    assert_eq!(
        fails(&x, "VM.get_record", vec![s(&vm)])[0],
        "HANDLE_INVALID"
    );
    assert_eq!(
        fails(&x, "VBD.get_record", vec![s(&vbd)])[0],
        "HANDLE_INVALID"
    );
    assert_eq!(
        fails(&x, "VIF.get_record", vec![s(&vif)])[0],
        "HANDLE_INVALID"
    );
    assert!(!refs(&call(&x, "network.get_VIFs", vec![s(&network)])).contains(&vif));
    for v in &all_vdis {
        assert!(call(&x, "VDI.get_VBDs", vec![s(v)])
            .as_array()
            .unwrap()
            .is_empty());
        call(&x, "VDI.destroy", vec![s(v)]);
    }
    call(&x, "SR.scan", vec![s(&sr)]);
    assert_eq!(int(&x, "SR.get_physical_utilisation", &sr), used_before);
    assert_consistent(&x);

    // event.from reported it all.
    let batch = call(
        &x,
        "event.from",
        vec![Value::Array(vec![s("vm")]), s(&token), Value::Double(0.0)],
    );
    let events = batch.get("events").and_then(Value::as_array).unwrap();
    let seen = |op: &str, r: &str| {
        events.iter().any(|e| {
            e.get("operation").and_then(Value::as_str) == Some(op)
                && e.get("ref").and_then(Value::as_str) == Some(r)
        })
    };
    assert!(seen("add", &vm) && seen("mod", &vm) && seen("del", &vm));
    assert!(seen("add", &snap) && seen("del", &snap));
    x.logout().ok();
}

#[test]
fn copy_revert_and_network_rules() {
    let sim = sim();
    let x = connect(&sim);
    let vm = by_name(&x, "VM", "vm02");
    let sr = text(&x, "VDI.get_SR", vec![s(&vdis_of(&x, &vm)[0])]);
    let used = int(&x, "SR.get_physical_utilisation", &sr);
    let copy = call(&x, "VM.copy", vec![s(&vm), s("vm02 copy"), s(&sr)]);
    let copy = copy.as_str().unwrap().to_owned();
    assert_eq!(int(&x, "SR.get_physical_utilisation", &sr), used + 8 * GIB);
    let copied = vdis_of(&x, &copy);
    assert_eq!(copied.len(), 1);
    assert_eq!(
        call(&x, "VDI.get_is_a_snapshot", vec![s(&copied[0])]),
        Value::Bool(false)
    );

    // A copy into an SR without room fails with SR_FULL and leaves nothing behind.
    let local = by_name(&x, "SR", "Local storage");
    let free =
        int(&x, "SR.get_physical_size", &local) - int(&x, "SR.get_physical_utilisation", &local);
    let filler = text(
        &x,
        "VDI.create",
        vec![Value::structure([
            ("name_label", s("filler")),
            ("SR", s(&local)),
            ("virtual_size", s(&(free - GIB).to_string())),
            ("type", s("user")),
        ])],
    );
    let vms_before = refs(&call(&x, "VM.get_all", vec![])).len();
    let full = fails(&x, "VM.copy", vec![s(&vm), s("no room"), s(&local)]);
    assert_eq!(full, ["SR_FULL", &(8 * GIB).to_string(), &GIB.to_string()]);
    assert_eq!(
        refs(&call(&x, "SR.get_VDIs", vec![s(&local)])),
        vec![filler.clone()]
    );
    assert_eq!(refs(&call(&x, "VM.get_all", vec![])).len(), vms_before);
    assert_eq!(
        fails(
            &x,
            "VDI.resize",
            vec![s(&filler), s(&(free - 2 * GIB).to_string())]
        )[0],
        "SR_BACKEND_FAILURE_79"
    );
    assert_eq!(
        fails(
            &x,
            "VDI.resize",
            vec![s(&filler), s(&(free + GIB).to_string())]
        )[0],
        "SR_FULL"
    );
    call(&x, "VDI.resize", vec![s(&filler), s(&free.to_string())]);
    assert_eq!(
        int(&x, "SR.get_physical_utilisation", &local),
        int(&x, "SR.get_physical_size", &local)
    );
    call(&x, "VDI.destroy", vec![s(&filler)]);

    // Revert: the VM gets clones of the snapshot's disks and the snapshot's configuration.
    let snap = text(
        &x,
        "VM.snapshot",
        vec![s(&vm), s("snap"), Value::Array(vec![])],
    );
    let before = vdis_of(&x, &vm);
    call(&x, "VM.set_VCPUs_max", vec![s(&vm), s("8")]);
    assert_eq!(
        fails(&x, "VM.revert", vec![s(&vm)]),
        ["REVERT_ONLY_ALLOWED_ON_SNAPSHOT"]
    );
    call(&x, "VM.revert", vec![s(&snap)]);
    assert_eq!(int(&x, "VM.get_VCPUs_max", &vm), 2);
    let after = vdis_of(&x, &vm);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);
    assert_eq!(
        fails(&x, "VDI.get_record", vec![s(&before[0])])[0],
        "HANDLE_INVALID"
    );
    assert_eq!(text(&x, "VM.get_parent", vec![s(&vm)]), snap);
    assert_consistent(&x);

    // A disk that resets on boot cannot be snapshotted.
    let disk0 = vdis_of(&x, &vm)[0].clone();
    call(&x, "VDI.set_on_boot", vec![s(&disk0), s("reset")]);
    assert_eq!(
        fails(
            &x,
            "VM.snapshot",
            vec![s(&vm), s("no"), Value::Array(vec![])]
        ),
        ["VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION"]
    );
    call(&x, "VDI.set_on_boot", vec![s(&disk0), s("persist")]);

    // Making a template: Halted only; once one, not again.
    let running = by_name(&x, "VM", "vm01");
    assert_eq!(
        fails(
            &x,
            "VM.set_is_a_template",
            vec![s(&running), Value::Bool(true)]
        ),
        ["VM_BAD_POWER_STATE", &running, "halted", "running"]
    );
    call(
        &x,
        "VM.set_is_a_template",
        vec![s(&copy), Value::Bool(true)],
    );
    assert_eq!(
        fails(
            &x,
            "VM.set_is_a_template",
            vec![s(&copy), Value::Bool(true)]
        ),
        ["VM_IS_TEMPLATE", &copy, "make_into_template"]
    );
    assert!(
        !refs(&call(&x, "VM.get_allowed_operations", vec![s(&copy)])).contains(&"start".to_owned())
    );
    call(
        &x,
        "VM.set_is_a_template",
        vec![s(&copy), Value::Bool(false)],
    );

    // A default template cannot be destroyed; networks with attached VIFs neither.
    let template = by_name(&x, "VM", "Rocky Linux 9");
    assert_eq!(
        fails(&x, "VM.destroy", vec![s(&template)]),
        ["VM_IS_TEMPLATE", &template, "destroy"]
    );
    let net = text(
        &x,
        "VIF.get_network",
        vec![s(&refs(&call(&x, "VM.get_VIFs", vec![s(&running)]))[0])],
    );
    assert_eq!(
        fails(&x, "network.destroy", vec![s(&net)])[0],
        "NETWORK_CONTAINS_VIF"
    );
    let mine = text(
        &x,
        "network.create",
        vec![Value::structure([
            ("name_label", s("test net")),
            ("name_description", s("")),
            ("MTU", s("9000")),
            ("other_config", Value::Struct(vec![])),
        ])],
    );
    assert_eq!(text(&x, "network.get_bridge", vec![s(&mine)]), "xapi0");
    assert_eq!(
        fails(
            &x,
            "network.create",
            vec![Value::structure([
                ("name_label", s("dup")),
                ("bridge", s("xenbr0"))
            ])]
        ),
        ["INVALID_VALUE", "bridge", "xenbr0"]
    );
    call(&x, "network.destroy", vec![s(&mine)]);
    let internal = by_name(&x, "network", "Host internal management network");
    assert_eq!(
        fails(&x, "network.destroy", vec![s(&internal)]),
        ["CANNOT_DESTROY_SYSTEM_NETWORK", &internal]
    );

    // CD drives: eject an empty one fails, insert the tools ISO, eject it.
    let cd = refs(&call(&x, "VM.get_VBDs", vec![s(&running)]))
        .into_iter()
        .find(|b| text(&x, "VBD.get_type", vec![s(b)]) == "CD")
        .expect("a CD drive");
    assert_eq!(fails(&x, "VBD.eject", vec![s(&cd)]), ["VBD_IS_EMPTY", &cd]);
    let iso = by_name(&x, "VDI", "guest-tools.iso");
    call(&x, "VBD.insert", vec![s(&cd), s(&iso)]);
    assert_eq!(
        fails(&x, "VBD.insert", vec![s(&cd), s(&iso)]),
        ["VBD_NOT_EMPTY", &cd]
    );
    call(&x, "VBD.eject", vec![s(&cd)]);
    let disk = refs(&call(&x, "VM.get_VBDs", vec![s(&running)]))
        .into_iter()
        .find(|b| text(&x, "VBD.get_type", vec![s(b)]) == "Disk")
        .unwrap();
    assert_eq!(
        fails(&x, "VBD.unplug", vec![s(&disk)]),
        ["VBD_NOT_UNPLUGGABLE", &disk]
    );
    assert_eq!(
        fails(&x, "VBD.plug", vec![s(&disk)]),
        ["DEVICE_ALREADY_ATTACHED", &disk]
    );
    // Messages the simulator does not model say so.
    assert_eq!(
        fails(&x, "VM.checkpoint", vec![s(&running), s("cp")])[0],
        "NOT_IMPLEMENTED"
    );
    let host = refs(&call(&x, "host.get_all", vec![]))[0].clone();
    assert!(matches!(
        call(&x, "host.get_servertime", vec![s(&host)]),
        Value::DateTime(_)
    ));
}

#[test]
fn an_inventory_round_trips() {
    let first = sim();
    let x = connect(&first);
    let vm = by_name(&x, "VM", "vm02");
    let copy = text(&x, "VM.clone", vec![s(&vm), s("saved clone")]);
    let path =
        std::env::temp_dir().join(format!("xenapi-sim-inventory-{}.json", std::process::id()));
    first.save_state(&path).expect("saved");
    let records = call(&x, "VM.get_all_records", vec![]);
    drop(first);

    let second = Simulator::start(Config {
        state: Some(path.clone()),
        ..Config::default()
    })
    .expect("starts from the inventory");
    let y = connect(&second);
    assert_eq!(
        call(&y, "VM.get_all_records", vec![])
            .as_struct()
            .unwrap()
            .len(),
        records.as_struct().unwrap().len()
    );
    assert_eq!(text(&y, "VM.get_name_label", vec![s(&copy)]), "saved clone");
    call(
        &y,
        "VM.start",
        vec![s(&copy), Value::Bool(false), Value::Bool(false)],
    );
    assert_eq!(text(&y, "VM.get_power_state", vec![s(&copy)]), "Running");
    std::fs::remove_file(&path).ok();

    // A typo in an inventory is an error, not a different pool.
    let bad = std::env::temp_dir().join(format!("xenapi-sim-bad-{}.json", std::process::id()));
    std::fs::write(
        &bad,
        r#"{"objects": {"VM": [{"ref": "OpaqueRef:x", "name_lable": "x"}]}}"#,
    )
    .unwrap();
    let err = Simulator::start(Config {
        state: Some(bad.clone()),
        ..Config::default()
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("name_lable"), "{err}");
    std::fs::remove_file(&bad).ok();
}

#[test]
fn the_xend_dialect_has_create_and_destroy_only() {
    let sim = Simulator::start(Config {
        dialect: xenapi_sim::Dialect::Xend,
        vms: 1,
        seed: Some(5),
        ..Config::default()
    })
    .unwrap();
    let x = connect(&sim);
    let sr = refs(&call(&x, "SR.get_all", vec![]))
        .into_iter()
        .find(|r| text(&x, "SR.get_content_type", vec![s(r)]) == "user")
        .expect("a user SR");
    let vm = text(
        &x,
        "VM.create",
        vec![Value::structure([
            ("name_label", s("xend guest")),
            ("memory_static_min", s(&(256 << 20).to_string())),
            ("memory_dynamic_min", s(&(256 << 20).to_string())),
            ("memory_dynamic_max", s(&(512 << 20).to_string())),
            ("memory_static_max", s(&(512 << 20).to_string())),
            ("VCPUs_max", s("1")),
            ("VCPUs_at_startup", s("1")),
            ("PV_kernel", s("/boot/vmlinuz")),
        ])],
    );
    assert!(!vm.starts_with("OpaqueRef:"), "xend refs are UUIDs: {vm}");
    let vdi = text(
        &x,
        "VDI.create",
        vec![Value::structure([
            ("name_label", s("disk")),
            ("SR", s(&sr)),
            ("virtual_size", s(&GIB.to_string())),
            ("type", s("system")),
        ])],
    );
    text(
        &x,
        "VBD.create",
        vec![Value::structure([
            ("VM", s(&vm)),
            ("VDI", s(&vdi)),
            ("userdevice", s("0")),
            ("mode", s("RW")),
            ("type", s("Disk")),
        ])],
    );
    call(
        &x,
        "VM.start",
        vec![s(&vm), Value::Bool(false), Value::Bool(false)],
    );
    assert_eq!(
        fails(&x, "VM.destroy", vec![s(&vm)]),
        ["VM_BAD_POWER_STATE", &vm, "Halted", "Running"]
    );
    assert_eq!(
        fails(&x, "VM.clone", vec![s(&vm), s("c")]),
        ["EUNSUPPORTED", "Method Unsupported"]
    );
    assert_eq!(
        fails(
            &x,
            "VM.snapshot",
            vec![s(&vm), s("c"), Value::Array(vec![])]
        ),
        ["MESSAGE_METHOD_UNKNOWN", "VM.snapshot"]
    );
    call(&x, "VM.hard_shutdown", vec![s(&vm)]);
    call(&x, "VM.destroy", vec![s(&vm)]);
    call(&x, "VDI.destroy", vec![s(&vdi)]);
}
