//! Reading the bucket's clock: `quanta::Clock::raw`, with the TSC read inline when that is what
//! the clock reads.
//!
//! `Clock::raw` is a call into quanta that matches on the clock's kind before it executes
//! `rdtsc`; at 10–15 ns a read, the read is most of `try_acquire`, and the call around it about
//! a tenth of that. quanta does not say publicly which source a clock reads, except through its
//! `Debug` output, so [`RawClock::new`] checks two things once: the output names quanta's TSC
//! source (`Counter`, whose raw reading on x86_64 is `_rdtsc()` and nothing else), and the
//! clock's raw reading falls between two `rdtsc`s of its own. Only then does [`RawClock::raw`]
//! execute `rdtsc` itself; any other clock (the mock, the OS clock, another architecture, a
//! future quanta whose output differs) is read through `Clock::raw`. Either way the value is
//! the same: the raw reading of the clock the bucket was given.

use quanta::Clock;

/// A clock and how to read its raw ticks. See the module docs.
#[derive(Debug)]
pub(crate) struct RawClock {
    clock: Clock,
    /// `clock.raw()` is the TSC: read it inline.
    tsc: bool,
}

impl RawClock {
    pub(crate) fn new(clock: Clock) -> Self {
        let tsc = reads_the_tsc(&clock);
        Self { clock, tsc }
    }

    /// The clock, for its calibration.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// `clock.raw()`.
    #[inline(always)]
    pub(crate) fn raw(&self) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if self.tsc {
            // SAFETY: `rdtsc` is in every x86_64 CPU and has no preconditions; `reads_the_tsc`
            // saw `clock.raw()` execute this very instruction, so it is not disabled here.
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
        self.clock.raw()
    }
}

/// Whether `clock.raw()` is the TSC. See the module docs.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn reads_the_tsc(clock: &Clock) -> bool {
    use core::arch::x86_64::{_mm_lfence, _rdtsc};

    // `Clock { inner: Counter(..) }`: quanta's TSC source. `Mock(..)` and `Monotonic(..)` are not.
    if !format!("{clock:?}").starts_with("Clock { inner: Counter(") {
        return false;
    }
    // The fences keep the three reads in program order. Another core's TSC (a migration in
    // between) may be off by a little: three tries.
    (0..3).any(|_| {
        // SAFETY: as in `raw`: no preconditions; and quanta chose this source after checking
        // that the CPU has an invariant TSC.
        let (before, raw, after) = unsafe {
            let before = _rdtsc();
            _mm_lfence();
            let raw = clock.raw();
            _mm_lfence();
            (before, raw, _rdtsc())
        };
        before <= raw && raw <= after
    })
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn reads_the_tsc(_clock: &Clock) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mock_is_read_through_quanta() {
        let (clock, mock) = Clock::mock();
        let clock = RawClock::new(clock);
        assert!(!clock.tsc);
        mock.increment(12_345);
        assert_eq!(clock.raw(), 12_345);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // reads the real clock
    fn the_real_clock_reads_the_same_ticks_either_way() {
        let quanta = Clock::new();
        let clock = RawClock::new(quanta.clone());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(clock.tsc, format!("{quanta:?}").contains("Counter("));
        for _ in 0..1000 {
            let (a, b, c) = (quanta.raw(), clock.raw(), quanta.raw());
            // Cores' TSCs may differ by a little; 10 ms of ticks is far below a different clock.
            let slack = 10_000_000;
            assert!(a <= b + slack && b <= c + slack, "{a} {b} {c}");
        }
    }
}
