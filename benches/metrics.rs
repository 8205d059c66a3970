//! Cost of wait-time recording on the queue's hot path: uncontended `try_submit` + `try_recv`
//! on one thread, with recording off (`wait_sampling(0)`, a bare queue's default: the ring
//! holds bare items), sampled 1 in 128 (a `Processor`'s default) or 1 in 32, and on every
//! item (`wait_sampling(1)`, a clock read on each side), plus the bare `Ring` as the floor and
//! `crossbeam_queue::ArrayQueue` as a peer. The ratio sampled(128)/off is the result
//! (target: ≤ 1.15).

use backpressure::{BoundedQueue, Ring};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn queue(sampling: u32) -> BoundedQueue<u64> {
    BoundedQueue::builder(1024).wait_sampling(sampling).build().unwrap()
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_overhead_try_submit_try_recv");
    for (label, sampling) in [
        ("wait_sampling(0) off (BoundedQueue default)", 0),
        ("wait_sampling(128) (Processor default)", 128),
        ("wait_sampling(32)", 32),
        ("wait_sampling(1) every item", 1),
    ] {
        let q = queue(sampling);
        group.bench_function(label, |b| {
            b.iter(|| {
                q.try_submit(black_box(1u64)).unwrap();
                q.try_recv().unwrap()
            })
        });
    }
    for sampling in [128, 1] {
        let q: BoundedQueue<u64> =
            BoundedQueue::builder(1024).wait_sampling(sampling).clock(quanta::Clock::new()).build().unwrap();
        group.bench_function(format!("wait_sampling({sampling}) quanta clock"), |b| {
            b.iter(|| {
                q.try_submit(black_box(1u64)).unwrap();
                q.try_recv().unwrap()
            })
        });
    }
    let ring = Ring::new(1024);
    group.bench_function("Ring (floor, no waking, no stats)", |b| {
        b.iter(|| {
            ring.try_push(black_box(1u64)).unwrap();
            ring.try_pop().unwrap()
        })
    });
    let peer = crossbeam_queue::ArrayQueue::new(1024);
    group.bench_function("crossbeam_queue::ArrayQueue (peer)", |b| {
        b.iter(|| {
            peer.push(black_box(1u64)).unwrap();
            peer.pop().unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = overhead
}
criterion_main!(benches);
