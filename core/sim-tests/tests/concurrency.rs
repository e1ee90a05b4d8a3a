//! One `Session` shared by 8 threads.

use std::sync::Arc;
use std::sync::Barrier;

use xenapi::Value;
use xenapi_tests::*;

const THREADS: usize = 8;
const CALLS: usize = 40;

#[test]
fn eight_threads_share_one_session() {
    for d in DIALECTS {
        let sim = sim_with(d, |c| c.vms = 16);
        let s = connect(&sim);
        let vms: Vec<String> = (1..=16).map(|i| vm_ref(&s, &format!("vm{i:02}"))).collect();
        let before = sim.stats().calls;
        let barrier = Arc::new(Barrier::new(THREADS));
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (s, barrier, vms) = (s.clone(), Arc::clone(&barrier), &vms);
                scope.spawn(move || {
                    barrier.wait();
                    // Each thread owns two VMs and cycles them; reads go across all.
                    let mine = [&vms[2 * t], &vms[2 * t + 1]];
                    for i in 0..CALLS {
                        let vm = mine[i % 2];
                        let rec = s.call("VM.get_record", vec![vm.as_str().into()]).unwrap();
                        let state = rec.get("power_state").and_then(Value::as_str).unwrap();
                        match state {
                            "Running" => vm_op(&s, "VM.hard_shutdown", vm).unwrap(),
                            "Halted" => start(&s, vm, false).unwrap(),
                            other => panic!("{other}"),
                        };
                        let other = &vms[(t + i) % vms.len()];
                        s.call("VM.get_power_state", vec![other.as_str().into()])
                            .unwrap();
                    }
                });
            }
        });
        let st = sim.stats();
        assert_eq!(st.calls - before, (THREADS * CALLS * 3) as u64);
        assert_eq!(st.logins, 1, "one session for all threads");
        assert_eq!(st.sessions, 1);
        // Every VM was cycled an even number of times: back where it started.
        for (i, vm) in vms.iter().enumerate() {
            let expect = if i % 2 == 0 { "Running" } else { "Halted" };
            assert_eq!(power_state(&s, vm), expect, "vm{:02}", i + 1);
        }
    }
}

#[test]
fn threads_that_all_see_session_invalid_log_in_once() {
    for d in DIALECTS {
        let sim = sim(d);
        let s = connect(&sim);
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                let (s, barrier) = (s.clone(), Arc::clone(&barrier));
                scope.spawn(move || {
                    s.call("VM.get_all", vec![]).unwrap();
                    barrier.wait(); // the sessions are expired here
                    barrier.wait();
                    for _ in 0..5 {
                        s.call("VM.get_all", vec![])
                            .expect("re-login is transparent");
                    }
                });
            }
            barrier.wait();
            assert_eq!(sim.expire_sessions(), 1);
            barrier.wait();
        });
        let st = sim.stats();
        assert_eq!(st.logins, 2, "{d:?}: one re-login for all threads");
        assert_eq!(st.sessions, 1);
    }
}

/// The load check of issue 10: 64 threads, 200 small calls each, on one session, no error.
#[test]
fn sixty_four_threads_make_200_calls_each_on_one_session() {
    const LOAD_THREADS: usize = 64;
    const LOAD_CALLS: usize = 200;
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = vm_ref(&s, "vm01");
    let before = sim.stats().calls;
    let barrier = Arc::new(Barrier::new(LOAD_THREADS));
    let errors: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..LOAD_THREADS)
            .map(|_| {
                let (s, barrier, vm) = (s.clone(), Arc::clone(&barrier), &vm);
                scope.spawn(move || {
                    barrier.wait();
                    let mut errors = 0;
                    for _ in 0..LOAD_CALLS {
                        match s.call("VM.get_power_state", vec![vm.as_str().into()]) {
                            Ok(v) if v.as_str() == Some("Running") => {}
                            other => {
                                errors += 1;
                                eprintln!("{other:?}");
                            }
                        }
                    }
                    errors
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(errors, 0);
    assert_eq!(
        sim.stats().calls - before,
        (LOAD_THREADS * LOAD_CALLS) as u64
    );
    assert_eq!(sim.stats().logins, 1);
}
