//! The live object cache's figures against the in-process simulator: time to the first full cache
//! of 2,000 VMs (beside one `VM.get_all_records` of the same pool, alternating rounds), memory per
//! cached VM (a counting allocator: the heap the cache holds, measured by dropping it), and events
//! applied per second while threads drive changes through the simulator.
//!
//! `cargo run --release -p xenapi-tests --example cache_bench [VMS] [ROUNDS] [CHANGES]` (or
//! `make cache-bench`); defaults 2000, 3, 2000. The simulator keeps the last
//! 10,000 events and a VM change makes four (the VM's, and its VBDs' and VIFs' allowed
//! operations): more than that between two polls is `EVENTS_LOST`, and a refetch (counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use xenapi::api::Vm;
use xenapi::cache::{Cache, CacheOptions};
use xenapi::{Options, Session, Value};
use xenapi_sim::{Config, Simulator};

/// The system allocator, counting the bytes in use.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        IN_USE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            IN_USE.fetch_add(new_size, Relaxed);
            IN_USE.fetch_sub(layout.size(), Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("VMS ROUNDS CHANGES are numbers"))
        .collect();
    let vms = args.first().copied().unwrap_or(2000);
    let rounds = args.get(1).copied().unwrap_or(3).max(1);
    let changes = args.get(2).copied().unwrap_or(2000);

    let sim = Simulator::start(Config {
        vms,
        seed: Some(1),
        ..Config::default()
    })
    .expect("the simulator starts");
    let options = Options::new(sim.url()).timeout(Duration::from_secs(120));
    let session = Session::connect(options.clone(), "root", "password").expect("login");
    let opts = CacheOptions {
        poll_timeout: Duration::from_secs(5),
        ..CacheOptions::default()
    };
    let total_vms = Vm::get_all(&session).expect("VM.get_all").len();
    println!("cache bench: {total_vms} VMs ({vms} guests and the control domain), {rounds} rounds");

    // Time to the first full cache, beside one get_all_records, alternating.
    let (mut fill, mut get_all) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t0 = Instant::now();
        let all = session
            .call("VM.get_all_records", vec![])
            .expect("VM.get_all_records");
        get_all.push(ms(t0.elapsed()));
        drop(all);
        let t0 = Instant::now();
        let cache = Cache::with_options(&session, &["VM"], opts.clone()).expect("cache");
        fill.push(ms(t0.elapsed()));
        assert_eq!(cache.refs("VM").len(), total_vms);
        cache.close();
    }
    println!(
        "time to the first full cache: {:.1} ms (median; VM.get_all_records untyped: {:.1} ms)",
        median(fill),
        median(get_all)
    );

    // Memory: the heap a cache of every VM holds, measured as what dropping it gives back.
    let cache = Cache::with_options(&session, &["VM"], opts.clone()).expect("cache");
    cache.close(); // the thread and its buffers out of the way: what is left is the store
    std::thread::sleep(Duration::from_millis(100));
    let with = IN_USE.load(Relaxed);
    drop(cache);
    let without = IN_USE.load(Relaxed);
    let held = with.saturating_sub(without);
    println!(
        "memory: {:.2} MiB for {total_vms} VMs, {:.1} KiB per cached VM",
        held as f64 / (1024.0 * 1024.0),
        held as f64 / 1024.0 / total_vms as f64
    );

    // Events applied per second: threads change VMs as fast as the simulator takes it.
    let cache = Cache::with_options(&session, &["VM"], opts).expect("cache");
    let refs: Vec<String> = cache.refs("VM");
    let threads = 8;
    let per_thread = changes / threads;
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let refs = &refs;
            let options = options.clone();
            scope.spawn(move || {
                let s = Session::connect(options, "root", "password").expect("login");
                for i in 0..per_thread {
                    let vm = &refs[(t * per_thread + i) % refs.len()];
                    s.call(
                        "VM.set_name_description",
                        vec![Value::from(vm.as_str()), Value::from(format!("change {i}"))],
                    )
                    .expect("VM.set_name_description");
                }
            });
        }
    });
    let driven = t0.elapsed();
    let want = (threads * per_thread) as u64;
    // Done when the cache holds what the server holds (a refetch after lost events counts too).
    let server: Vec<(String, String)> = Vm::get_all_records(&session)
        .expect("VM.get_all_records")
        .into_iter()
        .map(|(r, rec)| (r.into_string(), rec.name_description))
        .collect();
    let caught_up = || {
        let snap = cache.snapshot();
        server.iter().all(|(r, d)| {
            snap.value("VM", r)
                .and_then(|v| {
                    v.get("name_description")
                        .and_then(Value::as_str)
                        .map(|x| x == d)
                })
                .unwrap_or(false)
        })
    };
    while !caught_up() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let applied = t0.elapsed();
    let st = cache.status();
    println!(
        "events applied: {} in {:.0} ms, {:.0} events/s, until the cache matched the server \
         ({want} changes by {threads} threads at {:.0} changes/s; {} polls, {} refetches)",
        st.events,
        ms(applied),
        st.events as f64 / applied.as_secs_f64(),
        want as f64 / driven.as_secs_f64(),
        st.polls,
        st.refetches
    );
    cache.close();
}
