//! [`Processor`]: a pool of named worker threads fed by a [`BoundedQueue`], each item handled by
//! one call of a handler, optionally paced by a [`TokenBucket`].
//!
//! It is the usual shape of a thread-based service: producers submit work with the queue's
//! own submit family (same calls, same errors, the item handed back on refusal), so the choice
//! between refusing (`try_submit` → HTTP 503), stalling (`submit_timeout`) and slowing the
//! producer (`submit`) is made per call, exactly as with a bare queue.
//!
//! ```
//! use backpressure::Processor;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! let sum = Arc::new(AtomicU64::new(0));
//! let total = Arc::clone(&sum);
//! let processor = Processor::builder()
//!     .workers(2)
//!     .queue_capacity(16)
//!     .name("adder")
//!     .build(move |n: u64| {
//!         total.fetch_add(n, Ordering::Relaxed);
//!     })
//!     .unwrap();
//! for n in 1..=100 {
//!     processor.submit(n).unwrap(); // waits while the workers are behind
//! }
//! let report = processor.shutdown(); // handles everything accepted, then joins
//! assert_eq!(report.handled, 100);
//! assert_eq!(sum.load(Ordering::Relaxed), 5050);
//! ```
//!
//! # Lifecycle
//! Workers block in [`BoundedQueue::recv`] and park while the queue is empty. Each item is
//! taken by exactly one worker, which (when rate-limited) first waits for a token, then runs
//! the handler inside `catch_unwind`: a panic is counted and the worker goes on serving.
//!
//! - [`shutdown`](Processor::shutdown) closes the queue; workers drain everything accepted and
//!   exit when the queue reports `Closed`; the call joins them and returns a
//!   [`ProcessorReport`].
//! - [`shutdown_now`](Processor::shutdown_now) also raises a stop flag: a worker that takes an
//!   item after seeing it (or while waiting for a rate token) gives the item back instead of
//!   starting it; handlers already running finish. After joining, the items given back and the
//!   items still queued are returned. Every accepted item is therefore either handled or
//!   returned, never both and never neither.
//! - Dropping a `Processor` without calling either is a [`shutdown`](Processor::shutdown).

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::ConfigError;
use crate::metrics::{LatencyHistogram, QueueStats};
use crate::queue::{BoundedQueue, SubmitError, SubmitTimeoutError, TrySubmitError};
use crate::rate::TokenBucket;
use crate::sync::{AtomicBool, AtomicU64, Ordering};

/// A boxed one-shot job, the item type of [`Processor::jobs`].
///
/// ```
/// let job: backpressure::Job = Box::new(|| println!("run once, on a worker"));
/// let jobs = backpressure::Processor::jobs().build().unwrap();
/// jobs.submit(job).unwrap();
/// ```
pub type Job = Box<dyn FnOnce() + Send + 'static>;

type Handler<T> = Box<dyn Fn(T) + Send + Sync + 'static>;

/// Worker threads fed by a bounded queue. See the [module docs](self) for the lifecycle.
///
/// Dropping a `Processor` without [`shutdown`](Self::shutdown) or
/// [`shutdown_now`](Self::shutdown_now) behaves as `shutdown`: the drop blocks until every
/// accepted item has been handled and the workers have exited.
///
/// ```
/// use backpressure::{Processor, TrySubmitError};
///
/// let processor = Processor::builder().workers(1).queue_capacity(1).build(|_: u32| {}).unwrap();
/// match processor.try_submit(7) {
///     Ok(()) => {}
///     Err(TrySubmitError::Full(item)) => println!("busy; {item} is ours again"),
///     Err(TrySubmitError::Closed(_)) => unreachable!(),
/// }
/// drop(processor); // same as shutdown: item 7 (if accepted) is handled first
/// ```
pub struct Processor<T> {
    shared: Arc<Shared<T>>,
    workers: Vec<JoinHandle<()>>,
}

/// State shared by the handle and the workers.
struct Shared<T> {
    name: String,
    queue: BoundedQueue<T>,
    handler: Handler<T>,
    limiter: Option<TokenBucket>,
    /// Raised by `shutdown_now`: workers stop starting items.
    stop_now: AtomicBool,
    /// Where rate-limited workers sleep, so that `shutdown_now` can wake them.
    stop_signal: (Mutex<()>, Condvar),
    /// Cancelled by `shutdown_now`, for handlers that want to stop early.
    stop_token: Option<CancelToken>,
    /// Items taken from the queue but not started because of `shutdown_now`.
    given_back: Mutex<Vec<T>>,
    handled: AtomicU64,
    panicked: AtomicU64,
    service: LatencyHistogram,
    workers: usize,
}

/// Configures a [`Processor`]; from [`Processor::builder`].
///
/// ```
/// let err = backpressure::Processor::builder().workers(0).build(|_: ()| {}).unwrap_err();
/// assert_eq!(err.field(), "workers");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ProcessorBuilder<T> {
    workers: usize,
    queue_capacity: usize,
    limiter: Option<TokenBucket>,
    name: String,
    wait_sampling: u32,
    stop_token: Option<CancelToken>,
    _items: std::marker::PhantomData<fn(T)>,
}

/// Configures a [`Processor`] of boxed jobs; from [`Processor::jobs`].
///
/// ```
/// let jobs = backpressure::Processor::jobs().workers(2).build().unwrap();
/// jobs.submit(Box::new(|| println!("hello from a worker"))).unwrap();
/// assert_eq!(jobs.shutdown().handled, 1);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct JobsBuilder(ProcessorBuilder<Job>);

/// What [`Processor::shutdown`] reports: totals over the processor's whole life.
///
/// ```
/// let p = backpressure::Processor::builder().build(|n: i32| assert!(n > 0)).unwrap();
/// p.submit(1).unwrap();
/// p.submit(-1).unwrap(); // the handler panics; counted, the worker survives
/// let report = p.shutdown();
/// assert_eq!((report.handled, report.panicked), (2, 1));
/// assert_eq!(report.service.count(), 2);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessorReport {
    /// Items whose handler ran to the end or panicked (panicked items are included).
    pub handled: u64,
    /// Handler calls that panicked.
    pub panicked: u64,
    /// The queue's counters at the end, including `wait` (accepted → taken by a worker).
    pub queue: QueueStats,
    /// Handler time per item.
    pub service: LatencyHistogram,
}

/// A live snapshot of a [`Processor`]; from [`Processor::stats`].
///
/// ```
/// let p = backpressure::Processor::builder().workers(3).build(|_: u8| {}).unwrap();
/// let stats = p.stats();
/// assert_eq!(stats.workers, 3);
/// assert_eq!(stats.queue.accepted, 0);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessorStats {
    /// Items handled so far (panicked ones included).
    pub handled: u64,
    /// Handler calls that panicked so far.
    pub panicked: u64,
    /// Worker threads in the pool.
    pub workers: usize,
    /// The queue's counters; `wait` is the time from accepted to taken by a worker.
    pub queue: QueueStats,
    /// Handler time per item.
    pub service: LatencyHistogram,
}

impl<T: Send + 'static> Processor<T> {
    /// A builder with one worker, a queue of 1024 and no rate limit.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().workers(4).queue_capacity(64).build(|s: String| {
    ///     let _ = s.len();
    /// })?;
    /// p.submit("work".to_string()).unwrap();
    /// # Ok::<(), backpressure::ConfigError>(())
    /// ```
    pub fn builder() -> ProcessorBuilder<T> {
        ProcessorBuilder {
            workers: 1,
            queue_capacity: 1024,
            limiter: None,
            name: "processor".to_string(),
            wait_sampling: crate::queue::DEFAULT_WAIT_SAMPLING,
            stop_token: None,
            _items: std::marker::PhantomData,
        }
    }
}

impl Processor<Job> {
    /// A builder for a processor whose items are boxed `FnOnce()` jobs, each run by a worker.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let jobs = backpressure::Processor::jobs().workers(2).queue_capacity(8).build().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// jobs.submit(Box::new(move || tx.send(42).unwrap())).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    pub fn jobs() -> JobsBuilder {
        JobsBuilder(Processor::builder().name("jobs"))
    }
}

impl<T: Send + 'static> ProcessorBuilder<T> {
    /// The number of worker threads (at least 1). Default: 1.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().workers(2).build(|_: ()| {}).unwrap();
    /// assert_eq!(p.stats().workers, 2);
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The capacity of the queue in front of the workers (at least 1). Default: 1024.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().queue_capacity(5).build(|_: ()| {}).unwrap();
    /// assert_eq!(p.capacity(), 5);
    /// ```
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }

    /// Paces the workers: each item takes one token from `bucket` before its handler starts,
    /// so together the workers start at most `burst + rate·t` items in any window `t`.
    ///
    /// ```
    /// let bucket = backpressure::TokenBucket::new(1000.0, 10);
    /// let p = backpressure::Processor::builder().rate_limit(bucket).build(|_: ()| {}).unwrap();
    /// p.submit(()).unwrap();
    /// ```
    pub fn rate_limit(mut self, bucket: TokenBucket) -> Self {
        self.limiter = Some(bucket);
        self
    }

    /// The name of the pool: worker threads are called `{name}-{index}`. Default: `processor`.
    ///
    /// ```
    /// let p = backpressure::Processor::builder()
    ///     .name("resize")
    ///     .build(|_: ()| assert_eq!(std::thread::current().name(), Some("resize-0")))
    ///     .unwrap();
    /// p.submit(()).unwrap();
    /// assert_eq!(p.shutdown().panicked, 0);
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Records the queued time of about one item in `every` (`0`: off), as
    /// [`QueueBuilder::wait_sampling`](crate::queue::QueueBuilder::wait_sampling). Default: 128.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().wait_sampling(1).build(|_: ()| {}).unwrap();
    /// p.submit(()).unwrap();
    /// assert_eq!(p.shutdown().queue.wait.count(), 1);
    /// ```
    pub fn wait_sampling(mut self, every: u32) -> Self {
        self.wait_sampling = every;
        self
    }

    /// A token that [`shutdown_now`](Processor::shutdown_now) cancels once it has stopped
    /// intake, so long-running handlers that hold a clone can give up early. A handler that
    /// saw it cancelled is the last item its worker starts.
    ///
    /// ```
    /// use backpressure::{CancelToken, Processor};
    /// let stop = CancelToken::new();
    /// let seen = stop.clone();
    /// let p = Processor::builder()
    ///     .stop_token(stop)
    ///     .build(move |steps: u32| {
    ///         for _ in 0..steps {
    ///             if seen.is_cancelled() {
    ///                 return; // abandon the rest of this item's work
    ///             }
    ///         }
    ///     })
    ///     .unwrap();
    /// p.submit(10).unwrap();
    /// p.shutdown_now();
    /// ```
    pub fn stop_token(mut self, token: CancelToken) -> Self {
        self.stop_token = Some(token);
        self
    }

    /// Validates the settings, starts the workers and returns the running processor.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `workers` or `queue_capacity` when it is zero, or `workers`
    /// when the operating system refuses to start a thread.
    ///
    /// ```
    /// let err = backpressure::Processor::builder().queue_capacity(0).build(|_: ()| {}).unwrap_err();
    /// assert_eq!(err.field(), "queue_capacity");
    /// ```
    pub fn build<F>(self, handler: F) -> Result<Processor<T>, ConfigError>
    where
        F: Fn(T) + Send + Sync + 'static,
    {
        if self.workers == 0 {
            return Err(ConfigError::new("workers", "must be at least 1, got 0"));
        }
        let shared = Arc::new(Shared {
            queue: BoundedQueue::builder(self.queue_capacity)
                .name(self.name.clone())
                .wait_sampling(self.wait_sampling)
                .build()
                .map_err(|err| ConfigError::new("queue_capacity", err.reason()))?,
            handler: Box::new(handler),
            limiter: self.limiter,
            stop_now: AtomicBool::new(false),
            stop_signal: (Mutex::new(()), Condvar::new()),
            stop_token: self.stop_token,
            given_back: Mutex::new(Vec::new()),
            handled: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            service: LatencyHistogram::new(),
            workers: self.workers,
            name: self.name,
        });
        let mut processor = Processor { shared, workers: Vec::with_capacity(self.workers) };
        for index in 0..processor.shared.workers {
            let shared = Arc::clone(&processor.shared);
            let spawned =
                std::thread::Builder::new().name(format!("{}-{index}", shared.name)).spawn(move || shared.serve());
            match spawned {
                Ok(worker) => processor.workers.push(worker),
                // Dropping `processor` shuts down the workers already started.
                Err(err) => return Err(ConfigError::new("workers", format!("could not start worker {index}: {err}"))),
            }
        }
        Ok(processor)
    }
}

impl JobsBuilder {
    /// As [`ProcessorBuilder::workers`].
    ///
    /// ```
    /// assert!(backpressure::Processor::jobs().workers(0).build().is_err());
    /// ```
    pub fn workers(self, n: usize) -> Self {
        Self(self.0.workers(n))
    }

    /// As [`ProcessorBuilder::queue_capacity`].
    ///
    /// ```
    /// assert_eq!(backpressure::Processor::jobs().queue_capacity(3).build().unwrap().capacity(), 3);
    /// ```
    pub fn queue_capacity(self, n: usize) -> Self {
        Self(self.0.queue_capacity(n))
    }

    /// As [`ProcessorBuilder::rate_limit`].
    ///
    /// ```
    /// let jobs = backpressure::Processor::jobs().rate_limit(backpressure::TokenBucket::new(100.0, 5)).build();
    /// assert!(jobs.is_ok());
    /// ```
    pub fn rate_limit(self, bucket: TokenBucket) -> Self {
        Self(self.0.rate_limit(bucket))
    }

    /// As [`ProcessorBuilder::wait_sampling`].
    ///
    /// ```
    /// assert!(backpressure::Processor::jobs().wait_sampling(0).build().is_ok());
    /// ```
    pub fn wait_sampling(self, every: u32) -> Self {
        Self(self.0.wait_sampling(every))
    }

    /// As [`ProcessorBuilder::stop_token`].
    ///
    /// ```
    /// let jobs = backpressure::Processor::jobs().stop_token(backpressure::CancelToken::new()).build();
    /// assert!(jobs.is_ok());
    /// ```
    pub fn stop_token(self, token: CancelToken) -> Self {
        Self(self.0.stop_token(token))
    }

    /// As [`ProcessorBuilder::name`]. Default: `jobs`.
    ///
    /// ```
    /// assert_eq!(backpressure::Processor::jobs().name("io").build().unwrap().name(), "io");
    /// ```
    pub fn name(self, name: impl Into<String>) -> Self {
        Self(self.0.name(name))
    }

    /// Starts the workers; each job is run by calling it.
    ///
    /// # Errors
    /// As [`ProcessorBuilder::build`].
    ///
    /// ```
    /// let jobs = backpressure::Processor::jobs().build()?;
    /// # Ok::<(), backpressure::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<Processor<Job>, ConfigError> {
        self.0.build(|job: Job| job())
    }
}

impl<T> Processor<T> {
    /// Queues `item` for a worker if there is space now; never waits.
    ///
    /// # Errors
    /// As [`BoundedQueue::try_submit`]: `Full(item)` or, after shutdown began, `Closed(item)`.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// assert!(p.try_submit(1).is_ok() || p.try_submit(1).is_err());
    /// ```
    pub fn try_submit(&self, item: T) -> Result<(), TrySubmitError<T>> {
        self.shared.queue.try_submit(item)
    }

    /// Queues `item`, waiting as long as it takes for space.
    ///
    /// # Errors
    /// As [`BoundedQueue::submit`]: only when the processor is shutting down.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// p.submit(1).unwrap();
    /// ```
    pub fn submit(&self, item: T) -> Result<(), SubmitError<T>> {
        self.shared.queue.submit(item)
    }

    /// Queues `item`, waiting at most `timeout` for space.
    ///
    /// # Errors
    /// As [`BoundedQueue::submit_timeout`]: `Timeout(item)` or `Closed(item)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// p.submit_timeout(1, Duration::from_millis(50)).unwrap();
    /// ```
    pub fn submit_timeout(&self, item: T, timeout: Duration) -> Result<(), SubmitTimeoutError<T>> {
        self.shared.queue.submit_timeout(item, timeout)
    }

    /// Queues `item`, waiting for space until `deadline`.
    ///
    /// # Errors
    /// As [`BoundedQueue::submit_deadline`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// p.submit_deadline(1, Instant::now() + Duration::from_millis(50)).unwrap();
    /// ```
    pub fn submit_deadline(&self, item: T, deadline: Instant) -> Result<(), SubmitTimeoutError<T>> {
        self.shared.queue.submit_deadline(item, deadline)
    }

    /// Queues `item`, waiting for space until `token` is cancelled or reaches its deadline.
    ///
    /// # Errors
    /// As [`BoundedQueue::submit_cancellable`]: `Cancelled(item)`, `Timeout(item)` or `Closed(item)`.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// let token = backpressure::CancelToken::new();
    /// p.submit_cancellable(1, &token).unwrap();
    /// ```
    pub fn submit_cancellable(&self, item: T, token: &CancelToken) -> Result<(), SubmitTimeoutError<T>> {
        self.shared.queue.submit_cancellable(item, token)
    }

    /// Items queued and not yet taken by a worker.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// assert!(p.len() <= p.capacity());
    /// ```
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no item is waiting for a worker.
    ///
    /// ```
    /// assert!(backpressure::Processor::builder().build(|_: u8| {}).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// The capacity of the queue in front of the workers.
    ///
    /// ```
    /// assert_eq!(backpressure::Processor::builder().queue_capacity(9).build(|_: u8| {}).unwrap().capacity(), 9);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.queue.capacity()
    }

    /// The pool's name (the prefix of its worker threads' names).
    ///
    /// ```
    /// assert_eq!(backpressure::Processor::builder().build(|_: u8| {}).unwrap().name(), "processor");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A snapshot of the counters and latency histograms.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().build(|_: u8| {}).unwrap();
    /// p.submit(1).unwrap();
    /// let report = p.shutdown();
    /// assert_eq!(report.queue.received, 1);
    /// ```
    pub fn stats(&self) -> ProcessorStats {
        let s = &self.shared;
        ProcessorStats {
            // Relaxed (both): statistics.
            handled: s.handled.load(Ordering::Relaxed),
            // Relaxed: a statistic.
            panicked: s.panicked.load(Ordering::Relaxed),
            workers: s.workers,
            queue: s.queue.stats(),
            service: s.service.clone(),
        }
    }

    /// Stops intake, lets the workers handle every accepted item, joins them and reports.
    /// Blocked submitters wake with `Closed(item)`.
    ///
    /// ```
    /// let p = backpressure::Processor::builder().workers(2).build(|_: u8| {}).unwrap();
    /// for n in 0..10 {
    ///     p.submit(n).unwrap();
    /// }
    /// assert_eq!(p.shutdown().handled, 10);
    /// ```
    pub fn shutdown(mut self) -> ProcessorReport {
        self.join();
        let stats = self.stats();
        ProcessorReport { handled: stats.handled, panicked: stats.panicked, queue: stats.queue, service: stats.service }
    }

    /// Stops intake and returns the accepted items no worker has started; handlers already
    /// running finish first (and see the [`stop_token`](ProcessorBuilder::stop_token)
    /// cancelled, if one was given). Every accepted item is either handled or in the returned
    /// `Vec`, in no promised order.
    ///
    /// ```
    /// use backpressure::{CancelToken, Processor};
    /// use std::sync::mpsc;
    ///
    /// let (started, first_started) = mpsc::channel();
    /// let stop = CancelToken::new();
    /// let seen = stop.clone();
    /// let p = Processor::builder()
    ///     .workers(1)
    ///     .stop_token(stop)
    ///     .build(move |n: u32| {
    ///         started.send(n).unwrap();
    ///         while !seen.is_cancelled() {
    ///             std::thread::sleep(std::time::Duration::from_millis(1)); // a long job
    ///         }
    ///     })
    ///     .unwrap();
    /// for n in 0..4 {
    ///     p.submit(n).unwrap();
    /// }
    /// assert_eq!(first_started.recv().unwrap(), 0); // the worker is busy with item 0
    /// let mut not_started = p.shutdown_now();
    /// not_started.sort();
    /// assert_eq!(not_started, [1, 2, 3]);
    /// ```
    pub fn shutdown_now(mut self) -> Vec<T> {
        {
            let (lock, condvar) = &self.shared.stop_signal;
            let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            // Relaxed: the flag is only a decision for each worker; the item handover is through
            // `given_back` (a mutex) and the joins below order everything the workers did.
            self.shared.stop_now.store(true, Ordering::Relaxed);
            // Under the lock: a rate-limited worker checks the flag under it before sleeping.
            condvar.notify_all();
        }
        if let Some(token) = &self.shared.stop_token {
            // After the flag: its Release (pairing with a handler's Acquire in `is_cancelled`)
            // makes a worker whose handler saw the cancel see the flag for its next item.
            token.cancel();
        }
        self.join();
        let mut items = std::mem::take(&mut *self.shared.given_back.lock().unwrap_or_else(PoisonError::into_inner));
        items.extend(self.shared.queue.drain());
        items
    }

    /// Closes the queue and joins every worker (idempotent).
    fn join(&mut self) {
        self.shared.queue.close();
        for worker in self.workers.drain(..) {
            // A worker cannot panic (handlers run under `catch_unwind`); if one did anyway,
            // the items it did not take are still in the queue or `given_back`.
            let _ = worker.join();
        }
    }
}

impl<T> Shared<T> {
    /// A worker's life: take items until the queue is closed and drained.
    fn serve(&self) {
        while let Ok(item) = self.queue.recv() {
            if let Some(item) = self.admit(item) {
                self.handle(item);
            }
        }
    }

    /// Waits for a rate token if limited; gives the item back (and returns `None`) when
    /// `shutdown_now` is raised before the item starts.
    fn admit(&self, item: T) -> Option<T> {
        loop {
            // Relaxed: see `shutdown_now`.
            if self.stop_now.load(Ordering::Relaxed) {
                self.given_back.lock().unwrap_or_else(PoisonError::into_inner).push(item);
                return None;
            }
            let Some(limiter) = &self.limiter else { return Some(item) };
            match limiter.try_acquire() {
                Ok(()) => return Some(item),
                Err(limited) => self.sleep_unless_stopped(limited.retry_after()),
            }
        }
    }

    /// Sleeps for `wait` (the bucket's own time, so under a mock clock this is a poll
    /// interval), or until `shutdown_now`.
    fn sleep_unless_stopped(&self, wait: Duration) {
        let (lock, condvar) = &self.stop_signal;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Relaxed: read under the lock `shutdown_now` stores under, so no wake-up is lost.
        if !self.stop_now.load(Ordering::Relaxed) {
            let wait = wait.min(Duration::from_secs(1));
            drop(condvar.wait_timeout(guard, wait).unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// Runs the handler on one item, catching and counting a panic, and records its time.
    fn handle(&self, item: T) {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.handler)(item)));
        self.service.record(started.elapsed());
        if let Err(payload) = outcome {
            // Relaxed: a statistic; `shutdown` reads it after joining this thread.
            self.panicked.fetch_add(1, Ordering::Relaxed);
            drop_quietly(payload);
        }
        // Relaxed: a statistic; `shutdown` reads it after joining this thread.
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drops a panic payload; a payload whose own `drop` panics is leaked rather than allowed to
/// take the worker down.
fn drop_quietly(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

impl<T> Drop for Processor<T> {
    /// Same as [`shutdown`](Processor::shutdown): blocks until every accepted item is handled.
    fn drop(&mut self) {
        self.join();
    }
}

impl<T> fmt::Debug for Processor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processor")
            .field("name", &self.shared.name)
            .field("workers", &self.shared.workers)
            .field("queue", &self.shared.queue)
            .field("rate_limited", &self.shared.limiter.is_some())
            // Relaxed (both): statistics.
            .field("handled", &self.shared.handled.load(Ordering::Relaxed))
            // Relaxed: a statistic.
            .field("panicked", &self.shared.panicked.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T> fmt::Debug for ProcessorBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessorBuilder")
            .field("workers", &self.workers)
            .field("queue_capacity", &self.queue_capacity)
            .field("rate_limit", &self.limiter)
            .field("name", &self.name)
            .field("wait_sampling", &self.wait_sampling)
            .field("stop_token", &self.stop_token)
            .finish()
    }
}

impl fmt::Debug for JobsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JobsBuilder").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn zero_workers_or_capacity_is_a_config_error() {
        assert_eq!(Processor::builder().workers(0).build(|_: ()| {}).unwrap_err().field(), "workers");
        assert_eq!(Processor::builder().queue_capacity(0).build(|_: ()| {}).unwrap_err().field(), "queue_capacity");
        assert_eq!(Processor::jobs().workers(0).build().unwrap_err().field(), "workers");
    }

    #[test]
    fn shutdown_handles_every_accepted_item_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let p = Processor::builder()
            .workers(2)
            .queue_capacity(4)
            .build(move |n: u32| sink.lock().unwrap().push(n))
            .unwrap();
        for n in 0..50 {
            p.submit(n).unwrap();
        }
        let report = p.shutdown();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        assert_eq!((report.handled, report.panicked, report.queue.accepted), (50, 0, 50));
    }

    #[test]
    fn panicking_handler_is_counted_and_the_worker_keeps_serving() {
        let p = Processor::builder().workers(1).build(|n: u32| assert!(n % 2 == 0, "odd")).unwrap();
        for n in 0..6 {
            p.submit(n).unwrap();
        }
        let report = p.shutdown();
        assert_eq!((report.handled, report.panicked), (6, 3));
    }

    #[test]
    fn drop_without_shutdown_handles_everything() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let p = Processor::builder().build(move |_: ()| {
            // Relaxed: a statistic.
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let p = p.unwrap();
        for _ in 0..20 {
            p.submit(()).unwrap();
        }
        drop(p);
        // Relaxed: a statistic.
        assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 20);
    }

    #[test]
    fn jobs_run_once_each() {
        let count = Arc::new(AtomicUsize::new(0));
        let jobs = Processor::jobs().workers(2).build().unwrap();
        for _ in 0..10 {
            let c = Arc::clone(&count);
            jobs.submit(Box::new(move || {
                // Relaxed: a statistic.
                c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }))
            .unwrap();
        }
        assert_eq!(jobs.shutdown().handled, 10);
        // Relaxed: a statistic.
        assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 10);
    }

    #[test]
    fn submit_after_shutdown_began_hands_the_item_back() {
        let p = Processor::builder().build(|_: u8| {}).unwrap();
        p.shared.queue.close();
        assert!(matches!(p.try_submit(3), Err(TrySubmitError::Closed(3))));
        assert!(matches!(p.submit_timeout(4, Duration::ZERO), Err(SubmitTimeoutError::Closed(4))));
    }
}
