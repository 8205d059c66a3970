//! `try_acquire` (passing and refused), `try_acquire_n` and the adaptive records allocate
//! nothing: a counting global allocator sees no allocation during them. The count is per
//! thread, so the test harness and other tests running beside it are not counted.

use backpressure::{AdaptiveRateLimiter, TokenBucket};

mod support;
use support::allocations_in as allocations_during;

#[global_allocator]
static GLOBAL: support::CountingAlloc = support::CountingAlloc;

#[test]
fn try_acquire_allocates_nothing_passing_or_refused() {
    for clock in [quanta::Clock::new(), quanta::Clock::mock().0] {
        let bucket = TokenBucket::builder(1e6, 1000).clock(clock).build().unwrap();
        bucket.try_acquire().unwrap(); // any lazy set-up happens here
        let (mut passed, mut refused) = (0, 0);
        let allocated = allocations_during(|| {
            for _ in 0..100_000 {
                match bucket.try_acquire() {
                    Ok(()) => passed += 1,
                    Err(limited) => {
                        std::hint::black_box(limited.retry_after());
                        refused += 1;
                    }
                }
                let _ = std::hint::black_box(bucket.try_acquire_n(3));
            }
        });
        assert_eq!(allocated, 0);
        assert!(passed > 0 && refused > 0, "both paths ran: {passed} passed, {refused} refused");
    }
}

#[test]
fn adaptive_records_and_set_rate_allocate_nothing() {
    let limiter = AdaptiveRateLimiter::new(TokenBucket::new(1e4, 10));
    let allocated = allocations_during(|| {
        for i in 0..10_000 {
            if i % 3 == 0 {
                limiter.record_error();
            } else {
                limiter.record_success();
            }
            let _ = limiter.try_acquire();
        }
        limiter.bucket().set_rate(5e3);
    });
    assert_eq!(allocated, 0);
}
