//! Wall time *and CPU time* per item for the blocking hand-off, `BoundedQueue` vs
//! `crossbeam_channel::bounded` vs `std::sync::mpsc::sync_channel`, capacity 1024.
//!
//! Criterion measures wall time only; a queue whose waiters spin can look fast while burning
//! both cores. This harness adds up the CPU time each producer and consumer thread used (from
//! `/proc/thread-self/schedstat`, nanosecond accounting) and prints wall and CPU time per item,
//! median of 7 interleaved runs, with our ratio to crossbeam.
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
const RUNS: usize = 7;

/// One run's (wall, cpu) nanoseconds per item.
fn once(run: &mut dyn FnMut() -> Duration) -> (f64, f64) {
    let cpu_before = WORKER_CPU_NANOS.load(Ordering::Relaxed);
    let wall = run();
    let cpu = WORKER_CPU_NANOS.load(Ordering::Relaxed) - cpu_before;
    (wall.as_nanos() as f64 / ITEMS as f64, cpu as f64 / ITEMS as f64)
}

/// Runs every contender `RUNS` times, interleaved (round `r` starts with contender `r mod n`),
/// so a drift in the machine's speed hits all of them alike; returns each one's median
/// (wall, cpu) per item.
fn measure(runs: &mut [&mut dyn FnMut() -> Duration]) -> Vec<(f64, f64)> {
    let n = runs.len();
    let mut samples = vec![Vec::new(); n];
    for round in 0..RUNS {
        for k in 0..n {
            let which = (round + k) % n;
            samples[which].push(once(runs[which]));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    samples
        .into_iter()
        .map(|s| {
            let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = s.into_iter().unzip();
            (median(&mut wall), median(&mut cpu))
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` compatibility
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("blocking hand-off, capacity {CAPACITY}, {ITEMS} items, median of {RUNS} interleaved runs; {cpus} CPU(s) available");
    println!(
        "{:<6} {:<28} {:>12} {:>12} {:>10} {:>10}",
        "config", "queue", "wall ns/it", "cpu ns/it", "wall ×cb", "cpu ×cb"
    );
    for &(p, c) in CONFIGS {
        let id = format!("{p}p{c}c");
        let mut ours = || {
            let q = BoundedQueue::new(CAPACITY);
            transfer(&q, p, c, ITEMS, |q, i| q.submit(i).unwrap(), |q| q.recv().unwrap())
        };
        let mut crossbeam = || {
            let q = crossbeam_channel::bounded(CAPACITY);
            transfer(&q, p, c, ITEMS, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.recv().unwrap())
        };
        // std's receiver is single-consumer: measured at 1 consumer only.
        let mut std = || {
            let (tx, rx) = mpsc::sync_channel(CAPACITY);
            let q = (tx, Mutex::new(rx));
            transfer(&q, p, c, ITEMS, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.lock().unwrap().recv().unwrap())
        };
        let results = if c == 1 {
            measure(&mut [&mut ours, &mut crossbeam, &mut std])
        } else {
            measure(&mut [&mut ours, &mut crossbeam])
        };
        let cb = results[1];
        let names = ["backpressure::BoundedQueue", "crossbeam_channel::bounded", "std::mpsc::sync_channel"];
        for (name, (wall, cpu)) in names.iter().zip(results) {
            println!(
                "{id:<6} {name:<28} {wall:>12.1} {cpu:>12.1} {:>10.2} {:>10.2}",
                wall / cb.0,
                cpu / cb.1.max(f64::MIN_POSITIVE)
            );
        }
    }
}
