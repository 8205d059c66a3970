//! [`Ring`]: a lock-free, bounded, multi-producer multi-consumer FIFO of fixed capacity.
//!
//! Use it directly when you want the non-blocking core only (your own waiting strategy, or
//! none); use [`BoundedQueue`](crate::BoundedQueue) for blocking, timeouts, cancellation and
//! close.
//!
//! # Algorithm
//! A sequence-stamped array (Dmitry Vyukov's bounded MPMC queue), for any capacity.
//!
//! `head` and `tail` are *positions*: a slot index in the low bits and a lap count in the high
//! bits, with one bit between them (`closed`, set only on `tail`). Advancing a position past
//! the last index clears the index and adds one lap, so positions never repeat (a 64-bit lap
//! counter does not wrap in practice) and no division is needed for any capacity.
//!
//! Every slot has a `stamp`, a position that says whose turn it is:
//! - `stamp == tail` (same lap and index): the slot is empty and the producer at `tail` may
//!   fill it;
//! - `stamp == head + 1`: the slot holds the item for the consumer at `head`.
//!
//! To push, a producer reads `tail` and the stamp of its slot. If the slot is free it claims
//! the position by CAS on `tail`, writes the value, and *publishes* it by storing
//! `stamp = tail + 1`. If the slot still holds last lap's item the ring is full (or its
//! consumer is mid-take), and `try_push` returns at once. Popping is the mirror image: claim
//! `head` by CAS, read the value, and *release* the slot for the next lap by storing
//! `stamp = head + one_lap`.
//!
//! Neither operation ever waits on another thread: a peer caught between its claim and its
//! publish makes us report "full"/"empty" for that slot at once. (Waiting is the queue's job:
//! it parks, and the peer wakes it when it finishes.) Neither reads the other side's index on
//! the way to "full"/"empty" either, except `pop` reading `tail` to tell "empty" from "closed
//! and drained": the slot's stamp alone says whether it is free. Every touch of a contended
//! line (a lost CAS, or finding that a peer already took our position) backs off briefly before
//! the next, which keeps contended threads from bouncing the cache line and lets the winner
//! run on.
//!
//! # Invariants
//! - R1: only the thread whose CAS moved `tail` past position `p` writes the slot of `p`, and
//!   only until it publishes `stamp = p + 1`.
//! - R2: only the thread whose CAS moved `head` past position `p` reads the slot of `p`, and it
//!   owns the value it moved out; it hands the slot back with `stamp = p + one_lap`.
//! - R3: slot values are initialized exactly for positions in `[head, tail)` whose stamp is
//!   `position + 1`; with `&mut self` (no operation in flight) that is all of `[head, tail)`.
//! - R4: a slot's stamp only grows (`p`, then `p + 1`, then `p + one_lap`, ...), and a position
//!   is claimed only after its slot shows the claimer's stamp. So a stamp *behind* our position
//!   proves nobody has claimed that position yet: `tail` (or `head`) has not moved past it, and
//!   "full" (or "empty") can be reported without re-reading the index.

use std::fmt;
use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{contention_backoff, AtomicUsize, Ordering, UnsafeCell};

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A lock-free bounded MPMC ring buffer. See the [module docs](self) for the algorithm.
///
/// `try_push` and `try_pop` never block, never allocate and never wait on another thread.
///
/// ```
/// use backpressure::Ring;
///
/// let ring = Ring::new(2);
/// ring.try_push('a').unwrap();
/// ring.try_push('b').unwrap();
/// assert_eq!(ring.try_push('c'), Err('c')); // full: the item comes back
/// assert_eq!(ring.try_pop(), Some('a'));
/// assert_eq!(ring.len(), 1);
/// ```
pub struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// The `closed` bit of `tail`; also one more than the largest index mask.
    closed_bit: usize,
    /// Adding `one_lap` to a position advances its lap by one.
    one_lap: usize,
}

// SAFETY: values move between threads through the ring (so `T: Send`), and every access to a
// slot's value is exclusive by R1/R2; no `&T` is ever shared, so `T: Sync` is not needed.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` only lets threads move values in and out, exclusively per slot.
unsafe impl<T: Send> Sync for Ring<T> {}

/// Why [`Ring::push`] refused an item; it hands the item back.
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// Why [`Ring::push_from`] refused an item (the item stays with the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushRefused {
    Full,
    Closed,
}

/// Why [`Ring::pop`] returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PopError {
    Empty,
    /// Closed and nothing left to take.
    Closed,
}

impl<T> Ring<T> {
    /// A ring holding at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is zero, or so large that positions would not fit in a `usize` or the
    /// slots in the address space. (A capacity that fits but exceeds available memory aborts
    /// on allocation failure, as `Vec::with_capacity` does.)
    ///
    /// ```
    /// let ring = backpressure::Ring::<u64>::new(1000); // not a power of two: fine
    /// assert_eq!(ring.capacity(), 1000);
    /// ```
    pub fn new(capacity: usize) -> Self {
        let closed_bit = Self::closed_bit_for(capacity).unwrap_or_else(|why| panic!("Ring capacity {why}"));
        crate::sync::warm_up();
        let slots = (0..capacity)
            .map(|i| Slot { stamp: AtomicUsize::new(i), value: UnsafeCell::new(MaybeUninit::uninit()) })
            .collect();
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            closed_bit,
            one_lap: closed_bit * 2,
        }
    }

    /// The `closed` bit of a ring of `capacity` (one above the largest index mask), or why no
    /// such ring can exist: zero, positions that would not fit a `usize`, or slots that would
    /// not fit the address space. The one capacity check, shared with `QueueBuilder::build`.
    pub(crate) fn closed_bit_for(capacity: usize) -> Result<usize, String> {
        if capacity == 0 {
            return Err("must be at least 1, got 0".into());
        }
        let fits_memory =
            capacity.checked_mul(std::mem::size_of::<Slot<T>>()).is_some_and(|b| b <= isize::MAX as usize);
        capacity
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .filter(|bit| *bit <= usize::MAX / 4 && fits_memory)
            .ok_or_else(|| format!("{capacity} is too large"))
    }

    /// Adds `item` at the back, or gives it back if the ring is full.
    ///
    /// "Full" also covers the moment when the oldest item has been claimed by a consumer that
    /// has not finished taking it (the ring never waits for that consumer).
    ///
    /// # Errors
    /// `Err(item)` when there is no free slot.
    ///
    /// ```
    /// let ring = backpressure::Ring::new(1);
    /// assert_eq!(ring.try_push(1), Ok(()));
    /// assert_eq!(ring.try_push(2), Err(2));
    /// ```
    pub fn try_push(&self, item: T) -> Result<(), T> {
        match self.push(item) {
            Ok(_) => Ok(()),
            Err(PushError::Full(item) | PushError::Closed(item)) => Err(item),
        }
    }

    /// Takes the item at the front, or `None` if the ring is empty (or its next item is still
    /// being written by a producer that has claimed but not published it).
    ///
    /// ```
    /// let ring = backpressure::Ring::new(4);
    /// assert_eq!(ring.try_pop(), None::<u8>);
    /// ring.try_push(7u8).unwrap();
    /// assert_eq!(ring.try_pop(), Some(7));
    /// ```
    pub fn try_pop(&self) -> Option<T> {
        self.pop().ok()
    }

    /// The maximum number of items.
    ///
    /// ```
    /// assert_eq!(backpressure::Ring::<()>::new(3).capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The number of items, as of one consistent reading of head and tail.
    ///
    /// ```
    /// let ring = backpressure::Ring::new(3);
    /// ring.try_push(()).unwrap();
    /// assert_eq!(ring.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            // Relaxed (three loads): a snapshot; re-reading `tail` detects a push in between.
            let tail = self.tail.load(Ordering::Relaxed);
            let head = self.head.load(Ordering::Relaxed); // Relaxed: snapshot (see above)
                                                          // Relaxed: re-reading `tail` detects a push between the two loads.
            if self.tail.load(Ordering::Relaxed) == tail {
                // Relaxed: detects a push in between
                let len = self.count_of(tail).wrapping_sub(self.count_of(head));
                return len.min(self.capacity());
            }
        }
    }

    /// Whether the ring holds no items.
    ///
    /// ```
    /// assert!(backpressure::Ring::<u8>::new(1).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` items.
    ///
    /// ```
    /// let ring = backpressure::Ring::new(1);
    /// ring.try_push(0).unwrap();
    /// assert!(ring.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    // ---- crate-internal steps used by `BoundedQueue` ----

    /// `try_push` that tells "full" from "closed"; on success returns the claimed position.
    /// The item travels by value: for one-shot callers, which hand a refused item back anyway.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<usize, PushError<T>> {
        match self.claim() {
            Ok((slot, position)) => {
                // SAFETY: R1, `claim` moved `tail` past `position`; the slot is ours to write.
                unsafe { self.publish(slot, position, item) };
                Ok(position)
            }
            Err(PushRefused::Full) => Err(PushError::Full(item)),
            Err(PushRefused::Closed) => Err(PushError::Closed(item)),
        }
    }

    /// [`push`](Self::push) for a caller that retries (a blocked submitter): the item is moved
    /// out of `item` only into the slot this call claimed, and a refused item stays where it
    /// is, so a large `T` is not moved back and forth on every attempt.
    ///
    /// # Panics
    /// If `item` is `None`; checked before anything is claimed.
    #[inline]
    pub(crate) fn push_from(&self, item: &mut Option<T>) -> Result<usize, PushRefused> {
        assert!(item.is_some(), "push_from needs an item");
        let (slot, position) = self.claim()?;
        // Cannot fail: checked above, and `item` is ours alone (`&mut`).
        let Some(value) = item.take() else { unreachable!("checked before the claim") };
        // SAFETY: R1, `claim` moved `tail` past `position`; the slot is ours to write.
        unsafe { self.publish(slot, position, value) };
        Ok(position)
    }

    /// Claims the slot at the back: moves `tail` past its position (R1) and returns the slot
    /// and the position, which the caller must then `publish` without fail (nothing between
    /// the two may panic, or the slot would stay claimed forever).
    #[inline(always)]
    fn claim(&self) -> Result<(&Slot<T>, usize), PushRefused> {
        // Relaxed: a starting guess; the CAS in `claim_tail` validates it.
        let mut tail = self.tail.load(Ordering::Relaxed);
        let mut lost = 0;
        loop {
            if tail & self.closed_bit != 0 {
                return Err(PushRefused::Closed);
            }
            let slot = &self.slots[self.index_of(tail)];
            // Acquire: pairs with the Release in `pop` that handed the slot back, so our write
            // below happens after the previous lap's read of the value.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.claim_tail(tail) {
                    Ok(()) => return Ok((slot, tail)),
                    Err(now) => {
                        contention_backoff(lost);
                        lost += 1;
                        tail = now;
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // Last lap's item is still here: the ring is full (or that item's consumer has
                // claimed it and is mid-take). By R4 `tail` has not moved on.
                return Err(PushRefused::Full);
            } else {
                // Another producer claimed `tail` first (its item is here or being written), or
                // a producer of the previous lap is still writing this slot (the ring is full).
                // Either way we touched a contended line: back off as after a lost CAS.
                contention_backoff(lost);
                lost += 1;
                // Relaxed: only compared with our own reading; if another producer published this
                // position, its CAS happened before the stamp we acquired, so we see it moved.
                let now = self.tail.load(Ordering::Relaxed);
                if now == tail {
                    return Err(PushRefused::Full);
                }
                tail = now;
            }
        }
    }

    /// Moves `tail` past `tail`, claiming its slot (R1); on failure returns the current tail.
    #[inline]
    fn claim_tail(&self, tail: usize) -> Result<(), usize> {
        let next = self.next_position(tail);
        // Relaxed (both): the claim orders nothing by itself; the slot's contents are ordered by
        // its stamp (Acquire above, Release in `publish`).
        self.tail.compare_exchange_weak(tail, next, Ordering::Relaxed, Ordering::Relaxed).map(|_| ())
    }

    /// Writes the value and hands the slot to the consumer of `position`.
    ///
    /// # Safety
    /// The caller claimed `position` (R1).
    #[inline]
    unsafe fn publish(&self, slot: &Slot<T>, position: usize, item: T) {
        // SAFETY: R1, no other thread touches the value until the stamp store below.
        slot.value.with_mut(|value| unsafe { (*value).write(item) });
        // Release: publishes the value to the consumer's Acquire load of `stamp` in `pop`.
        slot.stamp.store(position.wrapping_add(1), Ordering::Release);
    }

    /// `try_pop` that tells "empty" from "closed and drained".
    #[inline]
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        // Relaxed: a starting guess; the CAS in `claim_head` validates it.
        let mut head = self.head.load(Ordering::Relaxed);
        let mut lost = 0;
        loop {
            let slot = &self.slots[self.index_of(head)];
            // Acquire: pairs with the Release in `publish`, so the value is visible to us.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(1) {
                match self.claim_head(head) {
                    // SAFETY: R2, our CAS claimed position `head`, whose value is published.
                    Ok(()) => return Ok(unsafe { self.take(slot, head) }),
                    Err(now) => {
                        contention_backoff(lost);
                        lost += 1;
                        head = now;
                    }
                }
            } else if stamp == head {
                // Nothing published for `head` yet: the ring is empty (or the producer of `head`
                // has claimed it and is mid-write). By R4 `head` has not moved on.
                return Err(self.empty_or_closed(head));
            } else {
                // Another consumer took `head` first (the slot is handed back or refilled), or a
                // consumer of the previous lap is still reading this slot. Either way we touched a
                // contended line: back off as after a lost CAS.
                contention_backoff(lost);
                lost += 1;
                // Relaxed: only compared with our own reading, as in `push`.
                let now = self.head.load(Ordering::Relaxed);
                if now == head {
                    return Err(self.empty_or_closed(head));
                }
                head = now;
            }
        }
    }

    /// Moves `head` past `head`, claiming its slot (R2); on failure returns the current head.
    #[inline]
    fn claim_head(&self, head: usize) -> Result<(), usize> {
        let next = self.next_position(head);
        // Relaxed (both): as in `claim_tail`, the stamps order the slot's contents.
        self.head.compare_exchange_weak(head, next, Ordering::Relaxed, Ordering::Relaxed).map(|_| ())
    }

    /// Moves the value out and hands the slot to the producer of the next lap.
    ///
    /// # Safety
    /// The caller claimed `position` and saw its published stamp (R2).
    #[inline]
    unsafe fn take(&self, slot: &Slot<T>, position: usize) -> T {
        // SAFETY: R2 and R3, the value is initialized and no one else reads it.
        let item = slot.value.with(|value| unsafe { (*value).assume_init_read() });
        // Release: pairs with the producer's Acquire load of `stamp` in `push`, so its write of
        // the next lap's value happens after our read.
        slot.stamp.store(position.wrapping_add(self.one_lap), Ordering::Release);
        item
    }

    /// Called when the slot at `head` is unpublished and `head` did not move.
    fn empty_or_closed(&self, head: usize) -> PopError {
        // Acquire: pairs with the AcqRel `fetch_or` in `close`; a push that claimed a position
        // before the close is either visible as `tail != head` here or already popped.
        let tail = self.tail.load(Ordering::Acquire);
        if tail & self.closed_bit != 0 && tail & !self.closed_bit == head {
            PopError::Closed
        } else {
            PopError::Empty
        }
    }

    /// Marks the ring closed: every later push fails with `Closed`. Returns `true` for the call
    /// that closed it.
    pub(crate) fn close(&self) -> bool {
        // AcqRel: Release orders the close after every push that claimed a position before it
        // (they are earlier in `tail`'s modification order); pairs with the Acquire in
        // `empty_or_closed`.
        let before = self.tail.fetch_or(self.closed_bit, Ordering::AcqRel);
        before & self.closed_bit == 0
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        // Relaxed: a status reading; pushes and pops re-check the bit on `tail` itself.
        self.tail.load(Ordering::Relaxed) & self.closed_bit != 0
    }

    /// How many items have ever been pushed (`tail`) or popped (`head`): `(pushed, popped)`.
    pub(crate) fn totals(&self) -> (u64, u64) {
        // Relaxed (both): statistics.
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Relaxed); // Relaxed: statistic
        (self.count_of(tail) as u64, self.count_of(head) as u64)
    }

    /// The depth just after the push that claimed `position`, by a fresh reading of `head`
    /// (consumers racing ahead can only make it read lower). Reading `head` costs a cache miss
    /// on the consumers' line, so callers sample it (see [`Ring::is_depth_sample`]).
    #[inline]
    pub(crate) fn depth_after(&self, position: usize) -> usize {
        // Relaxed: a statistic.
        let head = self.head.load(Ordering::Relaxed);
        (self.count_of(position) + 1).saturating_sub(self.count_of(head))
    }

    /// Whether the push that claimed `position` is one of the 1-in-32 whose depth is sampled.
    #[inline(always)]
    pub(crate) fn is_depth_sample(&self, position: usize) -> bool {
        self.count_of(position) % 32 == 0
    }

    #[inline(always)]
    fn index_of(&self, position: usize) -> usize {
        position & (self.closed_bit - 1)
    }

    /// The position after `position`: next index, or index 0 of the next lap.
    #[inline(always)]
    fn next_position(&self, position: usize) -> usize {
        let index = self.index_of(position);
        if index + 1 < self.slots.len() {
            position + 1
        } else {
            (position & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Items pushed (or popped) before `position`: laps × capacity + index.
    #[inline(always)]
    fn count_of(&self, position: usize) -> usize {
        let laps = position / self.one_lap;
        laps.wrapping_mul(self.slots.len()).wrapping_add(self.index_of(position))
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // No operation is in flight (`&mut self`), so R3: exactly `[head, tail)` is initialized.
        // Relaxed (both): `&mut self` already orders every earlier operation before us.
        let end = self.tail.load(Ordering::Relaxed) & !self.closed_bit;
        let position = self.head.load(Ordering::Relaxed); // Relaxed: &mut self orders all
        let mut rest = DropRest { ring: self, position, end };
        while rest.drop_next() {}
    }
}

/// The items of a ring being dropped, front first. If an item's `Drop` panics, unwinding drops
/// this guard, which drops the items after it (as `Vec` does), so none is leaked.
struct DropRest<'a, T> {
    ring: &'a Ring<T>,
    position: usize,
    end: usize,
}

impl<T> DropRest<'_, T> {
    /// Drops the next item; `false` when none is left.
    fn drop_next(&mut self) -> bool {
        if self.position == self.end {
            return false;
        }
        let slot = &self.ring.slots[self.ring.index_of(self.position)];
        // Advance first: a panic in this item's `Drop` must not make the guard drop it again.
        self.position = self.ring.next_position(self.position);
        // SAFETY: R3, this value is initialized, and `position` has moved past it, so nothing
        // will read or drop it again.
        slot.value.with_mut(|value| unsafe { (*value).assume_init_drop() });
        true
    }
}

impl<T> Drop for DropRest<'_, T> {
    fn drop(&mut self) {
        while self.drop_next() {}
    }
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring").field("len", &self.len()).field("capacity", &self.capacity()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::sync::Arc;

    /// Counts its drops in a shared counter.
    struct Counted(Arc<StdAtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed); // Relaxed: a test counter
        }
    }

    fn drops_after(capacity: usize, pushes: usize, pops: usize) -> usize {
        let drops = Arc::new(StdAtomicUsize::new(0));
        let ring = Ring::new(capacity);
        let mut pushed = 0;
        for _ in 0..pushes {
            if ring.try_push(Counted(drops.clone())).is_ok() {
                pushed += 1;
            }
        }
        for _ in 0..pops {
            drop(ring.try_pop());
        }
        drop(ring);
        // Relaxed: a test counter, read after the joins.
        assert_eq!(drops.load(std::sync::atomic::Ordering::Relaxed), pushes, "{pushed} pushed");
        pushes
    }

    #[test]
    fn fifo_order_across_many_laps() {
        let ring = Ring::new(3);
        for i in 0..100 {
            ring.try_push(i).unwrap();
            ring.try_push(i + 1000).unwrap();
            assert_eq!(ring.try_pop(), Some(i));
            assert_eq!(ring.try_pop(), Some(i + 1000));
        }
        assert!(ring.is_empty());
    }

    #[test]
    fn full_ring_returns_the_item() {
        let ring = Ring::new(2);
        ring.try_push("a").unwrap();
        ring.try_push("b").unwrap();
        assert!(ring.is_full());
        assert_eq!(ring.try_push("c"), Err("c"));
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn capacity_one_alternates() {
        let ring = Ring::new(1);
        for i in 0..10 {
            ring.try_push(i).unwrap();
            assert_eq!(ring.try_push(99), Err(99));
            assert_eq!(ring.try_pop(), Some(i));
            assert_eq!(ring.try_pop(), None);
        }
    }

    #[test]
    fn drop_drops_each_remaining_item_once() {
        drops_after(4, 4, 0); // full
        drops_after(4, 2, 0); // half full
        drops_after(4, 6, 0); // overfull: rejected items dropped by the caller
        drops_after(3, 3, 2); // after pops
        drops_after(1, 1, 1); // empty
    }

    #[test]
    fn drop_after_wrap_around_drops_each_item_once() {
        let drops = Arc::new(StdAtomicUsize::new(0));
        let ring = Ring::new(3);
        for _ in 0..7 {
            ring.try_push(Counted(drops.clone())).ok().unwrap();
            drop(ring.try_pop());
        }
        ring.try_push(Counted(drops.clone())).ok().unwrap();
        ring.try_push(Counted(drops.clone())).ok().unwrap();
        drop(ring);
        // Relaxed: a test counter, read after the joins.
        assert_eq!(drops.load(std::sync::atomic::Ordering::Relaxed), 9);
    }

    #[test]
    fn zero_sized_items() {
        let ring = Ring::new(5);
        for _ in 0..5 {
            ring.try_push(()).unwrap();
        }
        assert_eq!(ring.try_push(()), Err(()));
        assert_eq!(ring.len(), 5);
        for _ in 0..5 {
            assert_eq!(ring.try_pop(), Some(()));
        }
        assert_eq!(ring.try_pop(), None);
    }

    #[test]
    fn closed_ring_refuses_pushes_and_drains() {
        let ring = Ring::new(2);
        ring.try_push(1).unwrap();
        assert!(ring.close());
        assert!(!ring.close());
        let mut two = Some(2);
        assert_eq!(ring.push_from(&mut two), Err(PushRefused::Closed));
        assert_eq!(two, Some(2), "a refused item stays with the caller");
        assert_eq!(ring.pop(), Ok(1));
        assert_eq!(ring.pop(), Err(PopError::Closed));
    }

    #[test]
    fn totals_count_across_laps() {
        let ring = Ring::new(3);
        for i in 0..10 {
            ring.try_push(i).unwrap();
            ring.try_pop().unwrap();
        }
        ring.try_push(0).unwrap();
        assert_eq!(ring.totals(), (11, 10));
    }

    #[test]
    #[should_panic(expected = "at least 1")]
    fn zero_capacity_panics_with_a_clear_message() {
        let _ = Ring::<u8>::new(0);
    }

    #[test]
    #[should_panic(expected = "too large")]
    fn absurd_capacity_panics_with_a_clear_message() {
        let _ = Ring::<()>::new(usize::MAX);
    }

    #[test]
    fn two_threads_pass_every_item_once() {
        let ring = Arc::new(Ring::new(4));
        let n = if cfg!(miri) { 200 } else { 20_000 };
        let producer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    let mut item = i;
                    while let Err(back) = ring.try_push(item) {
                        item = back;
                        std::thread::yield_now();
                    }
                }
            })
        };
        let mut next = 0;
        while next < n {
            match ring.try_pop() {
                Some(v) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
    }
}
