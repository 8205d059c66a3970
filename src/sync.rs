//! The one place that knows about loom.
//!
//! Every other module takes its atomics, fences, cells, mutexes and parking from here. A
//! normal build re-exports `std` (and `parking_lot` for the slow path); a build with
//! `RUSTFLAGS="--cfg backpressure_loom"` re-exports loom's models of the same things, so the
//! exact source that ships is the source loom checks.
//!
//! Parking: a thread that must wait parks on its own [`Parker`] (one per thread, reused, so
//! waiting allocates at most once per thread). Waking is a flag set under the parker's lock
//! followed by a condvar notify, so a wake that arrives before the thread sleeps is never lost
//! (the check-before-sleep rule). Under loom a *timed* park returns `TimedOut` at once unless a
//! wake is already there: loom has no clock, and "the timeout fired at the worst moment" is the
//! interleaving worth exploring.

#![allow(dead_code, unused_imports)] // not every item is used by every build (loom / std) or every module

use std::time::Instant;

#[cfg(not(backpressure_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(backpressure_loom))]
pub(crate) use std::sync::Arc;

#[cfg(backpressure_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(backpressure_loom)]
pub(crate) use loom::sync::Arc;

/// A cell whose accesses loom can see: `with` for shared reads, `with_mut` for writes.
#[cfg(not(backpressure_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(backpressure_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(backpressure_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A mutex for slow paths only; never poisoned (a panic while holding it cannot leave the
/// guarded wait lists half-updated, since every update is a single push or remove).
#[cfg(not(backpressure_loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

#[cfg(backpressure_loom)]
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(backpressure_loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[cfg(backpressure_loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Spin hint used by the bounded spin before parking.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(not(backpressure_loom))]
    std::hint::spin_loop();
    #[cfg(backpressure_loom)]
    loom::thread::yield_now();
}

/// How many spin rounds a waiter makes before it parks. Loom gets none: spinning only
/// multiplies the interleavings without adding any new ordering to check.
#[cfg(not(backpressure_loom))]
pub(crate) const SPIN_ROUNDS: u32 = 6;
#[cfg(backpressure_loom)]
pub(crate) const SPIN_ROUNDS: u32 = 0;

/// Why [`Parker::park`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// `unpark` was called since the last `prepare`.
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// One thread's sleeping place. See the module docs.
#[derive(Debug)]
pub(crate) struct Parker {
    woken: Mutex<bool>,
    #[cfg(not(backpressure_loom))]
    cv: Condvar,
    #[cfg(backpressure_loom)]
    cv: loom::sync::Condvar,
}

impl Parker {
    fn new() -> Self {
        Self {
            woken: Mutex::new(false),
            #[cfg(not(backpressure_loom))]
            cv: Condvar::new(),
            #[cfg(backpressure_loom)]
            cv: loom::sync::Condvar::new(),
        }
    }

    /// Forgets any wake left over from an earlier wait. Call it *before* the waiter makes
    /// itself findable (registers in a wait list), so a wake that follows registration is kept.
    pub(crate) fn prepare(&self) {
        *self.woken.lock() = false;
    }

    /// Wakes the thread parked here (or makes its next `park` return at once).
    pub(crate) fn unpark(&self) {
        let mut woken = self.woken.lock();
        *woken = true;
        self.cv.notify_one();
    }

    /// Sleeps until `unpark` or until `deadline` (`None`: no deadline). Spurious wake-ups of
    /// the condvar are absorbed here.
    #[cfg(not(backpressure_loom))]
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        let mut woken = self.woken.lock();
        loop {
            if *woken {
                *woken = false;
                return Wake::Woken;
            }
            match deadline {
                None => self.cv.wait(&mut woken),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Wake::TimedOut;
                    }
                    // Sleep in slices of at most a day, so no platform timeout conversion
                    // overflows on a deadline centuries away.
                    let slice = deadline.min(now + crate::deadline::MAX_SLICE);
                    let _ = self.cv.wait_until(&mut woken, slice);
                }
            }
        }
    }

    /// Loom build: a timed park times out at once unless already woken (see module docs).
    #[cfg(backpressure_loom)]
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        let mut woken = self.woken.lock();
        loop {
            if *woken {
                *woken = false;
                return Wake::Woken;
            }
            if deadline.is_some() {
                return Wake::TimedOut;
            }
            woken = self.cv.wait(woken).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(not(backpressure_loom))]
std::thread_local! {
    static CURRENT: Arc<Parker> = Arc::new(Parker::new());
}

#[cfg(backpressure_loom)]
loom::thread_local! {
    static CURRENT: Arc<Parker> = Arc::new(Parker::new());
}

/// The calling thread's parker (allocated on its first wait, then reused).
pub(crate) fn current_parker() -> Arc<Parker> {
    CURRENT.with(Arc::clone)
}
