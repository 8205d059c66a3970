//! Processor behaviour: nothing lost across `shutdown` / `shutdown_now`, panics counted with the
//! pool kept at full size, and a rate-limited pool never starting more than its bucket grants.
//! Every wait is bounded by a watchdog; no assertion depends on timing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use backpressure::processor::{JobsBuilder, ProcessorBuilder};
use backpressure::{CancelToken, Job, Processor, ProcessorReport, ProcessorStats, TokenBucket, TrySubmitError};

/// Polls `condition` until it holds; panics (never hangs) after a generous bound.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let watchdog = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < watchdog, "watchdog: gave up waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn public_types_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Processor<u64>>();
    check::<Processor<Job>>();
    check::<ProcessorBuilder<String>>();
    check::<JobsBuilder>();
    check::<ProcessorReport>();
    check::<ProcessorStats>();
    check::<backpressure::queue::QueueBuilder<String>>();
    check::<backpressure::QueueStats>();
    check::<backpressure::LatencyHistogram>();
}

#[test]
fn every_accepted_item_is_handled_exactly_once_across_shutdown() {
    const PRODUCERS: u64 = 4;
    const PER_PRODUCER: u64 = 2_000;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let p =
        Processor::builder().workers(3).queue_capacity(8).build(move |n: u64| sink.lock().unwrap().push(n)).unwrap();
    let accepted: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|t| {
                let p = &p;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..PER_PRODUCER {
                        let item = t * PER_PRODUCER + i;
                        // A mix of refusing and waiting submits.
                        let ok = if i % 2 == 0 { p.try_submit(item).is_ok() } else { p.submit(item).is_ok() };
                        if ok {
                            mine.push(item);
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let report = p.shutdown();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    let mut accepted = accepted;
    accepted.sort_unstable();
    assert_eq!(seen, accepted, "handled set differs from accepted set");
    assert_eq!(report.handled, accepted.len() as u64);
    assert_eq!(report.queue.accepted, accepted.len() as u64);
    assert_eq!(report.queue.received, accepted.len() as u64);
    assert_eq!(report.service.count(), accepted.len() as u64);
}

#[test]
fn shutdown_now_returns_exactly_the_items_not_started() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let stop = CancelToken::new();
    let (s, seen) = (Arc::clone(&started), stop.clone());
    let p = Processor::builder()
        .workers(2)
        .queue_capacity(100)
        .stop_token(stop)
        .build(move |n: u32| {
            s.lock().unwrap().push(n);
            // Long jobs: each runs until shutdown_now cancels the token (watchdog-bounded).
            let watchdog = Instant::now() + Duration::from_secs(60);
            while !seen.is_cancelled() {
                assert!(Instant::now() < watchdog, "watchdog: never cancelled");
                thread::sleep(Duration::from_millis(1));
            }
        })
        .unwrap();
    for n in 0..100 {
        p.try_submit(n).unwrap();
    }
    wait_until("both workers to start an item", || started.lock().unwrap().len() == 2);
    let mut returned = p.shutdown_now();
    let mut started = started.lock().unwrap().clone();
    // A worker whose handler saw the cancellation starts nothing more: exactly the two items
    // in progress were handled, and everything else comes back.
    assert_eq!(started.len(), 2);
    let mut all: Vec<u32> = started.iter().chain(&returned).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>(), "accepted = handled + returned, no overlap");
    started.sort_unstable();
    returned.sort_unstable();
    assert_eq!(started, [0, 1]);
    assert_eq!(returned, (2..100).collect::<Vec<_>>());
}

#[test]
fn shutdown_now_with_idle_workers_returns_nothing() {
    let p = Processor::builder().workers(2).build(|_: u8| {}).unwrap();
    p.submit(1).unwrap();
    wait_until("the item to be handled", || p.stats().handled == 1);
    assert!(p.shutdown_now().is_empty());
}

#[test]
fn panicking_handler_is_counted_and_the_pool_keeps_its_size() {
    const WORKERS: usize = 3;
    let barrier = Arc::new(Barrier::new(WORKERS));
    let b = Arc::clone(&barrier);
    let p = Processor::builder()
        .workers(WORKERS)
        .queue_capacity(64)
        .build(move |n: u32| {
            if n < 30 {
                panic!("item {n} panics on purpose");
            }
            // Only passes if all WORKERS workers are alive to take one item each at once.
            b.wait();
        })
        .unwrap();
    for n in 0..30 {
        p.submit(n).unwrap();
    }
    wait_until("30 panics", || p.stats().panicked == 30);
    for n in 30..30 + WORKERS as u32 {
        p.submit(n).unwrap();
    }
    wait_until("the barrier items", || p.stats().handled == 30 + WORKERS as u64);
    let report = p.shutdown();
    assert_eq!((report.handled, report.panicked), (33, 30));
}

#[test]
fn rate_limited_processor_never_starts_more_than_its_bucket_grants() {
    const BURST: u64 = 5;
    const RATE: f64 = 100.0; // one token per 10 ms of mock time
    let (clock, mock) = quanta::Clock::mock();
    let bucket = TokenBucket::builder(RATE, BURST as u32).clock(clock).build().unwrap();
    let started = Arc::new(AtomicU64::new(0));
    let s = Arc::clone(&started);
    let p = Processor::builder()
        .workers(3)
        .queue_capacity(64)
        .rate_limit(bucket)
        .build(move |_: u32| {
            // Relaxed: a count; only its value matters.
            s.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    for n in 0..40 {
        p.submit(n).unwrap();
    }
    // Relaxed: a count; only its value matters.
    wait_until("the burst", || started.load(Ordering::Relaxed) == BURST);
    for step in 1..=20 {
        mock.increment(Duration::from_millis(10));
        let allowed = BURST + step;
        // Relaxed: a count; only its value matters.
        wait_until("the next grant", || started.load(Ordering::Relaxed) >= allowed);
        // Grants so far ≤ burst + rate·t with t the mock time elapsed.
        assert!(started.load(Ordering::Relaxed) <= allowed, "started more than granted at step {step}");
    }
    // Let the rest through (an idle bucket refills to `BURST` only) so shutdown completes.
    wait_until("the remaining items", || {
        mock.increment(Duration::from_secs(1));
        // Relaxed: a count; only its value matters.
        started.load(Ordering::Relaxed) == 40
    });
    let report = p.shutdown();
    assert_eq!(report.handled, 40);
}

#[test]
fn shutdown_now_wakes_workers_waiting_for_rate_tokens() {
    let (clock, _mock) = quanta::Clock::mock(); // time never advances: only the burst passes
    let bucket = TokenBucket::builder(1.0, 2).clock(clock).build().unwrap();
    let p = Processor::builder().workers(2).rate_limit(bucket).build(|_: u32| {}).unwrap();
    for n in 0..10 {
        p.submit(n).unwrap();
    }
    wait_until("the burst of two", || p.stats().handled == 2);
    let mut returned = p.shutdown_now();
    returned.sort_unstable();
    assert_eq!(returned.len(), 8);
    assert!(returned.iter().all(|&n| n < 10));
}

#[test]
fn blocked_submitters_get_their_items_back_at_shutdown() {
    let gate = Arc::new(Barrier::new(2));
    let g = Arc::clone(&gate);
    let p = Processor::builder()
        .workers(1)
        .queue_capacity(1)
        .build(move |first: bool| {
            if first {
                g.wait();
                g.wait();
            }
        })
        .unwrap();
    p.submit(true).unwrap();
    gate.wait(); // the worker holds `true`; the queue is empty
    p.try_submit(false).unwrap(); // queue now full
    assert!(matches!(p.try_submit(false), Err(TrySubmitError::Full(false))));
    gate.wait();
    let report = p.shutdown();
    assert_eq!(report.handled, 2);
    assert_eq!(report.queue.rejected_full, 1);
}

#[test]
fn worker_threads_are_named_after_the_pool() {
    let names = Arc::new(Mutex::new(HashSet::new()));
    let n = Arc::clone(&names);
    let barrier = Arc::new(Barrier::new(2));
    let b = Arc::clone(&barrier);
    let p = Processor::builder()
        .workers(2)
        .name("pool")
        .build(move |_: ()| {
            n.lock().unwrap().insert(thread::current().name().unwrap().to_string());
            b.wait(); // both workers take one item each
        })
        .unwrap();
    p.submit(()).unwrap();
    p.submit(()).unwrap();
    p.shutdown();
    let names = names.lock().unwrap();
    assert_eq!(*names, HashSet::from(["pool-0".to_string(), "pool-1".to_string()]));
}
