//! Wall time *and CPU time* per item for the blocking hand-off, `BoundedQueue` vs
//! `crossbeam_channel::bounded` vs `std::sync::mpsc::sync_channel`, at capacity 1024 and at
//! capacity 1 (every item a hand-off between a waiting producer and a waiting consumer: the
//! case where a queue's wake-up costs show most).
//!
//! Criterion measures wall time only; a queue whose waiters spin can look fast while burning
//! both cores. This harness adds up the CPU time each producer and consumer thread used (from
//! `/proc/thread-self/schedstat`, nanosecond accounting) and prints wall and CPU time per item,
//! median of 7 interleaved runs, with our ratio to crossbeam.
//!
//! ```text
//! cargo bench --bench queue_cpu                  # all configurations
//! cargo bench --bench queue_cpu -- /1/           # capacity 1 only (filters on ids like `4p4c/1024/`)
//! taskset -c 0 cargo bench --bench queue_cpu     # the whole process on one CPU
//! ```

use backpressure::BoundedQueue;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use std::sync::atomic::Ordering;
use support::{transfer, CAPACITY, CONFIGS, WORKER_CPU_NANOS};

/// (capacity, items per run): capacity 1 moves fewer items, each one is a full hand-off.
const SIZES: &[(usize, u64)] = &[(CAPACITY, 2_000_000), (1, 200_000), (8, 500_000)];
const RUNS: usize = 7;

/// One run's (wall, cpu) nanoseconds per item.
fn once(run: &mut dyn FnMut() -> Duration, items: u64) -> (f64, f64) {
    let cpu_before = WORKER_CPU_NANOS.load(Ordering::Relaxed);
    let wall = run();
    let cpu = WORKER_CPU_NANOS.load(Ordering::Relaxed) - cpu_before;
    (wall.as_nanos() as f64 / items as f64, cpu as f64 / items as f64)
}

/// Runs every contender `RUNS` times, interleaved (round `r` starts with contender `r mod n`),
/// so a drift in the machine's speed hits all of them alike; returns each one's median
/// (wall, cpu) per item.
fn measure(runs: &mut [&mut dyn FnMut() -> Duration], items: u64) -> Vec<(f64, f64)> {
    let n = runs.len();
    let mut samples = vec![Vec::new(); n];
    for round in 0..RUNS {
        for k in 0..n {
            let which = (round + k) % n;
            samples[which].push(once(runs[which], items));
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
    println!("blocking hand-off, median of {RUNS} interleaved runs; {cpus} CPU(s) available");
    println!(
        "{:<6} {:>5} {:<28} {:>12} {:>12} {:>10} {:>10}",
        "config", "cap", "queue", "wall ns/it", "cpu ns/it", "wall ×cb", "cpu ×cb"
    );
    // An optional filter, as for criterion benches: `-- /1/` runs capacity 1 only, `-- 4p4c` one config.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    for &(capacity, items) in SIZES {
        for &(p, c) in CONFIGS {
            if format!("{p}p{c}c/{capacity}/").contains(&filter) {
                report(capacity, items, p, c);
            }
        }
    }
}

/// Measures and prints one configuration: `p` producers, `c` consumers, `items` in all.
fn report(capacity: usize, items: u64, p: usize, c: usize) {
    let id = format!("{p}p{c}c");
    let mut ours = || {
        let q = BoundedQueue::new(capacity);
        transfer(&q, p, c, items, |q, i| q.submit(i).unwrap(), |q| q.recv().unwrap())
    };
    let mut crossbeam = || {
        let q = crossbeam_channel::bounded(capacity);
        transfer(&q, p, c, items, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.recv().unwrap())
    };
    // std's receiver is single-consumer: measured at 1 consumer only.
    let mut std = || {
        let (tx, rx) = mpsc::sync_channel(capacity);
        let q = (tx, Mutex::new(rx));
        transfer(&q, p, c, items, |(tx, _), i| tx.send(i).unwrap(), |(_, rx)| rx.lock().unwrap().recv().unwrap())
    };
    // QUEUE_CPU_ONLY=ours (or =cb) runs one contender alone, for profilers; no ratios then.
    if let Ok(only) = std::env::var("QUEUE_CPU_ONLY") {
        let run: &mut dyn FnMut() -> Duration = if only == "cb" { &mut crossbeam } else { &mut ours };
        let (wall, cpu) = measure(&mut [run], items)[0];
        println!("{id:<6} {capacity:>5} {only:<28} {wall:>12.1} {cpu:>12.1}");
        return;
    }
    let results = if c == 1 {
        measure(&mut [&mut ours, &mut crossbeam, &mut std], items)
    } else {
        measure(&mut [&mut ours, &mut crossbeam], items)
    };
    let cb = results[1];
    let names = ["backpressure::BoundedQueue", "crossbeam_channel::bounded", "std::mpsc::sync_channel"];
    for (name, (wall, cpu)) in names.iter().zip(results) {
        println!(
            "{id:<6} {capacity:>5} {name:<28} {wall:>12.1} {cpu:>12.1} {:>10.2} {:>10.2}",
            wall / cb.0,
            cpu / cb.1.max(f64::MIN_POSITIVE)
        );
    }
}
