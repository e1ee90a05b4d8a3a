//! The Python-stub backend: `python/xenapi_rs/_api.pyi`, the types of `Session.xenapi` in the
//! `xenapi_rs` wheel, so that editors and type checkers know `s.xenapi.VM.start(vm, False, False)`.
//!
//! Only types: at run time every call goes through the wheel's native dispatcher, which needs no
//! generated code. Result types follow what xapi sends and the wheel returns (the same as
//! XenAPI.py): `int` as `str` (XML-RPC has no 64-bit integer), `datetime` as
//! `xmlrpc.client.DateTime`, references as `str`. Arguments accept what the wheel encodes: an
//! `int` or a digit string for `int`, a `DateTime` or a `datetime.datetime` for `datetime`, any
//! sequence or mapping for sets and maps. Deprecated and removed messages are marked with PEP
//! 702's `@deprecated` (type checkers always have `typing_extensions`; nothing imports it at run
//! time), which names the xapi release.
//!
//! Plain text, laid out by hand (one line per method when it fits in 99 columns); `main` writes
//! it as it is (rustfmt is for the `.rs` files).

use std::collections::HashSet;
use std::fmt::Write;

use crate::model::{Class, Message, Model, Stage, Ty};

pub const STUB: &str = "python/xenapi_rs/_api.pyi";

/// Python's keywords (3.12, including the soft ones that matter to a stub). A parameter named
/// like one gets a trailing `_`; a message named like one (`event.from`, `VM.import`) cannot be
/// an attribute in a stub, and is called with `getattr(session.xenapi.VM, "import")(...)`.
const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Names the stub defines or imports itself: no enum alias may take one.
const RESERVED: &[&str] = &[
    "Any",
    "DateTime",
    "Dict",
    "List",
    "Literal",
    "Mapping",
    "Optional",
    "OpaqueRef",
    "Sequence",
    "TypedDict",
    "Union",
    "XenAPIProxy",
    "datetime",
    "deprecated",
];

/// Messages of the `session` class that `session.xenapi` does not forward as they are: the logins
/// take no session reference and are `session.xenapi.login_with_password(...)` (typed on
/// `XenAPIProxy`); `session.xenapi.session.logout()` logs the wheel's session out.
const LOGINS: &[&str] = &["login_with_password", "slave_local_login_with_password"];

/// The files to write, as (path relative to the repository root, contents).
pub fn generate(model: &Model) -> Vec<(String, String)> {
    check_names(model);
    vec![(STUB.to_owned(), stub(model))]
}

/// Whether `Async.<class>.<message>` exists (see [`Message::has_async`]).
fn has_async(m: &Message) -> bool {
    m.has_async()
}

fn py_ident(name: &str) -> String {
    if PY_KEYWORDS.contains(&name) || name == "self" {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

/// A Python string literal (datamodel names are ASCII; quotes and backslashes are escaped
/// anyway).
fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => write!(out, "\\u{:04x}", c as u32).unwrap(),
        }
    }
    out.push('"');
    out
}

fn record_name(class: &str) -> String {
    format!("{class}_record")
}

/// Where a type appears: what the caller passes, or what the server returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pos {
    Arg,
    Result,
}

fn py_type(ty: &Ty, pos: Pos) -> String {
    match ty {
        Ty::String => "str".into(),
        Ty::Int => match pos {
            Pos::Arg => "Union[int, str]".into(),
            Pos::Result => "str".into(),
        },
        Ty::Float => "float".into(),
        Ty::Bool => "bool".into(),
        Ty::DateTime => match pos {
            Pos::Arg => "Union[DateTime, datetime.datetime]".into(),
            Pos::Result => "DateTime".into(),
        },
        Ty::Ref(_) => "OpaqueRef".into(),
        Ty::Enum(name) => name.clone(),
        Ty::Set(t) => match pos {
            Pos::Arg => format!("Sequence[{}]", py_type(t, pos)),
            Pos::Result => format!("List[{}]", py_type(t, pos)),
        },
        Ty::Map(k, v) => match pos {
            Pos::Arg => format!("Mapping[{}, {}]", py_type(k, pos), py_type(v, pos)),
            Pos::Result => format!("Dict[{}, {}]", py_type(k, pos), py_type(v, pos)),
        },
        Ty::Record(class) => record_name(class),
        Ty::Option(t) => format!("Optional[{}]", py_type(t, pos)),
        Ty::Any => "Any".into(),
        Ty::Void => "None".into(),
    }
}

/// Stops the generator if two top-level names of the stub would clash.
fn check_names(model: &Model) {
    let mut seen: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    let mut add = |n: String| {
        assert!(
            !PY_KEYWORDS.contains(&n.as_str()),
            "{n} is a Python keyword"
        );
        assert!(seen.insert(n.clone()), "two stub names {n}");
    };
    add(record_name(&model.event_batch.name));
    for c in &model.classes {
        add(record_name(&c.name));
        add(format!("_{}", c.name));
        add(format!("_Async_{}", c.name));
        for e in &c.enums {
            if model.enum_owner(&e.name).unwrap().0.name == c.name {
                add(e.name.clone());
            }
        }
    }
}

fn stub(model: &Model) -> String {
    let mut o = String::new();
    o.push_str(
        "# @generated by xenapi-codegen (codegen/src/python.rs) from spec/datamodel.json.\n\
         # Do not edit: run `cargo run -p xenapi-codegen`.\n\
         #\n\
         # The types of Session.xenapi for editors and type checkers. Calls take positional\n\
         # arguments; the session reference is added by the session. Results are what xapi sends:\n\
         # int as str, datetime as xmlrpc.client.DateTime, references as str.\n\
         import datetime\n\
         from typing import (\n    Any,\n    Dict,\n    List,\n    Literal,\n    Mapping,\n    \
         Optional,\n    Sequence,\n    TypedDict,\n    Union,\n)\n\
         from xmlrpc.client import DateTime\n\
         \n\
         from typing_extensions import deprecated\n\
         \n\
         OpaqueRef = str\n",
    );

    o.push_str("\n# Enums: the values of this datamodel; a newer server may send others.\n\n");
    for c in &model.classes {
        for e in &c.enums {
            if model.enum_owner(&e.name).unwrap().0.name != c.name {
                continue;
            }
            let values: Vec<String> = e.values.iter().map(|v| py_str(v)).collect();
            let one_line = format!("{} = Literal[{}]", e.name, values.join(", "));
            if one_line.len() <= 99 {
                writeln!(o, "{one_line}").unwrap();
            } else {
                writeln!(o, "{} = Literal[", e.name).unwrap();
                for v in &values {
                    writeln!(o, "    {v},").unwrap();
                }
                o.push_str("]\n");
            }
        }
    }

    o.push_str(
        "\n# Records (get_record, get_all_records): every field of this datamodel. Older servers\n\
         # (xend, older xapi) send fewer, hence total=False.\n\n",
    );
    for c in model.classes.iter().chain([&model.event_batch]) {
        let name = record_name(&c.name);
        if c.fields.is_empty() {
            writeln!(
                o,
                "{name} = TypedDict({}, {{}}, total=False)",
                py_str(&name)
            )
            .unwrap();
            continue;
        }
        writeln!(o, "{name} = TypedDict(").unwrap();
        writeln!(o, "    {},", py_str(&name)).unwrap();
        o.push_str("    {\n");
        for f in &c.fields {
            writeln!(
                o,
                "        {}: {},",
                py_str(&f.name),
                py_type(&f.ty, Pos::Result)
            )
            .unwrap();
        }
        o.push_str("    },\n    total=False,\n)\n");
    }

    for c in &model.classes {
        o.push_str("\n\n");
        class_stub(&mut o, c, false);
    }
    for c in &model.classes {
        o.push_str("\n\n");
        class_stub(&mut o, c, true);
    }

    o.push_str("\n\nclass _Async:\n");
    o.push_str(
        "    \"\"\"`Session.xenapi.Async`: every call returns the task running it.\"\"\"\n\n",
    );
    for c in &model.classes {
        writeln!(o, "    {}: _Async_{}", c.name, c.name).unwrap();
    }
    o.push_str(
        "\n\nclass XenAPIProxy:\n    \"\"\"The type of ``Session.xenapi``.\"\"\"\n\n    Async: _Async\n",
    );
    for c in &model.classes {
        writeln!(o, "    {}: _{}", c.name, c.name).unwrap();
    }
    o.push_str(
        "\n    def login_with_password(\n        self,\n        username: str,\n        \
         password: str,\n        version: str = ...,\n        originator: str = ...,\n        \
         /,\n    ) -> None: ...\n    def logout(self) -> None: ...\n",
    );
    o
}

/// `class _VM:` (or `class _Async_VM:` when `is_async`) with one method per message.
fn class_stub(o: &mut String, c: &Class, is_async: bool) {
    let messages: Vec<&Message> = c
        .messages
        .iter()
        .filter(|m| m.takes_session && !(c.name == "session" && LOGINS.contains(&m.name.as_str())))
        .filter(|m| !is_async || has_async(m))
        .collect();
    if is_async {
        writeln!(o, "class _Async_{}:", c.name).unwrap();
    } else {
        writeln!(o, "class _{}:", c.name).unwrap();
    }
    let skipped: Vec<&str> = messages
        .iter()
        .filter(|m| PY_KEYWORDS.contains(&m.name.as_str()))
        .map(|m| m.name.as_str())
        .collect();
    for name in &skipped {
        writeln!(
            o,
            "    # {name}: a Python keyword; call getattr(session.xenapi.{}{}, \"{name}\")(...)",
            if is_async { "Async." } else { "" },
            c.name
        )
        .unwrap();
    }
    let mut wrote = false;
    for m in messages {
        if PY_KEYWORDS.contains(&m.name.as_str()) {
            continue;
        }
        wrote = true;
        let result = if is_async {
            "OpaqueRef".to_owned()
        } else {
            py_type(&m.result, Pos::Result)
        };
        match m.lifecycle.stage {
            Stage::Deprecated => writeln!(
                o,
                "    @deprecated({})",
                py_str(&format!("deprecated in xapi {}", m.lifecycle.release))
            )
            .unwrap(),
            Stage::Removed => writeln!(
                o,
                "    @deprecated({})",
                py_str(&format!(
                    "removed in xapi {}: for older servers only",
                    m.lifecycle.release
                ))
            )
            .unwrap(),
            _ => {}
        }
        let args: Vec<String> = m
            .params
            .iter()
            .map(|p| format!("{}: {}", py_ident(&p.name), py_type(&p.ty, Pos::Arg)))
            .collect();
        let one_line = if args.is_empty() {
            format!("    def {}(self) -> {result}: ...", m.name)
        } else {
            format!(
                "    def {}(self, {}, /) -> {result}: ...",
                m.name,
                args.join(", ")
            )
        };
        if one_line.len() <= 99 {
            writeln!(o, "{one_line}").unwrap();
        } else {
            writeln!(o, "    def {}(", m.name).unwrap();
            o.push_str("        self,\n");
            for a in &args {
                writeln!(o, "        {a},").unwrap();
            }
            writeln!(o, "        /,\n    ) -> {result}: ...").unwrap();
        }
    }
    if !wrote {
        o.push_str("    ...\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        let t = Ty::parse("(VM ref -> (string -> int) map) map").unwrap();
        assert_eq!(py_type(&t, Pos::Result), "Dict[OpaqueRef, Dict[str, str]]");
        assert_eq!(
            py_type(&t, Pos::Arg),
            "Mapping[OpaqueRef, Mapping[str, Union[int, str]]]"
        );
        let t = Ty::parse("enum vm_power_state set").unwrap();
        assert_eq!(py_type(&t, Pos::Result), "List[vm_power_state]");
        let t = Ty::parse("sr_stat record option").unwrap();
        assert_eq!(py_type(&t, Pos::Result), "Optional[sr_stat_record]");
        assert_eq!(py_ident("class"), "class_");
        assert_eq!(py_ident("self"), "self_");
        assert_eq!(py_str("a\"b\\"), r#""a\"b\\""#);
    }
}
