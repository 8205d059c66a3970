//! Paired, interleaved runs of `Ring` against `crossbeam_queue::ArrayQueue` (both retried with
//! `yield_now` when full/empty, capacity 1024): each round runs both back to back, alternating
//! which goes first, and the ratio is taken *within the round*. On a shared VM whose speed
//! drifts over seconds, the median of per-round ratios is far steadier than two criterion
//! groups measured a minute apart.
//!
//! ```text
//! cargo bench --bench ring_pairs            # 1P/1C, 2P/2C, 4P/4C
//! cargo bench --bench ring_pairs -- 2p2c    # one configuration
//! ```

use backpressure::Ring;
use crossbeam_queue::ArrayQueue;
use std::thread::yield_now;
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{transfer, CAPACITY, CONFIGS};

const ITEMS: u64 = 1_000_000;
const ROUNDS: usize = 21;

fn ours(p: usize, c: usize) -> Duration {
    let ring = Ring::new(CAPACITY);
    transfer(
        &ring,
        p,
        c,
        ITEMS,
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
}

fn theirs(p: usize, c: usize) -> Duration {
    let q = ArrayQueue::new(CAPACITY);
    transfer(
        &q,
        p,
        c,
        ITEMS,
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
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("Ring vs ArrayQueue, {ITEMS} items per run, {ROUNDS} paired rounds; ratio = ours / ArrayQueue");
    println!("{:<6} {:>10} {:>10} {:>8} {:>8} {:>8}", "config", "ours ns", "AQ ns", "q25", "median", "q75");
    for &(p, c) in CONFIGS {
        let id = format!("{p}p{c}c");
        if !args.is_empty() && !args.iter().any(|a| id.contains(a.as_str())) {
            continue;
        }
        ours(p, c); // warm up
        theirs(p, c);
        let (mut ratios, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let (x, y) = if round % 2 == 0 {
                let x = ours(p, c);
                (x, theirs(p, c))
            } else {
                let y = theirs(p, c);
                (ours(p, c), y)
            };
            let (x, y) = (x.as_nanos() as f64 / ITEMS as f64, y.as_nanos() as f64 / ITEMS as f64);
            ratios.push(x / y);
            a.push(x);
            b.push(y);
        }
        for v in [&mut ratios, &mut a, &mut b] {
            v.sort_by(f64::total_cmp);
        }
        if std::env::var_os("RING_PAIRS_VERBOSE").is_some() {
            println!("  ours: {a:.1?}\n  AQ:   {b:.1?}");
        }
        println!(
            "{id:<6} {:>10.1} {:>10.1} {:>8.2} {:>8.2} {:>8.2}",
            quantile(&a, 0.5),
            quantile(&b, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.75)
        );
    }
}
