//! Load shedding: refuse new work at once when too much is already in flight.
//!
//! [`LoadShedder`] admits at most `max_load` concurrent holders; [`PriorityShedder`] does the
//! same but starts refusing low-priority work earlier, so that when a service saturates it
//! spends its last capacity on the requests that matter. Both hand out a RAII [`LoadPermit`]
//! that gives its slot back when dropped (also while unwinding from a panic), so a slot can
//! never be forgotten. Neither ever waits: a refusal is an [`Overloaded`] error that the caller
//! turns into "busy, retry later" (HTTP 503). Use a [`Semaphore`](crate::Semaphore) instead when
//! callers should wait for a slot.
//!
//! # Algorithm
//! The state is one counter, `load`, on its own cache line, plus `max_load`, read-mostly on
//! another. To admit, `try_acquire` reads the limit (`max_load`, or the priority's share of
//! it), then runs one CAS loop on `load`: if the value seen is below the limit, swap in
//! `value + 1`; otherwise refuse with the value seen. A failed CAS hands back the current value and the
//! loop re-checks it against the limit, so an increment only ever happens from a value below
//! the limit (S1). Dropping a permit is a single `fetch_sub(1)`; every permit decrements
//! exactly once and only after its increment (S2), so `load` never goes below zero.
//!
//! The counter also orders the work of successive holders, like a semaphore: the decrement
//! is Release and a successful admitting CAS is Acquire, and since every later write to
//! `load` is a read-modify-write the decrement heads a release sequence, so whatever a holder
//! did before dropping its permit happens-before the work of any holder admitted after it.
//!
//! # Invariants
//! - S1: `load` is incremented only by a CAS from a value below the limit read in the same
//!   call; hence `load <= max_load` whenever `max_load` has not been lowered below the number
//!   of permits already held (lowering never revokes held permits).
//! - S2: every [`LoadPermit`] decrements `load` exactly once, in its `Drop`, after the
//!   increment that created it; `load` equals the number of live permits.

use std::fmt;
use std::sync::Arc as StdArc;

use crossbeam_utils::CachePadded;

use crate::error::ConfigError;
use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// The shared core of both shedders: the in-flight counter and its limit.
#[derive(Debug)]
struct Gauge {
    load: CachePadded<AtomicUsize>,
    max_load: CachePadded<AtomicUsize>,
}

impl Gauge {
    fn new(max_load: usize) -> Self {
        Self { load: CachePadded::new(AtomicUsize::new(0)), max_load: CachePadded::new(AtomicUsize::new(max_load)) }
    }

    fn max_load(&self) -> usize {
        // Relaxed: a configuration value; no data is published with it.
        self.max_load.load(Ordering::Relaxed)
    }

    fn set_max_load(&self, max_load: usize) {
        // Relaxed: see `max_load`; admitting CASes read it fresh on each call.
        self.max_load.store(max_load, Ordering::Relaxed);
    }

    fn load(&self) -> usize {
        // Relaxed: an instantaneous reading that synchronizes with nothing.
        self.load.load(Ordering::Relaxed)
    }

    /// The admitting CAS loop (keeps S1). `Err` carries the load seen.
    #[inline]
    fn try_admit(&self, limit: usize) -> Result<(), usize> {
        // Relaxed: only a first guess for the CAS below, which validates it.
        let mut load = self.load.load(Ordering::Relaxed);
        loop {
            if load >= limit {
                return Err(load);
            }
            // Acquire on success: pairs with the Release `fetch_sub` in `release` (through the
            // release sequence of RMWs on `load`), so earlier holders' work happens-before ours.
            // Relaxed on failure: we only re-check the value.
            match self.load.compare_exchange_weak(load, load + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => load = now,
            }
        }
    }

    /// Gives one slot back (keeps S2).
    #[inline]
    fn release(&self) {
        // Release: pairs with the Acquire CAS in `try_admit` of the next holder.
        let before = self.load.fetch_sub(1, Ordering::Release);
        debug_assert!(before > 0, "load shedder released more permits than it admitted");
    }
}

fn assert_max_load(max_load: usize, what: &str) {
    assert!(max_load >= 1, "{what}: max_load must be at least 1, got 0");
}

/// Admits at most `max_load` concurrent units of work and refuses the rest at once.
///
/// `try_acquire` is one compare-and-swap loop on a cache-padded counter: no lock, no
/// allocation, never a wait. See the [module docs](self) for the algorithm.
///
/// ```
/// use backpressure::LoadShedder;
///
/// let shedder = LoadShedder::new(2);
/// let a = shedder.try_acquire().unwrap();
/// let _b = shedder.try_acquire().unwrap();
/// let refused = shedder.try_acquire().unwrap_err(); // answer "503 busy"
/// assert_eq!((refused.load(), refused.limit()), (2, 2));
/// drop(a); // the slot comes back when the permit drops
/// assert!(shedder.try_acquire().is_ok());
/// ```
pub struct LoadShedder {
    gauge: Gauge,
}

impl LoadShedder {
    /// A shedder admitting at most `max_load` concurrent permits.
    ///
    /// # Panics
    /// If `max_load` is zero (every call would be refused).
    ///
    /// ```
    /// let shedder = backpressure::LoadShedder::new(100);
    /// assert_eq!(shedder.max_load(), 100);
    /// assert_eq!(shedder.load(), 0);
    /// ```
    pub fn new(max_load: usize) -> Self {
        assert_max_load(max_load, "LoadShedder::new");
        Self { gauge: Gauge::new(max_load) }
    }

    /// Takes a slot if fewer than `max_load` are held; never waits.
    ///
    /// # Errors
    /// [`Overloaded`], with the load and limit seen, when `max_load` slots are held.
    ///
    /// ```
    /// let shedder = backpressure::LoadShedder::new(1);
    /// let permit = shedder.try_acquire().expect("idle shedder admits");
    /// assert!(shedder.try_acquire().is_err());
    /// drop(permit);
    /// assert_eq!(shedder.load(), 0);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<LoadPermit<'_>, Overloaded> {
        let limit = self.gauge.max_load();
        match self.gauge.try_admit(limit) {
            Ok(()) => Ok(LoadPermit { holder: Holder::Borrowed(&self.gauge) }),
            Err(load) => Err(Overloaded { load, limit, priority: None }),
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), but the permit keeps the shedder alive
    /// (`'static`), so it can move to another thread or into a job.
    ///
    /// # Errors
    /// [`Overloaded`] as for [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use backpressure::LoadShedder;
    /// use std::{sync::Arc, thread};
    ///
    /// let shedder = Arc::new(LoadShedder::new(4));
    /// let permit = shedder.try_acquire_owned().unwrap();
    /// thread::spawn(move || {
    ///     let _held = permit; // released when the job ends
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(shedder.load(), 0);
    /// ```
    pub fn try_acquire_owned(self: &StdArc<Self>) -> Result<LoadPermit<'static>, Overloaded> {
        let limit = self.gauge.max_load();
        match self.gauge.try_admit(limit) {
            Ok(()) => Ok(LoadPermit { holder: Holder::Plain(StdArc::clone(self)) }),
            Err(load) => Err(Overloaded { load, limit, priority: None }),
        }
    }

    /// How many permits are held right now.
    ///
    /// ```
    /// let shedder = backpressure::LoadShedder::new(3);
    /// let _p = shedder.try_acquire().unwrap();
    /// assert_eq!(shedder.load(), 1);
    /// ```
    pub fn load(&self) -> usize {
        self.gauge.load()
    }

    /// The current limit.
    ///
    /// ```
    /// assert_eq!(backpressure::LoadShedder::new(8).max_load(), 8);
    /// ```
    pub fn max_load(&self) -> usize {
        self.gauge.max_load()
    }

    /// Changes the limit for subsequent calls. Lowering it never revokes held permits: new
    /// work is refused until the load falls below the new limit.
    ///
    /// # Panics
    /// If `max_load` is zero.
    ///
    /// ```
    /// let shedder = backpressure::LoadShedder::new(2);
    /// let a = shedder.try_acquire().unwrap();
    /// let b = shedder.try_acquire().unwrap();
    /// shedder.set_max_load(1);
    /// drop(a);
    /// assert!(shedder.try_acquire().is_err()); // load 1 is not below the new limit 1
    /// drop(b);
    /// assert!(shedder.try_acquire().is_ok());
    /// ```
    pub fn set_max_load(&self, max_load: usize) {
        assert_max_load(max_load, "LoadShedder::set_max_load");
        self.gauge.set_max_load(max_load);
    }
}

impl fmt::Debug for LoadShedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadShedder").field("load", &self.load()).field("max_load", &self.max_load()).finish()
    }
}

/// How important a unit of work is to a [`PriorityShedder`]: lower priorities are shed first.
///
/// ```
/// use backpressure::Priority;
/// assert!(Priority::Low < Priority::Critical);
/// assert_eq!(Priority::default(), Priority::Normal);
/// assert_eq!(Priority::ALL.len(), 4);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Shed first (by default at 50% of `max_load`): prefetches, analytics, batch work.
    Low,
    /// Ordinary requests (shed by default at 70%).
    #[default]
    Normal,
    /// Requests users are waiting on (shed by default at 90%).
    High,
    /// Health checks, payments, control traffic: shed only at 100%.
    Critical,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical];

    /// The lower-case name (`"low"`, `"normal"`, `"high"`, `"critical"`).
    ///
    /// ```
    /// assert_eq!(backpressure::Priority::High.as_str(), "high");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds are kept as parts per million of `max_load`, so the limit is exact integer
/// arithmetic on the fast path.
const PPM_PER_PERCENT: f64 = 10_000.0;
const DEFAULT_PERCENT: [f64; 4] = [50.0, 70.0, 90.0, 100.0];

/// Admitted and shed counts of one priority, on their own cache line.
#[derive(Debug, Default)]
struct Counts {
    admitted: AtomicU64,
    shed: AtomicU64,
}

/// A load shedder that refuses lower-priority work earlier, keeping headroom for the rest.
///
/// With `max_load = 100` and the default thresholds a `Low` request is admitted while fewer
/// than 50 permits are held, `Normal` below 70, `High` below 90 and `Critical` below 100. A
/// priority's limit is `floor(max_load * percent / 100)`. All priorities share one counter,
/// so `load()` never exceeds `max_load`.
///
/// ```
/// use backpressure::{Priority, PriorityShedder};
///
/// let shedder = PriorityShedder::new(10);
/// let held: Vec<_> = (0..5).map(|_| shedder.try_acquire(Priority::Normal).unwrap()).collect();
/// assert!(shedder.try_acquire(Priority::Low).is_err()); // 5 of 10 held: Low sheds at 50%
/// assert!(shedder.try_acquire(Priority::High).is_ok());
/// assert_eq!(shedder.shed(Priority::Low), 1);
/// drop(held);
/// ```
pub struct PriorityShedder {
    gauge: Gauge,
    /// Per priority, its share of `max_load` in parts per million (monotone, ≤ 1_000_000).
    ppm: [u32; 4],
    counts: [CachePadded<Counts>; 4],
}

impl PriorityShedder {
    /// A shedder with the default thresholds (Low 50%, Normal 70%, High 90%, Critical 100%).
    ///
    /// # Panics
    /// If `max_load` is zero. Use [`builder`](Self::builder) for a `Result` instead.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(100);
    /// assert_eq!(shedder.limit(Priority::Low), 50);
    /// assert_eq!(shedder.limit(Priority::Critical), 100);
    /// ```
    pub fn new(max_load: usize) -> Self {
        assert_max_load(max_load, "PriorityShedder::new");
        match Self::builder(max_load).build() {
            Ok(shedder) => shedder,
            Err(err) => panic!("PriorityShedder::new: {err}"),
        }
    }

    /// A builder to set the thresholds, validated by
    /// [`build`](PriorityShedderBuilder::build).
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::builder(200).threshold(Priority::Low, 25.0).build().unwrap();
    /// assert_eq!(shedder.limit(Priority::Low), 50);
    /// ```
    pub fn builder(max_load: usize) -> PriorityShedderBuilder {
        PriorityShedderBuilder { max_load, percent: DEFAULT_PERCENT }
    }

    /// Takes a slot for work of `priority` if the load is below that priority's limit.
    ///
    /// # Errors
    /// [`Overloaded`] with the load seen, the priority's limit, and the priority.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(2);
    /// let _a = shedder.try_acquire(Priority::Critical).unwrap();
    /// let err = shedder.try_acquire(Priority::Low).unwrap_err(); // Low's limit is 1
    /// assert_eq!((err.load(), err.limit(), err.priority()), (1, 1, Some(Priority::Low)));
    /// ```
    #[inline]
    pub fn try_acquire(&self, priority: Priority) -> Result<LoadPermit<'_>, Overloaded> {
        self.admit(priority).map(|()| LoadPermit { holder: Holder::Borrowed(&self.gauge) })
    }

    /// Like [`try_acquire`](Self::try_acquire), with a `'static` permit that keeps the shedder
    /// alive.
    ///
    /// # Errors
    /// [`Overloaded`] as for [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// use std::sync::Arc;
    /// let shedder = Arc::new(PriorityShedder::new(4));
    /// let permit = shedder.try_acquire_owned(Priority::High).unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(shedder.load(), 0);
    /// ```
    pub fn try_acquire_owned(self: &StdArc<Self>, priority: Priority) -> Result<LoadPermit<'static>, Overloaded> {
        self.admit(priority).map(|()| LoadPermit { holder: Holder::Priority(StdArc::clone(self)) })
    }

    fn admit(&self, priority: Priority) -> Result<(), Overloaded> {
        let limit = self.limit(priority);
        let counts = &self.counts[priority.index()];
        match self.gauge.try_admit(limit) {
            Ok(()) => {
                // Relaxed: a statistic; synchronizes with nothing.
                counts.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(load) => {
                // Relaxed: a statistic; synchronizes with nothing.
                counts.shed.fetch_add(1, Ordering::Relaxed);
                Err(Overloaded { load, limit, priority: Some(priority) })
            }
        }
    }

    /// The load at which `priority` is shed now: `floor(max_load * percent / 100)`.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(10);
    /// assert_eq!(shedder.limit(Priority::Normal), 7);
    /// assert_eq!(shedder.limit(Priority::High), 9);
    /// ```
    #[inline]
    pub fn limit(&self, priority: Priority) -> usize {
        limit_of(self.gauge.max_load(), self.ppm[priority.index()])
    }

    /// The configured threshold of `priority`, in percent of `max_load`.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// assert_eq!(PriorityShedder::new(10).threshold(Priority::High), 90.0);
    /// ```
    pub fn threshold(&self, priority: Priority) -> f64 {
        f64::from(self.ppm[priority.index()]) / PPM_PER_PERCENT
    }

    /// How many permits are held right now (all priorities together).
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(10);
    /// let _p = shedder.try_acquire(Priority::Low).unwrap();
    /// assert_eq!(shedder.load(), 1);
    /// ```
    pub fn load(&self) -> usize {
        self.gauge.load()
    }

    /// The current `max_load`.
    ///
    /// ```
    /// assert_eq!(backpressure::PriorityShedder::new(10).max_load(), 10);
    /// ```
    pub fn max_load(&self) -> usize {
        self.gauge.max_load()
    }

    /// Changes `max_load` (and with it every priority's limit) for subsequent calls; held
    /// permits are never revoked.
    ///
    /// # Panics
    /// If `max_load` is zero.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(10);
    /// shedder.set_max_load(20);
    /// assert_eq!(shedder.limit(Priority::Low), 10);
    /// ```
    pub fn set_max_load(&self, max_load: usize) {
        assert_max_load(max_load, "PriorityShedder::set_max_load");
        self.gauge.set_max_load(max_load);
    }

    /// How many requests of `priority` were admitted so far.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(10);
    /// drop(shedder.try_acquire(Priority::High));
    /// assert_eq!(shedder.admitted(Priority::High), 1);
    /// ```
    pub fn admitted(&self, priority: Priority) -> u64 {
        // Relaxed: a statistic; synchronizes with nothing.
        self.counts[priority.index()].admitted.load(Ordering::Relaxed)
    }

    /// How many requests of `priority` were shed so far.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let shedder = PriorityShedder::new(1);
    /// let _p = shedder.try_acquire(Priority::Critical).unwrap();
    /// assert!(shedder.try_acquire(Priority::Critical).is_err());
    /// assert_eq!(shedder.shed(Priority::Critical), 1);
    /// ```
    pub fn shed(&self, priority: Priority) -> u64 {
        // Relaxed: a statistic; synchronizes with nothing.
        self.counts[priority.index()].shed.load(Ordering::Relaxed)
    }
}

#[inline]
fn limit_of(max_load: usize, ppm: u32) -> usize {
    // Exact: max_load * ppm < 2^64 * 2^20 fits in u128, and the quotient is ≤ max_load.
    (max_load as u128 * u128::from(ppm) / 1_000_000) as usize
}

impl fmt::Debug for PriorityShedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PriorityShedder");
        d.field("load", &self.load()).field("max_load", &self.max_load());
        for p in Priority::ALL {
            d.field(p.as_str(), &format_args!("{}% (limit {})", self.threshold(p), self.limit(p)));
        }
        d.finish()
    }
}

/// Configures a [`PriorityShedder`]; see [`PriorityShedder::builder`].
///
/// ```
/// use backpressure::{Priority, PriorityShedder};
/// let err = PriorityShedder::builder(10)
///     .threshold(Priority::Low, 80.0) // above Normal's 70%
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "threshold");
/// ```
#[derive(Clone, Debug)]
pub struct PriorityShedderBuilder {
    max_load: usize,
    percent: [f64; 4],
}

impl PriorityShedderBuilder {
    /// Sets the load, in percent of `max_load`, at which `priority` starts being shed.
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// let s = PriorityShedder::builder(100).threshold(Priority::High, 95.0).build().unwrap();
    /// assert_eq!(s.limit(Priority::High), 95);
    /// ```
    pub fn threshold(mut self, priority: Priority, percent: f64) -> Self {
        self.percent[priority.index()] = percent;
        self
    }

    /// Sets `max_load`.
    ///
    /// ```
    /// let s = backpressure::PriorityShedder::builder(1).max_load(64).build().unwrap();
    /// assert_eq!(s.max_load(), 64);
    /// ```
    pub fn max_load(mut self, max_load: usize) -> Self {
        self.max_load = max_load;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`ConfigError`] for `max_load` zero (field `max_load`), or a threshold that is not a
    /// number within `0..=100` or is below the threshold of a lower priority (field
    /// `threshold`).
    ///
    /// ```
    /// use backpressure::{Priority, PriorityShedder};
    /// assert!(PriorityShedder::builder(0).build().is_err());
    /// assert!(PriorityShedder::builder(10).threshold(Priority::Critical, 101.0).build().is_err());
    /// ```
    pub fn build(self) -> Result<PriorityShedder, ConfigError> {
        if self.max_load == 0 {
            return Err(ConfigError::new("max_load", "must be at least 1, got 0"));
        }
        let mut ppm = [0u32; 4];
        for p in Priority::ALL {
            let percent = self.percent[p.index()];
            if !(0.0..=100.0).contains(&percent) {
                return Err(ConfigError::new(
                    "threshold",
                    format!("{p} threshold must be a percentage within 0..=100, got {percent}"),
                ));
            }
            // In range by the check above: 0 ≤ percent * 10_000 ≤ 1_000_000.
            ppm[p.index()] = (percent * PPM_PER_PERCENT).round() as u32;
        }
        for pair in Priority::ALL.windows(2) {
            let (lower, higher) = (pair[0], pair[1]);
            if ppm[lower.index()] > ppm[higher.index()] {
                return Err(ConfigError::new(
                    "threshold",
                    format!(
                        "thresholds must not decrease with priority, got {lower} {}% above {higher} {}%",
                        self.percent[lower.index()],
                        self.percent[higher.index()]
                    ),
                ));
            }
        }
        Ok(PriorityShedder { gauge: Gauge::new(self.max_load), ppm, counts: Default::default() })
    }
}

/// A slot in a [`LoadShedder`] or [`PriorityShedder`], given back when dropped.
///
/// Dropping is one atomic decrement; it also happens while a panic unwinds through the holder,
/// so a slot cannot leak. `LoadPermit<'static>` comes from the `try_acquire_owned` forms.
///
/// ```
/// use backpressure::LoadShedder;
/// let shedder = LoadShedder::new(1);
/// let result = std::panic::catch_unwind(|| {
///     let _permit = shedder.try_acquire().unwrap();
///     panic!("handler failed");
/// });
/// assert!(result.is_err());
/// assert_eq!(shedder.load(), 0); // released during unwinding
/// ```
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct LoadPermit<'a> {
    holder: Holder<'a>,
}

enum Holder<'a> {
    Borrowed(&'a Gauge),
    Plain(StdArc<LoadShedder>),
    Priority(StdArc<PriorityShedder>),
}

impl LoadPermit<'_> {
    fn gauge(&self) -> &Gauge {
        match &self.holder {
            Holder::Borrowed(gauge) => gauge,
            Holder::Plain(shedder) => &shedder.gauge,
            Holder::Priority(shedder) => &shedder.gauge,
        }
    }
}

impl Drop for LoadPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gauge().release();
    }
}

impl fmt::Debug for LoadPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owned = !matches!(self.holder, Holder::Borrowed(_));
        f.debug_struct("LoadPermit").field("load", &self.gauge().load()).field("owned", &owned).finish()
    }
}

/// A shedder refused work: the load had reached the limit.
///
/// Carries what the shedder saw, so the refusal can be logged or turned into a response.
///
/// ```
/// use backpressure::{LoadShedder, Overloaded};
/// let shedder = LoadShedder::new(1);
/// let _p = shedder.try_acquire().unwrap();
/// let err: Overloaded = shedder.try_acquire().unwrap_err();
/// assert_eq!(err.to_string(), "overloaded: load 1 reached the limit 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Overloaded {
    load: usize,
    limit: usize,
    priority: Option<Priority>,
}

impl Overloaded {
    /// The number of permits held when the request was refused.
    pub fn load(&self) -> usize {
        self.load
    }

    /// The limit the load had reached: `max_load`, or the priority's share of it.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The priority of the refused request, for a [`PriorityShedder`].
    pub fn priority(&self) -> Option<Priority> {
        self.priority
    }
}

impl fmt::Display for Overloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overloaded: load {} reached the limit {}", self.load, self.limit)?;
        if let Some(p) = self.priority {
            write!(f, " for {p} priority")?;
        }
        Ok(())
    }
}

impl std::error::Error for Overloaded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_sync_and_debug() {
        fn check<T: Send + Sync + fmt::Debug>() {}
        check::<LoadShedder>();
        check::<PriorityShedder>();
        check::<PriorityShedderBuilder>();
        check::<LoadPermit<'static>>();
        check::<Overloaded>();
        check::<Priority>();
    }

    #[test]
    fn load_never_exceeds_max_load_and_returns_to_zero() {
        let shedder = LoadShedder::new(3);
        let held: Vec<_> = (0..3).map(|_| shedder.try_acquire().unwrap()).collect();
        assert_eq!(shedder.try_acquire().unwrap_err(), Overloaded { load: 3, limit: 3, priority: None });
        assert_eq!(shedder.load(), 3);
        drop(held);
        assert_eq!(shedder.load(), 0);
    }

    #[test]
    fn raising_max_load_admits_more_at_once() {
        let shedder = LoadShedder::new(1);
        let _a = shedder.try_acquire().unwrap();
        shedder.set_max_load(2);
        assert!(shedder.try_acquire().is_ok());
    }

    #[test]
    #[should_panic(expected = "max_load must be at least 1, got 0")]
    fn zero_max_load_panics_naming_the_value() {
        let _ = LoadShedder::new(0);
    }

    #[test]
    #[should_panic(expected = "got 0")]
    fn set_max_load_zero_panics() {
        LoadShedder::new(1).set_max_load(0);
    }

    #[test]
    fn owned_permit_outlives_the_borrow_and_releases() {
        let shedder = StdArc::new(LoadShedder::new(1));
        let permit = shedder.try_acquire_owned().unwrap();
        let clone = StdArc::clone(&shedder);
        drop(shedder);
        assert_eq!(clone.load(), 1);
        drop(permit);
        assert_eq!(clone.load(), 0);
    }

    #[test]
    fn limits_floor_the_share_of_max_load() {
        let s = PriorityShedder::new(3);
        assert_eq!([1, 2, 2, 3], Priority::ALL.map(|p| s.limit(p)));
        let s = PriorityShedder::new(1);
        assert_eq!([0, 0, 0, 1], Priority::ALL.map(|p| s.limit(p)));
        let s = PriorityShedder::new(usize::MAX);
        assert_eq!(s.limit(Priority::Critical), usize::MAX);
        assert_eq!(s.limit(Priority::Low), usize::MAX / 2);
    }

    #[test]
    fn builder_rejects_bad_thresholds_with_the_field_name() {
        for bad in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
            let err = PriorityShedder::builder(10).threshold(Priority::Low, bad).build().unwrap_err();
            assert_eq!(err.field(), "threshold", "{bad}");
            assert!(err.reason().contains("low"), "{err}");
        }
        let err = PriorityShedder::builder(10).threshold(Priority::Critical, 80.0).build().unwrap_err();
        assert!(err.reason().contains("critical 80%"), "{err}");
        assert_eq!(PriorityShedder::builder(0).build().unwrap_err().field(), "max_load");
    }

    #[test]
    fn equal_thresholds_are_allowed() {
        let s = PriorityShedder::builder(10).threshold(Priority::Low, 70.0).build().unwrap();
        assert_eq!(s.limit(Priority::Low), s.limit(Priority::Normal));
    }

    #[test]
    fn permit_debug_does_not_need_a_lock() {
        let shedder = PriorityShedder::new(4);
        let p = shedder.try_acquire(Priority::Low).unwrap();
        assert!(format!("{p:?}").contains("load: 1"));
        assert!(format!("{shedder:?}").contains("low"));
    }
}
