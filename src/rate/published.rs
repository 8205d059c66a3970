//! The bucket's current [`Schedule`], readable by any thread without a lock.
//!
//! # Algorithm
//! A schedule is five words, too many for one atomic, and the rate can change millions of
//! times a second (the adaptive limiter). So it is double-buffered: `slots[g & 1]` holds
//! generation `g`, and `current` says which generation is live. One thread at a time — the
//! holder of the `publishing` flag, taken by `compare_exchange`, never waited for — writes
//! generation `g + 1` into the *other* slot and then moves `current` to it.
//!
//! Each slot has a `stamp`: `2g + 1` while generation `g` is being written, `2g + 2` once it
//! is complete. A reader loads `current = g`, reads the stamp, the fields, and the stamp again
//! (a seqlock read); it accepts the fields only if both stamps are `2g + 2`. The slot it reads
//! is only rewritten after *two* more publications, so a reader retries only when writers
//! made progress: reading is lock-free and a writer stopped mid-write blocks nobody (readers
//! use the other, complete slot).
//!
//! Requests and publication are separate so that a rate change never waits: a caller stores
//! the rate it wants in `requested`, then tries to take the flag. If another thread holds it,
//! that thread re-reads `requested` after releasing the flag and publishes again if it moved.
//! Both sides use `SeqCst` for this hand-off (it is the store-buffering pattern: each side
//! stores, then reads what the other stored), so no request is left unpublished.
//!
//! # Invariants
//! - P1: a slot's fields change only between its odd and its even stamp, and only by the
//!   flag holder.
//! - P2: `current = g` is stored only after slot `g & 1` was stamped complete for `g`.
//! - P3: after every release of the flag, the holder publishes again if `requested` differs
//!   from the live rate, so the live rate always ends up equal to the last request.

use super::schedule::Schedule;
use crate::sync::{fence, spin_hint, AtomicBool, AtomicU64, Ordering};

/// One buffer of the double buffer.
#[derive(Debug)]
struct Slot {
    stamp: AtomicU64,
    t0: AtomicU64,
    tokens0: AtomicU64,
    frac0: AtomicU64,
    per_ns: AtomicU64,
    rate_bits: AtomicU64,
}

impl Slot {
    fn new(stamp: u64, s: Schedule) -> Self {
        Self {
            stamp: AtomicU64::new(stamp),
            t0: AtomicU64::new(s.t0),
            tokens0: AtomicU64::new(s.tokens0),
            frac0: AtomicU64::new(s.frac0),
            per_ns: AtomicU64::new(s.per_ns),
            rate_bits: AtomicU64::new(s.rate_bits),
        }
    }
}

const fn complete(generation: u64) -> u64 {
    2 * generation + 2
}

const fn writing(generation: u64) -> u64 {
    2 * generation + 1
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Published {
    current: AtomicU64,
    slots: [Slot; 2],
    /// The last rate asked for, as `f64` bits.
    requested: AtomicU64,
    publishing: AtomicBool,
}

impl Published {
    pub(crate) fn new(initial: Schedule) -> Self {
        Self {
            current: AtomicU64::new(0),
            // Slot 1's stamp 0 matches no generation (complete stamps start at 2).
            slots: [Slot::new(complete(0), initial), Slot::new(0, initial)],
            requested: AtomicU64::new(initial.rate_bits),
            publishing: AtomicBool::new(false),
        }
    }

    /// The live schedule.
    #[inline]
    pub(crate) fn load(&self) -> Schedule {
        loop {
            // Acquire: pairs with the Release store of `current` in `publish`; by P2 the stamp
            // we read next is at least this generation's complete stamp.
            let generation = self.current.load(Ordering::Acquire);
            let slot = &self.slots[(generation & 1) as usize];
            // Acquire: pairs with the Release store of the complete stamp in `publish`; makes
            // that generation's fields visible.
            let before = slot.stamp.load(Ordering::Acquire);
            // Relaxed: validated by the stamps around them (P1).
            let s = Schedule {
                t0: slot.t0.load(Ordering::Relaxed),               // Relaxed: stamp-validated (P1)
                tokens0: slot.tokens0.load(Ordering::Relaxed),     // Relaxed: stamp-validated (P1)
                frac0: slot.frac0.load(Ordering::Relaxed),         // Relaxed: stamp-validated (P1)
                per_ns: slot.per_ns.load(Ordering::Relaxed),       // Relaxed: stamp-validated (P1)
                rate_bits: slot.rate_bits.load(Ordering::Relaxed), // Relaxed: stamp-validated (P1)
            };
            // Acquire fence: pairs with the Release fence after the odd stamp in `publish`; if
            // any field above came from a newer write, the load below sees its odd stamp.
            fence(Ordering::Acquire);
            // Relaxed: ordered after the field loads by the fence above.
            let after = slot.stamp.load(Ordering::Relaxed);
            if before == complete(generation) && after == before {
                return s;
            }
            // Two publications overtook us; the live generation is newer than the one we read.
            spin_hint();
        }
    }

    /// The last requested rate (tokens per second).
    pub(crate) fn requested(&self) -> f64 {
        // Relaxed: a plain read of the latest value; nothing is published with it.
        f64::from_bits(self.requested.load(Ordering::Relaxed))
    }

    /// Replaces the requested rate by `f(requested)`, atomically; returns the new rate (or
    /// `None` when `f` left it unchanged, in which case nothing was stored).
    pub(crate) fn update_requested(&self, mut f: impl FnMut(f64) -> f64) -> Option<f64> {
        // Relaxed: the CAS below re-validates it.
        let mut bits = self.requested.load(Ordering::Relaxed);
        loop {
            let next = f(f64::from_bits(bits)).to_bits();
            if next == bits {
                return None;
            }
            // SeqCst on success: the store half of the hand-off with `publish_pending` (P3).
            match self.requested.compare_exchange_weak(bits, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return Some(f64::from_bits(next)),
                Err(actual) => bits = actual,
            }
        }
    }

    /// Publishes the requested rate at time `now()` unless another thread is publishing, in
    /// which case that thread will (P3). Never waits.
    pub(crate) fn publish_pending(&self, now: impl Fn() -> u64) {
        loop {
            // SeqCst: the load half of the hand-off with `update_requested` (P3): either we get
            // the flag, or its holder's re-read of `requested` below sees our request.
            if self.publishing.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return;
            }
            // SeqCst: see above.
            let wanted = self.requested.load(Ordering::SeqCst);
            let live = self.load();
            if live.rate_bits != wanted {
                self.publish(live.rebased(now(), f64::from_bits(wanted)));
            }
            // SeqCst: release of the flag, ordered before the re-read below (P3).
            self.publishing.store(false, Ordering::SeqCst);
            // SeqCst: see above.
            if self.requested.load(Ordering::SeqCst) == wanted {
                return;
            }
        }
    }

    /// Writes `s` as the next generation. Only the flag holder calls this (P1).
    fn publish(&self, s: Schedule) {
        // Relaxed: only the flag holder writes `current`, and it wrote it last.
        let generation = self.current.load(Ordering::Relaxed) + 1;
        let slot = &self.slots[(generation & 1) as usize];
        // Relaxed: ordered before the field stores by the fence below.
        slot.stamp.store(writing(generation), Ordering::Relaxed);
        // Release fence: pairs with the Acquire fence in `load`; a reader that sees any field
        // stored below also sees the odd stamp, and rejects the read.
        fence(Ordering::Release);
        // Relaxed: published by the complete stamp below.
        slot.t0.store(s.t0, Ordering::Relaxed);
        slot.tokens0.store(s.tokens0, Ordering::Relaxed); // Relaxed: published by the stamp
        slot.frac0.store(s.frac0, Ordering::Relaxed); // Relaxed: published by the stamp
        slot.per_ns.store(s.per_ns, Ordering::Relaxed); // Relaxed: published by the stamp
        slot.rate_bits.store(s.rate_bits, Ordering::Relaxed); // Relaxed: published by the stamp
                                                              // Release: pairs with the Acquire stamp load in `load`; publishes the fields (P1).
        slot.stamp.store(complete(generation), Ordering::Release);
        // Release: pairs with the Acquire load of `current` in `load` (P2).
        self.current.store(generation, Ordering::Release);
    }
}
