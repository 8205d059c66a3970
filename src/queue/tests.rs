//! Behaviour of `BoundedQueue`, one test per rule of the contract. Concurrency tests use a
//! watchdog and count outcomes; none asserts on elapsed time beyond "it did wait".

use super::*;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::Arc;
use std::thread;

/// Scale down for Miri, which runs the same tests ~1000x slower.
const SHORT: Duration = if cfg!(miri) { Duration::from_millis(1) } else { Duration::from_millis(20) };

/// Runs `f` on a thread and fails (instead of hanging) if it takes more than 30 s.
fn with_watchdog<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(30)).expect("watchdog: the test hung")
}

/// Calls `f` after a short sleep on another thread.
fn later(f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(SHORT);
        f();
    })
}

struct Counted(Arc<StdAtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        // Relaxed: a test counter.
        self.0.fetch_add(1, StdOrdering::Relaxed);
    }
}

#[test]
fn try_submit_full_hands_the_item_back() {
    let q = BoundedQueue::new(1);
    q.try_submit(1).unwrap();
    assert_eq!(q.try_submit(2), Err(TrySubmitError::Full(2)));
    assert_eq!(q.len(), 1);
}

#[test]
fn try_submit_after_close_hands_the_item_back() {
    let q = BoundedQueue::new(1);
    q.close();
    assert_eq!(q.try_submit(1), Err(TrySubmitError::Closed(1)));
}

#[test]
fn submit_timeout_zero_tries_exactly_once() {
    let q = BoundedQueue::new(1);
    assert_eq!(q.submit_timeout(1, Duration::ZERO), Ok(()));
    assert_eq!(q.submit_timeout(2, Duration::ZERO), Err(SubmitTimeoutError::Timeout(2)));
    assert_eq!(q.stats().timed_out, 1);
}

#[test]
fn submit_deadline_in_the_past_tries_once() {
    let q = BoundedQueue::new(1);
    let past = Instant::now();
    thread::sleep(Duration::from_millis(1));
    assert_eq!(q.submit_deadline(1, past), Ok(()));
    assert_eq!(q.submit_deadline(2, past), Err(SubmitTimeoutError::Timeout(2)));
}

#[test]
fn submit_timeout_waits_then_times_out_with_the_item() {
    let q = BoundedQueue::new(1);
    q.try_submit(1).unwrap();
    let start = Instant::now();
    assert_eq!(q.submit_timeout(2, SHORT), Err(SubmitTimeoutError::Timeout(2)));
    assert!(start.elapsed() >= SHORT, "returned before its timeout");
}

#[test]
fn submit_timeout_with_duration_max_waits_for_space() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let popper = {
            let q = q.clone();
            later(move || assert_eq!(q.try_recv(), Ok(1)))
        };
        assert_eq!(q.submit_timeout(2, Duration::MAX), Ok(()));
        popper.join().unwrap();
        assert_eq!(q.try_recv(), Ok(2));
    });
}

#[test]
fn submit_timeout_with_u64_max_seconds_waits_for_space() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let popper = {
            let q = q.clone();
            later(move || assert_eq!(q.try_recv(), Ok(1)))
        };
        assert_eq!(q.submit_timeout(2, Duration::from_secs(u64::MAX)), Ok(()));
        popper.join().unwrap();
    });
}

#[test]
fn recv_timeout_with_duration_max_waits_for_an_item() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        let pusher = {
            let q = q.clone();
            later(move || q.try_submit(9).unwrap())
        };
        assert_eq!(q.recv_timeout(Duration::MAX), Ok(9));
        pusher.join().unwrap();
    });
}

#[test]
fn blocking_submit_waits_for_space() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let popper = {
            let q = q.clone();
            later(move || assert_eq!(q.recv(), Ok(1)))
        };
        assert_eq!(q.submit(2), Ok(()));
        popper.join().unwrap();
        assert_eq!(q.recv(), Ok(2));
    });
}

#[test]
fn submit_cancellable_returns_cancelled_with_the_item() {
    with_watchdog(|| {
        let q = BoundedQueue::new(1);
        q.try_submit(1).unwrap();
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            later(move || token.cancel())
        };
        assert_eq!(q.submit_cancellable(2, &token), Err(SubmitTimeoutError::Cancelled(2)));
        canceller.join().unwrap();
        assert_eq!(q.stats().cancelled, 1);
    });
}

#[test]
fn submit_cancellable_on_a_cancelled_token_still_takes_free_space() {
    let q = BoundedQueue::new(1);
    let token = CancelToken::new();
    token.cancel();
    assert_eq!(q.submit_cancellable(1, &token), Ok(()));
    assert_eq!(q.submit_cancellable(2, &token), Err(SubmitTimeoutError::Cancelled(2)));
}

#[test]
fn submit_cancellable_times_out_at_the_token_deadline() {
    let q = BoundedQueue::new(1);
    q.try_submit(1).unwrap();
    let token = CancelToken::with_timeout(SHORT);
    assert_eq!(q.submit_cancellable(2, &token), Err(SubmitTimeoutError::Timeout(2)));
}

#[test]
fn cancelling_a_parent_wakes_a_submit_blocked_on_its_child() {
    with_watchdog(|| {
        let q = BoundedQueue::new(1);
        q.try_submit(1).unwrap();
        let parent = CancelToken::new();
        let child = parent.child();
        let canceller = later(move || parent.cancel());
        assert_eq!(q.submit_cancellable(2, &child), Err(SubmitTimeoutError::Cancelled(2)));
        canceller.join().unwrap();
    });
}

#[test]
fn recv_cancellable_on_a_cancelled_token_still_takes_a_queued_item() {
    let q = BoundedQueue::new(1);
    q.try_submit(1).unwrap();
    let token = CancelToken::new();
    token.cancel();
    assert_eq!(q.recv_cancellable(&token), Ok(1));
    assert_eq!(q.recv_cancellable(&token), Err(RecvTimeoutError::Cancelled));
}

#[test]
fn recv_cancellable_times_out_at_the_token_deadline() {
    let q = BoundedQueue::<u8>::new(1);
    let token = CancelToken::with_timeout(SHORT);
    assert_eq!(q.recv_cancellable(&token), Err(RecvTimeoutError::Timeout));
}

#[test]
fn cancelling_wakes_a_blocked_receiver_and_leaves_the_queue_open() {
    with_watchdog(|| {
        let q = BoundedQueue::<u8>::new(1);
        let parent = CancelToken::new();
        let child = parent.child();
        let canceller = later(move || parent.cancel());
        assert_eq!(q.recv_cancellable(&child), Err(RecvTimeoutError::Cancelled));
        canceller.join().unwrap();
        assert!(!q.is_closed());
        q.try_submit(3).unwrap();
        assert_eq!(q.recv_cancellable(&CancelToken::new()), Ok(3));
        assert!(q.receivers.is_at_rest());
    });
}

#[test]
fn recv_cancellable_sees_closed_once_drained() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::<u8>::new(2));
        q.try_submit(1).unwrap();
        let token = CancelToken::new();
        assert_eq!(q.recv_cancellable(&token), Ok(1));
        let closer = {
            let q = q.clone();
            later(move || {
                q.close();
            })
        };
        assert_eq!(q.recv_cancellable(&token), Err(RecvTimeoutError::Closed));
        closer.join().unwrap();
    });
}

#[test]
fn close_wakes_every_blocked_submitter_with_its_item() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(0).unwrap();
        let token = CancelToken::new();
        let blocked: Vec<_> = (1..=3)
            .map(|i| {
                let q = q.clone();
                let token = token.clone();
                thread::spawn(move || match i {
                    1 => q.submit(i).map_err(SubmitError::into_inner),
                    2 => q.submit_timeout(i, Duration::MAX).map_err(SubmitTimeoutError::into_inner),
                    _ => q.submit_cancellable(i, &token).map_err(SubmitTimeoutError::into_inner),
                })
            })
            .collect();
        while q.senders.waiting() < 3 {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(q.close());
        let mut back: Vec<i32> = blocked.into_iter().map(|t| t.join().unwrap().unwrap_err()).collect();
        back.sort_unstable();
        assert_eq!(back, [1, 2, 3]);
        assert_eq!(q.recv(), Ok(0), "accepted items are still drained");
        assert_eq!(q.recv(), Err(RecvError));
        assert_eq!(q.stats().rejected_closed, 3);
    });
}

#[test]
fn close_wakes_blocked_receivers() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::<u8>::new(1));
        let receivers: Vec<_> = (0..2)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || if i == 0 { q.recv().is_err() } else { q.recv_timeout(Duration::MAX).is_err() })
            })
            .collect();
        while q.receivers.waiting() < 2 {
            thread::sleep(Duration::from_millis(1));
        }
        q.close();
        for r in receivers {
            assert!(r.join().unwrap());
        }
    });
}

#[test]
fn receivers_drain_accepted_items_before_seeing_closed() {
    let q = BoundedQueue::new(3);
    for i in 0..3 {
        q.try_submit(i).unwrap();
    }
    q.close();
    assert_eq!(q.try_recv(), Ok(0));
    assert_eq!(q.recv_timeout(Duration::ZERO), Ok(1));
    assert_eq!(q.recv(), Ok(2));
    assert_eq!(q.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(q.recv_timeout(Duration::MAX), Err(RecvTimeoutError::Closed));
    assert_eq!(q.recv(), Err(RecvError));
}

#[test]
fn recv_timeout_zero_on_empty_times_out() {
    let q = BoundedQueue::<()>::new(1);
    assert_eq!(q.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Timeout));
    assert_eq!(q.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_one_round_trips() {
    let q = BoundedQueue::new(1);
    for i in 0..10 {
        q.submit(i).unwrap();
        assert!(q.is_full());
        assert_eq!(q.recv(), Ok(i));
        assert!(q.is_empty());
    }
}

#[test]
fn zero_sized_items_are_counted() {
    let q = BoundedQueue::new(3);
    for _ in 0..3 {
        q.try_submit(()).unwrap();
    }
    assert_eq!(q.try_submit(()), Err(TrySubmitError::Full(())));
    assert_eq!(q.drain().count(), 3);
    assert!(q.is_empty());
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_panics_with_a_clear_message() {
    let _ = BoundedQueue::<u8>::new(0);
}

#[test]
fn drop_drops_each_remaining_item_exactly_once() {
    for (capacity, pushes, pops) in [(4, 4, 0), (4, 2, 0), (3, 3, 3), (3, 10, 8)] {
        let drops = Arc::new(StdAtomicUsize::new(0));
        let q = BoundedQueue::new(capacity);
        let mut made = 0;
        for round in 0..pushes {
            made += 1;
            drop(q.try_submit(Counted(drops.clone()))); // a refused item is dropped here
            if round < pops {
                drop(q.try_recv());
            }
        }
        drop(q);
        // Relaxed: a test counter.
        assert_eq!(drops.load(StdOrdering::Relaxed), made, "capacity {capacity}, {pushes} pushes, {pops} pops");
    }
}

#[test]
fn drain_takes_what_is_queued_and_frees_space() {
    let q = BoundedQueue::new(2);
    q.try_submit(1).unwrap();
    q.try_submit(2).unwrap();
    assert_eq!(q.drain().collect::<Vec<_>>(), [1, 2]);
    assert!(q.try_submit(3).is_ok());
}

#[test]
fn drain_wakes_a_blocked_submitter() {
    with_watchdog(|| {
        let q = Arc::new(BoundedQueue::new(1));
        q.try_submit(1).unwrap();
        let blocked = {
            let q = q.clone();
            thread::spawn(move || q.submit(2))
        };
        while q.senders.waiting() < 1 {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(q.drain().next(), Some(1));
        blocked.join().unwrap().unwrap();
        assert_eq!(q.try_recv(), Ok(2));
    });
}

#[test]
fn stats_count_every_outcome() {
    let q = BoundedQueue::new(2);
    q.try_submit(1).unwrap();
    q.submit(2).unwrap();
    assert!(q.try_submit(3).is_err());
    assert!(q.submit_timeout(4, Duration::ZERO).is_err());
    let token = CancelToken::new();
    token.cancel();
    assert!(q.submit_cancellable(5, &token).is_err());
    q.try_recv().unwrap();
    q.close();
    assert!(q.try_submit(6).is_err());
    let s = q.stats();
    assert_eq!(s.submitted, 6);
    assert_eq!(
        (s.accepted, s.rejected_full, s.timed_out, s.cancelled, s.rejected_closed, s.received),
        (2, 1, 1, 1, 1, 1)
    );
    assert_eq!((s.depth, s.peak_depth), (1, 2));
}

#[test]
fn len_and_flags_follow_the_contents() {
    let q = BoundedQueue::new(2);
    assert!(q.is_empty() && !q.is_full());
    q.try_submit('a').unwrap();
    assert_eq!(q.len(), 1);
    q.try_submit('b').unwrap();
    assert!(q.is_full());
    assert!(!q.is_closed());
}

#[test]
fn queue_and_errors_are_send_sync_and_debug_without_t_debug() {
    struct Opaque;
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BoundedQueue<Opaque>>();
    assert_send_sync::<Ring<Opaque>>();
    assert_send_sync::<TrySubmitError<Opaque>>();
    let q = BoundedQueue::new(1);
    q.try_submit(Opaque).ok().unwrap();
    let err = q.try_submit(Opaque).unwrap_err();
    assert_eq!(format!("{err:?}"), "Full(..)");
    assert_eq!(err.to_string(), "queue is full");
    assert!(format!("{q:?}").contains("capacity: 1"));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(SubmitTimeoutError::Timeout(1));
    assert_eq!(boxed.to_string(), "timed out waiting for queue space");
}

#[test]
fn many_threads_pass_every_item_exactly_once() {
    with_watchdog(|| {
        let per_producer = if cfg!(miri) { 20 } else { 5_000 };
        let q = Arc::new(BoundedQueue::new(4));
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || {
                    for i in 0..per_producer {
                        let item = p * per_producer + i;
                        match i % 3 {
                            0 => q.submit(item).unwrap(),
                            1 => q.submit_timeout(item, Duration::MAX).unwrap(),
                            _ => {
                                let mut item = item;
                                loop {
                                    match q.try_submit(item) {
                                        Ok(()) => break,
                                        Err(e) => item = e.into_inner(),
                                    }
                                    if let Err(e) = q.submit_timeout(item, Duration::from_micros(50)) {
                                        item = e.into_inner();
                                    } else {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Ok(v) = q.recv() {
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        q.close();
        let mut all: Vec<usize> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..3 * per_producer).collect::<Vec<_>>());
    });
}

#[test]
fn wake_hints_return_to_rest_after_hand_offs() {
    // Every wake counted as "on its way" is finished by the woken thread, whether it then
    // succeeded, timed out, or was released by close: the hint never sticks at non-zero, which
    // would make later waiters spin for a helper that is not coming.
    with_watchdog(|| {
        let items = if cfg!(miri) { 30 } else { 20_000 };
        let q = Arc::new(BoundedQueue::new(1));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    for i in 0..items {
                        if i % 2 == 0 {
                            q.submit(i).unwrap();
                        } else if let Err(e) = q.submit_timeout(i, Duration::from_micros(20)) {
                            q.submit(e.into_inner()).unwrap();
                        }
                    }
                })
            })
            .collect();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = 0;
                while q.recv().is_ok() {
                    got += 1;
                }
                got
            })
        };
        // A receiver that only times out, woken now and then.
        let idler = {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = 0;
                loop {
                    match q.recv_timeout(Duration::from_micros(30)) {
                        Ok(_) => got += 1,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Cancelled) => {}
                        Err(RecvTimeoutError::Closed) => return got,
                    }
                }
            })
        };
        for p in producers {
            p.join().unwrap();
        }
        q.close();
        let got = consumer.join().unwrap() + idler.join().unwrap();
        assert_eq!(got, 2 * items);
        assert!(q.senders.is_at_rest(), "senders: {:?}", q.senders);
        assert!(q.receivers.is_at_rest(), "receivers: {:?}", q.receivers);
    });
}

/// A large item (a blocked submitter's retries go through `Ring::push_from`).
struct LargeCounted {
    pad: [u64; 64],
    _counted: Counted,
}

#[test]
fn large_items_take_the_in_place_path_and_drop_exactly_once() {
    assert!(size_of::<LargeCounted>() >= 512, "a large item");
    let drops = Arc::new(StdAtomicUsize::new(0));
    with_watchdog({
        let drops = drops.clone();
        move || {
            let large = |tag: u64| LargeCounted { pad: [tag; 64], _counted: Counted(drops.clone()) };
            let q = Arc::new(BoundedQueue::new(1));
            q.submit(large(1)).unwrap();
            // Refused while full: the same item comes back, not dropped.
            match q.submit_timeout(large(2), Duration::ZERO) {
                Err(SubmitTimeoutError::Timeout(item)) => assert_eq!(item.pad[63], 2),
                other => panic!("{:?}", other.is_ok()),
            }
            let popper = {
                let q = q.clone();
                later(move || assert_eq!(q.recv().map(|i| i.pad[0]).ok(), Some(1)))
            };
            q.submit(large(3)).unwrap(); // blocks until the pop, then goes in place
            popper.join().unwrap();
            q.close();
            match q.submit(large(4)) {
                Err(e) => assert_eq!(e.into_inner().pad[0], 4),
                Ok(()) => panic!("accepted after close"),
            }
            // Item 3 is still queued: dropped with the queue.
        }
    });
    // Relaxed: the watchdog's hand-back of the result ordered every drop before this load.
    assert_eq!(drops.load(StdOrdering::Relaxed), 4, "items 1-4 each dropped exactly once");
}
