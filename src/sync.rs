//! The one place that knows about loom.
//!
//! Every other module takes its atomics, fences, cells, mutexes and parking from here. A
//! normal build re-exports `std` (and `parking_lot` for the slow path); a build with
//! `RUSTFLAGS="--cfg backpressure_loom"` re-exports loom's models of the same things, so the
//! exact source that ships is the source loom checks.
//!
//! Parking: a thread that must wait parks on its own [`Parker`] (one per thread, reused, so
//! waiting allocates at most once per thread). Waking sets a flag and then unparks the thread;
//! the sleeper checks the flag before every sleep, so a wake that arrives before the thread
//! sleeps is never lost (the check-before-sleep rule). The normal build sleeps in
//! `std::thread::park` (a futex; no syscall to wake a thread that is not asleep); the loom
//! build models the same rule with loom's `Mutex` and `Condvar`, which loom can see. Under loom
//! a *timed* park returns `TimedOut` at once unless a wake is already there: loom has no clock,
//! and "the timeout fired at the worst moment" is the interleaving worth exploring.

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
pub(crate) use parking_lot::Mutex;

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

/// How many spin rounds a waiter makes before it parks: 1 + 2 + 4 `spin_loop` hints with an
/// attempt after each round, a few hundred nanoseconds (a pause costs ~25-50 ns on the CI
/// VMs). Loom gets none: spinning only multiplies the interleavings without adding any new
/// ordering to check.
/// (A function, not a constant, so the loom build's empty spin does not trip range lints.)
///
/// No spin at all when the process may run on one CPU only (`taskset -c 0`, a one-core
/// container): the thread we wait for cannot run while we spin, so spinning only delays it
/// (see [`spin_then`] for what a waiter does there instead).
#[inline(always)]
fn spin_rounds() -> u32 {
    if cfg!(backpressure_loom) || single_cpu() {
        0
    } else {
        3
    }
}

/// Answers (and caches) the one-CPU question now, so the first wait or retry does not pay
/// for it (asking reads the affinity mask and may allocate). Constructors call it.
pub(crate) fn warm_up() {
    let _ = single_cpu();
}

/// Whether this process may run on one CPU only, asked once (`available_parallelism` reads
/// the affinity mask) and cached.
#[cfg(not(backpressure_loom))]
fn single_cpu() -> bool {
    static SINGLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SINGLE.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() == 1))
}

#[cfg(backpressure_loom)]
fn single_cpu() -> bool {
    false
}

/// `1 << round` spin hints: the pause before retry `round` of a bounded wait.
#[inline]
pub(crate) fn pause(round: u32) {
    (0..1u32 << round).for_each(|_| spin_hint());
}

/// The pause after a lost CAS race (`failures` so far): backing off keeps contended threads
/// from bouncing the cache line on every retry. Nothing under loom.
#[inline]
pub(crate) fn contention_backoff(failures: u32) {
    if !cfg!(backpressure_loom) {
        pause(failures.min(6));
    }
}

/// The bounded wait every waiter makes before parking, with a call of `check` after it.
///
/// On several CPUs: `spin_rounds()` rounds of 1, 2, 4, ... spin hints with a `check` after
/// each, a few hundred nanoseconds in all, for a peer running on another CPU to finish.
///
/// On one CPU: a spin cannot help (the peer cannot run while we spin), so instead the waiter
/// offers the CPU once (`yield_now`) and checks once. The thread it waits for is usually the
/// one that runs next: a full queue's receiver drains it, an empty queue's submitter fills it,
/// and the waiter comes back to a ready queue without ever registering, parking, or costing
/// its peer a wake-up system call (pinned to one CPU this made the blocking hand-off ~1.4x
/// faster). It yields exactly once per wait, never in a loop, so threads that outnumber the
/// CPU cannot bounce the CPU between themselves: a waiter whose check still fails parks.
///
/// Under loom: neither (spinning or yielding only multiplies the interleavings).
pub(crate) fn spin_then<R>(mut check: impl FnMut() -> Option<R>) -> Option<R> {
    #[cfg(not(backpressure_loom))]
    if single_cpu() {
        std::thread::yield_now();
        return check();
    }
    (0..spin_rounds()).find_map(|round| {
        pause(round);
        check()
    })
}

/// The longest a waiter keeps spinning for a peer it knows is on its way (see
/// [`spin_while`]): longer than a wake-up takes to arrive on a VM (~20 µs measured on the CI
/// VMs), short enough that a peer the scheduler does not run soon costs little.
const PEER_PATIENCE: std::time::Duration = std::time::Duration::from_micros(50);

/// The extended spin of a waiter whose helper is known to be coming: while `coming()` holds
/// (a thread that will make the waiter's condition true has been woken and has not yet made
/// its attempt), spin in rounds of 64 hints with a `check` after each, for at most
/// [`PEER_PATIENCE`] and never past `deadline`; then one last `check`.
///
/// Why: a wake-up is slow to arrive (a futex wake of a sleeping thread, more on a VM where
/// the target CPU is halted), far slower than a hand-off between running threads. Without
/// this, two threads passing items one at a time fall into lock-step parking: each wakes the
/// other and parks before the other arrives, so every item costs two wake-ups. Waiting out
/// the one wake-up in flight puts both back on the spinning path. The spin ends as soon as the
/// helper has tried (`coming()` turns false), usually after one wake-up's latency, and never
/// lasts more than [`PEER_PATIENCE`] (several helpers on their way, or wakes that keep coming,
/// can keep `coming()` true that long). Never on one CPU (the helper cannot run while we
/// spin) and never under loom; a `coming()` that is only a hint (a relaxed load) is enough,
/// since a waiter that stops spinning still registers and re-checks before it parks.
pub(crate) fn spin_while(
    mut check: impl FnMut() -> bool,
    coming: impl Fn() -> bool,
    deadline: Option<Instant>,
) -> bool {
    if cfg!(backpressure_loom) || single_cpu() || !coming() {
        return false;
    }
    let patience = Instant::now() + PEER_PATIENCE;
    let until = deadline.map_or(patience, |d| d.min(patience));
    while coming() && Instant::now() < until {
        pause(6);
        if check() {
            return true;
        }
    }
    check()
}

/// Why [`Parker::park`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// `unpark` was called since the last `prepare`.
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// One thread's sleeping place. See the module docs.
///
/// Normal build: a wake flag plus the owning thread's handle; sleeping is
/// `std::thread::park{_timeout}` (a futex on Linux), and a wake is a store plus `Thread::unpark`,
/// which makes no system call unless the thread is actually asleep.
#[cfg(not(backpressure_loom))]
#[derive(Debug)]
pub(crate) struct Parker {
    woken: AtomicBool,
    thread: std::thread::Thread,
}

#[cfg(not(backpressure_loom))]
impl Parker {
    fn new() -> Self {
        Self { woken: AtomicBool::new(false), thread: std::thread::current() }
    }

    /// Forgets any wake left over from an earlier wait. Call it *before* the waiter makes
    /// itself findable (registers in a wait list), so a wake that follows registration is kept.
    pub(crate) fn prepare(&self) {
        // Acquire: if this overwrites a wake, pairs with that `unpark`'s Release, so whatever
        // the waker published first (a cancel flag, a close bit) is visible to our re-check.
        self.woken.swap(false, Ordering::Acquire);
    }

    /// Wakes the thread parked here (or makes its next `park` return at once).
    pub(crate) fn unpark(&self) {
        // Release: pairs with the Acquire swaps in `park` and `prepare`.
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Sleeps until `unpark` or until `deadline` (`None`: no deadline). Spurious returns of
    /// `std::thread::park` are absorbed here. Only the owning thread may call it.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        loop {
            // Acquire: pairs with the Release in `unpark`.
            if self.woken.swap(false, Ordering::Acquire) {
                return Wake::Woken;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Wake::TimedOut;
                    }
                    // Slices of at most a day: no platform conversion overflows on far deadlines.
                    std::thread::park_timeout((deadline - now).min(crate::deadline::MAX_SLICE));
                }
            }
        }
    }
}

/// Loom build: a flag under loom's `Mutex` and a `Condvar` (loom cannot see std's parking).
#[cfg(backpressure_loom)]
#[derive(Debug)]
pub(crate) struct Parker {
    woken: Mutex<bool>,
    cv: loom::sync::Condvar,
}

#[cfg(backpressure_loom)]
impl Parker {
    fn new() -> Self {
        Self { woken: Mutex::new(false), cv: loom::sync::Condvar::new() }
    }

    pub(crate) fn prepare(&self) {
        *self.woken.lock() = false;
    }

    pub(crate) fn unpark(&self) {
        let mut woken = self.woken.lock();
        *woken = true;
        self.cv.notify_one();
    }

    /// A timed park times out at once unless already woken (see module docs).
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
