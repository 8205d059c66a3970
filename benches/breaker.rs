//! `allow()` + `success()` on a Closed breaker: the lock-free `CircuitBreaker` (both trip
//! modes) against a `Mutex`-guarded breaker shaped like the seed's Go version, on 1 and 2
//! threads, in one criterion group so the ratios come from the same run.
//!
//! Two-thread figures are the time for one call on *each* thread (both threads run the same
//! number of calls at once; the slower thread's time is reported).

use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use backpressure::CircuitBreaker;
use criterion::{criterion_group, criterion_main, Criterion};

/// The seed's breaker: every call takes the lock.
struct MutexBreaker {
    inner: Mutex<Inner>,
}

struct Inner {
    failures: u64,
    threshold: u64,
    reset_after: Duration,
    last_failure: Instant,
}

impl MutexBreaker {
    fn new(threshold: u64, reset_after: Duration) -> Self {
        Self { inner: Mutex::new(Inner { failures: 0, threshold, reset_after, last_failure: Instant::now() }) }
    }

    fn allow(&self) -> bool {
        let mut inner = self.inner.lock().unwrap();
        if inner.failures >= inner.threshold {
            if inner.last_failure.elapsed() > inner.reset_after {
                inner.failures = 0;
                return true;
            }
            return false;
        }
        true
    }

    fn record_success(&self) {
        self.inner.lock().unwrap().failures = 0;
    }
}

trait Subject: Sync {
    fn call_ok(&self);
}

impl Subject for CircuitBreaker {
    #[inline]
    fn call_ok(&self) {
        black_box(self).allow().expect("closed").success();
    }
}

impl Subject for MutexBreaker {
    #[inline]
    fn call_ok(&self) {
        if black_box(self).allow() {
            self.record_success();
        }
    }
}

/// `iters` calls on each of `threads` threads at once; the slowest thread's time.
fn run_threads(subject: &dyn Subject, threads: usize, iters: u64) -> Duration {
    let start = Barrier::new(threads);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        subject.call_ok();
                    }
                    t0.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    })
}

fn closed_allow_success(c: &mut Criterion) {
    let open_for = Duration::from_secs(30);
    let consecutive = CircuitBreaker::new(5, open_for);
    let windowed = CircuitBreaker::builder().failure_rate(0.5, 100, 20).open_for(open_for).build().unwrap();
    let mutex = MutexBreaker::new(5, open_for);
    let subjects: [(&str, &dyn Subject); 3] =
        [("lock-free", &consecutive), ("lock-free-rate-window", &windowed), ("mutex-seed", &mutex)];

    let mut group = c.benchmark_group("breaker_closed_allow_success");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    for threads in [1, 2] {
        for (name, subject) in subjects {
            group.bench_function(format!("{name}/{threads}t"), |b| {
                if threads == 1 {
                    b.iter(|| subject.call_ok());
                } else {
                    b.iter_custom(|iters| run_threads(subject, threads, iters));
                }
            });
        }
    }
    group.finish();
}

criterion_group!(benches, closed_allow_success);
criterion_main!(benches);
