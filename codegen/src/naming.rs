//! Wire names to identifiers. Backends share the word splitting; each picks its own case and
//! keyword list.

/// Splits a wire name into lowercase words: `VM_guest_metrics` -> `vm guest metrics`,
/// `balance-slb` -> `balance slb`, `VCPUs_max` -> `vcpus max`.
pub fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// `VM_guest_metrics` -> `VmGuestMetrics`, `vm_power_state` -> `VmPowerState`, `PVS_proxy` ->
/// `PvsProxy`.
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    for w in words(name) {
        let mut chars = w.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `get_VCPUs_utilisation` -> `get_vcpus_utilisation`.
pub fn snake(name: &str) -> String {
    words(name).join("_")
}

/// Words Rust reserves (strict and reserved, 2021 edition), plus `self`/`Self`/`crate`/`super`,
/// which cannot even be raw identifiers.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// A Rust snake_case identifier for a field, parameter or function: keywords get a trailing `_`
/// (`type_`, `ref_`, `fn_`), which reads better than `r#type` at every use.
pub fn rust_ident(name: &str) -> String {
    let s = snake(name);
    if RUST_KEYWORDS.contains(&s.as_str()) {
        s + "_"
    } else {
        s
    }
}

/// The Rust marker type of a class. `session` is `SessionClass`, so that it does not clash with
/// [`xenapi::Session`], the connection.
pub fn rust_class(class: &str) -> String {
    match class {
        "session" => "SessionClass".to_owned(),
        _ => camel(class),
    }
}

/// `VmRecord`; the event batch is `EventBatch`, as the official SDKs name it.
pub fn rust_record(class: &str) -> String {
    if class == xenapi_spec::EVENT_BATCH {
        return "EventBatch".to_owned();
    }
    camel(class) + "Record"
}

pub fn rust_module(class: &str) -> String {
    rust_ident(class)
}

// ---- C names (libxenapi): shared by the C backend and the C# backend, which calls them. ----
//
// The rules are written down in ffi/GENERATED.md; keep the two in step.

/// The C name of a class: `VM_metrics` -> `vm_metrics`, `PIF` -> `pif`.
pub fn c_class(class: &str) -> String {
    snake(class)
}

/// `xenapi_vm_start`, `xenapi_vm_metrics_get_vcpus_utilisation`.
pub fn c_message(class: &str, message: &str) -> String {
    format!("xenapi_{}_{}", c_class(class), snake(message))
}

/// `xenapi_async_vm_start`: the `Async.` form, giving the task reference.
pub fn c_async_message(class: &str, message: &str) -> String {
    format!("xenapi_async_{}_{}", c_class(class), snake(message))
}

/// `xenapi_async_vm_clone_wait`: waits for the task of the `Async.` form and gives its result
/// typed as the synchronous message's.
pub fn c_async_wait(class: &str, message: &str) -> String {
    format!("{}_wait", c_async_message(class, message))
}

/// Words that cannot be C parameter names (C, C++ and Rust keywords, since the generated
/// functions are written in Rust and compiled as C and C++; macros of the Windows headers), or
/// that the generated functions use themselves.
const C_RESERVED: &[&str] = &[
    // C and C++
    "auto",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "double",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "operator",
    "private",
    "protected",
    "public",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "template",
    "this",
    "throw",
    "true",
    "try",
    "typedef",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "while",
    // Rust
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "crate",
    "dyn",
    "final",
    "fn",
    "gen",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "self",
    "super",
    "trait",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "where",
    "yield",
    // macros of <windows.h> (objbase.h: `#define interface struct`), so that a Windows program
    // can include it before xenapi.h
    "interface",
    // the generated functions' own
    "session",
    "err",
    "out_result",
    "out_task",
];

/// The C parameter names of a message of `class` whose wire parameters (after the session) are
/// `params`: `self` is named after the class (`vm`) unless another parameter has that name;
/// the others are `snake`d; a reserved word gets a trailing `_` (`class_`, `type_`). Not part of
/// the ABI, but the generated headers and the C# declarations use them.
pub fn c_params(class: &str, params: &[&str]) -> Vec<String> {
    let own = c_class(class);
    let mut names: Vec<String> = Vec::new();
    for p in params {
        let mut n = if *p == "self" && !params.iter().any(|q| snake(q) == own) {
            own.clone()
        } else {
            snake(p)
        };
        while C_RESERVED.contains(&n.as_str()) || n.starts_with(|c: char| c.is_ascii_digit()) {
            n.push('_');
        }
        assert!(!names.contains(&n), "{class}: two parameters named {n}");
        names.push(n);
    }
    names
}

/// The C type of an enum: `xenapi_vm_power_state`.
pub fn c_enum(name: &str) -> String {
    format!("xenapi_{}", snake(name))
}

/// The C constant of an enum value: `XENAPI_VM_POWER_STATE_HALTED`,
/// `XENAPI_BOND_MODE_BALANCE_SLB`. A wire value `unknown` is `..._UNKNOWN_VALUE`, since
/// `..._UNKNOWN` (0) is every enum's "not a value this library knows".
pub fn c_enum_value(name: &str, value: &str) -> String {
    let v = snake(value).to_ascii_uppercase();
    let v = if v == "UNKNOWN" {
        "UNKNOWN_VALUE".to_owned()
    } else {
        v
    };
    format!("{}_{v}", c_enum(name).to_ascii_uppercase())
}

/// The constant of an enum for values this library does not know (0).
pub fn c_enum_unknown(name: &str) -> String {
    format!("{}_UNKNOWN", c_enum(name).to_ascii_uppercase())
}

/// The opaque record handle of a class: `xenapi_vm_record`; the event batch's is
/// `xenapi_event_batch`.
pub fn c_record(class: &str) -> String {
    if class == xenapi_spec::EVENT_BATCH {
        return "xenapi_event_batch".to_owned();
    }
    format!("xenapi_{}_record", c_class(class))
}

/// The getter of record field `field`: `xenapi_vm_record_name_label`.
pub fn c_record_get(class: &str, field: &str) -> String {
    format!("{}_{}", c_record(class), snake(field))
}

/// The setter of record field `field`: `xenapi_vm_record_set_name_label`.
pub fn c_record_set(class: &str, field: &str) -> String {
    format!("{}_set_{}", c_record(class), snake(field))
}

/// The word a type contributes to a collection handle's name: `string` (strings and refs),
/// `int64`, `double`, `bool`, `datetime`, the enum's name, `<class>_record`, `<inner>_list`,
/// `<key>_<value>_map`.
fn c_word(ty: &xenapi_spec::Ty) -> String {
    use xenapi_spec::Ty;
    match ty {
        Ty::String | Ty::Ref(_) => "string".into(),
        Ty::Int => "int64".into(),
        Ty::Float => "double".into(),
        Ty::Bool => "bool".into(),
        Ty::DateTime => "datetime".into(),
        Ty::Enum(e) => snake(e),
        Ty::Record(c) => c_record(c).trim_start_matches("xenapi_").to_owned(),
        Ty::Option(t) => c_word(t),
        Ty::Set(_) | Ty::Map(..) => c_handle(ty)
            .expect("collections have handles")
            .trim_start_matches("xenapi_")
            .to_owned(),
        Ty::Any => "value".into(),
        Ty::Void => "void".into(),
    }
}

/// The C handle type of a set, map or record, or `None` for types passed as C scalars or
/// strings:
/// - `string set`, `VM ref set`: `xenapi_string_list` (hand-written, in `ffi/src/strings.rs`);
/// - `<T> set`: `xenapi_<T>_list` (`xenapi_vm_operations_list`, `xenapi_int64_list`);
/// - `(string -> string) map` (and every map of refs and strings): `xenapi_string_map`;
/// - `(<C> ref -> <C> record) map` (`get_all_records`): `xenapi_<c>_record_map`;
/// - other maps: `xenapi_<K>_<V>_map` (`xenapi_int64_double_map`, `xenapi_string_vm_operations_map`);
/// - `<C> record`: `xenapi_<c>_record`; the event batch: `xenapi_event_batch`;
/// - an untyped value (`<class> record`, the event snapshot): `xenapi_value`.
pub fn c_handle(ty: &xenapi_spec::Ty) -> Option<String> {
    use xenapi_spec::Ty;
    Some(match ty {
        Ty::Set(t) => format!("xenapi_{}_list", c_word(t)),
        Ty::Map(k, v) => match (&**k, &**v) {
            (Ty::Ref(a), Ty::Record(b)) if a == b => format!("{}_map", c_record(b)),
            _ if c_word(k) == "string" && c_word(v) == "string" => "xenapi_string_map".into(),
            _ => format!("xenapi_{}_{}_map", c_word(k), c_word(v)),
        },
        Ty::Record(c) => c_record(c),
        Ty::Option(t) => return c_handle(t),
        Ty::Any => "xenapi_value".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel("VM_guest_metrics"), "VmGuestMetrics");
        assert_eq!(camel("balance-slb"), "BalanceSlb");
        assert_eq!(camel("host_cpu"), "HostCpu");
        assert_eq!(snake("get_VCPUs_utilisation"), "get_vcpus_utilisation");
        assert_eq!(rust_ident("type"), "type_");
        assert_eq!(rust_ident("self"), "self_");
        assert_eq!(rust_class("session"), "SessionClass");
        assert_eq!(rust_record("VM"), "VmRecord");
    }

    #[test]
    fn c_names() {
        use xenapi_spec::Ty;
        let t = |s: &str| Ty::parse(s).unwrap();
        assert_eq!(c_message("VM", "start"), "xenapi_vm_start");
        assert_eq!(
            c_message("VM_metrics", "get_VCPUs_utilisation"),
            "xenapi_vm_metrics_get_vcpus_utilisation"
        );
        assert_eq!(c_async_message("VM", "start"), "xenapi_async_vm_start");
        assert_eq!(
            c_params("VM", &["self", "type", "class", "session_to"]),
            ["vm", "type_", "class_", "session_to"]
        );
        assert_eq!(c_params("session", &["self"]), ["session_"]);
        assert_eq!(
            c_enum_value("vm_power_state", "Halted"),
            "XENAPI_VM_POWER_STATE_HALTED"
        );
        assert_eq!(
            c_enum_value("bond_mode", "balance-slb"),
            "XENAPI_BOND_MODE_BALANCE_SLB"
        );
        assert_eq!(
            c_enum_value("pif_igmp_status", "unknown"),
            "XENAPI_PIF_IGMP_STATUS_UNKNOWN_VALUE"
        );
        assert_eq!(
            c_record_get("VM", "VCPUs_max"),
            "xenapi_vm_record_vcpus_max"
        );
        let h = |s: &str| c_handle(&t(s)).unwrap();
        assert_eq!(h("string set"), "xenapi_string_list");
        assert_eq!(h("VM ref set"), "xenapi_string_list");
        assert_eq!(h("enum vm_operations set"), "xenapi_vm_operations_list");
        assert_eq!(h("(string -> string) map"), "xenapi_string_map");
        assert_eq!(h("(VM ref -> string) map"), "xenapi_string_map");
        assert_eq!(h("(VM ref -> VM record) map"), "xenapi_vm_record_map");
        assert_eq!(h("(int -> float) map"), "xenapi_int64_double_map");
        assert_eq!(
            h("(string -> enum vm_operations) map"),
            "xenapi_string_vm_operations_map"
        );
        assert_eq!(
            h("(VM ref -> string set) map"),
            "xenapi_string_string_list_map"
        );
        assert_eq!(
            h("(VM ref -> (string -> string) map) map"),
            "xenapi_string_string_map_map"
        );
        assert_eq!(h("string set set"), "xenapi_string_list_list");
        assert_eq!(h("VM record set"), "xenapi_vm_record_list");
        assert_eq!(h("an event batch"), "xenapi_event_batch");
        assert_eq!(h("event record set"), "xenapi_event_record_list");
        assert_eq!(c_handle(&t("int")), None);
    }
}
