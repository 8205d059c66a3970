//! Behaviour of `CircuitBreaker`, driven by a mock clock. Counts, never times.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use backpressure::breaker::CircuitBreakerBuilder;
use backpressure::{BreakerError, BreakerOpen, BreakerPermit, BreakerState, CircuitBreaker, ConfigError};

mod support;
use support::with_watchdog;

const OPEN_FOR: Duration = Duration::from_secs(10);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn build(builder: CircuitBreakerBuilder) -> (CircuitBreaker, Arc<quanta::Mock>) {
    let (clock, mock) = quanta::Clock::mock();
    (builder.clock(clock).build().unwrap(), mock)
}

fn threshold(n: u32, probes: u32) -> (CircuitBreaker, Arc<quanta::Mock>) {
    build(CircuitBreaker::builder().failure_threshold(n).open_for(OPEN_FOR).half_open_probes(probes))
}

fn rate(rate: f64, window: u32, min_calls: u32) -> (CircuitBreaker, Arc<quanta::Mock>) {
    build(CircuitBreaker::builder().failure_rate(rate, window, min_calls).open_for(OPEN_FOR))
}

/// Records `outcomes` ('F' failure, 'S' success) one call each.
fn record(breaker: &CircuitBreaker, outcomes: &str) {
    for c in outcomes.chars() {
        let permit = breaker.allow().unwrap_or_else(|e| panic!("refused before {c}: {e}"));
        if c == 'F' {
            permit.failure()
        } else {
            permit.success()
        }
    }
}

#[test]
fn consecutive_failures_trip_at_the_threshold() {
    let (b, _) = threshold(3, 1);
    record(&b, "FF");
    assert_eq!(b.state(), BreakerState::Closed);
    record(&b, "F");
    assert_eq!(b.state(), BreakerState::Open);
    assert!(b.allow().is_err());
}

#[test]
fn a_success_resets_the_consecutive_failure_count() {
    let (b, _) = threshold(3, 1);
    record(&b, "FFSFFSFF");
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn open_refuses_with_retry_after_counting_down_on_the_clock() {
    let (b, mock) = threshold(1, 1);
    record(&b, "F");
    assert_eq!(b.allow().unwrap_err().retry_after(), OPEN_FOR);
    mock.increment(secs(3));
    assert_eq!(b.allow().unwrap_err().retry_after(), secs(7));
    mock.increment(Duration::from_nanos(6_999_999_999));
    assert_eq!(b.allow().unwrap_err().retry_after(), Duration::from_nanos(1));
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn open_turns_half_open_on_the_first_allow_after_open_for() {
    let (b, mock) = threshold(1, 1);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    assert_eq!(b.state(), BreakerState::Open, "state() does not transition by itself");
    let probe = b.allow().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert_eq!(b.allow().unwrap_err().retry_after(), Duration::ZERO, "the only probe slot is taken");
    drop(probe);
}

#[test]
fn half_open_closes_only_when_every_probe_succeeds() {
    let (b, mock) = threshold(1, 3);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let probes: Vec<_> = (0..3).map(|_| b.allow().unwrap()).collect();
    assert!(b.allow().is_err());
    let mut probes = probes.into_iter();
    probes.next().unwrap().success();
    probes.next().unwrap().success();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.allow().is_err(), "two succeeded + one in flight fill the three slots");
    probes.next().unwrap().success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert!(!b.allow().unwrap().is_probe());
}

#[test]
fn any_probe_failure_reopens_for_a_fresh_open_for() {
    let (b, mock) = threshold(1, 2);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let (p1, p2) = (b.allow().unwrap(), b.allow().unwrap());
    p1.success();
    mock.increment(secs(4));
    p2.failure();
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.allow().unwrap_err().retry_after(), OPEN_FOR, "counted from the re-trip");
}

#[test]
#[cfg_attr(miri, ignore)] // 300 threads: minutes under Miri; the lib's 4-thread version runs there
fn hundred_threads_at_the_instant_open_for_passes_admit_exactly_half_open_probes() {
    with_watchdog(|| {
        for probes in [1, 3, 7] {
            let (b, mock) = threshold(1, probes);
            let b = Arc::new(b);
            record(&b, "F");
            mock.increment(OPEN_FOR);
            let start = Arc::new(Barrier::new(100));
            let tried = Arc::new(Barrier::new(100));
            let handles: Vec<_> = (0..100)
                .map(|_| {
                    let (b, start, tried) = (Arc::clone(&b), Arc::clone(&start), Arc::clone(&tried));
                    thread::spawn(move || {
                        start.wait();
                        let permit = b.allow().ok();
                        tried.wait(); // hold the permit until everyone has tried
                        permit.is_some()
                    })
                })
                .collect();
            let admitted = handles.into_iter().map(|h| h.join().unwrap()).filter(|&ok| ok).count();
            assert_eq!(admitted, probes as usize, "with {probes} probe slots");
        }
    });
}

#[test]
fn a_dropped_probe_permit_frees_its_slot() {
    let (b, mock) = threshold(1, 1);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let probe = b.allow().unwrap();
    assert!(b.allow().is_err());
    drop(probe);
    let again = b.allow().expect("slot freed");
    assert_eq!(b.state(), BreakerState::HalfOpen, "a drop is neither success nor failure");
    again.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn a_probe_that_panics_inside_call_frees_its_slot() {
    let (b, mock) = threshold(1, 1);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = b.call(|| -> Result<(), ()> { panic!("boom") });
    }));
    assert!(panicked.is_err());
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.allow().unwrap().is_probe());
}

#[test]
fn a_dropped_closed_permit_counts_as_neither() {
    let (b, _) = threshold(2, 1);
    record(&b, "F");
    drop(b.allow().unwrap()); // not a success: the failure count stays at 1
    record(&b, "F");
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn a_stale_probe_dropped_after_a_reopen_does_not_free_a_new_slot() {
    let (b, mock) = threshold(1, 2);
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let (old, failing) = (b.allow().unwrap(), b.allow().unwrap());
    failing.failure();
    mock.increment(OPEN_FOR);
    let (new1, new2) = (b.allow().unwrap(), b.allow().unwrap());
    drop(old);
    assert!(b.allow().is_err(), "the old period's probe must not free a slot of the new period");
    new1.success();
    new2.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn a_verdict_from_before_a_trip_is_ignored() {
    let (b, mock) = threshold(2, 1);
    let early = b.allow().unwrap();
    record(&b, "FF");
    mock.increment(OPEN_FOR);
    record(&b, "S"); // probe closes it
    record(&b, "F"); // count 1 of 2 in the new period
    early.success(); // from the first Closed period: must not reset the new count
    record(&b, "F");
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn failure_rate_is_computed_exactly_at_the_minimum_calls_boundary() {
    // 2 of 4 = 50% ≥ 50%: trips on the 4th call, not before.
    let (b, _) = rate(0.5, 10, 4);
    record(&b, "FFS");
    assert_eq!(b.state(), BreakerState::Closed, "3 calls < min_calls");
    record(&b, "S");
    assert_eq!(b.state(), BreakerState::Open);

    // 1 of 4 = 25% < 50%: stays closed at the boundary.
    let (b, _) = rate(0.5, 10, 4);
    record(&b, "FSSS");
    assert_eq!(b.state(), BreakerState::Closed);

    // 3 of 10 = 0.3 exactly, a value f64 cannot hold: still trips on the 10th call.
    let (b, _) = rate(0.3, 10, 10);
    record(&b, "FFFSSSSSS");
    assert_eq!(b.state(), BreakerState::Closed);
    record(&b, "S");
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn failure_rate_below_min_calls_never_trips_even_at_100_percent() {
    let (b, _) = rate(0.1, 100, 50);
    record(&b, &"F".repeat(49));
    assert_eq!(b.state(), BreakerState::Closed);
    record(&b, "F");
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn failure_rate_window_slides_old_outcomes_out() {
    let (b, _) = rate(0.5, 4, 4);
    record(&b, "FSSS"); // 1/4
    record(&b, "S"); // the F slides out: 0/4
    record(&b, "F"); // 1/4
    assert_eq!(b.state(), BreakerState::Closed);
    record(&b, "F"); // 2/4
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn failure_rate_window_starts_empty_after_the_breaker_closes_again() {
    let (b, mock) = rate(0.5, 4, 4);
    record(&b, "FFFF");
    assert_eq!(b.state(), BreakerState::Open);
    mock.increment(OPEN_FOR);
    record(&b, "S"); // the probe closes it
    assert_eq!(b.state(), BreakerState::Closed);
    record(&b, "FFF");
    assert_eq!(b.state(), BreakerState::Closed, "only 3 calls in the new window");
    record(&b, "S");
    assert_eq!(b.state(), BreakerState::Open, "3 of 4 failed");
}

#[test]
fn zero_open_for_goes_half_open_on_the_next_call() {
    let (b, _) = build(CircuitBreaker::builder().failure_threshold(1).open_for(Duration::ZERO));
    record(&b, "F");
    assert!(b.allow().unwrap().is_probe());
}

#[test]
fn max_open_for_stays_open_without_overflow() {
    let (b, mock) = build(CircuitBreaker::builder().failure_threshold(1).open_for(Duration::MAX));
    record(&b, "F");
    mock.increment(Duration::from_secs(100 * 365 * 24 * 3600));
    let open = b.allow().unwrap_err();
    assert!(open.retry_after() > Duration::from_secs(1_000 * 365 * 24 * 3600));
}

#[test]
fn call_records_ok_and_err_and_refuses_without_running_when_open() {
    let (b, _) = threshold(2, 1);
    assert_eq!(b.call(|| Ok::<_, &str>(1)), Ok(1));
    assert_eq!(b.call(|| Err::<(), _>("e1")), Err(BreakerError::Inner("e1")));
    assert_eq!(b.call(|| Err::<(), _>("e2")), Err(BreakerError::Inner("e2")));
    let ran = AtomicUsize::new(0);
    let result = b.call(|| {
        ran.fetch_add(1, Ordering::Relaxed); // Relaxed: single thread
        Ok::<_, &str>(())
    });
    assert!(matches!(result, Err(BreakerError::Open(open)) if open.retry_after() == OPEN_FOR));
    assert_eq!(ran.load(Ordering::Relaxed), 0); // Relaxed: single thread
}

#[test]
fn on_state_change_reports_each_transition_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let (b, mock) = build(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .open_for(OPEN_FOR)
            .on_state_change(move |from, to| sink.lock().unwrap().push((from, to))),
    );
    record(&b, "F");
    mock.increment(OPEN_FOR);
    record(&b, "S");
    use BreakerState::*;
    assert_eq!(*log.lock().unwrap(), [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]);
}

#[test]
fn a_panicking_callback_leaves_the_breaker_usable() {
    let (b, mock) =
        build(CircuitBreaker::builder().failure_threshold(1).open_for(OPEN_FOR).on_state_change(|from, to| {
            if (from, to) == (BreakerState::Open, BreakerState::HalfOpen) {
                panic!("callback bug");
            }
        }));
    record(&b, "F");
    mock.increment(OPEN_FOR);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.allow().map(drop)));
    assert!(caught.is_err(), "the callback's panic reaches the caller");
    assert_eq!(b.state(), BreakerState::HalfOpen);
    b.allow().expect("the probe slot was given back").success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn builder_rejects_bad_values_naming_the_field() {
    let cases: [(CircuitBreakerBuilder, &str, &str); 10] = [
        (CircuitBreaker::builder().failure_threshold(0), "failure_threshold", "got 0"),
        (CircuitBreaker::builder().failure_rate(0.0, 10, 5), "failure_rate.rate", "got 0"),
        (CircuitBreaker::builder().failure_rate(-0.1, 10, 5), "failure_rate.rate", "got -0.1"),
        (CircuitBreaker::builder().failure_rate(1.01, 10, 5), "failure_rate.rate", "got 1.01"),
        (CircuitBreaker::builder().failure_rate(f64::NAN, 10, 5), "failure_rate.rate", "got NaN"),
        (CircuitBreaker::builder().failure_rate(0.5, 0, 0), "failure_rate.window", "got 0"),
        (CircuitBreaker::builder().failure_rate(0.5, u32::MAX, 5), "failure_rate.window", "got 4294967295"),
        (CircuitBreaker::builder().failure_rate(0.5, 10, 0), "failure_rate.min_calls", "got 0"),
        (CircuitBreaker::builder().half_open_probes(0), "half_open_probes", "got 0"),
        (CircuitBreaker::builder().half_open_probes(70_000), "half_open_probes", "got 70000"),
    ];
    for (builder, field, reason) in cases {
        let err: ConfigError = builder.build().unwrap_err();
        assert_eq!(err.field(), field);
        assert!(err.reason().contains(reason), "{err}");
    }
    let (clock, _) = quanta::Clock::mock();
    assert!(CircuitBreaker::builder().failure_rate(1.0, 1, 1).half_open_probes(65_535).clock(clock).build().is_ok());
}

#[test]
#[should_panic(expected = "invalid `failure_threshold`: must be at least 1, got 0")]
fn new_panics_on_a_zero_threshold() {
    let _ = CircuitBreaker::new(0, OPEN_FOR);
}

#[test]
fn errors_display_and_chain() {
    let (b, _) = threshold(1, 1);
    record(&b, "F");
    let open = b.allow().unwrap_err();
    assert_eq!(open.to_string(), "circuit breaker is open; retry after 10s");
    let inner: BreakerError<std::io::Error> = BreakerError::Inner(std::io::Error::other("refused"));
    assert_eq!(inner.to_string(), "refused");
    assert!(std::error::Error::source(&inner).is_some());
    assert_eq!(BreakerError::<std::io::Error>::Open(open).to_string(), open.to_string());
}

#[test]
#[cfg_attr(miri, ignore)] // quanta's default clock uses inline assembly (cpuid/rdtsc)
fn works_with_the_default_clock() {
    let b = CircuitBreaker::builder().failure_threshold(1).open_for(Duration::ZERO).build().unwrap();
    record(&b, "F");
    record(&b, "S");
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn public_types_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<CircuitBreaker>();
    check::<CircuitBreakerBuilder>();
    check::<BreakerPermit<'static>>();
    check::<BreakerOpen>();
    check::<BreakerState>();
    check::<BreakerError<std::io::Error>>();
    let (b, _) = threshold(1, 1);
    assert!(format!("{b:?}").contains("state: Closed"));
    assert!(format!("{:?}", b.allow().unwrap()).contains("probe: false"));
}
