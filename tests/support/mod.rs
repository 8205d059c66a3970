//! Helpers shared by the integration tests (each test file is its own crate and includes this
//! module with `mod support;`; not every file uses every helper).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Runs `f` on its own thread and fails the test, instead of hanging, if it takes longer
/// than two minutes; a panic in `f` fails the test with `f`'s own message.
pub fn with_watchdog<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    with_watchdog_for(Duration::from_secs(120), f)
}

/// [`with_watchdog`] with a chosen limit.
pub fn with_watchdog_for<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    // A big stack: some bodies move multi-MiB items by value (adversarial_queue's are 8 MiB);
    // the default 2 MiB overflowed there. Only reserved address space until touched.
    let worker = thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || tx.send(f()).unwrap())
        .expect("spawn the watchdog's worker");
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(worker.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: the test did not finish within {limit:?}"),
    }
}

/// A global allocator that counts the calling thread's allocations (and reallocations) while
/// [`allocations_in`] measures. Each allocation test binary installs it:
///
/// ```ignore
/// mod support;
/// #[global_allocator]
/// static GLOBAL: support::CountingAlloc = support::CountingAlloc;
/// ```
pub struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to `System` unchanged; only counts on the side.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many allocations `f` made on this thread (other threads' allocations are not counted).
pub fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}
