//! Why a rate limiter said no.

use std::error::Error;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU64;
use std::time::Duration;

use super::schedule::{frac, wait_nanos, SHIFT};

/// The request cannot pass yet; it could after [`retry_after`](Self::retry_after).
///
/// ```
/// use backpressure::TokenBucket;
/// use std::time::Duration;
///
/// let (clock, _mock) = quanta::Clock::mock();
/// let bucket = TokenBucket::builder(10.0, 1).clock(clock).build().unwrap();
/// bucket.try_acquire().unwrap();
/// let limited = bucket.try_acquire().unwrap_err();
/// assert_eq!(limited.retry_after(), Duration::from_millis(100));
/// ```
#[derive(Clone, Copy)]
pub struct RateLimited {
    // A refusal captures the position it saw and computes nothing: the wait is worked out
    // (one division) only when asked for.
    /// Whole tokens missing when refused, counting the one partly earned; at least 1.
    missing: NonZeroU64,
    /// The fraction of the next token already earned (fixed point), in the low 63 bits.
    earned: u64,
    /// The schedule's tokens per nanosecond (fixed point) when refused.
    per_ns: u64,
}

impl RateLimited {
    /// `missing` whole tokens short, `earned` (fixed point, low 63 bits; any bit above them is
    /// ignored) of the first of them already there.
    #[inline]
    pub(crate) fn new(missing: u64, earned: u64, per_ns: u64) -> Self {
        Self { missing: NonZeroU64::new(missing).unwrap_or(NonZeroU64::MIN), earned, per_ns }
    }

    /// The refusal of a request whose shortfall (fixed-point tokens) is `shortfall`.
    pub(crate) fn from_shortfall(shortfall: u128, per_ns: u64) -> Self {
        // shortfall = missing·2^63 − earned with 0 ≤ earned < 2^63.
        let missing = shortfall.div_ceil(1 << SHIFT);
        let earned = (missing << SHIFT) - shortfall;
        Self::new(u64::try_from(missing).unwrap_or(u64::MAX), earned as u64, per_ns)
    }

    /// The exact wait until the refused request would pass, if nobody else takes the tokens
    /// meanwhile (and the rate is not changed). Never zero.
    #[inline]
    pub fn retry_after(&self) -> Duration {
        let shortfall = (u128::from(self.missing.get()) << SHIFT) - u128::from(frac(self.earned));
        nanos(wait_nanos(shortfall, self.per_ns))
    }
}

impl PartialEq for RateLimited {
    fn eq(&self, other: &Self) -> bool {
        self.retry_after() == other.retry_after()
    }
}

impl Eq for RateLimited {}

impl Hash for RateLimited {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.retry_after().hash(state);
    }
}

impl fmt::Debug for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited").field("retry_after", &self.retry_after()).finish()
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited; retry after {:?}", self.retry_after())
    }
}

/// Nanoseconds as a `Duration`, saturating at `Duration::MAX`.
#[inline]
pub(crate) fn nanos(ns: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    if let Ok(ns) = u64::try_from(ns) {
        return Duration::from_nanos(ns); // no 128-bit division on the usual path
    }
    match u64::try_from(ns / PER_SEC) {
        Ok(secs) => Duration::new(secs, (ns % PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

impl Error for RateLimited {}

/// Why a request for several tokens was refused.
///
/// ```
/// use backpressure::{AcquireError, TokenBucket};
///
/// let bucket = TokenBucket::new(100.0, 10);
/// assert_eq!(bucket.try_acquire_n(11), Err(AcquireError::ExceedsBurst { requested: 11, burst: 10 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// Not enough tokens now; see [`RateLimited::retry_after`].
    RateLimited(RateLimited),
    /// More tokens than the bucket can ever hold: this request can never pass.
    ExceedsBurst {
        /// The tokens asked for.
        requested: u32,
        /// The bucket's capacity.
        burst: u32,
    },
}

impl AcquireError {
    /// The wait after which the request would pass; `None` for [`ExceedsBurst`](Self::ExceedsBurst).
    ///
    /// ```
    /// use backpressure::TokenBucket;
    /// let bucket = TokenBucket::new(1.0, 1);
    /// assert_eq!(bucket.try_acquire_n(2).unwrap_err().retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(limited) => Some(limited.retry_after()),
            Self::ExceedsBurst { .. } => None,
        }
    }
}

impl From<RateLimited> for AcquireError {
    fn from(limited: RateLimited) -> Self {
        Self::RateLimited(limited)
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimited(limited) => limited.fmt(f),
            Self::ExceedsBurst { requested, burst } => {
                write!(f, "requested {requested} tokens, more than the burst of {burst}: it can never pass")
            }
        }
    }
}

impl Error for AcquireError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::RateLimited(limited) => Some(limited),
            Self::ExceedsBurst { .. } => None,
        }
    }
}
