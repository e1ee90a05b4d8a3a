//! The W3C `traceparent` of the caller's current OpenTelemetry span, sent with each call so that
//! xapi's spans join the caller's trace. Whether `opentelemetry` can be imported is found out
//! once, on the first call; without it a call pays one atomic load.

use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// `opentelemetry.trace.get_current_span`.
static CURRENT_SPAN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `00-<trace id>-<span id>-<flags>` of the current span when OpenTelemetry is installed and a
/// valid span is current; `None` otherwise (tracing never fails a call).
pub(crate) fn traceparent(py: Python<'_>) -> Option<String> {
    match STATE.load(Ordering::Relaxed) {
        ABSENT => return None,
        PRESENT => {}
        _ => {
            let found = CURRENT_SPAN
                .get_or_try_init(py, || -> PyResult<_> {
                    Ok(py
                        .import("opentelemetry.trace")?
                        .getattr("get_current_span")?
                        .unbind())
                })
                .is_ok();
            STATE.store(if found { PRESENT } else { ABSENT }, Ordering::Relaxed);
            if !found {
                return None;
            }
        }
    }
    let current = CURRENT_SPAN.get(py)?;
    let context = current
        .bind(py)
        .call0()
        .and_then(|span| span.call_method0("get_span_context"))
        .ok()?;
    if !context.getattr("is_valid").ok()?.is_truthy().ok()? {
        return None;
    }
    let trace_id: u128 = context.getattr("trace_id").ok()?.extract().ok()?;
    let span_id: u64 = context.getattr("span_id").ok()?.extract().ok()?;
    let flags: u8 = context.getattr("trace_flags").ok()?.extract().ok()?;
    let value = format!("00-{trace_id:032x}-{span_id:016x}-{flags:02x}");
    xenapi::call::check_traceparent(&value).ok()?;
    Some(value)
}
