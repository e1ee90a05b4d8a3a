//! One XML-RPC call: method lookup and parameter counts from the datamodel, the session check,
//! `Async.*`, and routing to the modelled operations or the generic getters/setters.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use xenapi::{DateTime, Value};

use crate::blobs;
use crate::datamodel;
use crate::devices;
use crate::dialect::Dialect;
use crate::events;
use crate::generic;
use crate::host_ops;
use crate::lifecycle;
use crate::migrate;
use crate::net;
use crate::pbd;
use crate::session;
use crate::shared::Shared;
use crate::state::int;
use crate::storage;
use crate::tasks;
use crate::vm::{self, Op};

/// A XenAPI failure: the `ErrorDescription` strings, code first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure(pub Vec<String>);

impl Failure {
    pub fn new(code: &str, params: &[&str]) -> Self {
        let mut v = Vec::with_capacity(params.len() + 1);
        v.push(code.to_owned());
        v.extend(params.iter().map(|p| (*p).to_owned()));
        Failure(v)
    }

    pub fn not_implemented(method: &str) -> Self {
        Failure::new("NOT_IMPLEMENTED", &[method])
    }

    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(|s| Value::String(s.clone())).collect())
    }
}

/// The `{Status, Value}` / `{Status, ErrorDescription}` envelope.
pub(crate) fn envelope(result: Result<Value, Failure>) -> Value {
    match result {
        Ok(v) => Value::Struct(vec![
            ("Status".to_owned(), Value::String("Success".to_owned())),
            ("Value".to_owned(), v),
        ]),
        Err(f) => Value::Struct(vec![
            ("Status".to_owned(), Value::String("Failure".to_owned())),
            ("ErrorDescription".to_owned(), f.to_value()),
        ]),
    }
}

/// Answers `method(params)`; `member` is true on a pool member's listener (login there gives
/// `HOST_IS_SLAVE`). Never panics: a panic inside becomes `INTERNAL_ERROR`.
pub(crate) fn call(shared: &Arc<Shared>, member: bool, method: &str, params: Vec<Value>) -> Value {
    shared.lock().stats.calls += 1;
    let result = catch_unwind(AssertUnwindSafe(|| handle(shared, member, method, params)))
        .unwrap_or_else(|_| {
            Err(Failure::new(
                "INTERNAL_ERROR",
                &[&format!("the simulator failed while handling {method}")],
            ))
        });
    shared.notify();
    envelope(result)
}

fn handle(
    shared: &Arc<Shared>,
    member: bool,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Failure> {
    let dialect = shared.settings.dialect;
    let (is_async, name) = match method.strip_prefix("Async.") {
        Some(rest) => (true, rest),
        None => (false, method),
    };
    let unknown = || Failure::new("MESSAGE_METHOD_UNKNOWN", &[method]);
    let model = datamodel::model();
    // xapi's dispatcher also takes `VM_get_all` for `VM.get_all` (gen_server.ml,
    // `alternative_wire_name`); xend 3.x's method table has only the dotted names.
    let (class, message) = match name.split_once('.') {
        Some(parts) => parts,
        None if dialect == Dialect::Xapi => model.split_wire_name(name).ok_or_else(unknown)?,
        None => return Err(unknown()),
    };
    let msg = model.message(class, message).ok_or_else(unknown)?;
    let takes_session = msg.takes_session;
    let session = usize::from(takes_session);
    let is_login = class == "session" && message == "login_with_password";
    let n = params.len();
    let (count_ok, shown_expected) = match dialect.param_override(class, message) {
        Some(p) => (n == p.len(), p.len()),
        // xapi: the parameters without a default are required, the defaulted ones (always
        // the trailing ones) may be left out, and extra ones are ignored (gen_server.ml
        // `operation`: `required :: default_args`, each default `try List.nth ... with _`).
        None if dialect == Dialect::Xapi && msg.required_params() < msg.params.len() => {
            let required = msg.required_params() + session;
            (n >= required, required)
        }
        None => {
            let all = datamodel::wire_params(msg);
            (n == all, all)
        }
    };
    if !count_ok {
        if takes_session && n == 0 {
            return Err(Failure::new("SESSION_INVALID", &[""]));
        }
        let (e, r) = if dialect == Dialect::Xapi && takes_session {
            (shown_expected - 1, n - 1)
        } else {
            (shown_expected, n)
        };
        return Err(Failure::new(
            "MESSAGE_PARAMETER_COUNT_MISMATCH",
            &[method, &e.to_string(), &r.to_string()],
        ));
    }
    let mut params = params;
    if dialect == Dialect::Xapi {
        params.truncate(datamodel::wire_params(msg));
        for p in &msg.params[params.len() - session..] {
            params.push(datamodel::default_value(p));
        }
    }
    if is_login {
        if is_async {
            return Err(Failure::new("MESSAGE_METHOD_UNKNOWN", &[method]));
        }
        return session::login(shared, member, false, &params);
    }
    // xapi only (xend 3.x has no pool): a login to this host's own database, which a pool
    // member accepts too, without redirecting to its coordinator.
    if class == "session" && message == "slave_local_login_with_password" {
        if is_async || dialect == Dialect::Xend {
            return Err(Failure::new("MESSAGE_METHOD_UNKNOWN", &[method]));
        }
        return session::login(shared, false, true, &params);
    }
    if !takes_session {
        return Err(Failure::not_implemented(name));
    }
    let session_ref = match &params[0] {
        Value::String(s) => s.clone(),
        other => {
            return Err(Failure::new(
                "SESSION_INVALID",
                &[&format!("<{}>", other.type_name())],
            ))
        }
    };
    let user = session::check(shared, member, &session_ref)?;
    let args = params[1..].to_vec();
    if is_async {
        return tasks::spawn(shared, name, class, message, session_ref, user, args);
    }
    route(shared, class, message, &session_ref, &user, &args)
}

/// Runs a call whose session is valid.
pub(crate) fn route(
    shared: &Arc<Shared>,
    class: &str,
    message: &str,
    session_ref: &str,
    user: &str,
    args: &[Value],
) -> Result<Value, Failure> {
    let method = format!("{class}.{message}");
    // The blocking event calls take the lock themselves.
    match (class, message) {
        ("event", "from") => {
            let classes = str_set(args, 0, "classes")?;
            let token = arg_str(args, 1, "token")?;
            let timeout = args
                .get(2)
                .and_then(Value::as_f64)
                .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["timeout"]))?;
            return events::from(shared, &classes, token, timeout);
        }
        ("event", "next") => {
            return events::next(shared, session_ref, shared.settings.event_next_wait)
        }
        _ => {}
    }
    if shared.settings.dialect == Dialect::Xend {
        if let Some(f) = xend_refuses(class, message) {
            return Err(f);
        }
    }
    let mut st = shared.lock();
    let st = &mut *st;
    match (class, message) {
        (c, m) if st.dialect == Dialect::Xend && modelled_for_xapi_only(c, m) => {
            Err(Failure::not_implemented(&method))
        }
        ("session", "logout") | ("session", "local_logout") => {
            session::logout(st, session_ref);
            Ok(Value::String(String::new()))
        }
        ("session", "get_all_subject_identifiers") => Ok(Value::Array(Vec::new())),
        ("host", "list_methods") => Ok(Value::Array(
            datamodel::model()
                .method_names()
                .iter()
                .map(|m| Value::String(m.clone()))
                .collect(),
        )),
        ("host", "dmesg") | ("host", "get_log") => {
            let h = arg_str(args, 0, "host")?;
            if st.get("host", h).is_none() {
                return Err(Failure::new("HANDLE_INVALID", &["host", h]));
            }
            let lines = if message == "dmesg" {
                &st.dmesg
            } else {
                &st.log
            };
            let mut text = lines.join("\n");
            text.push('\n');
            Ok(Value::String(text))
        }
        ("VM", m) if Op::from_message(m).is_some() => {
            let vm_ref = arg_str(args, 0, "vm")?;
            let op = match Op::from_message(m) {
                Some(Op::Start { .. }) => Op::Start {
                    paused: arg_bool(args, 1, "start_paused")?,
                },
                Some(Op::Resume { .. }) => Op::Resume {
                    paused: arg_bool(args, 1, "start_paused")?,
                },
                Some(op) => op,
                None => return Err(Failure::not_implemented(&method)),
            };
            vm::power(st, vm_ref, op, user)?;
            Ok(Value::String(String::new()))
        }
        ("task", "create") => Ok(tasks::create(
            st,
            arg_str(args, 0, "label")?,
            arg_str(args, 1, "description")?,
        )),
        ("task", "set_status")
        | ("task", "set_progress")
        | ("task", "set_result")
        | ("task", "set_error_info") => tasks::set(st, message, args),
        ("task", "cancel") => tasks::cancel(st, arg_str(args, 0, "task")?),
        ("task", "destroy") => {
            let t = arg_str(args, 0, "self")?;
            st.remove("task", t)
                .ok_or_else(|| Failure::new("HANDLE_INVALID", &["task", t]))?;
            Ok(Value::String(String::new()))
        }
        ("event", "register") => {
            let classes = str_set(args, 0, "classes")?;
            events::register(st, session_ref, &classes);
            Ok(Value::String(String::new()))
        }
        ("event", "unregister") => {
            let classes = str_set(args, 0, "classes")?;
            events::unregister(st, session_ref, &classes);
            Ok(Value::String(String::new()))
        }
        ("event", "get_current_id") => Ok(int(st.events.last_id() as i64)),
        ("event", "inject") => {
            events::inject(st, arg_str(args, 0, "class")?, arg_str(args, 1, "ref")?)
        }
        ("host", "get_servertime") | ("host", "get_server_localtime") => {
            let h = arg_str(args, 0, "host")?;
            if st.get("host", h).is_none() {
                return Err(Failure::new("HANDLE_INVALID", &["host", h]));
            }
            Ok(Value::DateTime(DateTime::now()))
        }
        ("VM", "create") => lifecycle::create(st, args),
        ("VM", "pool_migrate") => migrate::pool_migrate(st, args),
        ("VM", "start_on") | ("VM", "resume_on") => migrate::power_on_host(st, message, args, user),
        ("VM", "assert_can_boot_here") => {
            migrate::assert_can_boot_here(st, arg_str(args, 0, "self")?, arg_str(args, 1, "host")?)
        }
        ("VM", "get_possible_hosts") => migrate::possible_hosts(st, arg_str(args, 0, "vm")?),
        ("VM", "get_allowed_VBD_devices") => {
            devices::allowed_vbd_devices(st, arg_str(args, 0, "vm")?)
        }
        ("VM", "get_allowed_VIF_devices") => {
            devices::allowed_vif_devices(st, arg_str(args, 0, "vm")?)
        }
        ("host", "compute_free_memory") => {
            migrate::compute_free_memory(st, arg_str(args, 0, "host")?)
        }
        ("VM", "assert_can_migrate") => migrate::assert_can_migrate(st, args),
        ("VM", "migrate_send") => migrate::migrate_send(st, args),
        (c, "create_new_blob") if blobs::OWNERS.contains(&c) => blobs::create_new(st, c, args),
        ("blob", "create") => {
            let public = matches!(args.get(1), Some(Value::Bool(true)));
            let blob = blobs::create(st, arg_str(args, 0, "mime_type")?, public);
            Ok(s(&blob))
        }
        ("blob", "destroy") => blobs::destroy(st, arg_str(args, 0, "self")?),
        ("PBD", "create") => pbd::create(st, args),
        ("PBD", "destroy") => pbd::destroy(st, arg_str(args, 0, "self")?),
        ("PBD", "plug") => pbd::plug(st, arg_str(args, 0, "self")?),
        ("PBD", "unplug") => pbd::unplug(st, arg_str(args, 0, "self")?),
        ("SR", "forget") => pbd::sr_forget(st, arg_str(args, 0, "sr")?),
        ("SR", "destroy") => pbd::sr_destroy(st, arg_str(args, 0, "sr")?),
        ("SR", "introduce") => pbd::sr_introduce(st, args),
        ("SR", "create") => pbd::sr_create(st, args),
        ("host", "disable") => host_ops::disable(st, args),
        ("host", "enable") => host_ops::enable(st, arg_str(args, 0, "host")?),
        ("host", "get_vms_which_prevent_evacuation") => {
            host_ops::vms_which_prevent_evacuation(st, arg_str(args, 0, "self")?)
        }
        ("host", "assert_can_evacuate") => {
            host_ops::assert_can_evacuate(st, arg_str(args, 0, "host")?)
        }
        ("host", "evacuate") => host_ops::evacuate(st, args),
        ("host", "reboot") | ("host", "shutdown") => {
            host_ops::power_off(st, arg_str(args, 0, "host")?, message == "reboot")
        }
        ("VM", "clone") | ("VM", "copy") | ("VM", "snapshot") => {
            lifecycle::clone_like(st, message, args)
        }
        ("VM", "provision") => lifecycle::provision(st, arg_str(args, 0, "vm")?),
        ("VM", "revert") => lifecycle::revert(st, arg_str(args, 0, "snapshot")?),
        ("VM", "destroy") => lifecycle::destroy(st, arg_str(args, 0, "self")?),
        ("VM", m) if m.starts_with("set_memory") && m != "set_memory_target_live" => {
            lifecycle::set_memory(st, m, args)
        }
        ("VM", "set_is_a_template") => lifecycle::set_is_a_template(st, args),
        // xapi_vm_lifecycle.ml `assert_operation_valid`, `update_allowed_operations`.
        ("VM", "assert_operation_valid") => {
            lifecycle::check(st, arg_str(args, 0, "self")?, arg_str(args, 1, "op")?)?;
            Ok(empty())
        }
        ("VM", "update_allowed_operations") => {
            let vm = arg_str(args, 0, "self")?;
            if st.get("VM", vm).is_none() {
                return Err(Failure::new("HANDLE_INVALID", &["VM", vm]));
            }
            lifecycle::refresh(st, vm);
            Ok(empty())
        }
        ("VM", "set_VCPUs_max") | ("VM", "set_VCPUs_at_startup") => {
            lifecycle::set_vcpus(st, message, args)
        }
        ("VDI", "create") => storage::vdi_create(st, args),
        ("VDI", "destroy") => {
            storage::vdi_destroy(st, arg_str(args, 0, "self")?)?;
            Ok(empty())
        }
        ("VDI", "resize") | ("VDI", "resize_online") => {
            let vdi = arg_str(args, 0, "vdi")?;
            let size = args
                .get(1)
                .and_then(Value::as_i64)
                .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["size"]))?;
            storage::vdi_resize(st, vdi, size, message == "resize_online")?;
            Ok(empty())
        }
        ("VDI", "copy") => storage::vdi_copy(st, args),
        ("VDI", "snapshot") => storage::vdi_snapshot(st, arg_str(args, 0, "vdi")?).map(|r| s(&r)),
        ("VDI", "clone") => storage::vdi_clone(st, arg_str(args, 0, "vdi")?).map(|r| s(&r)),
        ("VBD", "create") => storage::vbd_create(st, args),
        ("VBD", "destroy") => {
            storage::vbd_destroy(st, arg_str(args, 0, "self")?)?;
            Ok(empty())
        }
        ("VBD", "plug") | ("VBD", "unplug") | ("VBD", "unplug_force") => {
            storage::vbd_plug(st, arg_str(args, 0, "self")?, message == "plug")?;
            Ok(empty())
        }
        ("VBD", "insert") => {
            let vdi = arg_str(args, 1, "vdi")?;
            storage::vbd_media(st, arg_str(args, 0, "vbd")?, Some(vdi))?;
            Ok(empty())
        }
        ("VBD", "eject") => {
            storage::vbd_media(st, arg_str(args, 0, "vbd")?, None)?;
            Ok(empty())
        }
        ("VIF", "create") => net::vif_create(st, args),
        ("VIF", "destroy") => {
            net::vif_destroy(st, arg_str(args, 0, "self")?)?;
            Ok(empty())
        }
        ("VIF", "plug") | ("VIF", "unplug") | ("VIF", "unplug_force") => {
            net::vif_plug(st, arg_str(args, 0, "self")?, message == "plug")?;
            Ok(empty())
        }
        ("network", "create") => net::network_create(st, args),
        ("network", "destroy") => {
            net::network_destroy(st, arg_str(args, 0, "self")?)?;
            Ok(empty())
        }
        // xapi_sr.ml `update`: the size and use from the SM backend, here the VDIs' sums.
        ("SR", "scan") | ("SR", "update") => {
            storage::sr_scan(st, arg_str(args, 0, "sr")?)?;
            Ok(empty())
        }
        _ => {
            let out = generic::handle(st, class, message, args)
                .unwrap_or_else(|| Err(Failure::not_implemented(&method)));
            // A VM's allowed operations follow what it is (template, blocked operations).
            let edits = ["set_", "add_", "remove_"];
            if class == "VM" && out.is_ok() && edits.iter().any(|p| message.starts_with(p)) {
                if let Some(vm) = args.first().and_then(Value::as_str) {
                    lifecycle::refresh(st, vm);
                }
            }
            out
        }
    }
}

/// What xend 3.x answers for the xapi-only parts of the life cycle the simulator models: its
/// `VM.clone` is "unsupported" (XendAPI.py, `VM_clone`); the rest is not in its method table.
fn xend_refuses(class: &str, message: &str) -> Option<Failure> {
    let unknown = match (class, message) {
        ("VM", "clone") => {
            return Some(Failure::new("EUNSUPPORTED", &["Method Unsupported"]));
        }
        ("VM", m) => matches!(
            m,
            "copy"
                | "provision"
                | "snapshot"
                | "revert"
                | "set_memory"
                | "set_memory_limits"
                | "set_memory_static_range"
                | "set_memory_dynamic_range"
                | "migrate_send"
                | "assert_can_migrate"
        ),
        ("VBD", m) => matches!(m, "plug" | "unplug" | "unplug_force" | "insert" | "eject"),
        ("VIF", m) => matches!(m, "plug" | "unplug" | "unplug_force"),
        ("VDI", m) => matches!(
            m,
            "snapshot" | "clone" | "copy" | "resize" | "resize_online"
        ),
        // xend's host has disable/enable/reboot/shutdown but no evacuation.
        ("host", m) => matches!(
            m,
            "evacuate" | "get_vms_which_prevent_evacuation" | "assert_can_evacuate"
        ),

        _ => false,
    };
    unknown.then(|| Failure::new("MESSAGE_METHOD_UNKNOWN", &[&format!("{class}.{message}")]))
}

/// Messages xend 3.x has too but the simulator models only as xapi behaves: in the xend
/// dialect they answer `NOT_IMPLEMENTED` rather than xapi's behaviour.
fn modelled_for_xapi_only(class: &str, message: &str) -> bool {
    matches!(
        (class, message),
        ("PBD", "create" | "destroy" | "plug" | "unplug")
            | (
                "SR",
                "forget" | "destroy" | "introduce" | "create" | "update"
            )
            | ("VM", "assert_operation_valid" | "update_allowed_operations")
            | ("host", "disable" | "enable" | "reboot" | "shutdown")
            | (
                "VM",
                "pool_migrate" | "start_on" | "resume_on" | "assert_can_boot_here"
            )
            | (
                "VM",
                "get_possible_hosts" | "get_allowed_VBD_devices" | "get_allowed_VIF_devices"
            )
            | ("host", "compute_free_memory")
            | (_, "create_new_blob")
            | ("blob", "create" | "destroy")
    )
}

fn empty() -> Value {
    Value::String(String::new())
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

pub(crate) fn arg_str<'a>(args: &'a [Value], i: usize, name: &str) -> Result<&'a str, Failure> {
    args.get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[name]))
}

fn arg_bool(args: &[Value], i: usize, name: &str) -> Result<bool, Failure> {
    match args.get(i) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(Value::Int(i)) => Ok(*i != 0),
        _ => Err(Failure::new("FIELD_TYPE_ERROR", &[name])),
    }
}

fn str_set(args: &[Value], i: usize, name: &str) -> Result<Vec<String>, Failure> {
    let items = args
        .get(i)
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[name]))?;
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[name]))
        })
        .collect()
}
