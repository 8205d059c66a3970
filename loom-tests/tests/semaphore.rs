#![cfg(backpressure_loom)]
// loom's UnsafeCell is shared on purpose: the models check that permits make access exclusive.
#![allow(clippy::arc_with_non_send_sync)]
//! Loom models of `semaphore`: a release wakes a parked waiter, a timeout racing a grant never
//! loses a permit, cancel and close racing a release leave the count whole, and a permit
//! hand-off publishes the holder's writes.

use backpressure::{CancelToken, Semaphore, SemaphoreError};
use loom::cell::UnsafeCell;
// std `Arc`: the `*_owned` forms take `std::sync::Arc<Semaphore>` (its refcount needs no model).
use loom::thread;
use std::sync::Arc;
use std::time::Duration;

/// No QUEUED flag left behind and every permit back: a try_acquire of all of them succeeds.
fn assert_whole(sem: &Semaphore, total: usize) {
    assert_eq!(sem.available_permits(), total);
    assert!(sem.try_acquire_many(total).is_some(), "{sem:?}");
}

#[test]
fn release_wakes_a_parked_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire().map(|p| p.permits()))
        };
        drop(held);
        assert_eq!(waiter.join().unwrap(), Ok(1));
        assert_whole(&sem, 1);
    });
}

#[test]
fn timeout_racing_a_grant_never_loses_a_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let cell = Arc::new(UnsafeCell::new(0u32));
        let held = sem.try_acquire_owned().unwrap();
        let waiter = {
            let (sem, cell) = (Arc::clone(&sem), Arc::clone(&cell));
            // Under loom a timed park times out at once unless already woken.
            thread::spawn(move || {
                let permit = sem.acquire_timeout(Duration::from_secs(60))?;
                // A grant seen on the timeout path must still carry the holder's writes.
                cell.with_mut(|v| unsafe { *v += 1 });
                Some(permit.permits())
            })
        };
        let holder = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                cell.with_mut(|v| unsafe { *v += 1 });
                drop(held);
            })
        };
        holder.join().unwrap();
        let got = waiter.join().unwrap();
        assert!(got.is_none() || got == Some(1));
        assert_whole(&sem, 1);
    });
}

#[test]
fn cancel_racing_a_release_leaves_the_count_whole() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let token = CancelToken::new();
        let waiter = {
            let (sem, token) = (Arc::clone(&sem), token.clone());
            thread::spawn(move || sem.acquire_cancellable(&token).map(|p| p.permits()))
        };
        token.cancel();
        drop(held);
        let got = waiter.join().unwrap();
        assert!(got == Ok(1) || got == Err(SemaphoreError::Cancelled), "{got:?}");
        assert_whole(&sem, 1);
    });
}

#[test]
fn close_wakes_a_parked_waiter_with_closed() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire().map(|p| p.permits()))
        };
        sem.close();
        assert_eq!(waiter.join().unwrap(), Err(SemaphoreError::Closed));
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn handed_over_permit_publishes_the_holders_writes() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let cell = Arc::new(UnsafeCell::new(0u32));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (sem, cell) = (Arc::clone(&sem), Arc::clone(&cell));
                thread::spawn(move || {
                    let _permit = sem.acquire().unwrap();
                    // Exclusive while the permit lives; loom flags a race otherwise.
                    cell.with_mut(|v| unsafe { *v += 1 });
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cell.with(|v| unsafe { *v }), 2);
        assert_whole(&sem, 1);
    });
}

#[test]
fn mixed_size_waiters_are_all_served_whatever_their_order() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many_owned(2).unwrap();
        let big = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire_many(2).map(|p| p.permits()))
        };
        let small = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire().map(|p| p.permits()))
        };
        drop(held);
        assert_eq!(big.join().unwrap(), Ok(2));
        assert_eq!(small.join().unwrap(), Ok(1));
        assert_whole(&sem, 2);
    });
}

#[test]
fn permit_returned_through_the_locked_path_publishes_to_a_later_fast_acquire() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let cell = Arc::new(UnsafeCell::new(0u32));
        let held = sem.try_acquire_owned().unwrap();
        // Queues (so the release may take the locked path), then gives up at once.
        let quitter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(sem.acquire_timeout(Duration::from_secs(60))))
        };
        let releaser = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                cell.with_mut(|v| unsafe { *v += 1 });
                drop(held);
            })
        };
        let late = {
            let (sem, cell) = (Arc::clone(&sem), Arc::clone(&cell));
            thread::spawn(move || {
                if let Some(_permit) = sem.try_acquire() {
                    cell.with_mut(|v| unsafe { *v += 1 });
                }
            })
        };
        for t in [quitter, releaser, late] {
            t.join().unwrap();
        }
        assert_whole(&sem, 1);
    });
}
