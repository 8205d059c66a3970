//! Rate limiting: [`TokenBucket`] and the self-tuning [`AdaptiveRateLimiter`] built on it.
//!
//! A token bucket lets through at most `burst` requests at once and `rate` per second on
//! average: a worker asks "may I?" with [`TokenBucket::try_acquire`] (a clock read and one
//! compare-and-swap, a refusal not even that: a few nanoseconds, no lock, no allocation), or
//! waits its turn with
//! [`acquire`](TokenBucket::acquire). The adaptive limiter moves the rate with the health of
//! the service behind it: multiplicative decrease on errors, slow increase on success.
//!
//! ```
//! use backpressure::TokenBucket;
//!
//! let bucket = TokenBucket::new(10_000.0, 100); // 10k/s, bursts of 100
//! let mut sent = 0;
//! for _ in 0..1000 {
//!     if bucket.try_acquire().is_ok() {
//!         sent += 1; // call the service
//!     }
//! }
//! assert!(sent >= 100);
//! ```
//!
//! # Algorithm
//! A GCRA-style bucket kept in *token space*. A schedule (`schedule.rs`) is the line "whole
//! tokens earned by time `t`", `earned(t)`, evaluated from a fixed anchor in exact 1.63 fixed
//! point, so no rounding accumulates (3/s for an hour earns exactly 10,800 tokens; 10⁷/s earns
//! one per 100 ns). `t` is the clock's raw reading (TSC ticks), never scaled to nanoseconds on
//! the way: the tick length is folded into the line's slope when it is built. The whole mutable state is one word, `spent`: the tokens handed out so
//! far on the same scale. At time `t` the bucket holds
//! `earned(t) + burst − max(spent, earned(t))` tokens: `spent` lagging behind `earned` is a
//! full bucket (an idle bucket refills to `burst` and no more), `spent` ahead of it is debt.
//!
//! `try_acquire_n(n)` reads the clock, computes `end = max(spent, earned(t)) + n` and, if
//! `end ≤ earned(t) + burst`, installs it with one CAS (retrying on a lost race). Otherwise it
//! refuses, having loaded `spent` once and stored nothing, with `retry_after`, the exact time
//! until `earned` reaches `end − burst`: the refusal captures the position it saw, and
//! `retry_after()` does the division only when called.
//!
//! `acquire_n` first tries the same; if it must wait, it *reserves*: it installs `end` even
//! though it is beyond `earned(t) + burst`, then sleeps until `end` is covered. The next waiter
//! reserves after it, so waiters queue in the schedule, each sleeping until its own grant
//! time; none are woken to race for a token. `acquire_timeout` computes the same wait and, if
//! it is longer than the timeout, returns without installing anything.
//!
//! `set_rate` re-anchors the line at the current time with the exact position there (the
//! fraction of a token earned carries over) and publishes it through a lock-free double buffer
//! (`published.rs`). `spent` is untouched: debt and reservations keep their token counts.
//!
//! A clock that steps back makes `earned(t)` smaller, so `spent` looks further ahead than
//! grants can make it. The bucket then counts itself empty as of the new reading (B2): no
//! token is granted twice, and grants resume at the rate from there instead of an hour later.
//!
//! # Invariants
//! - B1: without reservations and with a clock that does not step back, `spent ≤ earned(t) +
//!   burst`: only a CAS that keeps it installs a new `spent`, and `earned` only grows. So over
//!   any window of length `d` at most `burst + rate·d` tokens are granted.
//! - B2: `spent` never decreases, except when B3's bound is broken, which only a clock step
//!   back can do; then it is lowered to that bound, as of a fresh clock reading.
//! - B3: `spent − earned(t) − burst` never exceeds `reserved + slack`: the lead beyond B1 is made
//!   only by reservations, each counted in `reserved` before its CAS and removed only after its
//!   sleep (a sleeper woken a hair early, or cores whose clocks differ, stay within `slack`, one
//!   millisecond of tokens plus one).
//!
//! # Time
//! Time comes from a `quanta::Clock` (builder `.clock(..)`; tests use `Clock::mock()`), read
//! with `Clock::raw()`: the TSC itself, without quanta's per-read scaling to nanoseconds. The
//! bucket learns the tick length once, at construction, from the clock's own calibration (for
//! the mock and the OS clock a tick is a nanosecond, so their arithmetic is exactly the
//! nanosecond arithmetic). The raw read is still most of the cost of `try_acquire`; see
//! `BENCHMARKS.md` for why the coarse `Clock::recent()` is not offered.

mod adaptive;
mod bucket;
mod clock;
mod error;
mod published;
mod schedule;

pub use self::adaptive::{AdaptiveRateLimiter, AdaptiveRateLimiterBuilder};
pub use self::bucket::{TokenBucket, TokenBucketBuilder};
pub use self::error::{AcquireError, RateLimited};
pub use self::schedule::{MAX_RATE, MIN_RATE};

#[cfg(test)]
mod tests;
