//! Blobs: `blob.create`, `<class>.create_new_blob` (VM, host, pool, network, SR keep them in
//! their `blobs` map by name) and `blob.destroy` (xapi_blob.ml; the classes' `create_new_blob`
//! in xapi_vm.ml, xapi_host.ml, …). The content (HTTP `/blob`) is not modelled: `size` stays 0.

use xenapi::{DateTime, Value};

use crate::dispatch::{arg_str, Failure};
use crate::objects::{need, s};
use crate::state::{set_field, State};

/// The classes with a `blobs` field.
pub(crate) const OWNERS: &[&str] = &["VM", "host", "pool", "network", "SR"];

fn arg_bool(args: &[Value], i: usize) -> bool {
    matches!(args.get(i), Some(Value::Bool(true)))
}

/// `blob.create(mime_type, public)`: an empty blob; an empty MIME type is
/// `application/octet-stream`; `last_updated` the epoch.
pub(crate) fn create(st: &mut State, mime_type: &str, public: bool) -> String {
    let (r, mut rec) = st.blank("blob");
    let mime = if mime_type.is_empty() {
        "application/octet-stream"
    } else {
        mime_type
    };
    set_field(&mut rec, "mime_type", s(mime));
    set_field(&mut rec, "public", Value::Bool(public));
    set_field(
        &mut rec,
        "last_updated",
        Value::DateTime(DateTime::from_unix(0)),
    );
    st.add("blob", r.clone(), rec);
    r
}

/// `<class>.create_new_blob(self, name, mime_type, public)`: a new blob under `name` in the
/// object's `blobs` (replacing what that name held).
pub(crate) fn create_new(st: &mut State, class: &str, args: &[Value]) -> Result<Value, Failure> {
    let owner = arg_str(args, 0, "self")?;
    need(st, class, owner)?;
    let name = arg_str(args, 1, "name")?.to_owned();
    let mime = arg_str(args, 2, "mime_type")?.to_owned();
    let blob = create(st, &mime, arg_bool(args, 3));
    st.modify(class, owner, |rec| {
        if let Some((_, Value::Struct(map))) = rec.iter_mut().find(|(k, _)| k == "blobs") {
            map.retain(|(k, _)| *k != name);
            map.push((name.clone(), s(&blob)));
        }
    });
    Ok(s(&blob))
}

/// `blob.destroy(self)`: the blob goes, and every `blobs` entry naming it (xapi removes only
/// VMs' entries and leaves the other classes' to its database GC).
pub(crate) fn destroy(st: &mut State, blob: &str) -> Result<Value, Failure> {
    need(st, "blob", blob)?;
    st.remove("blob", blob);
    for class in OWNERS {
        let holders: Vec<String> = st
            .table(class)
            .map(|t| {
                t.iter()
                    .filter(|(_, rec)| {
                        crate::objects::map_of(rec, "blobs")
                            .iter()
                            .any(|(_, v)| v == blob)
                    })
                    .map(|(r, _)| r.clone())
                    .collect()
            })
            .unwrap_or_default();
        for h in holders {
            st.modify(class, &h, |rec| {
                if let Some((_, Value::Struct(map))) = rec.iter_mut().find(|(k, _)| k == "blobs") {
                    map.retain(|(_, v)| v.as_str() != Some(blob));
                }
            });
        }
    }
    Ok(s(""))
}
