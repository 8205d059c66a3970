//! Behaviour tests with a mock clock (no real time passes, so they run under Miri too).
//! Long windows and many threads are in `tests/rate_*.rs`.

use std::sync::Arc;
use std::time::Duration;

use quanta::{Clock, Mock};

use super::*;

fn bucket(rate: f64, burst: u32) -> (TokenBucket, Arc<Mock>) {
    let (clock, mock) = Clock::mock();
    (TokenBucket::builder(rate, burst).clock(clock).build().unwrap(), mock)
}

fn drain(bucket: &TokenBucket) -> u64 {
    let mut granted = 0;
    while bucket.try_acquire().is_ok() {
        granted += 1;
    }
    granted
}

#[test]
fn starts_full_and_refuses_when_empty() {
    let (bucket, _mock) = bucket(10.0, 3);
    assert_eq!(drain(&bucket), 3);
    assert_eq!(bucket.available(), 0);
}

#[test]
fn retry_after_is_exact_to_the_nanosecond() {
    for rate in [1.0, 3.0, 7.0, 1000.0, 3e6, 1e7] {
        let (bucket, mock) = bucket(rate, 2);
        drain(&bucket);
        let wait = bucket.try_acquire().unwrap_err().retry_after();
        assert!(!wait.is_zero());
        mock.increment(wait - Duration::from_nanos(1));
        assert!(bucket.try_acquire().is_err(), "rate {rate}: granted a nanosecond early");
        mock.increment(Duration::from_nanos(1));
        assert!(bucket.try_acquire().is_ok(), "rate {rate}: refused at retry_after");
    }
}

#[test]
fn retry_after_for_several_tokens_counts_all_of_them() {
    let (bucket, mock) = bucket(10.0, 5);
    drain(&bucket);
    let wait = bucket.try_acquire_n(3).unwrap_err().retry_after().unwrap();
    assert_eq!(wait, Duration::from_millis(300));
    mock.increment(wait);
    assert_eq!(bucket.try_acquire_n(3), Ok(()));
    assert_eq!(bucket.available(), 0);
}

#[test]
fn a_refused_request_takes_nothing() {
    let (bucket, mock) = bucket(10.0, 5);
    bucket.try_acquire_n(4).unwrap();
    assert!(bucket.try_acquire_n(2).is_err());
    assert_eq!(bucket.available(), 1);
    mock.increment(Duration::from_millis(100));
    assert_eq!(bucket.try_acquire_n(2), Ok(()));
}

#[test]
fn long_idle_refills_to_burst_and_no_more() {
    let (bucket, mock) = bucket(1000.0, 7);
    drain(&bucket);
    mock.increment(Duration::from_secs(3600));
    assert_eq!(bucket.available(), 7);
    assert_eq!(drain(&bucket), 7);
}

#[test]
fn more_than_burst_is_refused_at_once_by_every_call() {
    let (bucket, _mock) = bucket(1.0, 4);
    let exceeds = AcquireError::ExceedsBurst { requested: 5, burst: 4 };
    assert_eq!(bucket.try_acquire_n(5), Err(exceeds));
    assert_eq!(bucket.acquire_n(5), Err(exceeds));
    assert_eq!(bucket.acquire_timeout(5, Duration::MAX), Err(exceeds));
    assert_eq!(bucket.available(), 4);
}

#[test]
fn zero_tokens_always_pass() {
    let (bucket, _mock) = bucket(1.0, 1);
    drain(&bucket);
    assert_eq!(bucket.try_acquire_n(0), Ok(()));
    assert_eq!(bucket.acquire_n(0), Ok(()));
    assert_eq!(bucket.acquire_timeout(0, Duration::ZERO), Ok(()));
}

#[test]
fn initial_tokens_sets_the_first_fill() {
    let (clock, mock) = Clock::mock();
    let bucket = TokenBucket::builder(2.0, 10).clock(clock).initial_tokens(1).build().unwrap();
    assert_eq!(drain(&bucket), 1);
    mock.increment(Duration::from_secs(1));
    assert_eq!(drain(&bucket), 2);
}

#[test]
fn acquire_timeout_that_would_exceed_returns_at_once_and_takes_nothing() {
    let (bucket, mock) = bucket(1.0, 2);
    drain(&bucket);
    // The wait is an hour of mock time; sleeping it would hang the test.
    let err = bucket.acquire_timeout(2, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    mock.increment(Duration::from_secs(2));
    assert_eq!(bucket.try_acquire_n(2), Ok(()), "the refused call must not have reserved anything");
}

#[test]
fn acquire_timeout_zero_is_a_single_try() {
    let (bucket, _mock) = bucket(1.0, 1);
    assert_eq!(bucket.acquire_timeout(1, Duration::ZERO), Ok(()));
    assert!(matches!(bucket.acquire_timeout(1, Duration::ZERO), Err(AcquireError::RateLimited(_))));
}

#[test]
fn waiters_reserve_consecutive_slots() {
    // Rate 1e6/s: each waiter sleeps a microsecond or so of real time; the mock clock stands
    // still, so the schedule shows exactly what was reserved.
    let (bucket, _mock) = bucket(1e6, 1);
    bucket.acquire();
    bucket.acquire(); // reserves the token due at 1 µs
    bucket.acquire_n(1).unwrap(); // and the one at 2 µs
    assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), Duration::from_micros(3));
}

#[test]
fn set_rate_applies_from_the_change_and_keeps_partial_progress() {
    let (bucket, mock) = bucket(10.0, 100);
    drain(&bucket);
    mock.increment(Duration::from_millis(50)); // half a token at 10/s
    bucket.set_rate(20.0); // the other half takes 25 ms at 20/s
    assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), Duration::from_millis(25));
    mock.increment(Duration::from_millis(25) + Duration::from_secs(1));
    assert_eq!(drain(&bucket), 21);
    bucket.set_rate(1.0);
    mock.increment(Duration::from_secs(3));
    assert_eq!(drain(&bucket), 3);
}

#[test]
fn raising_the_rate_never_overfills_the_bucket() {
    let (bucket, mock) = bucket(10.0, 5);
    bucket.set_rate(1e9);
    assert_eq!(bucket.available(), 5);
    mock.increment(Duration::from_secs(10));
    assert_eq!(drain(&bucket), 5);
}

#[test]
fn a_clock_step_back_grants_nothing_extra_and_does_not_lock_out() {
    let (clock, mock) = Clock::mock();
    mock.increment(Duration::from_secs(10 * 3600));
    let bucket = TokenBucket::builder(1.0, 5).clock(clock).build().unwrap();
    mock.increment(Duration::from_secs(2 * 3600));
    assert_eq!(drain(&bucket), 5);
    // Back an hour, then below the bucket's origin altogether.
    for step in [3600, 3 * 3600] {
        mock.decrement(Duration::from_secs(step));
        assert_eq!(drain(&bucket), 0, "a step back must not grant");
        let mut granted = 0;
        for _ in 0..10 {
            mock.increment(Duration::from_secs(1));
            granted += drain(&bucket);
        }
        // 10 s at 1/s from the new reading, less the bucket's margin (1 ms + 1 token).
        assert!((8..=10).contains(&granted), "after a step back of {step} s: {granted} grants in 10 s");
    }
}

#[test]
fn bad_configuration_names_the_field() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2e9, 1e-9] {
        let err = TokenBucket::builder(rate, 1).build().unwrap_err();
        assert_eq!(err.field(), "rate_per_sec", "rate {rate}");
    }
    assert_eq!(TokenBucket::builder(1.0, 0).build().unwrap_err().field(), "burst");
    assert_eq!(TokenBucket::builder(1.0, 2).initial_tokens(3).build().unwrap_err().field(), "initial_tokens");
}

#[test]
#[should_panic(expected = "got NaN")]
fn new_panics_naming_a_nan_rate() {
    let _ = TokenBucket::new(f64::NAN, 1);
}

#[test]
#[should_panic(expected = "got 0")]
fn new_panics_naming_a_zero_burst() {
    let _ = TokenBucket::new(1.0, 0);
}

#[test]
#[should_panic(expected = "got inf")]
fn set_rate_panics_naming_an_infinite_rate() {
    let (bucket, _mock) = bucket(1.0, 1);
    bucket.set_rate(f64::INFINITY);
}

#[test]
fn errors_display_their_reason() {
    let (bucket, _mock) = bucket(2.0, 1);
    drain(&bucket);
    let limited = bucket.try_acquire().unwrap_err();
    assert_eq!(limited.to_string(), "rate limited; retry after 500ms");
    let err = bucket.try_acquire_n(2).unwrap_err();
    assert!(err.to_string().contains("more than the burst of 1"));
    assert!(format!("{bucket:?}").contains("burst: 1"));
}

#[test]
fn public_types_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<TokenBucket>();
    check::<AdaptiveRateLimiter>();
    check::<RateLimited>();
    check::<AcquireError>();
}

fn adaptive(base: f64) -> (AdaptiveRateLimiter, Arc<Mock>) {
    let (bucket, mock) = bucket(base, 10);
    (AdaptiveRateLimiter::new(bucket), mock)
}

#[test]
fn errors_cut_the_rate_down_to_the_floor() {
    let (limiter, _mock) = adaptive(100.0);
    let mut expected = 100.0;
    for _ in 0..5 {
        limiter.record_error();
        expected *= 0.9;
        assert_eq!(limiter.current_rate(), expected);
    }
    for _ in 0..100 {
        limiter.record_error();
    }
    assert_eq!(limiter.current_rate(), 10.0);
    assert_eq!(limiter.bucket().rate(), 10.0);
}

#[test]
fn successes_raise_the_rate_up_to_the_base() {
    let (limiter, _mock) = adaptive(100.0);
    limiter.record_success();
    assert_eq!(limiter.current_rate(), 100.0, "capped at the base");
    limiter.record_error();
    limiter.record_error();
    let mut expected = 100.0 * 0.9 * 0.9;
    for _ in 0..10 {
        limiter.record_success();
        expected = f64::min(expected * 1.01, 100.0);
        assert_eq!(limiter.current_rate(), expected);
    }
    for _ in 0..100 {
        limiter.record_success();
    }
    assert_eq!(limiter.current_rate(), 100.0);
}

#[test]
fn the_adapted_rate_governs_the_bucket() {
    let (limiter, mock) = adaptive(100.0);
    while limiter.try_acquire().is_ok() {}
    for _ in 0..22 {
        limiter.record_error(); // 100 · 0.9^22 < 10: at the floor
    }
    mock.increment(Duration::from_secs(1));
    let mut granted = 0;
    while limiter.try_acquire().is_ok() {
        granted += 1;
    }
    assert_eq!(granted, 10);
}

#[test]
fn adaptive_builder_validates_every_setting() {
    let build = |f: fn(AdaptiveRateLimiterBuilder) -> AdaptiveRateLimiterBuilder| {
        f(AdaptiveRateLimiter::builder(bucket(10.0, 1).0)).build().map(|_| ()).map_err(|e| e.field())
    };
    assert_eq!(build(|b| b.increase_factor(1.0)), Err("increase_factor"));
    assert_eq!(build(|b| b.increase_factor(f64::INFINITY)), Err("increase_factor"));
    assert_eq!(build(|b| b.decrease_factor(0.0)), Err("decrease_factor"));
    assert_eq!(build(|b| b.decrease_factor(1.0)), Err("decrease_factor"));
    assert_eq!(build(|b| b.decrease_factor(f64::NAN)), Err("decrease_factor"));
    assert_eq!(build(|b| b.min_rate(0.0)), Err("min_rate"));
    assert_eq!(build(|b| b.min_rate(11.0)), Err("min_rate"));
    assert_eq!(build(|b| b.min_rate(10.0).increase_factor(2.0).decrease_factor(0.5)), Ok(()));
}
