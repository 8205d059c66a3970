//! The real clock: waiting callers that sleep their turn, and `set_rate` racing `try_acquire`.
//! Counted, not timed; every test has a watchdog. The accuracy test is alone in `rate_accuracy.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use backpressure::TokenBucket;

mod support;
use support::with_watchdog;

#[test]
fn acquire_sleeps_its_turn_and_grants_in_order() {
    with_watchdog(|| {
        // 2,000/s with burst 1: 4 threads × 50 acquires = 200 tokens take about 0.1 s.
        let clock = quanta::Clock::new();
        let bucket = TokenBucket::builder(2000.0, 1).clock(clock.clone()).build().unwrap();
        let start = clock.now();
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..50).for_each(|_| bucket.acquire()));
            }
        });
        // Counting, not timing: 200 grants cannot have come before 199 refills were earned.
        let elapsed = clock.now().duration_since(start);
        assert!(elapsed >= Duration::from_micros(199 * 500), "200 tokens at 2000/s in {elapsed:?}");
    });
}

#[test]
fn acquire_timeout_within_the_bound_waits_and_succeeds() {
    with_watchdog(|| {
        let bucket = TokenBucket::new(100.0, 1);
        bucket.try_acquire().unwrap();
        assert_eq!(bucket.acquire_timeout(1, Duration::from_secs(5)), Ok(()));
        assert!(bucket.acquire_timeout(1, Duration::from_nanos(1)).is_err());
    });
}

#[test]
fn set_rate_racing_try_acquire_never_grants_beyond_burst_plus_the_highest_rate() {
    with_watchdog(|| {
        let clock = quanta::Clock::new();
        let bucket = TokenBucket::builder(1000.0, 50).clock(clock.clone()).build().unwrap();
        let stop = AtomicBool::new(false);
        let granted = AtomicU64::new(0);
        let start = clock.now();
        thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let mut mine = 0;
                    while !stop.load(Ordering::Relaxed) {
                        mine += u64::from(bucket.try_acquire().is_ok());
                    }
                    granted.fetch_add(mine, Ordering::Relaxed);
                });
            }
            s.spawn(|| {
                for i in 0..20_000u32 {
                    bucket.set_rate(if i % 2 == 0 { 1000.0 } else { 500.0 });
                }
                stop.store(true, Ordering::Relaxed);
            });
        });
        let secs = clock.now().duration_since(start).as_secs_f64();
        let granted = granted.load(Ordering::Relaxed);
        assert!(granted as f64 <= 50.0 + 1000.0 * secs + 1.0, "granted {granted} in {secs} s");
        assert_eq!(bucket.rate(), 500.0);
    });
}
