//! The initial pool: hosts with their CPUs, metrics and control domain, and the guest VMs.
//! Odd-numbered guests (`vm01`, `vm03`, …) start Running, even-numbered ones Halted.

use xenapi::{DateTime, Value};

use crate::dialect::Dialect;
use crate::lifecycle;
use crate::net;
use crate::objects::{link, random_mac};
use crate::state::{int, set_field, Record, State};
use crate::storage;
use crate::vm::{self, HALTED, RUNNING};

const GIB: i64 = 1 << 30;
const MIB: i64 = 1 << 20;

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map(pairs: &[(&str, &str)]) -> Value {
    Value::Struct(pairs.iter().map(|(k, v)| ((*k).to_owned(), s(v))).collect())
}

fn set(items: &[String]) -> Value {
    Value::Array(items.iter().map(|i| s(i)).collect())
}

/// Fills `st` with `hosts` hosts (at least 1), their networks and storage, `templates`
/// templates and `vms` guests.
pub(crate) fn build(st: &mut State, hosts: usize, vms: usize, templates: usize) {
    let dialect = st.dialect;
    let hosts = hosts.max(1);
    let boot = DateTime::from_unix(crate::state::unix_now() - 3 * 86_400);
    let (pool_ref, mut pool) = st.blank("pool");
    let mut host_refs = Vec::new();
    for h in 1..=hosts {
        let hostname = format!("host{h:02}");
        let (host_ref, mut host) = st.blank("host");
        let (hm_ref, mut hm) = st.blank("host_metrics");
        set_field(&mut hm, "memory_total", int(256 * GIB));
        set_field(&mut hm, "memory_free", int(250 * GIB));
        set_field(&mut hm, "live", Value::Bool(true));
        set_field(&mut hm, "last_updated", Value::DateTime(DateTime::now()));
        st.add("host_metrics", hm_ref.clone(), hm);
        let mut cpus = Vec::new();
        for n in 0..8 {
            let (cpu_ref, mut cpu) = st.blank("host_cpu");
            set_field(&mut cpu, "host", s(&host_ref));
            set_field(&mut cpu, "number", int(n));
            set_field(&mut cpu, "vendor", s("GenuineIntel"));
            set_field(&mut cpu, "speed", int(2_600));
            set_field(
                &mut cpu,
                "modelname",
                s("Intel(R) Xeon(R) CPU E5-2650 v2 @ 2.60GHz"),
            );
            set_field(&mut cpu, "family", int(6));
            set_field(&mut cpu, "model", int(62));
            set_field(&mut cpu, "stepping", s("4"));
            set_field(&mut cpu, "flags", s("fpu de tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat clflush acpi mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl pni pclmulqdq ssse3 cx16 sse4_1 sse4_2 popcnt aes xsave avx f16c rdrand hypervisor"));
            set_field(
                &mut cpu,
                "features",
                s("77bee3ff-bfebfbff-00000001-2c100800"),
            );
            st.add("host_cpu", cpu_ref.clone(), cpu);
            cpus.push(cpu_ref);
        }
        // The control domain.
        let (dom0_ref, mut dom0, dom0_metrics) = new_vm(
            st,
            if h == 1 && dialect == Dialect::Xend {
                Some("00000000-0000-0000-0000-000000000000")
            } else {
                None
            },
        );
        let dom0_name = match dialect {
            Dialect::Xapi => format!("Control domain on host: {hostname}"),
            Dialect::Xend => "Domain-0".to_owned(),
        };
        set_field(&mut dom0, "name_label", s(&dom0_name));
        set_field(
            &mut dom0,
            "name_description",
            s("The domain which manages physical devices and manages other domains"),
        );
        set_field(&mut dom0, "is_control_domain", Value::Bool(true));
        set_field(&mut dom0, "power_state", s(RUNNING));
        set_field(&mut dom0, "domid", int(0));
        set_field(&mut dom0, "domarch", s("x64"));
        set_field(&mut dom0, "resident_on", s(&host_ref));
        set_field(&mut dom0, "affinity", s(&host_ref));
        set_memory(&mut dom0, 4 * GIB, 8);
        set_field(&mut dom0, "domain_type", s("pv"));
        set_field(&mut dom0, "allowed_operations", Value::Array(Vec::new()));
        st.add("VM", dom0_ref.clone(), dom0);
        st.modify("VM_metrics", &dom0_metrics, |m| {
            set_field(m, "memory_actual", int(4 * GIB));
            set_field(m, "VCPUs_number", int(8));
            set_field(m, "state", Value::Array(vec![s("running")]));
            set_field(m, "start_time", Value::DateTime(boot.clone()));
            set_field(m, "current_domain_type", s("pv"));
        });

        set_field(&mut host, "name_label", s(&hostname));
        set_field(&mut host, "name_description", s("Simulated host"));
        set_field(&mut host, "hostname", s(&hostname));
        set_field(&mut host, "address", s("127.0.0.1"));
        set_field(&mut host, "enabled", Value::Bool(true));
        set_field(&mut host, "API_version_major", int(2));
        set_field(&mut host, "API_version_minor", int(21));
        set_field(&mut host, "API_version_vendor", s("XenSource"));
        set_field(
            &mut host,
            "software_version",
            map(&[
                ("product_brand", "XenServer"),
                ("product_version", "8.4.0"),
                ("platform_name", "XCP"),
                ("xapi", "24.39"),
                ("xen", "4.17.5"),
                ("hostname", &hostname),
                ("simulator", "xenapi-sim"),
            ]),
        );
        set_field(
            &mut host,
            "cpu_info",
            map(&[
                ("cpu_count", "8"),
                ("socket_count", "1"),
                ("vendor", "GenuineIntel"),
                ("speed", "2600.000"),
                ("modelname", "Intel(R) Xeon(R) CPU E5-2650 v2 @ 2.60GHz"),
            ]),
        );
        set_field(
            &mut host,
            "capabilities",
            set(&[
                "xen-3.0-x86_64".into(),
                "hvm-3.0-x86_32".into(),
                "hvm-3.0-x86_64".into(),
            ]),
        );
        set_field(&mut host, "sched_policy", s("credit"));
        set_field(&mut host, "host_CPUs", set(&cpus));
        set_field(&mut host, "metrics", s(&hm_ref));
        set_field(&mut host, "control_domain", s(&dom0_ref));
        set_field(
            &mut host,
            "resident_VMs",
            set(std::slice::from_ref(&dom0_ref)),
        );
        set_field(&mut host, "memory_overhead", int(600 * MIB));
        st.add("host", host_ref.clone(), host);
        host_refs.push(host_ref);
    }
    st.coordinator = host_refs[0].clone();
    let infra = build_infra(st, &host_refs, vms);

    set_field(&mut pool, "name_label", s("pool"));
    set_field(&mut pool, "master", s(&host_refs[0]));
    set_field(&mut pool, "default_SR", s(&infra.shared_sr));
    set_field(&mut pool, "suspend_image_SR", s(&infra.shared_sr));
    set_field(&mut pool, "crash_dump_SR", s(&infra.shared_sr));
    set_field(&mut pool, "ha_allow_overcommit", Value::Bool(false));
    set_field(
        &mut pool,
        "other_config",
        map(&[("memory-ratio-hvm", "0.25"), ("memory-ratio-pv", "0.25")]),
    );
    st.add("pool", pool_ref, pool);

    for (i, (name, linux)) in TEMPLATES.iter().cycle().take(templates).enumerate() {
        let (t_ref, mut rec, _metrics) = new_vm(st, None);
        let name = if i < TEMPLATES.len() {
            (*name).to_owned()
        } else {
            format!("{name} ({})", i / TEMPLATES.len() + 1)
        };
        set_field(&mut rec, "name_label", s(&name));
        set_field(
            &mut rec,
            "name_description",
            s(&format!("Template for {name}")),
        );
        set_field(&mut rec, "is_a_template", Value::Bool(true));
        set_memory(&mut rec, 2 * GIB, 2);
        set_field(&mut rec, "HVM_boot_params", map(&[("order", "cdn")]));
        let disks = format!(
            "<provision><disk device=\"0\" size=\"{}\" sr=\"\" bootable=\"true\" type=\"system\"/></provision>",
            if *linux { 10 * GIB } else { 32 * GIB }
        );
        let mut oc = vec![
            ("default_template", "true"),
            (
                "install-methods",
                if *linux {
                    "cdrom,nfs,http,ftp"
                } else {
                    "cdrom"
                },
            ),
            ("disks", disks.as_str()),
        ];
        if *linux {
            oc.push(("linux_template", "true"));
        }
        set_field(&mut rec, "other_config", map(&oc));
        st.add("VM", t_ref.clone(), rec);
        lifecycle::refresh(st, &t_ref);
    }

    let width = vms.to_string().len().max(2);
    for i in 1..=vms {
        let (vm_ref, mut rec, _metrics) = new_vm(st, None);
        let mem = GIB * (1 + (i as i64 - 1) % 4);
        let vcpus = 1 + (i as i64 - 1) % 4;
        set_field(&mut rec, "name_label", s(&format!("vm{i:0width$}")));
        set_field(&mut rec, "name_description", s("Simulated guest"));
        set_memory(&mut rec, mem, vcpus);
        set_field(&mut rec, "allowed_operations", Value::Array(Vec::new()));
        let seed = st.rng.uuid();
        set_field(
            &mut rec,
            "other_config",
            map(&[
                ("base_template_name", "Other install media"),
                ("mac_seed", &seed),
            ]),
        );
        st.add("VM", vm_ref.clone(), rec);
        add_guest_devices(st, &vm_ref, &infra, &format!("vm{i:0width$}"));
        if i % 2 == 1 {
            vm::set_power(st, &vm_ref, HALTED, RUNNING, false);
        } else {
            vm::set_power(st, &vm_ref, HALTED, HALTED, false);
        }
    }
    for h in &host_refs {
        crate::host_ops::refresh(st, h);
    }
    let srs: Vec<String> = st
        .table("SR")
        .map(|t| t.refs().to_vec())
        .unwrap_or_default();
    for sr in srs {
        crate::pbd::sr_refresh(st, &sr);
    }
    st.log("xapi starting: pool database loaded");
    st.dmesg("Xen version 4.17.5 (simulated) (gcc 12.2.0) debug=n");
    st.dmesg(format!("Brought up {} CPUs", 8));
    st.dmesg("Dom0 has maximum 8 VCPUs");
}

/// A VM record with realistic defaults and its VM_metrics (added), not yet stored.
fn new_vm(st: &mut State, uuid: Option<&str>) -> (String, Record, String) {
    let (mut r, mut rec) = st.blank("VM");
    if let Some(u) = uuid {
        r = st.dialect.make_ref(u);
        set_field(&mut rec, "uuid", s(u));
    }
    let (m_ref, mut m) = st.blank("VM_metrics");
    set_field(
        &mut m,
        "install_time",
        Value::DateTime(DateTime::from_unix(crate::state::unix_now() - 30 * 86_400)),
    );
    set_field(&mut m, "last_updated", Value::DateTime(DateTime::now()));
    set_field(&mut m, "current_domain_type", s("hvm"));
    set_field(&mut m, "hvm", Value::Bool(true));
    st.add("VM_metrics", m_ref.clone(), m);
    let g = rec_gen(st);
    set_field(&mut rec, "metrics", s(&m_ref));
    set_field(&mut rec, "user_version", int(1));
    set_field(&mut rec, "domid", int(-1));
    set_field(&mut rec, "actions_after_softreboot", s("soft_reboot"));
    set_field(&mut rec, "actions_after_shutdown", s("destroy"));
    set_field(&mut rec, "actions_after_reboot", s("restart"));
    set_field(&mut rec, "actions_after_crash", s("restart"));
    set_field(&mut rec, "HVM_boot_policy", s("BIOS order"));
    set_field(&mut rec, "HVM_boot_params", map(&[("order", "cd")]));
    set_field(&mut rec, "HVM_shadow_multiplier", Value::Double(1.0));
    set_field(
        &mut rec,
        "platform",
        map(&[
            ("acpi", "1"),
            ("apic", "true"),
            ("pae", "true"),
            ("viridian", "true"),
            ("nx", "true"),
        ]),
    );
    set_field(
        &mut rec,
        "other_config",
        map(&[("base_template_name", "Other install media")]),
    );
    set_field(&mut rec, "domain_type", s("hvm"));
    set_field(&mut rec, "generation_id", s(&g));
    set_field(&mut rec, "ha_restart_priority", s(""));
    set_field(&mut rec, "hardware_platform_version", int(0));
    set_field(
        &mut rec,
        "bios_strings",
        map(&[("bios-vendor", "Xen"), ("system-manufacturer", "Xen")]),
    );
    (r, rec, m_ref)
}

fn rec_gen(st: &mut State) -> String {
    format!("{}:{}", st.rng.next_u64() >> 1, st.rng.next_u64() >> 1)
}

fn set_memory(rec: &mut Record, mem: i64, vcpus: i64) {
    set_field(rec, "memory_static_max", int(mem));
    set_field(rec, "memory_dynamic_max", int(mem));
    set_field(rec, "memory_target", int(mem));
    set_field(rec, "memory_dynamic_min", int(mem / 2));
    set_field(rec, "memory_static_min", int(mem / 2));
    set_field(rec, "memory_overhead", int(mem / 128 + 8 * MIB));
    set_field(rec, "VCPUs_max", int(vcpus));
    set_field(rec, "VCPUs_at_startup", int(vcpus));
    set_field(rec, "VCPUs_params", Value::Struct(Vec::new()));
}

/// The default templates made with `--templates N` (cycled, numbered after the first round):
/// name and whether it is a Linux template.
const TEMPLATES: &[(&str, bool)] = &[
    ("Debian Bookworm 12", true),
    ("Ubuntu Jammy Jellyfish 22.04", true),
    ("Rocky Linux 9", true),
    ("Windows Server 2022 (64-bit)", false),
    ("Other install media", false),
];

/// What guests attach to.
pub(crate) struct Infra {
    pub network: String,
    pub shared_sr: String,
}

/// Per host: a PIF `eth0` (the management interface) on the pool-wide network, a local SR
/// with its PBD; for the pool: the host-internal management network, one shared SR and an
/// ISO library with the tools ISO, each with a PBD per host.
fn build_infra(st: &mut State, hosts: &[String], vms: usize) -> Infra {
    let (net_ref, mut net_rec) = st.blank("network");
    set_field(
        &mut net_rec,
        "name_label",
        s("Pool-wide network associated with eth0"),
    );
    set_field(&mut net_rec, "bridge", s("xenbr0"));
    set_field(&mut net_rec, "MTU", int(1500));
    set_field(&mut net_rec, "managed", Value::Bool(true));
    set_field(&mut net_rec, "default_locking_mode", s("unlocked"));
    st.add("network", net_ref.clone(), net_rec);

    let (int_ref, mut int_rec) = st.blank("network");
    set_field(
        &mut int_rec,
        "name_label",
        s("Host internal management network"),
    );
    set_field(
        &mut int_rec,
        "name_description",
        s("Network on which guests will be assigned a private link-local IP address which can be used to talk XenAPI"),
    );
    set_field(&mut int_rec, "bridge", s("xenapi"));
    set_field(&mut int_rec, "MTU", int(1500));
    set_field(&mut int_rec, "managed", Value::Bool(true));
    set_field(&mut int_rec, "default_locking_mode", s("unlocked"));
    set_field(
        &mut int_rec,
        "other_config",
        map(&[
            ("is_guest_installer_network", "true"),
            ("is_host_internal_management_network", "true"),
            ("ip_begin", "169.254.0.1"),
            ("ip_end", "169.254.255.254"),
            ("netmask", "255.255.0.0"),
        ]),
    );
    st.add("network", int_ref, int_rec);

    for (i, h) in hosts.iter().enumerate() {
        let (m_ref, mut m) = st.blank("PIF_metrics");
        set_field(&mut m, "carrier", Value::Bool(true));
        set_field(&mut m, "vendor_name", s("Intel Corporation"));
        set_field(
            &mut m,
            "device_name",
            s("Ethernet Controller X710 for 10GbE SFP+"),
        );
        set_field(&mut m, "speed", int(10_000));
        set_field(&mut m, "duplex", Value::Bool(true));
        set_field(&mut m, "last_updated", Value::DateTime(DateTime::now()));
        st.add("PIF_metrics", m_ref.clone(), m);
        let (pif_ref, mut pif) = st.blank("PIF");
        let mac = random_mac(st);
        set_field(&mut pif, "device", s("eth0"));
        set_field(&mut pif, "network", s(&net_ref));
        set_field(&mut pif, "host", s(h));
        set_field(&mut pif, "MAC", s(&mac));
        set_field(&mut pif, "MTU", int(1500));
        set_field(&mut pif, "VLAN", int(-1));
        set_field(&mut pif, "metrics", s(&m_ref));
        set_field(&mut pif, "physical", Value::Bool(true));
        set_field(&mut pif, "currently_attached", Value::Bool(true));
        set_field(&mut pif, "ip_configuration_mode", s("Static"));
        set_field(&mut pif, "IP", s(&format!("127.0.0.{}", i + 1)));
        set_field(&mut pif, "netmask", s("255.0.0.0"));
        set_field(&mut pif, "management", Value::Bool(true));
        set_field(&mut pif, "ipv6_configuration_mode", s("None"));
        set_field(&mut pif, "primary_address_type", s("IPv4"));
        set_field(&mut pif, "managed", Value::Bool(true));
        set_field(&mut pif, "igmp_snooping_status", s("unknown"));
        set_field(&mut pif, "capabilities", set(&["fcoe".into()]));
        st.add("PIF", pif_ref.clone(), pif);
        link(st, "host", h, "PIFs", &pif_ref);
        link(st, "network", &net_ref, "PIFs", &pif_ref);

        let name = crate::objects::get_str(st, "host", h, "name_label");
        let local = new_sr(
            st,
            "Local storage",
            &format!("Local storage on {name}"),
            "lvm",
            "user",
            false,
            500 * GIB,
        );
        add_pbd(st, &local, h, &[("device", "/dev/sda3")]);
        st.modify("host", h, |r| {
            set_field(r, "suspend_image_sr", s(&local));
            set_field(r, "crash_dump_sr", s(&local));
        });
    }

    let shared_size = (2048 * GIB).max(vms as i64 * 16 * GIB);
    let shared = new_sr(
        st,
        "Shared storage",
        "NFS SR [192.0.2.10:/exports/xen]",
        "nfs",
        "user",
        true,
        shared_size,
    );
    let iso = new_sr(
        st,
        "XCP-ng Tools",
        "XCP-ng Tools ISOs",
        "iso",
        "iso",
        true,
        0,
    );
    st.modify("SR", &iso, |r| {
        set_field(r, "is_tools_sr", Value::Bool(true))
    });
    for h in hosts {
        add_pbd(
            st,
            &shared,
            h,
            &[("server", "192.0.2.10"), ("serverpath", "/exports/xen")],
        );
        add_pbd(st, &iso, h, &[("location", "/opt/xensource/packages/iso")]);
    }
    let tools = storage::new_vdi(
        st,
        &iso,
        "guest-tools.iso",
        "XCP-ng VM Tools ISO",
        60 * MIB,
        "user",
        &[],
    )
    .expect("the ISO SR takes the tools ISO");
    st.modify("VDI", &tools, |r| {
        set_field(r, "read_only", Value::Bool(true));
        set_field(r, "sharable", Value::Bool(true));
        set_field(r, "location", s("guest-tools.iso"));
    });
    let used = 60 * MIB;
    st.modify("SR", &iso, |r| set_field(r, "physical_size", int(used)));
    Infra {
        network: net_ref,
        shared_sr: shared,
    }
}

fn new_sr(
    st: &mut State,
    name: &str,
    description: &str,
    ty: &str,
    content: &str,
    shared: bool,
    size: i64,
) -> String {
    let (r, mut rec) = st.blank("SR");
    set_field(&mut rec, "name_label", s(name));
    set_field(&mut rec, "name_description", s(description));
    set_field(&mut rec, "type", s(ty));
    set_field(&mut rec, "content_type", s(content));
    set_field(&mut rec, "shared", Value::Bool(shared));
    set_field(&mut rec, "physical_size", int(size));
    set_field(
        &mut rec,
        "allowed_operations",
        storage::sr_allowed_operations(content),
    );
    set_field(
        &mut rec,
        "sm_config",
        map(&[("devserial", "scsi-SSimulated_Disk_0")]),
    );
    st.add("SR", r.clone(), rec);
    r
}

fn add_pbd(st: &mut State, sr: &str, host: &str, config: &[(&str, &str)]) {
    let (r, mut rec) = st.blank("PBD");
    set_field(&mut rec, "host", s(host));
    set_field(&mut rec, "SR", s(sr));
    set_field(&mut rec, "device_config", map(config));
    set_field(&mut rec, "currently_attached", Value::Bool(true));
    st.add("PBD", r.clone(), rec);
    link(st, "SR", sr, "PBDs", &r);
    link(st, "host", host, "PBDs", &r);
}

/// A guest's disk (on the shared SR), an empty CD drive and a VIF on the pool network.
fn add_guest_devices(st: &mut State, vm: &str, infra: &Infra, name: &str) {
    let size = 8 * GIB;
    let Ok(vdi) = storage::new_vdi(
        st,
        &infra.shared_sr,
        &format!("{name} disk 0"),
        "Created by xenapi-sim",
        size,
        "system",
        &[],
    ) else {
        return;
    };
    let null = st.dialect.null_ref().to_owned();
    let (b, mut br) = st.blank("VBD");
    set_field(&mut br, "VM", s(vm));
    set_field(&mut br, "VDI", s(&vdi));
    set_field(&mut br, "userdevice", s("0"));
    set_field(&mut br, "bootable", Value::Bool(true));
    set_field(&mut br, "mode", s("RW"));
    set_field(&mut br, "type", s("Disk"));
    set_field(&mut br, "unpluggable", Value::Bool(false));
    set_field(&mut br, "other_config", map(&[("owner", "")]));
    storage::store_vbd(st, b, br);
    let (c, mut cr) = st.blank("VBD");
    set_field(&mut cr, "VM", s(vm));
    set_field(&mut cr, "VDI", s(&null));
    set_field(&mut cr, "userdevice", s("3"));
    set_field(&mut cr, "mode", s("RO"));
    set_field(&mut cr, "type", s("CD"));
    set_field(&mut cr, "empty", Value::Bool(true));
    set_field(&mut cr, "unpluggable", Value::Bool(true));
    storage::store_vbd(st, c, cr);
    let (v, mut vr) = st.blank("VIF");
    let mac = random_mac(st);
    let mtu = st
        .get("network", &infra.network)
        .map(|n| crate::objects::i64_of(n, "MTU"))
        .unwrap_or(1500);
    set_field(&mut vr, "device", s("0"));
    set_field(&mut vr, "network", s(&infra.network));
    set_field(&mut vr, "VM", s(vm));
    set_field(&mut vr, "MAC", s(&mac));
    set_field(&mut vr, "MAC_autogenerated", Value::Bool(true));
    set_field(&mut vr, "MTU", int(mtu));
    net::store_vif(st, v, vr);
}
