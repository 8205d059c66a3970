//! Behaviour of `Semaphore` through the public API: fairness, wake-ups, timeouts, close.

use backpressure::{CancelToken, Semaphore, SemaphoreError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

mod support;
use support::with_watchdog;

/// Spins (yielding; a test helper, not library code) until `cond` holds, with a bound.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000_000 {
        if cond() {
            return;
        }
        thread::yield_now();
    }
    panic!("watchdog: never saw {what}");
}

#[test]
fn a_waiter_for_three_is_served_before_later_single_waiters() {
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(3));
        let order = Arc::new(Mutex::new(Vec::new()));
        let singles: Vec<_> = (0..3).map(|_| sem.try_acquire_owned().unwrap()).collect();

        let (go_tx, go_rx) = mpsc::channel::<()>();
        let big = {
            let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
            thread::spawn(move || {
                let permit = sem.acquire_many(3).unwrap();
                order.lock().unwrap().push("big");
                go_rx.recv().unwrap(); // hold until the test has checked the small ones wait
                drop(permit);
            })
        };
        eventually("the big waiter queued", || sem.waiting() == 1);
        let small: Vec<_> = (0..4)
            .map(|_| {
                let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
                thread::spawn(move || {
                    let _permit = sem.acquire().unwrap();
                    order.lock().unwrap().push("small");
                })
            })
            .collect();
        eventually("all five queued", || sem.waiting() == 5);

        // Releasing one or two permits serves nobody: the head needs three and nobody barges.
        let mut singles = singles.into_iter();
        drop(singles.next());
        drop(singles.next());
        assert_eq!(sem.waiting(), 5);
        assert!(sem.try_acquire().is_none(), "a newcomer must not overtake the queue");
        drop(singles.next());
        eventually("the big waiter served", || !order.lock().unwrap().is_empty());
        assert_eq!(sem.waiting(), 4);
        go_tx.send(()).unwrap();
        big.join().unwrap();
        for t in small {
            t.join().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.as_slice(), ["big", "small", "small", "small", "small"]);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn add_permits_wakes_exactly_as_many_waiters_as_fit() {
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let done_rx = Arc::new(Mutex::new(done_rx));
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (sem, served, done_rx) = (Arc::clone(&sem), Arc::clone(&served), Arc::clone(&done_rx));
                thread::spawn(move || {
                    let _permit = sem.acquire().unwrap();
                    served.fetch_add(1, Ordering::SeqCst);
                    let _ = done_rx.lock().unwrap().recv(); // hold until told
                })
            })
            .collect();
        eventually("five waiters", || sem.waiting() == 5);
        sem.add_permits(3);
        assert_eq!(sem.waiting(), 2, "three handed over synchronously");
        eventually("three served", || served.load(Ordering::SeqCst) == 3);
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.total_permits(), 4);
        drop(done_tx); // let every holder finish; the last two get served as permits return
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(served.load(Ordering::SeqCst), 5);
        assert_eq!(sem.available_permits(), 4);
    });
}

#[test]
fn acquire_many_above_the_total_is_an_error_not_a_hang() {
    let sem = Semaphore::new(2);
    assert_eq!(sem.acquire_many(3).unwrap_err(), SemaphoreError::ExceedsTotal { requested: 3, total: 2 });
    assert_eq!(
        sem.acquire_many_timeout(3, Duration::MAX).unwrap_err(),
        SemaphoreError::ExceedsTotal { requested: 3, total: 2 }
    );
    assert!(sem.try_acquire_many(3).is_none());
    sem.add_permits(1);
    assert_eq!(sem.acquire_many(3).unwrap().permits(), 3);
}

#[test]
fn acquire_timeout_with_duration_max_waits_for_a_release() {
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire_timeout(Duration::MAX).map(|p| p.permits()))
        };
        eventually("the waiter queued", || sem.waiting() == 1);
        drop(held);
        assert_eq!(waiter.join().unwrap(), Some(1));
    });
}

#[test]
fn zero_timeout_tries_once() {
    let sem = Semaphore::new(1);
    let _held = sem.acquire().unwrap();
    assert_eq!(sem.acquire_many_timeout(1, Duration::ZERO).unwrap_err(), SemaphoreError::Timeout);
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn a_token_deadline_times_out_and_a_cancel_cancels() {
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(1));
        let _held = sem.try_acquire_owned().unwrap();
        let expired = CancelToken::with_timeout(Duration::from_millis(1));
        assert_eq!(sem.acquire_cancellable(&expired).unwrap_err(), SemaphoreError::Timeout);

        let token = CancelToken::new();
        let waiter = {
            let (sem, token) = (Arc::clone(&sem), token.child());
            thread::spawn(move || sem.acquire_cancellable(&token).map(drop))
        };
        eventually("the waiter queued", || sem.waiting() == 1);
        token.cancel();
        assert_eq!(waiter.join().unwrap(), Err(SemaphoreError::Cancelled));
        assert_eq!(sem.waiting(), 0);
    });
}

#[test]
fn close_wakes_every_waiter_with_an_error() {
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many_owned(2).unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let sem = Arc::clone(&sem);
                thread::spawn(move || match i % 2 {
                    0 => sem.acquire_many(2).map(drop),
                    _ => sem.acquire_many_timeout(1, Duration::MAX).map(drop),
                })
            })
            .collect();
        eventually("four waiters", || sem.waiting() == 4);
        assert!(sem.close());
        for w in waiters {
            assert_eq!(w.join().unwrap(), Err(SemaphoreError::Closed));
        }
        drop(held);
        assert_eq!(sem.available_permits(), 2);
        assert!(sem.try_acquire().is_none());
    });
}

#[test]
fn no_wake_up_is_lost_with_mixed_acquire_timeout_cancel_and_close() {
    const THREADS: usize = 6;
    const ROUNDS: usize = 300;
    with_watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let token = CancelToken::new();
        let served = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let (sem, token, served) = (Arc::clone(&sem), token.clone(), Arc::clone(&served));
                thread::spawn(move || {
                    for round in 0..ROUNDS {
                        let n = 1 + (i + round) % 2;
                        let got = match (i + round) % 3 {
                            0 => sem.acquire_many(n).ok(),
                            1 => sem.acquire_many_timeout(n, Duration::from_micros(50)).ok(),
                            _ => sem.acquire_many_cancellable(n, &token).ok(),
                        };
                        if let Some(permit) = got {
                            assert_eq!(permit.permits(), n);
                            served.fetch_add(1, Ordering::Relaxed);
                        } else if sem.is_closed() {
                            return;
                        }
                    }
                })
            })
            .collect();
        // Let them churn until a good share has been served, then cancel, then close.
        eventually("progress", || served.load(Ordering::Relaxed) >= THREADS * ROUNDS / 4);
        token.cancel();
        sem.close();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.waiting(), 0);
        assert_eq!(sem.available_permits(), 2, "every permit came back");
    });
}

#[test]
fn a_panicking_holder_returns_its_permits() {
    let sem = Arc::new(Semaphore::new(2));
    let permit = sem.acquire_many_owned(2).unwrap();
    let t = thread::spawn(move || {
        let _permit = permit;
        panic!("worker died");
    });
    assert!(t.join().is_err());
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn errors_are_copyable_comparable_and_displayed() {
    fn is_error<E: std::error::Error + Copy + Eq + Send + Sync + 'static>(_: &E) {}
    is_error(&SemaphoreError::Closed);
    assert_eq!(SemaphoreError::Timeout.to_string(), "timed out waiting for permits");
    assert_eq!(SemaphoreError::Cancelled.to_string(), "cancelled while waiting for permits");
    assert_eq!(SemaphoreError::Closed.to_string(), "semaphore is closed");
}
