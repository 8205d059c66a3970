//! Synchronous, lock-free backpressure primitives for programs built on OS threads.
//!
//! When a fast producer meets a slow consumer, something has to give: memory (an unbounded
//! buffer grows until the process dies), latency (producers wait), or work (some of it is
//! refused). This crate makes that choice explicit and cheap. No async runtime: every call is
//! an ordinary function on an ordinary thread, lock-free on its fast path, and a thread that
//! must wait sleeps (it never spins for long and never busy-yields).
//!
//! # Choosing a strategy
//!
//! | you want | use |
//! |---|---|
//! | a bounded hand-off between threads, refusing work at once when full | [`BoundedQueue::try_submit`] |
//! | the same, but tolerating a short stall | [`BoundedQueue::submit_timeout`] / [`submit_deadline`](BoundedQueue::submit_deadline) |
//! | a stall tied to a request that may be abandoned | [`BoundedQueue::submit_cancellable`] with a [`CancelToken`] |
//! | producers slowed to the consumer's pace, nothing refused | [`BoundedQueue::submit`] |
//! | only the lock-free core, with your own waiting | [`Ring`] |
//! | refuse work at once beyond N in flight (HTTP 503) | [`LoadShedder::try_acquire`] |
//! | the same, shedding low-priority work first | [`PriorityShedder::try_acquire`] with a [`Priority`] |
//! | at most N holders at once, callers waiting their turn in FIFO order | [`Semaphore::acquire`] / [`acquire_many`](Semaphore::acquire_many) |
//! | a client retrying a busy service without hammering it | [`Backoff`] with [`retry`] / [`retry_submit`] |
//! | a client that stops calling a failing service, then probes it gently | [`CircuitBreaker`] |
//! | worker threads that take the work off the queue, optionally rate-limited | [`Processor`] |
//! | at most `rate` calls per second with bursts, asked millions of times a second | [`TokenBucket::try_acquire`] / [`acquire`](TokenBucket::acquire); [`AdaptiveRateLimiter`] to back off on errors |
//!
//! Every refusal hands the item back inside the error (`err.into_inner()`), so nothing is
//! silently dropped; closing a queue lets consumers drain what was accepted.
//!
//! ```
//! use backpressure::{BoundedQueue, TrySubmitError};
//! use std::time::Duration;
//!
//! let queue = BoundedQueue::new(2);
//! queue.try_submit("a").unwrap();
//! queue.submit_timeout("b", Duration::from_millis(10)).unwrap();
//! match queue.try_submit("c") {
//!     Err(TrySubmitError::Full(item)) => println!("busy, {item} comes back to us"),
//!     _ => unreachable!(),
//! }
//! assert_eq!(queue.recv().unwrap(), "a");
//! ```
//!
//! # Correctness
//! Every atomic ordering is commented with what it pairs with and model-checked with loom
//! (`loom-tests/`), the unit tests run under Miri, and stress tests run more threads than
//! cores. See the README for the commands.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod deadline;
mod sync;
mod waitlist;

pub mod backoff;
pub mod breaker;
pub mod cancel;
pub mod error;
pub mod metrics;
pub mod processor;
pub mod queue;
pub mod rate;
pub mod ring;
pub mod semaphore;
pub mod shed;

pub use backoff::{retry, retry_submit, Backoff, Jitter, RetryError};
pub use breaker::{BreakerError, BreakerOpen, BreakerPermit, BreakerState, CircuitBreaker, CircuitBreakerBuilder};
pub use cancel::CancelToken;
pub use error::ConfigError;
#[cfg(feature = "metrics")]
pub use metrics::MetricsExporter;
pub use metrics::{LatencyHistogram, QueueStats};
pub use processor::{Job, Processor, ProcessorReport, ProcessorStats};
pub use queue::{
    BoundedQueue, RecvError, RecvTimeoutError, SubmitError, SubmitTimeoutError, TryRecvError, TrySubmitError,
};
pub use rate::{AcquireError, AdaptiveRateLimiter, RateLimited, TokenBucket};
pub use ring::Ring;
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphoreError, SemaphorePermit};
pub use shed::{LoadPermit, LoadShedder, Overloaded, Priority, PriorityShedder, PriorityShedderBuilder};
