//! A client calling a flaky service through a circuit breaker, retrying refusals with
//! exponential backoff and jitter. Run with `cargo run --example resilient_client`.
//!
//! The "service" fails every call from its 6th until 60 ms after start (an outage), then recovers. Watch the breaker
//! trip, refuse calls without touching the service, probe it once `open_for` has passed, and
//! close again when the probe succeeds.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backpressure::{retry, Backoff, BreakerError, CircuitBreaker, Jitter, RetryError};

/// A service with an outage: from its 6th call until `recovers_at`, every call fails.
struct FlakyService {
    calls: AtomicU32,
    recovers_at: Instant,
}

impl FlakyService {
    fn get(&self) -> Result<u32, &'static str> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed); // Relaxed: a plain counter.
        if n >= 5 && Instant::now() < self.recovers_at {
            Err("503 service unavailable")
        } else {
            Ok(n)
        }
    }
}

fn main() {
    let service = FlakyService { calls: AtomicU32::new(0), recovers_at: Instant::now() + Duration::from_millis(60) };
    let breaker = CircuitBreaker::builder()
        .failure_threshold(3)
        .open_for(Duration::from_millis(20))
        .half_open_probes(1)
        .on_state_change(|from, to| println!("    breaker: {from} -> {to}"))
        .build()
        .expect("valid settings");

    for request in 0..12 {
        let backoff = Backoff::exponential(Duration::from_millis(2), Duration::from_millis(20))
            .jitter(Jitter::Full)
            .max_retries(4);
        // Retry refusals by the breaker (wait for it) and the service's 503s alike.
        let result = retry(backoff, |_: &BreakerError<&str>| true, || breaker.call(|| service.get()));
        match result {
            Ok(value) => println!("request {request}: ok ({value})"),
            Err(RetryError::Exhausted { last, attempts }) => {
                println!("request {request}: gave up after {attempts} attempts: {last}")
            }
            Err(RetryError::Permanent(e)) => println!("request {request}: permanent error: {e}"),
        }
    }
    // Relaxed: a plain counter, read on the thread that made every call.
    let calls = service.calls.load(Ordering::Relaxed);
    println!("the service saw {calls} calls");
}
