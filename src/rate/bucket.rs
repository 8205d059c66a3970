//! [`TokenBucket`]: the lock-free token bucket. The algorithm is in the [module docs](super).

use std::fmt;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use quanta::Clock;

use super::clock::RawClock;
use super::error::{nanos, AcquireError, RateLimited};
use super::published::Published;
use super::schedule::{wait_nanos, Schedule, TimeBase, MAX_RATE, MIN_RATE};
use crate::deadline;
use crate::error::ConfigError;
use crate::sync::{AtomicU64, Ordering};

/// A token bucket: at most `burst` requests at once, refilled at `rate` tokens per second.
///
/// `try_acquire` is one clock read and one compare-and-swap (a refusal: one load, no
/// compare-and-swap): no lock, no allocation. Waiting calls (`acquire*`) reserve their tokens
/// first and then sleep until they are due, so waiting threads queue up in the schedule instead
/// of waking to fight over each new token.
///
/// ```
/// use backpressure::TokenBucket;
/// use std::time::Duration;
///
/// let (clock, mock) = quanta::Clock::mock();
/// let bucket = TokenBucket::builder(2.0, 2).clock(clock).build().unwrap(); // 2/s, bursts of 2
/// assert!(bucket.try_acquire().is_ok());
/// assert!(bucket.try_acquire().is_ok());
/// let limited = bucket.try_acquire().unwrap_err();
/// assert_eq!(limited.retry_after(), Duration::from_millis(500));
/// mock.increment(limited.retry_after());
/// assert!(bucket.try_acquire().is_ok());
/// ```
pub struct TokenBucket {
    /// `W`: tokens handed out so far, on the schedule's scale (biased). Tokens available at
    /// time `t` are `tokens_at(t) + burst - max(W, tokens_at(t))`; see B1–B3.
    spent: CachePadded<AtomicU64>,
    /// Tokens held by `acquire*` calls still sleeping (B3).
    reserved: CachePadded<AtomicU64>,
    schedule: Published,
    clock: RawClock,
    /// How long `clock`'s raw ticks are.
    time: TimeBase,
    burst: u32,
}

impl TokenBucket {
    /// A bucket refilled at `rate_per_sec` tokens per second, holding at most `burst` tokens,
    /// starting full, timed by `quanta::Clock::new()`.
    ///
    /// An infinite rate is not a bucket: to switch limiting off, don't call the limiter.
    ///
    /// # Panics
    /// If `rate_per_sec` is not a number in `[1e-6, 1e9]` (zero, negative, NaN and infinite
    /// included) or `burst` is zero; the message names the value. Use
    /// [`builder`](Self::builder) to get a [`ConfigError`] instead.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1000.0, 50);
    /// assert_eq!(bucket.burst(), 50);
    /// assert_eq!(bucket.available(), 50);
    /// ```
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        Self::builder(rate_per_sec, burst).build().unwrap_or_else(|err| panic!("TokenBucket::new: {err}"))
    }

    /// A builder for a bucket with a chosen clock or initial fill.
    ///
    /// ```
    /// let (clock, _mock) = quanta::Clock::mock();
    /// let bucket = backpressure::TokenBucket::builder(5.0, 10).clock(clock).initial_tokens(0).build().unwrap();
    /// assert_eq!(bucket.available(), 0);
    /// assert!(backpressure::TokenBucket::builder(f64::NAN, 10).build().is_err());
    /// ```
    pub fn builder(rate_per_sec: f64, burst: u32) -> TokenBucketBuilder {
        TokenBucketBuilder { rate: rate_per_sec, burst, clock: None, initial_tokens: None }
    }

    /// Takes one token if there is one.
    ///
    /// # Errors
    /// [`RateLimited`] with the exact wait when the bucket is empty.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1.0, 1);
    /// assert!(bucket.try_acquire().is_ok());
    /// assert!(bucket.try_acquire().is_err());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.take(1)
    }

    /// Takes `n` tokens if there are `n`; takes none otherwise. `n == 0` always succeeds.
    ///
    /// # Errors
    /// [`AcquireError::ExceedsBurst`] when `n > burst` (it could never pass);
    /// [`AcquireError::RateLimited`] when fewer than `n` tokens are there now.
    ///
    /// ```
    /// use backpressure::{AcquireError, TokenBucket};
    /// let bucket = TokenBucket::new(10.0, 5);
    /// assert!(bucket.try_acquire_n(5).is_ok());
    /// assert!(matches!(bucket.try_acquire_n(1), Err(AcquireError::RateLimited(_))));
    /// assert!(bucket.try_acquire_n(0).is_ok());
    /// ```
    #[inline]
    pub fn try_acquire_n(&self, n: u32) -> Result<(), AcquireError> {
        if n == 0 {
            return Ok(());
        }
        self.check_burst(n)?;
        Ok(self.take(n)?)
    }

    /// Takes one token, sleeping until it is due.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1000.0, 1);
    /// bucket.acquire();
    /// bucket.acquire(); // sleeps about a millisecond
    /// ```
    pub fn acquire(&self) {
        // burst ≥ 1, so one token never exceeds it.
        let _ = self.acquire_n(1);
    }

    /// Takes `n` tokens, sleeping until they are due. Waiting callers are served in the order
    /// they reserved, each sleeping (not spinning) until its own grant time.
    ///
    /// # Errors
    /// [`AcquireError::ExceedsBurst`] at once when `n > burst`; never `RateLimited`.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1000.0, 10);
    /// bucket.acquire_n(10).unwrap();
    /// bucket.acquire_n(2).unwrap(); // sleeps about 2 ms
    /// assert!(bucket.acquire_n(11).is_err());
    /// ```
    pub fn acquire_n(&self, n: u32) -> Result<(), AcquireError> {
        self.acquire_within(n, None)
    }

    /// Takes `n` tokens, sleeping until they are due if that is no longer than `timeout`. If
    /// the wait would be longer it returns at once, without sleeping and without taking any
    /// token. `Duration::ZERO` tries once; `Duration::MAX` waits as long as needed.
    ///
    /// # Errors
    /// [`AcquireError::ExceedsBurst`] when `n > burst`; [`AcquireError::RateLimited`] with the
    /// wait that was needed when it exceeds `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let bucket = backpressure::TokenBucket::new(10.0, 1);
    /// bucket.acquire_timeout(1, Duration::ZERO).unwrap();
    /// let err = bucket.acquire_timeout(1, Duration::from_millis(1)).unwrap_err();
    /// assert!(err.retry_after().unwrap() > Duration::from_millis(1));
    /// ```
    pub fn acquire_timeout(&self, n: u32, timeout: Duration) -> Result<(), AcquireError> {
        self.acquire_within(n, Some(timeout))
    }

    /// Changes the refill rate. Tokens already earned stay earned; from now on tokens are
    /// earned at the new rate, so the bucket never holds more than `burst`.
    ///
    /// It takes effect for the next call. (If another thread is publishing a rate change at
    /// that very instant, this one is published by that thread as it finishes, nanoseconds
    /// later; `set_rate` itself never waits.)
    ///
    /// # Panics
    /// If `rate_per_sec` is not a number in `[1e-6, 1e9]`; the message names the value.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(10.0, 1);
    /// bucket.set_rate(20.0);
    /// assert_eq!(bucket.rate(), 20.0);
    /// ```
    pub fn set_rate(&self, rate_per_sec: f64) {
        if let Err(err) = check_rate("rate_per_sec", rate_per_sec) {
            panic!("TokenBucket::set_rate: {err}");
        }
        self.update_rate(|_| rate_per_sec);
    }

    /// The refill rate in tokens per second (the last one set).
    ///
    /// ```
    /// assert_eq!(backpressure::TokenBucket::new(2.5, 1).rate(), 2.5);
    /// ```
    pub fn rate(&self) -> f64 {
        self.schedule.requested()
    }

    /// The capacity: the most tokens the bucket holds, and the largest `n` that can pass.
    ///
    /// ```
    /// assert_eq!(backpressure::TokenBucket::new(1.0, 7).burst(), 7);
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Tokens available now (a snapshot: other threads may take them first).
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1.0, 3);
    /// bucket.try_acquire().unwrap();
    /// assert_eq!(bucket.available(), 2);
    /// ```
    pub fn available(&self) -> u32 {
        // Relaxed: a snapshot; nothing else is read through it.
        let spent = self.spent.load(Ordering::Relaxed);
        let earned = self.schedule.load().tokens_at(self.clock.raw(), &self.time);
        let ceiling = earned + u64::from(self.burst);
        ceiling.saturating_sub(spent.max(earned)) as u32
    }

    /// `f(rate)` becomes the requested rate, atomically, and is published without waiting.
    /// Callers validate what `f` returns.
    pub(crate) fn update_rate(&self, f: impl FnMut(f64) -> f64) -> f64 {
        if self.schedule.update_requested(f).is_some() {
            self.schedule.publish_pending(|live, rate| live.rebased(self.clock.raw(), rate, &self.time));
        }
        self.schedule.requested()
    }

    fn check_burst(&self, n: u32) -> Result<(), AcquireError> {
        if n > self.burst {
            return Err(AcquireError::ExceedsBurst { requested: n, burst: self.burst });
        }
        Ok(())
    }

    /// The non-waiting step: `n` tokens (`1 ≤ n ≤ burst`) now, or the exact wait (keeps B1).
    ///
    /// This is the usual case, small enough to inline into the caller: a clock reading within
    /// 146 years after the schedule's anchor, and no debt (`spent` within the bucket). A
    /// refusal is then decided by one load of `spent`, with no compare-and-swap, and captures
    /// the position it saw for `retry_after` to divide later. Anything else (a clock that
    /// stepped back, reservations ahead of the bucket) goes to [`take_general`](Self::take_general),
    /// which starts over from a fresh reading.
    #[inline(always)]
    fn take(&self, n: u32) -> Result<(), RateLimited> {
        let schedule = self.schedule.load();
        let Some((earned, low)) = schedule.at_fast(self.clock.raw(), &self.time) else {
            return self.take_general(n);
        };
        let ceiling = earned + u64::from(self.burst);
        // Relaxed: `spent` publishes nothing; the CAS alone makes grants add up (B1).
        let mut spent = self.spent.load(Ordering::Relaxed);
        loop {
            let end = spent.max(earned) + u64::from(n);
            if end > ceiling {
                if spent > ceiling {
                    return self.take_general(n);
                }
                // `end - burst` tokens must be earned: `end - ceiling` more whole ones, the
                // first of them partly earned already (the fraction in `low`).
                return Err(RateLimited::new(end - ceiling, low, schedule.per_ns));
            }
            // Relaxed: as above. A stale reading only makes us stricter.
            match self.spent.compare_exchange_weak(spent, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => spent = actual,
            }
        }
    }

    /// [`take`](Self::take) for any clock reading and any `spent`: forgives a clock step back
    /// (B2) when `spent` is further ahead than grants and reservations explain.
    #[cold]
    #[inline(never)]
    fn take_general(&self, n: u32) -> Result<(), RateLimited> {
        let schedule = self.schedule.load();
        let (earned, frac) = schedule.at(self.clock.raw(), &self.time);
        let ceiling = earned + u64::from(self.burst);
        // Relaxed: as in `take`.
        let mut spent = self.spent.load(Ordering::Relaxed);
        loop {
            let end = spent.max(earned) + u64::from(n);
            if end > ceiling {
                if spent > ceiling && spent > ceiling + schedule.slack() && self.forgive_step_back() {
                    // Relaxed: as in `take`.
                    spent = self.spent.load(Ordering::Relaxed);
                    continue;
                }
                return Err(RateLimited::new(end - ceiling, frac, schedule.per_ns));
            }
            // Relaxed: as in `take`.
            match self.spent.compare_exchange_weak(spent, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => spent = actual,
            }
        }
    }

    /// `acquire_n` / `acquire_timeout`: take at once, or reserve and sleep (B3).
    fn acquire_within(&self, n: u32, timeout: Option<Duration>) -> Result<(), AcquireError> {
        if n == 0 {
            return Ok(());
        }
        self.check_burst(n)?;
        if self.take(n).is_ok() {
            return Ok(());
        }
        let wait = self.reserve(n, timeout)?;
        sleep_for(wait);
        // Release: pairs with the Acquire load in `forgive_step_back`: a thread that sees the
        // reservation gone reads its clock after our wait ended (B3).
        self.reserved.fetch_sub(u64::from(n), Ordering::Release);
        Ok(())
    }

    /// Moves `spent` past `n` more tokens even if they are not earned yet and returns how long
    /// until they are; refuses (taking nothing) if that is longer than `timeout`. On `Ok` with
    /// a non-zero wait, `n` stays counted in `reserved` until the caller has slept (B3).
    fn reserve(&self, n: u32, timeout: Option<Duration>) -> Result<Duration, RateLimited> {
        let n64 = u64::from(n);
        // Relaxed: published by the Release CAS below, which is what a reader of `spent`
        // synchronizes with (B3).
        self.reserved.fetch_add(n64, Ordering::Relaxed);
        let schedule = self.schedule.load();
        let point = schedule.at(self.clock.raw(), &self.time);
        let earned = point.0;
        let ceiling = earned + u64::from(self.burst);
        // Relaxed: re-validated by the CAS.
        let mut spent = self.spent.load(Ordering::Relaxed);
        let wait = loop {
            if spent > ceiling + schedule.slack() && self.forgive_step_back() {
                // Relaxed: as above.
                spent = self.spent.load(Ordering::Relaxed);
                continue;
            }
            let end = spent.max(earned) + n64;
            let shortfall = Schedule::shortfall(point, end.saturating_sub(u64::from(self.burst)));
            let wait = nanos(wait_nanos(shortfall, schedule.per_ns));
            if timeout.is_some_and(|limit| wait > limit) {
                // Release: as in `acquire_within`.
                self.reserved.fetch_sub(n64, Ordering::Release);
                return Err(RateLimited::from_shortfall(shortfall, schedule.per_ns));
            }
            // Release: pairs with the Acquire load of `spent` in `forgive_step_back`; whoever
            // sees this reservation also sees it counted in `reserved` (B3).
            match self.spent.compare_exchange_weak(spent, end, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break wait,
                Err(actual) => spent = actual,
            }
        };
        if wait.is_zero() {
            // Release: as in `acquire_within`.
            self.reserved.fetch_sub(n64, Ordering::Release);
        }
        Ok(wait)
    }

    /// `spent` is further ahead than grants (B1) and sleeping reservations (B3) explain: the
    /// clock stepped back. Count the bucket as empty from the new reading (B2). Returns whether
    /// `spent` may have changed.
    #[cold]
    fn forgive_step_back(&self) -> bool {
        // Acquire: pairs with the Release CAS in `reserve`; a reservation we see in `spent` is
        // already counted in the `reserved` we load next.
        let spent = self.spent.load(Ordering::Acquire);
        // Acquire: pairs with the Release decrements after a sleep; a reservation missing here
        // had ended before the clock read below.
        let reserved = self.reserved.load(Ordering::Acquire);
        let schedule = self.schedule.load();
        let earned = schedule.tokens_at(self.clock.raw(), &self.time);
        let allowed = earned + u64::from(self.burst) + reserved + schedule.slack();
        if spent <= allowed {
            return false;
        }
        // Relaxed: like the CAS in `take`; failure means someone else moved `spent`.
        let _ = self.spent.compare_exchange(spent, allowed, Ordering::Relaxed, Ordering::Relaxed);
        true
    }
}

impl fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("rate", &self.rate())
            .field("burst", &self.burst)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenBucket`]; from [`TokenBucket::builder`].
///
/// ```
/// use backpressure::TokenBucket;
/// let err = TokenBucket::builder(0.0, 10).build().unwrap_err();
/// assert_eq!(err.field(), "rate_per_sec");
/// let err = TokenBucket::builder(1.0, 0).build().unwrap_err();
/// assert_eq!(err.field(), "burst");
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TokenBucketBuilder {
    rate: f64,
    burst: u32,
    clock: Option<Clock>,
    initial_tokens: Option<u32>,
}

impl TokenBucketBuilder {
    /// The clock to read time from; tests pass `quanta::Clock::mock()`. Default: `Clock::new()`.
    ///
    /// ```
    /// let (clock, mock) = quanta::Clock::mock();
    /// let bucket = backpressure::TokenBucket::builder(1.0, 1).clock(clock).build().unwrap();
    /// bucket.try_acquire().unwrap();
    /// mock.increment(std::time::Duration::from_secs(1));
    /// bucket.try_acquire().unwrap();
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Tokens in the bucket at the start (`0..=burst`). Default: `burst` (full).
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::builder(1.0, 10).initial_tokens(3).build().unwrap();
    /// assert_eq!(bucket.available(), 3);
    /// ```
    pub fn initial_tokens(mut self, tokens: u32) -> Self {
        self.initial_tokens = Some(tokens);
        self
    }

    /// Validates the settings and builds the bucket.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `rate_per_sec` (not a number in `[1e-6, 1e9]`), `burst` (zero)
    /// or `initial_tokens` (more than `burst`).
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::builder(100.0, 10).build()?;
    /// # Ok::<(), backpressure::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<TokenBucket, ConfigError> {
        check_rate("rate_per_sec", self.rate)?;
        if self.burst == 0 {
            return Err(ConfigError::new("burst", "must be at least 1, got 0"));
        }
        let initial = self.initial_tokens.unwrap_or(self.burst);
        if initial > self.burst {
            return Err(ConfigError::new(
                "initial_tokens",
                format!("must be at most the burst ({}), got {initial}", self.burst),
            ));
        }
        let clock = RawClock::new(self.clock.unwrap_or_default());
        let time = TimeBase::of(clock.clock());
        let schedule = Schedule::new(self.rate, clock.raw(), &time);
        // B1 at the start: `initial` tokens available at time zero.
        let spent = schedule.tokens0 + u64::from(self.burst - initial);
        Ok(TokenBucket {
            spent: CachePadded::new(AtomicU64::new(spent)),
            reserved: CachePadded::new(AtomicU64::new(0)),
            schedule: Published::new(schedule, self.rate),
            clock,
            time,
            burst: self.burst,
        })
    }
}

/// Checks a rate for `field`.
pub(crate) fn check_rate(field: &'static str, rate: f64) -> Result<(), ConfigError> {
    if rate.is_nan() {
        return Err(ConfigError::new(field, "must be a number of tokens per second, got NaN"));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(ConfigError::new(
            field,
            format!("must be between {MIN_RATE:e} and {MAX_RATE:e} tokens per second, got {rate}"),
        ));
    }
    Ok(())
}

/// Sleeps `wait` (the thread sleeps; no spinning), through the crate's saturating deadline.
fn sleep_for(wait: Duration) {
    if wait.is_zero() {
        return;
    }
    let deadline = deadline::after(wait);
    loop {
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => deadline::MAX_SLICE, // centuries away: sleep in day-long slices
        };
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(deadline::MAX_SLICE));
    }
}
