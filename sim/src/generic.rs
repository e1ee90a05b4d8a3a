//! The datamodel's implicit messages over stored records, for every class: `get_all`,
//! `get_all_records`, `get_record`, `get_by_uuid`, `get_by_name_label`, `get_<field>`,
//! `set_<field>` (RW fields), `add_to_<field>`/`remove_from_<field>` (maps),
//! `add_<field>`/`remove_<field>` (sets). A class the simulator does not populate has no objects.

use xenapi::Value;

use crate::datamodel::{self, Class, ClassExt, Ty};
use crate::dispatch::{arg_str, Failure};
use crate::metrics;
use crate::state::{field, int, set_field, str_field, State};
use xenapi_spec::Stage;

/// `None` when `message` is not one of the generic forms (the caller answers NOT_IMPLEMENTED).
pub(crate) fn handle(
    st: &mut State,
    class: &str,
    message: &str,
    args: &[Value],
) -> Option<Result<Value, Failure>> {
    let c = datamodel::model().class(class)?;
    if matches!(class, "VM_metrics" | "host_cpu" | "host_metrics") {
        metrics::refresh(st);
    }
    Some(match message {
        "get_all" => Ok(Value::Array(
            st.table(class)
                .map(|t| t.refs().iter().map(|r| Value::String(r.clone())).collect())
                .unwrap_or_default(),
        )),
        "get_all_records" => Ok(Value::Struct(
            st.table(class)
                .map(|t| {
                    t.iter()
                        .map(|(r, rec)| (r.clone(), Value::Struct(rec.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        )),
        "get_record" => record(st, class, args).map(|rec| Value::Struct(rec.clone())),
        "get_by_uuid" => {
            let uuid = match arg_str(args, 0, "uuid") {
                Ok(u) => u,
                Err(e) => return Some(Err(e)),
            };
            st.table(class)
                .and_then(|t| t.iter().find(|(_, rec)| str_field(rec, "uuid") == uuid))
                .map(|(r, _)| Value::String(r.clone()))
                .ok_or_else(|| Failure::new("UUID_INVALID", &[class, uuid]))
        }
        "get_by_name_label" => {
            let label = match arg_str(args, 0, "label") {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            Ok(Value::Array(
                st.table(class)
                    .map(|t| {
                        t.iter()
                            .filter(|(_, rec)| str_field(rec, "name_label") == label)
                            .map(|(r, _)| Value::String(r.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        }
        m => {
            if removed_field(st, c, m) {
                return Some(Err(Failure::new("MESSAGE_REMOVED", &[])));
            }
            if let Some(f) = m.strip_prefix("get_").filter(|f| c.field(f).is_some()) {
                return Some(record(st, class, args).map(|rec| {
                    field(rec, f)
                        .cloned()
                        .unwrap_or(Value::String(String::new()))
                }));
            }
            if let Some(f) = m.strip_prefix("set_").filter(|f| c.field(f).is_some()) {
                return Some(set(st, c, f, args));
            }
            if let Some(f) = m.strip_prefix("add_to_").filter(|f| c.field(f).is_some()) {
                return Some(map_edit(st, c, f, args, true));
            }
            if let Some(f) = m
                .strip_prefix("remove_from_")
                .filter(|f| c.field(f).is_some())
            {
                return Some(map_edit(st, c, f, args, false));
            }
            if let Some(f) = m.strip_prefix("add_").filter(|f| c.field(f).is_some()) {
                return Some(set_edit(st, c, f, args, true));
            }
            if let Some(f) = m.strip_prefix("remove_").filter(|f| c.field(f).is_some()) {
                return Some(set_edit(st, c, f, args, false));
            }
            return None;
        }
    })
}

/// Whether `message` reads or edits a field the datamodel marks removed, and the server is one
/// that no longer has it: today's xapi answers such messages `MESSAGE_REMOVED` (its generated
/// server refuses every message whose lifecycle ends in `Removed`), while records still carry the
/// field. Not on xend, nor with `--old-metrics`.
fn removed_field(st: &State, c: &Class, message: &str) -> bool {
    if metrics::removed_live(st) {
        return false;
    }
    ["get_", "set_", "add_to_", "remove_from_", "add_", "remove_"]
        .iter()
        .filter_map(|p| message.strip_prefix(p))
        .filter_map(|f| c.field(f))
        .any(|f| f.lifecycle.stage == Stage::Removed)
}

fn record<'a>(
    st: &'a State,
    class: &str,
    args: &[Value],
) -> Result<&'a crate::state::Record, Failure> {
    let r = arg_str(args, 0, "self")?;
    st.get(class, r)
        .ok_or_else(|| Failure::new("HANDLE_INVALID", &[class, r]))
}

/// Converts a value sent for a field of type `ty` to its stored wire form.
pub(crate) fn convert(ty: &Ty, v: &Value) -> Option<Value> {
    Some(match (ty, v) {
        (Ty::Int, Value::Int(i)) => int(*i),
        (Ty::Int, Value::String(s)) => int(s.trim().parse().ok()?),
        (Ty::Float, v) => Value::Double(v.as_f64()?),
        (Ty::Bool, Value::Bool(b)) => Value::Bool(*b),
        (Ty::DateTime, Value::DateTime(d)) => Value::DateTime(d.clone()),
        (Ty::DateTime, Value::String(s)) => Value::DateTime(xenapi::DateTime::from_wire(s.clone())),
        (Ty::Enum(_) | Ty::String | Ty::Ref(_) | Ty::Option(_), Value::String(s)) => {
            Value::String(s.clone())
        }
        (Ty::Set(inner), Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| convert(inner, i))
                .collect::<Option<Vec<_>>>()?,
        ),
        (Ty::Map(_, vt), Value::Struct(members)) => Value::Struct(
            members
                .iter()
                .map(|(k, v)| Some((k.clone(), convert(vt, v)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

fn set(st: &mut State, c: &Class, f: &str, args: &[Value]) -> Result<Value, Failure> {
    let r = arg_str(args, 0, "self")?.to_owned();
    record(st, &c.name, args)?;
    let ty = &c.field(f).ok_or_else(|| Failure::not_implemented(f))?.ty;
    let v = args
        .get(1)
        .and_then(|v| convert(ty, v))
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[f]))?;
    st.modify(&c.name, &r, |rec| set_field(rec, f, v));
    st.log(format!("{}.set_{f} on {r}", c.name));
    Ok(Value::String(String::new()))
}

fn map_edit(
    st: &mut State,
    c: &Class,
    f: &str,
    args: &[Value],
    add: bool,
) -> Result<Value, Failure> {
    let Some(Ty::Map(_, vt)) = c.field(f).map(|x| &x.ty) else {
        return Err(Failure::not_implemented(&format!("{}.{f}", c.name)));
    };
    let rec = record(st, &c.name, args)?;
    let r = arg_str(args, 0, "self")?.to_owned();
    let key = arg_str(args, 1, "key")?.to_owned();
    let uuid = str_field(rec, "uuid").to_owned();
    let exists = field(rec, f)
        .and_then(Value::as_struct)
        .is_some_and(|m| m.iter().any(|(k, _)| *k == key));
    if add {
        if exists {
            return Err(Failure::new(
                "MAP_DUPLICATE_KEY",
                &[&c.name, f, &uuid, &key],
            ));
        }
        let v = args
            .get(2)
            .and_then(|v| convert(vt, v))
            .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["value"]))?;
        st.modify(&c.name, &r, |rec| {
            if let Some((_, Value::Struct(m))) = rec.iter_mut().find(|(k, _)| k == f) {
                m.push((key, v));
            }
        });
    } else if exists {
        st.modify(&c.name, &r, |rec| {
            if let Some((_, Value::Struct(m))) = rec.iter_mut().find(|(k, _)| k == f) {
                m.retain(|(k, _)| *k != key);
            }
        });
    }
    Ok(Value::String(String::new()))
}

fn set_edit(
    st: &mut State,
    c: &Class,
    f: &str,
    args: &[Value],
    add: bool,
) -> Result<Value, Failure> {
    let Some(Ty::Set(inner)) = c.field(f).map(|x| &x.ty) else {
        return Err(Failure::not_implemented(&format!("{}.{f}", c.name)));
    };
    record(st, &c.name, args)?;
    let r = arg_str(args, 0, "self")?.to_owned();
    let v = args
        .get(1)
        .and_then(|v| convert(inner, v))
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["value"]))?;
    st.modify(&c.name, &r, |rec| {
        if let Some((_, Value::Array(items))) = rec.iter_mut().find(|(k, _)| k == f) {
            if add {
                if !items.contains(&v) {
                    items.push(v);
                }
            } else {
                items.retain(|x| *x != v);
            }
        }
    });
    Ok(Value::String(String::new()))
}
