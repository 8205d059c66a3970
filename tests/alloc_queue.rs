//! The hot paths allocate nothing: `try_submit` / `try_recv`, and `submit` / `recv` that do not
//! have to wait. A counting global allocator sees every allocation in this test binary.

use backpressure::{BoundedQueue, Ring};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls (per thread, so other
// test threads' allocations do not interfere).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

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
