//! Adversarial tests of `Ring`, `BoundedQueue` and `CancelToken` (review branch).
//!
//! Rules: nothing here may hang (every blocking step runs under a watchdog or with a
//! timeout), results are counted rather than timed, and no assertion depends on tight timing.
//!
//! The "lost wake-up" tests widen the claim→publish (or claim→release) window of one thread
//! deterministically: that thread moves an 8 MiB item and runs at nice 19, pinned to one CPU
//! next to a busy-looping hog thread, so it gets ~1-2% of a CPU while the others run freely.
//! The other threads only act once `len()` shows the slow thread's claim (len counts claimed
//! positions). See the loom models in `loom-tests/tests/queue_adversarial.rs` for the same
//! interleavings found exhaustively.

use backpressure::{
    BoundedQueue, CancelToken, RecvError, RecvTimeoutError, Ring, SubmitError, SubmitTimeoutError, TryRecvError,
    TrySubmitError,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

mod support;
use support::with_watchdog_for as with_watchdog;

// ---------------------------------------------------------------------------------------------
// helpers

/// The tests that pin threads and run hogs must not overlap each other.
static CPU_GAMES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cpu_games() -> std::sync::MutexGuard<'static, ()> {
    CPU_GAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Spawns with a big stack (items are 8 MiB), pinned to CPU 1 unless it pins itself elsewhere.
fn spawn_big<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> thread::JoinHandle<R> {
    thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            pin_current_thread_to(1);
            f()
        })
        .unwrap()
}

/// Spins (with short sleeps) until `cond` holds; false after `limit`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_micros(200));
    }
    cond()
}

fn parked<T>(q: &BoundedQueue<T>, side: &str) -> usize {
    // `waiting_submitters: N` / `waiting_receivers: N` from the Debug output.
    let s = format!("{q:?}");
    let at = s.find(side).unwrap_or_else(|| panic!("{side} not in {s}")) + side.len() + 2;
    s[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

/// An 8 MiB item: moving it in or out of a slot takes real time.
/// (1 MiB in debug builds, which copy it many more times on the way through the call chain.)
type Big = [u64; BIG_WORDS];
const BIG_WORDS: usize = if cfg!(debug_assertions) { 1 << 17 } else { 1 << 20 };

fn big(tag: u64) -> Big {
    let mut b = [0u64; BIG_WORDS];
    b[0] = tag;
    b
}

mod os {
    extern "C" {
        pub fn gettid() -> i32;
        pub fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        pub fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
}

fn pin_current_thread_to(cpu: usize) {
    let mask: [u64; 16] = {
        let mut m = [0u64; 16];
        m[cpu / 64] |= 1 << (cpu % 64);
        m
    };
    // SAFETY: plain Linux syscalls on the calling thread.
    unsafe { os::sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
}

/// Makes the calling thread slow: nice 19, pinned to CPU 0, which `Hog` keeps busy.
fn make_current_thread_slow() {
    pin_current_thread_to(0);
    // SAFETY: setpriority on our own thread id (PRIO_PROCESS = 0 with a tid is per-thread on Linux).
    unsafe { os::setpriority(0, os::gettid() as u32, 19) };
}

/// A busy thread pinned to CPU 0 for as long as it lives.
struct Hog(Arc<AtomicBool>, Option<thread::JoinHandle<()>>);

impl Hog {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = thread::spawn(move || {
            pin_current_thread_to(0);
            while !s.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        Hog(stop, Some(h))
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        let _ = self.1.take().unwrap().join();
    }
}

/// A thread pinned to CPU 0 that, when fired, busy-loops for a while: fired the moment the
/// slow thread's claim shows in `len()`, it preempts the slow thread mid-copy.
struct Preempter(Option<mpsc::Sender<()>>, Option<thread::JoinHandle<()>>);

impl Preempter {
    fn start() -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        let h = thread::spawn(move || {
            pin_current_thread_to(0);
            if rx.recv().is_ok() {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
            }
        });
        Preempter(Some(tx), Some(h))
    }

    fn fire(&mut self) {
        let _ = self.0.take().unwrap().send(());
    }
}

impl Drop for Preempter {
    fn drop(&mut self) {
        drop(self.0.take());
        let _ = self.1.take().unwrap().join();
    }
}

/// Busy-waits (no sleep, so the reaction is immediate) until `cond`; false after `limit`.
fn spin_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::hint::spin_loop();
    }
    cond()
}

/// Counts its drops.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Lost wake-ups when a slot is released / published out of order (capacity >= 2)

/// Capacity 2, full. Submitters S1, S2 are parked. A slow consumer claims the oldest item and
/// is still moving it out when a fast consumer takes the next one and wakes S1. S1's push needs
/// the slow consumer's slot (the ring is FIFO in slots), so it sees "full", re-registers
/// *behind* S2; the slow consumer's wake then goes to S2. One slot is free, S1 stays parked.
#[test]
#[ignore = "pins threads and starves one on CPU 0 to stall it mid-operation: run on an idle machine with `cargo test --release --test adversarial_queue -- --ignored`; loom models W3 deterministically"]
fn lost_wakeup_blocked_submitter_when_slots_free_out_of_order() {
    let _serial = cpu_games();
    // The slow consumer moves the item several times (out of the slot, then up the call chain);
    // only a stall in the first move (before the slot is released) shows the bug, so a round
    // reproduces it about half the time. Up to 6 rounds; the first stuck round fails the test.
    for _round in 0..6 {
        let held = submitter_round();
        assert_eq!(held, 2, "a submitter stayed parked for 5 s while the queue held {held} of 2 items (lost wake-up)");
    }
}

/// One round; returns the queue length while the submitters were given 5 s to get in (2 when
/// both got in).
fn submitter_round() -> usize {
    with_watchdog(Duration::from_secs(60), || {
        pin_current_thread_to(1); // CPU 0 is for the hog, the preempter and the slow thread
        let _hog = Hog::start();
        let mut preempter = Preempter::start();
        let q = Arc::new(BoundedQueue::<Big>::new(2));
        q.try_submit(big(0)).unwrap();
        q.try_submit(big(1)).unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        let s1 = {
            let (q, done) = (q.clone(), done_tx.clone());
            spawn_big(move || done.send((1, q.submit(big(10)).is_ok())).unwrap())
        };
        assert!(eventually(Duration::from_secs(5), || parked(&q, "waiting_submitters") == 1));
        let s2 = {
            let (q, done) = (q.clone(), done_tx.clone());
            spawn_big(move || done.send((2, q.submit(big(11)).is_ok())).unwrap())
        };
        assert!(eventually(Duration::from_secs(5), || parked(&q, "waiting_submitters") == 2));
        let slow = {
            let q = q.clone();
            spawn_big(move || {
                make_current_thread_slow();
                // black_box: the whole item must be moved out, not just the word we look at.
                q.try_recv().map(|b| std::hint::black_box(b)[0])
            })
        };
        // The slow consumer has claimed head (len dropped) but is still moving 8 MiB out.
        assert!(spin_until(Duration::from_secs(10), || q.len() == 1), "slow consumer never claimed");
        preempter.fire();
        let fast = q.try_recv().map(|b| b[0]);
        assert_eq!(slow.join().unwrap(), Ok(0));
        assert_eq!(fast, Ok(1));
        // Two slots were freed and two submitters were parked: both must get in.
        let mut finished = vec![];
        while let Ok((who, ok)) = done_rx.recv_timeout(Duration::from_secs(5)) {
            assert!(ok);
            finished.push(who);
            if finished.len() == 2 {
                break;
            }
        }
        let len_while_stuck = q.len();
        // Unblock whoever is stuck so no thread leaks, then report.
        while finished.len() < 2 {
            let _ = q.try_recv();
            if let Ok((who, _)) = done_rx.recv_timeout(Duration::from_millis(100)) {
                finished.push(who);
            }
        }
        s1.join().unwrap();
        s2.join().unwrap();
        len_while_stuck
    })
}

/// Mirror image. Capacity 2, empty. Receivers R1, R2 are parked. A slow producer claims
/// position 0 and is still moving 8 MiB in when a fast producer claims and publishes position 1
/// and wakes R1; R1's pop stops at the unpublished position 0 ("empty") and re-registers
/// behind R2; the slow producer's wake then goes to R2. One item is queued, R1 stays parked.
#[test]
#[ignore = "pins threads and starves one on CPU 0 to stall it mid-operation: run on an idle machine with `cargo test --release --test adversarial_queue -- --ignored`; loom models W3 deterministically"]
fn lost_wakeup_blocked_receiver_when_items_publish_out_of_order() {
    let _serial = cpu_games();
    // A round shows the bug only if the slow producer is preempted mid-publish; up to 4 rounds.
    for _round in 0..4 {
        let queued = receiver_round();
        assert_eq!(
            queued, 0,
            "a receiver stayed parked for 5 s while {queued} item(s) sat in the queue (lost wake-up)"
        );
    }
}

/// One round; returns how many items sat in the queue while the receivers had 5 s to wake.
fn receiver_round() -> usize {
    with_watchdog(Duration::from_secs(60), || {
        pin_current_thread_to(1); // CPU 0 is for the hog, the preempter and the slow thread
        let _hog = Hog::start();
        let mut preempter = Preempter::start();
        let q = Arc::new(BoundedQueue::<Big>::new(2));
        let (done_tx, done_rx) = mpsc::channel();
        let receivers: Vec<_> = (1..=2)
            .map(|who| {
                let (qc, done) = (q.clone(), done_tx.clone());
                let r = spawn_big(move || {
                    let got = qc.recv().map(|b| b[0]);
                    done.send((who, got)).unwrap();
                });
                assert!(eventually(Duration::from_secs(5), || parked(&q, "waiting_receivers") == who));
                r
            })
            .collect();
        let slow = {
            let q = q.clone();
            spawn_big(move || {
                make_current_thread_slow();
                q.try_submit(big(100)).is_ok()
            })
        };
        assert!(spin_until(Duration::from_secs(10), || q.len() == 1), "slow producer never claimed");
        preempter.fire();
        q.try_submit(big(200)).unwrap();
        assert!(slow.join().unwrap());
        let mut got = vec![];
        while let Ok((_, item)) = done_rx.recv_timeout(Duration::from_secs(5)) {
            got.push(item.unwrap());
            if got.len() == 2 {
                break;
            }
        }
        let queued_while_stuck = q.len();
        // Unblock the stuck receiver (if any) so no thread leaks.
        while got.len() < 2 {
            let _ = q.try_submit(big(300));
            if let Ok((_, item)) = done_rx.recv_timeout(Duration::from_millis(100)) {
                got.push(item.unwrap());
            }
        }
        for r in receivers {
            r.join().unwrap();
        }
        queued_while_stuck
    })
}

/// Close while an accepted item is still being published, with two receivers parked. Close
/// wakes both; both find "empty, not yet closed" (the claimed item is unpublished) and park
/// again. The publish wakes one, which takes the item; the other is never woken again: the
/// queue is closed and drained, yet `recv()` never returns `Err(RecvError)`. Capacity 1 is
/// enough. A worker pool shut down by `close()` then never joins.
#[test]
#[ignore = "pins threads and starves one on CPU 0 to stall it mid-operation: run on an idle machine with `cargo test --release --test adversarial_queue -- --ignored`; loom models W3 deterministically"]
fn receiver_never_sees_closed_when_close_races_an_unpublished_item() {
    let _serial = cpu_games();
    // A round shows the bug only if the slow producer is preempted mid-publish; up to 4 rounds.
    for _round in 0..4 {
        let (results, now) = close_round();
        assert_eq!(now, Err(TryRecvError::Closed), "the queue is closed and drained");
        assert_eq!(
            results.len(),
            2,
            "one receiver got {results:?}; the other is still parked in recv() 5 s after close+drain"
        );
    }
}

/// One round: the receivers' results (within 5 s) and a final `try_recv`.
fn close_round() -> (Vec<Result<u64, RecvError>>, Result<u64, TryRecvError>) {
    with_watchdog(Duration::from_secs(60), || {
        pin_current_thread_to(1); // CPU 0 is for the hog, the preempter and the slow thread
        let _hog = Hog::start();
        let mut preempter = Preempter::start();
        let q = Arc::new(BoundedQueue::<Big>::new(1));
        let (done_tx, done_rx) = mpsc::channel();
        for who in 1..=2 {
            let (qc, done) = (q.clone(), done_tx.clone());
            // Detached: a stuck one is parked for good (nothing can wake a closed, drained queue).
            spawn_big(move || {
                let first = qc.recv().map(|b| b[0]);
                done.send((who, first)).unwrap();
            });
            assert!(eventually(Duration::from_secs(5), || parked(&q, "waiting_receivers") == who));
        }
        let slow = {
            let q = q.clone();
            spawn_big(move || {
                make_current_thread_slow();
                q.try_submit(big(7)).is_ok()
            })
        };
        assert!(spin_until(Duration::from_secs(10), || q.len() == 1), "slow producer never claimed");
        preempter.fire();
        assert!(q.close());
        assert!(slow.join().unwrap(), "claimed before the close, so accepted");
        let mut results = vec![];
        while let Ok((_, r)) = done_rx.recv_timeout(Duration::from_secs(5)) {
            results.push(r);
            if results.len() == 2 {
                break;
            }
        }
        (results, q.try_recv().map(|b| b[0]))
    })
}

// ---------------------------------------------------------------------------------------------
// 2. Drops, leaks, panicking Drop, ZSTs, odd capacities, huge capacities

/// Counts its drops; panics in `drop` when `bomb` is set.
struct Bomb {
    drops: Arc<AtomicUsize>,
    bomb: bool,
}
impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
        if self.bomb {
            panic!("boom");
        }
    }
}

/// `Vec`, `VecDeque`, `crossbeam::ArrayQueue` and `std::sync::mpsc` keep dropping the other
/// elements when one element's `Drop` panics. `Ring::drop` is a plain loop, so the unwind
/// leaves every item after the panicking one undropped (leaked), which breaks "dropping a
/// queue drops each remaining item exactly once".
#[test]
fn queue_drop_with_a_panicking_item_still_drops_the_others() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = BoundedQueue::new(5);
    // Wrap first, so the remaining items straddle the end of the slot array.
    for _ in 0..3 {
        q.try_submit(Bomb { drops: drops.clone(), bomb: false }).ok().unwrap();
        drop(q.try_recv().unwrap());
    }
    for i in 0..5 {
        q.try_submit(Bomb { drops: drops.clone(), bomb: i == 1 }).ok().unwrap();
    }
    let before = drops.load(Ordering::Relaxed);
    assert_eq!(before, 3);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(q)));
    assert!(unwound.is_err(), "the item's panic propagates");
    assert_eq!(
        drops.load(Ordering::Relaxed) - before,
        5,
        "every remaining item is dropped once even though one of them panicked (a Vec would)"
    );
}

/// The same through the bare ring.
#[test]
fn ring_drop_with_a_panicking_item_still_drops_the_others() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ring = Ring::new(3);
    for i in 0..3 {
        ring.try_push(Bomb { drops: drops.clone(), bomb: i == 0 }).ok().unwrap();
    }
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(ring)));
    assert!(unwound.is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 3, "items after the panicking one leaked");
}

/// For comparison: what `Vec` does (passes).
#[test]
fn vec_drop_with_a_panicking_item_drops_the_others() {
    let drops = Arc::new(AtomicUsize::new(0));
    let v: Vec<Bomb> = (0..3).map(|i| Bomb { drops: drops.clone(), bomb: i == 0 }).collect();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(v)));
    assert!(unwound.is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 3);
}

/// `# Panics` promises a clear "too large" message; capacities between 2^60 and 2^61 pass the
/// position check and then die in the slot allocation with std's "capacity overflow", which
/// names neither the type nor the value.
#[test]
#[should_panic(expected = "too large")]
fn capacity_that_fits_positions_but_not_memory_gets_the_documented_message() {
    let _ = Ring::<()>::new(1 << 60);
}

#[test]
#[should_panic(expected = "too large")]
fn usize_max_capacity_is_refused_with_a_clear_message() {
    let _ = BoundedQueue::<u8>::new(usize::MAX);
}

#[test]
#[should_panic(expected = "at least 1")]
fn zero_capacity_is_refused() {
    let _ = BoundedQueue::<u8>::new(0);
}

/// Exactly-once delivery and exactly-once drop with odd capacities, capacity 1, ZSTs and a
/// queue dropped mid-wrap while items are still in it. Passes.
#[test]
fn exactly_once_across_capacities_with_a_drop_mid_wrap() {
    with_watchdog(Duration::from_secs(120), || {
        for capacity in [1usize, 2, 3, 5, 7, 31] {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Arc::new(BoundedQueue::new(capacity));
            let per_producer = 3_000;
            let producers: Vec<_> = (0..3)
                .map(|p| {
                    let (q, drops) = (q.clone(), drops.clone());
                    thread::spawn(move || {
                        for i in 0..per_producer {
                            let mut item = (p * per_producer + i, Counted(drops.clone()));
                            loop {
                                item = match i % 3 {
                                    0 => match q.submit(item) {
                                        Ok(()) => break,
                                        Err(e) => e.into_inner(),
                                    },
                                    1 => match q.submit_timeout(item, Duration::from_micros(50)) {
                                        Ok(()) => break,
                                        Err(e) => e.into_inner(),
                                    },
                                    _ => match q.try_submit(item) {
                                        Ok(()) => break,
                                        Err(e) => {
                                            thread::yield_now();
                                            e.into_inner()
                                        }
                                    },
                                };
                            }
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..2)
                .map(|c| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let mut seen = vec![];
                        loop {
                            let got = if c == 0 {
                                q.recv().ok()
                            } else {
                                match q.recv_timeout(Duration::from_micros(30)) {
                                    Ok(v) => Some(v),
                                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Cancelled) => continue,
                                    Err(RecvTimeoutError::Closed) => None,
                                }
                            };
                            match got {
                                Some((id, _counted)) => seen.push(id),
                                None => return seen,
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            q.close();
            let mut all: Vec<usize> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
            all.sort_unstable();
            assert_eq!(all.len(), 3 * per_producer, "capacity {capacity}");
            assert!(all.windows(2).all(|w| w[0] != w[1]), "duplicate at capacity {capacity}");
            assert_eq!(drops.load(Ordering::Relaxed), 3 * per_producer);

            // Drop mid-wrap with items still queued.
            let drops = Arc::new(AtomicUsize::new(0));
            let q = BoundedQueue::new(capacity);
            for _ in 0..capacity + capacity / 2 + 1 {
                q.try_submit(Counted(drops.clone())).unwrap();
                drop(q.try_recv().unwrap());
            }
            let kept = capacity.div_ceil(2);
            for _ in 0..kept {
                q.try_submit(Counted(drops.clone())).unwrap();
            }
            let before = drops.load(Ordering::Relaxed);
            drop(q);
            assert_eq!(drops.load(Ordering::Relaxed) - before, kept, "capacity {capacity}");
        }
    });
}

#[test]
fn zero_sized_items_count_and_wrap() {
    let q = BoundedQueue::<()>::new(3);
    for lap in 0..1000 {
        for _ in 0..3 {
            q.try_submit(()).unwrap();
        }
        assert!(matches!(q.try_submit(()), Err(TrySubmitError::Full(()))), "lap {lap}");
        assert_eq!(q.drain().count(), 3);
    }
    let s = q.stats();
    assert_eq!((s.accepted, s.received, s.rejected_full, s.peak_depth), (3000, 3000, 1000, 3));
}

// ---------------------------------------------------------------------------------------------
// 3. CancelToken: deep chains, dropped tokens, cancelled parents, Duration::MAX

/// Runs the `#[ignore]`d test `name` of this binary in a child process; returns whether it
/// exited successfully (a stack overflow aborts the whole process, so it needs its own).
fn child_process_ok(name: &str) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--test-threads=1", "--nocapture"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("overflow") || l.contains("panicked"))
        .collect::<Vec<_>>()
        .join("\n");
    (out.status.success(), format!("{:?} {text}", out.status))
}

const CHAIN: usize = 200_000;
const DROP_CHAIN: usize = 1_000_000;

#[test]
#[ignore = "run by deep_child_chain_drops_without_overflowing_the_stack in a child process"]
fn child_deep_chain_drop() {
    // On an 8 MiB stack, like a main thread.
    thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let mut token = CancelToken::new();
            for _ in 0..DROP_CHAIN {
                token = token.child(); // each child keeps its parent alive
            }
            drop(token); // drops CHAIN nodes recursively (Node::_parent -> Arc -> Node ...)
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
#[ignore = "run by deep_child_chain_cancels_without_overflowing_the_stack in a child process"]
fn child_deep_chain_cancel() {
    thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let root = CancelToken::new();
            let mut leaf = root.clone();
            for _ in 0..CHAIN {
                leaf = leaf.child();
            }
            root.cancel(); // recursive: cancel() -> child.cancel() -> ...
            assert!(leaf.is_cancelled());
            std::mem::forget(leaf); // isolate the cancel recursion from the drop recursion
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A chain of 1M children (e.g. `t = t.child_with_timeout(..)` in a retry loop) is dropped
/// by recursion through `Node::_parent`: the process dies with a stack overflow.
#[test]
fn deep_child_chain_drops_without_overflowing_the_stack() {
    let (ok, why) = child_process_ok("child_deep_chain_drop");
    assert!(ok, "dropping a {DROP_CHAIN}-deep token chain killed the process: {why}");
}

/// `cancel()` recurses once per generation: cancelling the root of a deep chain overflows.
#[test]
fn deep_child_chain_cancels_without_overflowing_the_stack() {
    let (ok, why) = child_process_ok("child_deep_chain_cancel");
    assert!(ok, "cancelling the root of a {CHAIN}-deep token chain killed the process: {why}");
}

/// Time and token edge cases on a full queue; all pass.
#[test]
fn time_and_token_edge_cases() {
    with_watchdog(Duration::from_secs(30), || {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(0).unwrap();
        // ZERO and past deadlines try once.
        assert_eq!(q.submit_timeout(1, Duration::ZERO), Err(SubmitTimeoutError::Timeout(1)));
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now);
        assert_eq!(q.submit_deadline(2, past), Err(SubmitTimeoutError::Timeout(2)));
        assert_eq!(q.submit_cancellable(3, &CancelToken::with_deadline(past)), Err(SubmitTimeoutError::Timeout(3)));
        assert_eq!(
            q.submit_cancellable(3, &CancelToken::with_timeout(Duration::ZERO)),
            Err(SubmitTimeoutError::Timeout(3))
        );
        // Already cancelled, child of cancelled parent, cancelled-and-expired: Cancelled.
        let cancelled = CancelToken::new();
        cancelled.cancel();
        assert_eq!(q.submit_cancellable(4, &cancelled), Err(SubmitTimeoutError::Cancelled(4)));
        assert_eq!(q.submit_cancellable(5, &cancelled.child()), Err(SubmitTimeoutError::Cancelled(5)));
        let expired = CancelToken::with_deadline(past);
        expired.cancel();
        assert_eq!(q.submit_cancellable(6, &expired), Err(SubmitTimeoutError::Cancelled(6)));
        // Space wins over a cancelled token.
        assert_eq!(q.try_recv(), Ok(0));
        assert_eq!(q.submit_cancellable(7, &cancelled), Ok(()));
        assert!(CancelToken::with_timeout(Duration::MAX).deadline().is_none());
        assert!(CancelToken::with_timeout(Duration::from_secs(u64::MAX)).deadline().is_none());
        assert_eq!(q.recv_timeout(Duration::MAX), Ok(7));
        assert_eq!(q.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Timeout));
        assert_eq!(q.recv_deadline(past), Err(RecvTimeoutError::Timeout));

        // Huge timeouts wait, then succeed when space appears.
        q.try_submit(10).unwrap();
        let waiters: Vec<_> = [Duration::MAX, Duration::from_secs(u64::MAX), Duration::from_secs(1 << 40)]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let q = q.clone();
                thread::spawn(move || q.submit_timeout(11 + i as i32, d))
            })
            .collect();
        let mut got = vec![];
        while got.len() < 4 {
            got.push(q.recv().unwrap());
        }
        for w in waiters {
            assert_eq!(w.join().unwrap(), Ok(()));
        }
        got.sort_unstable();
        assert_eq!(got, [10, 11, 12, 13]);

        // A deep descendant of a token is cancelled while a call waits on it, and the other
        // handles (including the parent's) are dropped meanwhile.
        q.try_submit(20).unwrap();
        let root = CancelToken::with_timeout(Duration::MAX);
        let leaf = root.child().child_with_timeout(Duration::MAX).child();
        let waiter = {
            let (q, leaf) = (q.clone(), leaf.clone());
            thread::spawn(move || q.submit_cancellable(21, &leaf))
        };
        drop(leaf);
        assert!(eventually(Duration::from_secs(5), || parked(&q, "waiting_submitters") == 1));
        let canceller = root.clone();
        drop(root);
        canceller.cancel();
        assert_eq!(waiter.join().unwrap(), Err(SubmitTimeoutError::Cancelled(21)));

        // The only handle left is the waiter's own: it times out at the token's deadline.
        let t = CancelToken::with_timeout(Duration::from_millis(20));
        let waiter = {
            let q = q.clone();
            thread::spawn(move || q.submit_cancellable(22, &t))
        };
        assert_eq!(waiter.join().unwrap(), Err(SubmitTimeoutError::Timeout(22)));
        assert_eq!(q.try_recv(), Ok(20));
    });
}

// ---------------------------------------------------------------------------------------------
// 4. Blocked threads sleep; close; stats; drain as the waking side; many waiters on one slot

/// CPU time (ns) of thread `tid` of this process, from schedstat.
fn thread_cpu_ns(tid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// Each kind of blocked call uses (almost) no CPU over 200 ms. Passes.
#[test]
fn blocked_calls_sleep() {
    with_watchdog(Duration::from_secs(30), || {
        type Call = Box<dyn FnOnce(&BoundedQueue<u32>) + Send>;
        let token = CancelToken::with_timeout(Duration::from_secs(1 << 30));
        let calls: Vec<(&str, bool, Call)> = vec![
            (
                "submit",
                true,
                Box::new(|q| {
                    let _ = q.submit(1);
                }),
            ),
            (
                "submit_timeout(MAX)",
                true,
                Box::new(|q| {
                    let _ = q.submit_timeout(1, Duration::MAX);
                }),
            ),
            (
                "submit_timeout(2^40 s)",
                true,
                Box::new(|q| {
                    let _ = q.submit_timeout(1, Duration::from_secs(1 << 40));
                }),
            ),
            (
                "submit_cancellable",
                true,
                Box::new(move |q| {
                    let _ = q.submit_cancellable(1, &token);
                }),
            ),
            (
                "recv",
                false,
                Box::new(|q| {
                    let _ = q.recv();
                }),
            ),
            (
                "recv_timeout(MAX)",
                false,
                Box::new(|q| {
                    let _ = q.recv_timeout(Duration::MAX);
                }),
            ),
        ];
        for (name, full, call) in calls {
            let q = Arc::new(BoundedQueue::new(1));
            if full {
                q.try_submit(0).unwrap();
            }
            let (tid_tx, tid_rx) = mpsc::channel();
            let h = {
                let q = q.clone();
                thread::spawn(move || {
                    // SAFETY: gettid has no preconditions.
                    tid_tx.send(unsafe { os::gettid() }).unwrap();
                    call(&q);
                })
            };
            let tid = tid_rx.recv().unwrap();
            let side = if full { "waiting_submitters" } else { "waiting_receivers" };
            assert!(eventually(Duration::from_secs(5), || parked(&q, side) == 1), "{name}");
            let before = thread_cpu_ns(tid);
            thread::sleep(Duration::from_millis(200));
            let used = thread_cpu_ns(tid) - before;
            q.close();
            h.join().unwrap();
            assert!(used < 20_000_000, "{name} burned {used} ns of CPU in 200 ms while blocked");
        }
    });
}

/// Close from 8 threads at once: exactly one `true`; every parked submitter (32 of them, with
/// every flavour of submit) wakes with its own item; everything accepted is still received.
#[test]
fn concurrent_close_wakes_every_blocked_submitter_with_its_item() {
    with_watchdog(Duration::from_secs(30), || {
        let q = Arc::new(BoundedQueue::new(3));
        for i in 0..3 {
            q.try_submit(i).unwrap();
        }
        let token = CancelToken::new();
        let submitters: Vec<_> = (100..132)
            .map(|i| {
                let (q, token) = (q.clone(), token.clone());
                thread::spawn(move || match i % 3 {
                    0 => q.submit(i).map_err(|e| e.into_inner()),
                    1 => q.submit_timeout(i, Duration::MAX).map_err(|e| {
                        assert!(e.is_closed());
                        e.into_inner()
                    }),
                    _ => q.submit_cancellable(i, &token).map_err(|e| {
                        assert!(e.is_closed());
                        e.into_inner()
                    }),
                })
            })
            .collect();
        assert!(eventually(Duration::from_secs(10), || parked(&q, "waiting_submitters") == 32));
        let barrier = Arc::new(Barrier::new(8));
        let closers: Vec<_> = (0..8)
            .map(|_| {
                let (q, b) = (q.clone(), barrier.clone());
                thread::spawn(move || {
                    b.wait();
                    q.close()
                })
            })
            .collect();
        let trues = closers.into_iter().map(|c| c.join().unwrap()).filter(|&t| t).count();
        assert_eq!(trues, 1);
        let mut back: Vec<i32> = submitters.into_iter().map(|s| s.join().unwrap().unwrap_err()).collect();
        back.sort_unstable();
        assert_eq!(back, (100..132).collect::<Vec<_>>());
        assert_eq!(q.try_submit(7), Err(TrySubmitError::Closed(7)));
        assert_eq!(q.submit(8), Err(SubmitError(8)));
        assert_eq!(q.drain().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(q.recv(), Err(RecvError));
        let s = q.stats();
        assert_eq!((s.accepted, s.rejected_closed, s.received), (3, 34, 3));
    });
}

/// Capacity 1 (so slots cannot free out of order): 24 parked submitters of every kind, then
/// `drain()`, `try_recv` and `recv_timeout` as the waking side. Every item arrives once; the
/// timed ones may give up but then hand their item back. Passes.
#[test]
fn many_waiters_one_slot_woken_by_drain_and_try_recv() {
    with_watchdog(Duration::from_secs(60), || {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(0u32).unwrap();
        let token = CancelToken::new();
        let submitters: Vec<_> = (1..=24u32)
            .map(|i| {
                let (q, token) = (q.clone(), token.clone());
                thread::spawn(move || -> Option<u32> {
                    match i % 4 {
                        0 => q.submit(i).err().map(SubmitError::into_inner),
                        1 => q
                            .submit_timeout(i, Duration::from_millis(i as u64))
                            .err()
                            .map(SubmitTimeoutError::into_inner),
                        2 => q.submit_cancellable(i, &token).err().map(SubmitTimeoutError::into_inner),
                        _ => q.submit_timeout(i, Duration::MAX).err().map(SubmitTimeoutError::into_inner),
                    }
                })
            })
            .collect();
        let mut got = vec![];
        let start = Instant::now();
        while got.len() < 25 && start.elapsed() < Duration::from_secs(20) {
            match got.len() % 3 {
                0 => got.extend(q.drain()),
                1 => got.extend(q.try_recv().ok()),
                _ => got.extend(q.recv_timeout(Duration::from_millis(2)).ok()),
            }
            // Timed submitters may have given up: stop waiting once nobody is left.
            if submitters.iter().all(|s| s.is_finished()) && q.is_empty() {
                break;
            }
        }
        let handed_back: Vec<u32> = submitters.into_iter().filter_map(|s| s.join().unwrap()).collect();
        got.extend(q.drain());
        assert!(handed_back.iter().all(|i| i % 4 == 1), "only the short timeouts may give up: {handed_back:?}");
        got.extend(handed_back);
        got.sort_unstable();
        assert_eq!(got, (0..=24).collect::<Vec<_>>());
    });
}

/// Stats under concurrency: every counter matches what the callers saw, `peak_depth` never
/// exceeds capacity, and `submitted` equals the number of submit calls. Passes.
#[test]
fn stats_match_what_callers_saw() {
    #[derive(Default)]
    struct Seen {
        calls: AtomicUsize,
        ok: AtomicUsize,
        full: AtomicUsize,
        timeout: AtomicUsize,
        cancelled: AtomicUsize,
        closed: AtomicUsize,
    }
    with_watchdog(Duration::from_secs(60), || {
        for capacity in [1usize, 2, 3] {
            let q = Arc::new(BoundedQueue::new(capacity));
            let seen = Arc::new(Seen::default());
            let stop = Arc::new(AtomicBool::new(false));
            let producers: Vec<_> = (0..4)
                .map(|p| {
                    let (q, seen, stop) = (q.clone(), seen.clone(), stop.clone());
                    thread::spawn(move || {
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            i += 1;
                            let token = CancelToken::new();
                            if i % 7 == 0 {
                                token.cancel();
                            }
                            seen.calls.fetch_add(1, Ordering::Relaxed);
                            let r: Result<(), SubmitTimeoutError<u64>> = match (p + i as usize) % 4 {
                                0 => q.try_submit(i).map_err(Into::into).map_err(|e| match e {
                                    SubmitTimeoutError::Timeout(x) => {
                                        seen.full.fetch_add(1, Ordering::Relaxed);
                                        SubmitTimeoutError::Cancelled(x) // counted already
                                    }
                                    other => other,
                                }),
                                1 => q.submit_timeout(i, Duration::from_micros(20)),
                                2 => q.submit_cancellable(i, &token),
                                _ => q.submit(i).map_err(|e| SubmitTimeoutError::Closed(e.into_inner())),
                            };
                            match r {
                                Ok(()) => seen.ok.fetch_add(1, Ordering::Relaxed),
                                Err(SubmitTimeoutError::Timeout(_)) => seen.timeout.fetch_add(1, Ordering::Relaxed),
                                Err(SubmitTimeoutError::Cancelled(_)) if (p + i as usize) % 4 == 0 => 0,
                                Err(SubmitTimeoutError::Cancelled(_)) => seen.cancelled.fetch_add(1, Ordering::Relaxed),
                                Err(SubmitTimeoutError::Closed(_)) => seen.closed.fetch_add(1, Ordering::Relaxed),
                            };
                            assert!(q.stats().peak_depth <= capacity as u64);
                        }
                    })
                })
                .collect();
            let consumer = {
                let q = q.clone();
                thread::spawn(move || {
                    let mut n = 0u64;
                    while q.recv().is_ok() {
                        n += 1;
                        if n % 3 == 0 {
                            thread::sleep(Duration::from_micros(10));
                        }
                    }
                    n
                })
            };
            thread::sleep(Duration::from_millis(300));
            q.close();
            stop.store(true, Ordering::Relaxed);
            for p in producers {
                p.join().unwrap();
            }
            let received = consumer.join().unwrap();
            let s = q.stats();
            let l = |a: &AtomicUsize| a.load(Ordering::Relaxed) as u64;
            assert_eq!(s.submitted, l(&seen.calls), "capacity {capacity}");
            assert_eq!(s.accepted, l(&seen.ok));
            assert_eq!(s.rejected_full, l(&seen.full));
            assert_eq!(s.timed_out, l(&seen.timeout));
            assert_eq!(s.cancelled, l(&seen.cancelled));
            assert_eq!(s.rejected_closed, l(&seen.closed));
            assert_eq!(s.received, received);
            assert_eq!(s.depth, 0);
            assert!(s.peak_depth <= capacity as u64 && s.peak_depth >= 1);
            assert_eq!(s.submitted, s.accepted + s.rejected_full + s.timed_out + s.cancelled + s.rejected_closed);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 5. API surface: Send/Sync, Debug/Display without `T: Debug`

#[test]
fn errors_print_without_t_debug_and_types_are_send_sync() {
    struct Opaque; // no Debug, no Clone
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Ring<Opaque>>();
    send_sync::<BoundedQueue<Opaque>>();
    send_sync::<CancelToken>();
    send_sync::<TrySubmitError<Opaque>>();
    send_sync::<SubmitTimeoutError<Opaque>>();
    send_sync::<SubmitError<Opaque>>();
    send_sync::<RecvError>();
    send_sync::<TryRecvError>();
    send_sync::<RecvTimeoutError>();
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let q = BoundedQueue::new(1);
    q.try_submit(Opaque).ok().unwrap();
    let e = q.try_submit(Opaque).unwrap_err();
    is_error(&e);
    assert_eq!(format!("{e:?} / {e}"), "Full(..) / queue is full");
    let e = q.submit_timeout(Opaque, Duration::ZERO).unwrap_err();
    assert_eq!(format!("{e:?} / {e}"), "Timeout(..) / timed out waiting for queue space");
    q.close();
    let e = q.submit(Opaque).unwrap_err();
    is_error(&e);
    assert_eq!(format!("{e:?} / {e}"), "SubmitError(..) / queue is closed");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(q.try_submit(Opaque).unwrap_err());
    assert_eq!(boxed.to_string(), "queue is closed");
    assert!(format!("{q:?}").contains("closed: true"));
    assert!(format!("{:?}", Ring::<Opaque>::new(1)).contains("capacity: 1"));
}
