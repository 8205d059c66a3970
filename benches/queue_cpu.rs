//! Wall time *and CPU time* per item for the blocking hand-off, `BoundedQueue` vs
//! `crossbeam_channel::bounded` vs `std::sync::mpsc::sync_channel`, capacity 1024.
//!
//! Criterion measures wall time only; a queue whose waiters spin can look fast while burning
//! both cores. This harness adds up the CPU time each producer and consumer thread used (from
//! `/proc/thread-self/schedstat`, nanosecond accounting) and prints wall and CPU time per item,
//! median of 5 runs, with our ratio to crossbeam.
//!
//! ```text
//! cargo bench --bench queue_cpu                  # all configurations
//! taskset -c 0 cargo bench --bench queue_cpu     # the whole process on one CPU
//! ```

use backpressure::BoundedQueue;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use std::sync::atomic::Ordering;
use support::{transfer, CAPACITY, CONFIGS, WORKER_CPU_NANOS};

const ITEMS: u64 = 2_000_000;
const RUNS: usize = 5;

/// Median (wall, cpu) per item over `RUNS` runs of `run`.
fn measure(mut run: impl FnMut() -> Duration) -> (f64, f64) {
    let mut samples: Vec<(f64, f64)> = (0..RUNS)
        .map(|_| {
            let cpu_before = WORKER_CPU_NANOS.load(Ordering::Relaxed);
            let wall = run();
            let cpu = WORKER_CPU_NANOS.load(Ordering::Relaxed) - cpu_before;
            (wall.as_nanos() as f64 / ITEMS as f64, cpu as f64 / ITEMS as f64)
        })
        .collect();
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    samples[RUNS / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` compatibility
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("blocking hand-off, capacity {CAPACITY}, {ITEMS} items, median of {RUNS}; {cpus} CPU(s) available");
    println!(
        "{:<6} {:<28} {:>12} {:>12} {:>10} {:>10}",
        "config", "queue", "wall ns/it", "cpu ns/it", "wall ×cb", "cpu ×cb"
    );
    for &(p, c) in CONFIGS {
        let id = format!("{p}p{c}c");
        let ours = measure(|| {
            let q = BoundedQueue::new(CAPACITY);
            transfer(&q, p, c, ITEMS, |q, i| q.submit(i).unwrap(), |q| q.recv().unwrap())
        });
        let crossbeam = measure(|| {
            let q = crossbeam_channel::bounded(CAPACITY);
            transfer(&q, p, c, ITEMS, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.recv().unwrap())
        });
        let row = |name: &str, (wall, cpu): (f64, f64)| {
            println!(
                "{id:<6} {name:<28} {wall:>12.1} {cpu:>12.1} {:>10.2} {:>10.2}",
                wall / crossbeam.0,
                cpu / crossbeam.1.max(f64::MIN_POSITIVE)
            );
        };
        row("backpressure::BoundedQueue", ours);
        row("crossbeam_channel::bounded", crossbeam);
        if c == 1 {
            let std = measure(|| {
                let (tx, rx) = mpsc::sync_channel(CAPACITY);
                let q = (tx, Mutex::new(rx));
                transfer(
                    &q,
                    p,
                    c,
                    ITEMS,
                    |(tx, _), i| tx.send(i).unwrap(),
                    |(_, rx)| rx.lock().unwrap().recv().unwrap(),
                )
            });
            row("std::mpsc::sync_channel", std);
        }
    }
}
