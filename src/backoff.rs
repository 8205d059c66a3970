//! Retrying without hammering: [`Backoff`] (exponential delays with jitter), [`retry`] and
//! [`retry_submit`].
//!
//! Use these on the client side of a busy service: when a call is refused (`Full`,
//! `Overloaded`, a 503), wait a growing, randomised delay before trying again, and give up
//! after a bounded number of tries or a bounded total wait. Jitter spreads retries of many
//! clients over time so they do not come back in lock-step.
//!
//! # Algorithm
//! The un-jittered delay of attempt `n` (counting from 0) is `min(max, initial × multiplierⁿ)`.
//! It is kept as a running value that is multiplied once per step and clamped to `max`, so
//! there is no exponent to overflow: once the delay reaches `max` it stays there, at attempt
//! 10 or attempt 10,000,000. Multiplication saturates (an integer multiplier is applied with
//! checked integer arithmetic, others in `f64` nanoseconds compared to `max` before
//! converting back), so no attempt count and no `Duration::MAX` can panic.
//!
//! Jitter (the definitions of AWS's "Exponential Backoff and Jitter"), applied to that delay `d`:
//! - [`Jitter::None`] gives `d`;
//! - [`Jitter::Full`] gives uniform in `[0, d]` (drawn in whole nanoseconds from `[1 ns, d]`, so it
//!   never sleeps zero unless `d` is zero);
//! - [`Jitter::Equal`] gives `d/2 +` uniform in `[0, d/2]`;
//! - [`Jitter::Decorrelated`] gives `min(max, uniform in [initial, 3 × previous])`, where `previous`
//!   is the last delay returned (starting at `initial`); it ignores the multiplier.
//!
//! The iterator ends after `max_retries` delays, or before a delay that would take the total of
//! the delays it has returned past `max_elapsed`. Both limits are optional; without either it
//! never ends.
//!
//! # Invariants
//! - B1: every returned delay is `≤ max` (and `≤` the remaining `max_elapsed` budget).
//! - B2: a returned delay is zero only if `initial` is zero.
//! - B3: at most `max_retries` delays are returned; after the first `None`, always `None`.

use std::error::Error;
use std::fmt;
use std::iter::FusedIterator;
use std::time::Duration;

use crate::queue::{BoundedQueue, TrySubmitError};

/// How to randomise each delay. See the [module docs](self) for the formulas.
///
/// ```
/// use backpressure::backoff::{Backoff, Jitter};
/// use std::time::Duration;
///
/// let mut b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5)).jitter(Jitter::Equal);
/// let first = b.next().unwrap();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// No randomness: exactly `min(max, initial × multiplierⁿ)`.
    None,
    /// Uniform in `[0, d]` (never zero unless `d` is). The AWS recommendation for most clients.
    #[default]
    Full,
    /// `d/2` plus uniform in `[0, d/2]`: never less than half the exponential delay.
    Equal,
    /// `min(max, uniform in [initial, 3 × previous delay])`; does not use the multiplier.
    Decorrelated,
}

/// An iterator of retry delays: exponential growth up to a cap, with optional jitter and
/// limits. See the [module docs](self) for the exact formulas.
///
/// Iterating never allocates and never panics, whatever the attempt count.
///
/// ```
/// use backpressure::backoff::{Backoff, Jitter};
/// use std::time::Duration;
///
/// let delays: Vec<Duration> = Backoff::exponential(Duration::from_millis(100), Duration::from_millis(500))
///     .jitter(Jitter::None)
///     .max_retries(4)
///     .collect();
/// let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
/// assert_eq!(ms, [100, 200, 400, 500]);
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
    max_retries: Option<u32>,
    max_elapsed: Option<Duration>,
    rng: fastrand::Rng,
    /// The un-jittered delay of the next step (`initial × multiplierⁿ`, clamped to `max`).
    current: Duration,
    /// The last returned delay, for [`Jitter::Decorrelated`].
    previous: Duration,
    /// Delays returned so far (keeps B3).
    returned: u32,
    /// Sum of the delays returned so far (saturating).
    slept: Duration,
    done: bool,
}

impl Backoff {
    /// Delays starting at `initial`, doubling each time, never above `max`, with
    /// [`Jitter::Full`] and no limit on the number of retries.
    ///
    /// Set [`max_retries`](Self::max_retries) or [`max_elapsed`](Self::max_elapsed) before
    /// handing it to [`retry`], or it retries for as long as the error stays retryable.
    ///
    /// # Panics
    /// If `max < initial`; the message names both values.
    ///
    /// ```
    /// use backpressure::backoff::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)).max_retries(3);
    /// assert_eq!(b.count(), 3);
    /// ```
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        assert!(max >= initial, "Backoff max ({max:?}) must be at least initial ({initial:?})");
        Self {
            initial,
            max,
            multiplier: 2.0,
            jitter: Jitter::Full,
            max_retries: None,
            max_elapsed: None,
            rng: fastrand::Rng::new(),
            current: initial,
            previous: initial,
            returned: 0,
            slept: Duration::ZERO,
            done: false,
        }
    }

    /// Sets the growth factor (default 2). `1.0` gives constant delays; `f64::INFINITY` jumps
    /// to `max` after the first delay. Ignored by [`Jitter::Decorrelated`].
    ///
    /// # Panics
    /// If `multiplier` is below 1 or NaN (delays would shrink or be undefined); the message
    /// names the value.
    ///
    /// ```
    /// use backpressure::backoff::{Backoff, Jitter};
    /// use std::time::Duration;
    ///
    /// let mut b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
    ///     .multiplier(1.5)
    ///     .jitter(Jitter::None);
    /// assert_eq!(b.next(), Some(Duration::from_millis(100)));
    /// assert_eq!(b.next(), Some(Duration::from_millis(150)));
    /// ```
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        assert!(multiplier >= 1.0, "Backoff multiplier must be at least 1 (and not NaN), got {multiplier}");
        self.multiplier = multiplier;
        self
    }

    /// Sets the jitter strategy (default [`Jitter::Full`]).
    ///
    /// ```
    /// use backpressure::backoff::{Backoff, Jitter};
    /// use std::time::Duration;
    ///
    /// let mut b = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(1)).jitter(Jitter::None);
    /// assert_eq!(b.next(), Some(Duration::from_secs(1)));
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Ends the iterator after `retries` delays (so [`retry`] makes at most `retries + 1`
    /// attempts). `0` means "do not retry".
    ///
    /// ```
    /// use backpressure::backoff::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::exponential(Duration::from_millis(1), Duration::from_millis(8)).max_retries(0);
    /// assert_eq!(b.count(), 0);
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Ends the iterator before a delay that would take the total of the returned delays past
    /// `budget`. It bounds time spent *sleeping*, not time spent in the operation.
    ///
    /// ```
    /// use backpressure::backoff::{Backoff, Jitter};
    /// use std::time::Duration;
    ///
    /// let total: Duration = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10))
    ///     .jitter(Jitter::None)
    ///     .max_elapsed(Duration::from_millis(1000))
    ///     .sum();
    /// assert_eq!(total, Duration::from_millis(700)); // 100 + 200 + 400; 800 more would exceed 1 s
    /// ```
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = Some(budget);
        self
    }

    /// Seeds the jitter's random generator, so the sequence is the same on every run (for
    /// tests and reproducible simulations). By default each `Backoff` gets a fresh seed.
    ///
    /// ```
    /// use backpressure::backoff::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = || Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)).seed(42).max_retries(5);
    /// assert!(b().eq(b()));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// Starts the sequence again from `initial` (after a success, say), keeping the settings
    /// and the random generator's state.
    ///
    /// ```
    /// use backpressure::backoff::{Backoff, Jitter};
    /// use std::time::Duration;
    ///
    /// let mut b = Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1)).jitter(Jitter::None);
    /// b.next();
    /// b.next();
    /// b.reset();
    /// assert_eq!(b.next(), Some(Duration::from_millis(1)));
    /// ```
    pub fn reset(&mut self) {
        self.current = self.initial;
        self.previous = self.initial;
        self.returned = 0;
        self.slept = Duration::ZERO;
        self.done = false;
    }

    /// The number of delays returned since creation or the last [`reset`](Self::reset).
    ///
    /// ```
    /// use backpressure::backoff::Backoff;
    /// use std::time::Duration;
    ///
    /// let mut b = Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1));
    /// b.next();
    /// assert_eq!(b.retries(), 1);
    /// ```
    pub fn retries(&self) -> u32 {
        self.returned
    }

    /// The jittered delay for this step (before the limits are checked).
    fn draw(&mut self) -> Duration {
        let d = self.current;
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => uniform_nanos(&mut self.rng, 1.min(nanos(d)), nanos(d)),
            Jitter::Equal => {
                let n = nanos(d);
                uniform_nanos(&mut self.rng, n - n / 2, n)
            }
            Jitter::Decorrelated => {
                let hi = nanos(self.previous).saturating_mul(3).min(nanos(self.max));
                uniform_nanos(&mut self.rng, nanos(self.initial), hi.max(nanos(self.initial)))
            }
        }
    }

    /// Advances the un-jittered delay by one step, saturating at `max` (keeps B1).
    fn grow(&mut self) {
        self.current = scale(self.current, self.multiplier, self.max);
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.done || self.max_retries.is_some_and(|limit| self.returned >= limit) {
            self.done = true; // keeps B3
            return None;
        }
        let delay = self.draw();
        let slept = self.slept.saturating_add(delay);
        if self.max_elapsed.is_some_and(|budget| slept > budget) {
            self.done = true; // keeps B1 for the budget
            return None;
        }
        self.slept = slept;
        self.previous = delay;
        self.returned = self.returned.saturating_add(1);
        self.grow();
        Some(delay)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.max_retries {
            _ if self.done => (0, Some(0)),
            Some(limit) => (0, Some(limit.saturating_sub(self.returned) as usize)),
            None if self.max_elapsed.is_none() => (usize::MAX, None),
            None => (0, None),
        }
    }
}

impl FusedIterator for Backoff {}

/// `d` in nanoseconds (a `u128`, since `Duration::MAX` does not fit in a `u64` of nanoseconds).
fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

/// The duration of `n` nanoseconds; `n` comes from a `Duration`, so it always fits.
fn from_nanos(n: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(n / NANOS_PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (n % NANOS_PER_SEC) as u32)
}

/// Uniform in `[lo, hi]` nanoseconds (`lo ≤ hi`).
fn uniform_nanos(rng: &mut fastrand::Rng, lo: u128, hi: u128) -> Duration {
    if lo >= hi {
        return from_nanos(hi);
    }
    from_nanos(rng.u128(lo..=hi))
}

/// `min(cap, d × m)` for `m ≥ 1`, without overflow or panic.
fn scale(d: Duration, m: f64, cap: Duration) -> Duration {
    if d >= cap || d.is_zero() {
        return d.min(cap); // zero stays zero, even for an infinite multiplier
    }
    // Exact for whole multipliers (the common 2.0), so sequences carry no rounding drift.
    if m.fract() == 0.0 && m <= u32::MAX as f64 {
        return d.checked_mul(m as u32).map_or(cap, |next| next.min(cap));
    }
    let next = nanos(d) as f64 * m;
    if next >= nanos(cap) as f64 {
        return cap; // also catches an infinite multiplier (`next` is not NaN: `d` is not zero)
    }
    from_nanos(next.round() as u128).min(cap)
}

/// Why [`retry`] gave up.
///
/// ```
/// use backpressure::backoff::{retry_with_sleep, Backoff, RetryError};
/// use std::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1)).max_retries(2);
/// let err = retry_with_sleep(backoff, |_| true, || Err::<(), _>("busy"), |_| {}).unwrap_err();
/// assert_eq!(err, RetryError::Exhausted { last: "busy", attempts: 3 });
/// assert_eq!(err.to_string(), "gave up after 3 attempts: busy");
/// assert_eq!(err.into_inner(), "busy");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryError<E> {
    /// Every attempt failed with a retryable error and the backoff ran out.
    Exhausted {
        /// The error of the last attempt.
        last: E,
        /// How many times the operation was called.
        attempts: u32,
    },
    /// An attempt failed with an error that `is_retryable` rejected; no further attempt was made.
    Permanent(E),
}

impl<E> RetryError<E> {
    /// The last error the operation returned.
    ///
    /// ```
    /// let err = backpressure::backoff::RetryError::Permanent("denied");
    /// assert_eq!(err.into_inner(), "denied");
    /// ```
    pub fn into_inner(self) -> E {
        match self {
            Self::Exhausted { last, .. } | Self::Permanent(last) => last,
        }
    }

    /// A reference to the last error the operation returned.
    ///
    /// ```
    /// let err = backpressure::backoff::RetryError::Exhausted { last: 7, attempts: 2 };
    /// assert_eq!(*err.inner(), 7);
    /// ```
    pub fn inner(&self) -> &E {
        match self {
            Self::Exhausted { last, .. } | Self::Permanent(last) => last,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted { last, attempts } => write!(f, "gave up after {attempts} attempts: {last}"),
            Self::Permanent(e) => write!(f, "permanent error: {e}"),
        }
    }
}

impl<E: Error + 'static> Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.inner())
    }
}

/// Calls `op` until it succeeds, sleeping the next delay of `backoff` after each retryable
/// error (`is_retryable(&err)`), with [`std::thread::sleep`].
///
/// It never sleeps after the last attempt: when the backoff runs out it returns at once.
/// With `.max_retries(n)` that is at most `n + 1` calls of `op` and `n` sleeps.
///
/// # Errors
/// [`RetryError::Permanent`] on the first non-retryable error (no sleep before returning);
/// [`RetryError::Exhausted`] with the last error and the number of attempts when the backoff
/// ends.
///
/// ```
/// use backpressure::backoff::{retry, Backoff};
/// use std::time::Duration;
///
/// let mut calls = 0;
/// let value = retry(
///     Backoff::exponential(Duration::from_micros(10), Duration::from_micros(100)).max_retries(5),
///     |err: &&str| *err == "busy",
///     || {
///         calls += 1;
///         if calls < 3 { Err("busy") } else { Ok(calls) }
///     },
/// );
/// assert_eq!(value, Ok(3));
/// ```
pub fn retry<T, E>(
    backoff: impl IntoIterator<Item = Duration>,
    is_retryable: impl FnMut(&E) -> bool,
    op: impl FnMut() -> Result<T, E>,
) -> Result<T, RetryError<E>> {
    retry_with_sleep(backoff, is_retryable, op, std::thread::sleep)
}

/// [`retry`] with a caller-supplied `sleep`: for tests (record the delays instead of
/// sleeping) or for a sleep that can be interrupted.
///
/// # Errors
/// As [`retry`].
///
/// ```
/// use backpressure::backoff::{retry_with_sleep, Backoff, Jitter, RetryError};
/// use std::time::Duration;
///
/// let mut slept = Vec::new();
/// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60)).jitter(Jitter::None).max_retries(3);
/// let result = retry_with_sleep(backoff, |_| true, || Err::<(), _>("down"), |d| slept.push(d));
/// assert_eq!(result, Err(RetryError::Exhausted { last: "down", attempts: 4 }));
/// assert_eq!(slept, [1, 2, 4].map(Duration::from_secs)); // no sleep after the 4th attempt
/// ```
pub fn retry_with_sleep<T, E>(
    backoff: impl IntoIterator<Item = Duration>,
    mut is_retryable: impl FnMut(&E) -> bool,
    mut op: impl FnMut() -> Result<T, E>,
    mut sleep: impl FnMut(Duration),
) -> Result<T, RetryError<E>> {
    let mut delays = backoff.into_iter();
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        let err = match op() {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if !is_retryable(&err) {
            return Err(RetryError::Permanent(err));
        }
        match delays.next() {
            Some(delay) => sleep(delay),
            None => return Err(RetryError::Exhausted { last: err, attempts }),
        }
    }
}

/// Submits `item` to `queue` with [`try_submit`](BoundedQueue::try_submit), retrying on
/// `Full` after each delay of `backoff` (with [`std::thread::sleep`]).
///
/// The item handed back by each refusal is the one offered next, so it is never lost: when
/// the backoff runs out, it comes back inside the error. `Closed` is permanent and returned at
/// once. It never sleeps after the last try.
///
/// # Errors
/// [`TrySubmitError::Full`] with the item when retries run out; [`TrySubmitError::Closed`]
/// with the item as soon as the queue is closed.
///
/// ```
/// use backpressure::backoff::{retry_submit, Backoff};
/// use backpressure::{BoundedQueue, TrySubmitError};
/// use std::time::Duration;
///
/// let queue = BoundedQueue::new(1);
/// queue.try_submit("first").unwrap();
/// let backoff = Backoff::exponential(Duration::from_micros(10), Duration::from_micros(50)).max_retries(2);
/// let err = retry_submit(&queue, "second", backoff).unwrap_err();
/// assert_eq!(err, TrySubmitError::Full("second")); // nobody drained it: the item comes back
/// ```
pub fn retry_submit<T>(
    queue: &BoundedQueue<T>,
    item: T,
    backoff: impl IntoIterator<Item = Duration>,
) -> Result<(), TrySubmitError<T>> {
    retry_submit_with_sleep(queue, item, backoff, std::thread::sleep)
}

/// [`retry_submit`] with a caller-supplied `sleep` (see [`retry_with_sleep`]).
///
/// # Errors
/// As [`retry_submit`].
///
/// ```
/// use backpressure::backoff::{retry_submit_with_sleep, Backoff};
/// use backpressure::BoundedQueue;
/// use std::time::Duration;
///
/// let queue = BoundedQueue::new(1);
/// queue.try_submit(1).unwrap();
/// // The "sleep" makes room, as a consumer would.
/// let backoff = Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1)).max_retries(3);
/// retry_submit_with_sleep(&queue, 2, backoff, |_| drop(queue.try_recv())).unwrap();
/// assert_eq!(queue.try_recv(), Ok(2));
/// ```
pub fn retry_submit_with_sleep<T>(
    queue: &BoundedQueue<T>,
    mut item: T,
    backoff: impl IntoIterator<Item = Duration>,
    mut sleep: impl FnMut(Duration),
) -> Result<(), TrySubmitError<T>> {
    let mut delays = backoff.into_iter();
    loop {
        item = match queue.try_submit(item) {
            Ok(()) => return Ok(()),
            Err(TrySubmitError::Full(item)) => item,
            Err(closed) => return Err(closed),
        };
        match delays.next() {
            Some(delay) => sleep(delay),
            None => return Err(TrySubmitError::Full(item)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_without_jitter_doubles_then_stays_at_max() {
        let got: Vec<_> = Backoff::exponential(ms(100), ms(1000)).jitter(Jitter::None).take(6).collect();
        assert_eq!(got, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
    }

    #[test]
    fn backoff_attempt_ten_thousand_yields_max_without_overflow() {
        let mut b = Backoff::exponential(Duration::from_nanos(1), Duration::MAX).jitter(Jitter::None);
        assert_eq!(b.nth(9_999), Some(Duration::MAX));
        let mut b = Backoff::exponential(ms(1), ms(30)).jitter(Jitter::None).multiplier(1.7);
        assert_eq!(b.nth(9_999), Some(ms(30)));
        let mut b = Backoff::exponential(ms(1), Duration::MAX).multiplier(f64::INFINITY).jitter(Jitter::None);
        assert_eq!((b.next(), b.next()), (Some(ms(1)), Some(Duration::MAX)));
    }

    #[test]
    fn backoff_jitter_stays_in_bounds_for_each_strategy() {
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let b = Backoff::exponential(ms(10), ms(80)).jitter(jitter).seed(7);
            let mut previous = ms(10);
            for (n, d) in b.take(200).enumerate() {
                let exp = ms(10).saturating_mul(1 << n.min(3)).min(ms(80));
                let (lo, hi) = match jitter {
                    Jitter::Full => (Duration::from_nanos(1), exp),
                    Jitter::Equal => (exp / 2, exp),
                    _ => (ms(10), (previous * 3).min(ms(80))),
                };
                assert!(d >= lo && d <= hi, "{jitter:?} attempt {n}: {d:?} not in [{lo:?}, {hi:?}]");
                previous = d;
            }
        }
    }

    #[test]
    fn backoff_zero_initial_may_yield_zero_and_never_panics() {
        for jitter in [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let got: Vec<_> = Backoff::exponential(Duration::ZERO, Duration::ZERO).jitter(jitter).take(3).collect();
            assert_eq!(got, [Duration::ZERO; 3]);
        }
    }

    #[test]
    fn retry_never_sleeps_after_the_last_attempt() {
        let mut sleeps = 0;
        let mut calls = 0;
        let b = Backoff::exponential(ms(1), ms(1)).max_retries(4);
        let result = retry_with_sleep(
            b,
            |_: &()| true,
            || {
                calls += 1;
                Err::<(), ()>(())
            },
            |_| sleeps += 1,
        );
        assert_eq!(result, Err(RetryError::Exhausted { last: (), attempts: 5 }));
        assert_eq!((calls, sleeps), (5, 4));
    }

    #[test]
    fn retry_submit_hands_back_the_same_item_when_retries_run_out() {
        let queue = BoundedQueue::new(1);
        queue.try_submit(String::from("a")).unwrap();
        let mut sleeps = 0;
        let b = Backoff::exponential(ms(1), ms(1)).max_retries(3);
        let err = retry_submit_with_sleep(&queue, String::from("b"), b, |_| sleeps += 1).unwrap_err();
        assert_eq!(err, TrySubmitError::Full(String::from("b")));
        assert_eq!(sleeps, 3);
    }
}
