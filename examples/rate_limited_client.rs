//! Several worker threads call a slow, sometimes failing "external service" through an
//! [`AdaptiveRateLimiter`]. The service starts to fail when it is called more than ~300 times a
//! second; the limiter cuts its rate on each failure and creeps back up on success, so it
//! settles near what the service can take.
//!
//! `cargo run --release --example rate_limited_client`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use backpressure::{AdaptiveRateLimiter, TokenBucket};

/// A stand-in for a remote service: 2 ms per call, and when called faster than `capacity` per
/// second (measured over the last 100 ms), most calls fail as an overloaded server's would.
struct Service {
    capacity: f64,
    window: Mutex<(Instant, u64)>,
}

impl Service {
    fn call(&self, seed: u64) -> Result<(), &'static str> {
        thread::sleep(Duration::from_millis(2)); // injected latency
        let load = {
            let mut window = self.window.lock().unwrap();
            if window.0.elapsed() > Duration::from_millis(100) {
                *window = (Instant::now(), 0);
            }
            window.1 += 1;
            window.1 as f64 / 0.1
        };
        let overloaded = load > self.capacity && seed % 4 != 0;
        let random_failure = seed % 97 == 0; // 1% of calls fail anyway
        if overloaded || random_failure {
            Err("503 Service Unavailable")
        } else {
            Ok(())
        }
    }
}

fn main() {
    let service = Service { capacity: 300.0, window: Mutex::new((Instant::now(), 0)) };
    let limiter = AdaptiveRateLimiter::builder(TokenBucket::new(1000.0, 20)).min_rate(50.0).build().unwrap();
    let (calls, errors) = (AtomicU64::new(0), AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    println!(
        "base rate {}/s, floor {}/s, service capacity ~{}/s",
        limiter.base_rate(),
        limiter.min_rate(),
        service.capacity
    );

    thread::scope(|s| {
        for worker in 0..8u64 {
            let (limiter, service, calls, errors, stop) = (&limiter, &service, &calls, &errors, &stop);
            s.spawn(move || {
                let mut seed = worker * 7_919;
                while !stop.load(Ordering::Relaxed) {
                    limiter.acquire(); // sleeps until this worker's token is due
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    calls.fetch_add(1, Ordering::Relaxed);
                    match service.call(seed >> 33) {
                        Ok(()) => limiter.record_success(),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            limiter.record_error();
                        }
                    }
                }
            });
        }
        let mut last = (0, 0);
        for second in 1..=5 {
            thread::sleep(Duration::from_secs(1));
            let (c, e) = (calls.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
            println!(
                "t={second}s  rate {:7.1}/s  calls {:4}/s  errors {:4}/s",
                limiter.current_rate(),
                c - last.0,
                e - last.1
            );
            last = (c, e);
        }
        stop.store(true, Ordering::Relaxed);
    });
    println!("settled at {:.1}/s after {} calls", limiter.current_rate(), calls.load(Ordering::Relaxed));
}
