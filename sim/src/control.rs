//! The side channel for tests (plain HTTP on the same listener, not XML-RPC):
//! `GET /sim/stats`, `POST /sim/fault?kind=K&count=N`, `POST /sim/delay?ms=N`,
//! `POST /sim/expire-sessions`, `POST /sim/failover?to=N` (stop the coordinator, promote host
//! N, 1-based as listed at start; no `to`: the first live member), `POST /sim/events-lost` (the
//! next `event.from` with a token, or `event.next`, answers `EVENTS_LOST`),
//! `POST /sim/invalidate-tokens` (every `event.from` token issued so far is refused with
//! `EVENT_FROM_TOKEN_PARSE_FAILURE`).

use crate::faults::Fault;
use crate::session;
use crate::shared::Shared;

/// `(status, JSON body)` for a request to `/sim/…`.
pub(crate) fn handle(shared: &Shared, method: &str, path: &str, query: &str) -> (u16, String) {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    match (method, path) {
        ("GET", "/sim/stats") => {
            let sessions = session::live_count(shared);
            let s = shared.lock().stats;
            (
                200,
                format!(
                    "{{\"sessions\": {sessions}, \"calls\": {}, \"logins\": {}, \"logouts\": {}, \"max_in_flight\": {}}}",
                    s.calls, s.logins, s.logouts, shared.max_in_flight()
                ),
            )
        }
        ("POST", "/sim/fault") => {
            let kind = param("kind").unwrap_or_default();
            let count = match param("count").as_deref() {
                None | Some("") => Some(1),
                Some("always") => Some(u64::MAX),
                Some(n) => n.parse().ok(),
            };
            let Some(count) = count else {
                return (400, error("count must be a number or always"));
            };
            if kind == "none" {
                shared.faults.set(None, 0);
                return (200, "{\"fault\": \"none\"}".to_owned());
            }
            match Fault::parse(&kind) {
                Some(f) => {
                    shared.faults.set(Some(f), count);
                    let c = if count == u64::MAX {
                        "\"always\"".to_owned()
                    } else {
                        count.to_string()
                    };
                    (
                        200,
                        format!("{{\"fault\": \"{}\", \"count\": {c}}}", f.name()),
                    )
                }
                None => (
                    400,
                    error("kind must be one of reset, http500, garbage, truncate, drip, none"),
                ),
            }
        }
        ("POST", "/sim/delay") => match param("ms").and_then(|m| m.parse::<u64>().ok()) {
            Some(ms) => {
                shared.faults.set_delay_ms(ms);
                (200, format!("{{\"delay_ms\": {ms}}}"))
            }
            None => (400, error("ms must be a number of milliseconds")),
        },
        ("POST", "/sim/expire-sessions") => {
            let n = session::expire_all(shared);
            (200, format!("{{\"expired\": {n}}}"))
        }
        ("POST", "/sim/events-lost") => {
            lose_events(shared);
            (200, "{\"events_lost\": true}".to_owned())
        }
        ("POST", "/sim/invalidate-tokens") => {
            invalidate_tokens(shared);
            (200, "{\"tokens_invalidated\": true}".to_owned())
        }
        ("POST", "/sim/failover") => {
            let to = match param("to").as_deref() {
                None | Some("") => None,
                Some(n) => match n.parse() {
                    Ok(n) => Some(n),
                    Err(_) => return (400, error("to must be a host number")),
                },
            };
            match crate::pool::failover(shared, to) {
                Ok(addr) => (200, format!("{{\"coordinator\": \"{addr}\"}}")),
                Err(e) => (409, format!("{{\"error\": {e:?}}}")),
            }
        }
        _ => (404, error("unknown side-channel request")),
    }
}

fn error(msg: &str) -> String {
    format!("{{\"error\": \"{msg}\"}}")
}

/// The next `event.from` with a token (a waiting one included), or `event.next`, answers
/// `EVENTS_LOST`.
pub(crate) fn lose_events(shared: &Shared) {
    shared.lock().events.lose_next();
    shared.notify();
}

/// Refuses every `event.from` token issued so far (waiting calls included).
pub(crate) fn invalidate_tokens(shared: &Shared) {
    shared.lock().events.invalidate_tokens();
    shared.notify();
}
