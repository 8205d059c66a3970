//! [`BoundedQueue`]: a bounded MPMC queue whose producers feel backpressure.
//!
//! It is a [`Ring`] plus two wait lists (submitters waiting for space, receivers waiting for
//! items) and the statistics of [`QueueStats`]. Pick the submit call by what the producer should
//! do when the consumer falls behind:
//!
//! | call | when full | use it when |
//! |---|---|---|
//! | [`try_submit`](BoundedQueue::try_submit) | refuses at once, item back in `Full` | the caller can shed or answer "busy" (HTTP 503) |
//! | [`submit_timeout`](BoundedQueue::submit_timeout) / [`submit_deadline`](BoundedQueue::submit_deadline) | waits up to a bound | a short stall is fine, a long one is not |
//! | [`submit_cancellable`](BoundedQueue::submit_cancellable) | waits until space, cancel or the token's deadline | the wait belongs to a request that can be abandoned |
//! | [`submit`](BoundedQueue::submit) | waits until space | the producer must never drop work and may be slowed |
//!
//! # Waking
//! A successful push wakes one parked receiver and a successful pop wakes one parked submitter
//! (the protocol is in `waitlist.rs`). Each may also pass a baton: a push that finds slots
//! still free while submitters are parked wakes one of them too, and a pop likewise for
//! receivers, so a wake spent on a slot a peer was still busy with is never lost (W3 in
//! `waitlist.rs`). When nobody is parked all that costs a fence and two relaxed loads.
//! Waiters spin for a few hundred nanoseconds before parking and never loop on `sched_yield`;
//! a parked thread costs no CPU, however many threads outnumber the cores.
//!
//! One exception to the short spin: while a thread of the *opposite* side has been woken and
//! is on its way (a receiver that will free the slot a submitter waits for, or a submitter
//! that will bring the item a receiver waits for), one waiter per side spins on until that
//! thread has made its attempt: at most ~50 µs, never past the waiter's deadline, and cut
//! short by a cancel. (So a `submit_timeout` shorter than that may spend its whole timeout on
//! the CPU, and only when the other side is itself waking up.) A wake-up takes far longer to
//! arrive than a hand-off between running threads (~20 µs on a VM), so without this a
//! producer and a consumer passing items through a small queue fall into lock-step parking,
//! each waking the other and parking before it arrives: at capacity 1 that made every item
//! cost two wake-ups (~40x slower than crossbeam-channel; with it, about as fast or faster).
//! On a process confined to one CPU, where a spin cannot help, a waiter instead yields the CPU
//! once before it parks, which usually hands it straight to the peer it waits for.
//!
//! # Wait time
//! [`QueueStats::wait`] is the time an item spent queued, from accepted to received, recorded
//! when the queue is built with [`wait_sampling(n)`](QueueBuilder::wait_sampling) (off by
//! default for a bare queue; a [`Processor`](crate::Processor) turns it on). Reading a clock
//! for every item would cost more than the rest of an uncontended submit and receive
//! together, so the queue *samples*: a submitter stamps about one item in `n` with the time,
//! the stamp travels in the slot beside the item, and the receiver of a stamped item records
//! the difference. Which items are stamped is decided by a per-thread countdown with a random
//! restart, so no submission pattern can alias with it; items without a stamp cost one
//! branch on each side. With recording off the ring holds bare items, exactly as without
//! the feature.
//!
//! # Close
//! Closing sets a bit in the ring's tail, so "closed" is ordered against every push: a push
//! either completed before the close (its item will be received) or fails with `Closed(item)`.
//! Close wakes every parked thread; submitters get their items back, receivers drain what was
//! accepted and then see `Closed`.

mod builder;
mod error;

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

pub use self::builder::QueueBuilder;
pub(crate) use self::builder::DEFAULT_WAIT_SAMPLING;
pub use self::error::{RecvError, RecvTimeoutError, SubmitError, SubmitTimeoutError, TryRecvError, TrySubmitError};
use crate::cancel::CancelToken;
use crate::metrics::{LatencyHistogram, QueueStats};
use crate::ring::{PopError, PushError, PushRefused, Ring};
use crate::sync::{AtomicU64, Ordering};
use crate::waitlist::{Stop, WaitList};

/// A bounded multi-producer multi-consumer queue with backpressure.
///
/// Share it by reference (scoped threads) or in an `Arc`. Every call that refuses an item
/// hands it back in the error; dropping the queue drops each item still in it exactly once.
///
/// ```
/// use backpressure::{BoundedQueue, TrySubmitError};
/// use std::{sync::Arc, thread};
///
/// let queue = Arc::new(BoundedQueue::new(2));
/// let consumer = {
///     let queue = Arc::clone(&queue);
///     thread::spawn(move || {
///         let mut sum = 0;
///         while let Ok(n) = queue.recv() { // Err once closed and drained
///             sum += n;
///         }
///         sum
///     })
/// };
/// for n in 1..=10 {
///     queue.submit(n).unwrap(); // waits while the consumer is behind
/// }
/// queue.close();
/// assert_eq!(consumer.join().unwrap(), 55);
/// ```
pub struct BoundedQueue<T> {
    ring: Slots<T>,
    /// Submitters parked until a slot frees.
    senders: WaitList,
    /// Receivers parked until an item arrives.
    receivers: WaitList,
    counters: CachePadded<Counters>,
    /// Time from accepted to received, of the sampled items.
    wait: LatencyHistogram,
    /// Time submitters spent blocked waiting for space.
    submit_wait: LatencyHistogram,
    /// Stamp about one item in this many; 0 = never.
    sample_every: u32,
    clock: WaitClock,
    name: Option<Box<str>>,
}

/// An item in the ring, with the time it was accepted if it was sampled (0 = not sampled).
struct Entry<T> {
    item: T,
    stamp: u64,
}

/// The ring: of bare items when wait recording is off (exactly the queue without recording),
/// of [`Entry`]s when it is on. A stamp widens every slot, which for small items costs more
/// than the sampling itself, so a queue that records nothing does not carry it.
enum Slots<T> {
    Plain(Ring<T>),
    Stamped(Ring<Entry<T>>),
}

impl<T> Slots<T> {
    /// Pushes the item in `held` (see [`Ring::push_from`]: a refused item stays in `held`);
    /// `stamp` is asked for its stamp only in a stamped ring, which wraps the item with its
    /// stamp for the attempt (and unwraps a refused one).
    #[inline]
    fn push_from(&self, held: &mut Option<T>, stamp: impl FnOnce() -> u64) -> Result<usize, PushRefused> {
        match self {
            Self::Plain(ring) => ring.push_from(held),
            Self::Stamped(ring) => {
                let mut entry = held.take().map(|item| Entry { item, stamp: stamp() });
                let pushed = ring.push_from(&mut entry);
                *held = entry.map(|refused| refused.item);
                pushed
            }
        }
    }

    /// Pushes `item` by value (a refused item comes back in the error); `stamp` is asked for
    /// its stamp only in a stamped ring.
    #[inline]
    fn push(&self, item: T, stamp: impl FnOnce() -> u64) -> Result<usize, PushError<T>> {
        match self {
            Self::Plain(ring) => ring.push(item),
            Self::Stamped(ring) => ring.push(Entry { item, stamp: stamp() }).map_err(|err| match err {
                PushError::Full(entry) => PushError::Full(entry.item),
                PushError::Closed(entry) => PushError::Closed(entry.item),
            }),
        }
    }

    /// Pops the front item; its stamp goes to `stamp` (left alone when not stamped). The item
    /// comes back as the ring returned it, not repacked with its stamp, so a large `T` is not
    /// copied once more on the way out.
    #[inline]
    fn pop(&self, stamp: &mut u64) -> Result<T, PopError> {
        match self {
            Self::Plain(ring) => ring.pop(),
            Self::Stamped(ring) => ring.pop().map(|entry| {
                *stamp = entry.stamp;
                entry.item
            }),
        }
    }
}

/// Forwards a call to whichever ring the queue has.
macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl<T> Slots<T> {
            $(
                $(#[$doc])*
                #[inline]
                fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Self::Plain(ring) => ring.$name($($arg),*),
                        Self::Stamped(ring) => ring.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

forward! {
    fn capacity(&self) -> usize;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn is_full(&self) -> bool;
    fn close(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn totals(&self) -> (u64, u64);
    fn depth_after(&self, position: usize) -> usize;
    fn is_depth_sample(&self, position: usize) -> bool;
}

/// Where wait-time stamps come from: `std::time::Instant` from a per-queue origin by default
/// (no calibration, available everywhere), or the `quanta::Clock` given to the builder.
#[derive(Clone, Debug)]
enum WaitClock {
    Std(Instant),
    Quanta(quanta::Clock),
}

impl WaitClock {
    /// A reading, never 0 (0 marks an unsampled entry).
    #[inline]
    fn now(&self) -> u64 {
        let raw = match self {
            Self::Std(origin) => u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Self::Quanta(clock) => clock.raw(),
        };
        raw.max(1)
    }

    /// The time between two readings, zero if they went backwards (e.g. skew across cores).
    #[inline]
    fn between(&self, start: u64, end: u64) -> Duration {
        match self {
            Self::Std(_) => Duration::from_nanos(end.saturating_sub(start)),
            Self::Quanta(clock) if end > start => clock.delta(start, end),
            Self::Quanta(_) => Duration::ZERO,
        }
    }
}

thread_local! {
    /// Submits left on this thread until the next sampled one (shared by all queues).
    static UNTIL_SAMPLE: Cell<u32> = const { Cell::new(0) };
}

/// The item a refused push left in place (`push_from` moves it out only into a slot).
#[inline]
fn refused<T>(held: Option<T>) -> T {
    held.expect("a refused push leaves the item in place")
}

/// Whether this thread's next submission should be stamped: about one in `every` (> 0).
#[inline]
fn sample_due(every: u32) -> bool {
    UNTIL_SAMPLE.with(|left| {
        let n = left.get();
        if n > 1 {
            left.set(n - 1);
            false
        } else {
            restart_countdown(left, every);
            true
        }
    })
}

/// A random restart with mean `every`: no submit pattern can stay in step with it.
#[cold]
#[inline(never)]
fn restart_countdown(left: &Cell<u32>, every: u32) {
    left.set(fastrand::u32(1..=every.saturating_mul(2).saturating_sub(1).max(1)));
}

/// Outcome counters that the ring's positions cannot give us. Only refusals and new peaks
/// write here, so the accepting fast path does not contend on them.
#[derive(Default)]
struct Counters {
    rejected_full: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
    rejected_closed: AtomicU64,
    peak_depth: AtomicU64,
}

/// How a bounded submit ended without success.
enum Refused<T> {
    Closed(T),
    Stopped(Stop, T),
}

impl<T> BoundedQueue<T> {
    /// A queue holding at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is zero (a queue that can hold nothing would make every submit fail or
    /// hang), or absurdly large.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::<String>::new(1024);
    /// assert_eq!(q.capacity(), 1024);
    /// ```
    pub fn new(capacity: usize) -> Self {
        assert!(capacity >= 1, "BoundedQueue capacity must be at least 1, got 0");
        Self::from_builder(QueueBuilder::new(capacity))
    }

    /// A builder for a queue with a name, a clock or a wait-time sampling rate.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::<u32>::builder(64).name("jobs").wait_sampling(0).build()?;
    /// assert_eq!(q.name(), Some("jobs"));
    /// assert!(backpressure::BoundedQueue::<u32>::builder(0).build().is_err());
    /// # Ok::<(), backpressure::ConfigError>(())
    /// ```
    pub fn builder(capacity: usize) -> QueueBuilder<T> {
        QueueBuilder::new(capacity)
    }

    fn from_builder(b: QueueBuilder<T>) -> Self {
        Self {
            ring: match b.wait_sampling {
                0 => Slots::Plain(Ring::new(b.capacity)),
                _ => Slots::Stamped(Ring::new(b.capacity)),
            },
            senders: WaitList::new(),
            receivers: WaitList::new(),
            counters: CachePadded::new(Counters::default()),
            wait: LatencyHistogram::new(),
            submit_wait: LatencyHistogram::new(),
            sample_every: b.wait_sampling,
            clock: b.clock.map_or_else(|| WaitClock::Std(Instant::now()), WaitClock::Quanta),
            name: b.name.map(String::into_boxed_str),
        }
    }

    /// The name given in the builder, used as the `queue` label of exported metrics.
    ///
    /// ```
    /// assert_eq!(backpressure::BoundedQueue::<u8>::new(1).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The stamp for the item being submitted: the time if this submit is sampled, else 0.
    /// Only called for a stamped ring (`sample_every > 0`).
    #[inline]
    fn stamp(&self) -> u64 {
        if sample_due(self.sample_every) {
            self.stamp_now()
        } else {
            0
        }
    }

    /// The clock read of a sampled submit, out of line to keep the fast path small.
    #[cold]
    #[inline(never)]
    fn stamp_now(&self) -> u64 {
        self.clock.now()
    }

    /// Records the wait of a received item if it was sampled (`stamp` not 0).
    #[inline]
    fn received(&self, stamp: u64) {
        if stamp != 0 {
            self.record_wait(stamp);
        }
    }

    /// The clock read and histogram update of a sampled receive, out of line.
    #[cold]
    #[inline(never)]
    fn record_wait(&self, stamp: u64) {
        self.wait.record(self.clock.between(stamp, self.clock.now()));
    }

    /// The maximum number of queued items.
    ///
    /// ```
    /// assert_eq!(backpressure::BoundedQueue::<u8>::new(3).capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The number of queued items right now.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(3);
    /// q.try_submit(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether nothing is queued.
    ///
    /// ```
    /// assert!(backpressure::BoundedQueue::<u8>::new(1).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Whether the queue is at capacity.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(1);
    /// q.try_submit(1).unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    /// Queues `item` if there is space now; never waits.
    ///
    /// # Errors
    /// [`TrySubmitError::Full`] when there is no free slot: the queue is at capacity, or the
    /// slot the next item goes into is still being emptied by a receiver that was preempted
    /// mid-take (then `len()` can read below capacity; `try_submit` never waits for that
    /// receiver). [`TrySubmitError::Closed`] after [`close`](Self::close). Both hand the item
    /// back.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, TrySubmitError};
    /// let q = BoundedQueue::new(1);
    /// assert!(q.try_submit(1).is_ok());
    /// match q.try_submit(2) {
    ///     Err(TrySubmitError::Full(item)) => assert_eq!(item, 2), // shed it, retry later, ...
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn try_submit(&self, item: T) -> Result<(), TrySubmitError<T>> {
        // By value: a refusal hands the item straight back to the caller.
        match self.ring.push(item, || self.stamp()) {
            Ok(position) => {
                self.accepted(position);
                Ok(())
            }
            Err(PushError::Full(item)) => {
                self.saw_full();
                self.count(&self.counters.rejected_full);
                Err(TrySubmitError::Full(item))
            }
            Err(PushError::Closed(item)) => {
                self.count(&self.counters.rejected_closed);
                Err(TrySubmitError::Closed(item))
            }
        }
    }

    /// Queues `item`, waiting as long as it takes for space.
    ///
    /// # Errors
    /// [`SubmitError`] (with the item) if the queue is or becomes closed while waiting.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(1);
    /// q.submit("job").unwrap();
    /// assert_eq!(q.try_recv(), Ok("job"));
    /// ```
    pub fn submit(&self, item: T) -> Result<(), SubmitError<T>> {
        match self.submit_until(item, None, None) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(item)) => Err(SubmitError(item)),
            // Without a deadline or token the wait cannot stop any other way; if it somehow did,
            // the item still goes back to the caller rather than being dropped.
            Err(Refused::Stopped(_, item)) => Err(SubmitError(item)),
        }
    }

    /// Queues `item`, waiting at most `timeout` for space. `Duration::ZERO` tries once;
    /// `Duration::MAX` waits indefinitely.
    ///
    /// # Errors
    /// [`SubmitTimeoutError::Timeout`] if no space appeared in time,
    /// [`SubmitTimeoutError::Closed`] if the queue is or becomes closed; both hand the item back.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, SubmitTimeoutError};
    /// use std::time::Duration;
    /// let q = BoundedQueue::new(1);
    /// q.submit_timeout(1, Duration::from_millis(10)).unwrap();
    /// let err = q.submit_timeout(2, Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, SubmitTimeoutError::Timeout(2)));
    /// ```
    pub fn submit_timeout(&self, item: T, timeout: Duration) -> Result<(), SubmitTimeoutError<T>> {
        self.submit_bounded(item, crate::deadline::after(timeout), None)
    }

    /// Queues `item`, waiting for space until `deadline`. A deadline in the past tries once.
    ///
    /// # Errors
    /// As [`submit_timeout`](Self::submit_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = backpressure::BoundedQueue::new(1);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// q.submit_deadline('x', deadline).unwrap();
    /// assert!(q.submit_deadline('y', deadline).is_err());
    /// ```
    pub fn submit_deadline(&self, item: T, deadline: Instant) -> Result<(), SubmitTimeoutError<T>> {
        self.submit_bounded(item, Some(deadline), None)
    }

    /// Queues `item`, waiting for space until the token is cancelled or reaches its deadline.
    ///
    /// # Errors
    /// [`SubmitTimeoutError::Cancelled`] if `token` is (or becomes) cancelled,
    /// [`SubmitTimeoutError::Timeout`] at the token's deadline, [`SubmitTimeoutError::Closed`]
    /// if the queue closes; all hand the item back. Space wins over a token that is already
    /// cancelled: an item that fits at once is accepted.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, CancelToken, SubmitTimeoutError};
    /// use std::time::Duration;
    /// let q = BoundedQueue::new(1);
    /// q.try_submit(0).unwrap();
    /// let token = CancelToken::with_timeout(Duration::from_millis(5));
    /// assert!(matches!(q.submit_cancellable(1, &token), Err(SubmitTimeoutError::Timeout(1))));
    /// ```
    pub fn submit_cancellable(&self, item: T, token: &CancelToken) -> Result<(), SubmitTimeoutError<T>> {
        self.submit_bounded(item, None, Some(token))
    }

    fn submit_bounded(
        &self,
        item: T,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<(), SubmitTimeoutError<T>> {
        match self.submit_until(item, deadline, token) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(item)) => Err(SubmitTimeoutError::Closed(item)),
            Err(Refused::Stopped(Stop::TimedOut, item)) => Err(SubmitTimeoutError::Timeout(item)),
            Err(Refused::Stopped(Stop::Cancelled, item)) => Err(SubmitTimeoutError::Cancelled(item)),
        }
    }

    /// The one submit loop: fast path, then park on `senders` until space, close, deadline or
    /// cancellation. Counts the outcome.
    fn submit_until(&self, item: T, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<(), Refused<T>> {
        let mut sampled = false;
        let first_stamp = || {
            let stamp = self.stamp();
            sampled = stamp != 0;
            stamp
        };
        // The fast path, as `try_submit`; waiting is out of line, so this stays small enough to
        // inline into every caller.
        match self.ring.push(item, first_stamp) {
            Ok(position) => {
                self.accepted(position);
                Ok(())
            }
            Err(PushError::Closed(item)) => {
                self.count(&self.counters.rejected_closed);
                Err(Refused::Closed(item))
            }
            Err(PushError::Full(item)) => {
                self.saw_full();
                self.wait_for_space(item, sampled, deadline, token)
            }
        }
    }

    /// The blocking part of a submit whose first try found the queue full: park on `senders`
    /// until space, close, deadline or cancellation.
    #[cold]
    fn wait_for_space(
        &self,
        item: T,
        sampled: bool,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<(), Refused<T>> {
        // The item stays in this frame until a push moves it into its slot (a refused push
        // leaves it here), and attempts report only what happened: a large `T` is not moved
        // back and forth on every retry.
        let mut held = Some(item);
        let started = Instant::now();
        let mut accepted_at = None;
        let outcome = self.senders.wait(&self.receivers, deadline, token, || {
            // A sampled item is stamped again: its wait counts from acceptance, not the first try.
            match self.ring.push_from(&mut held, || if sampled { self.stamp_now() } else { 0 }) {
                Ok(position) => {
                    accepted_at = Some(position);
                    true
                }
                Err(PushRefused::Closed) => true,
                Err(PushRefused::Full) => false,
            }
        });
        self.submit_wait.record(started.elapsed());
        match (outcome, accepted_at) {
            (Ok(()), Some(position)) => {
                self.accepted(position);
                Ok(())
            }
            (Ok(()), None) => {
                self.count(&self.counters.rejected_closed);
                Err(Refused::Closed(refused(held)))
            }
            (Err(stop), _) => {
                let counter = match stop {
                    Stop::TimedOut => &self.counters.timed_out,
                    Stop::Cancelled => &self.counters.cancelled,
                };
                self.count(counter);
                Err(Refused::Stopped(stop, refused(held)))
            }
        }
    }

    /// Takes the front item if there is one; never waits.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is queued, [`TryRecvError::Closed`] when the queue
    /// is closed and drained.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(2);
    /// q.try_submit(1).unwrap();
    /// assert_eq!(q.try_recv(), Ok(1));
    /// assert!(q.try_recv().is_err());
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut stamp = 0;
        match self.ring.pop(&mut stamp) {
            Ok(item) => {
                self.taken();
                self.received(stamp);
                Ok(item)
            }
            Err(PopError::Empty) => Err(TryRecvError::Empty),
            Err(PopError::Closed) => {
                self.receivers.wake_all_waiting(); // as in `wait_for_item`
                Err(TryRecvError::Closed)
            }
        }
    }

    /// Takes the front item, waiting as long as it takes for one.
    ///
    /// # Errors
    /// [`RecvError`] once the queue is closed and everything accepted has been received.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(1);
    /// q.submit(3).unwrap();
    /// q.close();
    /// assert_eq!(q.recv(), Ok(3)); // drains first
    /// assert!(q.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None, None).map_err(|_| RecvError)
    }

    /// Takes the front item, waiting at most `timeout`. `Duration::ZERO` tries once;
    /// `Duration::MAX` waits indefinitely.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] if nothing arrived in time, [`RecvTimeoutError::Closed`]
    /// once the queue is closed and drained.
    ///
    /// ```
    /// use backpressure::RecvTimeoutError;
    /// use std::time::Duration;
    /// let q = backpressure::BoundedQueue::<u8>::new(1);
    /// assert_eq!(q.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(crate::deadline::after(timeout), None)
    }

    /// Takes the front item, waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// ```
    /// use std::time::Instant;
    /// let q = backpressure::BoundedQueue::<u8>::new(1);
    /// assert!(q.recv_deadline(Instant::now()).is_err());
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline), None)
    }

    /// Takes the front item, waiting until one arrives or `token` is cancelled or reaches its
    /// deadline: a consumer that serves a request, or that must stop on shutdown without the
    /// queue being closed.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Cancelled`] if `token` is (or becomes) cancelled,
    /// [`RecvTimeoutError::Timeout`] at the token's deadline, [`RecvTimeoutError::Closed`] once
    /// the queue is closed and drained. A queued item wins over a token that is already
    /// cancelled: if one can be taken at once, it is returned.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, CancelToken, RecvTimeoutError};
    /// use std::{sync::Arc, thread, time::Duration};
    /// let q = Arc::new(BoundedQueue::<u32>::new(4));
    /// let shutdown = CancelToken::new();
    /// let consumer = {
    ///     let (q, shutdown) = (Arc::clone(&q), shutdown.clone());
    ///     thread::spawn(move || {
    ///         let mut handled = 0;
    ///         while q.recv_cancellable(&shutdown).is_ok() {
    ///             handled += 1;
    ///         }
    ///         handled
    ///     })
    /// };
    /// q.submit(1).unwrap();
    /// while !q.is_empty() {
    ///     thread::sleep(Duration::from_millis(1));
    /// }
    /// shutdown.cancel(); // wakes the blocked consumer; the queue itself stays open
    /// assert_eq!(consumer.join().unwrap(), 1);
    /// assert_eq!(q.recv_cancellable(&shutdown), Err(RecvTimeoutError::Cancelled));
    /// ```
    pub fn recv_cancellable(&self, token: &CancelToken) -> Result<T, RecvTimeoutError> {
        self.recv_until(None, Some(token))
    }

    fn recv_until(&self, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<T, RecvTimeoutError> {
        // The fast path is `try_recv`; waiting is out of line.
        match self.try_recv() {
            Ok(item) => Ok(item),
            Err(TryRecvError::Closed) => Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => self.wait_for_item(deadline, token),
        }
    }

    /// The blocking part of a receive whose first try found the queue empty: park on
    /// `receivers` until an item, close-and-drained, deadline or cancellation.
    #[cold]
    fn wait_for_item(&self, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<T, RecvTimeoutError> {
        // What the successful attempt got stays in this frame; the attempt only says whether
        // to stop, so a large `T` is not carried through the wait loop.
        let (mut got, mut stamp) = (None, 0);
        let mut attempt = || match self.ring.pop(&mut stamp) {
            Err(PopError::Empty) => false,
            done => {
                got = Some(done);
                true
            }
        };
        if let Err(stop) = self.receivers.wait(&self.senders, deadline, token, &mut attempt) {
            return Err(match stop {
                Stop::TimedOut => RecvTimeoutError::Timeout,
                Stop::Cancelled => RecvTimeoutError::Cancelled,
            });
        }
        match got {
            Some(Ok(item)) => {
                self.taken();
                self.received(stamp);
                Ok(item)
            }
            // Closed and drained is final for every receiver: release any still parked (one may
            // have parked on an item that was in flight at the close, W3).
            _ => {
                self.receivers.wake_all_waiting();
                Err(RecvTimeoutError::Closed)
            }
        }
    }

    /// Closes the queue: later submits fail with `Closed(item)`, every blocked submitter wakes
    /// at once with its item, and receivers drain what was accepted before they see `Closed`.
    /// Returns `true` for the call that closed it.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(4);
    /// q.try_submit(1).unwrap();
    /// assert!(q.close());
    /// assert!(!q.close());
    /// assert!(q.try_submit(2).is_err());
    /// assert_eq!(q.try_recv(), Ok(1));
    /// ```
    pub fn close(&self) -> bool {
        let closed = self.ring.close();
        // Through the lists' locks: a thread registering after this sees the closed bit.
        self.senders.wake_all();
        self.receivers.wake_all();
        closed
    }

    /// Loom models only: whether both wait lists are at rest (nobody registered, no woken
    /// waiter still on its way, nobody spinning), which must hold once every thread is joined.
    #[cfg(backpressure_loom)]
    #[doc(hidden)]
    pub fn wait_lists_at_rest(&self) -> bool {
        self.senders.is_at_rest() && self.receivers.is_at_rest()
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::<u8>::new(1);
    /// q.close();
    /// assert!(q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// Takes every item queued now, without waiting; items submitted meanwhile may or may not
    /// be included. Each taken item frees a slot for a waiting submitter.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(4);
    /// q.try_submit(1).unwrap();
    /// q.try_submit(2).unwrap();
    /// assert_eq!(q.drain().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn drain(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.try_recv().ok())
    }

    /// A snapshot of the counters. See [`QueueStats`].
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(2);
    /// q.try_submit(1).unwrap();
    /// q.try_recv().unwrap();
    /// let s = q.stats();
    /// assert_eq!((s.accepted, s.received, s.depth), (1, 1, 0));
    /// ```
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        // Relaxed (all loads): statistics.
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (accepted, received) = self.ring.totals();
        let depth = self.len() as u64;
        let (rejected_full, timed_out, cancelled, rejected_closed) =
            (load(&c.rejected_full), load(&c.timed_out), load(&c.cancelled), load(&c.rejected_closed));
        QueueStats {
            submitted: accepted + rejected_full + timed_out + cancelled + rejected_closed,
            accepted,
            rejected_full,
            timed_out,
            cancelled,
            rejected_closed,
            received,
            depth,
            peak_depth: load(&c.peak_depth).max(depth),
            wait: self.wait.clone(),
            submit_wait: self.submit_wait.clone(),
        }
    }

    /// Bookkeeping after the push that claimed `position`: the peak depth, and one receiver.
    #[inline]
    fn accepted(&self, position: usize) {
        // The peak is sampled: reading `head` on every push costs the producer a cache miss on
        // the consumers' line (it doubled the blocking hand-off's cost). A push that found the
        // queue full records the capacity itself (`saw_full`), so a queue that filled up always
        // reports it exactly.
        if self.ring.is_depth_sample(position) {
            self.raise_peak(self.ring.depth_after(position) as u64);
        }
        self.receivers.wake_one();
        // W3: another submitter may be parked behind a spent wake while slots are free.
        self.senders.pass_on(|| !self.ring.is_full());
    }

    /// A push found no free slot: the queue was at capacity (or one slot short, with a receiver
    /// mid-take), so the peak is the capacity.
    #[inline]
    fn saw_full(&self) {
        self.raise_peak(self.ring.capacity() as u64);
    }

    #[inline]
    fn raise_peak(&self, depth: u64) {
        // Relaxed (both): a statistic; the load keeps the common case (no new peak) read-only.
        if depth > self.counters.peak_depth.load(Ordering::Relaxed) {
            // Relaxed: a statistic.
            self.counters.peak_depth.fetch_max(depth, Ordering::Relaxed);
        }
    }

    /// Bookkeeping after a pop: one submitter for the freed slot, and the baton for receivers.
    #[inline]
    fn taken(&self) {
        self.senders.wake_one();
        // W3: another receiver may be parked behind a spent wake while items are queued, or
        // (once closed) while the queue has just been drained and it must be told so.
        self.receivers.pass_on(|| !self.ring.is_empty() || self.ring.is_closed());
    }

    #[inline]
    fn count(&self, counter: &AtomicU64) {
        // Relaxed: a statistic.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("len", &self.len())
            .field("name", &self.name)
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .field("waiting_submitters", &self.senders.waiting())
            .field("waiting_receivers", &self.receivers.waiting())
            .finish()
    }
}

#[cfg(test)]
mod tests;
