//! Login, logout, session validity (idle expiry, xapi's 500-per-user/originator limit).

use std::sync::Arc;
use std::time::Instant;

use xenapi::{DateTime, Value};

use crate::dialect::Dialect;
use crate::dispatch::Failure;
use crate::shared::Shared;
use crate::state::{set_field, SessionMeta, State};

/// xapi keeps at most this many sessions per user and originator (the oldest go first).
const PER_ORIGINATOR: usize = 500;

/// `session.login_with_password(uname, pwd[, version, originator])`; `local`: the session of
/// `slave_local_login_with_password`, which a pool member serves itself.
pub(crate) fn login(
    shared: &Arc<Shared>,
    member: bool,
    local: bool,
    params: &[Value],
) -> Result<Value, Failure> {
    let dialect = shared.settings.dialect;
    let mut st = shared.lock();
    if member {
        let addr = st.coordinator_addr.clone();
        return Err(Failure::new("HOST_IS_SLAVE", &[&addr]));
    }
    let user = params.first().and_then(Value::as_str).unwrap_or("");
    let pwd = params.get(1).and_then(Value::as_str).unwrap_or("");
    let originator = params.get(3).and_then(Value::as_str).unwrap_or("");
    let s = &shared.settings;
    if user != s.user || pwd != s.password {
        // The password is never logged.
        st.log(format!(
            "session.login_with_password: authentication failed for user {user:?}"
        ));
        return Err(match dialect {
            Dialect::Xapi => Failure::new(
                "SESSION_AUTHENTICATION_FAILED",
                &[user, "Authentication failure"],
            ),
            Dialect::Xend => Failure::new("SESSION_AUTHENTICATION_FAILED", &[]),
        });
    }
    evict(&mut st, user, originator);
    let (r, mut rec) = st.blank("session");
    let now = DateTime::now();
    let host = st.coordinator.clone();
    set_field(&mut rec, "this_host", Value::String(host));
    set_field(&mut rec, "last_active", Value::DateTime(now.clone()));
    set_field(&mut rec, "validation_time", Value::DateTime(now));
    set_field(&mut rec, "is_local_superuser", Value::Bool(true));
    set_field(&mut rec, "auth_user_name", Value::String(user.to_owned()));
    set_field(&mut rec, "originator", Value::String(originator.to_owned()));
    st.add("session", r.clone(), rec);
    st.sessions.insert(
        r.clone(),
        SessionMeta {
            user: user.to_owned(),
            originator: originator.to_owned(),
            last_active: Instant::now(),
            registered: Vec::new(),
            next_seen: 0,
            local,
        },
    );
    st.stats.logins += 1;
    let via = if originator.is_empty() {
        String::new()
    } else {
        format!(" (originator {originator:?})")
    };
    st.log(format!(
        "session.login_with_password: user {user:?} logged in{via}"
    ));
    Ok(Value::String(r))
}

fn evict(st: &mut State, user: &str, originator: &str) {
    let mut same: Vec<(Instant, String)> = st
        .sessions
        .iter()
        .filter(|(_, m)| m.user == user && m.originator == originator)
        .map(|(r, m)| (m.last_active, r.clone()))
        .collect();
    if same.len() < PER_ORIGINATOR {
        return;
    }
    same.sort();
    let excess = same.len() + 1 - PER_ORIGINATOR;
    for (_, r) in same.into_iter().take(excess) {
        drop_session(st, &r);
    }
}

fn drop_session(st: &mut State, r: &str) {
    st.sessions.remove(r);
    st.remove("session", r);
}

/// The user of a live session (refreshing its idle time), or `SESSION_INVALID`; on a pool
/// `member`, a session that is not a local one is `HOST_IS_SLAVE` (xapi's `Session_check`).
pub(crate) fn check(shared: &Shared, member: bool, r: &str) -> Result<String, Failure> {
    let timeout = shared.settings.session_timeout;
    let mut st = shared.lock();
    let Some(meta) = st.sessions.get_mut(r) else {
        return Err(Failure::new("SESSION_INVALID", &[r]));
    };
    if meta.last_active.elapsed() > timeout {
        drop_session(&mut st, r);
        st.log("session expired after being idle");
        return Err(Failure::new("SESSION_INVALID", &[r]));
    }
    if member && !meta.local {
        let addr = st.coordinator_addr.clone();
        return Err(Failure::new("HOST_IS_SLAVE", &[&addr]));
    }
    meta.last_active = Instant::now();
    Ok(meta.user.clone())
}

pub(crate) fn logout(st: &mut State, r: &str) {
    if let Some(meta) = st.sessions.get(r) {
        let user = meta.user.clone();
        drop_session(st, r);
        st.stats.logouts += 1;
        st.log(format!("session.logout: user {user:?} logged out"));
    }
}

/// Drops the sessions idle for longer than `shared`'s timeout; returns how many are live.
pub(crate) fn live_count(shared: &Shared) -> usize {
    let timeout = shared.settings.session_timeout;
    let mut st = shared.lock();
    let expired: Vec<String> = st
        .sessions
        .iter()
        .filter(|(_, m)| m.last_active.elapsed() > timeout)
        .map(|(r, _)| r.clone())
        .collect();
    for r in expired {
        drop_session(&mut st, &r);
    }
    st.sessions.len()
}

/// Invalidates every session (the side channel's `expire-sessions`, to test re-login).
pub(crate) fn expire_all(shared: &Shared) -> usize {
    let mut st = shared.lock();
    let all: Vec<String> = st.sessions.keys().cloned().collect();
    for r in &all {
        drop_session(&mut st, r);
    }
    all.len()
}
