//! The one deadline helper every waiting loop uses.
//!
//! A timeout becomes an absolute deadline exactly once, here, with saturation: a timeout too
//! large to add to `now` (`Duration::MAX`, `Duration::from_secs(u64::MAX)`) means "no
//! deadline", never an overflow panic. `Duration::ZERO` gives a deadline of `now`, i.e.
//! "try once".

use std::time::{Duration, Instant};

/// The longest single sleep: waits longer than this are taken in slices, so no platform
/// conversion of a far-away deadline can overflow.
#[allow(dead_code)] // the loom build has no clock to slice
pub(crate) const MAX_SLICE: Duration = Duration::from_secs(24 * 60 * 60);

/// The deadline `timeout` from now; `None` when it is too far to represent (wait forever).
#[inline]
pub(crate) fn after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The earlier of two optional deadlines (`None` is "never").
#[inline]
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Whether `deadline` has passed.
#[inline]
pub(crate) fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_mean_no_deadline() {
        assert_eq!(after(Duration::MAX), None);
        assert_eq!(after(Duration::from_secs(u64::MAX)), None);
    }

    #[test]
    fn zero_timeout_is_already_passed() {
        assert!(passed(after(Duration::ZERO)));
        assert!(!passed(None));
    }

    #[test]
    fn earliest_treats_none_as_never() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(Some(now), None), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(later), Some(now)), Some(now));
        assert_eq!(earliest(None, None), None);
    }
}
