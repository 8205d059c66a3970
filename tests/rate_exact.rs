//! Long simulated windows with a mock clock: the bucket's grant count is exact, with no drift
//! from rounding, at 1/s, 3/s, 1000/s and 10,000,000/s; concurrent AIMD records lose nothing.

use std::thread;
use std::time::Duration;

use backpressure::{AdaptiveRateLimiter, TokenBucket};

mod support;
use support::with_watchdog;

/// Takes every token there is now, in as few calls as possible.
fn drain(bucket: &TokenBucket) -> u64 {
    let mut granted = 0;
    let mut chunk = bucket.burst();
    while chunk > 0 {
        while bucket.try_acquire_n(chunk).is_ok() {
            granted += u64::from(chunk);
        }
        chunk /= 2;
    }
    granted
}

/// Saturating demand for `total` of mock time in steps of `step`: returns the grants.
fn saturate(rate: f64, burst: u32, total: Duration, step: Duration) -> u64 {
    let (clock, mock) = quanta::Clock::mock();
    let bucket = TokenBucket::builder(rate, burst).clock(clock).build().unwrap();
    let mut granted = drain(&bucket);
    let mut elapsed = Duration::ZERO;
    while elapsed < total {
        let step = step.min(total - elapsed);
        mock.increment(step);
        elapsed += step;
        granted += drain(&bucket);
    }
    granted
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn three_per_second_for_an_hour_grants_exactly_burst_plus_10800() {
    assert_eq!(saturate(3.0, 5, HOUR, Duration::from_millis(100)), 5 + 10_800);
    // Steps that never line up with a token boundary.
    assert_eq!(saturate(3.0, 5, HOUR, Duration::from_nanos(123_456_789)), 5 + 10_800);
}

#[test]
fn one_per_second_for_a_day_grants_exactly_burst_plus_86400() {
    assert_eq!(saturate(1.0, 1, Duration::from_secs(86_400), Duration::from_millis(700)), 1 + 86_400);
}

#[test]
fn a_thousand_per_second_for_an_hour_grants_exactly_burst_plus_3_600_000() {
    assert_eq!(saturate(1000.0, 10, HOUR, Duration::from_nanos(3_333_333)), 10 + 3_600_000);
}

#[test]
fn ten_million_per_second_for_an_hour_grants_exactly_burst_plus_36_billion() {
    let burst = 2_000_000;
    assert_eq!(saturate(1e7, burst, HOUR, Duration::from_nanos(99_999_999)), u64::from(burst) + 36_000_000_000);
}

#[test]
fn a_rate_with_no_exact_nanosecond_period_does_not_drift() {
    // 3,000,000/s: a token every 333.33 ns.
    assert_eq!(
        saturate(3e6, 1_000_000, Duration::from_secs(60), Duration::from_nanos(77_777_777)),
        1_000_000 + 180_000_000
    );
    // 7/s for a day.
    assert_eq!(saturate(7.0, 10, Duration::from_secs(86_400), Duration::from_millis(999)), 10 + 604_800);
}

#[test]
fn rate_changes_mid_window_count_each_piece_at_its_rate() {
    let (clock, mock) = quanta::Clock::mock();
    let bucket = TokenBucket::builder(3.0, 1_000_000).clock(clock).initial_tokens(0).build().unwrap();
    let mut granted = 0;
    for (rate, secs) in [(3.0, 600), (1000.0, 60), (1.0, 3600), (1e7, 1), (3.0, 601)] {
        bucket.set_rate(rate);
        for _ in 0..secs * 10 {
            mock.increment(Duration::from_millis(100));
            granted += drain(&bucket);
        }
    }
    assert_eq!(granted, 1800 + 60_000 + 3600 + 10_000_000 + 1803);
}

#[test]
fn concurrent_errors_from_four_threads_each_take_effect() {
    with_watchdog(|| {
        let (clock, _mock) = quanta::Clock::mock();
        let bucket = TokenBucket::builder(1e6, 10).clock(clock).build().unwrap();
        let limiter = AdaptiveRateLimiter::builder(bucket).min_rate(1.0).build().unwrap();
        let per_thread = 25; // 100 cuts: 1e6 · 0.9^100 ≈ 26.6, above the floor
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..per_thread).for_each(|_| limiter.record_error()));
            }
        });
        let expected = (0..4 * per_thread).fold(1e6, |rate, _| rate * 0.9);
        assert_eq!(limiter.current_rate(), expected);
        assert_eq!(limiter.bucket().rate(), expected);
    });
}

#[test]
fn concurrent_mixed_records_stay_between_floor_and_base_and_reach_the_bucket() {
    with_watchdog(|| {
        let (clock, mock) = quanta::Clock::mock();
        let bucket = TokenBucket::builder(1000.0, 1000).clock(clock).initial_tokens(0).build().unwrap();
        let limiter = AdaptiveRateLimiter::new(bucket);
        thread::scope(|s| {
            for t in 0..4 {
                let limiter = &limiter;
                s.spawn(move || {
                    for i in 0..2000 {
                        if (i + t) % 3 == 0 {
                            limiter.record_error();
                        } else {
                            limiter.record_success();
                        }
                        let rate = limiter.current_rate();
                        assert!((100.0..=1000.0).contains(&rate), "rate {rate} left [floor, base]");
                    }
                });
            }
        });
        // Whatever the interleaving, the bucket runs at the limiter's final rate.
        let rate = limiter.current_rate();
        mock.increment(Duration::from_secs(10));
        let granted = drain(limiter.bucket());
        let expected = (rate * 10.0).min(1000.0);
        assert!((granted as f64 - expected).abs() <= 1.0, "granted {granted} at {rate}/s");
    });
}
