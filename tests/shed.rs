//! Behaviour of `LoadShedder` and `PriorityShedder` through the public API.

use backpressure::{LoadShedder, Overloaded, Priority, PriorityShedder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

mod support;
use support::with_watchdog;

/// Holds `n` Critical permits so the load is exactly `n`.
fn fill(shedder: &PriorityShedder, n: usize) -> Vec<backpressure::LoadPermit<'_>> {
    (0..n).map(|_| shedder.try_acquire(Priority::Critical).unwrap()).collect()
}

#[test]
fn each_priority_is_shed_exactly_at_its_threshold() {
    let shedder = PriorityShedder::new(100);
    for (priority, limit) in
        [(Priority::Low, 50), (Priority::Normal, 70), (Priority::High, 90), (Priority::Critical, 100)]
    {
        assert_eq!(shedder.limit(priority), limit);
        for load in [limit - 1, limit, limit + 1] {
            if load > 100 {
                continue;
            }
            let held = fill(&shedder, load);
            match shedder.try_acquire(priority) {
                Ok(permit) => {
                    assert!(load < limit, "{priority} must be shed at load {load}");
                    drop(permit);
                }
                Err(err) => {
                    assert!(load >= limit, "{priority} must be admitted at load {load}");
                    assert_eq!((err.load(), err.limit(), err.priority()), (load, limit, Some(priority)));
                }
            }
            drop(held);
            assert_eq!(shedder.load(), 0);
        }
    }
}

#[test]
fn critical_is_admitted_until_the_load_reaches_max_load() {
    let shedder = PriorityShedder::new(10);
    let held: Vec<_> = (0..10).map(|_| shedder.try_acquire(Priority::Critical).unwrap()).collect();
    assert_eq!(shedder.load(), 10);
    for p in Priority::ALL {
        assert!(shedder.try_acquire(p).is_err());
    }
    drop(held);
}

#[test]
fn per_priority_counters_count_admitted_and_shed() {
    let shedder = PriorityShedder::new(4); // Low limit 2
    let a = shedder.try_acquire(Priority::Low).unwrap();
    let b = shedder.try_acquire(Priority::Low).unwrap();
    assert!(shedder.try_acquire(Priority::Low).is_err());
    assert!(shedder.try_acquire(Priority::Low).is_err());
    let c = shedder.try_acquire(Priority::High).unwrap();
    assert_eq!((shedder.admitted(Priority::Low), shedder.shed(Priority::Low)), (2, 2));
    assert_eq!((shedder.admitted(Priority::High), shedder.shed(Priority::High)), (1, 0));
    assert_eq!(shedder.admitted(Priority::Normal) + shedder.shed(Priority::Critical), 0);
    drop((a, b, c));
}

#[test]
fn custom_thresholds_move_the_boundaries() {
    let shedder = PriorityShedder::builder(10)
        .threshold(Priority::Low, 10.0)
        .threshold(Priority::Normal, 20.0)
        .threshold(Priority::High, 30.0)
        .threshold(Priority::Critical, 40.0)
        .build()
        .unwrap();
    let held = fill(&shedder, 3);
    assert!(shedder.try_acquire(Priority::High).is_err());
    assert!(shedder.try_acquire(Priority::Critical).is_ok());
    drop(held);
    assert_eq!(shedder.threshold(Priority::Critical), 40.0);
}

#[test]
fn lowering_max_load_sheds_new_work_but_keeps_held_permits() {
    let shedder = LoadShedder::new(4);
    let held: Vec<_> = (0..4).map(|_| shedder.try_acquire().unwrap()).collect();
    shedder.set_max_load(2);
    assert_eq!(shedder.load(), 4);
    let mut held = held.into_iter();
    drop(held.next());
    drop(held.next());
    assert_eq!(shedder.try_acquire().unwrap_err(), shedder.try_acquire().unwrap_err());
    assert_eq!(shedder.try_acquire().unwrap_err().load(), 2);
    drop(held.next());
    assert!(shedder.try_acquire().is_ok());
}

#[test]
fn a_panicking_holder_releases_its_permit() {
    let shedder = Arc::new(LoadShedder::new(1));
    let result = std::panic::catch_unwind(|| {
        let _permit = shedder.try_acquire().unwrap();
        panic!("handler blew up");
    });
    assert!(result.is_err());
    assert_eq!(shedder.load(), 0);

    // Also when the panic ends a thread that holds an owned permit.
    let permit = shedder.try_acquire_owned().unwrap();
    let t = thread::spawn(move || {
        let _permit = permit;
        panic!("worker died");
    });
    assert!(t.join().is_err());
    assert_eq!(shedder.load(), 0);
    assert!(shedder.try_acquire().is_ok());
}

#[test]
fn overloaded_is_a_plain_comparable_error() {
    fn is_error<E: std::error::Error + Copy + Eq + Send + Sync + 'static>(_: &E) {}
    let shedder = PriorityShedder::new(2);
    let _p = shedder.try_acquire(Priority::Normal).unwrap();
    let err: Overloaded = shedder.try_acquire(Priority::Low).unwrap_err();
    is_error(&err);
    assert_eq!(err.to_string(), "overloaded: load 1 reached the limit 1 for low priority");
}

#[test]
fn concurrent_holders_never_exceed_max_load() {
    const THREADS: usize = 8;
    const TRIES: usize = 20_000;
    const MAX: usize = 3;
    let (admitted, peak) = with_watchdog(|| {
        let shedder = Arc::new(LoadShedder::new(MAX));
        let holders = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (shedder, holders, peak) = (Arc::clone(&shedder), Arc::clone(&holders), Arc::clone(&peak));
                thread::spawn(move || {
                    let mut admitted = 0;
                    for _ in 0..TRIES {
                        if let Ok(_permit) = shedder.try_acquire() {
                            let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            admitted += 1;
                            holders.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    admitted
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(shedder.load(), 0);
        (admitted, peak.load(Ordering::SeqCst))
    });
    assert!(peak <= MAX, "peak {peak} concurrent holders with max_load {MAX}");
    assert!(admitted > 0);
}
