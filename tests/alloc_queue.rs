//! The hot paths allocate nothing: `try_submit` / `try_recv`, and `submit` / `recv` that do not
//! have to wait. A counting global allocator sees every allocation in this test binary.

use backpressure::{BoundedQueue, Ring};

mod support;
use support::allocations_in;

#[global_allocator]
static GLOBAL: support::CountingAlloc = support::CountingAlloc;

#[test]
fn try_submit_and_try_recv_allocate_nothing() {
    let q = BoundedQueue::new(8);
    let n = allocations_in(|| {
        for i in 0..10_000u64 {
            q.try_submit(i).unwrap();
            assert_eq!(q.try_recv(), Ok(i));
        }
        // Refusals too: full and empty.
        for i in 0..8 {
            q.try_submit(i).unwrap();
        }
        assert!(q.try_submit(99).is_err());
        for _ in 0..8 {
            q.try_recv().unwrap();
        }
        assert!(q.try_recv().is_err());
    });
    assert_eq!(n, 0);
}

#[test]
fn uncontended_submit_and_recv_allocate_nothing() {
    let q = BoundedQueue::new(8);
    let n = allocations_in(|| {
        for i in 0..10_000u64 {
            q.submit(i).unwrap();
            q.submit_timeout(i, std::time::Duration::from_secs(1)).unwrap();
            assert_eq!(q.recv(), Ok(i));
            assert_eq!(q.recv_timeout(std::time::Duration::MAX), Ok(i));
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn ring_push_and_pop_allocate_nothing() {
    let ring = Ring::new(3);
    let n = allocations_in(|| {
        for i in 0..10_000u32 {
            ring.try_push(i).unwrap();
            assert_eq!(ring.try_pop(), Some(i));
        }
    });
    assert_eq!(n, 0);
}
