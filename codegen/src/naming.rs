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
}
