//! The XenAPI datamodel (`spec/datamodel.json`, embedded): classes, fields with their types,
//! messages with their parameters. It drives parameter-count checks, `MESSAGE_METHOD_UNKNOWN`,
//! `host.list_methods`, generic getters/setters and the default value of every record field.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as Json;

const DATAMODEL: &str = include_str!("../../spec/datamodel.json");

/// A field or parameter type, parsed from the datamodel's type text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    String,
    Int,
    Float,
    Bool,
    DateTime,
    Ref(String),
    /// Enum name and its first value (the default).
    Enum(String, String),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Record(String),
    Option(Box<Ty>),
    Other(String),
}

#[derive(Debug)]
pub(crate) struct Field {
    pub name: String,
    pub ty: Ty,
}

#[derive(Debug)]
pub(crate) struct Message {
    /// Parameter names, the session included when the message takes one.
    pub params: Vec<String>,
    pub takes_session: bool,
}

#[derive(Debug)]
pub(crate) struct Class {
    pub name: String,
    pub fields: Vec<Field>,
    pub messages: HashMap<String, Message>,
    /// Message names in datamodel order.
    pub message_order: Vec<String>,
}

impl Class {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug)]
pub(crate) struct Model {
    pub classes: Vec<Class>,
    by_name: HashMap<String, usize>,
}

impl Model {
    pub fn class(&self, name: &str) -> Option<&Class> {
        self.by_name.get(name).map(|i| &self.classes[*i])
    }

    /// Every `Class.message` name, in datamodel order.
    pub fn method_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(2048);
        for c in &self.classes {
            for m in &c.message_order {
                out.push(format!("{}.{}", c.name, m));
            }
        }
        out
    }
}

/// The parsed datamodel (parsed once per process).
pub(crate) fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| parse(DATAMODEL))
}

fn parse(text: &str) -> Model {
    // The embedded file is part of the build; a parse failure is a build defect.
    let json: Json = serde_json::from_str(text).expect("embedded datamodel.json is valid JSON");
    let mut enums: HashMap<String, String> = HashMap::new();
    let empty = Vec::new();
    let classes_json = json["classes"].as_array().unwrap_or(&empty);
    for c in classes_json {
        for e in c["enums"].as_array().unwrap_or(&empty) {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            let first = e["values"][0].as_str().unwrap_or_default().to_owned();
            enums.insert(name, first);
        }
    }
    let mut classes = Vec::new();
    for c in classes_json {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        let fields = c["fields"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|f| Field {
                name: f["name"].as_str().unwrap_or_default().to_owned(),
                ty: parse_ty(f["type"].as_str().unwrap_or_default(), &enums),
            })
            .collect();
        let mut messages = HashMap::new();
        let mut message_order = Vec::new();
        for m in c["messages"].as_array().unwrap_or(&empty) {
            let mname = m["name"].as_str().unwrap_or_default().to_owned();
            let params: Vec<String> = m["params"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            let takes_session = m["params"][0]["type"].as_str() == Some("session ref");
            message_order.push(mname.clone());
            messages.insert(
                mname,
                Message {
                    params,
                    takes_session,
                },
            );
        }
        classes.push(Class {
            name,
            fields,
            messages,
            message_order,
        });
    }
    let by_name = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    Model { classes, by_name }
}

pub(crate) fn parse_ty(t: &str, enums: &HashMap<String, String>) -> Ty {
    let t = t.trim();
    if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(") map")) {
        if let Some((k, v)) = inner.split_once(" -> ") {
            return Ty::Map(Box::new(parse_ty(k, enums)), Box::new(parse_ty(v, enums)));
        }
    }
    if let Some(inner) = t.strip_suffix(" set") {
        return Ty::Set(Box::new(parse_ty(inner, enums)));
    }
    if let Some(inner) = t.strip_suffix(" option") {
        return Ty::Option(Box::new(parse_ty(inner, enums)));
    }
    if let Some(inner) = t.strip_suffix(" ref") {
        return Ty::Ref(inner.to_owned());
    }
    if let Some(inner) = t.strip_suffix(" record") {
        return Ty::Record(inner.to_owned());
    }
    if let Some(name) = t.strip_prefix("enum ") {
        let first = enums.get(name).cloned().unwrap_or_default();
        return Ty::Enum(name.to_owned(), first);
    }
    match t {
        "string" => Ty::String,
        "int" => Ty::Int,
        "float" => Ty::Float,
        "bool" => Ty::Bool,
        "datetime" => Ty::DateTime,
        other => Ty::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_embedded_model() {
        let m = model();
        assert_eq!(m.classes.len(), 67);
        let vm = m.class("VM").expect("VM");
        let start = &vm.messages["start"];
        assert_eq!(start.params.len(), 4);
        assert!(start.takes_session);
        assert!(
            !m.class("session").expect("session").messages["login_with_password"].takes_session
        );
        assert_eq!(m.method_names().len(), 1828);
        assert!(
            matches!(vm.field("power_state").map(|f| &f.ty), Some(Ty::Enum(_, s)) if s == "Halted")
        );
        assert!(matches!(
            m.class("VM_metrics").and_then(|c| c.field("VCPUs_utilisation")).map(|f| &f.ty),
            Some(Ty::Map(k, v)) if **k == Ty::Int && **v == Ty::Float
        ));
    }
}
