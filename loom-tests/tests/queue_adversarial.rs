//! Regression models for lost wake-ups found in review (W3 in `src/waitlist.rs`).
//!
//! With capacity >= 2 the ring can report full (or empty) while a *later* slot is already free
//! (or already published), because a peer that claimed the *earlier* position has not finished.
//! A waiter woken for the later slot fails its attempt and parks again; without baton passing
//! the peer's eventual wake went to a different waiter and one waiter slept next to a free slot
//! (loom reported a deadlock; each model below did, before the fix). A close racing an
//! unpublished item stranded a receiver the same way.
//!
//! If a model regresses, loom's deadlock panic is followed by a panic while dropping the
//! crate's loom thread-local parker outside the model, which aborts the test binary; run one
//! model at a time to see which: `... cargo test -p loom-tests --release --test
//! queue_adversarial -- --exact <name>`.
#![cfg(backpressure_loom)]

use backpressure::BoundedQueue;
use loom::sync::Arc;
use loom::thread;

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    // One preemption (a consumer/producer stopped between its claim and its release/publish)
    // is enough to reach the lost wake-up; the gate below keeps the model to seconds.
    b.preemption_bound = Some(1);
    b
}

/// Spins (yielding to loom) until `n` threads are parked on the given side of `q`.
fn wait_parked<T>(q: &BoundedQueue<T>, side: &str, n: usize) {
    let needle = format!("{side}: {n}");
    while !format!("{q:?}").contains(&needle) {
        thread::yield_now();
    }
}

/// Capacity 2, full. Two submitters block; two consumers each pop once. Two slots free up,
/// so both blocked submits must complete. They do not when consumer A is preempted between
/// its head claim and its slot release while consumer B frees the next slot: B's wake goes to
/// submitter 1, whose push hits A's still-held slot ("full"), and 1 re-queues behind 2; A's
/// wake then goes to 2. Submitter 1 sleeps forever next to a free slot.
#[test]
fn two_blocked_submitters_two_pops_capacity_two() {
    builder().check(|| {
        let q = Arc::new(BoundedQueue::new(2));
        q.try_submit(0).unwrap();
        q.try_submit(1).unwrap();
        let submitters: Vec<_> = (10..12)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || q.submit(i))
            })
            .collect();
        wait_parked(&q, "waiting_submitters", 2);
        let consumer = {
            let q = q.clone();
            thread::spawn(move || q.try_recv().ok())
        };
        let mine = q.try_recv().ok();
        let theirs = consumer.join().unwrap();
        // Each try_recv may find the queue momentarily "empty" only if the other one is
        // mid-take; pop again until two items came out so that two slots are really freed.
        let mut got: Vec<i32> = mine.into_iter().chain(theirs).collect();
        while got.len() < 2 {
            if let Ok(v) = q.try_recv() {
                got.push(v);
            } else {
                thread::yield_now();
            }
        }
        for s in submitters {
            s.join().unwrap().unwrap();
        }
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

/// Mirror image: capacity 2, empty. Two receivers block; two producers each push once. Both
/// receivers must get an item. Producer A claims position 0 and is preempted before
/// publishing; producer B publishes position 1 and wakes receiver 1, whose pop stops at the
/// unpublished position 0 ("empty"); it re-queues behind receiver 2, A's wake goes to 2, and
/// receiver 1 slept forever while item B sat in the queue (before baton passing).
#[test]
fn two_blocked_receivers_two_pushes_capacity_two() {
    builder().check(|| {
        let q = Arc::new(BoundedQueue::new(2));
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.recv())
            })
            .collect();
        wait_parked(&q, "waiting_receivers", 2);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.try_submit(1).unwrap())
        };
        q.try_submit(2).unwrap();
        producer.join().unwrap();
        let mut got: Vec<i32> = receivers.into_iter().map(|r| r.join().unwrap().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

/// Capacity 1. Two receivers are parked; a producer claims the slot and, before it publishes,
/// the queue is closed. Close wakes both receivers, both see "empty but not closed-and-drained"
/// (the accepted item is unpublished) and park again. The publish wakes one, which takes the
/// item. Before the fix nothing ever woke the other, although the queue was then closed and
/// drained: its `recv()` never returned `Err(RecvError)`. Now the receiver that takes the
/// last item after the close wakes the rest.
#[test]
fn close_racing_an_unpublished_item_strands_a_receiver() {
    builder().check(|| {
        let q = Arc::new(BoundedQueue::new(1));
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.recv())
            })
            .collect();
        wait_parked(&q, "waiting_receivers", 2);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.try_submit(7).is_ok())
        };
        q.close();
        let accepted = producer.join().unwrap();
        let results: Vec<_> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        let got = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(got, usize::from(accepted));
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}

/// Control for the harness above (passes): the same race with *one* parked receiver is fine,
/// so the deadlocks these models reported before the fix were not an artefact of `wait_parked`.
#[test]
fn control_close_racing_a_publish_with_one_receiver() {
    builder().check(|| {
        let q = Arc::new(BoundedQueue::new(1));
        let receiver = {
            let q = q.clone();
            thread::spawn(move || (q.recv(), q.recv()))
        };
        wait_parked(&q, "waiting_receivers", 1);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.try_submit(7).is_ok())
        };
        q.close();
        let accepted = producer.join().unwrap();
        let (first, second) = receiver.join().unwrap();
        if accepted {
            assert_eq!(first, Ok(7));
            assert!(second.is_err());
        } else {
            assert!(first.is_err() && second.is_err());
        }
        // Every wake counted as on its way was finished; nobody is left spinning or listed.
        assert!(q.wait_lists_at_rest());
    });
}
