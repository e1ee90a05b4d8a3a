//! What one call carries besides its method and parameters (a deadline for the whole operation,
//! a cancel, a W3C trace context), the interrupt check a binding installs on its thread (Ctrl-C
//! in Python), and the worker threads that run calls for callers that do not block
//! ([`crate::Session::call_async`]: asyncio, .NET tasks, C callbacks).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::task::Cancel;
use crate::{Error, Result};

/// Options for the calls of a session view ([`crate::Session::with_call_options`]).
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel: Option<Cancel>,
    pub(crate) traceparent: Option<Arc<str>>,
}

impl CallOptions {
    pub fn new() -> Self {
        CallOptions::default()
    }

    /// The deadline of each call, from the moment it is made to its last byte, the library's
    /// own calls inside it included (a re-login after `SESSION_INVALID`, a failover).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Calls stop within [`TICK`] of `cancel` firing, with [`Error::Cancelled`]; the connection
    /// they used is dropped.
    pub fn cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The W3C `traceparent` header sent with each call (`00-<32 hex>-<16 hex>-<2 hex>`), so
    /// that xapi's spans join the caller's trace. Refused unless well formed.
    pub fn traceparent(mut self, value: &str) -> Result<Self> {
        check_traceparent(value)?;
        self.traceparent = Some(Arc::from(value));
        Ok(self)
    }
}

/// Whether `value` is a W3C trace context `traceparent` of version 00 (or a later version with
/// the same first fields), not all-zero ids.
pub fn check_traceparent(value: &str) -> Result<()> {
    let bad = || {
        Error::InvalidArgument(format!(
            "traceparent {value:?} is not a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)"
        ))
    };
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.len() < 4
        || !hex(parts[0], 2)
        || parts[0].eq_ignore_ascii_case("ff")
        || !hex(parts[1], 32)
        || !hex(parts[2], 16)
        || !hex(parts[3], 2)
        || parts[1].bytes().all(|b| b == b'0')
        || parts[2].bytes().all(|b| b == b'0')
        || (parts[0] == "00" && parts.len() != 4)
    {
        return Err(bad());
    }
    Ok(())
}

/// How often a blocked call looks at its cancel, its deadline and the thread's interrupt check.
pub const TICK: Duration = Duration::from_millis(100);

/// One call's context, as the transport sees it: when it must end, what may stop it, and the
/// headers it adds.
#[derive(Clone, Copy)]
pub(crate) struct CallCtx<'a> {
    /// The whole operation's end.
    pub(crate) deadline: Instant,
    /// The operation's whole timeout (for messages).
    pub(crate) timeout: Duration,
    pub(crate) cancel: Option<&'a Cancel>,
    /// Sent as the request's `traceparent` header.
    pub(crate) traceparent: Option<&'a str>,
}

impl<'a> CallCtx<'a> {
    /// A context of `timeout` from now, with nothing else.
    pub(crate) fn within(timeout: Duration) -> Self {
        CallCtx {
            deadline: Instant::now() + timeout,
            timeout,
            cancel: None,
            traceparent: None,
        }
    }

    /// The same context with an earlier deadline, if `d` from now is earlier.
    pub(crate) fn at_most(self, d: Duration) -> Self {
        let end = Instant::now() + d;
        if end < self.deadline {
            CallCtx {
                deadline: end,
                timeout: d,
                ..self
            }
        } else {
            self
        }
    }

    /// What is left of the deadline; [`Error::Timeout`] once it has passed.
    pub(crate) fn remaining(&self, url: &str) -> Result<Duration> {
        match self.deadline.checked_duration_since(Instant::now()) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(Error::Timeout {
                url: url.to_owned(),
                message: format!(
                    "the call did not complete within its deadline of {:.1} s",
                    self.timeout.as_secs_f64()
                ),
            }),
        }
    }

    /// [`Error::Cancelled`] when the cancel fired or the thread's interrupt check says stop.
    pub(crate) fn check(&self, url: &str) -> Result<()> {
        if self.cancel.is_some_and(Cancel::is_cancelled) {
            return Err(Error::Cancelled {
                url: url.to_owned(),
                message: "cancelled by the caller".into(),
            });
        }
        if interrupted() {
            return Err(Error::Cancelled {
                url: url.to_owned(),
                message: "interrupted".into(),
            });
        }
        Ok(())
    }

    /// Both checks: stopped, or out of time.
    pub(crate) fn go_on(&self, url: &str) -> Result<Duration> {
        self.check(url)?;
        self.remaining(url)
    }
}

thread_local! {
    /// The binding's interrupt check for calls on this thread (see [`with_interrupt_check`]).
    static INTERRUPT: Cell<Option<&'static (dyn Fn() -> bool + 'static)>> = const { Cell::new(None) };
}

/// Runs `f` with `check` as this thread's interrupt check: every blocking call made inside `f`
/// on this thread (API calls, task waits, event polls) asks it every [`TICK`] while it waits,
/// and stops with [`Error::Cancelled`] (`"interrupted"`) when it answers `true`. Python's
/// binding passes a check that looks for a pending SIGINT, so that Ctrl-C ends a call within
/// 200 ms. Checks nest: the innermost one is asked.
pub fn with_interrupt_check<R>(check: &dyn Fn() -> bool, f: impl FnOnce() -> R) -> R {
    // SAFETY: the reference is only reachable through INTERRUPT while this frame is alive: it
    // is put back as it was when `f` returns or unwinds (the guard's drop).
    let check: &'static (dyn Fn() -> bool + 'static) = unsafe { std::mem::transmute(check) };
    struct Restore(Option<&'static (dyn Fn() -> bool + 'static)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            INTERRUPT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(INTERRUPT.with(|c| c.replace(Some(check))));
    f()
}

/// Whether this thread's interrupt check (if any) asks to stop.
pub(crate) fn interrupted() -> bool {
    INTERRUPT.with(Cell::get).is_some_and(|check| check())
}

/// Whether this thread has an interrupt check installed (a new connection is then waited for on
/// another thread, so that the check is asked every [`TICK`] while the connect goes on).
pub(crate) fn has_interrupt_check() -> bool {
    INTERRUPT.with(Cell::get).is_some()
}

/// Sleeps `d`, waking every [`TICK`] to look at `ctx`'s cancel and the interrupt check.
pub(crate) fn sleep(ctx: &CallCtx<'_>, d: Duration, url: &str) -> Result<()> {
    let end = Instant::now() + d;
    loop {
        ctx.check(url)?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(TICK));
    }
}

// ---- worker threads for calls that must not block their caller ----

type Job = Box<dyn FnOnce() + Send + 'static>;

/// At most this many worker threads; more jobs queue. A job is one call, which itself waits
/// for one of its session's call slots ([`crate::Options::max_concurrent_calls`]).
const MAX_WORKERS: usize = 64;
/// A worker with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(10);

struct Pool {
    queue: Mutex<PoolState>,
    more: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    workers: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        queue: Mutex::new(PoolState::default()),
        more: Condvar::new(),
    })
}

/// Runs `job` on one of the library's worker threads.
pub(crate) fn spawn(job: Job) {
    let pool = pool();
    let mut state = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
    state.jobs.push_back(job);
    if state.idle > 0 {
        pool.more.notify_one();
        // Enough idle workers for every queued job: none to start.
        if state.idle >= state.jobs.len() {
            return;
        }
    }
    if state.workers < MAX_WORKERS {
        let started = std::thread::Builder::new()
            .name("xenapi-call".into())
            .spawn(work);
        if started.is_ok() {
            state.workers += 1;
        } else if state.workers == 0 {
            // No thread could be started and none is there to take the job: run it here rather
            // than never (its completion must run exactly once).
            let job = state.jobs.pop_back();
            drop(state);
            if let Some(job) = job {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        }
    }
}

/// On Linux a worker runs as `SCHED_BATCH`: it shares the CPU as any thread does, but waking (a
/// reply came) does not preempt the thread that was running. Completions are handed to the
/// application's own threads, so that is where the CPU matters: measured with 100 calls in flight
/// on two CPUs, an asyncio loop otherwise waited up to 70 ms for its CPU while workers woke.
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; the parameter is a valid sched_param. Any
        // thread may move itself from SCHED_OTHER to SCHED_BATCH; on failure it stays as it was.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

fn work() {
    batch_scheduling();
    let pool = pool();
    let mut state = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            // A job is a call with its completion; a panic in the completion (a binding's
            // callback) must not take the worker's bookkeeping down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            state = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        state.idle += 1;
        let (s, timeout) = pool
            .more
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(|p| p.into_inner());
        state = s;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            state.workers -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(check_traceparent(ok).is_ok());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: y",
        ] {
            assert!(check_traceparent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn interrupt_checks_nest_and_unwind() {
        assert!(!interrupted());
        let yes = || true;
        let no = || false;
        with_interrupt_check(&yes, || {
            assert!(interrupted());
            with_interrupt_check(&no, || assert!(!interrupted()));
            assert!(interrupted());
        });
        assert!(!interrupted());
        let _ = std::panic::catch_unwind(|| with_interrupt_check(&yes, || panic!("x")));
        assert!(!has_interrupt_check());
    }

    #[test]
    fn a_burst_of_jobs_runs_in_parallel() {
        // Once a worker exists and idles, a burst must still start more: 20 jobs of 200 ms each
        // take about 200 ms, not 4 s one after another.
        let (tx, rx) = std::sync::mpsc::channel();
        spawn(Box::new(move || tx.send(()).unwrap()));
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..20 {
            let tx = tx.clone();
            spawn(Box::new(move || {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(()).unwrap();
            }));
        }
        for _ in 0..20 {
            rx.recv().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn jobs_run_on_workers() {
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..100 {
            let tx = tx.clone();
            spawn(Box::new(move || tx.send(i).unwrap()));
        }
        let mut got: Vec<i32> = (0..100).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_run_as_batch_threads() {
        let (tx, rx) = std::sync::mpsc::channel();
        // SAFETY: sched_getscheduler(0) only reads the calling thread's policy.
        spawn(Box::new(move || {
            tx.send(unsafe { libc::sched_getscheduler(0) }).unwrap()
        }));
        assert_eq!(rx.recv().unwrap(), libc::SCHED_BATCH);
        // The caller's own thread is left as it was.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
    }
}
