//! The client-side hot paths allocate nothing: `CircuitBreaker::allow()` + verdict in Closed
//! (both modes), `call`, and iterating a `Backoff` with jitter. A counting global allocator in
//! its own test binary, counting only on the measuring thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backpressure::{Backoff, CircuitBreaker, Jitter};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to `System` unchanged; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed); // Relaxed: a plain counter.
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed); // Relaxed: a plain counter.
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed); // Relaxed: same thread counts and reads.
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before // Relaxed: as above.
}

#[test]
fn client_hot_paths_allocate_nothing() {
    let (clock, _mock) = quanta::Clock::mock();
    let consecutive = CircuitBreaker::builder().failure_threshold(1_000).clock(clock.clone()).build().unwrap();
    let windowed = CircuitBreaker::builder().failure_rate(0.9, 100, 50).clock(clock).build().unwrap();
    let mut backoff =
        Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1)).jitter(Jitter::Full).seed(1);
    let mut decorrelated =
        Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1)).jitter(Jitter::Decorrelated).seed(2);
    assert_eq!(allocations(|| drop(Box::new(1u8))), 1, "the counter counts");
    // Warm up anything lazily initialised (the clock, thread locals).
    consecutive.allow().unwrap().success();
    windowed.allow().unwrap().success();
    backoff.next();

    let n = allocations(|| {
        for i in 0..10_000u32 {
            consecutive.allow().unwrap().success();
            windowed.allow().unwrap().success();
            if i % 10 == 0 {
                consecutive.allow().unwrap().failure(); // below the threshold: stays Closed
                windowed.allow().unwrap().failure(); // 10% < 90%: stays Closed
            }
            drop(consecutive.allow().unwrap());
            let _ = consecutive.call(|| Ok::<_, ()>(i));
        }
    });
    assert_eq!(n, 0, "breaker hot path allocated {n} times");
    assert_eq!(consecutive.state(), backpressure::BreakerState::Closed);

    let n = allocations(|| {
        for _ in 0..10_000 {
            backoff.next().unwrap();
            decorrelated.next().unwrap();
        }
    });
    assert_eq!(n, 0, "backoff iteration allocated {n} times");
}
