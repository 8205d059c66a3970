//! 8 threads (on however few cores) hammering one breaker with random outcomes while the mock
//! clock moves: the half-open probe bound is never exceeded, every call is accounted for, the
//! reported transitions form a valid path, and no probe slot leaks. Counts, never times.
//!
//! The probe bound holds per half-open period: after a probe fails and the breaker has been
//! open for `open_for` again, a new period admits new probes even if a slow probe of the failed
//! period is still running (as Resilience4j does; a hung call must not block recovery forever).
//! So the bound is checked in runs where probes succeed or are dropped, never fail: there a
//! period only ends when every one of its probes has resolved. Runs where probes may fail check
//! everything else.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use backpressure::breaker::CircuitBreakerBuilder;
use backpressure::{BreakerState, CircuitBreaker};

mod support;
use support::with_watchdog;

const THREADS: usize = 8;
const CALLS_PER_THREAD: u64 = if cfg!(debug_assertions) { 1_500_000 } else { 4_000_000 };
const PROBES: u32 = 3;
const OPEN_FOR: Duration = Duration::from_micros(500);

/// Transition counts, indexed by `(from, to)`.
#[derive(Default)]
struct Transitions([[AtomicUsize; 3]; 3]);

fn index(state: BreakerState) -> usize {
    match state {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
    }
}

impl Transitions {
    fn get(&self, from: BreakerState, to: BreakerState) -> usize {
        self.0[index(from)][index(to)].load(Ordering::Relaxed) // Relaxed: read after join.
    }
}

#[derive(Default)]
struct Tally {
    admitted: AtomicU64,
    rejected: AtomicU64,
    verdicts: AtomicU64,
    dropped: AtomicU64,
    probes_in_flight: AtomicU64,
    max_probes_in_flight: AtomicU64,
}

fn hammer(builder: CircuitBreakerBuilder, probes_may_fail: bool) {
    let transitions = Arc::new(Transitions::default());
    let sink = Arc::clone(&transitions);
    let (clock, mock) = quanta::Clock::mock();
    let breaker = builder
        .open_for(OPEN_FOR)
        .half_open_probes(PROBES)
        .clock(clock)
        .on_state_change(move |from, to| {
            sink.0[index(from)][index(to)].fetch_add(1, Ordering::Relaxed); // Relaxed: read after join.
        })
        .build()
        .unwrap();
    let breaker = Arc::new(breaker);
    let tally = Arc::new(Tally::default());
    let start = Arc::new(Barrier::new(THREADS));

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (breaker, tally, start, mock) =
                (Arc::clone(&breaker), Arc::clone(&tally), Arc::clone(&start), Arc::clone(&mock));
            thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t as u64);
                start.wait();
                for _ in 0..CALLS_PER_THREAD {
                    if rng.u32(0..16) == 0 {
                        mock.increment(Duration::from_micros(50));
                    }
                    // Relaxed (all tally counters): plain counts, read after join; the probe
                    // counter is only compared with the bound, which a single location checks.
                    let Ok(permit) = breaker.allow() else {
                        tally.rejected.fetch_add(1, Ordering::Relaxed); // Relaxed: a count read after join
                        continue;
                    };
                    tally.admitted.fetch_add(1, Ordering::Relaxed); // Relaxed: a count read after join
                    let probe = permit.is_probe();
                    if probe {
                        // Counted after allow() took the slot and un-counted before the verdict
                        // gives it back, so this never exceeds the breaker's own count.
                        let now = tally.probes_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                        tally.max_probes_in_flight.fetch_max(now, Ordering::Relaxed); // Relaxed: a count read after join
                        if !probes_may_fail {
                            assert!(now <= u64::from(PROBES), "{now} probes in flight, bound is {PROBES}");
                        }
                        if rng.u32(0..4) == 0 {
                            thread::yield_now(); // let others pile up on the probe slots
                        }
                        tally.probes_in_flight.fetch_sub(1, Ordering::Relaxed); // Relaxed: a count read after join
                    }
                    let failure_percent = if probe && !probes_may_fail { 0 } else { 25 };
                    match rng.u32(0..100) {
                        r if r < 5 => {
                            tally.dropped.fetch_add(1, Ordering::Relaxed); // Relaxed: a count read after join
                            drop(permit);
                        }
                        r if r < 5 + failure_percent => {
                            tally.verdicts.fetch_add(1, Ordering::Relaxed); // Relaxed: a count read after join
                            permit.failure();
                        }
                        _ => {
                            tally.verdicts.fetch_add(1, Ordering::Relaxed); // Relaxed: a count read after join
                            permit.success();
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }

    // Every call is accounted for exactly once.
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed); // Relaxed: after join.
    assert_eq!(get(&tally.admitted) + get(&tally.rejected), THREADS as u64 * CALLS_PER_THREAD);
    assert_eq!(get(&tally.verdicts) + get(&tally.dropped), get(&tally.admitted));
    if !probes_may_fail {
        assert!(get(&tally.max_probes_in_flight) <= u64::from(PROBES));
    }

    // The reported transitions form one valid path from Closed to the final state.
    use BreakerState::*;
    let t = |from, to| transitions.get(from, to);
    let final_state = breaker.state();
    let is = |s| usize::from(final_state == s);
    assert_eq!(t(Closed, HalfOpen) + t(Open, Closed) + t(HalfOpen, HalfOpen), 0, "impossible transitions");
    assert_eq!(1 + t(HalfOpen, Closed), t(Closed, Open) + is(Closed), "Closed entries and exits");
    assert_eq!(t(Closed, Open) + t(HalfOpen, Open), t(Open, HalfOpen) + is(Open), "Open entries and exits");
    assert_eq!(t(Open, HalfOpen), t(HalfOpen, Closed) + t(HalfOpen, Open) + is(HalfOpen), "HalfOpen entries and exits");
    assert!(t(Closed, Open) > 0 && t(HalfOpen, Closed) > 0, "the breaker never cycled: the test tested nothing");
    assert_eq!(t(HalfOpen, Open) > 0, probes_may_fail);

    // No probe slot leaked: once open_for passes, sequential successes close it.
    mock.increment(OPEN_FOR);
    for _ in 0..=PROBES {
        if breaker.state() == Closed {
            break;
        }
        breaker.allow().expect("a free probe slot (none leaked)").success();
    }
    assert_eq!(breaker.state(), Closed);
    eprintln!(
        "admitted {} rejected {} trips {} re-trips {} closes {} max probes in flight {}",
        get(&tally.admitted),
        get(&tally.rejected),
        t(Closed, Open),
        t(HalfOpen, Open),
        t(HalfOpen, Closed),
        get(&tally.max_probes_in_flight)
    );
}

#[test]
fn consecutive_mode_keeps_the_probe_bound_and_counts_under_contention() {
    with_watchdog(|| hammer(CircuitBreaker::builder().failure_threshold(4), false));
}

#[test]
fn rate_mode_keeps_the_probe_bound_and_counts_under_contention() {
    with_watchdog(|| hammer(CircuitBreaker::builder().failure_rate(0.3, 50, 20), false));
}

#[test]
fn failing_probes_reopen_and_every_call_is_still_accounted_for() {
    with_watchdog(|| hammer(CircuitBreaker::builder().failure_threshold(4), true));
    with_watchdog(|| hammer(CircuitBreaker::builder().failure_rate(0.3, 50, 20), true));
}
