//! The typed layer on realistic wire values, without a server: records, enums, maps, int64s and
//! the errors a wrong reply gets.

use std::collections::HashMap;

use xenapi::api::{
    error_param_names, DomainType, OnNormalExit, VmMetricsRecord, VmOperations, VmPowerState,
    VmRecord, ERROR_CODES,
};
use xenapi::codec::{decode_value, encode_value, Encoder, Limits};
use xenapi::{api, DateTime, Error, ErrorKind, Failure, FromValue, IndexMap, Ref, ToValue, Value};

/// A `VM.get_record` reply as xapi sends it: ints as strings, plus a field from a newer server
/// and a power state this client does not know.
fn vm_struct() -> Value {
    Value::structure([
        ("uuid", Value::from("5d2b2a6e-6b54-4a3c-9a43-1f7c2a0b9e11")),
        (
            "allowed_operations",
            Value::Array(vec!["start".into(), "export".into()]),
        ),
        (
            "current_operations",
            Value::structure([("OpaqueRef:task1", Value::from("clean_shutdown"))]),
        ),
        ("name_label", Value::from("web-01")),
        ("power_state", Value::from("Crashed")),
        ("user_version", Value::from("1")),
        ("is_a_template", Value::Bool(false)),
        ("resident_on", Value::from("OpaqueRef:host1")),
        ("memory_static_max", Value::from("8589934592")),
        ("memory_dynamic_min", Value::Int(536_870_912)),
        ("VCPUs_max", Value::from("4")),
        ("actions_after_shutdown", Value::from("destroy")),
        (
            "other_config",
            Value::structure([("folder", Value::from("/web"))]),
        ),
        ("domid", Value::from("-1")),
        (
            "snapshot_time",
            Value::DateTime(DateTime::from_wire("20250102T03:04:05Z")),
        ),
        (
            "blocked_operations",
            Value::structure([("destroy", Value::from("protected"))]),
        ),
        ("domain_type", Value::from("pvh")),
        ("tags", Value::Nil),
        ("a_field_from_2030", Value::from("hello")),
    ])
}

#[test]
fn a_vm_record_reads_every_kind_of_field() {
    let r = VmRecord::from_value(vm_struct()).unwrap();
    assert_eq!(r.name_label, "web-01");
    assert_eq!(r.memory_static_max, 8_589_934_592);
    assert_eq!(r.memory_dynamic_min, 536_870_912);
    assert_eq!(r.vcpus_max, 4);
    assert_eq!(r.domid, -1);
    assert_eq!(r.user_version, 1);
    assert!(!r.is_a_template);
    assert_eq!(r.resident_on, Ref::new("OpaqueRef:host1"));
    assert_eq!(
        r.allowed_operations,
        [VmOperations::Start, VmOperations::Export]
    );
    assert_eq!(
        r.current_operations.get("OpaqueRef:task1"),
        Some(&VmOperations::CleanShutdown)
    );
    assert_eq!(r.blocked_operations[&VmOperations::Destroy], "protected");
    assert_eq!(r.actions_after_shutdown, OnNormalExit::Destroy);
    assert_eq!(r.domain_type, DomainType::Pvh);
    assert_eq!(r.other_config["folder"], "/web");
    assert_eq!(r.snapshot_time.unix_timestamp(), Some(1_735_787_045));
    // Unknown enum values and unknown fields are kept, never an error.
    assert_eq!(r.power_state, VmPowerState::Unknown("Crashed".into()));
    assert_eq!(r.power_state.as_str(), "Crashed");
    assert_eq!(
        r.extra,
        vec![("a_field_from_2030".to_owned(), Value::from("hello"))]
    );
    // Missing (and xend's nil) fields take their type's default.
    assert!(r.tags.is_empty());
    assert_eq!(r.name_description, "");
    assert!(r.snapshot_of.is_null());
    assert_eq!(r.hvm_shadow_multiplier, 0.0);
}

#[test]
fn a_record_writes_back_with_its_extra_fields() {
    let r = VmRecord::from_value(vm_struct()).unwrap();
    let v = r.to_value();
    assert_eq!(v.get("memory_static_max"), Some(&Value::Int(8_589_934_592)));
    assert_eq!(v.get("power_state"), Some(&Value::from("Crashed")));
    assert_eq!(v.get("VCPUs_max"), Some(&Value::Int(4)));
    assert_eq!(v.get("a_field_from_2030"), Some(&Value::from("hello")));
    assert_eq!(VmRecord::from_value(v).unwrap(), r);
}

#[test]
fn a_wrong_type_is_a_protocol_error_naming_the_field() {
    let mut v = vm_struct();
    if let Value::Struct(m) = &mut v {
        m.push(("memory_static_max".into(), Value::Bool(true)));
    }
    let e = VmRecord::from_value(v).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_eq!(
        e.to_string(),
        "not a valid XenAPI reply: VM.memory_static_max: expected an int, got a boolean"
    );

    let e = VmRecord::from_value(Value::from("OpaqueRef:1")).unwrap_err();
    assert!(e.to_string().contains("expected a VM record"), "{e}");

    let e = Vec::<Ref<api::Vm>>::from_value(Value::structure([("a", Value::Int(1))])).unwrap_err();
    assert!(e.to_string().contains("expected a set"), "{e}");

    let nested = Value::structure([("OpaqueRef:1", Value::structure([("uuid", Value::Int(7))]))]);
    let ok = HashMap::<Ref<api::Vm>, VmRecord>::from_value(nested).unwrap();
    assert_eq!(
        ok[&Ref::new("OpaqueRef:1")].uuid,
        "7",
        "xend's int-for-string is read"
    );
    let bad = Value::structure([(
        "OpaqueRef:1",
        Value::structure([("uuid", Value::Array(vec![]))]),
    )]);
    let e = HashMap::<Ref<api::Vm>, VmRecord>::from_value(bad).unwrap_err();
    assert_eq!(
        e,
        Error::Protocol("[\"OpaqueRef:1\"]: VM.uuid: expected a string, got an array".into())
    );
}

#[test]
fn map_keys_of_every_kind() {
    // (int -> float) map, keys as member names: VM_metrics.VCPUs_utilisation.
    let metrics = Value::structure([
        ("memory_actual", Value::from("1073741824")),
        (
            "VCPUs_utilisation",
            Value::structure([("0", Value::Double(0.25)), ("1", Value::from("0.5"))]),
        ),
        ("VCPUs_CPU", Value::structure([("0", Value::from("3"))])),
    ]);
    let m = VmMetricsRecord::from_value(metrics).unwrap();
    assert_eq!(m.memory_actual, 1 << 30);
    assert_eq!(m.vcpus_utilisation[&0], 0.25);
    assert_eq!(m.vcpus_utilisation[&1], 0.5);
    assert_eq!(m.vcpus_cpu[&0], 3);
    let e = VmMetricsRecord::from_value(Value::structure([(
        "VCPUs_CPU",
        Value::structure([("zero", Value::from("3"))]),
    )]))
    .unwrap_err();
    assert!(e.to_string().contains("VM_metrics.VCPUs_CPU"), "{e}");

    // (VM ref -> VM record) map, as get_all_records returns it.
    let all = Value::structure([
        ("OpaqueRef:a", vm_struct()),
        ("OpaqueRef:b", Value::structure::<&str>([])),
    ]);
    let all = HashMap::<Ref<api::Vm>, VmRecord>::from_value(all).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[&Ref::new("OpaqueRef:a")].name_label, "web-01");

    // Enum keys write their wire names, sorted.
    let blocked: HashMap<VmOperations, String> = [
        (VmOperations::Start, "no".to_owned()),
        (VmOperations::CleanShutdown, "no".to_owned()),
    ]
    .into();
    assert_eq!(
        blocked.to_value(),
        Value::structure([("clean_shutdown", "no".into()), ("start", "no".into())])
    );
}

#[test]
fn int64_above_2_31_survives_the_wire() {
    let big: i64 = 8_589_934_592;
    let v = big.to_value();
    let xml = encode_value(&v, &Encoder::default());
    assert!(xml.contains("<string>8589934592</string>"), "{xml}");
    let back = decode_value(&xml, Limits::default()).unwrap();
    assert_eq!(i64::from_value(back).unwrap(), big);
    let small = encode_value(&7i64.to_value(), &Encoder::default());
    assert_eq!(
        i64::from_value(decode_value(&small, Limits::default()).unwrap()).unwrap(),
        7
    );
    assert_eq!(
        i64::from_value(Value::from("-9223372036854775808")).unwrap(),
        i64::MIN
    );
}

#[test]
fn enums_are_case_sensitive_and_round_trip() {
    for s in ["Halted", "Paused", "Running", "Suspended"] {
        let e = VmPowerState::from(s);
        assert_eq!(e.as_str(), s);
        assert_eq!(e.to_string(), s);
        assert_eq!(VmPowerState::from_value(e.to_value()).unwrap(), e);
    }
    assert_eq!(
        VmPowerState::from("halted"),
        VmPowerState::Unknown("halted".into())
    );
    assert_eq!(
        VmPowerState::default(),
        VmPowerState::Unknown(String::new())
    );
    // A wire value "unknown" of the datamodel's own is not the catch-all.
    assert_eq!(
        api::PifIgmpStatus::from("unknown"),
        api::PifIgmpStatus::UnknownValue
    );
    assert_eq!(
        api::BondMode::from("balance-slb"),
        api::BondMode::BalanceSlb
    );
    let e = VmPowerState::from_value(Value::Int(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a valid XenAPI reply: expected a vm_power_state (a string), got an int"
    );
}

#[test]
fn void_and_values() {
    assert!(<()>::from_value(Value::from("")).is_ok());
    assert!(<()>::from_value(Value::Nil).is_ok());
    assert_eq!(Value::from_value(Value::Int(3)).unwrap(), Value::Int(3));
    assert!(f64::from_value(Value::from("-Infinity"))
        .unwrap()
        .is_infinite());
    assert!(bool::from_value(Value::from("maybe")).is_err());
}

#[test]
fn error_codes_come_from_the_datamodel() {
    assert_eq!(ERROR_CODES.len(), 577);
    assert_eq!(
        error_param_names("VM_BAD_POWER_STATE"),
        Some(&["vm", "expected", "actual"][..])
    );
    assert_eq!(error_param_names("NOT_A_CODE"), None);
    let f = Failure::with_code("TASK_CANCELLED", &["OpaqueRef:t"]);
    assert_eq!(f.to_string(), "TASK_CANCELLED: task=OpaqueRef:t");
}

#[test]
#[allow(clippy::type_complexity)] // the point is to spell the signatures out
fn typed_functions_have_the_expected_shapes() {
    use xenapi::{Result, Session};
    let _: fn(&Session, &Ref<api::Vm>, bool, bool) -> Result<()> = api::Vm::start;
    let _: fn(&Session, &Ref<api::Vm>, bool, bool) -> Result<Ref<api::Task>> = api::Vm::async_start;
    let _: fn(&Session) -> Result<IndexMap<Ref<api::Vm>, VmRecord>> = api::Vm::get_all_records;
    let _: fn(&Session, &Ref<api::Vm>) -> Result<VmPowerState> = api::Vm::get_power_state;
    let _: fn(&Session, &Ref<api::VmMetrics>) -> Result<IndexMap<i64, f64>> =
        api::VmMetrics::get_vcpus_utilisation;
    let _: fn(&Session, &Ref<api::HostCpu>) -> Result<f64> = api::HostCpu::get_utilisation;
    let _: fn(&Session, &Ref<api::Host>) -> Result<String> = api::Host::dmesg;
    let _: fn(&Session, &Ref<api::Vm>, &str) -> Result<()> = api::Vm::set_name_label;
    let _: fn(&Session, &VmRecord) -> Result<Ref<api::Vm>> = api::Vm::create;
    // A map parameter takes any map of its types: a typed map read back, a HashMap, a BTreeMap.
    let _: fn(&Session, &Ref<api::Vm>, &dyn xenapi::MapArg<String, String>) -> Result<()> =
        api::Vm::set_other_config;
}
