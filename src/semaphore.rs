//! [`Semaphore`]: a fair counting semaphore whose waiters sleep, with RAII permits.
//!
//! Use it to cap how many threads do something at once (open connections, requests to a
//! fragile backend, memory-hungry jobs) when callers should *wait* for a turn; use a
//! [`LoadShedder`](crate::LoadShedder) when they should be refused at once instead.
//!
//! # Algorithm
//! One atomic word, `state`, holds the available permits (shifted left by two) and two flags:
//! `CLOSED`, and `QUEUED` ("somebody is waiting"). Waiters sit in a FIFO queue behind a mutex;
//! each asks for `need` permits.
//!
//! - **Fast acquire** (`try_take`): one CAS loop on `state` that takes `n` permits only if
//!   neither flag is set and enough are available. It takes no lock and allocates nothing.
//!   Because it refuses while `QUEUED` is set, a newcomer never overtakes a waiter: a large
//!   `acquire_many` at the head is not starved by a stream of small requests (Q2).
//! - **Fast release**: one CAS loop that adds the permits back, taken only while `QUEUED` is
//!   clear. If `QUEUED` is set the releaser takes the lock, adds its permits and *dispatches*:
//!   while the head waiter's `need` fits in what is available, take its permits for it, mark
//!   it granted, pop it and unpark it. When the queue empties it clears `QUEUED`.
//! - **Enqueue** (under the lock): a CAS on `state` that either takes the permits (queue empty
//!   and enough available) or sets `QUEUED`. Since the same word carries both, a concurrent
//!   fast release either lands before the CAS (and the waiter sees its permits) or sees
//!   `QUEUED` and goes to the locked path, which waits for the push: no lost wake-up, with no
//!   fence needed.
//! - **Waiting**: a queued waiter spins briefly on its outcome, then parks; a dispatcher or
//!   `close` that pops it stores the outcome and unparks it.
//! - **Leaving** (timeout or cancel): under the lock, a waiter first checks whether it was
//!   granted or closed meanwhile (then it keeps the permits / reports closed); otherwise it
//!   removes itself and dispatches, since the waiter behind it may fit now.
//! - **Close** sets `CLOSED` and, under the lock, marks every waiter closed and unparks it.
//!
//! Orderings: every RMW that *takes* permits is Acquire and every one that *returns* them is
//! Release. All writes to `state` are RMWs, so each return heads a release sequence that later
//! takes read from: whatever a holder did before dropping its permit happens-before the work
//! of the next holder, as with a mutex. A dispatcher takes a waiter's permits with that
//! Acquire and then stores the waiter's outcome with Release; the waiter reads it with Acquire
//! (spinning briefly before it parks, and again after each wake), so the edge reaches it
//! without the lock. The flags publish no data and need nothing more.
//!
//! # Invariants
//! - Q1: `QUEUED` is set iff the wait queue is non-empty; both change only under the lock.
//! - Q2: while `QUEUED` is set, permits are added and taken only under the lock, and every
//!   locked section that changes the available count or the head ends with a dispatch, so at
//!   unlock `available < head.need`.
//! - Q3: a waiter's outcome leaves `PENDING` at most once, under the lock, by the thread that
//!   pops it (dispatch: `GRANTED` with its permits already taken; close: `CLOSED`). A waiter
//!   that gives up removes itself under the same lock, so a grant and a timeout never both
//!   happen and no permit is lost.
//! - Q4: available + held = total; `total` grows only by [`Semaphore::add_permits`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::cancel::CancelToken;
use crate::sync::{current_parker, spin_then, Arc, AtomicU32, AtomicUsize, Mutex, Ordering, Parker, Wake};
use crate::waitlist::Stop;

const CLOSED: usize = 1;
const QUEUED: usize = 2;
const SHIFT: u32 = 2;

/// The most permits a [`Semaphore`] can hold (`usize::MAX / 4`).
pub const MAX_PERMITS: usize = usize::MAX >> SHIFT;

const PENDING: u32 = 0;
const GRANTED: u32 = 1;
const CLOSED_OUT: u32 = 2;

/// One thread waiting for `need` permits.
#[derive(Debug)]
struct Waiter {
    need: usize,
    parker: Arc<Parker>,
    /// `PENDING`, `GRANTED` or `CLOSED_OUT` (Q3).
    outcome: AtomicU32,
}

impl Waiter {
    /// The outcome, once a dispatcher or `close` has popped us (Q3).
    #[inline]
    fn decided(&self) -> Option<Result<(), SemaphoreError>> {
        // Acquire: pairs with the Release store in `dispatch` / `close`, so a granted waiter
        // sees every write that happened-before the return of its permits.
        match self.outcome.load(Ordering::Acquire) {
            GRANTED => Some(Ok(())),
            CLOSED_OUT => Some(Err(SemaphoreError::Closed)),
            _ => None,
        }
    }

    /// The bounded spin before parking, watching our outcome.
    fn spin_for_decision(&self) -> Option<Result<(), SemaphoreError>> {
        spin_then(|| self.decided())
    }
}

/// A counting semaphore: at most `permits` holders at once, waiters served first come, first
/// served.
///
/// Acquiring when permits are available and nobody waits is one CAS (no lock, no
/// allocation); otherwise the caller parks in a FIFO queue until a release hands it its
/// permits, its timeout passes, its [`CancelToken`] is cancelled, or the semaphore is closed.
/// Permits are RAII guards that return to the semaphore on drop, also during a panic.
/// See the [module docs](self) for the algorithm.
///
/// ```
/// use backpressure::Semaphore;
/// use std::{sync::Arc, thread};
///
/// let backend_slots = Arc::new(Semaphore::new(2)); // at most two calls in flight
/// let workers: Vec<_> = (0..4)
///     .map(|i| {
///         let slots = Arc::clone(&backend_slots);
///         thread::spawn(move || {
///             let _permit = slots.acquire().unwrap(); // waits for a slot
///             i * 10 // call the backend here
///         })
///     })
///     .collect();
/// let total: i32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
/// assert_eq!(total, 60);
/// assert_eq!(backend_slots.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: CachePadded<AtomicUsize>,
    /// Initial plus added permits; requests above it fail at once.
    total: AtomicUsize,
    waiters: Mutex<VecDeque<Arc<Waiter>>>,
    /// The queue's length, mirrored for [`Semaphore::waiting`]; written under the lock.
    waiting: AtomicUsize,
}

/// The result of the lock-free attempt.
enum Take {
    Taken,
    Busy,
    Closed,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`].
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        assert!(permits <= MAX_PERMITS, "Semaphore::new: permits must be at most {MAX_PERMITS}, got {permits}");
        crate::sync::warm_up();
        Self {
            state: CachePadded::new(AtomicUsize::new(permits << SHIFT)),
            total: AtomicUsize::new(permits),
            waiters: Mutex::new(VecDeque::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Takes one permit if one is available and nobody is waiting; never waits.
    ///
    /// Returns `None` when no permit is free, when others are already queued (they go first),
    /// or when the semaphore is closed.
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits at once if they are available and nobody is waiting; never waits.
    ///
    /// Returns `None` as [`try_acquire`](Self::try_acquire) does, and when `n` exceeds the
    /// total number of permits.
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(4);
    /// let three = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(three.permits(), 3);
    /// assert!(sem.try_acquire_many(2).is_none());
    /// ```
    #[inline]
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        match self.try_take(n) {
            Take::Taken => Some(SemaphorePermit { sem: self, permits: n }),
            Take::Busy | Take::Closed => None,
        }
    }

    /// Takes one permit, waiting as long as it takes.
    ///
    /// # Errors
    /// [`SemaphoreError::Closed`] if the semaphore is or becomes closed;
    /// [`SemaphoreError::ExceedsTotal`] if it has no permits at all.
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(1);
    /// let permit = sem.acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// ```
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, SemaphoreError> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting in line as long as it takes. Waiters are served in
    /// arrival order, so a large request is not starved by smaller ones behind it.
    ///
    /// # Errors
    /// [`SemaphoreError::ExceedsTotal`] at once if `n` is more than the semaphore's total
    /// permits (no release could ever satisfy it); [`SemaphoreError::Closed`] if it is or
    /// becomes closed.
    ///
    /// ```
    /// use backpressure::{Semaphore, SemaphoreError};
    /// let sem = Semaphore::new(4);
    /// assert_eq!(sem.acquire_many(4).unwrap().permits(), 4);
    /// assert_eq!(sem.acquire_many(5).unwrap_err(), SemaphoreError::ExceedsTotal { requested: 5, total: 4 });
    /// ```
    pub fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, SemaphoreError> {
        self.acquire_inner(n, None, None).map(|()| SemaphorePermit { sem: self, permits: n })
    }

    /// Takes one permit, waiting at most `timeout` (`Duration::ZERO` tries once,
    /// `Duration::MAX` waits indefinitely). `None` if the time ran out, the semaphore is
    /// closed, or it has no permits at all; use
    /// [`acquire_many_timeout`](Self::acquire_many_timeout) to tell these apart.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = backpressure::Semaphore::new(1);
    /// let held = sem.acquire_timeout(Duration::from_millis(10)).unwrap();
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// drop(held);
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_many_timeout(1, timeout).ok()
    }

    /// Takes `n` permits, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`SemaphoreError::Timeout`] when the time runs out (holding nothing), plus the errors
    /// of [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use backpressure::{Semaphore, SemaphoreError};
    /// use std::time::Duration;
    /// let sem = Semaphore::new(2);
    /// let _one = sem.acquire().unwrap();
    /// let err = sem.acquire_many_timeout(2, Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, SemaphoreError::Timeout);
    /// ```
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Result<SemaphorePermit<'_>, SemaphoreError> {
        self.acquire_inner(n, crate::deadline::after(timeout), None).map(|()| SemaphorePermit { sem: self, permits: n })
    }

    /// Takes one permit, waiting until one is handed over, `token` is cancelled, or the
    /// token's deadline passes.
    ///
    /// # Errors
    /// [`SemaphoreError::Cancelled`] on cancel, [`SemaphoreError::Timeout`] at the token's
    /// deadline, plus the errors of [`acquire`](Self::acquire).
    ///
    /// ```
    /// use backpressure::{CancelToken, Semaphore, SemaphoreError};
    /// let sem = Semaphore::new(1);
    /// let _held = sem.acquire().unwrap();
    /// let token = CancelToken::new();
    /// token.cancel();
    /// assert_eq!(sem.acquire_cancellable(&token).unwrap_err(), SemaphoreError::Cancelled);
    /// ```
    pub fn acquire_cancellable(&self, token: &CancelToken) -> Result<SemaphorePermit<'_>, SemaphoreError> {
        self.acquire_many_cancellable(1, token)
    }

    /// Takes `n` permits, waiting until they are handed over, `token` is cancelled, or the
    /// token's deadline passes.
    ///
    /// # Errors
    /// As [`acquire_cancellable`](Self::acquire_cancellable) and
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use backpressure::{CancelToken, Semaphore};
    /// let sem = Semaphore::new(3);
    /// let permit = sem.acquire_many_cancellable(3, &CancelToken::new()).unwrap();
    /// assert_eq!(permit.permits(), 3);
    /// ```
    pub fn acquire_many_cancellable(
        &self,
        n: usize,
        token: &CancelToken,
    ) -> Result<SemaphorePermit<'_>, SemaphoreError> {
        self.acquire_inner(n, None, Some(token)).map(|()| SemaphorePermit { sem: self, permits: n })
    }

    /// [`try_acquire`](Self::try_acquire) with a permit that keeps the semaphore alive.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(backpressure::Semaphore::new(1));
    /// let permit = sem.try_acquire_owned().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn try_acquire_owned(self: &StdArc<Self>) -> Option<OwnedSemaphorePermit> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many) with a permit that keeps the semaphore
    /// alive.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(backpressure::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_owned(2).unwrap().permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(self: &StdArc<Self>, n: usize) -> Option<OwnedSemaphorePermit> {
        match self.try_take(n) {
            Take::Taken => Some(OwnedSemaphorePermit { sem: StdArc::clone(self), permits: n }),
            Take::Busy | Take::Closed => None,
        }
    }

    /// [`acquire`](Self::acquire) with a permit that keeps the semaphore alive.
    ///
    /// # Errors
    /// As [`acquire`](Self::acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(backpressure::Semaphore::new(1));
    /// let permit = sem.acquire_owned().unwrap();
    /// drop(permit);
    /// ```
    pub fn acquire_owned(self: &StdArc<Self>) -> Result<OwnedSemaphorePermit, SemaphoreError> {
        self.acquire_many_owned(1)
    }

    /// [`acquire_many`](Self::acquire_many) with a permit that keeps the semaphore alive.
    ///
    /// # Errors
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(backpressure::Semaphore::new(2));
    /// assert_eq!(sem.acquire_many_owned(2).unwrap().permits(), 2);
    /// ```
    pub fn acquire_many_owned(self: &StdArc<Self>, n: usize) -> Result<OwnedSemaphorePermit, SemaphoreError> {
        self.acquire_inner(n, None, None).map(|()| OwnedSemaphorePermit { sem: StdArc::clone(self), permits: n })
    }

    /// [`acquire_timeout`](Self::acquire_timeout) with a permit that keeps the semaphore alive.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let sem = Arc::new(backpressure::Semaphore::new(1));
    /// assert!(sem.acquire_timeout_owned(Duration::MAX).is_some());
    /// ```
    pub fn acquire_timeout_owned(self: &StdArc<Self>, timeout: Duration) -> Option<OwnedSemaphorePermit> {
        self.acquire_many_timeout_owned(1, timeout).ok()
    }

    /// [`acquire_many_timeout`](Self::acquire_many_timeout) with a permit that keeps the
    /// semaphore alive.
    ///
    /// # Errors
    /// As [`acquire_many_timeout`](Self::acquire_many_timeout).
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let sem = Arc::new(backpressure::Semaphore::new(2));
    /// assert!(sem.acquire_many_timeout_owned(2, Duration::ZERO).is_ok());
    /// ```
    pub fn acquire_many_timeout_owned(
        self: &StdArc<Self>,
        n: usize,
        timeout: Duration,
    ) -> Result<OwnedSemaphorePermit, SemaphoreError> {
        self.acquire_inner(n, crate::deadline::after(timeout), None)
            .map(|()| OwnedSemaphorePermit { sem: StdArc::clone(self), permits: n })
    }

    /// [`acquire_cancellable`](Self::acquire_cancellable) with a permit that keeps the
    /// semaphore alive.
    ///
    /// # Errors
    /// As [`acquire_cancellable`](Self::acquire_cancellable).
    ///
    /// ```
    /// use backpressure::{CancelToken, Semaphore};
    /// use std::sync::Arc;
    /// let sem = Arc::new(Semaphore::new(1));
    /// assert!(sem.acquire_cancellable_owned(&CancelToken::new()).is_ok());
    /// ```
    pub fn acquire_cancellable_owned(
        self: &StdArc<Self>,
        token: &CancelToken,
    ) -> Result<OwnedSemaphorePermit, SemaphoreError> {
        self.acquire_many_cancellable_owned(1, token)
    }

    /// [`acquire_many_cancellable`](Self::acquire_many_cancellable) with a permit that keeps
    /// the semaphore alive.
    ///
    /// # Errors
    /// As [`acquire_many_cancellable`](Self::acquire_many_cancellable).
    ///
    /// ```
    /// use backpressure::{CancelToken, Semaphore};
    /// use std::sync::Arc;
    /// let sem = Arc::new(Semaphore::new(2));
    /// assert!(sem.acquire_many_cancellable_owned(2, &CancelToken::new()).is_ok());
    /// ```
    pub fn acquire_many_cancellable_owned(
        self: &StdArc<Self>,
        n: usize,
        token: &CancelToken,
    ) -> Result<OwnedSemaphorePermit, SemaphoreError> {
        self.acquire_inner(n, None, Some(token)).map(|()| OwnedSemaphorePermit { sem: StdArc::clone(self), permits: n })
    }

    /// Adds `n` permits (raising the total), handing them to waiters first, in order.
    ///
    /// # Panics
    /// If the total would exceed [`MAX_PERMITS`].
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(sem.total_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        // Relaxed: `total` only bounds requests (a racing `acquire_many` may see either value);
        // the permits themselves are published by the Release in `release`. Raised before the
        // permits appear, so available ≤ total holds throughout (Q4).
        let raised = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_add(n).filter(|&t| t <= MAX_PERMITS)); // Relaxed: the total orders nothing; permits move through `state`
        if let Err(total) = raised {
            panic!("Semaphore::add_permits: adding {n} to {total} permits would exceed MAX_PERMITS ({MAX_PERMITS})");
        }
        self.release(n);
    }

    /// Permits free right now (those held back for a queued waiter included).
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(2);
    /// let _p = sem.acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        // Relaxed: an instantaneous reading that synchronizes with nothing.
        self.state.load(Ordering::Relaxed) >> SHIFT
    }

    /// Permits in existence, free or held: the initial count plus every
    /// [`add_permits`](Self::add_permits).
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(2);
    /// let _p = sem.acquire().unwrap();
    /// assert_eq!(sem.total_permits(), 2);
    /// ```
    pub fn total_permits(&self) -> usize {
        // Relaxed: see `add_permits`.
        self.total.load(Ordering::Relaxed)
    }

    /// Closes the semaphore: every waiter wakes with [`SemaphoreError::Closed`] and later
    /// acquires fail. Permits still held return normally on drop. Returns `true` for the call
    /// that closed it.
    ///
    /// ```
    /// use backpressure::{Semaphore, SemaphoreError};
    /// let sem = Semaphore::new(1);
    /// assert!(sem.close());
    /// assert!(!sem.close());
    /// assert!(sem.try_acquire().is_none());
    /// assert_eq!(sem.acquire().unwrap_err(), SemaphoreError::Closed);
    /// ```
    pub fn close(&self) -> bool {
        let mut queue = self.waiters.lock();
        // Relaxed: closing publishes no data; the lock orders it for waiters, and the flag
        // shares the word with the permits, so fast paths see it in their CAS.
        let before = self.state.fetch_or(CLOSED, Ordering::Relaxed);
        for waiter in queue.drain(..) {
            // Release: pairs with the Acquire in `Waiter::decided`.
            waiter.outcome.store(CLOSED_OUT, Ordering::Release);
            waiter.parker.unpark();
        }
        self.count_waiting(&queue);
        self.clear_queued();
        before & CLOSED == 0
    }

    /// How many threads are queued for permits right now (a diagnostic snapshot).
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(1);
    /// assert_eq!(sem.waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        // Relaxed: an instantaneous reading that synchronizes with nothing.
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// let sem = backpressure::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        // Relaxed: see `close`.
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// The lock-free attempt: take `n` if nobody waits and enough are free.
    #[inline]
    fn try_take(&self, n: usize) -> Take {
        // Relaxed: only a first guess for the CAS, which validates it.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Take::Closed;
            }
            // Refusing while QUEUED keeps FIFO (Q2).
            if state & QUEUED != 0 || state >> SHIFT < n {
                return Take::Busy;
            }
            // Acquire: pairs with the Release that returned these permits (`release`,
            // `release_slow`), through the release sequence on `state`. Relaxed on failure:
            // we only re-check.
            match self.state.compare_exchange_weak(state, state - (n << SHIFT), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Take::Taken,
                Err(now) => state = now,
            }
        }
    }

    /// Returns `n` permits: lock-free while nobody waits, else through the lock (Q2).
    #[inline]
    fn release(&self, n: usize) {
        // Relaxed: a first guess for the CAS.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & QUEUED != 0 {
                return self.release_slow(n);
            }
            // Release: pairs with the Acquire of whoever takes these permits next. Relaxed on
            // failure: we re-check QUEUED. (No overflow: available + n ≤ total, Q4.)
            match self.state.compare_exchange_weak(state, state + (n << SHIFT), Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    #[cold]
    fn release_slow(&self, n: usize) {
        let mut queue = self.waiters.lock();
        // Release: pairs with the Acquire in `dispatch` (or `try_take` if the queue emptied).
        self.state.fetch_add(n << SHIFT, Ordering::Release);
        self.dispatch(&mut queue);
    }

    /// Hands available permits to waiters from the head while they fit (keeps Q2, Q3); clears
    /// `QUEUED` when the queue empties (keeps Q1). Call with the lock held.
    fn dispatch(&self, queue: &mut VecDeque<Arc<Waiter>>) {
        while let Some(head) = queue.front() {
            // Relaxed: under the lock with QUEUED set nobody else changes the count (Q2).
            if self.state.load(Ordering::Relaxed) >> SHIFT < head.need {
                self.count_waiting(queue);
                return;
            }
            // Acquire: pairs with the Release that returned these permits; the waiter inherits
            // this edge through the Release store of its outcome below.
            self.state.fetch_sub(head.need << SHIFT, Ordering::Acquire);
            let Some(head) = queue.pop_front() else { break };
            // Release: pairs with the Acquire in `Waiter::decided`, handing over the permits'
            // happens-before edge.
            head.outcome.store(GRANTED, Ordering::Release);
            head.parker.unpark();
        }
        self.count_waiting(queue);
        self.clear_queued();
    }

    /// Mirrors the queue's length into `waiting` (call under the lock after changing it).
    fn count_waiting(&self, queue: &VecDeque<Arc<Waiter>>) {
        // Relaxed: a diagnostic mirror; the lock orders the writes.
        self.waiting.store(queue.len(), Ordering::Relaxed);
    }

    /// Clears `QUEUED` (Q1: call under the lock once the queue is empty).
    fn clear_queued(&self) {
        // Relaxed: the flag publishes no data; fast paths read it through their CAS.
        self.state.fetch_and(!QUEUED, Ordering::Relaxed);
    }

    fn acquire_inner(
        &self,
        n: usize,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<(), SemaphoreError> {
        match self.try_take(n) {
            Take::Taken => return Ok(()),
            Take::Closed => return Err(SemaphoreError::Closed),
            Take::Busy => {}
        }
        let total = self.total_permits();
        if n > total {
            return Err(SemaphoreError::ExceedsTotal { requested: n, total });
        }
        let deadline = crate::deadline::earliest(deadline, token.and_then(CancelToken::deadline));
        if let Some(stop) = stop_reason(deadline, token) {
            return Err(stop);
        }
        let spun = spin_then(|| match self.try_take(n) {
            Take::Taken => Some(Ok(())),
            Take::Closed => Some(Err(SemaphoreError::Closed)),
            Take::Busy => None,
        });
        spun.unwrap_or_else(|| self.wait(n, deadline, token))
    }

    /// The parking slow path: get in line, sleep, and leave granted, closed, or by giving up.
    #[cold]
    fn wait(&self, n: usize, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<(), SemaphoreError> {
        let parker = current_parker();
        // Before the waiter becomes findable, so a wake after that is kept.
        parker.prepare();
        let _on_token = token.map(|t| t.watch(&parker));
        let waiter = match self.enqueue(n, &parker) {
            Ok(None) => return Ok(()),
            Ok(Some(waiter)) => waiter,
            Err(err) => return Err(err),
        };
        loop {
            // Checked before every sleep: a cancel that ran before our watch was registered
            // set its flag first, and a passed deadline must not park.
            let gave_up = match stop_reason(deadline, token) {
                Some(_) => true,
                None => {
                    // A short bounded spin first: a holder that releases within it hands over
                    // without a sleep and a wake-up (the convoy cost of strict FIFO).
                    if let Some(done) = waiter.spin_for_decision() {
                        return done;
                    }
                    parker.park(deadline) == Wake::TimedOut
                }
            };
            if let Some(done) = waiter.decided() {
                return done;
            }
            let mut queue = self.waiters.lock();
            // Decided while we took the lock? Then we are no longer queued (Q3).
            if let Some(done) = waiter.decided() {
                return done;
            }
            let stop = stop_reason(deadline, token).or(gave_up.then_some(SemaphoreError::Timeout));
            if let Some(stop) = stop {
                self.leave(&mut queue, &waiter);
                return Err(stop);
            }
            // Woken by something else (a stale wake of this thread's parker): sleep again.
        }
    }

    /// Gives up a place in line (still `PENDING`, so still queued, Q3). Under the lock.
    fn leave(&self, queue: &mut VecDeque<Arc<Waiter>>, waiter: &Arc<Waiter>) {
        if let Some(at) = queue.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            queue.remove(at);
        }
        // The waiter behind us may fit now, or the queue may be empty (Q1, Q2).
        self.dispatch(queue);
    }

    /// Under the lock: take the permits if first in line and they are free, else join the
    /// queue. `Ok(None)`: taken; `Ok(Some)`: queued.
    fn enqueue(&self, n: usize, parker: &Arc<Parker>) -> Result<Option<Arc<Waiter>>, SemaphoreError> {
        let mut queue = self.waiters.lock();
        // Relaxed: a first guess for the CAS.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(SemaphoreError::Closed);
            }
            let (next, ordering) = if queue.is_empty() && state >> SHIFT >= n {
                // Acquire: as in `try_take`.
                (state - (n << SHIFT), Ordering::Acquire)
            } else if state & QUEUED != 0 {
                break; // already flagged (Q1: the queue is non-empty)
            } else {
                // Relaxed: the flag publishes nothing; being an RMW on the permits' word, it is
                // ordered against every fast release, which then takes the locked path.
                (state | QUEUED, Ordering::Relaxed)
            };
            // Relaxed on failure: we only retry with the value read.
            match self.state.compare_exchange(state, next, ordering, Ordering::Relaxed) {
                // Relaxed on failure: we retry with the fresh value
                Ok(_) if next & QUEUED == 0 => return Ok(None),
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let waiter = Arc::new(Waiter { need: n, parker: Arc::clone(parker), outcome: AtomicU32::new(PENDING) });
        queue.push_back(Arc::clone(&waiter));
        self.count_waiting(&queue);
        Ok(Some(waiter))
    }
}

/// The queue's stop rule (cancel first, then the deadline), in the semaphore's error words.
fn stop_reason(deadline: Option<Instant>, token: Option<&CancelToken>) -> Option<SemaphoreError> {
    crate::waitlist::stop_reason(deadline, token).map(|stop| match stop {
        Stop::Cancelled => SemaphoreError::Cancelled,
        Stop::TimedOut => SemaphoreError::Timeout,
    })
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a diagnostic snapshot.
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Semaphore")
            .field("available", &(state >> SHIFT))
            .field("total", &self.total_permits())
            .field("waiting", &self.waiting())
            .field("closed", &(state & CLOSED != 0))
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`], returned when dropped (also during a panic).
///
/// ```
/// let sem = backpressure::Semaphore::new(2);
/// {
///     let permit = sem.acquire_many(2).unwrap();
///     assert_eq!(permit.permits(), 2);
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "the permits are returned as soon as the guard is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this guard holds.
    pub fn permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("permits", &self.permits).finish()
    }
}

/// Permits from a [`Semaphore`] in an `Arc`; `'static`, so they can move into threads or
/// jobs. Returned when dropped.
///
/// ```
/// use std::{sync::Arc, thread};
/// let sem = Arc::new(backpressure::Semaphore::new(1));
/// let permit = sem.acquire_owned().unwrap();
/// thread::spawn(move || assert_eq!(permit.permits(), 1)).join().unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permits are returned as soon as the guard is dropped"]
pub struct OwnedSemaphorePermit {
    sem: StdArc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this guard holds.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(backpressure::Semaphore::new(1));
    /// let permit = sem.acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &StdArc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit").field("permits", &self.permits).finish()
    }
}

/// Why a blocking [`Semaphore`] acquire returned without permits.
///
/// ```
/// use backpressure::{Semaphore, SemaphoreError};
/// let sem = Semaphore::new(1);
/// let err = sem.acquire_many(2).unwrap_err();
/// assert_eq!(err, SemaphoreError::ExceedsTotal { requested: 2, total: 1 });
/// assert_eq!(err.to_string(), "requested 2 permits but the semaphore has only 1 in total");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SemaphoreError {
    /// The semaphore was closed before the permits were handed over.
    Closed,
    /// The timeout (or the token's deadline) passed first.
    Timeout,
    /// The [`CancelToken`] was cancelled first.
    Cancelled,
    /// More permits were requested than exist in total, so waiting could never succeed.
    ExceedsTotal {
        /// Permits asked for.
        requested: usize,
        /// Permits in existence when asked.
        total: usize,
    },
}

impl fmt::Display for SemaphoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SemaphoreError::Closed => f.write_str("semaphore is closed"),
            SemaphoreError::Timeout => f.write_str("timed out waiting for permits"),
            SemaphoreError::Cancelled => f.write_str("cancelled while waiting for permits"),
            SemaphoreError::ExceedsTotal { requested, total } => {
                write!(f, "requested {requested} permits but the semaphore has only {total} in total")
            }
        }
    }
}

impl std::error::Error for SemaphoreError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// Waits (bounded) until `sem` has a queued waiter needing `need` at position `at`.
    fn wait_for_queue_len(sem: &Semaphore, len: usize) {
        for _ in 0..2_000_000 {
            if sem.waiters.lock().len() == len {
                return;
            }
            thread::yield_now();
        }
        panic!("watchdog: queue never reached {len} waiters");
    }

    #[test]
    fn public_types_are_send_sync_and_debug() {
        fn check<T: Send + Sync + fmt::Debug>() {}
        check::<Semaphore>();
        check::<SemaphorePermit<'static>>();
        check::<OwnedSemaphorePermit>();
        check::<SemaphoreError>();
    }

    #[test]
    fn try_acquire_refuses_while_someone_waits() {
        let sem = Semaphore::new(2);
        let held = sem.acquire_many(2).unwrap();
        thread::scope(|s| {
            let big = s.spawn(|| sem.acquire_many(2).map(|p| p.permits()));
            wait_for_queue_len(&sem, 1);
            drop(held);
            assert_eq!(big.join().unwrap(), Ok(2));
        });
        assert_eq!(sem.available_permits(), 2);
        assert!(sem.try_acquire().is_some());
    }

    #[test]
    fn queued_flag_clears_when_the_last_waiter_times_out() {
        let sem = Semaphore::new(1);
        let _held = sem.acquire().unwrap();
        assert_eq!(sem.acquire_many_timeout(1, Duration::from_millis(1)).unwrap_err(), SemaphoreError::Timeout);
        assert_eq!(sem.state.load(Ordering::Relaxed) & QUEUED, 0); // Relaxed: a test reading
        assert!(sem.waiters.lock().is_empty());
    }

    #[test]
    fn leaving_head_lets_the_next_waiter_in() {
        let sem = Semaphore::new(3);
        let held = sem.acquire_many(2).unwrap(); // 1 free
        let token = CancelToken::new();
        thread::scope(|s| {
            let big = s.spawn(|| sem.acquire_many_cancellable(3, &token).map(|p| p.permits()));
            wait_for_queue_len(&sem, 1);
            let small = s.spawn(|| sem.acquire().map(|p| p.permits()));
            wait_for_queue_len(&sem, 2);
            token.cancel(); // the head leaves; the single request now fits
            assert_eq!(big.join().unwrap(), Err(SemaphoreError::Cancelled));
            assert_eq!(small.join().unwrap(), Ok(1));
        });
        drop(held);
        assert_eq!(sem.available_permits(), 3);
    }

    #[test]
    fn close_wakes_every_waiter_with_closed() {
        let sem = Semaphore::new(1);
        let held = sem.acquire().unwrap();
        thread::scope(|s| {
            let waiters: Vec<_> = (0..3).map(|_| s.spawn(|| sem.acquire().map(drop))).collect();
            wait_for_queue_len(&sem, 3);
            assert!(sem.close());
            for w in waiters {
                assert_eq!(w.join().unwrap(), Err(SemaphoreError::Closed));
            }
        });
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn zero_timeout_tries_once_and_max_waits() {
        let sem = Semaphore::new(1);
        let held = sem.acquire().unwrap();
        assert!(sem.acquire_timeout(Duration::ZERO).is_none());
        thread::scope(|s| {
            let w = s.spawn(|| sem.acquire_timeout(Duration::MAX).map(|p| p.permits()));
            wait_for_queue_len(&sem, 1);
            drop(held);
            assert_eq!(w.join().unwrap(), Some(1));
        });
    }

    #[test]
    #[should_panic(expected = "got 18446744073709551615")]
    fn too_many_initial_permits_panics_naming_the_value() {
        let _ = Semaphore::new(usize::MAX);
    }

    #[test]
    #[should_panic(expected = "would exceed MAX_PERMITS")]
    fn add_permits_overflow_panics() {
        Semaphore::new(MAX_PERMITS).add_permits(1);
    }

    #[test]
    fn permits_return_during_a_panic() {
        let sem = Semaphore::new(1);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _p = sem.acquire().unwrap();
            panic!("holder failed");
        }));
        assert!(result.is_err());
        assert_eq!(sem.available_permits(), 1);
    }
}
