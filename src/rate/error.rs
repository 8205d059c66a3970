//! Why a rate limiter said no.

use std::error::Error;
use std::fmt;
use std::time::Duration;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimited {
    retry_after: Duration,
}

impl RateLimited {
    pub(crate) fn new(retry_after: Duration) -> Self {
        Self { retry_after }
    }

    /// The exact wait until the refused request would pass, if nobody else takes the tokens
    /// meanwhile (and the rate is not changed). Never zero.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited; retry after {:?}", self.retry_after)
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
