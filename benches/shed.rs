//! `LoadShedder` against the bare atomic floor, and `Semaphore` against mutex + condvar
//! semaphores, uncontended and contended. Peers share a group, so the ratio is the result:
//! `cargo bench --bench shed -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use backpressure::{LoadShedder, Priority, PriorityShedder, Semaphore};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Runs `op` `iters` times in total, split across `threads` threads started together, and
/// returns the wall time: with `iters` operations that is the time per operation.
fn split_across(threads: usize, iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        return start.elapsed();
    }
    let barrier = Barrier::new(threads + 1);
    let per_thread = iters.div_ceil(threads as u64);
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..per_thread {
                    op();
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins every thread before returning.
        start
    })
    .elapsed()
}

fn shedder(c: &mut Criterion) {
    let mut group = c.benchmark_group("shed_acquire_release");
    for threads in [1usize, 2] {
        let floor = AtomicUsize::new(0);
        group.bench_function(BenchmarkId::new("fetch_add_fetch_sub", threads), |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    black_box(floor.fetch_add(1, Ordering::Acquire));
                    floor.fetch_sub(1, Ordering::Release);
                })
            })
        });
        let shedder = LoadShedder::new(1024);
        group.bench_function(BenchmarkId::new("LoadShedder", threads), |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    drop(black_box(shedder.try_acquire()));
                })
            })
        });
        let priority = PriorityShedder::new(1024);
        group.bench_function(BenchmarkId::new("PriorityShedder", threads), |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    drop(black_box(priority.try_acquire(Priority::Normal)));
                })
            })
        });
    }
    group.finish();
}

/// The classic semaphore: a counter under a mutex, waiters on a condvar.
struct PlSemaphore {
    permits: parking_lot::Mutex<usize>,
    cv: parking_lot::Condvar,
}

impl PlSemaphore {
    fn acquire(&self) {
        let mut permits = self.permits.lock();
        while *permits == 0 {
            self.cv.wait(&mut permits);
        }
        *permits -= 1;
    }
    fn release(&self) {
        *self.permits.lock() += 1;
        self.cv.notify_one();
    }
}

struct StdSemaphore {
    permits: std::sync::Mutex<usize>,
    cv: std::sync::Condvar,
}

impl StdSemaphore {
    fn acquire(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.cv.wait(permits).unwrap();
        }
        *permits -= 1;
    }
    fn release(&self) {
        *self.permits.lock().unwrap() += 1;
        self.cv.notify_one();
    }
}

/// A little work inside the permit, so contention is about the semaphore, not a tight loop.
#[inline]
fn critical_section() {
    for i in 0..16u32 {
        black_box(i);
    }
}

fn semaphore(c: &mut Criterion) {
    // (threads, permits): uncontended = one thread; contended = 4 threads for 2 permits on a
    // 2-core machine, so waiters really park.
    for (name, threads, permits) in [("semaphore_uncontended", 1usize, 4usize), ("semaphore_contended", 4, 2)] {
        let mut group = c.benchmark_group(name);
        let ours = Semaphore::new(permits);
        group.bench_function("backpressure::Semaphore", |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    let _permit = ours.acquire().unwrap();
                    critical_section();
                })
            })
        });
        let pl = PlSemaphore { permits: parking_lot::Mutex::new(permits), cv: parking_lot::Condvar::new() };
        group.bench_function("parking_lot_mutex_condvar", |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    pl.acquire();
                    critical_section();
                    pl.release();
                })
            })
        });
        let std_sem = StdSemaphore { permits: std::sync::Mutex::new(permits), cv: std::sync::Condvar::new() };
        group.bench_function("std_mutex_condvar", |b| {
            b.iter_custom(|iters| {
                split_across(threads, iters, &|| {
                    std_sem.acquire();
                    critical_section();
                    std_sem.release();
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, shedder, semaphore);
criterion_main!(benches);
