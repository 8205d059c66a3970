//! Blocking hand-off: `BoundedQueue::submit` / `recv` against `crossbeam_channel::bounded`
//! and `std::sync::mpsc::sync_channel` (single consumer only), capacity 1024, 1P/1C, 2P/2C,
//! 4P/4C. For the one-CPU case run the same bench under `taskset -c 0` (see BENCHMARKS.md);
//! `benches/queue_cpu.rs` adds CPU time per item.

use backpressure::BoundedQueue;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{scaled, transfer, CAPACITY, CONFIGS};

fn blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_blocking");
    group.throughput(Throughput::Elements(1));
    for &(p, cons) in CONFIGS {
        let id = format!("{p}p{cons}c");
        group.bench_function(BenchmarkId::new("backpressure::BoundedQueue", &id), |b| {
            b.iter_custom(|iters| {
                scaled(iters, |items| {
                    let q = BoundedQueue::new(CAPACITY);
                    transfer(&q, p, cons, items, |q, i| q.submit(i).unwrap(), |q| q.recv().unwrap())
                })
            })
        });
        group.bench_function(BenchmarkId::new("crossbeam_channel::bounded", &id), |b| {
            b.iter_custom(|iters| {
                scaled(iters, |items| {
                    let q = crossbeam_channel::bounded(CAPACITY);
                    transfer(&q, p, cons, items, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.recv().unwrap())
                })
            })
        });
        if cons == 1 {
            group.bench_function(BenchmarkId::new("std::mpsc::sync_channel", &id), |b| {
                b.iter_custom(|iters| {
                    scaled(iters, |items| {
                        let (tx, rx) = mpsc::sync_channel(CAPACITY);
                        let q = (tx, Mutex::new(rx)); // the Mutex is uncontended: one consumer
                        transfer(
                            &q,
                            p,
                            cons,
                            items,
                            |(tx, _), i| tx.send(i).unwrap(),
                            |(_, rx)| rx.lock().unwrap().recv().unwrap(),
                        )
                    })
                })
            });
        }
    }
    group.finish();
}

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_uncontended_submit_recv");
    let q = BoundedQueue::new(CAPACITY);
    group.bench_function("backpressure::BoundedQueue try", |b| {
        b.iter(|| {
            q.try_submit(std::hint::black_box(1u64)).unwrap();
            q.try_recv().unwrap()
        })
    });
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
    group.bench_function("crossbeam_channel::bounded try", |b| {
        b.iter(|| {
            tx.try_send(std::hint::black_box(1u64)).unwrap();
            rx.try_recv().unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = uncontended, blocking
}
criterion_main!(benches);
