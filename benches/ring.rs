//! `Ring::try_push` / `try_pop` against `crossbeam_queue::ArrayQueue`, both retried with
//! `yield_now` when full or empty, capacity 1024, 1P/1C, 2P/2C, 4P/4C.

use backpressure::Ring;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use std::thread::yield_now;
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{scaled, transfer, CAPACITY, CONFIGS};

fn ring_vs_array_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    for &(p, cons) in CONFIGS {
        let id = format!("{p}p{cons}c");
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("backpressure::Ring", &id), |b| {
            b.iter_custom(|iters| {
                scaled(iters, |items| {
                    let ring = Ring::new(CAPACITY);
                    transfer(
                        &ring,
                        p,
                        cons,
                        items,
                        |r, mut i| {
                            while let Err(back) = r.try_push(i) {
                                i = back;
                                yield_now();
                            }
                        },
                        |r| loop {
                            if let Some(v) = r.try_pop() {
                                return v;
                            }
                            yield_now();
                        },
                    )
                })
            })
        });
        group.bench_function(BenchmarkId::new("crossbeam::ArrayQueue", &id), |b| {
            b.iter_custom(|iters| {
                scaled(iters, |items| {
                    let q = ArrayQueue::new(CAPACITY);
                    transfer(
                        &q,
                        p,
                        cons,
                        items,
                        |q, mut i| {
                            while let Err(back) = q.push(i) {
                                i = back;
                                yield_now();
                            }
                        },
                        |q| loop {
                            if let Some(v) = q.pop() {
                                return v;
                            }
                            yield_now();
                        },
                    )
                })
            })
        });
    }
    group.finish();
}

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_uncontended_push_pop");
    let ring = Ring::new(CAPACITY);
    group.bench_function("backpressure::Ring", |b| {
        b.iter(|| {
            ring.try_push(std::hint::black_box(1u64)).unwrap();
            ring.try_pop().unwrap()
        })
    });
    let q = ArrayQueue::new(CAPACITY);
    group.bench_function("crossbeam::ArrayQueue", |b| {
        b.iter(|| {
            q.push(std::hint::black_box(1u64)).unwrap();
            q.pop().unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = uncontended, ring_vs_array_queue
}
criterion_main!(benches);
