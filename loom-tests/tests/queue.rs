//! Loom models of `BoundedQueue`'s parking protocol: no lost wake-up between a full/empty check
//! and parking, close wakes every sleeper, and a timeout racing a wake loses no item or slot.
#![cfg(backpressure_loom)]

use backpressure::{BoundedQueue, RecvError, RecvTimeoutError, SubmitError, SubmitTimeoutError, TryRecvError};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

#[test]
fn producer_blocked_on_full_queue_is_woken_by_a_pop() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.submit(2))
        };
        assert_eq!(q.recv(), Ok(1));
        assert_eq!(q.recv(), Ok(2));
        assert!(producer.join().unwrap().is_ok());
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn consumer_blocked_on_empty_queue_is_woken_by_a_push() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        let consumer = {
            let q = q.clone();
            thread::spawn(move || q.recv())
        };
        q.submit(7).unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(7));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn close_wakes_a_blocked_producer_with_its_item() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.submit(2))
        };
        q.close();
        // Either it got in before the close (then it is drained) or it comes back.
        match producer.join().unwrap() {
            Ok(()) => unreachable!("the queue was full and nobody popped"),
            Err(SubmitError(item)) => assert_eq!(item, 2),
        }
        assert_eq!(q.try_recv(), Ok(1));
        assert_eq!(q.try_recv(), Err(TryRecvError::Closed));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn close_wakes_a_blocked_consumer_after_it_drains() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::<u8>::new(1));
        let consumer = {
            let q = q.clone();
            thread::spawn(move || (q.recv(), q.recv()))
        };
        let accepted = q.try_submit(5).is_ok();
        q.close();
        let (first, second) = consumer.join().unwrap();
        assert!(accepted);
        assert_eq!(first, Ok(5));
        assert_eq!(second, Err(RecvError));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn two_blocked_producers_are_each_woken_by_their_own_pop() {
    // Three threads that all park: bound the preemptions to keep the model to seconds.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(0).unwrap();
        let producers: Vec<_> = (1..=2)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || q.submit(i))
            })
            .collect();
        let mut got = vec![q.recv().unwrap(), q.recv().unwrap(), q.recv().unwrap()];
        for p in producers {
            p.join().unwrap().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn timeout_racing_a_pop_loses_neither_the_item_nor_the_slot() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let timed = {
            let q = q.clone();
            // Under loom a timed park times out at once unless already woken.
            thread::spawn(move || q.submit_timeout(2, Duration::from_secs(60)))
        };
        let blocking = {
            let q = q.clone();
            thread::spawn(move || q.submit(3))
        };
        assert_eq!(q.recv(), Ok(1));
        let timed_result = timed.join().unwrap();
        // The freed slot went to one of the two submitters; if the timed one gave up, the
        // blocking one must still be woken (the wake is handed on, never swallowed).
        let second = q.recv().unwrap();
        match timed_result {
            Ok(()) => {
                assert!(second == 2 || second == 3);
                let third = q.recv().unwrap();
                assert_eq!(second + third, 5);
            }
            Err(SubmitTimeoutError::Timeout(item)) => {
                assert_eq!(item, 2);
                assert_eq!(second, 3);
            }
            Err(other) => panic!("{other:?}"),
        }
        blocking.join().unwrap().unwrap();
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn cancel_wakes_a_producer_blocked_on_its_token() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let token = backpressure::CancelToken::new();
        let producer = {
            let (q, token) = (q.clone(), token.clone());
            thread::spawn(move || q.submit_cancellable(2, &token))
        };
        token.cancel();
        assert_eq!(producer.join().unwrap(), Err(SubmitTimeoutError::Cancelled(2)));
        assert_eq!(q.try_recv(), Ok(1));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn cancel_racing_a_pop_either_submits_or_hands_the_item_back() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let token = backpressure::CancelToken::new();
        let producer = {
            let (q, token) = (q.clone(), token.clone());
            thread::spawn(move || q.submit_cancellable(2, &token))
        };
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.try_recv())
        };
        token.cancel();
        let submitted = producer.join().unwrap();
        let popped = popper.join().unwrap();
        let mut left: Vec<i32> = q.drain().collect();
        left.extend(popped.ok());
        match submitted {
            Ok(()) => assert!(left.contains(&2)),
            Err(SubmitTimeoutError::Cancelled(2)) => assert!(!left.contains(&2)),
            Err(other) => panic!("{other:?}"),
        }
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

#[test]
fn cancel_racing_a_push_either_delivers_or_leaves_the_item_queued() {
    loom::model(|| {
        let q = Arc::new(BoundedQueue::new(1));
        let token = backpressure::CancelToken::new();
        let consumer = {
            let (q, token) = (q.clone(), token.clone());
            thread::spawn(move || q.recv_cancellable(&token))
        };
        let pusher = {
            let q = q.clone();
            thread::spawn(move || q.try_submit(9).is_ok())
        };
        token.cancel();
        let got = consumer.join().unwrap();
        assert!(pusher.join().unwrap(), "the queue was empty");
        match got {
            Ok(item) => assert_eq!(item, 9),
            Err(RecvTimeoutError::Cancelled) => assert_eq!(q.try_recv(), Ok(9)),
            Err(other) => panic!("{other:?}"),
        }
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

/// A blocked submitter retries with `Ring::push_from`, which moves the item only into its
/// claimed slot: the same claim and publish as the by-value push, with the value coming from
/// the submitter's frame. A large item, so a torn or lost value would show.
#[test]
fn a_blocked_submitter_of_a_large_item_is_woken_by_a_pop() {
    type Large = [u64; 64];
    loom::model(|| {
        let q = Arc::new(BoundedQueue::<Large>::new(1));
        q.try_submit([1; 64]).unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.submit([2; 64]).map_err(|e| e.into_inner()[0]))
        };
        assert_eq!(q.recv().map(|b| b[0]), Ok(1));
        let second = q.recv().unwrap();
        assert!(second.iter().all(|&w| w == 2), "the item arrived whole");
        assert_eq!(producer.join().unwrap(), Ok(()));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}
