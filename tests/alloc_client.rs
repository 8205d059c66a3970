//! The client-side hot paths allocate nothing: `CircuitBreaker::allow()` + verdict in Closed
//! (both modes), `call`, and iterating a `Backoff` with jitter. A counting global allocator in
//! its own test binary, counting only on the measuring thread.

use std::time::Duration;

use backpressure::{Backoff, CircuitBreaker, Jitter};

mod support;
use support::allocations_in as allocations;

#[global_allocator]
static GLOBAL: support::CountingAlloc = support::CountingAlloc;

#[test]
fn client_hot_paths_allocate_nothing() {
    let (clock, _mock) = quanta::Clock::mock();
    let consecutive = CircuitBreaker::builder().failure_threshold(1_000).clock(clock.clone()).build().unwrap();
    let windowed = CircuitBreaker::builder().failure_rate(0.9, 100, 50).clock(clock).build().unwrap();
    let mut backoff =
        Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1)).jitter(Jitter::Full).seed(1);
    let mut decorrelated =
        Backoff::exponential(Duration::from_millis(1), Duration::from_secs(1)).jitter(Jitter::Decorrelated).seed(2);
    assert_eq!(allocations(|| drop(Box::new(1u8))), 1, "the counter counts");
    // Warm up anything lazily initialised (the clock, thread locals).
    consecutive.allow().unwrap().success();
    windowed.allow().unwrap().success();
    backoff.next();

    let n = allocations(|| {
        for i in 0..10_000u32 {
            consecutive.allow().unwrap().success();
            windowed.allow().unwrap().success();
            if i % 10 == 0 {
                consecutive.allow().unwrap().failure(); // below the threshold: stays Closed
                windowed.allow().unwrap().failure(); // 10% < 90%: stays Closed
            }
            drop(consecutive.allow().unwrap());
            let _ = consecutive.call(|| Ok::<_, ()>(i));
        }
    });
    assert_eq!(n, 0, "breaker hot path allocated {n} times");
    assert_eq!(consecutive.state(), backpressure::BreakerState::Closed);

    let n = allocations(|| {
        for _ in 0..10_000 {
            backoff.next().unwrap();
            decorrelated.next().unwrap();
        }
    });
    assert_eq!(n, 0, "backoff iteration allocated {n} times");
}
