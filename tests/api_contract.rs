//! The public contract (`API.md`) as a compile-time check: every name and signature the page
//! states is used here with explicit types, so a drift in the crate fails to compile.
//!
//! Every call is cheap and non-blocking: tiny capacities, zero timeouts, mock clocks, and
//! blocking calls only where they succeed at once. Nothing here depends on timing.

use std::error::Error;
use std::fmt::{Debug, Display};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Pinned: every primary type and `ConfigError` is re-exported at the crate root.
use backpressure::{
    retry, retry_submit, AcquireError, AdaptiveRateLimiter, Backoff, BoundedQueue, BreakerError, BreakerOpen,
    BreakerPermit, BreakerState, CancelToken, CircuitBreaker, ConfigError, Jitter, LatencyHistogram, LoadPermit,
    LoadShedder, Overloaded, OwnedSemaphorePermit, Priority, PriorityShedder, Processor, ProcessorReport, QueueStats,
    RateLimited, RecvError, RecvTimeoutError, RetryError, Ring, Semaphore, SemaphorePermit, SubmitError,
    SubmitTimeoutError, TokenBucket, TryRecvError, TrySubmitError,
};

// Module map: each type is reachable under the module API.md names.
#[allow(unused_imports)]
use backpressure::{
    backoff::{retry as _, retry_submit as _, Backoff as _, Jitter as _, RetryError as _},
    breaker::{BreakerOpen as _, BreakerState as _, CircuitBreaker as _},
    cancel::CancelToken as _,
    metrics::{LatencyHistogram as _, QueueStats as _},
    processor::Processor as _,
    queue::{
        BoundedQueue as _, RecvError as _, RecvTimeoutError as _, SubmitError as _, SubmitTimeoutError as _,
        TryRecvError as _, TrySubmitError as _,
    },
    rate::{AcquireError as _, AdaptiveRateLimiter as _, RateLimited as _, TokenBucket as _},
    ring::Ring as _,
    semaphore::{OwnedSemaphorePermit as _, Semaphore as _, SemaphorePermit as _},
    shed::{LoadPermit as _, LoadShedder as _, Overloaded as _, Priority as _, PriorityShedder as _},
};

/// Pinned: `Job = Box<dyn FnOnce() + Send>`.
type Job = Box<dyn FnOnce() + Send>;
const _: fn(backpressure::processor::Job) -> Job = |j| j;

/// A payload that implements nothing at all: errors must still be `Debug + Display + Error`.
struct NoDebug;

fn send_sync<T: Send + Sync>() {}
fn error_like<E: Error + Display + Debug + Send + Sync + 'static>() {}
fn clone_copy_eq<E: Clone + Copy + PartialEq + Eq>() {}

#[test]
fn every_public_type_is_send_and_sync_with_a_send_payload() {
    send_sync::<Ring<u32>>();
    send_sync::<BoundedQueue<u32>>();
    send_sync::<TrySubmitError<u32>>();
    send_sync::<SubmitTimeoutError<u32>>();
    send_sync::<SubmitError<u32>>();
    send_sync::<TryRecvError>();
    send_sync::<RecvTimeoutError>();
    send_sync::<RecvError>();
    send_sync::<CancelToken>();
    send_sync::<TokenBucket>();
    send_sync::<backpressure::rate::TokenBucketBuilder>();
    send_sync::<AdaptiveRateLimiter>();
    send_sync::<backpressure::rate::AdaptiveRateLimiterBuilder>();
    send_sync::<RateLimited>();
    send_sync::<AcquireError>();
    send_sync::<LoadShedder>();
    send_sync::<Priority>();
    send_sync::<PriorityShedder>();
    send_sync::<LoadPermit<'static>>();
    send_sync::<Overloaded>();
    send_sync::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    send_sync::<OwnedSemaphorePermit>();
    send_sync::<CircuitBreaker>();
    send_sync::<backpressure::CircuitBreakerBuilder>();
    send_sync::<BreakerPermit<'static>>();
    send_sync::<BreakerState>();
    send_sync::<BreakerOpen>();
    send_sync::<BreakerError<std::io::Error>>();
    send_sync::<Backoff>();
    send_sync::<Jitter>();
    send_sync::<RetryError<std::io::Error>>();
    send_sync::<Processor<u32>>();
    send_sync::<Processor<Job>>();
    send_sync::<ProcessorReport>();
    send_sync::<QueueStats>();
    send_sync::<LatencyHistogram>();
    send_sync::<ConfigError>();
}

#[test]
fn errors_are_errors_without_a_debug_payload() {
    error_like::<TrySubmitError<NoDebug>>();
    error_like::<SubmitTimeoutError<NoDebug>>();
    error_like::<SubmitError<NoDebug>>();
    error_like::<TryRecvError>();
    error_like::<RecvTimeoutError>();
    error_like::<RecvError>();
    error_like::<RateLimited>();
    error_like::<AcquireError>();
    error_like::<Overloaded>();
    error_like::<BreakerOpen>();
    error_like::<BreakerError<std::io::Error>>();
    error_like::<RetryError<std::io::Error>>();
    error_like::<ConfigError>();

    // A refused item is handed back and the error prints without `NoDebug: Debug`.
    let q: BoundedQueue<NoDebug> = BoundedQueue::new(1);
    let first: Result<(), TrySubmitError<NoDebug>> = q.try_submit(NoDebug);
    assert!(first.is_ok());
    let err: TrySubmitError<NoDebug> = q.try_submit(NoDebug).unwrap_err();
    assert!(!format!("{err:?}").is_empty());
    assert!(!err.to_string().is_empty());
    let _item: NoDebug = err.into_inner();

    // `PartialEq`/`Eq` where the payload allows; `Clone`/`Copy` where they carry no item.
    fn eq<E: PartialEq + Eq>() {}
    eq::<TrySubmitError<u32>>();
    eq::<SubmitTimeoutError<u32>>();
    eq::<SubmitError<u32>>();
    eq::<ConfigError>();
    clone_copy_eq::<TryRecvError>();
    clone_copy_eq::<RecvTimeoutError>();
    clone_copy_eq::<RecvError>();
    clone_copy_eq::<RateLimited>();
    clone_copy_eq::<AcquireError>();
    clone_copy_eq::<Overloaded>();
    clone_copy_eq::<BreakerOpen>();
    clone_copy_eq::<BreakerState>();
    clone_copy_eq::<Priority>();
    clone_copy_eq::<Jitter>();
}

#[test]
fn every_public_type_is_debug() {
    fn debug<T: Debug>() {}
    debug::<Ring<NoDebug>>();
    debug::<BoundedQueue<NoDebug>>();
    debug::<CancelToken>();
    debug::<TokenBucket>();
    debug::<AdaptiveRateLimiter>();
    debug::<LoadShedder>();
    debug::<PriorityShedder>();
    debug::<LoadPermit<'static>>();
    debug::<Semaphore>();
    debug::<SemaphorePermit<'static>>();
    debug::<OwnedSemaphorePermit>();
    debug::<CircuitBreaker>();
    debug::<BreakerPermit<'static>>();
    debug::<Backoff>();
    debug::<Processor<NoDebug>>();
    debug::<ProcessorReport>();
    debug::<QueueStats>();
    debug::<LatencyHistogram>();
}

#[test]
fn ring() {
    let r: Ring<u32> = Ring::new(3); // any capacity, not only powers of two
    let pushed: Result<(), u32> = r.try_push(1);
    assert_eq!(pushed, Ok(()));
    let len: usize = r.len();
    let cap: usize = r.capacity();
    let empty: bool = r.is_empty();
    let full: bool = r.is_full();
    assert_eq!((len, cap, empty, full), (1, 3, false, false));
    let popped: Option<u32> = r.try_pop();
    assert_eq!(popped, Some(1));

    let one: Ring<u32> = Ring::new(1);
    one.try_push(7).unwrap();
    assert_eq!(one.try_push(8), Err(8)); // the refused item comes back

    let zst: Ring<()> = Ring::new(2);
    zst.try_push(()).unwrap();
    assert_eq!(zst.try_pop(), Some(()));
}

#[test]
fn bounded_queue() {
    let q: BoundedQueue<u32> = BoundedQueue::new(1);
    let shared: Arc<BoundedQueue<u32>> = Arc::new(BoundedQueue::new(1));
    assert_eq!(shared.capacity(), 1);

    let cap: usize = q.capacity();
    let len: usize = q.len();
    let empty: bool = q.is_empty();
    let full: bool = q.is_full();
    assert_eq!((cap, len, empty, full), (1, 0, true, false));

    let r: Result<(), TrySubmitError<u32>> = q.try_submit(1);
    assert!(r.is_ok());
    match q.try_submit(2) {
        Err(TrySubmitError::Full(item)) => assert_eq!(item, 2),
        other => panic!("expected Full, got {other:?}"),
    }
    let r: Result<(), SubmitTimeoutError<u32>> = q.submit_timeout(3, Duration::ZERO);
    assert_eq!(r, Err(SubmitTimeoutError::Timeout(3)));
    let r: Result<(), SubmitTimeoutError<u32>> = q.submit_deadline(4, Instant::now());
    assert_eq!(r, Err(SubmitTimeoutError::Timeout(4)));

    let token = CancelToken::new();
    token.cancel();
    let r: Result<(), SubmitTimeoutError<u32>> = q.submit_cancellable(5, &token);
    assert_eq!(r, Err(SubmitTimeoutError::Cancelled(5)));
    let expired = CancelToken::with_deadline(Instant::now());
    let r: Result<(), SubmitTimeoutError<u32>> = q.submit_cancellable(6, &expired);
    assert!(matches!(r, Err(SubmitTimeoutError::Timeout(6)) | Err(SubmitTimeoutError::Cancelled(6))));

    let got: Result<u32, TryRecvError> = q.try_recv();
    assert_eq!(got, Ok(1));
    assert_eq!(q.try_recv(), Err(TryRecvError::Empty));
    let got: Result<u32, RecvTimeoutError> = q.recv_timeout(Duration::ZERO);
    assert_eq!(got, Err(RecvTimeoutError::Timeout));
    // Beside API.md: the receive side's counterpart of submit_cancellable.
    let got: Result<u32, RecvTimeoutError> = q.recv_cancellable(&token);
    assert_eq!(got, Err(RecvTimeoutError::Cancelled));

    // Blocking forms, only where they succeed at once.
    let r: Result<(), SubmitError<u32>> = q.submit(7);
    assert!(r.is_ok());
    let got: Result<u32, RecvError> = q.recv();
    assert_eq!(got, Ok(7));

    q.try_submit(8).unwrap();
    let drained: Vec<u32> = q.drain().collect();
    assert_eq!(drained, vec![8]);

    q.try_submit(9).unwrap();
    let closed_now: bool = q.close();
    assert!(closed_now);
    assert!(!q.close());
    let is_closed: bool = q.is_closed();
    assert!(is_closed);
    assert_eq!(q.try_submit(10), Err(TrySubmitError::Closed(10)));
    assert_eq!(q.submit(11).map_err(SubmitError::into_inner), Err(11));
    let SubmitError(item) = q.submit(12).unwrap_err();
    assert_eq!(item, 12);
    assert_eq!(q.submit_timeout(13, Duration::ZERO), Err(SubmitTimeoutError::Closed(13)));
    // Receivers drain what was accepted, then see `Closed`.
    assert_eq!(q.try_recv(), Ok(9));
    assert_eq!(q.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(q.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Closed));
    assert_eq!(q.recv(), Err(RecvError));

    let stats: QueueStats = q.stats();
    let QueueStats {
        submitted,
        accepted,
        rejected_full,
        timed_out,
        cancelled,
        rejected_closed,
        received,
        depth,
        peak_depth,
        wait,
        ..
    } = stats;
    let counters: [u64; 9] =
        [submitted, accepted, rejected_full, timed_out, cancelled, rejected_closed, received, depth, peak_depth];
    assert_eq!(accepted, 4);
    assert_eq!(received, 4);
    assert_eq!(depth, 0);
    assert!(counters.iter().all(|&c| c <= submitted));
    let _wait: LatencyHistogram = wait;
}

#[test]
fn cancel_token() {
    let t: CancelToken = CancelToken::new();
    let timed: CancelToken = CancelToken::with_timeout(Duration::from_secs(3600));
    let dated: CancelToken = CancelToken::with_deadline(Instant::now());
    let child: CancelToken = t.child();
    let cloned: CancelToken = t.clone();
    let d: Option<Instant> = timed.deadline();
    assert!(d.is_some());
    assert!(dated.deadline().is_some());
    assert_eq!(t.deadline(), None);
    let c: bool = t.is_cancelled();
    assert!(!c);
    t.cancel();
    assert!(cloned.is_cancelled());
    assert!(child.is_cancelled()); // cancelled when its parent is
                                   // Shared rule: no `Instant + Duration` overflow.
    let _forever = CancelToken::with_timeout(Duration::MAX);
}

#[test]
fn token_bucket() {
    let _plain: TokenBucket = TokenBucket::new(10.0, 5);
    let (clock, mock): (quanta::Clock, Arc<quanta::Mock>) = quanta::Clock::mock();
    let built: Result<TokenBucket, ConfigError> =
        TokenBucket::builder(10.0, 4).clock(clock.clone()).initial_tokens(4u32).build();
    let b = built.unwrap();

    let r: Result<(), RateLimited> = b.try_acquire();
    assert!(r.is_ok());
    let r: Result<(), AcquireError> = b.try_acquire_n(1u32);
    assert!(r.is_ok());
    b.acquire(); // a token is available: returns at once
    let r: Result<(), AcquireError> = b.acquire_n(1u32);
    assert!(r.is_ok());
    assert_eq!(b.available(), 0);

    // Empty bucket: refused with the exact wait.
    let limited: RateLimited = b.try_acquire().unwrap_err();
    let wait: Duration = limited.retry_after();
    assert!(wait > Duration::ZERO);
    let r: Result<(), AcquireError> = b.acquire_timeout(1u32, Duration::ZERO);
    match r {
        Err(AcquireError::RateLimited(inner)) => {
            let _: RateLimited = inner;
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    match b.try_acquire_n(5) {
        Err(AcquireError::ExceedsBurst { requested, burst }) => {
            let (requested, burst): (u32, u32) = (requested, burst);
            assert_eq!((requested, burst), (5, 4));
        }
        other => panic!("expected ExceedsBurst, got {other:?}"),
    }

    mock.increment(Duration::from_secs(10)); // a long idle period refills to at most `burst`
    let avail: u32 = b.available();
    assert_eq!(avail, 4);

    b.set_rate(20.0);
    let rate: f64 = b.rate();
    let burst: u32 = b.burst();
    assert_eq!((rate, burst), (20.0, 4));

    let bad: Result<TokenBucket, ConfigError> = TokenBucket::builder(10.0, 4).initial_tokens(5).build();
    if let Err(e) = bad {
        assert!(!e.to_string().is_empty());
    }
    let bad: Result<TokenBucket, ConfigError> = TokenBucket::builder(-1.0, 4).build();
    assert!(bad.is_err());
}

#[test]
fn adaptive_rate_limiter() {
    let (clock, _mock) = quanta::Clock::mock();
    let bucket = TokenBucket::builder(100.0, 10).clock(clock.clone()).build().unwrap();
    let a: AdaptiveRateLimiter = AdaptiveRateLimiter::new(bucket);
    let base: f64 = a.current_rate();
    a.record_error();
    let cut: f64 = a.current_rate();
    assert!(cut < base);
    a.record_success();
    assert!(a.current_rate() >= cut);

    let bucket = TokenBucket::builder(100.0, 10).clock(clock).build().unwrap();
    // API.md: "`AdaptiveRateLimiter::builder(bucket)` for the factors and floor".
    let built: Result<AdaptiveRateLimiter, ConfigError> =
        AdaptiveRateLimiter::builder(bucket).increase_factor(1.1).decrease_factor(0.5).min_rate(20.0).build();
    let a = built.unwrap();
    for _ in 0..20 {
        a.record_error();
    }
    assert!(a.current_rate() >= 20.0);
}

#[test]
fn load_shedders() {
    let s: LoadShedder = LoadShedder::new(1);
    let permit: Result<LoadPermit<'_>, Overloaded> = s.try_acquire();
    let permit = permit.unwrap();
    let over: Result<LoadPermit<'_>, Overloaded> = s.try_acquire();
    assert!(over.is_err());
    let load: usize = s.load();
    let max: usize = s.max_load();
    assert_eq!((load, max), (1, 1));
    drop(permit);
    assert_eq!(s.load(), 0);
    s.set_max_load(2);
    assert_eq!(s.max_load(), 2);

    let arc = Arc::new(LoadShedder::new(1));
    let owned: Result<LoadPermit<'static>, Overloaded> = arc.try_acquire_owned();
    let owned = owned.unwrap();
    let moved = std::thread::spawn(move || drop(owned));
    moved.join().unwrap();
    assert_eq!(arc.load(), 0);

    let _all: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical];
    let p: PriorityShedder = PriorityShedder::new(10);
    let low: Result<LoadPermit<'_>, Overloaded> = p.try_acquire(Priority::Low);
    assert!(low.is_ok());
    let built: Result<PriorityShedder, ConfigError> =
        PriorityShedder::builder(10).threshold(Priority::Low, 30.0).build();
    let p = built.unwrap();
    assert!(p.try_acquire(Priority::Critical).is_ok());
}

#[test]
fn semaphore() {
    let s: Semaphore = Semaphore::new(2);
    let p: Option<SemaphorePermit<'_>> = s.try_acquire();
    let p = p.unwrap();
    let second: Option<SemaphorePermit<'_>> = s.acquire_timeout(Duration::ZERO);
    assert!(second.is_some()); // one was left
    let none: Option<SemaphorePermit<'_>> = s.acquire_timeout(Duration::ZERO);
    assert!(none.is_none());
    drop((p, second));

    // `acquire`, `acquire_many`, `acquire_cancellable` with the permits available: no wait.
    let a = s.acquire();
    assert!(a.is_ok());
    drop(a);
    let c = s.acquire_cancellable(&CancelToken::new());
    assert!(c.is_ok());
    drop(c);
    let many: Option<SemaphorePermit<'_>> = s.try_acquire_many(2);
    drop(many.unwrap());
    let many = s.acquire_many(2);
    assert!(many.is_ok());
    drop(many);

    s.add_permits(1);
    let avail: usize = s.available_permits();
    assert_eq!(avail, 3);

    let arc = Arc::new(Semaphore::new(3));
    let o1: Option<OwnedSemaphorePermit> = arc.try_acquire_owned();
    let o2: Option<OwnedSemaphorePermit> = arc.acquire_timeout_owned(Duration::ZERO);
    let o3 = arc.acquire_owned();
    assert!(o1.is_some() && o2.is_some() && o3.is_ok());
    drop((o1, o2, o3));
    let o4: Option<OwnedSemaphorePermit> = arc.try_acquire_many_owned(2);
    assert!(o4.is_some());
    drop(o4);
    assert!(arc.acquire_many_owned(3).is_ok());
    assert!(arc.acquire_cancellable_owned(&CancelToken::new()).is_ok());

    s.close();
    assert!(s.acquire().is_err());
}

#[test]
fn circuit_breaker() {
    let (clock, mock) = quanta::Clock::mock();
    let built: Result<CircuitBreaker, ConfigError> = CircuitBreaker::builder()
        .failure_threshold(1u32)
        .open_for(Duration::from_secs(1))
        .half_open_probes(1u32)
        .clock(clock.clone())
        .build();
    let cb = built.unwrap();
    let rate: Result<CircuitBreaker, ConfigError> = CircuitBreaker::builder()
        .failure_rate(0.5f64, 10u32, 5u32)
        .open_for(Duration::from_secs(1))
        .half_open_probes(2u32)
        .clock(clock)
        .build();
    assert!(rate.is_ok());
    let bad: Result<CircuitBreaker, ConfigError> = CircuitBreaker::builder().failure_rate(2.0, 10, 5).build();
    assert!(bad.is_err());

    let st: BreakerState = cb.state();
    assert_eq!(st, BreakerState::Closed);
    let permit: Result<BreakerPermit<'_>, BreakerOpen> = cb.allow();
    permit.unwrap().success();
    let dropped = cb.allow().unwrap();
    drop(dropped); // neither success nor failure

    let ok: Result<u32, BreakerError<std::io::Error>> = cb.call(|| Ok::<u32, std::io::Error>(7));
    assert_eq!(ok.unwrap(), 7);
    cb.allow().unwrap().failure();
    assert_eq!(cb.state(), BreakerState::Open);
    let open: BreakerOpen = cb.allow().unwrap_err();
    let wait: Duration = open.retry_after();
    assert!(wait <= Duration::from_secs(1));
    let refused: Result<(), BreakerError<std::io::Error>> = cb.call(|| Ok(()));
    match refused {
        Err(BreakerError::Open(o)) => {
            let _: BreakerOpen = o;
        }
        other => panic!("expected Open, got {other:?}"),
    }

    mock.increment(Duration::from_secs(1));
    let probe = cb.allow().unwrap(); // half-open: one probe admitted
    assert_eq!(cb.state(), BreakerState::HalfOpen);
    probe.success();
    assert_eq!(cb.state(), BreakerState::Closed);

    let inner: Result<(), BreakerError<&str>> = cb.call(|| Err("boom"));
    assert!(matches!(inner, Err(BreakerError::Inner("boom"))));
}

#[test]
fn backoff_and_retry() {
    let b: Backoff = Backoff::exponential(Duration::from_millis(1), Duration::from_millis(8))
        .multiplier(2.0f64)
        .jitter(Jitter::None)
        .max_retries(3u32)
        .max_elapsed(Duration::from_secs(1));
    let delays: Vec<Duration> = b.collect();
    assert_eq!(delays, [1, 2, 4].map(Duration::from_millis));
    let _j: [Jitter; 4] = [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated];
    // No overflow at any attempt count.
    let mut long = Backoff::exponential(Duration::from_secs(1), Duration::MAX).jitter(Jitter::None);
    let last: Option<Duration> = long.nth(10_000);
    assert!(last.is_some());

    let zero = || Backoff::exponential(Duration::ZERO, Duration::ZERO).jitter(Jitter::None).max_retries(2);
    let mut calls = 0u32;
    let r: Result<u32, RetryError<&str>> = retry(
        zero(),
        |_e: &&str| true,
        || {
            calls += 1;
            Err("again")
        },
    );
    match r {
        Err(RetryError::Exhausted { last, attempts }) => {
            let (last, attempts): (&str, u32) = (last, attempts);
            assert_eq!((last, attempts), ("again", 3));
        }
        other => panic!("expected Exhausted, got {other:?}"),
    }
    let r: Result<u32, RetryError<&str>> = retry(zero(), |_: &&str| false, || Err("fatal"));
    assert_eq!(r, Err(RetryError::Permanent("fatal")));
    let r: Result<u32, RetryError<&str>> = retry(zero(), |_: &&str| true, || Ok(1));
    assert_eq!(r, Ok(1));

    let q: BoundedQueue<u32> = BoundedQueue::new(1);
    let r: Result<(), TrySubmitError<u32>> = retry_submit(&q, 1, zero());
    assert!(r.is_ok());
    let r: Result<(), TrySubmitError<u32>> = retry_submit(&q, 2, zero());
    assert_eq!(r.map_err(TrySubmitError::into_inner), Err(2));
}

#[test]
fn processor() {
    let (clock, _mock) = quanta::Clock::mock();
    let bucket = TokenBucket::builder(1_000.0, 100).clock(clock).build().unwrap();
    let built: Result<Processor<u32>, ConfigError> =
        Processor::builder().workers(1usize).queue_capacity(4usize).rate_limit(bucket).name("api-contract").build(
            |n: u32| {
                if n == 3 {
                    panic!("handler panic (expected by the test)");
                }
            },
        );
    let p = built.unwrap();
    let r: Result<(), TrySubmitError<u32>> = p.try_submit(1);
    assert!(r.is_ok());
    let r: Result<(), SubmitError<u32>> = p.submit(2);
    // `submit` blocks only while full; capacity 4 with 1 worker has room for these few.
    assert!(r.is_ok());
    let r: Result<(), SubmitTimeoutError<u32>> = p.submit_timeout(3, Duration::from_secs(60));
    assert!(r.is_ok());
    let r: Result<(), SubmitTimeoutError<u32>> = p.submit_cancellable(4, &CancelToken::new());
    assert!(r.is_ok());
    let _stats = p.stats();
    let report: ProcessorReport = p.shutdown();
    let ProcessorReport { handled, panicked, .. } = report;
    let (handled, panicked): (u64, u64) = (handled, panicked);
    assert_eq!(handled, 4); // counts the panicked item too
    assert_eq!(panicked, 1);

    let bad: Result<Processor<u32>, ConfigError> = Processor::builder().workers(0).build(|_: u32| {});
    assert!(bad.is_err());

    let jobs: Result<Processor<Job>, ConfigError> = Processor::jobs().workers(1).queue_capacity(2).name("jobs").build();
    let jobs = jobs.unwrap();
    let job: Job = Box::new(|| {});
    jobs.try_submit(job).map_err(|_| "full").unwrap();
    let report: ProcessorReport = jobs.shutdown();
    assert_eq!(report.handled, 1);

    let idle: Processor<u32> = Processor::builder().workers(1).queue_capacity(1).build(|_: u32| {}).unwrap();
    let rest: Vec<u32> = idle.shutdown_now();
    assert!(rest.len() <= 1);
}

#[test]
fn latency_histogram() {
    let h: LatencyHistogram = LatencyHistogram::new();
    h.record(Duration::from_micros(100));
    h.record(Duration::from_micros(200));
    let p99: Duration = h.percentile(99.0f64);
    let max: Duration = h.max();
    let mean: Duration = h.mean();
    let count: u64 = h.count();
    assert_eq!(count, 2);
    assert!(p99 <= max.mul_f64(1.03) && max >= Duration::from_micros(194));
    assert!(mean >= Duration::from_micros(145) && mean <= Duration::from_micros(155));
}

#[test]
fn config_error_says_which_field() {
    let err: ConfigError = Processor::<u32>::builder().queue_capacity(0).build(|_| {}).unwrap_err();
    let shown: String = err.to_string();
    assert!(shown.contains("queue_capacity"), "{shown}");
    let _as_dyn: Box<dyn Error + Send + Sync> = Box::new(err);
}
