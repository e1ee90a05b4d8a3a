//! The XenAPI datamodel, as crate `xenapi-spec` parses it from its embedded copy, with the
//! look-ups the simulator makes on every call indexed: it drives parameter-count checks,
//! `MESSAGE_METHOD_UNKNOWN`, `host.list_methods`, generic getters/setters and the default value
//! of every record field.

use std::collections::HashMap;
use std::sync::OnceLock;

use xenapi::{DateTime, Value};

use crate::state::int;

pub(crate) use xenapi_spec::{Class, Message, Ty};

pub(crate) struct Model {
    spec: xenapi_spec::Model,
    classes: HashMap<String, usize>,
    /// Per class (by index), message name to the message's index in the class.
    messages: Vec<HashMap<String, usize>>,
    /// Enum name to its first value (the default of a field of that enum).
    enum_defaults: HashMap<String, String>,
    /// Every `Class.message` name, in datamodel order.
    method_names: Vec<String>,
}

impl Model {
    fn new(spec: xenapi_spec::Model) -> Model {
        let mut classes = HashMap::new();
        let mut messages = Vec::with_capacity(spec.classes.len());
        let mut enum_defaults = HashMap::new();
        let mut method_names = Vec::with_capacity(2048);
        for (ci, c) in spec.classes.iter().enumerate() {
            classes.insert(c.name.clone(), ci);
            let mut by_name = HashMap::with_capacity(c.messages.len());
            for (mi, m) in c.messages.iter().enumerate() {
                by_name.insert(m.name.clone(), mi);
                method_names.push(format!("{}.{}", c.name, m.name));
            }
            messages.push(by_name);
            for e in &c.enums {
                if let Some(first) = e.values.first() {
                    enum_defaults
                        .entry(e.name.clone())
                        .or_insert_with(|| first.clone());
                }
            }
        }
        Model {
            spec,
            classes,
            messages,
            enum_defaults,
            method_names,
        }
    }

    pub fn classes(&self) -> &[Class] {
        &self.spec.classes
    }

    pub fn class(&self, name: &str) -> Option<&Class> {
        self.classes.get(name).map(|i| &self.spec.classes[*i])
    }

    pub fn message(&self, class: &str, message: &str) -> Option<&Message> {
        let ci = *self.classes.get(class)?;
        let mi = *self.messages[ci].get(message)?;
        Some(&self.spec.classes[ci].messages[mi])
    }

    /// `(class, message)` of an underscore wire name (`VM_metrics_get_all`): the split at an
    /// underscore where both sides name a class and one of its messages.
    pub fn split_wire_name<'a>(&self, name: &'a str) -> Option<(&'a str, &'a str)> {
        name.match_indices('_')
            .map(|(i, _)| (&name[..i], &name[i + 1..]))
            .find(|(class, message)| self.message(class, message).is_some())
    }

    /// The first value of enum `name`: a field's default.
    pub fn enum_default(&self, name: &str) -> &str {
        self.enum_defaults.get(name).map_or("", String::as_str)
    }

    /// Every `Class.message` name, in datamodel order.
    pub fn method_names(&self) -> &[String] {
        &self.method_names
    }
}

/// The number of wire parameters of `m`, the session included when it takes one.
pub(crate) fn wire_params(m: &Message) -> usize {
    m.params.len() + usize::from(m.takes_session)
}

/// The wire value of a parameter's datamodel default (see [`xenapi_spec::Param::default`]);
/// a parameter without one gets its type's empty value.
pub(crate) fn default_value(p: &xenapi_spec::Param) -> Value {
    let json = p.default.as_ref();
    match (&p.ty, json) {
        (Ty::Bool, Some(j)) => Value::Bool(j.as_bool().unwrap_or_default()),
        (Ty::Int, Some(j)) => int(j.as_i64().unwrap_or_default()),
        (Ty::Float, Some(j)) => Value::Double(j.as_f64().unwrap_or_default()),
        (Ty::DateTime, Some(j)) => Value::DateTime(DateTime::from_wire(j.as_str().unwrap_or(""))),
        (Ty::Set(_), _) => Value::Array(Vec::new()),
        (Ty::Map(_, _), _) => Value::Struct(Vec::new()),
        (_, Some(j)) => Value::String(j.as_str().unwrap_or_default().to_owned()),
        (_, None) => Value::String(String::new()),
    }
}

/// Field look-up by name on a datamodel class.
pub(crate) trait ClassExt {
    fn field(&self, name: &str) -> Option<&xenapi_spec::Field>;
}

impl ClassExt for Class {
    fn field(&self, name: &str) -> Option<&xenapi_spec::Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The parsed datamodel (parsed once per process).
pub(crate) fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    // The embedded files are part of the build; a parse failure is a build defect.
    MODEL.get_or_init(|| {
        Model::new(xenapi_spec::Model::embedded().expect("the embedded datamodel parses"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_the_embedded_model() {
        let m = model();
        assert_eq!(m.classes().len(), 67);
        let start = m.message("VM", "start").expect("VM.start");
        assert_eq!(wire_params(start), 4);
        assert!(start.takes_session);
        let login = m.message("session", "login_with_password").expect("login");
        assert!(!login.takes_session);
        assert_eq!(m.method_names().len(), 1828);
        assert_eq!(
            m.split_wire_name("VM_metrics_get_all"),
            Some(("VM_metrics", "get_all"))
        );
        assert_eq!(m.split_wire_name("VM_get_all"), Some(("VM", "get_all")));
        assert_eq!(m.split_wire_name("VM_no_such_message"), None);
        let vm = m.class("VM").expect("VM");
        let ps = vm.field("power_state").map(|f| &f.ty);
        assert!(matches!(ps, Some(Ty::Enum(e)) if m.enum_default(e) == "Halted"));
        assert!(matches!(
            m.class("VM_metrics").and_then(|c| c.field("VCPUs_utilisation")).map(|f| &f.ty),
            Some(Ty::Map(k, v)) if **k == Ty::Int && **v == Ty::Float
        ));
    }
}
