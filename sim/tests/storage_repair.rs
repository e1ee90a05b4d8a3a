//! Storage repair over the wire: PBD.unplug/plug/destroy/create with the SR's allowed
//! operations following, SR.forget and SR.introduce, and the errors xapi gives on the way.

mod common;

use common::{s, strings, Client};
use xenapi::Value;
use xenapi_sim::{Config, Simulator};

fn map(pairs: &[(&str, &str)]) -> Value {
    Value::structure(pairs.iter().map(|(k, v)| (*k, s(v))))
}

#[test]
fn unplug_forget_introduce_create_plug() {
    let sim = Simulator::start(Config {
        hosts: 2,
        seed: Some(3),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let mut call = |m: &str, args: &[Value]| {
        let mut p = vec![s(&ss)];
        p.extend_from_slice(args);
        c.call(m, p)
    };
    let ok = |env: Value| env.get("Value").cloned().expect("success");
    let err =
        |env: Value| -> Vec<String> { strings(env.get("ErrorDescription").expect("a failure")) };
    let hosts = strings(&ok(call("host.get_all", &[])));
    let (h0, h1) = (hosts[0].clone(), hosts[1].clone());

    // A running guest's disk keeps the shared SR's PBD on its host plugged.
    let vm = strings(&ok(call("VM.get_by_name_label", &[s("vm01")])))[0].clone();
    let host = ok(call("VM.get_resident_on", &[s(&vm)]));
    let vbd = strings(&ok(call("VM.get_VBDs", &[s(&vm)])))[0].clone();
    let vdi = ok(call("VBD.get_VDI", &[s(&vbd)]));
    let shared = ok(call("VDI.get_SR", std::slice::from_ref(&vdi)));
    let shared_pbd = strings(&ok(call("SR.get_PBDs", std::slice::from_ref(&shared))))
        .into_iter()
        .find(|p| ok(call("PBD.get_host", &[s(p)])) == host)
        .unwrap();
    assert_eq!(
        err(call("PBD.unplug", &[s(&shared_pbd)])),
        ["VDI_IN_USE", vdi.as_str().unwrap()]
    );
    assert_eq!(
        err(call("SR.forget", std::slice::from_ref(&shared))),
        ["SR_HAS_PBD", shared.as_str().unwrap()]
    );

    // The first host's local SR: unplug it, and what needs it refuses.
    let local = strings(&ok(call("SR.get_by_name_label", &[s("Local storage")])))
        .into_iter()
        .find(|sr| {
            let pbd = strings(&ok(call("SR.get_PBDs", &[s(sr)])))[0].clone();
            ok(call("PBD.get_host", &[s(&pbd)])) == s(&h0)
        })
        .unwrap();
    let uuid = ok(call("SR.get_uuid", &[s(&local)]));
    let pbd = strings(&ok(call("SR.get_PBDs", &[s(&local)])))[0].clone();
    let ops = strings(&ok(call("SR.get_allowed_operations", &[s(&local)])));
    assert!(!ops.contains(&"forget".to_owned()) && !ops.contains(&"destroy".to_owned()));
    assert_eq!(
        err(call("PBD.destroy", &[s(&pbd)])),
        ["OPERATION_NOT_ALLOWED", "PBD is currently attached"]
    );
    ok(call("PBD.unplug", &[s(&pbd)]));
    ok(call("PBD.unplug", &[s(&pbd)]));
    assert_eq!(
        ok(call("PBD.get_currently_attached", &[s(&pbd)])),
        Value::Bool(false)
    );
    let ops = strings(&ok(call("SR.get_allowed_operations", &[s(&local)])));
    assert!(ops.contains(&"forget".to_owned()) && ops.contains(&"destroy".to_owned()));
    let disk = Value::structure([
        ("name_label", s("new")),
        ("SR", s(&local)),
        ("virtual_size", s("1048576")),
        ("type", s("user")),
    ]);
    assert_eq!(
        err(call("VDI.create", std::slice::from_ref(&disk))),
        ["SR_NO_PBDS", &local]
    );
    assert_eq!(err(call("SR.update", &[s(&local)])), ["SR_NO_PBDS", &local]);
    ok(call("SR.update", std::slice::from_ref(&shared)));

    // Not shared: plugged on one host only.
    let other = ok(call(
        "PBD.create",
        &[Value::structure([
            ("host", s(&h1)),
            ("SR", s(&local)),
            ("device_config", map(&[])),
        ])],
    ));
    ok(call("PBD.plug", std::slice::from_ref(&other)));
    assert_eq!(
        err(call("PBD.plug", &[s(&pbd)])),
        ["SR_NOT_SHARABLE", &local, &h1]
    );
    ok(call("PBD.unplug", std::slice::from_ref(&other)));
    ok(call("PBD.destroy", std::slice::from_ref(&other)));

    // Forget it, introduce it again, give it a PBD, plug it.
    ok(call("PBD.destroy", &[s(&pbd)]));
    assert!(strings(&ok(call("host.get_PBDs", &[s(&h0)])))
        .iter()
        .all(|p| *p != pbd));
    assert_eq!(
        err(call("SR.destroy", &[s(&local)])),
        ["SR_NO_PBDS", &local]
    );
    ok(call("SR.forget", &[s(&local)]));
    assert_eq!(
        err(call("SR.get_record", &[s(&local)]))[0],
        "HANDLE_INVALID"
    );
    let introduced = ok(call(
        "SR.introduce",
        &[
            uuid.clone(),
            s("Local storage"),
            s(""),
            s("LVM"),
            s("user"),
            Value::Bool(false),
            map(&[]),
        ],
    ));
    assert_eq!(
        ok(call("SR.get_type", std::slice::from_ref(&introduced))),
        s("lvm")
    );
    assert_eq!(
        err(call(
            "SR.introduce",
            &[
                uuid.clone(),
                s("again"),
                s(""),
                s("lvm"),
                s("user"),
                Value::Bool(false),
                map(&[])
            ],
        )),
        ["SR_UUID_EXISTS", uuid.as_str().unwrap()]
    );
    let config = map(&[("device", "/dev/sda3")]);
    let pbd = ok(call(
        "PBD.create",
        &[Value::structure([
            ("host", s(&h0)),
            ("SR", introduced.clone()),
            ("device_config", config.clone()),
        ])],
    ));
    assert_eq!(
        ok(call(
            "PBD.get_currently_attached",
            std::slice::from_ref(&pbd)
        )),
        Value::Bool(false)
    );
    let dup = Value::structure([
        ("host", s(&h0)),
        ("SR", introduced.clone()),
        ("device_config", config),
    ]);
    assert_eq!(
        err(call("PBD.create", &[dup])),
        [
            "PBD_EXISTS",
            introduced.as_str().unwrap(),
            &h0,
            pbd.as_str().unwrap()
        ]
    );
    let secret = Value::structure([
        ("host", s(&h1)),
        ("SR", introduced.clone()),
        ("device_config", map(&[("SRmaster", "true")])),
    ]);
    assert_eq!(
        err(call("PBD.create", &[secret])),
        [
            "VALUE_NOT_SUPPORTED",
            "SRmaster",
            "true",
            "This key is for internal use only"
        ]
    );
    ok(call("PBD.plug", std::slice::from_ref(&pbd)));
    assert_eq!(
        ok(call("PBD.get_currently_attached", &[pbd])),
        Value::Bool(true)
    );
    let disk = Value::structure([
        ("name_label", s("new")),
        ("SR", introduced.clone()),
        ("virtual_size", s("1048576")),
        ("type", s("user")),
    ]);
    ok(call("VDI.create", &[disk]));
}

#[test]
fn sr_create_plugs_a_pbd_per_host_and_destroy_needs_them_unplugged() {
    let sim = Simulator::start(Config {
        hosts: 2,
        seed: Some(4),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(sim.addr());
    let ss = c.login();
    let mut call = |m: &str, args: Vec<Value>| {
        let mut p = vec![s(&ss)];
        p.extend(args);
        c.call(m, p)
    };
    let ok = |env: Value| env.get("Value").cloned().expect("success");
    let err =
        |env: Value| -> Vec<String> { strings(env.get("ErrorDescription").expect("a failure")) };
    let hosts = strings(&ok(call("host.get_all", vec![])));
    let sr_args = |host: &str, ty: &str, shared: bool| {
        vec![
            s(host),
            map(&[("server", "filer"), ("serverpath", "/vol")]),
            s("0"),
            s("new SR"),
            s(""),
            s(ty),
            s("user"),
            Value::Bool(shared),
            map(&[]),
        ]
    };
    assert_eq!(
        err(call("SR.create", sr_args(&hosts[0], "bogus", true))),
        ["SR_UNKNOWN_DRIVER", "bogus"]
    );
    let nfs = ok(call("SR.create", sr_args(&hosts[0], "NFS", true)));
    assert_eq!(ok(call("SR.get_type", vec![nfs.clone()])), s("nfs"));
    assert_eq!(
        ok(call("SR.get_physical_size", vec![nfs.clone()])),
        s(&(1i64 << 40).to_string())
    );
    let pbds = strings(&ok(call("SR.get_PBDs", vec![nfs.clone()])));
    assert_eq!(pbds.len(), 2);
    for p in &pbds {
        assert_eq!(
            ok(call("PBD.get_currently_attached", vec![s(p)])),
            Value::Bool(true)
        );
    }
    let local = ok(call("SR.create", sr_args(&hosts[1], "ext", false)));
    let local_pbds = strings(&ok(call("SR.get_PBDs", vec![local.clone()])));
    assert_eq!(local_pbds.len(), 1);
    assert_eq!(
        ok(call("PBD.get_host", vec![s(&local_pbds[0])])),
        s(&hosts[1])
    );

    assert_eq!(
        err(call("SR.destroy", vec![nfs.clone()])),
        ["SR_HAS_PBD", nfs.as_str().unwrap()]
    );
    for p in &pbds {
        ok(call("PBD.unplug", vec![s(p)]));
    }
    ok(call(
        "SR.add_to_other_config",
        vec![nfs.clone(), s("indestructible"), s("true")],
    ));
    assert_eq!(
        err(call("SR.destroy", vec![nfs.clone()])),
        ["SR_INDESTRUCTIBLE", nfs.as_str().unwrap()]
    );
    ok(call(
        "SR.remove_from_other_config",
        vec![nfs.clone(), s("indestructible")],
    ));
    ok(call("SR.destroy", vec![nfs.clone()]));
    assert_eq!(err(call("SR.get_record", vec![nfs]))[0], "HANDLE_INVALID");
    for p in &pbds {
        assert_eq!(err(call("PBD.get_record", vec![s(p)]))[0], "HANDLE_INVALID");
    }
}
