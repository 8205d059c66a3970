#![cfg(backpressure_loom)]
//! Loom models of the token bucket with time standing still: whatever the interleaving, threads
//! together never get more than `burst` tokens, also while `set_rate` republishes the schedule.
//!
//! "Standing still": this crate has no `quanta` dependency to build a mock clock with, so the
//! buckets run at a few tokens per *million* seconds on the real clock; a model execution
//! (microseconds) earns nothing.
//! Run: `RUSTFLAGS="--cfg backpressure_loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3
//! cargo test -p loom-tests --release --test rate`.

use backpressure::TokenBucket;
use loom::sync::Arc;
use loom::thread;

/// One token per 11.6 days: nothing is earned while a model runs.
const STILL: f64 = 1e-6;

fn fixed_time_bucket(burst: u32) -> Arc<TokenBucket> {
    Arc::new(TokenBucket::new(STILL, burst))
}

/// `threads` threads each try `tries` single tokens; returns the total granted.
fn race(bucket: &Arc<TokenBucket>, threads: usize, tries: usize) -> u32 {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let bucket = Arc::clone(bucket);
            thread::spawn(move || (0..tries).filter(|_| bucket.try_acquire().is_ok()).count() as u32)
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn two_threads_never_get_more_than_burst_together() {
    loom::model(|| {
        let bucket = fixed_time_bucket(2);
        let granted = race(&bucket, 2, 2);
        assert_eq!(granted, 2, "exactly the burst: no more, and nothing lost to a race");
        assert_eq!(bucket.available(), 0);
    });
}

#[test]
fn three_threads_never_get_more_than_burst_together() {
    loom::model(|| {
        let bucket = fixed_time_bucket(2);
        let granted = race(&bucket, 3, 1);
        assert_eq!(granted, 2);
    });
}

#[test]
fn several_tokens_at_once_never_exceed_burst() {
    loom::model(|| {
        let bucket = fixed_time_bucket(3);
        let b = Arc::clone(&bucket);
        let other = thread::spawn(move || if b.try_acquire_n(2).is_ok() { 2 } else { 0 });
        let mine = if bucket.try_acquire_n(2).is_ok() { 2 } else { 0 };
        let granted = mine + other.join().unwrap();
        assert_eq!(granted, 2, "one of the two requests of 2 fits in a burst of 3");
        assert_eq!(bucket.available(), 1);
    });
}

#[test]
fn set_rate_racing_try_acquire_keeps_the_burst() {
    loom::model(|| {
        let bucket = fixed_time_bucket(2);
        let setter = {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || bucket.set_rate(3.0 * STILL))
        };
        let granted = (0..3).filter(|_| bucket.try_acquire().is_ok()).count();
        setter.join().unwrap();
        assert_eq!(granted, 2, "a new rate earns nothing while time stands still");
        assert_eq!(bucket.rate(), 3.0 * STILL);
    });
}

#[test]
fn two_racing_rate_changes_publish_the_last_request() {
    loom::model(|| {
        let bucket = fixed_time_bucket(1);
        let handles: Vec<_> = [2.0 * STILL, 3.0 * STILL]
            .into_iter()
            .map(|rate| {
                let bucket = Arc::clone(&bucket);
                thread::spawn(move || bucket.set_rate(rate))
            })
            .collect();
        let granted = u32::from(bucket.try_acquire().is_ok()); // the main thread reads meanwhile
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(granted, 1);
        // The published schedule matches the last request (P3): a refusal's wait is computed
        // from it, one token at the final rate.
        let rate = bucket.rate();
        assert!(rate == 2.0 * STILL || rate == 3.0 * STILL);
        let wait = bucket.try_acquire().unwrap_err().retry_after().as_secs_f64();
        // At rates this low the fixed-point slope holds the rate to about 4 parts in 10^5.
        assert!((wait * rate - 1.0).abs() < 1e-4, "waits {wait} s for one token at {rate}/s");
    });
}

#[test]
fn a_reader_overtaken_by_two_rate_changes_reads_one_whole_schedule() {
    loom::model(|| {
        let bucket = fixed_time_bucket(1);
        assert!(bucket.try_acquire().is_ok());
        // Two publications from one thread: the second rewrites the slot the reader may be in.
        let setter = {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || {
                bucket.set_rate(2.0 * STILL);
                bucket.set_rate(4.0 * STILL);
            })
        };
        let wait = bucket.try_acquire().unwrap_err().retry_after().as_secs_f64();
        setter.join().unwrap();
        // The refusal's wait is one token at one of the three rates, never a mix.
        assert!([1.0, 2.0, 4.0].iter().any(|k| (wait * k * STILL - 1.0).abs() < 1e-4), "waits {wait} s for one token");
        assert_eq!(bucket.rate(), 4.0 * STILL);
    });
}
