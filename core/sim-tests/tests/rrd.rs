//! xcp-rrdd's HTTP side against the simulator: `/rrd_updates` in XML and JSON, whole host and
//! VM RRDs, the usage helpers on them, and the refusals (no session, a halted VM, xend).

use xenapi::rrd::{self, Consolidation, Updates, UpdatesQuery};
use xenapi::{ErrorKind, Session};
use xenapi_tests::*;

fn uuid_of(s: &Session, class: &str, r: &str) -> String {
    s.call(&format!("{class}.get_uuid"), vec![r.into()])
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn updates_give_a_running_vm_cpu_use_and_a_halted_one_none() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let running = uuid_of(&s, "VM", &vm_ref(&s, "vm01"));
    let halted = uuid_of(&s, "VM", &vm_ref(&s, "vm02"));
    let host = uuid_of(&s, "host", &host_ref(&s));
    let u = rrd::fetch_updates(&s, &UpdatesQuery::last(60)).unwrap();
    assert_eq!(u.step, 5);
    assert!(u.rows.len() >= 12, "a minute of 5 s rows: {}", u.rows.len());
    assert!(
        u.rows.windows(2).all(|w| w[0].time - w[1].time == 5),
        "newest first, 5 s apart"
    );
    assert!(u.columns.iter().all(|c| c.cf == Consolidation::Average));
    let cpu0 = u
        .column("vm", &running, "cpu0", Consolidation::Average)
        .expect("vm01 cpu0");
    assert!(
        u.series(cpu0).all(|(_, v)| v > 0.0 && v <= 1.0),
        "a running VM works"
    );
    assert!(
        u.objects().iter().all(|(_, id)| *id != halted),
        "no RRD for a halted VM"
    );
    let vm = rrd::usage::from_updates(&u, "vm", &running, 60).unwrap();
    let vcpus = s
        .call("VM.get_VCPUs_at_startup", vec![vm_ref(&s, "vm01").into()])
        .unwrap();
    assert_eq!(
        vm.cpus.len() as i64,
        vcpus.as_i64().unwrap(),
        "one cpuN per vCPU"
    );
    assert!(vm.cpu_average().unwrap() > 0.0);
    assert!(vm.memory_total.unwrap() > 0.0 && vm.memory_used().unwrap() > 0.0);
    assert!(vm.disk_read.is_some() && vm.net_tx.is_some());
    let h = rrd::usage::from_updates(&u, "host", &host, 60).unwrap();
    assert_eq!(h.cpus.len(), 8, "the simulated host's 8 pCPUs");
    assert!(
        h.memory_free.unwrap() < h.memory_total.unwrap(),
        "its guests use memory"
    );
}

#[test]
fn updates_for_one_vm_in_json_and_every_consolidation() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let running = uuid_of(&s, "VM", &vm_ref(&s, "vm03"));
    let q = UpdatesQuery {
        start: -30,
        interval: Some(5),
        cf: None,
        host: true,
        vm_uuid: Some(running.clone()),
    };
    let xml = rrd::fetch_updates(&s, &q).unwrap();
    assert_eq!(
        xml.objects(),
        vec![("vm", running.as_str())],
        "only the VM asked for"
    );
    for cf in [
        Consolidation::Average,
        Consolidation::Min,
        Consolidation::Max,
    ] {
        assert!(xml.column("vm", &running, "cpu0", cf).is_some(), "{cf:?}");
    }
    let body = s
        .http_get(
            "/rrd_updates",
            &[("start", "-30"), ("vm_uuid", &running), ("json", "true")],
        )
        .unwrap();
    assert_eq!(body.first(), Some(&b'{'));
    let json = Updates::parse(&body).unwrap();
    assert_eq!(json.columns, xml.columns);
}

#[test]
fn whole_rrds_of_the_host_and_a_running_vm() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let host = rrd::fetch_host_rrd(&s).unwrap();
    assert_eq!(host.step, 5);
    assert_eq!(host.archives.len(), 4, "5 s, minute, hour and day archives");
    let fine = host.finest(Consolidation::Average).unwrap();
    assert_eq!(fine.rows.len(), 120);
    assert!(host.source("memory_free_kib").is_some());
    let usage = rrd::usage::from_rrd(&host, 300).unwrap();
    assert_eq!(usage.cpus.len(), 8);
    let running = uuid_of(&s, "VM", &vm_ref(&s, "vm01"));
    let vm = rrd::fetch_vm_rrd(&s, &running).unwrap();
    assert!(vm.source("cpu0").is_some());
    let halted = uuid_of(&s, "VM", &vm_ref(&s, "vm02"));
    let e = rrd::fetch_vm_rrd(&s, &halted).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
}

#[test]
fn a_logged_out_session_is_refused_and_not_named() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let handle = s.handle().unwrap();
    let client = s.client();
    s.logout().unwrap();
    let e = client
        .http_get("/rrd_updates", &[("session_id", &handle), ("start", "-10")])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http);
    assert!(e.to_string().contains("refused the session"), "{e}");
    assert!(
        !e.to_string().contains(&handle),
        "the reference stays out of errors: {e}"
    );
}

#[test]
fn xend_has_no_rrd_handlers() {
    let sim = sim(Dialect::Xend);
    let s = connect(&sim);
    let e = rrd::fetch_updates(&s, &UpdatesQuery::last(60)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
}

/// A pool of three: each member answers `/rrd_updates` for itself and the VMs resident there.
#[test]
fn each_pool_member_is_asked_for_its_own_figures() {
    use xenapi::api::{Host, Vm};
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 3);
    let s = connect(&sim);
    let hosts = Host::get_all(&s).unwrap();
    assert_eq!(hosts.len(), 3);
    for h in &hosts {
        let uuid = Host::get_uuid(&s, h).unwrap();
        let u = rrd::fetch_updates_at(&s, h.as_str(), &UpdatesQuery::last(60)).unwrap();
        let kinds = u.objects();
        assert!(
            kinds.contains(&("host", uuid.as_str())),
            "{uuid} answers for itself"
        );
        assert!(
            kinds.iter().all(|(k, id)| *k != "host" || *id == uuid),
            "and for no other host: {kinds:?}"
        );
        let usage = rrd::host_usage(&s, &uuid, 60).unwrap();
        assert_eq!(usage.cpus.len(), 8);
        assert!(usage.memory_total.unwrap() > usage.memory_free.unwrap());
    }
    // Every running VM's figures come from the host it runs on, wherever that is.
    let mut running = 0;
    for vm in Vm::get_all(&s).unwrap() {
        let rec = Vm::get_record(&s, &vm).unwrap();
        if rec.is_a_template || rec.is_control_domain {
            continue;
        }
        let state = Vm::get_power_state(&s, &vm).unwrap().to_string();
        if state == "Running" {
            running += 1;
            let u = rrd::vm_usage(&s, &rec.uuid, 60).unwrap();
            assert_eq!(
                u.cpus.len() as i64,
                rec.vcpus_at_startup,
                "{}",
                rec.name_label
            );
            assert!(u.cpu_average().unwrap() > 0.0);
        } else {
            let e = rrd::vm_usage(&s, &rec.uuid, 60).unwrap_err();
            assert!(e.to_string().contains("not running"), "{e}");
        }
    }
    assert!(running >= 2);
}

#[test]
fn a_members_address_keeps_the_sessions_scheme_and_port() {
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 2);
    let s = connect(&sim);
    let port = sim.addr().port();
    let host = host_ref(&s);
    // The coordinator asked as a member: the same reply as fetch_updates.
    let direct = rrd::fetch_updates_at(&s, &host, &UpdatesQuery::last(30)).unwrap();
    let plain = rrd::fetch_updates(&s, &UpdatesQuery::last(30)).unwrap();
    assert_eq!(direct.columns, plain.columns);
    assert!(sim
        .member_urls()
        .iter()
        .all(|u| u.ends_with(&format!(":{port}/"))));
    let e = rrd::fetch_updates_at(&s, "OpaqueRef:nothing", &UpdatesQuery::last(30)).unwrap_err();
    assert_eq!(e.code(), Some(xenapi::codes::HANDLE_INVALID), "{e}");
}
