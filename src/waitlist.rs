//! The parking slow path shared by every blocking call: a FIFO list of parked threads and
//! the one wait loop that uses it.
//!
//! # Protocol
//! A waiter *registers* (pushes its [`Parker`] under the list's lock and publishes the new
//! count), issues `fence(SeqCst)`, then *re-checks* its condition before it parks. A waker
//! first makes the condition true (pushes an item, frees a slot), issues `fence(SeqCst)`, then
//! reads the count and, if it is non-zero, pops one waiter under the lock and unparks it.
//! The two SeqCst fences order "count written, condition read" against "condition written,
//! count read": at least one side sees the other, so either the waiter's re-check succeeds or
//! the waker finds the waiter (no lost wake-up). When nobody waits the waker pays a fence and
//! one relaxed load, and takes no lock.
//!
//! # Invariants
//! - W1: a waiter is in the list at most once, and only between `register` and `remove`.
//! - W2: a waiter popped by `wake_one` owes the list one attempt at its condition made *after*
//!   the pop. A waiter that was popped but leaves without such an attempt hands the wake on
//!   (`wake_one` again), so a wake is never swallowed by a thread that no longer needs it.
//! - W3 (baton): an attempt can fail while the condition holds *further on*: the ring reports
//!   empty while its head item is still being written even if later items are published, and
//!   full while its oldest slot is still being read even if later slots are free. The woken
//!   waiter that fails that way parks again and its wake is spent. The peer that was in flight
//!   wakes one waiter when it completes, and every waker whose own operation succeeded and still
//!   finds the condition true with waiters parked wakes one more ([`WaitList::pass_on`]), so the
//!   chain of wakes reaches every item or slot that a spent wake was meant for.
//!
//! # Threads on their way
//! Each list also counts the waiters a waker has popped that have not yet made their attempt
//! after the wake (`waking`: incremented under the lock by the pop, decremented by the waiter
//! after its attempt). A waiter of the opposite kind reads it as a hint to spin on rather than
//! park while that thread is coming ([`spin_while`]). It is only a hint: it decides whether a
//! waiter spins a little longer before it registers, never who is woken or whether a
//! registered waiter may sleep, so the protocol above alone rules out lost wake-ups.

use std::collections::VecDeque;
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::sync::{
    current_parker, fence, spin_then, spin_while, Arc, AtomicBool, AtomicUsize, Mutex, Ordering, Parker, Wake,
};

/// Parked threads waiting for one kind of event, woken in FIFO order.
#[derive(Debug)]
pub(crate) struct WaitList {
    /// How many are registered; read without the lock by wakers.
    count: AtomicUsize,
    /// How many were popped by a waker and have not yet made their attempt after the wake:
    /// threads on their way. A hint for waiters of the opposite kind (`spin_while`).
    waking: AtomicUsize,
    /// Whether one of our waiters is already in the extended spin for a helper on its way: one
    /// per list at a time, so a crowd of waiters does not spin for the one helper coming. (A
    /// queue's two lists never spin at once for long: submitters spin while it is full,
    /// receivers while it is empty.)
    spinning: AtomicBool,
    parked: Mutex<VecDeque<Arc<Parker>>>,
}

/// Why a wait ended without its condition coming true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    TimedOut,
    Cancelled,
}

impl WaitList {
    pub(crate) fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            waking: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            parked: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds `parker` at the back (W1), then fences so the caller's re-check is ordered after
    /// the published count.
    fn register(&self, parker: &Arc<Parker>) {
        parker.prepare();
        {
            let mut parked = self.parked.lock();
            parked.push_back(Arc::clone(parker));
            // Relaxed: the SeqCst fence below orders it before the caller's re-check; pairs with
            // the fence in `wake_one`.
            self.count.store(parked.len(), Ordering::Relaxed);
        }
        // SeqCst fence: pairs with the fence in `wake_one` (see "Protocol").
        fence(Ordering::SeqCst);
    }

    /// Removes `parker`; `false` means a waker had already popped it (W2 applies).
    fn remove(&self, parker: &Arc<Parker>) -> bool {
        let mut parked = self.parked.lock();
        let Some(at) = parked.iter().position(|p| Arc::ptr_eq(p, parker)) else {
            return false;
        };
        parked.remove(at);
        // Relaxed: only a hint for wakers; a stale non-zero count costs them one lock.
        self.count.store(parked.len(), Ordering::Relaxed);
        true
    }

    /// Wakes the longest-waiting thread, if any. Call it after making the condition true.
    #[inline]
    pub(crate) fn wake_one(&self) {
        // SeqCst fence: pairs with the fence in `register`, so either we see the waiter's count
        // or the waiter's re-check sees the condition we just made true.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        if self.count.load(Ordering::Relaxed) != 0 {
            self.wake_one_slow();
        }
    }

    /// Baton passing (W3): after a successful operation of the *opposite* kind has been
    /// announced with [`wake_one`](Self::wake_one) on its own list (whose fence orders this
    /// read), wake one more of our waiters if any are parked and `still_ready()` says the
    /// condition they wait for still holds.
    #[inline]
    pub(crate) fn pass_on(&self, still_ready: impl FnOnce() -> bool) {
        // Relaxed: ordered by the caller's preceding `wake_one` fence; a parked waiter that we
        // miss here registered after that fence and re-checks the condition itself.
        if self.count.load(Ordering::Relaxed) != 0 && still_ready() {
            self.wake_one_slow();
        }
    }

    #[cold]
    fn wake_one_slow(&self) {
        let mut parked = self.parked.lock();
        if let Some(parker) = parked.pop_front() {
            // Relaxed: a hint, see `remove`.
            self.count.store(parked.len(), Ordering::Relaxed);
            self.waking_add(1);
            // Unpark under the lock: the waiter's `remove` then sees "popped" only once the wake
            // is recorded in its parker, so the two never disagree (W2).
            parker.unpark();
        }
    }

    /// Wakes every waiter (close). Goes through the lock, so a waiter registering after this
    /// sees whatever the caller published before calling it.
    pub(crate) fn wake_all(&self) {
        let mut parked = self.parked.lock();
        // Relaxed: a hint, see `remove`; the lock orders it for registrants.
        self.count.store(0, Ordering::Relaxed);
        self.waking_add(parked.len());
        for parker in parked.drain(..) {
            parker.unpark();
        }
    }

    /// Wakes every waiter, if any is registered: the lock-free check of [`wake_one`](Self::wake_one)
    /// in front of [`wake_all`](Self::wake_all), for wakers whose condition is final (closed and
    /// drained) and who may call it often.
    pub(crate) fn wake_all_waiting(&self) {
        // SeqCst fence: pairs with the fence in `register`, as in `wake_one`.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        if self.count.load(Ordering::Relaxed) != 0 {
            self.wake_all();
        }
    }

    /// Whether a thread popped from this list is on its way: woken, its attempt not yet made.
    /// A hint, for [`wait`](Self::wait)'s `helpers`.
    #[inline]
    pub(crate) fn is_waking(&self) -> bool {
        // Relaxed: a hint for how long to spin; nothing is read through it.
        self.waking.load(Ordering::Relaxed) != 0
    }

    /// Counts `n` popped waiters as on their way. Called under the list's lock, which orders
    /// it before the popped waiter's `remove` (so `waking_done` never underflows).
    fn waking_add(&self, n: usize) {
        // Relaxed: a hint (see `is_waking`); the lock orders it before the matching done.
        self.waking.fetch_add(n, Ordering::Relaxed);
    }

    /// A popped waiter has made its attempt after the wake.
    fn waking_done(&self) {
        // Relaxed: a hint (see `is_waking`).
        let before = self.waking.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(before > 0, "a waiter finished a wake nobody counted");
    }

    /// Whether nothing is in flight: nobody registered, nobody on their way, nobody spinning.
    #[cfg(any(test, backpressure_loom))]
    pub(crate) fn is_at_rest(&self) -> bool {
        // Relaxed (all three): read by a test after every thread has been joined, whose join
        // orders every earlier write before these loads.
        let registered = self.count.load(Ordering::Relaxed);
        // Relaxed: as above.
        let on_their_way = self.waking.load(Ordering::Relaxed);
        // Relaxed: as above.
        let spinning = self.spinning.load(Ordering::Relaxed);
        registered == 0 && on_their_way == 0 && !spinning
    }

    /// Number of registered waiters (diagnostics and tests).
    pub(crate) fn waiting(&self) -> usize {
        // Relaxed: an instantaneous reading, synchronizes with nothing.
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until `attempt` returns `true`, the deadline passes, or `token` is cancelled.
    ///
    /// `helpers` is the list whose waiters, once woken, make our condition true (a queue's
    /// receivers free the slots its submitters wait for): while one of them is on its way the
    /// waiter spins on instead of parking ([`spin_while`]).
    ///
    /// `attempt` must be cheap and must not block; it is called during the spins (after each
    /// round: every 64 pauses, ~2-3 µs, in the extended spin), after every registration and
    /// after every wake. It returns `true` both for success and for a terminal failure of the
    /// caller's own (such as "closed"), and keeps what it got in the caller's frame: no item
    /// travels through this loop by value, so a large `T` is not copied from frame to frame.
    /// The caller has usually made one attempt already (its fast path). On timeout or
    /// cancellation one last attempt is still made after the wake, so a wait that ends as the
    /// condition comes true reports success.
    pub(crate) fn wait(
        &self,
        helpers: &WaitList,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
        mut attempt: impl FnMut() -> bool,
    ) -> Result<(), Stop> {
        let deadline = crate::deadline::earliest(deadline, token.and_then(CancelToken::deadline));
        if let Some(stop) = stop_reason(deadline, token) {
            return Err(stop);
        }
        if spin_then(|| attempt().then_some(())).is_some() || self.spin_for(helpers, deadline, token, &mut attempt) {
            return Ok(());
        }
        let parker = current_parker();
        let _on_token = token.map(|t| t.watch(&parker));
        loop {
            self.register(&parker);
            if attempt() {
                self.leave_after_attempt(&parker);
                return Ok(());
            }
            if let Some(stop) = stop_reason(deadline, token) {
                self.leave_after_attempt(&parker);
                return Err(stop);
            }
            let wake = parker.park(deadline);
            // Removed (or popped) before the attempt below, so a pop is always followed by an
            // attempt of ours (W2) and we owe no wake on.
            let arrived = Arrival((!self.remove(&parker)).then_some(self));
            let done = attempt();
            drop(arrived);
            if done {
                return Ok(());
            }
            if wake == Wake::TimedOut {
                return Err(stop_reason(deadline, token).unwrap_or(Stop::TimedOut));
            }
            if let Some(stop) = stop_reason(deadline, token) {
                return Err(stop);
            }
        }
    }

    /// The extended spin while a helper is on its way ([`spin_while`]), taken by one waiter of
    /// this list at a time (the others park at once) and cut short by the deadline or a cancel.
    fn spin_for(
        &self,
        helpers: &WaitList,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
        attempt: impl FnMut() -> bool,
    ) -> bool {
        // Relaxed: a hint; the swap only elects one spinner, nothing is published through it.
        if !helpers.is_waking() || self.spinning.swap(true, Ordering::Relaxed) {
            return false;
        }
        let _elected = Spinner(&self.spinning);
        let coming = || helpers.is_waking() && !token.is_some_and(CancelToken::is_cancelled_explicitly);
        spin_while(attempt, coming, deadline)
    }

    /// Leaves the list after an attempt that may have preceded a pop: if we were popped, the
    /// wake may have been meant for a condition our attempt did not use, so pass it on (W2).
    fn leave_after_attempt(&self, parker: &Arc<Parker>) {
        if !self.remove(parker) {
            self.waking_done();
            self.wake_one_slow();
        }
    }
}

/// Counts a popped waiter as arrived (`waking_done`) when dropped, after the attempt it owes
/// the list, or during unwinding should that attempt panic, so the hint never sticks.
struct Arrival<'a>(Option<&'a WaitList>);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if let Some(list) = self.0 {
            list.waking_done();
        }
    }
}

/// The elected spinner of a list (`spin_for`); gives the place up when dropped, panics included.
struct Spinner<'a>(&'a AtomicBool);

impl Drop for Spinner<'_> {
    fn drop(&mut self) {
        // Relaxed: a hint, as the swap that elected us.
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Why a wait must stop now, if it must: an explicit cancel wins over a passed deadline.
pub(crate) fn stop_reason(deadline: Option<Instant>, token: Option<&CancelToken>) -> Option<Stop> {
    if token.is_some_and(CancelToken::is_cancelled_explicitly) {
        return Some(Stop::Cancelled);
    }
    if crate::deadline::passed(deadline) {
        return Some(Stop::TimedOut);
    }
    None
}
