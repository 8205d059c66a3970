//! [`CircuitBreaker`]: stop calling a service that keeps failing, then probe it gently.
//!
//! Wrap each call to a fragile dependency in [`allow`](CircuitBreaker::allow) (or
//! [`call`](CircuitBreaker::call)). While the breaker is **Closed** every call goes through
//! and its outcome is recorded. Too many failures **trip** it **Open**: calls are refused at
//! once with [`BreakerOpen`] (which says how long to wait), so a struggling service gets room
//! to recover instead of a queue of doomed requests. After `open_for` the breaker is
//! **HalfOpen**: it lets exactly `half_open_probes` calls through at a time; if they all
//! succeed it closes, if any fails it opens again for another `open_for`.
//!
//! Two ways to trip: `failure_threshold(n)`, `n` failures in a row (the classic breaker), or
//! `failure_rate(rate, window, min_calls)`, the failure ratio over the last `window` outcomes,
//! once at least `min_calls` have been recorded (Resilience4j's count-based window).
//!
//! # Algorithm
//! Everything that decides admission lives in one `u64` *state word*: the kind (Closed, Open,
//! HalfOpen, 2 bits), a *generation* (30 bits, bumped by every transition) and a payload:
//! the consecutive-failure count in Closed, or the half-open probes in flight and the probes
//! that succeeded (16 bits each) in HalfOpen. Every change is one CAS on that word, so there
//! is no lock and no window in which two threads can both take the last probe slot.
//!
//! - `allow()` reads the word. Closed: a permit, nothing written (the hot path is one load).
//!   Open: if `open_for` has passed, CAS to HalfOpen with one probe in flight (the caller's);
//!   else refuse. HalfOpen: CAS one more probe in flight if `in_flight + succeeded < probes`;
//!   else refuse.
//! - A permit remembers the generation it was issued in. `success()` / `failure()` change the
//!   word only while it still has that generation; a verdict from an earlier period (a call
//!   that started before a trip) is dropped. A probe's success moves one slot from in-flight
//!   to succeeded and closes the breaker when `succeeded` reaches `probes`; a probe's failure
//!   reopens it; a probe dropped without a verdict gives its slot back.
//! - Consecutive mode: a failure increments the count, or trips if it reaches the threshold;
//!   a success resets the count (one load and no write when it is already zero).
//! - Rate mode: outcomes go into a ring of `window` bits (1 = failure) with a running failure
//!   count, both updated with atomic read-modify-writes so the count always matches the bits
//!   once no record is in flight. After each record, `failures / calls ≥ rate` with
//!   `calls ≥ min_calls` trips the breaker (one CAS from that Closed generation, so exactly one
//!   thread trips it).
//! - The thread whose CAS trips the breaker resets the window and then stores the time the
//!   Open period ends, tagged with its generation, into a second atomic (`open_until`). Open is
//!   left only by a thread that has seen the matching tag; until then the trip is "just
//!   happening" and the breaker stays open.
//!
//! Orderings: transitions are `AcqRel` CASes on the state word and `allow()` loads it with
//! `Acquire`; the `open_until` store is `Release` and its load `Acquire`. That chain (trip →
//! window reset → `open_until` → HalfOpen → Closed → `allow()`) makes each window reset happen
//! before every record of the next Closed period. Count-only updates (the failure count, probe
//! slots) are `Relaxed` read-modify-writes: they publish nothing, and as RMWs they keep the
//! release sequence of the last transition intact.
//!
//! # Invariants
//! - C1: admission state is only in the state word and only changed by CAS.
//! - C2: a verdict changes the word only if the word's kind and generation are those of the
//!   permit's period.
//! - C3: in HalfOpen, `in_flight + succeeded ≤ half_open_probes`.
//! - C4: `open_until` is written once per Open period, by the tripping thread, after the window
//!   reset; Open is left only after reading it with the period's tag. The tag is the low 8
//!   bits of the generation: a stale `open_until` is always the previous Open period's (that
//!   period could only end after its own value was written), and consecutive Open periods'
//!   generations differ by 2 or 3, so 8 bits never confuse them.
//! - C5: in rate mode the failure count equals the number of set bits whenever no record is in
//!   flight, and never counts above the number of calls recorded.
//!
//! The probe bound is per half-open period. When a probe fails, the period ends at once; the
//! next one starts `open_for` later and admits `half_open_probes` new probes even if a slow
//! probe of the failed period is still running (its verdict is then ignored, C2). Waiting for
//! it instead would let one hung call keep the breaker from ever recovering.
//!
//! A verdict that races a trip in rate mode may still land in the window after the reset (the
//! check and the record are two steps); it is a real outcome of the service, counted once, and
//! C5 still holds. A tripping thread that is descheduled between its CAS and its `open_until`
//! store keeps the breaker open until it runs again.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::error::ConfigError;
use crate::sync::{AtomicU64, Ordering};

/// The largest sliding window accepted by [`CircuitBreakerBuilder::failure_rate`].
///
/// ```
/// use backpressure::{breaker::MAX_WINDOW, CircuitBreaker};
/// assert!(CircuitBreaker::builder().failure_rate(0.5, MAX_WINDOW + 1, 10).build().is_err());
/// ```
pub const MAX_WINDOW: u32 = 1 << 20;

/// The largest `half_open_probes` accepted (the count has 16 bits in the state word).
///
/// ```
/// use backpressure::{breaker::MAX_PROBES, CircuitBreaker};
/// assert!(CircuitBreaker::builder().half_open_probes(MAX_PROBES).build().is_ok());
/// ```
pub const MAX_PROBES: u32 = u16::MAX as u32;

// ---- the state word ----------------------------------------------------------------------

const KIND_SHIFT: u32 = 62;
const GEN_SHIFT: u32 = 32;
const GEN_MASK: u64 = (1 << 30) - 1;
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;

/// A decoded view of the state word. See the module docs for the layout.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    #[inline]
    fn new(kind: u64, gen: u32, payload: u32) -> Self {
        Self(kind << KIND_SHIFT | (u64::from(gen) & GEN_MASK) << GEN_SHIFT | u64::from(payload))
    }
    #[inline]
    fn closed(gen: u32, failures: u32) -> Self {
        Self::new(CLOSED, gen, failures)
    }
    #[inline]
    fn open(gen: u32) -> Self {
        Self::new(OPEN, gen, 0)
    }
    #[inline]
    fn half_open(gen: u32, in_flight: u32, succeeded: u32) -> Self {
        Self::new(HALF_OPEN, gen, succeeded << 16 | in_flight)
    }
    #[inline]
    fn kind(self) -> u64 {
        self.0 >> KIND_SHIFT
    }
    #[inline]
    fn gen(self) -> u32 {
        ((self.0 >> GEN_SHIFT) & GEN_MASK) as u32
    }
    /// The generation of the period that follows this one.
    #[inline]
    fn next_gen(self) -> u32 {
        ((u64::from(self.gen()) + 1) & GEN_MASK) as u32
    }
    #[inline]
    fn payload(self) -> u32 {
        self.0 as u32
    }
    #[inline]
    fn failures(self) -> u32 {
        self.payload()
    }
    #[inline]
    fn in_flight(self) -> u32 {
        self.payload() & 0xFFFF
    }
    #[inline]
    fn succeeded(self) -> u32 {
        self.payload() >> 16
    }
    #[inline]
    fn is(self, kind: u64, gen: u32) -> bool {
        self.kind() == kind && self.gen() == gen
    }
    #[inline]
    fn state(self) -> BreakerState {
        match self.kind() {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }
}

// ---- open_until: the end of the Open period, tagged with its generation (C4) ----------------

const TAG_SHIFT: u32 = 56;
const UNTIL_MASK: u64 = (1 << TAG_SHIFT) - 1;

fn tag(gen: u32) -> u64 {
    u64::from(gen & 0xFF)
}

// ---- public types ----------------------------------------------------------------------------

/// What a [`CircuitBreaker`] does with the next call.
///
/// ```
/// use backpressure::{BreakerState, CircuitBreaker};
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::new(1, Duration::from_secs(10));
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// breaker.allow().unwrap().failure();
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert_eq!(BreakerState::Open.to_string(), "open");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls are refused until `open_for` has passed.
    Open,
    /// Up to `half_open_probes` trial calls at a time go through; the rest are refused.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// The breaker refused a call.
///
/// ```
/// use backpressure::CircuitBreaker;
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::new(1, Duration::from_secs(30));
/// breaker.allow().unwrap().failure();
/// let open = breaker.allow().unwrap_err();
/// assert!(open.retry_after() <= Duration::from_secs(30));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerOpen {
    retry_after: Duration,
}

impl BreakerOpen {
    /// How long until the breaker admits a trial call: the rest of `open_for` when Open, zero
    /// when HalfOpen with every probe slot taken (the running probes decide; try again soon).
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let (clock, mock) = quanta::Clock::mock();
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)
    ///     .open_for(Duration::from_secs(10))
    ///     .clock(clock)
    ///     .build()
    ///     .unwrap();
    /// breaker.allow().unwrap().failure();
    /// mock.increment(Duration::from_secs(4));
    /// assert_eq!(breaker.allow().unwrap_err().retry_after(), Duration::from_secs(6));
    /// ```
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is open; retry after {:?}", self.retry_after)
    }
}

impl Error for BreakerOpen {}

/// Why [`CircuitBreaker::call`] did not return a value.
///
/// ```
/// use backpressure::{BreakerError, CircuitBreaker};
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::new(1, Duration::from_secs(1));
/// let err = breaker.call(|| Err::<(), _>("timeout")).unwrap_err();
/// assert_eq!(err, BreakerError::Inner("timeout"));
/// assert!(matches!(breaker.call(|| Ok::<_, &str>(1)), Err(BreakerError::Open(_))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerError<E> {
    /// The breaker refused the call; the closure was not run.
    Open(BreakerOpen),
    /// The closure ran and failed (recorded as a failure).
    Inner(E),
}

impl<E> BreakerError<E> {
    /// The closure's error, if it ran.
    ///
    /// ```
    /// let err = backpressure::BreakerError::Inner(5);
    /// assert_eq!(err.into_inner(), Some(5));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Open(_) => None,
            Self::Inner(e) => Some(e),
        }
    }
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(open) => open.fmt(f),
            Self::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: Error + 'static> Error for BreakerError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Open(_) => None,
            Self::Inner(e) => Some(e),
        }
    }
}

/// The callback type of [`CircuitBreakerBuilder::on_state_change`]: `(from, to)`.
type StateCallback = Box<dyn Fn(BreakerState, BreakerState) + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Policy {
    ConsecutiveFailures(u32),
    FailureRate { rate: f64, window: u32, min_calls: u32 },
}

/// A lock-free circuit breaker. See the [module docs](self) for the algorithm.
///
/// `allow()` and the verdict on a permit take no lock and never allocate; in the Closed state
/// with no recent failure, `allow()` + `success()` is two atomic loads.
///
/// ```
/// use backpressure::{BreakerError, CircuitBreaker};
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::builder()
///     .failure_rate(0.5, 20, 10) // trip at ≥ 50% failures over the last 20 calls, once 10 are in
///     .open_for(Duration::from_secs(5))
///     .half_open_probes(2)
///     .build()?;
///
/// match breaker.call(|| fetch_price("ACME")) {
///     Ok(price) => println!("{price}"),
///     Err(BreakerError::Open(open)) => println!("not now; back in {:?}", open.retry_after()),
///     Err(BreakerError::Inner(e)) => println!("failed: {e}"),
/// }
/// # fn fetch_price(_: &str) -> Result<u32, String> { Ok(3) }
/// # Ok::<(), backpressure::ConfigError>(())
/// ```
pub struct CircuitBreaker {
    /// The state word (C1).
    state: CachePadded<AtomicU64>,
    /// `tag << 56 | end of the Open period in µs since `start`` (C4).
    open_until: AtomicU64,
    /// The sliding window, in rate mode only.
    window: Option<Window>,
    policy: Policy,
    open_for: Duration,
    probes: u32,
    clock: quanta::Clock,
    start: quanta::Instant,
    on_state_change: Option<StateCallback>,
}

impl CircuitBreaker {
    /// A breaker that trips after `failure_threshold` consecutive failures, stays open for
    /// `open_for`, then admits one probe. For other settings use [`builder`](Self::builder).
    ///
    /// # Panics
    /// If `failure_threshold` is zero (the message names the value).
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
    /// assert!(breaker.allow().is_ok());
    /// ```
    pub fn new(failure_threshold: u32, open_for: Duration) -> Self {
        match Self::builder().failure_threshold(failure_threshold).open_for(open_for).build() {
            Ok(breaker) => breaker,
            Err(err) => panic!("CircuitBreaker::new: {err}"),
        }
    }

    /// A builder with the defaults: 5 consecutive failures, open for 30 s, 1 probe, the
    /// system clock, no callback.
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(2).open_for(Duration::from_millis(500)).build()?;
    /// # Ok::<(), backpressure::ConfigError>(())
    /// ```
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            policy: Policy::ConsecutiveFailures(5),
            open_for: Duration::from_secs(30),
            probes: 1,
            clock: None,
            on_state_change: None,
        }
    }

    /// Asks to make a call. The permit records its outcome: [`BreakerPermit::success`] or
    /// [`BreakerPermit::failure`]; dropping it without either counts as neither (and gives a
    /// half-open probe slot back).
    ///
    /// An Open breaker whose `open_for` has passed turns HalfOpen here, and this call becomes
    /// its first probe.
    ///
    /// # Errors
    /// [`BreakerOpen`] while Open, and while HalfOpen with every probe slot taken.
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::new(2, Duration::from_secs(1));
    /// let permit = breaker.allow().expect("closed");
    /// match std::fs::metadata("/") {
    ///     Ok(_) => permit.success(),
    ///     Err(_) => permit.failure(),
    /// }
    /// ```
    #[inline]
    pub fn allow(&self) -> Result<BreakerPermit<'_>, BreakerOpen> {
        // Acquire: pairs with the AcqRel CAS of the transition that wrote this word, so a
        // Closed period's permits record after that period's window reset (C4).
        let mut word = Word(self.state.load(Ordering::Acquire));
        loop {
            let next = match word.kind() {
                CLOSED => return Ok(BreakerPermit::new(self, word.gen(), false)),
                OPEN => match self.open_remaining(word) {
                    Some(retry_after) => return Err(BreakerOpen { retry_after }),
                    None => Word::half_open(word.next_gen(), 1, 0),
                },
                _ if word.in_flight() + word.succeeded() >= self.probes => {
                    return Err(BreakerOpen { retry_after: Duration::ZERO }); // keeps C3
                }
                _ => Word::half_open(word.gen(), word.in_flight() + 1, word.succeeded()),
            };
            match self.cas(word, next) {
                Ok(()) => {
                    // The permit exists before the callback runs: if the callback panics, the
                    // unwinding drops it and the probe slot is given back.
                    let permit = BreakerPermit::new(self, next.gen(), true);
                    if word.kind() == OPEN {
                        self.notify(BreakerState::Open, BreakerState::HalfOpen);
                    }
                    return Ok(permit);
                }
                Err(current) => word = current,
            }
        }
    }

    /// Runs `f` if the breaker allows it and records its outcome (`Ok` → success, `Err` →
    /// failure). If `f` panics, the call counts as neither.
    ///
    /// # Errors
    /// [`BreakerError::Open`] without running `f`, or [`BreakerError::Inner`] with `f`'s error.
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::new(5, Duration::from_secs(1));
    /// assert_eq!(breaker.call(|| Ok::<_, ()>(42)), Ok(42));
    /// ```
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, BreakerError<E>> {
        let permit = self.allow().map_err(BreakerError::Open)?;
        match f() {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(e) => {
                permit.failure();
                Err(BreakerError::Inner(e))
            }
        }
    }

    /// The current state. An Open breaker reports Open until a call to
    /// [`allow`](Self::allow) after `open_for` turns it HalfOpen.
    ///
    /// ```
    /// use backpressure::{BreakerState, CircuitBreaker};
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::new(1, Duration::from_secs(1));
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// ```
    pub fn state(&self) -> BreakerState {
        // Relaxed: a snapshot for display; nothing is read on the strength of it.
        Word(self.state.load(Ordering::Relaxed)).state()
    }

    /// How long the breaker stays open after a trip.
    ///
    /// ```
    /// use std::time::Duration;
    /// let breaker = backpressure::CircuitBreaker::new(1, Duration::from_secs(9));
    /// assert_eq!(breaker.open_for(), Duration::from_secs(9));
    /// ```
    pub fn open_for(&self) -> Duration {
        self.open_for
    }

    /// How many concurrent trial calls HalfOpen admits.
    ///
    /// ```
    /// let breaker = backpressure::CircuitBreaker::builder().half_open_probes(3).build().unwrap();
    /// assert_eq!(breaker.half_open_probes(), 3);
    /// ```
    pub fn half_open_probes(&self) -> u32 {
        self.probes
    }

    // ---- steps ----

    /// One CAS on the state word. A transition (kind changes) is `AcqRel`; a count-only
    /// change is `Relaxed` (see the module docs). Returns the current word on failure.
    #[inline]
    fn cas(&self, current: Word, new: Word) -> Result<(), Word> {
        let (success, failure) = if current.kind() != new.kind() {
            // AcqRel: Acquire sees the previous transition's effects (window reset, C4),
            // Release publishes them to the next `allow()` (its Acquire load).
            (Ordering::AcqRel, Ordering::Acquire)
        } else {
            // Relaxed: the count is the word's own value; as an RMW this keeps the last
            // transition's release sequence for later Acquire loads.
            (Ordering::Relaxed, Ordering::Acquire)
        };
        // Failure Acquire: the caller may act on the fresh word as allow() would on its load.
        self.state.compare_exchange(current.0, new.0, success, failure).map(drop).map_err(Word)
    }

    /// Nanoseconds on the breaker's clock since it was built (saturating).
    fn now_nanos(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    /// How much longer the Open period of `word` lasts; `None` once it is over.
    fn open_remaining(&self, word: Word) -> Option<Duration> {
        // Acquire: pairs with the Release store in `after_trip`; with the matching tag we
        // also see the window reset made before it (C4).
        let until = self.open_until.load(Ordering::Acquire);
        if until >> TAG_SHIFT != tag(word.gen()) {
            return Some(self.open_for); // the trip is still being recorded: just opened
        }
        let end = u128::from(until & UNTIL_MASK) * 1000;
        let now = u128::from(self.now_nanos());
        (now < end).then(|| {
            let left = end - now; // < 2^56 µs, so the seconds fit in a u64
            Duration::new((left / 1_000_000_000) as u64, (left % 1_000_000_000) as u32)
        })
    }

    /// The tripping thread's follow-up to its CAS into `Open(gen)`, coming `from`.
    fn after_trip(&self, gen: u32, from: BreakerState) {
        if let Some(window) = &self.window {
            window.reset();
        }
        let end_nanos = u128::from(self.now_nanos()) + self.open_for.as_nanos();
        // Whole microseconds, rounded down: a zero `open_for` is over at once, and the stored
        // end saturates at 2^56 µs (~2284 years), "for good" in practice.
        let end_micros = (end_nanos / 1000).min(u128::from(UNTIL_MASK)) as u64;
        // Release: pairs with the Acquire load in `open_remaining`; whoever leaves this Open
        // period sees the window reset above (C4).
        self.open_until.store(tag(gen) << TAG_SHIFT | end_micros, Ordering::Release);
        self.notify(from, BreakerState::Open);
    }

    fn notify(&self, from: BreakerState, to: BreakerState) {
        if let Some(callback) = &self.on_state_change {
            callback(from, to);
        }
    }

    #[inline]
    fn record(&self, gen: u32, probe: bool, outcome: Outcome) {
        if probe {
            return self.settle_probe(gen, outcome);
        }
        match (self.policy, &self.window) {
            (Policy::FailureRate { rate, min_calls, .. }, Some(window)) => {
                if !self.still_closed(gen) || outcome == Outcome::Dropped {
                    return; // C2
                }
                let (calls, failures) = window.record(outcome == Outcome::Failure);
                if calls >= u64::from(min_calls) && failures as f64 / calls as f64 >= rate {
                    self.trip_closed(gen, |_| true);
                }
            }
            (Policy::ConsecutiveFailures(threshold), _) => match outcome {
                Outcome::Success => self.reset_failures(gen),
                Outcome::Failure => self.trip_closed(gen, |count| count + 1 >= threshold),
                Outcome::Dropped => {}
            },
            (Policy::FailureRate { .. }, None) => unreachable!("rate mode always has a window"),
        }
    }

    /// Whether the word is still the Closed period `gen`.
    #[inline]
    fn still_closed(&self, gen: u32) -> bool {
        // Relaxed: a staleness filter only (C2); this thread's permit already synchronized
        // with the period's start in `allow()`.
        Word(self.state.load(Ordering::Relaxed)).is(CLOSED, gen)
    }

    /// Consecutive mode: a success in Closed period `gen` zeroes the failure count.
    #[inline]
    fn reset_failures(&self, gen: u32) {
        // Relaxed: reading the count only; a change is made by `cas`.
        let mut word = Word(self.state.load(Ordering::Relaxed));
        while word.is(CLOSED, gen) && word.failures() != 0 {
            match self.cas(word, Word::closed(gen, 0)) {
                Ok(()) => return,
                Err(current) => word = current,
            }
        }
    }

    /// A failure in Closed period `gen`: trips if `trips(count)` says so, else counts it.
    fn trip_closed(&self, gen: u32, trips: impl Fn(u32) -> bool) {
        // Relaxed: the CAS below decides; see `cas` for the orderings.
        let mut word = Word(self.state.load(Ordering::Relaxed));
        while word.is(CLOSED, gen) {
            let next = if trips(word.failures()) {
                Word::open(word.next_gen())
            } else {
                Word::closed(gen, word.failures() + 1)
            };
            match self.cas(word, next) {
                Ok(()) if next.kind() == OPEN => return self.after_trip(next.gen(), BreakerState::Closed),
                Ok(()) => return,
                Err(current) => word = current,
            }
        }
    }

    /// The verdict of a probe of HalfOpen period `gen`.
    fn settle_probe(&self, gen: u32, outcome: Outcome) {
        // Relaxed: the CAS below decides; see `cas` for the orderings.
        let mut word = Word(self.state.load(Ordering::Relaxed));
        while word.is(HALF_OPEN, gen) {
            // C3: this probe holds one in-flight slot of `gen`, so in_flight ≥ 1 here.
            let (in_flight, succeeded) = (word.in_flight() - 1, word.succeeded());
            let next = match outcome {
                Outcome::Success if succeeded + 1 >= self.probes => Word::closed(word.next_gen(), 0),
                Outcome::Success => Word::half_open(gen, in_flight, succeeded + 1),
                Outcome::Failure => Word::open(word.next_gen()),
                Outcome::Dropped => Word::half_open(gen, in_flight, succeeded),
            };
            match self.cas(word, next) {
                Ok(()) if next.kind() == OPEN => return self.after_trip(next.gen(), BreakerState::HalfOpen),
                Ok(()) if next.kind() == CLOSED => return self.notify(BreakerState::HalfOpen, BreakerState::Closed),
                Ok(()) => return,
                Err(current) => word = current,
            }
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("policy", &self.policy)
            .field("open_for", &self.open_for)
            .field("half_open_probes", &self.probes)
            .field("on_state_change", &self.on_state_change.as_ref().map(|_| "Fn"))
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Dropped,
}

/// Leave to make one call through a [`CircuitBreaker`]; say how it went with
/// [`success`](Self::success) or [`failure`](Self::failure).
///
/// Dropping it without a verdict (an early return, a panic) counts as neither; a half-open
/// probe permit then frees its slot for another caller.
///
/// ```
/// use backpressure::CircuitBreaker;
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::new(1, Duration::from_secs(1));
/// let permit = breaker.allow().unwrap();
/// assert!(!permit.is_probe());
/// drop(permit); // neither a success nor a failure
/// assert!(breaker.allow().is_ok());
/// ```
#[must_use = "a permit records nothing unless you call success() or failure()"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    gen: u32,
    probe: bool,
    settled: bool,
}

impl<'a> BreakerPermit<'a> {
    #[inline]
    fn new(breaker: &'a CircuitBreaker, gen: u32, probe: bool) -> Self {
        Self { breaker, gen, probe, settled: false }
    }

    /// Records that the call succeeded.
    ///
    /// ```
    /// let breaker = backpressure::CircuitBreaker::new(1, std::time::Duration::from_secs(1));
    /// breaker.allow().unwrap().success();
    /// ```
    #[inline]
    pub fn success(mut self) {
        self.settle(Outcome::Success);
    }

    /// Records that the call failed.
    ///
    /// ```
    /// use backpressure::{BreakerState, CircuitBreaker};
    /// let breaker = CircuitBreaker::new(1, std::time::Duration::from_secs(1));
    /// breaker.allow().unwrap().failure();
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// ```
    #[inline]
    pub fn failure(mut self) {
        self.settle(Outcome::Failure);
    }

    /// Whether this is a half-open trial call (its outcome decides whether the breaker closes).
    ///
    /// ```
    /// let breaker = backpressure::CircuitBreaker::new(1, std::time::Duration::ZERO);
    /// breaker.allow().unwrap().failure();
    /// assert!(breaker.allow().unwrap().is_probe()); // open_for is zero: straight to half-open
    /// ```
    #[inline]
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    #[inline]
    fn settle(&mut self, outcome: Outcome) {
        self.settled = true;
        self.breaker.record(self.gen, self.probe, outcome);
    }
}

impl Drop for BreakerPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.settle(Outcome::Dropped);
        }
    }
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit").field("probe", &self.probe).field("generation", &self.gen).finish()
    }
}

/// Builds a [`CircuitBreaker`]; see [`CircuitBreaker::builder`].
///
/// ```
/// use backpressure::{BreakerState, CircuitBreaker};
/// use std::time::Duration;
///
/// let (clock, mock) = quanta::Clock::mock();
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)
///     .open_for(Duration::from_secs(1))
///     .clock(clock)
///     .on_state_change(|from, to| println!("{from} -> {to}"))
///     .build()?;
/// breaker.allow().unwrap().failure();
/// mock.increment(Duration::from_secs(1));
/// breaker.allow().unwrap().success();
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # Ok::<(), backpressure::ConfigError>(())
/// ```
#[must_use = "call build() to get the breaker"]
pub struct CircuitBreakerBuilder {
    policy: Policy,
    open_for: Duration,
    probes: u32,
    clock: Option<quanta::Clock>,
    on_state_change: Option<StateCallback>,
}

impl CircuitBreakerBuilder {
    /// Trip after `n` failures in a row (a success resets the count). Replaces a
    /// [`failure_rate`](Self::failure_rate) setting.
    ///
    /// `build()` rejects `0`.
    ///
    /// ```
    /// let err = backpressure::CircuitBreaker::builder().failure_threshold(0).build().unwrap_err();
    /// assert_eq!(err.field(), "failure_threshold");
    /// ```
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.policy = Policy::ConsecutiveFailures(n);
        self
    }

    /// Trip when at least `rate` (a fraction in `(0, 1]`) of the last `window` outcomes are
    /// failures, once at least `min_calls` outcomes have been recorded since the breaker last
    /// closed. Replaces a [`failure_threshold`](Self::failure_threshold) setting.
    ///
    /// `build()` rejects a `rate` outside `(0, 1]` or NaN, a `window` of 0 or above
    /// [`MAX_WINDOW`], and a `min_calls` of 0 or above `window`.
    ///
    /// ```
    /// use backpressure::CircuitBreaker;
    /// assert!(CircuitBreaker::builder().failure_rate(0.5, 100, 20).build().is_ok());
    /// assert_eq!(CircuitBreaker::builder().failure_rate(1.5, 100, 20).build().unwrap_err().field(), "failure_rate.rate");
    /// ```
    pub fn failure_rate(mut self, rate: f64, window: u32, min_calls: u32) -> Self {
        self.policy = Policy::FailureRate { rate, window, min_calls };
        self
    }

    /// How long to stay open after a trip before admitting probes (default 30 s), kept to
    /// the microsecond (rounded down). Any value works: zero goes half-open on the next call,
    /// `Duration::MAX` stays open for good.
    ///
    /// ```
    /// let b = backpressure::CircuitBreaker::builder().open_for(std::time::Duration::from_secs(2)).build().unwrap();
    /// assert_eq!(b.open_for(), std::time::Duration::from_secs(2));
    /// ```
    pub fn open_for(mut self, open_for: Duration) -> Self {
        self.open_for = open_for;
        self
    }

    /// How many concurrent trial calls HalfOpen admits (default 1); all of them must succeed
    /// to close. `build()` rejects 0 and values above [`MAX_PROBES`].
    ///
    /// ```
    /// let err = backpressure::CircuitBreaker::builder().half_open_probes(0).build().unwrap_err();
    /// assert_eq!(err.field(), "half_open_probes");
    /// ```
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// The clock that times `open_for` (default `quanta::Clock::new()`); pass
    /// `quanta::Clock::mock()`'s clock in tests.
    ///
    /// ```
    /// let (clock, _mock) = quanta::Clock::mock();
    /// let breaker = backpressure::CircuitBreaker::builder().clock(clock).build().unwrap();
    /// ```
    pub fn clock(mut self, clock: quanta::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Calls `callback(from, to)` after each transition, on the thread that made it. Keep it
    /// short. A panic in it reaches that caller of `allow()` / the verdict, after the
    /// transition is complete (a probe permit being handed out is dropped, freeing its slot).
    /// Callbacks of transitions made on different threads in quick succession may run out of
    /// order.
    ///
    /// ```
    /// use backpressure::{BreakerState, CircuitBreaker};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let trips = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&trips);
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)
    ///     .on_state_change(move |_, to| if to == BreakerState::Open { counter.fetch_add(1, Ordering::Relaxed); })
    ///     .build()
    ///     .unwrap();
    /// breaker.allow().unwrap().failure();
    /// assert_eq!(trips.load(Ordering::Relaxed), 1);
    /// ```
    pub fn on_state_change(mut self, callback: impl Fn(BreakerState, BreakerState) + Send + Sync + 'static) -> Self {
        self.on_state_change = Some(Box::new(callback));
        self
    }

    /// Checks the settings and builds the breaker (Closed).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first invalid setting.
    ///
    /// ```
    /// let err = backpressure::CircuitBreaker::builder().failure_rate(0.5, 10, 11).build().unwrap_err();
    /// assert_eq!(err.field(), "failure_rate.min_calls");
    /// ```
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let window = match self.policy {
            Policy::ConsecutiveFailures(0) => {
                return Err(ConfigError::new("failure_threshold", "must be at least 1, got 0"));
            }
            Policy::ConsecutiveFailures(_) => None,
            Policy::FailureRate { rate, window, min_calls } => {
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(ConfigError::new("failure_rate.rate", format!("must be in (0, 1], got {rate}")));
                }
                if window == 0 || window > MAX_WINDOW {
                    let reason = format!("must be between 1 and {MAX_WINDOW} calls, got {window}");
                    return Err(ConfigError::new("failure_rate.window", reason));
                }
                if min_calls == 0 || min_calls > window {
                    let reason = format!("must be between 1 and the window ({window}), got {min_calls}");
                    return Err(ConfigError::new("failure_rate.min_calls", reason));
                }
                Some(Window::new(window))
            }
        };
        if self.probes == 0 || self.probes > MAX_PROBES {
            let reason = format!("must be between 1 and {MAX_PROBES}, got {}", self.probes);
            return Err(ConfigError::new("half_open_probes", reason));
        }
        let clock = self.clock.unwrap_or_default();
        let start = clock.now();
        Ok(CircuitBreaker {
            state: CachePadded::new(AtomicU64::new(Word::closed(0, 0).0)),
            // Tag 0 never matches the first Open period (generation 1).
            open_until: AtomicU64::new(0),
            window,
            policy: self.policy,
            open_for: self.open_for,
            probes: self.probes,
            clock,
            start,
            on_state_change: self.on_state_change,
        })
    }
}

impl fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("policy", &self.policy)
            .field("open_for", &self.open_for)
            .field("half_open_probes", &self.probes)
            .field("clock", &self.clock)
            .field("on_state_change", &self.on_state_change.as_ref().map(|_| "Fn"))
            .finish()
    }
}

// ---- the sliding window (rate mode) -----------------------------------------------------------

/// The last `size` outcomes as bits (1 = failure) and their failure count (C5).
///
/// All accesses are `Relaxed`: it is statistics. Its reset is ordered before the next Closed
/// period's records by the state-word chain (C4), and the trip itself is a CAS on the state
/// word.
struct Window {
    bits: Box<[AtomicU64]>,
    size: u64,
    /// Outcomes recorded since the last reset; `cursor % size` is the next slot.
    cursor: AtomicU64,
    /// Set bits, as a wrapping counter read as `i64` (a clear may be counted before the set it
    /// undoes; the sum is right once both are done).
    failures: AtomicU64,
}

impl Window {
    #[inline]
    fn new(size: u32) -> Self {
        let words = (size as usize).div_ceil(64);
        Self {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            size: u64::from(size),
            cursor: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Records one outcome; returns `(calls, failures)` in the window after it.
    #[inline]
    fn record(&self, failed: bool) -> (u64, u64) {
        // Relaxed: claims a slot; no other memory rides on it (see the type's docs).
        let position = self.cursor.fetch_add(1, Ordering::Relaxed);
        let slot = position % self.size;
        let word = &self.bits[(slot / 64) as usize];
        let mask = 1u64 << (slot % 64);
        let count = if failed { self.mark(word, mask) } else { self.unmark(word, mask) };
        let calls = position.saturating_add(1).min(self.size);
        (calls, (count as i64).clamp(0, calls as i64) as u64) // keeps C5's bound
    }

    /// Sets a slot's bit (a failure); returns the failure count after it.
    #[inline]
    fn mark(&self, word: &AtomicU64, mask: u64) -> u64 {
        // Relaxed: the old bit it returns decides the count change (C5); nothing else is read.
        if word.fetch_or(mask, Ordering::Relaxed) & mask == 0 {
            // Relaxed: a counter that follows the bit (C5); statistics otherwise.
            self.failures.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
        } else {
            // Relaxed: statistics (see the type's docs).
            self.failures.load(Ordering::Relaxed)
        }
    }

    /// Clears a slot's bit (a success); returns the failure count after it. A success over a
    /// success writes nothing.
    #[inline]
    fn unmark(&self, word: &AtomicU64, mask: u64) -> u64 {
        // Relaxed: a cheap look first; the RMW below decides.
        let looks_set = word.load(Ordering::Relaxed) & mask != 0;
        // Relaxed: the old bit it returns decides the count change (C5).
        if looks_set && word.fetch_and(!mask, Ordering::Relaxed) & mask != 0 {
            // Relaxed: a counter that follows the bit (C5).
            self.failures.fetch_sub(1, Ordering::Relaxed).wrapping_sub(1)
        } else {
            // Relaxed: statistics (see the type's docs).
            self.failures.load(Ordering::Relaxed)
        }
    }

    /// Empties the window (by the tripping thread, C4).
    fn reset(&self) {
        // Relaxed (all of `reset`): published by the Release store of `open_until`.
        self.cursor.store(0, Ordering::Relaxed);
        for word in self.bits.iter() {
            // Relaxed: as above; the bits it returns are taken off the count (C5).
            let cleared = u64::from(word.swap(0, Ordering::Relaxed).count_ones());
            self.failures.fetch_sub(cleared, Ordering::Relaxed); // keeps C5
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn mocked(builder: CircuitBreakerBuilder) -> (CircuitBreaker, Arc<quanta::Mock>) {
        let (clock, mock) = quanta::Clock::mock();
        (builder.clock(clock).build().unwrap(), mock)
    }

    #[test]
    fn breaker_word_round_trips_its_fields() {
        let w = Word::half_open(GEN_MASK as u32, 0xFFFF, 0xFFFE);
        assert_eq!((w.kind(), w.gen(), w.in_flight(), w.succeeded()), (HALF_OPEN, GEN_MASK as u32, 0xFFFF, 0xFFFE));
        assert_eq!(w.next_gen(), 0, "generations wrap");
        let w = Word::closed(7, u32::MAX);
        assert_eq!((w.kind(), w.gen(), w.failures()), (CLOSED, 7, u32::MAX));
    }

    #[test]
    fn breaker_goes_through_every_transition() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let builder = CircuitBreaker::builder()
            .failure_threshold(2)
            .open_for(Duration::from_secs(10))
            .half_open_probes(2)
            .on_state_change(move |from, to| log.lock().unwrap().push((from, to)));
        let (b, mock) = mocked(builder);
        b.allow().unwrap().failure();
        b.allow().unwrap().success(); // resets the count
        b.allow().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.allow().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.allow().unwrap_err().retry_after(), Duration::from_secs(10));
        mock.increment(Duration::from_secs(10));
        let (p1, p2) = (b.allow().unwrap(), b.allow().unwrap());
        assert!(p1.is_probe() && p2.is_probe());
        assert_eq!(b.allow().unwrap_err().retry_after(), Duration::ZERO);
        p1.success();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        p2.failure();
        assert_eq!(b.state(), BreakerState::Open);
        mock.increment(Duration::from_secs(10));
        b.allow().unwrap().success();
        b.allow().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
        use BreakerState::*;
        let expected = [(Closed, Open), (Open, HalfOpen), (HalfOpen, Open), (Open, HalfOpen), (HalfOpen, Closed)];
        assert_eq!(*seen.lock().unwrap(), expected);
    }

    #[test]
    fn breaker_window_counts_failures_exactly_and_resets() {
        let w = Window::new(70);
        for i in 0..70 {
            w.record(i % 2 == 0);
        }
        assert_eq!(w.record(false), (70, 34)); // overwrote slot 0's failure
        assert_eq!(w.record(true), (70, 35)); // overwrote slot 1's success
        w.reset();
        assert_eq!(w.failures.load(Ordering::Relaxed), 0); // Relaxed: single thread
        assert_eq!(w.record(true), (1, 1));
    }

    #[test]
    fn breaker_threads_racing_for_probe_slots_never_exceed_the_bound() {
        let (b, _mock) =
            mocked(CircuitBreaker::builder().failure_threshold(1).open_for(Duration::ZERO).half_open_probes(2));
        b.allow().unwrap().failure();
        let tried = std::sync::Barrier::new(4);
        let admitted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let permit = b.allow().ok();
                        tried.wait(); // hold it until every thread has tried
                        permit.map(BreakerPermit::success).is_some()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).filter(|&ok| ok).count()
        });
        assert_eq!(admitted, 2);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn breaker_stale_verdicts_are_ignored() {
        let calls = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&calls);
        let (b, mock) =
            mocked(CircuitBreaker::builder().failure_threshold(1).open_for(Duration::from_secs(1)).on_state_change(
                move |_, _| {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed); // Relaxed: a counter
                },
            ));
        let old = b.allow().unwrap();
        b.allow().unwrap().failure();
        mock.increment(Duration::from_secs(1));
        b.allow().unwrap().success(); // probe closes it
        old.failure(); // from the first Closed period: ignored
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 3); // Relaxed: single thread
    }
}
