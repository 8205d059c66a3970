//! Shared harness for the throughput benches: `producers` threads send `total` items through
//! a queue to `consumers` threads; the time is from the first send to the last receive.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Producer/consumer counts measured for every queue (4P/4C oversubscribes 2 cores on purpose).
pub const CONFIGS: &[(usize, usize)] = &[(1, 1), (2, 2), (4, 4)];
/// Queue capacity for every throughput bench.
pub const CAPACITY: usize = 1024;

/// CPU nanoseconds used by the worker threads of every `transfer` so far (Linux; stays 0
/// where `/proc/thread-self/schedstat` is missing).
pub static WORKER_CPU_NANOS: AtomicU64 = AtomicU64::new(0);

/// This thread's CPU time in nanoseconds, from the scheduler's own accounting.
fn thread_cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

/// Whether `BENCH_PIN` asks to pin worker threads, producers from CPU 0 up and consumers from
/// CPU 1 up (modulo the CPUs available), so the scheduler's placement is not part of the noise.
fn pinning() -> bool {
    std::env::var_os("BENCH_PIN").is_some()
}

/// Pins the calling thread to `cpu` modulo the number of CPUs (Linux; a no-op elsewhere).
fn pin_to(cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = cpu % cpus;
        let mut mask = [0u64; 16];
        mask[cpu / 64] |= 1 << (cpu % 64);
        // SAFETY: sched_setaffinity on the calling thread (pid 0) with a valid mask buffer.
        unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// Runs `f` and adds the CPU time it used on this thread to `WORKER_CPU_NANOS`.
fn counting_cpu(f: impl FnOnce()) {
    let before = thread_cpu_nanos();
    f();
    WORKER_CPU_NANOS.fetch_add(thread_cpu_nanos().saturating_sub(before), Ordering::Relaxed);
}

/// Runs one transfer of at least `total` items and returns its wall time. `send(i)` must not
/// return before item `i` is queued; `recv()` must return one item.
pub fn transfer<Q: Sync>(
    queue: &Q,
    producers: usize,
    consumers: usize,
    total: u64,
    send: impl Fn(&Q, u64) + Sync,
    recv: impl Fn(&Q) -> u64 + Sync,
) -> Duration {
    let per_producer = total.div_ceil(producers as u64);
    let all = per_producer * producers as u64;
    let per_consumer = all / consumers as u64;
    let extra = all % consumers as u64; // consumer 0 takes the remainder
    let barrier = Barrier::new(producers + consumers + 1);
    thread::scope(|s| {
        for p in 0..producers {
            let (barrier, send) = (&barrier, &send);
            s.spawn(move || {
                if pinning() {
                    pin_to(p);
                }
                barrier.wait();
                counting_cpu(|| {
                    for i in 0..per_producer {
                        send(queue, i);
                    }
                });
            });
        }
        for c in 0..consumers {
            let (barrier, recv) = (&barrier, &recv);
            s.spawn(move || {
                if pinning() {
                    pin_to(c + 1);
                }
                barrier.wait();
                let n = per_consumer + if c == 0 { extra } else { 0 };
                counting_cpu(|| {
                    let mut sum = 0u64;
                    for _ in 0..n {
                        sum = sum.wrapping_add(recv(queue));
                    }
                    std::hint::black_box(sum);
                });
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Scope end joins every thread.
        start
    })
    .elapsed()
}

/// Items per measured transfer at least: spawning the threads must not dominate the sample.
pub const MIN_ITEMS: u64 = 200_000;

/// Criterion's `iter_custom` asks for the time of `iters` items; transfer at least
/// `MIN_ITEMS` and scale the time to `iters`, so thread start-up cost is amortized.
pub fn scaled(iters: u64, run: impl FnOnce(u64) -> Duration) -> Duration {
    let items = iters.max(MIN_ITEMS);
    run(items).mul_f64(iters as f64 / items as f64)
}
