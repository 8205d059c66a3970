//! Behaviour of `Backoff`, `retry` and `retry_submit`. Counts, never times.

use std::thread;
use std::time::Duration;

use backpressure::backoff::{retry_submit_with_sleep, retry_with_sleep};
use backpressure::{retry, retry_submit, Backoff, BoundedQueue, Jitter, RetryError, TrySubmitError};

mod support;
use support::with_watchdog;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn exponential_without_jitter_gives_the_exact_sequence() {
    let got: Vec<_> = Backoff::exponential(ms(100), ms(2000)).jitter(Jitter::None).max_retries(7).collect();
    assert_eq!(got, [100, 200, 400, 800, 1600, 2000, 2000].map(ms));
}

#[test]
fn fractional_multiplier_gives_the_exact_sequence() {
    let got: Vec<_> = Backoff::exponential(ms(100), ms(500)).multiplier(1.5).jitter(Jitter::None).take(6).collect();
    assert_eq!(got, [ms(100), ms(150), ms(225), Duration::from_micros(337_500), ms(500), ms(500)]);
}

#[test]
fn multiplier_of_one_gives_constant_delays() {
    let got: Vec<_> = Backoff::exponential(ms(7), ms(100)).multiplier(1.0).jitter(Jitter::None).take(4).collect();
    assert_eq!(got, [ms(7); 4]);
}

#[test]
fn full_jitter_stays_in_zero_to_delay_and_is_never_zero_over_10000_draws() {
    let mut b = Backoff::exponential(ms(1), ms(64)).jitter(Jitter::Full).seed(1);
    let mut exp = ms(1);
    let mut below_half = 0;
    for n in 0..10_000 {
        let d = b.next().unwrap();
        assert!(d > Duration::ZERO && d <= exp, "draw {n}: {d:?} not in (0, {exp:?}]");
        below_half += usize::from(d < exp / 2);
        exp = (exp * 2).min(ms(64));
    }
    // Uniform over [0, d]: about half fall below d/2. A generous band, it is a smoke test of spread.
    assert!((4000..6000).contains(&below_half), "{below_half} of 10000 below half");
}

#[test]
fn equal_jitter_stays_in_half_to_full_delay_over_10000_draws() {
    let mut b = Backoff::exponential(ms(2), ms(50)).jitter(Jitter::Equal).seed(2);
    let mut exp = ms(2);
    for n in 0..10_000 {
        let d = b.next().unwrap();
        assert!(d >= exp / 2 && d <= exp, "draw {n}: {d:?} not in [{:?}, {exp:?}]", exp / 2);
        exp = (exp * 2).min(ms(50));
    }
}

#[test]
fn decorrelated_jitter_stays_between_initial_and_three_times_previous_over_10000_draws() {
    let mut b = Backoff::exponential(ms(10), ms(1000)).jitter(Jitter::Decorrelated).seed(3);
    let mut previous = ms(10);
    let mut reached_max = false;
    for n in 0..10_000 {
        let d = b.next().unwrap();
        let hi = (previous * 3).min(ms(1000));
        assert!(d >= ms(10) && d <= hi, "draw {n}: {d:?} not in [10ms, {hi:?}]");
        reached_max |= d > ms(900);
        previous = d;
    }
    assert!(reached_max, "decorrelated jitter never grew near max");
}

#[test]
fn same_seed_gives_the_same_sequence_and_different_seeds_differ() {
    let seq = |seed| Backoff::exponential(ms(10), ms(10_000)).seed(seed).take(20).collect::<Vec<_>>();
    assert_eq!(seq(9), seq(9));
    assert_ne!(seq(9), seq(10));
}

#[test]
fn attempt_ten_thousand_yields_max_with_jitter_applied_to_max() {
    let max = ms(30_000);
    let mut plain = Backoff::exponential(ms(1), max).jitter(Jitter::None);
    assert_eq!(plain.nth(9_999), Some(max));
    let mut full = Backoff::exponential(ms(1), max).jitter(Jitter::Full).seed(4);
    let d = full.nth(9_999).unwrap();
    assert!(d > Duration::ZERO && d <= max);
    let mut equal = Backoff::exponential(ms(1), max).jitter(Jitter::Equal).seed(4);
    let d = equal.nth(9_999).unwrap();
    assert!(d >= max / 2 && d <= max);
}

#[test]
fn extreme_durations_never_overflow() {
    for jitter in [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let mut b = Backoff::exponential(Duration::MAX / 2, Duration::MAX).jitter(jitter).seed(5);
        for _ in 0..100 {
            assert!(b.next().unwrap() > Duration::ZERO);
        }
        let mut b = Backoff::exponential(Duration::from_nanos(1), Duration::MAX).multiplier(1e300).jitter(jitter);
        assert!(b.nth(1_000).is_some());
    }
}

#[test]
fn max_retries_limits_the_number_of_delays() {
    let b = Backoff::exponential(ms(1), ms(10)).max_retries(3);
    assert_eq!(b.size_hint(), (0, Some(3)));
    let mut b = b;
    assert_eq!(b.by_ref().count(), 3);
    assert_eq!(b.next(), None, "stays exhausted");
}

#[test]
fn max_elapsed_stops_before_the_budget_is_exceeded() {
    let b = Backoff::exponential(ms(100), ms(10_000)).jitter(Jitter::None).max_elapsed(ms(1500));
    assert_eq!(b.collect::<Vec<_>>(), [100, 200, 400, 800].map(ms)); // 1500 exactly fits
    for seed in 0..50 {
        let total: Duration = Backoff::exponential(ms(100), ms(800)).seed(seed).max_elapsed(ms(3000)).sum();
        assert!(total <= ms(3000), "seed {seed}: slept {total:?}");
    }
}

#[test]
fn reset_starts_over_from_initial() {
    let mut b = Backoff::exponential(ms(5), ms(100)).jitter(Jitter::None).max_retries(2);
    assert_eq!(b.by_ref().count(), 2);
    b.reset();
    assert_eq!(b.retries(), 0);
    assert_eq!(b.next(), Some(ms(5)));
}

#[test]
#[should_panic(expected = "multiplier must be at least 1 (and not NaN), got 0.5")]
fn multiplier_below_one_panics_naming_the_value() {
    let _ = Backoff::exponential(ms(1), ms(2)).multiplier(0.5);
}

#[test]
#[should_panic(expected = "got NaN")]
fn nan_multiplier_panics() {
    let _ = Backoff::exponential(ms(1), ms(2)).multiplier(f64::NAN);
}

#[test]
#[should_panic(expected = "max (1ms) must be at least initial (2ms)")]
fn max_below_initial_panics_naming_both() {
    let _ = Backoff::exponential(ms(2), ms(1));
}

#[test]
fn retry_stops_at_once_on_a_permanent_error() {
    let (mut calls, mut sleeps) = (0, 0);
    let result = retry_with_sleep(
        Backoff::exponential(ms(1), ms(1)).max_retries(10),
        |e: &&str| *e == "busy",
        || {
            calls += 1;
            Err::<(), _>(if calls < 3 { "busy" } else { "forbidden" })
        },
        |_| sleeps += 1,
    );
    assert_eq!(result, Err(RetryError::Permanent("forbidden")));
    assert_eq!((calls, sleeps), (3, 2));
}

#[test]
fn retry_exhausts_after_exactly_max_retries_sleeps() {
    let mut slept = Vec::new();
    let mut calls = 0;
    let backoff = Backoff::exponential(ms(10), ms(1000)).jitter(Jitter::None).max_retries(5);
    let result = retry_with_sleep(
        backoff,
        |_| true,
        || {
            calls += 1;
            Err::<(), _>(calls)
        },
        |d| slept.push(d),
    );
    assert_eq!(result, Err(RetryError::Exhausted { last: 6, attempts: 6 }));
    assert_eq!(slept, [10, 20, 40, 80, 160].map(ms));
}

#[test]
fn retry_with_zero_retries_calls_once_and_never_sleeps() {
    let mut sleeps = 0;
    let result = retry_with_sleep(
        Backoff::exponential(ms(1), ms(1)).max_retries(0),
        |_| true,
        || Err::<(), _>(()),
        |_| sleeps += 1,
    );
    assert_eq!(result, Err(RetryError::Exhausted { last: (), attempts: 1 }));
    assert_eq!(sleeps, 0);
}

#[test]
fn retry_with_real_sleep_returns_the_value_after_transient_errors() {
    let mut calls = 0;
    let result = retry(
        Backoff::exponential(Duration::from_micros(10), Duration::from_micros(100)).max_retries(10),
        |_: &()| true,
        || {
            calls += 1;
            if calls < 4 {
                Err(())
            } else {
                Ok("done")
            }
        },
    );
    assert_eq!((result, calls), (Ok("done"), 4));
}

#[test]
fn retry_error_displays_and_exposes_its_source() {
    let io = std::io::Error::other("disk on fire");
    let err = RetryError::Exhausted { last: io, attempts: 3 };
    assert_eq!(err.to_string(), "gave up after 3 attempts: disk on fire");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(RetryError::Permanent("no").to_string(), "permanent error: no");
}

#[test]
fn retry_submit_delivers_the_item_once_another_thread_drains_the_queue() {
    with_watchdog(|| {
        let queue = std::sync::Arc::new(BoundedQueue::new(1));
        queue.try_submit(0u32).unwrap();
        let consumer = {
            let queue = std::sync::Arc::clone(&queue);
            thread::spawn(move || {
                thread::sleep(ms(5));
                let first = queue.recv().unwrap();
                let second = queue.recv().unwrap();
                (first, second)
            })
        };
        // Up to ~10 s of retries, far more than the consumer needs; it normally takes a few ms.
        let backoff = Backoff::exponential(ms(1), ms(20)).max_retries(500);
        retry_submit(&queue, 42u32, backoff).expect("the consumer makes room");
        assert_eq!(consumer.join().unwrap(), (0, 42));
    });
}

#[test]
fn retry_submit_gives_the_same_item_back_when_the_queue_never_drains() {
    let queue = BoundedQueue::new(1);
    queue.try_submit(Box::new(1)).unwrap();
    let item = Box::new(2);
    let address = &*item as *const i32;
    let mut sleeps = 0;
    let backoff = Backoff::exponential(ms(1), ms(1)).max_retries(4);
    let err = retry_submit_with_sleep(&queue, item, backoff, |_| sleeps += 1).unwrap_err();
    assert!(matches!(err, TrySubmitError::Full(_)));
    let back = err.into_inner();
    assert_eq!((*back, &*back as *const i32, sleeps), (2, address, 4), "the very same allocation comes back");
    assert_eq!(queue.len(), 1);
}

#[test]
fn retry_submit_treats_closed_as_permanent() {
    let queue = BoundedQueue::new(1);
    queue.close();
    let mut sleeps = 0;
    let err = retry_submit_with_sleep(&queue, "x", Backoff::exponential(ms(1), ms(1)).max_retries(9), |_| sleeps += 1)
        .unwrap_err();
    assert_eq!((err, sleeps), (TrySubmitError::Closed("x"), 0));
}

#[test]
fn public_types_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Backoff>();
    check::<Jitter>();
    check::<RetryError<std::io::Error>>();
    assert!(format!("{:?}", Backoff::exponential(ms(1), ms(2))).contains("Backoff"));
}
