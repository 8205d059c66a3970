//! Large items (64 KiB, moved by value) through every submit and receive call, blocking and
//! not, on threads with a bounded stack: the default 2 MiB of a spawned thread in release
//! builds (debug builds copy far more per call, so they get 16 MiB). A blocked submitter's
//! retries take the in-place push path, which moves an item only into its slot; these tests
//! check it hands every item over intact, hands refused ones back, and does not need a stack
//! many times the item's size. Run in release by `.ci/run` too.

use backpressure::{BoundedQueue, CancelToken, RecvTimeoutError, SubmitTimeoutError, TrySubmitError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const WORDS: usize = 8 * 1024; // 64 KiB
type Big = [u64; WORDS];

/// A spawned thread's default stack in release; debug builds keep a copy per temporary.
const STACK: usize = if cfg!(debug_assertions) { 16 << 20 } else { 2 << 20 };

fn big(tag: u64) -> Big {
    let mut b = [0u64; WORDS];
    b[0] = tag;
    b[WORDS - 1] = !tag;
    b
}

/// The tag of an item that arrived intact.
fn tag(b: &Big) -> u64 {
    assert_eq!(b[WORDS - 1], !b[0], "an item was torn");
    b[0]
}

fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> thread::JoinHandle<R> {
    thread::Builder::new().stack_size(STACK).spawn(f).expect("spawn")
}

#[test]
fn blocked_submitters_of_large_items_hand_each_one_over_intact() {
    let q = Arc::new(BoundedQueue::<Big>::new(1));
    let producer = {
        let q = q.clone();
        on_small_stack(move || {
            q.try_submit(big(1)).unwrap();
            q.submit(big(2)).unwrap(); // waits: full
            q.submit_timeout(big(3), Duration::from_secs(60)).unwrap();
            q.submit_cancellable(big(4), &CancelToken::new()).unwrap();
        })
    };
    let consumer = {
        let q = q.clone();
        on_small_stack(move || {
            let mut got = vec![];
            for round in 0..4 {
                thread::sleep(Duration::from_millis(2)); // let the producer block
                got.push(tag(&match round {
                    0 => q.recv().unwrap(),
                    1 => q.recv_timeout(Duration::from_secs(60)).unwrap(),
                    2 => q.recv_cancellable(&CancelToken::new()).unwrap(),
                    _ => loop {
                        if let Ok(item) = q.try_recv() {
                            break item;
                        }
                        thread::sleep(Duration::from_millis(1));
                    },
                }));
            }
            got
        })
    };
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), [1, 2, 3, 4]);
}

#[test]
fn blocked_receivers_of_large_items_get_each_one_intact() {
    let q = Arc::new(BoundedQueue::<Big>::new(2));
    let consumer = {
        let q = q.clone();
        on_small_stack(move || {
            let a = tag(&q.recv().unwrap()); // waits: empty
            let b = tag(&q.recv_timeout(Duration::from_secs(60)).unwrap());
            let c = tag(&q.recv_cancellable(&CancelToken::new()).unwrap());
            [a, b, c]
        })
    };
    let producer = {
        let q = q.clone();
        on_small_stack(move || {
            for t in 10..13 {
                thread::sleep(Duration::from_millis(2)); // let the consumer block
                q.submit(big(t)).unwrap();
            }
        })
    };
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), [10, 11, 12]);
}

#[test]
fn refused_large_items_come_back_intact() {
    let q = Arc::new(BoundedQueue::<Big>::new(1));
    let worker = {
        let q = q.clone();
        on_small_stack(move || {
            q.try_submit(big(1)).unwrap();
            match q.try_submit(big(2)) {
                Err(TrySubmitError::Full(item)) => assert_eq!(tag(&item), 2),
                other => panic!("{:?}", other.map(|()| "accepted")),
            }
            match q.submit_timeout(big(3), Duration::from_millis(5)) {
                Err(SubmitTimeoutError::Timeout(item)) => assert_eq!(tag(&item), 3),
                other => panic!("{:?}", other.map(|()| "accepted")),
            }
            let cancelled = CancelToken::new();
            let canceller = {
                let cancelled = cancelled.clone();
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(5));
                    cancelled.cancel();
                })
            };
            match q.submit_cancellable(big(4), &cancelled) {
                Err(SubmitTimeoutError::Cancelled(item)) => assert_eq!(tag(&item), 4),
                other => panic!("{:?}", other.map(|()| "accepted")),
            }
            canceller.join().unwrap();
            // A blocked submit handed its item back by close.
            let blocked = {
                let q = q.clone();
                on_small_stack(move || q.submit(big(5)).map_err(|e| tag(&e.into_inner())))
            };
            // Blocked by now, or not yet started: close hands the item back either way.
            thread::sleep(Duration::from_millis(5));
            q.close();
            assert_eq!(blocked.join().unwrap(), Err(5));
            let drained: Vec<u64> = q.drain().map(|item| tag(&item)).collect();
            assert_eq!(drained, [1]);
            assert_eq!(q.recv_cancellable(&CancelToken::new()).map(|b| tag(&b)), Err(RecvTimeoutError::Closed));
        })
    };
    worker.join().unwrap();
}

#[test]
fn many_large_items_pass_exactly_once_through_a_small_queue() {
    let per = if cfg!(debug_assertions) { 300 } else { 3_000 };
    let q = Arc::new(BoundedQueue::<Big>::new(2));
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let q = q.clone();
            on_small_stack(move || {
                for i in 0..per {
                    let item = big(p * per + i);
                    if i % 2 == 0 {
                        q.submit(item).unwrap();
                    } else if let Err(e) = q.submit_timeout(item, Duration::from_micros(50)) {
                        q.submit(e.into_inner()).unwrap();
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            on_small_stack(move || {
                let mut got = vec![];
                while let Ok(item) = q.recv() {
                    got.push(tag(&item));
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    q.close();
    let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * per).collect::<Vec<_>>());
}
