//! The shorter forms of a message: the facts of the datamodel's parameter releases and
//! defaults (`spec/datamodel.json`) that each binding turns into what fits its language.
//!
//! - C# gets exactly XenServer.NET's overloads (xapi's ocaml/sdk-gen/common/CommonFunctions.ml
//!   `gen_param_groups`): the parameters are grouped by the release that added them, and each
//!   group after the first closes an overload ending with the parameters so far; a message that
//!   was ever prototyped gets none. Every parameter such a form leaves out has a datamodel
//!   default, which the generated overload passes, as xapi's dispatcher would fill it in.
//! - Python stubs mark every defaulted parameter optional (xapi accepts a call without any of
//!   its defaulted trailing parameters, gen_server.ml `operation`).
//! - Rust and C keep one function with every parameter (neither language has overloads or
//!   default arguments); their documentation names each parameter's default.

use crate::abi::EnumTable;
use crate::model::{Message, Model, Param};
use crate::{c, csharp, python, rust};

/// The parameter counts of XenServer.NET's shorter overloads of `m`, shortest first (the full
/// form is not listed). Panics, at generation time, if the datamodel breaks what the rule
/// assumes: a release's parameters are consecutive and every left-out parameter has a default.
pub fn shorter_forms(m: &Message) -> Vec<usize> {
    if m.lifecycle.prototyped || m.params.iter().all(|p| p.release.is_none()) {
        return Vec::new();
    }
    let mut cuts = Vec::new();
    let mut seen: Vec<Option<&str>> = Vec::new();
    for (i, p) in m.params.iter().enumerate() {
        let release = p.release.as_deref();
        if seen.last() != Some(&release) {
            assert!(
                !seen.contains(&release),
                "{}: parameters of release {release:?} are not consecutive",
                m.name
            );
            if i > 0 {
                cuts.push(i);
            }
            seen.push(release);
        }
    }
    for &n in &cuts {
        for p in &m.params[n..] {
            assert!(
                p.default.is_some(),
                "{}: an overload leaves out {}, which has no default",
                m.name,
                p.name
            );
        }
    }
    cuts
}

/// The parameters with a default: the trailing ones a call may leave out.
pub fn defaulted(m: &Message) -> &[Param] {
    &m.params[m.required_params()..]
}

/// A default as the datamodel gives it, for documentation: `[]`, `{}`, `false`, `"OpaqueRef:NULL"`.
pub fn default_text(p: &Param) -> Option<String> {
    p.default.as_ref().map(|d| match d {
        serde_json::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    })
}

/// Markers the backends write where they carry a default (counted in their output).
pub const CS_OVERLOAD: &str = "(XenServer.NET's overload)";
pub const RUST_DEFAULTS: &str = "xapi's defaults, which a caller written for an older release";
pub const C_DEFAULT: &str = "xapi's default, for callers of older releases";
pub const PY_OPTIONAL: &str = " = ...";

/// Per binding: what its generated files carry of the datamodel's defaults, and what the
/// datamodel asks for (every message that takes a session, and its `Async.` form):
/// C# overloads, Python optional parameters (the hand-written login's two included), Rust
/// functions documenting their defaults, C parameters documenting theirs.
pub fn coverage(
    model: &Model,
    table: &EnumTable,
) -> Vec<(&'static str, (usize, usize), &'static str)> {
    let messages: Vec<&Message> = model
        .classes
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.takes_session)
        .collect();
    let forms = |m: &Message| 1 + usize::from(m.has_async());
    let expect_cs: usize = messages
        .iter()
        .map(|m| shorter_forms(m).len() * forms(m))
        .sum();
    let expect_params: usize = messages.iter().map(|m| defaulted(m).len() * forms(m)).sum();
    let expect_fns: usize = messages
        .iter()
        .filter(|m| !defaulted(m).is_empty())
        .map(|m| forms(m))
        .sum();
    let login_defaults = model
        .class("session")
        .and_then(|c| c.messages.iter().find(|m| m.name == "login_with_password"))
        .map_or(0, |m| defaulted(m).len());
    let count = |files: Vec<(String, String)>, ext: &str, marker: &str| -> usize {
        files
            .iter()
            .filter(|(path, _)| path.ends_with(ext))
            // Header comments wrap: read them as one line.
            .map(|(_, text)| text.replace("\n * ", " ").matches(marker).count())
            .sum()
    };
    vec![
        (
            "Rust",
            (
                count(rust::generate(model), ".rs", RUST_DEFAULTS),
                expect_fns,
            ),
            "functions documenting their defaults",
        ),
        (
            "C",
            (
                count(c::generate(model, table), ".h", C_DEFAULT),
                expect_params,
            ),
            "parameters documenting their default in the headers",
        ),
        (
            "C#",
            (
                count(csharp::generate(model, table), ".cs", CS_OVERLOAD),
                expect_cs,
            ),
            "XenServer.NET's shorter overloads, async_ forms included",
        ),
        (
            "Python",
            (
                // The blocking stub: the aio one repeats its parameters.
                count(
                    python::generate(model)
                        .into_iter()
                        .filter(|(path, _)| path == python::STUB)
                        .collect(),
                    ".pyi",
                    PY_OPTIONAL,
                ),
                expect_params + login_defaults,
            ),
            "optional parameters in the stubs",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<'a>(model: &'a Model, class: &str, name: &str) -> &'a Message {
        let c = model.class(class).unwrap();
        c.messages.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn forms_follow_xenserver_net() {
        let model = Model::embedded().unwrap();
        // The overloads the issue names, by their parameter counts (self included).
        assert_eq!(shorter_forms(message(&model, "VM", "snapshot")), [2]);
        assert_eq!(shorter_forms(message(&model, "VDI", "clone")), [1]);
        assert_eq!(shorter_forms(message(&model, "VDI", "snapshot")), [1]);
        assert_eq!(shorter_forms(message(&model, "VDI", "copy")), [2]);
        assert_eq!(shorter_forms(message(&model, "VM", "create_new_blob")), [3]);
        assert_eq!(shorter_forms(message(&model, "host", "evacuate")), [1, 2]);
        assert_eq!(shorter_forms(message(&model, "VM", "migrate_send")), [6]);
        // One release: no shorter form.
        assert!(shorter_forms(message(&model, "VM", "start")).is_empty());
        assert_eq!(defaulted(message(&model, "VDI", "copy")).len(), 3);
        let p = &message(&model, "host", "evacuate").params[1];
        assert_eq!(default_text(p).as_deref(), Some("\"OpaqueRef:NULL\""));
    }
}
