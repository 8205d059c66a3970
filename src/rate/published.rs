//! The bucket's current [`Schedule`], readable by any thread without a lock.
//!
//! # Algorithm
//! A schedule is five words, too many for one atomic, and the rate can change millions of
//! times a second (the adaptive limiter). So it is double-buffered: `slots[g & 1]` holds
//! generation `g`, and `current` says which generation is live. One thread at a time — the
//! holder of the `publishing` flag, taken by `compare_exchange`, never waited for — writes
//! generation `g + 1` into the *other* slot and then moves `current` to it.
//!
//! A reader loads `current = g`, the fields of slot `g & 1`, and `current` again, and accepts
//! the fields if it still reads `g` (a seqlock read whose sequence number is `current` itself).
//! Slot `g & 1` is rewritten only for generation `g + 2`, and that rewrite starts after
//! `current = g + 1` was stored, behind a release fence; a reader that loaded any field of the
//! rewrite therefore loads `current ≥ g + 1` after its acquire fence, and retries. So a read is
//! the fields plus two loads of one word, and retries only when two publications overtook it:
//! reading is lock-free, and a writer stopped mid-write blocks nobody (readers use the other,
//! complete slot).
//!
//! Requests and publication are separate so that a rate change never waits: a caller stores
//! the rate it wants in `requested`, then tries to take the flag. If another thread holds it,
//! that thread re-reads `requested` after releasing the flag and publishes again if it moved.
//! Both sides use `SeqCst` for this hand-off (it is the store-buffering pattern: each side
//! stores, then reads what the other stored), so no request is left unpublished.
//!
//! # Invariants
//! - P1: slot `g & 1`'s fields change only while the flag holder writes generation `g`, after
//!   a release fence that follows (in happens-before order: the flag passes it on) the store
//!   of `current = g - 1`.
//! - P2: `current = g` is stored only after slot `g & 1` holds all of generation `g`.
//! - P3: after every release of the flag, the holder publishes again if `requested` differs
//!   from the live rate, so the live rate always ends up equal to the last request.

use crossbeam_utils::CachePadded;

use super::schedule::Schedule;
use crate::sync::{fence, spin_hint, AtomicBool, AtomicU64, Ordering};

/// One buffer of the double buffer, a cache line of its own.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    t0: AtomicU64,
    tokens0: AtomicU64,
    frac0: AtomicU64,
    per_unit: AtomicU64,
    per_ns: AtomicU64,
}

impl Slot {
    fn new(s: Schedule) -> Self {
        Self {
            t0: AtomicU64::new(s.t0),
            tokens0: AtomicU64::new(s.tokens0),
            frac0: AtomicU64::new(s.frac0),
            per_unit: AtomicU64::new(s.per_unit),
            per_ns: AtomicU64::new(s.per_ns),
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Published {
    /// The live generation; slot `current & 1` holds it.
    current: AtomicU64,
    slots: [Slot; 2],
    /// Written by rate changes; kept off the lines that every `try_acquire` reads.
    request: CachePadded<Request>,
}

#[derive(Debug)]
struct Request {
    /// The last rate asked for, as `f64` bits.
    requested: AtomicU64,
    publishing: AtomicBool,
    /// The rate of the live schedule, as `f64` bits. Only the flag holder reads or writes it.
    live: AtomicU64,
}

impl Published {
    /// `initial`, built for `rate` tokens per second, is live.
    pub(crate) fn new(initial: Schedule, rate: f64) -> Self {
        Self {
            current: AtomicU64::new(0),
            slots: [Slot::new(initial), Slot::new(initial)],
            request: CachePadded::new(Request {
                requested: AtomicU64::new(rate.to_bits()),
                publishing: AtomicBool::new(false),
                live: AtomicU64::new(rate.to_bits()),
            }),
        }
    }

    /// The live schedule.
    #[inline]
    pub(crate) fn load(&self) -> Schedule {
        loop {
            // Acquire: pairs with the Release store of `current` in `publish`; makes
            // generation `generation`'s fields visible (P2).
            let generation = self.current.load(Ordering::Acquire);
            let slot = &self.slots[(generation & 1) as usize];
            let s = Schedule {
                t0: slot.t0.load(Ordering::Relaxed),             // Relaxed: validated below (P1)
                tokens0: slot.tokens0.load(Ordering::Relaxed),   // Relaxed: validated below (P1)
                frac0: slot.frac0.load(Ordering::Relaxed),       // Relaxed: validated below (P1)
                per_unit: slot.per_unit.load(Ordering::Relaxed), // Relaxed: validated below (P1)
                per_ns: slot.per_ns.load(Ordering::Relaxed),     // Relaxed: validated below (P1)
            };
            // Acquire fence: pairs with the Release fence in `publish` before a slot is
            // rewritten; if any field above came from a rewrite, the load below sees the
            // `current` stored before it, newer than `generation` (P1).
            fence(Ordering::Acquire);
            // Relaxed: ordered after the field loads by the fence above.
            if self.current.load(Ordering::Relaxed) == generation {
                return s;
            }
            // Two publications overtook us; the live generation is newer than the one we read.
            spin_hint();
        }
    }

    /// The last requested rate (tokens per second).
    pub(crate) fn requested(&self) -> f64 {
        // Relaxed: a plain read of the latest value; nothing is published with it.
        f64::from_bits(self.request.requested.load(Ordering::Relaxed))
    }

    /// Replaces the requested rate by `f(requested)`, atomically; returns the new rate (or
    /// `None` when `f` left it unchanged, in which case nothing was stored).
    pub(crate) fn update_requested(&self, mut f: impl FnMut(f64) -> f64) -> Option<f64> {
        // Relaxed: the CAS below re-validates it.
        let mut bits = self.request.requested.load(Ordering::Relaxed);
        loop {
            let next = f(f64::from_bits(bits)).to_bits();
            if next == bits {
                return None;
            }
            // SeqCst on success: the store half of the hand-off with `publish_pending` (P3).
            match self.request.requested.compare_exchange_weak(bits, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return Some(f64::from_bits(next)),
                Err(actual) => bits = actual,
            }
        }
    }

    /// Publishes the requested rate, as `rebase(live schedule, rate)`, unless another thread
    /// is publishing, in which case that thread will (P3). Never waits.
    pub(crate) fn publish_pending(&self, rebase: impl Fn(&Schedule, f64) -> Schedule) {
        let request = &*self.request;
        loop {
            // SeqCst: the load half of the hand-off with `update_requested` (P3): either we get
            // the flag, or its holder's re-read of `requested` below sees our request. Its
            // success also acquires the previous holder's release of the flag, so the last
            // `current` it stored happens before our `publish` (P1).
            if request.publishing.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return;
            }
            // SeqCst: see above.
            let wanted = request.requested.load(Ordering::SeqCst);
            // Relaxed: only flag holders touch `live`, and the flag orders them.
            if request.live.load(Ordering::Relaxed) != wanted {
                self.publish(rebase(&self.load(), f64::from_bits(wanted)));
                // Relaxed: as above.
                request.live.store(wanted, Ordering::Relaxed);
            }
            // SeqCst: release of the flag, ordered before the re-read below (P3); pairs with
            // the next holder's successful `compare_exchange` (P1).
            request.publishing.store(false, Ordering::SeqCst);
            // SeqCst: see above.
            if request.requested.load(Ordering::SeqCst) == wanted {
                return;
            }
        }
    }

    /// Writes `s` as the next generation. Only the flag holder calls this (P1).
    fn publish(&self, s: Schedule) {
        // Relaxed: only flag holders write `current`, and the flag orders them (P1).
        let generation = self.current.load(Ordering::Relaxed) + 1;
        let slot = &self.slots[(generation & 1) as usize];
        // Release fence: pairs with the Acquire fence in `load`; a reader that loads any field
        // stored below then loads `current ≥ generation - 1`, not the generation it started
        // from, and retries (P1).
        fence(Ordering::Release);
        slot.t0.store(s.t0, Ordering::Relaxed); // Relaxed: published by `current` below (P2)
        slot.tokens0.store(s.tokens0, Ordering::Relaxed); // Relaxed: published by `current` (P2)
        slot.frac0.store(s.frac0, Ordering::Relaxed); // Relaxed: published by `current` (P2)
        slot.per_unit.store(s.per_unit, Ordering::Relaxed); // Relaxed: published by `current` (P2)
        slot.per_ns.store(s.per_ns, Ordering::Relaxed); // Relaxed: published by `current` (P2)
                                                        // Release: pairs with the Acquire load of `current` in `load` (P2).
        self.current.store(generation, Ordering::Release);
    }
}
