//! [`AdaptiveRateLimiter`]: a token bucket whose rate follows the health of what it protects
//! (AIMD: additive-increase/multiplicative-decrease's multiplicative cousin).
//!
//! `record_error()` multiplies the rate by the decrease factor (default 0.9) but never below
//! the floor (default 10% of the base rate); `record_success()` multiplies it by the increase
//! factor (default 1.01) but never above the base rate, the bucket's rate at construction.
//!
//! The rate *is* the bucket's requested rate, an `f64` bit pattern in one atomic word, and
//! each record is one compare-and-swap on it (retried if another record won the race; no
//! record's effect is lost), followed by a non-waiting publication to the bucket (see
//! `published.rs`). Both records are lock-free. Because every update is a multiplication
//! followed by a clamp, a batch of concurrent records ends at the same rate as the same records
//! applied one by one in the order their CASes succeeded.

use std::fmt;
use std::time::Duration;

use super::bucket::{check_rate, TokenBucket};
use super::error::{AcquireError, RateLimited};
use super::schedule::MIN_RATE;
use crate::error::ConfigError;

const DEFAULT_INCREASE: f64 = 1.01;
const DEFAULT_DECREASE: f64 = 0.9;
const DEFAULT_FLOOR_FRACTION: f64 = 0.1;

/// A [`TokenBucket`] whose rate drops on errors and recovers on successes.
///
/// ```
/// use backpressure::{AdaptiveRateLimiter, TokenBucket};
///
/// let limiter = AdaptiveRateLimiter::new(TokenBucket::new(100.0, 10));
/// if limiter.try_acquire().is_ok() {
///     match call_service() {
///         Ok(()) => limiter.record_success(),
///         Err(()) => limiter.record_error(),
///     }
/// }
/// # fn call_service() -> Result<(), ()> { Err(()) }
/// assert_eq!(limiter.current_rate(), 90.0);
/// ```
pub struct AdaptiveRateLimiter {
    bucket: TokenBucket,
    base: f64,
    floor: f64,
    increase: f64,
    decrease: f64,
}

impl AdaptiveRateLimiter {
    /// Wraps `bucket` with the default factors: ×0.9 per error, ×1.01 per success, floor at 10%
    /// of the bucket's current rate (the base), but not below [`MIN_RATE`](crate::rate::MIN_RATE).
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(50.0, 5));
    /// assert_eq!(limiter.base_rate(), 50.0);
    /// assert_eq!(limiter.min_rate(), 5.0);
    /// ```
    pub fn new(bucket: TokenBucket) -> Self {
        let base = bucket.rate();
        Self {
            floor: (base * DEFAULT_FLOOR_FRACTION).max(MIN_RATE),
            bucket,
            base,
            increase: DEFAULT_INCREASE,
            decrease: DEFAULT_DECREASE,
        }
    }

    /// A builder to choose the factors and the floor.
    ///
    /// ```
    /// use backpressure::{AdaptiveRateLimiter, TokenBucket};
    /// let limiter = AdaptiveRateLimiter::builder(TokenBucket::new(100.0, 10))
    ///     .decrease_factor(0.5)
    ///     .increase_factor(1.1)
    ///     .min_rate(20.0)
    ///     .build()
    ///     .unwrap();
    /// limiter.record_error();
    /// limiter.record_error();
    /// limiter.record_error();
    /// assert_eq!(limiter.current_rate(), 20.0);
    /// ```
    pub fn builder(bucket: TokenBucket) -> AdaptiveRateLimiterBuilder {
        let floor = (bucket.rate() * DEFAULT_FLOOR_FRACTION).max(MIN_RATE);
        AdaptiveRateLimiterBuilder { bucket, increase: DEFAULT_INCREASE, decrease: DEFAULT_DECREASE, floor }
    }

    /// The call went well: rate × increase factor, capped at the base rate. Lock-free.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(100.0, 1));
    /// limiter.record_error();
    /// limiter.record_success();
    /// assert_eq!(limiter.current_rate(), 100.0 * 0.9 * 1.01);
    /// ```
    pub fn record_success(&self) {
        let (increase, base) = (self.increase, self.base);
        self.bucket.update_rate(|rate| (rate * increase).min(base));
    }

    /// The call failed (overload, timeout): rate × decrease factor, floored. Lock-free.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(100.0, 1));
    /// limiter.record_error();
    /// assert_eq!(limiter.current_rate(), 90.0);
    /// ```
    pub fn record_error(&self) {
        let (decrease, floor) = (self.decrease, self.floor);
        self.bucket.update_rate(|rate| (rate * decrease).max(floor));
    }

    /// The rate now, tokens per second.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 1));
    /// assert_eq!(limiter.current_rate(), 8.0);
    /// ```
    pub fn current_rate(&self) -> f64 {
        self.bucket.rate()
    }

    /// The ceiling: the bucket's rate when the limiter was built.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 1));
    /// assert_eq!(limiter.base_rate(), 8.0);
    /// ```
    pub fn base_rate(&self) -> f64 {
        self.base
    }

    /// The floor under which errors do not push the rate.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 1));
    /// assert_eq!(limiter.min_rate(), 0.8);
    /// ```
    pub fn min_rate(&self) -> f64 {
        self.floor
    }

    /// The bucket inside, for `available()`, `burst()` and the `acquire*` family.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 3));
    /// assert_eq!(limiter.bucket().burst(), 3);
    /// ```
    pub fn bucket(&self) -> &TokenBucket {
        &self.bucket
    }

    /// [`TokenBucket::try_acquire`] at the current rate.
    ///
    /// # Errors
    /// [`RateLimited`] when no token is available now.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 1));
    /// assert!(limiter.try_acquire().is_ok());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.bucket.try_acquire()
    }

    /// [`TokenBucket::try_acquire_n`] at the current rate.
    ///
    /// # Errors
    /// As [`TokenBucket::try_acquire_n`].
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(8.0, 2));
    /// assert!(limiter.try_acquire_n(2).is_ok());
    /// ```
    pub fn try_acquire_n(&self, n: u32) -> Result<(), AcquireError> {
        self.bucket.try_acquire_n(n)
    }

    /// [`TokenBucket::acquire`] at the current rate: sleeps until a token is due.
    ///
    /// ```
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(1000.0, 1));
    /// limiter.acquire();
    /// ```
    pub fn acquire(&self) {
        self.bucket.acquire();
    }

    /// [`TokenBucket::acquire_timeout`] at the current rate.
    ///
    /// # Errors
    /// As [`TokenBucket::acquire_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = backpressure::AdaptiveRateLimiter::new(backpressure::TokenBucket::new(1000.0, 1));
    /// assert!(limiter.acquire_timeout(1, Duration::from_millis(100)).is_ok());
    /// ```
    pub fn acquire_timeout(&self, n: u32, timeout: Duration) -> Result<(), AcquireError> {
        self.bucket.acquire_timeout(n, timeout)
    }
}

impl fmt::Debug for AdaptiveRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveRateLimiter")
            .field("current_rate", &self.current_rate())
            .field("base", &self.base)
            .field("floor", &self.floor)
            .field("increase", &self.increase)
            .field("decrease", &self.decrease)
            .field("bucket", &self.bucket)
            .finish()
    }
}

/// Configures an [`AdaptiveRateLimiter`]; from [`AdaptiveRateLimiter::builder`].
///
/// ```
/// use backpressure::{AdaptiveRateLimiter, TokenBucket};
/// let err = AdaptiveRateLimiter::builder(TokenBucket::new(10.0, 1)).decrease_factor(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "decrease_factor");
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AdaptiveRateLimiterBuilder {
    bucket: TokenBucket,
    increase: f64,
    decrease: f64,
    floor: f64,
}

impl AdaptiveRateLimiterBuilder {
    /// Factor applied per success; must be finite and greater than 1. Default 1.01.
    ///
    /// ```
    /// # use backpressure::{AdaptiveRateLimiter, TokenBucket};
    /// let l = AdaptiveRateLimiter::builder(TokenBucket::new(10.0, 1)).increase_factor(1.5).build().unwrap();
    /// ```
    pub fn increase_factor(mut self, factor: f64) -> Self {
        self.increase = factor;
        self
    }

    /// Factor applied per error; must be strictly between 0 and 1. Default 0.9.
    ///
    /// ```
    /// # use backpressure::{AdaptiveRateLimiter, TokenBucket};
    /// let l = AdaptiveRateLimiter::builder(TokenBucket::new(10.0, 1)).decrease_factor(0.5).build().unwrap();
    /// ```
    pub fn decrease_factor(mut self, factor: f64) -> Self {
        self.decrease = factor;
        self
    }

    /// The lowest rate errors can bring it to, tokens per second; between
    /// [`MIN_RATE`](crate::rate::MIN_RATE) and the base rate. Default 10% of the base rate.
    ///
    /// ```
    /// # use backpressure::{AdaptiveRateLimiter, TokenBucket};
    /// let l = AdaptiveRateLimiter::builder(TokenBucket::new(10.0, 1)).min_rate(2.0).build().unwrap();
    /// assert_eq!(l.min_rate(), 2.0);
    /// ```
    pub fn min_rate(mut self, rate_per_sec: f64) -> Self {
        self.floor = rate_per_sec;
        self
    }

    /// Validates the settings and builds the limiter.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `increase_factor`, `decrease_factor` or `min_rate`.
    ///
    /// ```
    /// # use backpressure::{AdaptiveRateLimiter, TokenBucket};
    /// let err = AdaptiveRateLimiter::builder(TokenBucket::new(10.0, 1)).min_rate(20.0).build().unwrap_err();
    /// assert_eq!(err.field(), "min_rate");
    /// ```
    pub fn build(self) -> Result<AdaptiveRateLimiter, ConfigError> {
        if !(self.increase.is_finite() && self.increase > 1.0) {
            return Err(ConfigError::new(
                "increase_factor",
                format!("must be a finite number greater than 1, got {}", self.increase),
            ));
        }
        if !(self.decrease > 0.0 && self.decrease < 1.0) {
            return Err(ConfigError::new(
                "decrease_factor",
                format!("must be strictly between 0 and 1, got {}", self.decrease),
            ));
        }
        let base = self.bucket.rate();
        check_rate("min_rate", self.floor)?;
        if self.floor > base {
            return Err(ConfigError::new(
                "min_rate",
                format!("must be at most the base rate {base}, got {}", self.floor),
            ));
        }
        Ok(AdaptiveRateLimiter {
            bucket: self.bucket,
            base,
            floor: self.floor,
            increase: self.increase,
            decrease: self.decrease,
        })
    }
}
