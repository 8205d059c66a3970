//! `try_acquire` on the pass path (a bucket that always has tokens) and the reject path (an
//! empty one), 1 and 2 threads, against `governor`'s direct limiter `check()` and a
//! mutex-guarded bucket in the style of Go's `x/time/rate`, in the same criterion groups; plus
//! the clock reads, to see their share. The ratio within a group is the result.
//!
//! `cargo bench --bench rate -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use backpressure::TokenBucket;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use governor::{Quota, RateLimiter};

/// Go's `x/time/rate` design: the bucket's fields behind one mutex, refilled on each call.
struct MutexBucket {
    clock: quanta::Clock,
    rate_per_ns: f64,
    burst: f64,
    state: parking_lot::Mutex<(f64, u64)>, // (tokens, last refill in clock nanoseconds)
}

impl MutexBucket {
    fn new(rate_per_sec: f64, burst: u32, full: bool) -> Self {
        let clock = quanta::Clock::new();
        let now = clock.delta_as_nanos(0, clock.raw());
        let tokens = if full { f64::from(burst) } else { 0.0 };
        Self {
            clock,
            rate_per_ns: rate_per_sec / 1e9,
            burst: f64::from(burst),
            state: parking_lot::Mutex::new((tokens, now)),
        }
    }

    fn try_acquire(&self) -> Result<(), Duration> {
        let now = self.clock.delta_as_nanos(0, self.clock.raw());
        let mut state = self.state.lock();
        let elapsed = now.saturating_sub(state.1) as f64;
        let tokens = (state.0 + elapsed * self.rate_per_ns).min(self.burst);
        state.1 = state.1.max(now);
        if tokens >= 1.0 {
            state.0 = tokens - 1.0;
            Ok(())
        } else {
            state.0 = tokens;
            Err(Duration::from_nanos(((1.0 - tokens) / self.rate_per_ns) as u64))
        }
    }
}

/// Runs `op` `iters` times on each of `threads` threads at once; the time per call per thread.
fn on_threads(threads: usize, iters: u64, op: &(impl Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    let times: Vec<Duration> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    times.into_iter().max().unwrap()
}

fn contenders(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, threads: usize, pass: bool) {
    let ours = if pass {
        TokenBucket::new(1e9, 1_000_000_000) // a token per nanosecond and a huge burst: never empty
    } else {
        let bucket = TokenBucket::new(1e-6, 1); // one token per 11.6 days, taken at once
        bucket.try_acquire().unwrap();
        bucket
    };
    let max = NonZeroU32::MAX;
    let governor = if pass {
        RateLimiter::direct(Quota::per_second(max).allow_burst(max))
    } else {
        let limiter = RateLimiter::direct(Quota::per_hour(NonZeroU32::MIN));
        limiter.check().unwrap();
        limiter
    };
    let mutex = if pass { MutexBucket::new(1e9, 1_000_000_000, true) } else { MutexBucket::new(1e-6, 1, false) };

    group.bench_function("backpressure::TokenBucket", |b| {
        b.iter_custom(|iters| {
            on_threads(threads, iters, &|| {
                let _ = black_box(ours.try_acquire());
            })
        })
    });
    group.bench_function("governor check()", |b| {
        b.iter_custom(|iters| {
            on_threads(threads, iters, &|| {
                let _ = black_box(governor.check());
            })
        })
    });
    group.bench_function("Mutex bucket (Go x/time/rate)", |b| {
        b.iter_custom(|iters| {
            on_threads(threads, iters, &|| {
                let _ = black_box(mutex.try_acquire());
            })
        })
    });
}

fn try_acquire(c: &mut Criterion) {
    for (path, pass) in [("pass", true), ("reject", false)] {
        for threads in [1, 2] {
            let mut group = c.benchmark_group(format!("rate/try_acquire/{path}/{threads}t"));
            contenders(&mut group, threads, pass);
            group.finish();
        }
    }
}

fn clock_reads(c: &mut Criterion) {
    let clock = quanta::Clock::new();
    let mut group = c.benchmark_group("rate/clock");
    group.bench_function("quanta raw() (what TokenBucket reads)", |b| b.iter(|| black_box(clock.raw())));
    group.bench_function("quanta raw()+delta_as_nanos (what governor reads)", |b| {
        b.iter(|| black_box(clock.delta_as_nanos(0, clock.raw())))
    });
    group.bench_function("quanta now()", |b| b.iter(|| black_box(clock.now())));
    group.bench_function("quanta recent()", |b| b.iter(|| black_box(clock.recent())));
    group.bench_function("std Instant::now()", |b| b.iter(|| black_box(Instant::now())));
    group.finish();
}

criterion_group!(benches, try_acquire, clock_reads);
criterion_main!(benches);
