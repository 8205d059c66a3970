//! Oversubscribed stress: 4 producers and 4 consumers on a 2-core machine pass at least a
//! million items through small queues with every kind of submit and receive; every item
//! arrives exactly once and every item is dropped exactly once. A watchdog turns a hang into
//! a failure. CI runs this file in release (`cargo test --release --test 'stress*'`); a debug
//! `cargo test` runs a smaller count.

use backpressure::{BoundedQueue, CancelToken, Ring};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

mod support;
use support::with_watchdog_for as with_watchdog;

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const ITEMS: usize = if cfg!(debug_assertions) { 200_000 } else { 1_000_000 };

/// An item that counts its drops, so "dropped exactly once" can be checked.
struct Tracked {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn submit_somehow(q: &BoundedQueue<Tracked>, mut item: Tracked, token: &CancelToken) {
    loop {
        item = match item.id % 4 {
            0 => match q.submit(item) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            },
            1 => match q.try_submit(item) {
                Ok(()) => return,
                Err(e) => {
                    let item = e.into_inner();
                    thread::yield_now();
                    item
                }
            },
            2 => match q.submit_timeout(item, Duration::from_micros(100)) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            },
            _ => match q.submit_cancellable(item, token) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            },
        };
    }
}

fn receive_somehow(q: &BoundedQueue<Tracked>, round: usize) -> Option<Option<Tracked>> {
    let waited = |got: Result<Tracked, backpressure::RecvTimeoutError>| match got {
        Ok(item) => Some(Some(item)),
        Err(backpressure::RecvTimeoutError::Timeout | backpressure::RecvTimeoutError::Cancelled) => Some(None),
        Err(backpressure::RecvTimeoutError::Closed) => None,
    };
    match round % 4 {
        0 => q.recv().ok().map(Some),
        1 => waited(q.recv_timeout(Duration::from_micros(200))),
        3 => {
            // A token that runs out (Timeout) or one cancelled already (an item still wins).
            let token = CancelToken::with_timeout(Duration::from_micros(200));
            if round % 8 == 3 {
                token.cancel();
            }
            waited(q.recv_cancellable(&token))
        }
        _ => match q.try_recv() {
            Ok(item) => Some(Some(item)),
            Err(backpressure::TryRecvError::Empty) => Some(None),
            Err(backpressure::TryRecvError::Closed) => None,
        },
    }
}

fn run_queue_stress(capacity: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Arc::new(BoundedQueue::new(capacity));
    let token = CancelToken::new(); // never cancelled: exercises the token-watching path
    let per = ITEMS / PRODUCERS;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, drops, token) = (q.clone(), drops.clone(), token.clone());
            thread::spawn(move || {
                for i in 0..per {
                    submit_somehow(&q, Tracked { id: p * per + i, drops: drops.clone() }, &token);
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let mut seen = Vec::new();
                let mut round = 0;
                loop {
                    round += 1;
                    match receive_somehow(&q, round) {
                        Some(Some(item)) => seen.push(item.id),
                        Some(None) => {}
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
    let mut seen = vec![false; per * PRODUCERS];
    for c in consumers {
        for id in c.join().unwrap() {
            assert!(!seen[id], "item {id} received twice");
            seen[id] = true;
        }
    }
    assert!(seen.iter().all(|s| *s), "an item was lost");
    let stats = q.stats();
    assert_eq!(stats.accepted as usize, per * PRODUCERS);
    assert_eq!(stats.received as usize, per * PRODUCERS);
    drop(q);
    assert_eq!(drops.load(Ordering::Relaxed), per * PRODUCERS, "every item dropped exactly once");
}

#[test]
fn oversubscribed_queue_delivers_every_item_exactly_once() {
    with_watchdog(Duration::from_secs(240), || run_queue_stress(16));
}

#[test]
fn oversubscribed_queue_of_capacity_one_delivers_every_item_exactly_once() {
    with_watchdog(Duration::from_secs(240), || run_queue_stress(1));
}

#[test]
fn oversubscribed_ring_delivers_every_item_exactly_once() {
    with_watchdog(Duration::from_secs(240), || {
        let ring = Arc::new(Ring::new(7));
        let per = ITEMS / PRODUCERS;
        let taken = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let ring = ring.clone();
                thread::spawn(move || {
                    for i in 0..per {
                        let mut item = p * per + i;
                        while let Err(back) = ring.try_push(item) {
                            item = back;
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (ring, taken) = (ring.clone(), taken.clone());
                thread::spawn(move || {
                    let mut seen = Vec::new();
                    while taken.load(Ordering::Relaxed) < per * PRODUCERS {
                        match ring.try_pop() {
                            Some(v) => {
                                taken.fetch_add(1, Ordering::Relaxed);
                                seen.push(v);
                            }
                            None => thread::yield_now(),
                        }
                    }
                    seen
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<usize> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..per * PRODUCERS).collect::<Vec<_>>());
    });
}
