//! Oversubscribed processor stress: more producer and worker threads than cores, with
//! `shutdown_now` arriving mid-stream. Every accepted item must be either handled or returned,
//! exactly once. Counts, never times; a watchdog aborts a hung run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use backpressure::Processor;

/// Aborts the process if the test is still running after `limit` (fails, never hangs).
fn watchdog(limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    thread::spawn(move || {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        // Relaxed: a count/flag; joins order the final reads.
        while !flag.load(Ordering::Relaxed) {
            if waited >= limit {
                eprintln!("watchdog: stress test hung");
                std::process::abort();
            }
            thread::sleep(step);
            waited += step;
        }
    });
    done
}

#[test]
fn shutdown_now_mid_stream_accounts_for_every_accepted_item() {
    let done = watchdog(Duration::from_secs(120));
    for round in 0..20u64 {
        const PRODUCERS: u64 = 6;
        const PER_PRODUCER: u64 = 3_000;
        // Handled items add their (distinct) value: a lost or doubled item shows in the sums.
        let handled_sum = Arc::new(AtomicU64::new(0));
        let handled_count = Arc::new(AtomicU64::new(0));
        let (sum, count) = (Arc::clone(&handled_sum), Arc::clone(&handled_count));
        let p = Processor::builder()
            .workers(4)
            .queue_capacity((PRODUCERS * PER_PRODUCER) as usize)
            .build(move |n: u64| {
                // Relaxed: a count/flag; joins order the final reads.
                sum.fetch_add(n, Ordering::Relaxed);
                // Relaxed: a count/flag; joins order the final reads.
                count.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        // Producers race the workers; `shutdown_now` needs ownership, so it comes once they are
        // done, while the workers are still mid-stream taking items.
        let (accepted_sum, accepted_count) = thread::scope(|s| {
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|t| {
                    let p = &p;
                    s.spawn(move || {
                        let (mut sum, mut count) = (0u64, 0u64);
                        for i in 0..PER_PRODUCER {
                            let item = t * PER_PRODUCER + i + 1;
                            if p.try_submit(item).is_ok() {
                                sum += item;
                                count += 1;
                            }
                        }
                        (sum, count)
                    })
                })
                .collect();
            producers.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        // Stop after some work has been handled (count-based, not timed), varying per round.
        let threshold = (round * 700).min(accepted_count);
        // Relaxed: a count/flag; joins order the final reads.
        while handled_count.load(Ordering::Relaxed) < threshold {
            thread::yield_now();
        }
        let returned = p.shutdown_now();
        let returned_sum: u64 = returned.iter().sum();
        // Relaxed: a count/flag; joins order the final reads.
        assert_eq!(handled_count.load(Ordering::Relaxed) + returned.len() as u64, accepted_count, "round {round}");
        // Relaxed: a count/flag; joins order the final reads.
        assert_eq!(handled_sum.load(Ordering::Relaxed) + returned_sum, accepted_sum, "round {round}");
    }
    // Relaxed: a count/flag; joins order the final reads.
    done.store(true, Ordering::Relaxed);
}
