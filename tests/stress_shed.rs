//! Oversubscribed stress (8 threads, typically on 2 cores) for `shed` and `semaphore`:
//! limits hold, counters add up, every permit comes back, and big requests are not starved.
//! Sized by iteration count, not time; every test runs under a watchdog.

use backpressure::{CancelToken, LoadShedder, Priority, PriorityShedder, Semaphore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

mod support;
use support::with_watchdog;

const THREADS: usize = 8;
/// Iterations per thread: smaller in debug builds so `cargo test` stays quick.
const ITERS: usize = if cfg!(debug_assertions) { 200_000 } else { 600_000 };

/// An independent high-water mark of concurrent holders.
#[derive(Default)]
struct HighWater {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl HighWater {
    fn enter(&self, n: usize) {
        let now = self.now.fetch_add(n, Ordering::SeqCst) + n;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::SeqCst);
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[test]
fn stress_load_shedder_never_exceeds_max_load_under_oversubscription() {
    with_watchdog(|| {
        const MAX: usize = 4;
        let shedder = Arc::new(LoadShedder::new(MAX));
        let mark = Arc::new(HighWater::default());
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (shedder, mark) = (Arc::clone(&shedder), Arc::clone(&mark));
                thread::spawn(move || {
                    let mut admitted = 0usize;
                    for i in 0..ITERS {
                        if let Ok(permit) = shedder.try_acquire() {
                            mark.enter(1);
                            admitted += 1;
                            if i % 64 == 0 {
                                thread::yield_now(); // hold across a reschedule now and then
                            }
                            mark.leave(1);
                            drop(permit);
                        }
                    }
                    admitted
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(mark.peak() <= MAX, "peak {} holders with max_load {MAX}", mark.peak());
        assert!(admitted > 0);
        assert_eq!(shedder.load(), 0);
    });
}

#[test]
fn stress_priority_shedder_counts_every_attempt_and_keeps_the_limit() {
    with_watchdog(|| {
        const MAX: usize = 10;
        let shedder = Arc::new(PriorityShedder::new(MAX));
        let mark = Arc::new(HighWater::default());
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (shedder, mark) = (Arc::clone(&shedder), Arc::clone(&mark));
                thread::spawn(move || {
                    let mut attempts = [0u64; 4];
                    for i in 0..ITERS {
                        let priority = Priority::ALL[(t + i) % 4];
                        attempts[priority as usize] += 1;
                        if let Ok(permit) = shedder.try_acquire_owned(priority) {
                            mark.enter(1);
                            mark.leave(1);
                            drop(permit);
                        }
                    }
                    attempts
                })
            })
            .collect();
        let mut attempts = [0u64; 4];
        for t in threads {
            for (sum, n) in attempts.iter_mut().zip(t.join().unwrap()) {
                *sum += n;
            }
        }
        for p in Priority::ALL {
            assert_eq!(shedder.admitted(p) + shedder.shed(p), attempts[p as usize], "{p}");
        }
        assert!(mark.peak() <= MAX);
        assert_eq!(shedder.load(), 0);
    });
}

#[test]
fn stress_semaphore_mixed_waits_conserve_permits_and_serve_big_requests() {
    with_watchdog(|| {
        const TOTAL: usize = 4;
        let rounds = ITERS / 20;
        let sem = Arc::new(Semaphore::new(TOTAL));
        let mark = Arc::new(HighWater::default());
        let token = CancelToken::new();
        let big_served = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (sem, mark, token, big_served) =
                    (Arc::clone(&sem), Arc::clone(&mark), token.clone(), Arc::clone(&big_served));
                thread::spawn(move || {
                    for i in 0..rounds {
                        // Thread 0 always asks for every permit at once: FIFO must serve it.
                        let n = if t == 0 { TOTAL } else { 1 + (t + i) % 2 };
                        let permit = match (t + i) % 4 {
                            0 | 1 => sem.acquire_many(n).ok(),
                            2 => sem.acquire_many_timeout(n, Duration::from_micros(100)).ok(),
                            _ => sem.acquire_many_cancellable(n, &token).ok(),
                        };
                        if let Some(permit) = permit {
                            mark.enter(n);
                            if t == 0 {
                                big_served.fetch_add(1, Ordering::Relaxed);
                            }
                            if i % 8 == 0 {
                                thread::yield_now(); // hold across a reschedule: others queue up
                            }
                            mark.leave(n);
                            drop(permit);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(mark.peak() <= TOTAL, "peak {} permits in use of {TOTAL}", mark.peak());
        assert!(big_served.load(Ordering::Relaxed) > 0, "the all-permits request was starved");
        assert_eq!(sem.available_permits(), TOTAL);
        assert_eq!(sem.waiting(), 0);
    });
}
