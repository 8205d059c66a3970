//! The fast paths of `shed` and `semaphore` allocate nothing: a counting global allocator
//! (counting only on the measuring thread) sees zero allocations across them.

use backpressure::{CancelToken, LoadShedder, Priority, PriorityShedder, Semaphore};
use std::sync::Arc;
use std::time::Duration;

mod support;
use support::allocations_in;

#[global_allocator]
static GLOBAL: support::CountingAlloc = support::CountingAlloc;

#[test]
fn shedder_fast_paths_allocate_nothing() {
    let shedder = Arc::new(LoadShedder::new(2));
    let priority = Arc::new(PriorityShedder::new(4));
    let n = allocations_in(|| {
        for _ in 0..1000 {
            let a = shedder.try_acquire().unwrap();
            let b = shedder.try_acquire_owned().unwrap();
            assert!(shedder.try_acquire().is_err()); // the refusal path too
            drop((a, b));
            let p = priority.try_acquire(Priority::Normal).unwrap();
            let q = priority.try_acquire_owned(Priority::Critical).unwrap();
            let _ = priority.try_acquire(Priority::Low); // refused at 2 of 4
            drop((p, q));
        }
    });
    assert_eq!(n, 0, "shedder fast paths allocated {n} times");
}

#[test]
fn semaphore_fast_paths_allocate_nothing() {
    let sem = Arc::new(Semaphore::new(3));
    let token = CancelToken::new();
    let n = allocations_in(|| {
        for _ in 0..1000 {
            let a = sem.try_acquire().unwrap();
            let b = sem.acquire().unwrap();
            let c = sem.acquire_timeout(Duration::from_secs(1)).unwrap();
            assert!(sem.try_acquire().is_none());
            drop((a, b, c));
            let many = sem.acquire_many(3).unwrap();
            drop(many);
            let owned = sem.acquire_owned().unwrap();
            let cancellable = sem.acquire_many_cancellable(2, &token).unwrap();
            drop((owned, cancellable));
            let timed = sem.acquire_many_timeout_owned(3, Duration::MAX).unwrap();
            drop(timed);
        }
    });
    assert_eq!(n, 0, "semaphore fast paths allocated {n} times");
}

#[test]
fn the_counter_does_count() {
    let n = allocations_in(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(n, 1);
}
