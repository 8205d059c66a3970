//! Real-clock accuracy: 4 threads hammering a 10,000/s bucket with burst 100 for 1 s. Alone in
//! its binary so no other test competes for the 2 cores. It counts grants; it times nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use backpressure::TokenBucket;

mod support;
use support::with_watchdog;

#[test]
fn four_threads_hammering_10k_per_second_for_one_second_get_10k_plus_burst() {
    with_watchdog(|| {
        let clock = quanta::Clock::new();
        let start = clock.now(); // before the bucket's origin: covers every token it earns
        let bucket = TokenBucket::builder(10_000.0, 100).clock(clock.clone()).build().unwrap();
        let granted = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut mine = 0;
                    while clock.now().duration_since(start) < Duration::from_secs(1) {
                        if bucket.try_acquire().is_ok() {
                            mine += 1;
                        }
                    }
                    granted.fetch_add(mine, Ordering::Relaxed);
                });
            }
        });
        let granted = granted.load(Ordering::Relaxed);
        // The invariant: never more than burst + rate·t over the whole run, `t` measured after
        // the last attempt (a thread preempted between its loop check and `try_acquire` may
        // take a token a little after the 1 s mark).
        let t = clock.now().duration_since(start).as_secs_f64();
        println!("granted {granted} in {t:.6} s");
        assert!(granted as f64 <= 100.0 + 10_000.0 * t + 1.0, "granted {granted} > burst + rate·t ({t} s)");
        // The band, 10,000..=10,100, with 50 tokens above for that late last attempt.
        // Below, the shortfall is demand that was not there: on a shared 2-core machine all
        // four threads can be descheduled for longer than the burst (10 ms) covers, and those
        // tokens expire unasked. 10% is far outside any rounding error and far inside what a
        // shared CI machine can steal (a 1% bound failed once under load); the exact-count
        // guarantees are pinned with the mock clock in `rate_exact.rs`.
        assert!((9_000..=10_150).contains(&granted), "granted {granted}");
    });
}
