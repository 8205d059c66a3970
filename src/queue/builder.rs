//! [`QueueBuilder`]: a [`BoundedQueue`] with a name, a clock and a wait-time sampling rate.

use std::fmt;
use std::marker::PhantomData;

use super::{BoundedQueue, Entry};
use crate::error::ConfigError;
use crate::ring::Ring;

/// The sampling rate `Processor` uses by default, and the one suggested for queues that record:
/// stamp about one item in 128 with its acceptance time.
pub(crate) const DEFAULT_WAIT_SAMPLING: u32 = 128;

/// Configures a [`BoundedQueue`]; from [`BoundedQueue::builder`].
///
/// ```
/// use backpressure::BoundedQueue;
/// let q: BoundedQueue<u64> = BoundedQueue::builder(128)
///     .name("ingest")
///     .wait_sampling(1) // stamp every item (tests, low-rate queues)
///     .clock(quanta::Clock::new())
///     .build()?;
/// q.try_submit(1).unwrap();
/// q.try_recv().unwrap();
/// assert_eq!(q.stats().wait.count(), 1);
/// # Ok::<(), backpressure::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct QueueBuilder<T> {
    pub(super) capacity: usize,
    pub(super) wait_sampling: u32,
    pub(super) clock: Option<quanta::Clock>,
    pub(super) name: Option<String>,
    _items: PhantomData<fn(T)>,
}

impl<T> QueueBuilder<T> {
    pub(super) fn new(capacity: usize) -> Self {
        Self { capacity, wait_sampling: 0, clock: None, name: None, _items: PhantomData }
    }

    /// Records the queued time ([`QueueStats::wait`](crate::QueueStats::wait)) of about one
    /// item in `every`: `128` is a good rate for a busy queue, `1` records every item, `0`
    /// (the default for a bare queue; a [`Processor`](crate::Processor) uses 128) records
    /// nothing and costs nothing: the queue is then exactly the queue without recording.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::builder(4).wait_sampling(128).build().unwrap();
    /// q.try_submit(()).unwrap();
    /// q.try_recv().unwrap();
    /// assert!(q.stats().wait.count() <= 1); // one in 128, on average
    /// let off = backpressure::BoundedQueue::<()>::new(4); // default: off
    /// off.try_submit(()).unwrap();
    /// off.try_recv().unwrap();
    /// assert_eq!(off.stats().wait.count(), 0);
    /// ```
    pub fn wait_sampling(mut self, every: u32) -> Self {
        self.wait_sampling = every;
        self
    }

    /// The clock wait times are read from; tests pass `quanta::Clock::mock()`.
    /// Default: `std::time::Instant`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (clock, mock) = quanta::Clock::mock();
    /// mock.increment(Duration::from_secs(1));
    /// let q = backpressure::BoundedQueue::builder(4).wait_sampling(1).clock(clock).build().unwrap();
    /// q.try_submit(()).unwrap();
    /// mock.increment(Duration::from_millis(5));
    /// q.try_recv().unwrap();
    /// assert_eq!(q.stats().wait.max(), Duration::from_millis(5));
    /// ```
    pub fn clock(mut self, clock: quanta::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// A name for the queue: the `queue` label of metrics published with the `metrics` feature.
    ///
    /// ```
    /// let q = backpressure::BoundedQueue::<()>::builder(4).name("io").build().unwrap();
    /// assert_eq!(q.name(), Some("io"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Validates the settings and builds the queue.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `capacity` when it is zero or too large for the ring.
    ///
    /// ```
    /// let err = backpressure::BoundedQueue::<()>::builder(0).build().unwrap_err();
    /// assert_eq!(err.field(), "capacity");
    /// ```
    pub fn build(self) -> Result<BoundedQueue<T>, ConfigError> {
        // The ring's own check, for the slot type this queue will use.
        let checked = match self.wait_sampling {
            0 => Ring::<T>::closed_bit_for(self.capacity),
            _ => Ring::<Entry<T>>::closed_bit_for(self.capacity),
        };
        checked.map_err(|why| ConfigError::new("capacity", why))?;
        Ok(BoundedQueue::from_builder(self))
    }
}

impl<T> fmt::Debug for QueueBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueBuilder")
            .field("capacity", &self.capacity)
            .field("wait_sampling", &self.wait_sampling)
            .field("clock", &self.clock)
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{BoundedQueue, SubmitTimeoutError};

    #[test]
    fn capacity_too_large_for_memory_is_a_config_error_not_a_panic() {
        // Positions fit a usize, the slots do not fit the address space: the ring's own check.
        let err = BoundedQueue::<[u8; 64]>::builder(1 << 58).build().unwrap_err();
        assert_eq!(err.field(), "capacity");
        assert!(err.reason().contains("too large"), "{err}");
        let err = BoundedQueue::<u8>::builder(0).build().unwrap_err();
        assert_eq!(err.reason(), "must be at least 1, got 0");
    }

    #[test]
    fn wait_is_the_time_from_accepted_to_received() {
        let (clock, mock) = quanta::Clock::mock();
        mock.increment(Duration::from_secs(1));
        let q = BoundedQueue::builder(8).wait_sampling(1).clock(clock).build().unwrap();
        q.try_submit(1).unwrap();
        mock.increment(Duration::from_millis(3));
        q.try_submit(2).unwrap();
        mock.increment(Duration::from_millis(7));
        assert_eq!(q.recv(), Ok(1));
        assert_eq!(q.recv_timeout(Duration::ZERO), Ok(2));
        let wait = q.stats().wait;
        assert_eq!((wait.count(), wait.max()), (2, Duration::from_millis(10)));
        assert_eq!(wait.mean(), Duration::from_micros(8_500));
    }

    #[test]
    fn wait_sampling_zero_and_the_default_record_nothing() {
        let q = BoundedQueue::builder(8).wait_sampling(0).build().unwrap();
        let default = BoundedQueue::new(8);
        default.try_submit(1).unwrap();
        default.try_recv().unwrap();
        assert_eq!(default.stats().wait.count(), 0);
        for n in 0..100 {
            q.try_submit(n).unwrap();
            q.try_recv().unwrap();
        }
        assert_eq!(q.stats().wait.count(), 0);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // 10,000 round trips: slow under Miri
    fn sampling_records_a_fraction_of_items() {
        let q = BoundedQueue::builder(8).wait_sampling(crate::queue::DEFAULT_WAIT_SAMPLING).build().unwrap();
        for n in 0..10_000 {
            q.try_submit(n).unwrap();
            q.try_recv().unwrap();
        }
        let sampled = q.stats().wait.count();
        // Mean one in 128 (10_000 / 128 ≈ 78), with a random restart: far from none and far from all.
        assert!((20..1_000).contains(&sampled), "{sampled}");
    }

    #[test]
    fn drain_and_refused_items_keep_their_values() {
        let q = BoundedQueue::builder(1).wait_sampling(1).build().unwrap();
        q.try_submit("a").unwrap();
        assert_eq!(q.submit_timeout("b", Duration::ZERO), Err(SubmitTimeoutError::Timeout("b")));
        assert_eq!(q.drain().collect::<Vec<_>>(), ["a"]);
        assert_eq!(q.stats().wait.count(), 1);
    }

    #[test]
    fn stamped_queue_keeps_fifo_and_drops_each_remaining_item_once() {
        use std::rc::Rc;
        let token = Rc::new(());
        {
            let q = BoundedQueue::builder(4).wait_sampling(1).build().unwrap();
            for _ in 0..3 {
                q.try_submit(Rc::clone(&token)).unwrap();
            }
            drop(q.try_recv().unwrap());
            assert_eq!(Rc::strong_count(&token), 3);
        }
        assert_eq!(Rc::strong_count(&token), 1, "the two left in the queue were dropped once each");
        let q = BoundedQueue::builder(3).wait_sampling(2).build().unwrap();
        for lap in 0..5 {
            for n in 0..3 {
                q.try_submit(lap * 10 + n).unwrap();
            }
            assert_eq!(q.drain().collect::<Vec<_>>(), [lap * 10, lap * 10 + 1, lap * 10 + 2]);
        }
    }

    #[test]
    fn bad_capacity_is_a_config_error() {
        assert_eq!(BoundedQueue::<()>::builder(0).build().unwrap_err().field(), "capacity");
        assert_eq!(BoundedQueue::<()>::builder(usize::MAX).build().unwrap_err().field(), "capacity");
    }
}
