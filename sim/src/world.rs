//! The initial pool: hosts with their CPUs, metrics and control domain, and the guest VMs.
//! Odd-numbered guests (`vm01`, `vm03`, …) start Running, even-numbered ones Halted.

use xenapi::{DateTime, Value};

use crate::dialect::Dialect;
use crate::state::{int, set_field, Record, State};
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

/// Fills `st` with `hosts` hosts (at least 1) and `vms` guests.
pub(crate) fn build(st: &mut State, hosts: usize, vms: usize) {
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

    set_field(&mut pool, "name_label", s("pool"));
    set_field(&mut pool, "master", s(&host_refs[0]));
    st.add("pool", pool_ref, pool);

    let width = vms.to_string().len().max(2);
    for i in 1..=vms {
        let (vm_ref, mut rec, _metrics) = new_vm(st, None);
        let mem = GIB * (1 + (i as i64 - 1) % 4);
        let vcpus = 1 + (i as i64 - 1) % 4;
        set_field(&mut rec, "name_label", s(&format!("vm{i:0width$}")));
        set_field(&mut rec, "name_description", s("Simulated guest"));
        set_memory(&mut rec, mem, vcpus);
        set_field(&mut rec, "allowed_operations", Value::Array(Vec::new()));
        st.add("VM", vm_ref.clone(), rec);
        if i % 2 == 1 {
            vm::set_power(st, &vm_ref, HALTED, RUNNING, false);
        } else {
            vm::set_power(st, &vm_ref, HALTED, HALTED, false);
        }
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
