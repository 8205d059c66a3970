//! Loom models of `Ring`: every interleaving of small rings with wrap-around delivers each item
//! exactly once, in per-producer FIFO order, and drops leftovers exactly once.
#![cfg(backpressure_loom)]

use backpressure::Ring;
use loom::sync::Arc;
use loom::thread;

/// A ring of capacity 2 whose positions start at 1, so the next two pushes wrap around the
/// end of the slot array into the next lap.
fn ring_about_to_wrap() -> Arc<Ring<usize>> {
    let ring = Arc::new(Ring::new(2));
    ring.try_push(usize::MAX).unwrap();
    assert_eq!(ring.try_pop(), Some(usize::MAX));
    ring
}

/// Pushes each item once; returns the refused ones (models never spin-wait on each other).
fn push_each(ring: &Ring<usize>, items: impl IntoIterator<Item = usize>) -> Vec<usize> {
    items.into_iter().filter_map(|item| ring.try_push(item).err()).collect()
}

/// Everything still in the ring, front first.
fn drain(ring: &Ring<usize>) -> Vec<usize> {
    std::iter::from_fn(|| ring.try_pop()).collect()
}

#[test]
fn two_producers_one_consumer_capacity_two_wraps_around() {
    loom::model(|| {
        let ring = ring_about_to_wrap();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let ring = ring.clone();
                thread::spawn(move || push_each(&ring, [p * 10, p * 10 + 1]))
            })
            .collect();
        let mut got: Vec<usize> = (0..2).filter_map(|_| ring.try_pop()).collect();
        let refused: Vec<usize> = producers.into_iter().flat_map(|p| p.join().unwrap()).collect();
        got.extend(drain(&ring));
        // Per-producer FIFO among what was accepted, and every item exactly once somewhere.
        for p in 0..2 {
            let from_p: Vec<usize> = got.iter().copied().filter(|v| v / 10 == p).collect();
            assert!(from_p.windows(2).all(|w| w[0] < w[1]), "FIFO broken: {got:?}");
        }
        let mut all: Vec<usize> = got.into_iter().chain(refused).collect();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 10, 11]);
    });
}

#[test]
fn one_producer_two_consumers_capacity_two_wraps_around() {
    loom::model(|| {
        let ring = ring_about_to_wrap();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = ring.clone();
                thread::spawn(move || (0..2).filter_map(|_| ring.try_pop()).collect::<Vec<_>>())
            })
            .collect();
        let refused = push_each(&ring, 0..3);
        let taken: Vec<Vec<usize>> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        for got in &taken {
            assert!(got.windows(2).all(|w| w[0] < w[1]), "a consumer saw items out of order: {got:?}");
        }
        let mut all: Vec<usize> = taken.into_iter().flatten().collect();
        all.extend(drain(&ring));
        all.extend(refused);
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2]);
    });
}

#[test]
fn concurrent_push_and_pop_on_capacity_one_never_duplicates() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(1));
        ring.try_push(1).unwrap();
        let popper = {
            let ring = ring.clone();
            thread::spawn(move || ring.try_pop())
        };
        let pushed = ring.try_push(2).is_ok();
        let popped = popper.join().unwrap();
        assert_eq!(popped, Some(1));
        let rest = ring.try_pop();
        assert_eq!(rest, if pushed { Some(2) } else { None });
    });
}

#[test]
fn drop_releases_every_leftover_once() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(2));
        let item = Arc::new(());
        let producer = {
            let ring = ring.clone();
            let item = item.clone();
            thread::spawn(move || {
                let _ = ring.try_push(item.clone());
                let _ = ring.try_push(item);
            })
        };
        let _ = ring.try_pop();
        producer.join().unwrap();
        drop(ring);
        // Every clone is gone: pushed ones dropped by the ring, refused ones by the caller.
        assert_eq!(Arc::strong_count(&item), 1);
    });
}
