//! Lock-free statistics: [`QueueStats`] snapshots and the [`LatencyHistogram`].
//!
//! Every figure is a relaxed atomic counter: recording never takes a lock and never
//! allocates, and a snapshot is a set of independent readings (each exact, not taken at one
//! instant together).

use std::fmt;
use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

/// Sub-buckets per power of two: 2^5 = 32, so a bucket spans 1/32 of its lower bound and its
/// midpoint is within 1/64 (≈1.6%) of any value in it.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Values below `SUB` get one bucket each; then 32 buckets for each power of two up to 2^63.
const BUCKETS: usize = SUB * (64 - SUB_BITS as usize + 1);

/// A log-bucketed histogram of durations, recorded lock-free, with at most ~1.6% relative
/// error on any reported percentile (well inside the 3% the crate promises).
///
/// Cloning takes a snapshot.
///
/// ```
/// use backpressure::LatencyHistogram;
/// use std::time::Duration;
///
/// let h = LatencyHistogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// assert_eq!(h.count(), 100);
/// let p99 = h.percentile(99.0).as_secs_f64() * 1000.0;
/// assert!((p99 - 99.0).abs() / 99.0 < 0.03, "{p99}");
/// assert_eq!(h.max(), Duration::from_millis(100));
/// ```
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }

    /// Records one duration (saturating at `u64::MAX` nanoseconds, about 584 years).
    ///
    /// ```
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(std::time::Duration::MAX); // no overflow
    /// assert_eq!(h.count(), 1);
    /// ```
    pub fn record(&self, value: Duration) {
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        // Relaxed (all four): independent statistics, synchronizing with nothing.
        self.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// How many durations were recorded.
    ///
    /// ```
    /// assert_eq!(backpressure::LatencyHistogram::new().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        // Relaxed: a statistic.
        self.count.load(Ordering::Relaxed)
    }

    /// The largest duration recorded (exact), or zero when empty.
    ///
    /// ```
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(std::time::Duration::from_micros(7));
    /// assert_eq!(h.max(), std::time::Duration::from_micros(7));
    /// ```
    pub fn max(&self) -> Duration {
        // Relaxed: a statistic.
        Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed))
    }

    /// The mean of the recorded durations (exact up to rounding), or zero when empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(Duration::from_millis(1));
    /// h.record(Duration::from_millis(3));
    /// assert_eq!(h.mean(), Duration::from_millis(2));
    /// ```
    pub fn mean(&self) -> Duration {
        let count = self.count();
        if count == 0 {
            return Duration::ZERO;
        }
        // Relaxed: a statistic.
        Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed) / count)
    }

    /// The duration below which `p` percent of recordings fall (`p` in `0.0..=100.0`, e.g.
    /// `99.0`), within ~1.6%; zero when empty. Out-of-range or NaN `p` is clamped
    /// (NaN reads as 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(Duration::from_micros(10));
    /// h.record(Duration::from_micros(1000));
    /// assert!(h.percentile(50.0) < Duration::from_micros(11));
    /// assert!(h.percentile(100.0) > Duration::from_micros(980));
    /// ```
    pub fn percentile(&self, p: f64) -> Duration {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        let rank = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, &n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(midpoint_of(index).min(self.max().as_nanos() as u64));
            }
        }
        self.max()
    }
}

/// The bucket holding `nanos`.
fn bucket_of(nanos: u64) -> usize {
    if nanos < SUB as u64 {
        return nanos as usize;
    }
    let exponent = 63 - nanos.leading_zeros(); // >= SUB_BITS
    let sub = (nanos >> (exponent - SUB_BITS)) as usize & (SUB - 1);
    (exponent - SUB_BITS + 1) as usize * SUB + sub
}

/// The value a bucket reports: its midpoint.
fn midpoint_of(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let exponent = (index / SUB) as u32 + SUB_BITS - 1;
    let sub = (index % SUB) as u64;
    let width = 1u64 << (exponent - SUB_BITS);
    let low = (SUB as u64 + sub) << (exponent - SUB_BITS);
    low.saturating_add(width / 2)
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for LatencyHistogram {
    fn clone(&self) -> Self {
        // Relaxed: a snapshot of statistics.
        let copy = |a: &AtomicU64| AtomicU64::new(a.load(Ordering::Relaxed));
        Self {
            buckets: self.buckets.iter().map(copy).collect(),
            count: copy(&self.count),
            sum_nanos: copy(&self.sum_nanos),
            max_nanos: copy(&self.max_nanos),
        }
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("mean", &self.mean())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max())
            .finish()
    }
}

/// A snapshot of a [`BoundedQueue`](crate::BoundedQueue)'s counters, from
/// [`BoundedQueue::stats`](crate::BoundedQueue::stats).
///
/// `submitted` is every submit call that finished; each one ends in exactly one of
/// `accepted`, `rejected_full`, `timed_out`, `cancelled` or `rejected_closed`.
/// `wait` holds how long submitters that had to wait for space waited (successful or not).
///
/// ```
/// use backpressure::BoundedQueue;
/// let q = BoundedQueue::new(1);
/// q.try_submit(1).unwrap();
/// assert!(q.try_submit(2).is_err());
/// let stats = q.stats();
/// assert_eq!((stats.submitted, stats.accepted, stats.rejected_full), (2, 1, 1));
/// assert_eq!((stats.depth, stats.peak_depth), (1, 1));
/// ```
#[derive(Clone, Debug, Default)]
pub struct QueueStats {
    /// Submit calls that finished (the sum of the five outcomes below).
    pub submitted: u64,
    /// Items the queue took.
    pub accepted: u64,
    /// `try_submit` calls refused because the queue was full.
    pub rejected_full: u64,
    /// Timed submits that gave up at their deadline.
    pub timed_out: u64,
    /// Cancellable submits whose token was cancelled.
    pub cancelled: u64,
    /// Submits refused because the queue was closed.
    pub rejected_closed: u64,
    /// Items taken out (by `recv` family calls or `drain`).
    pub received: u64,
    /// Items in the queue when the snapshot was taken.
    pub depth: u64,
    /// The largest depth seen since the queue was made.
    pub peak_depth: u64,
    /// How long submitters waited for space.
    pub wait: LatencyHistogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_midpoint_is_within_two_percent() {
        for nanos in (1u64..2_000).chain((0..64).map(|s| 1u64 << s)).chain([u64::MAX, 123_456_789]) {
            let mid = midpoint_of(bucket_of(nanos));
            let err = (mid as f64 - nanos as f64).abs() / nanos as f64;
            assert!(err <= 1.0 / 64.0 + 1e-12, "{nanos} -> {mid}");
        }
    }

    #[test]
    fn buckets_are_monotone() {
        let mut last = 0;
        for nanos in (0u64..100_000).step_by(7) {
            let b = bucket_of(nanos);
            assert!(b >= last);
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = LatencyHistogram::new();
        assert_eq!(h.percentile(99.0), Duration::ZERO);
        assert_eq!(h.mean(), Duration::ZERO);
        assert_eq!(h.percentile(f64::NAN), Duration::ZERO);
    }
}
