//! Lock-free statistics: [`QueueStats`] snapshots and the [`LatencyHistogram`].
//!
//! Every figure is a relaxed atomic counter: recording never takes a lock and never
//! allocates, and a snapshot is a set of independent readings (each exact, not taken at one
//! instant together).

use std::fmt;
use std::time::Duration;

// std's atomics even in loom builds, deliberately: these are relaxed statistics that order
// nothing, so loom has nothing to check in them, and keeping them out of the model keeps it
// deterministic when the queue records a *sampled* wait (whether an item is sampled depends on
// per-thread state loom does not control).
use std::sync::atomic::{AtomicU64, Ordering};

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
        // Relaxed: a statistic.
        self.count.fetch_add(1, Ordering::Relaxed);
        // Relaxed: a statistic.
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        // Relaxed: a statistic.
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
        // Relaxed: a statistic.
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

impl LatencyHistogram {
    /// A copy of the current figures (the same as `clone`), e.g. to merge or to compare later.
    ///
    /// ```
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(std::time::Duration::from_micros(3));
    /// let snap = h.snapshot();
    /// h.record(std::time::Duration::from_micros(4));
    /// assert_eq!((snap.count(), h.count()), (1, 2));
    /// ```
    pub fn snapshot(&self) -> Self {
        self.clone()
    }

    /// Adds every recording of `other` to `self`, as if they had been recorded here: per-thread
    /// or per-queue histograms merge into one exact total (buckets add, max takes the larger).
    ///
    /// ```
    /// use backpressure::LatencyHistogram;
    /// use std::time::Duration;
    /// let (a, b) = (LatencyHistogram::new(), LatencyHistogram::new());
    /// a.record(Duration::from_millis(1));
    /// b.record(Duration::from_millis(9));
    /// a.merge(&b);
    /// assert_eq!((a.count(), a.max(), a.mean()), (2, Duration::from_millis(9), Duration::from_millis(5)));
    /// ```
    pub fn merge(&self, other: &LatencyHistogram) {
        // Relaxed (all): independent statistics, as in `record`.
        for (mine, theirs) in self.buckets.iter().zip(other.buckets.iter()) {
            // Relaxed: a statistic.
            let n = theirs.load(Ordering::Relaxed);
            if n != 0 {
                // Relaxed: a statistic.
                mine.fetch_add(n, Ordering::Relaxed);
            }
        }
        // Relaxed: a statistic.
        self.count.fetch_add(other.count.load(Ordering::Relaxed), Ordering::Relaxed);
        // Relaxed: a statistic.
        self.sum_nanos.fetch_add(other.sum_nanos.load(Ordering::Relaxed), Ordering::Relaxed);
        // Relaxed: a statistic.
        self.max_nanos.fetch_max(other.max_nanos.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The non-empty buckets as `(representative value, count)` pairs, smallest first: what
    /// an exporter feeds to another histogram implementation.
    ///
    /// ```
    /// let h = backpressure::LatencyHistogram::new();
    /// h.record(std::time::Duration::from_nanos(5));
    /// h.record(std::time::Duration::from_nanos(5));
    /// assert_eq!(h.buckets().collect::<Vec<_>>(), [(std::time::Duration::from_nanos(5), 2)]);
    /// ```
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.buckets.iter().enumerate().filter_map(|(index, bucket)| {
            // Relaxed: a statistic.
            let n = bucket.load(Ordering::Relaxed);
            (n != 0).then(|| (Duration::from_nanos(midpoint_of(index)), n))
        })
    }

    /// The buckets of `self` minus those of `earlier` (an older snapshot of the same
    /// histogram), as [`buckets`](Self::buckets) pairs: what was recorded in between.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn buckets_since<'a>(
        &'a self,
        earlier: &'a LatencyHistogram,
    ) -> impl Iterator<Item = (Duration, u64)> + 'a {
        self.buckets.iter().zip(earlier.buckets.iter()).enumerate().filter_map(|(index, (now, then))| {
            // Relaxed (both): statistics.
            let n = now.load(Ordering::Relaxed).saturating_sub(then.load(Ordering::Relaxed));
            (n != 0).then(|| (Duration::from_nanos(midpoint_of(index)), n))
        })
    }
}

impl QueueStats {
    /// Adds `other`'s figures to `self`: the totals of several queues (or shards) as one.
    /// Counters and depths add; `peak_depth` takes the larger (a bound, not a sum of peaks
    /// that may not have coincided); histograms merge.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, QueueStats};
    /// let (a, b) = (BoundedQueue::new(4), BoundedQueue::new(4));
    /// a.try_submit(1).unwrap();
    /// b.try_submit(2).unwrap();
    /// let mut total = QueueStats::default();
    /// total.merge(&a.stats());
    /// total.merge(&b.stats());
    /// assert_eq!((total.accepted, total.depth), (2, 2));
    /// ```
    pub fn merge(&mut self, other: &QueueStats) {
        self.submitted += other.submitted;
        self.accepted += other.accepted;
        self.rejected_full += other.rejected_full;
        self.timed_out += other.timed_out;
        self.cancelled += other.cancelled;
        self.rejected_closed += other.rejected_closed;
        self.received += other.received;
        self.depth += other.depth;
        self.peak_depth = self.peak_depth.max(other.peak_depth);
        self.wait.merge(&other.wait);
        self.submit_wait.merge(&other.submit_wait);
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
/// `wait` holds how long items stayed queued (accepted → received), from a sample of about
/// one item in [`wait_sampling`](crate::queue::QueueBuilder::wait_sampling) (empty when that is 0, the default);
/// `submit_wait` how long submitters that had to wait for space waited (successful or not).
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
    /// The largest depth seen since the queue was made. Sampled so the accepting fast path
    /// never reads the receivers' cache line: exact whenever the queue filled up (a submit that
    /// found it full records the capacity), otherwise the largest of the depths measured on every
    /// 32nd accepted item and at each `stats()` call.
    pub peak_depth: u64,
    /// How long items stayed queued, from accepted to received (sampled: `wait.count()` is
    /// the number of sampled items, not of all items).
    pub wait: LatencyHistogram,
    /// How long submitters that found the queue full waited for space.
    pub submit_wait: LatencyHistogram,
}

/// Publishes [`QueueStats`] and [`ProcessorStats`](crate::ProcessorStats) through the
/// [`metrics`](https://docs.rs/metrics) crate facade (feature `metrics`), so any installed
/// recorder (`metrics-exporter-prometheus`, statsd, ...) picks them up.
///
/// Recording on the hot path stays the crate's own relaxed atomics; publishing is a separate,
/// periodic step (a reporter thread, or on each scrape) that reads a snapshot and hands it to
/// the facade: counters as absolute values, depths as gauges, and the histograms as the
/// *new* recordings since the last call (each bucket's representative value with its count,
/// via `record_many`), so the recorder's histograms stay exact up to the bucket width.
///
/// Every metric carries the label `queue` (for a bare queue) or `processor` with the name.
///
/// | metric | kind | |
/// |---|---|---|
/// | `backpressure_submitted_total`, `_accepted_total`, `_rejected_full_total`, `_timed_out_total`, `_cancelled_total`, `_rejected_closed_total`, `_received_total` | counter | [`QueueStats`] fields |
/// | `backpressure_depth`, `backpressure_peak_depth` | gauge | items queued |
/// | `backpressure_wait_seconds` | histogram | accepted → received (sampled) |
/// | `backpressure_submit_wait_seconds` | histogram | submitters blocked for space |
/// | `backpressure_handled_total`, `backpressure_panicked_total` | counter | processor only |
/// | `backpressure_service_seconds` | histogram | handler time, processor only |
///
/// ```
/// use backpressure::metrics::MetricsExporter;
/// use backpressure::BoundedQueue;
///
/// let queue = BoundedQueue::builder(16).name("jobs").wait_sampling(128).build().unwrap();
/// let mut exporter = MetricsExporter::queue("jobs");
/// queue.try_submit(1).unwrap();
/// exporter.publish_queue(&queue.stats()); // e.g. once a second from a reporter thread
/// ```
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub struct MetricsExporter {
    kind: &'static str,
    name: String,
    wait: LatencyHistogram,
    submit_wait: LatencyHistogram,
    service: LatencyHistogram,
}

#[cfg(feature = "metrics")]
impl MetricsExporter {
    /// An exporter for a bare queue: its metrics carry `queue="<name>"`.
    ///
    /// ```
    /// let exporter = backpressure::metrics::MetricsExporter::queue("ingest");
    /// ```
    pub fn queue(name: impl Into<String>) -> Self {
        Self::new("queue", name.into())
    }

    /// An exporter for a processor: its metrics carry `processor="<name>"`.
    ///
    /// ```
    /// let exporter = backpressure::metrics::MetricsExporter::processor("resize");
    /// ```
    pub fn processor(name: impl Into<String>) -> Self {
        Self::new("processor", name.into())
    }

    fn new(kind: &'static str, name: String) -> Self {
        Self {
            kind,
            name,
            wait: LatencyHistogram::new(),
            submit_wait: LatencyHistogram::new(),
            service: LatencyHistogram::new(),
        }
    }

    /// Publishes a queue's snapshot: counters, gauges, and the histogram recordings made
    /// since the previous call.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::new(4);
    /// q.try_submit(()).unwrap();
    /// backpressure::metrics::MetricsExporter::queue("q").publish_queue(&q.stats());
    /// ```
    pub fn publish_queue(&mut self, stats: &QueueStats) {
        let counters = [
            ("backpressure_submitted_total", stats.submitted),
            ("backpressure_accepted_total", stats.accepted),
            ("backpressure_rejected_full_total", stats.rejected_full),
            ("backpressure_timed_out_total", stats.timed_out),
            ("backpressure_cancelled_total", stats.cancelled),
            ("backpressure_rejected_closed_total", stats.rejected_closed),
            ("backpressure_received_total", stats.received),
        ];
        for (name, value) in counters {
            metrics::counter!(name, self.kind => self.name.clone()).absolute(value);
        }
        metrics::gauge!("backpressure_depth", self.kind => self.name.clone()).set(stats.depth as f64);
        metrics::gauge!("backpressure_peak_depth", self.kind => self.name.clone()).set(stats.peak_depth as f64);
        self.wait = self.publish_histogram("backpressure_wait_seconds", &stats.wait, &self.wait);
        self.submit_wait =
            self.publish_histogram("backpressure_submit_wait_seconds", &stats.submit_wait, &self.submit_wait);
    }

    /// Publishes a processor's snapshot: its queue's figures plus `handled`, `panicked` and
    /// the handler-time histogram.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().name("p").build(|_: u8| {}).unwrap();
    /// backpressure::metrics::MetricsExporter::processor(p.name()).publish_processor(&p.stats());
    /// ```
    pub fn publish_processor(&mut self, stats: &crate::ProcessorStats) {
        self.publish_queue(&stats.queue);
        metrics::counter!("backpressure_handled_total", self.kind => self.name.clone()).absolute(stats.handled);
        metrics::counter!("backpressure_panicked_total", self.kind => self.name.clone()).absolute(stats.panicked);
        metrics::gauge!("backpressure_workers", self.kind => self.name.clone()).set(stats.workers as f64);
        self.service = self.publish_histogram("backpressure_service_seconds", &stats.service, &self.service);
    }

    /// Publishes the final figures of a processor that was shut down.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().name("p").build(|_: u8| {}).unwrap();
    /// let mut exporter = backpressure::metrics::MetricsExporter::processor(p.name());
    /// exporter.publish_report(&p.shutdown());
    /// ```
    pub fn publish_report(&mut self, report: &crate::ProcessorReport) {
        self.publish_queue(&report.queue);
        metrics::counter!("backpressure_handled_total", self.kind => self.name.clone()).absolute(report.handled);
        metrics::counter!("backpressure_panicked_total", self.kind => self.name.clone()).absolute(report.panicked);
        self.service = self.publish_histogram("backpressure_service_seconds", &report.service, &self.service);
    }

    /// Records what `now` has beyond `last` and returns `now` as the new baseline.
    fn publish_histogram(
        &self,
        name: &'static str,
        now: &LatencyHistogram,
        last: &LatencyHistogram,
    ) -> LatencyHistogram {
        let histogram = metrics::histogram!(name, self.kind => self.name.clone());
        for (value, count) in now.buckets_since(last) {
            histogram.record_many(value.as_secs_f64(), usize::try_from(count).unwrap_or(usize::MAX));
        }
        now.snapshot()
    }
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
    fn percentiles_are_within_three_percent_on_known_distributions() {
        // Uniform 1..=10_000 µs, and a geometric spread from 1 µs to ~1 hour.
        let uniform = LatencyHistogram::new();
        let exact: Vec<u64> = (1..=10_000u64).map(|us| us * 1_000).collect();
        exact.iter().for_each(|&n| uniform.record(Duration::from_nanos(n)));
        let mut geometric: Vec<u64> = (0..3_000).map(|i| (1_000.0 * 1.0075f64.powi(i)) as u64).collect();
        let spread = LatencyHistogram::new();
        geometric.iter().for_each(|&n| spread.record(Duration::from_nanos(n)));
        geometric.sort_unstable();
        for (h, values) in [(&uniform, &exact), (&spread, &geometric)] {
            for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
                let rank = ((p / 100.0 * values.len() as f64).ceil() as usize).clamp(1, values.len());
                let want = values[rank - 1] as f64;
                let got = h.percentile(p).as_nanos() as f64;
                assert!((got - want).abs() / want <= 0.03, "p{p}: got {got}, exact {want}");
            }
        }
        assert!(*geometric.last().unwrap() > 3_600_000_000_000, "spread reaches 1 hour");
    }

    #[test]
    #[cfg_attr(miri, ignore)] // 4 threads × 100k records: too slow under Miri
    fn concurrent_recording_from_four_threads_loses_no_count() {
        let h = LatencyHistogram::new();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let h = &h;
                s.spawn(move || {
                    for i in 0..100_000u64 {
                        h.record(Duration::from_nanos(1 + (i * 7 + t) % 5_000_000));
                    }
                });
            }
        });
        assert_eq!(h.count(), 400_000);
        assert_eq!(h.buckets().map(|(_, n)| n).sum::<u64>(), 400_000);
    }

    #[test]
    fn merged_histogram_equals_one_recorded_with_everything() {
        let (a, b, all) = (LatencyHistogram::new(), LatencyHistogram::new(), LatencyHistogram::new());
        for n in 1..500u64 {
            let d = Duration::from_micros(n * n);
            if n % 3 == 0 { &a } else { &b }.record(d);
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a.buckets().collect::<Vec<_>>(), all.buckets().collect::<Vec<_>>());
        assert_eq!((a.count(), a.mean(), a.max()), (all.count(), all.mean(), all.max()));
        let later = a.snapshot();
        a.record(Duration::from_secs(1));
        assert_eq!(a.buckets_since(&later).collect::<Vec<_>>().len(), 1);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = LatencyHistogram::new();
        assert_eq!(h.percentile(99.0), Duration::ZERO);
        assert_eq!(h.mean(), Duration::ZERO);
        assert_eq!(h.percentile(f64::NAN), Duration::ZERO);
    }
}
