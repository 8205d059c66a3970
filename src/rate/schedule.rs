//! The arithmetic of the token schedule: clock time ↔ tokens, in exact fixed point.
//!
//! A [`Schedule`] is one straight line "tokens earned by clock reading `t`" with slope
//! `per_unit` (tokens per time unit as a 1.63 fixed-point fraction, rounded *up*), anchored at
//! `(t0, tokens0 + frac0)`. `at(t)` is its floor. Because the line is anchored once and
//! evaluated from the anchor (never advanced step by step), rounding cannot accumulate: after
//! `d` units since the anchor the error is below `d / 2^63` tokens, i.e. under one token in 292
//! years, and it only ever makes a token due up to that much *earlier*, never later (slope
//! rounded up).
//!
//! Changing the rate re-anchors the line at the change time with the exact position there
//! (whole tokens in `tokens0`, the fraction in `frac0`), so a change neither loses nor
//! invents partial progress.
//!
//! # Time
//! `t` is the clock's *raw* reading (`quanta::Clock::raw`: TSC ticks, or nanoseconds for the
//! OS clock and the mock), so the hot path never scales a reading to nanoseconds. A
//! [`TimeBase`] says how long a tick is: a *unit* is `2^-shift` ticks, `shift` the least that
//! makes a unit at most a nanosecond (0 unless the counter runs below 1 GHz), and the slope is
//! `per_ns` (the rate in tokens per nanosecond, exact from the `f64`) times the clock's own
//! calibration (nanoseconds per unit), rounded up. With the mock or the OS clock a unit *is* a
//! nanosecond and `per_unit == per_ns` exactly, so every nanosecond-exact property (no drift at
//! 3/s over an hour, one token per 100 ns at 10⁷/s, `retry_after` to the nanosecond) holds as
//! written. With the TSC it holds in the clock's own nanoseconds, up to its calibration.
//!
//! Waits (`retry_after`, `acquire`'s sleep) are token shortfalls divided by `per_ns`: in
//! nanoseconds, never longer than the tick-based schedule needs (its slope is rounded up).
//!
//! Readings before the anchor (a clock that stepped back) count backwards from it. Token
//! counts are offset by [`TOKEN_BIAS`] so that they stay positive under such steps.

use quanta::Clock;

/// Fraction bits of the fixed-point numbers.
pub(crate) const SHIFT: u32 = 63;
/// One token in fixed point.
const ONE: i128 = 1 << SHIFT;
/// The fraction bits of a fixed-point token count.
const FRAC_MASK: u64 = (1 << SHIFT) - 1;
/// Tokens earned by the origin: keeps every token position positive under steps back.
pub(crate) const TOKEN_BIAS: u64 = 1 << 62;
/// Spans are clamped to this many units (146 years of nanoseconds), so no product overflows.
const MAX_SPAN: u64 = 1 << 62;
/// Fraction bits of [`TimeBase::ns_per_unit`].
const RATIO_BITS: u32 = 56;

/// Lowest accepted rate, tokens per second (one token per 11.6 days).
pub const MIN_RATE: f64 = 1e-6;
/// Highest accepted rate, tokens per second: one token per nanosecond, the clock's resolution.
pub const MAX_RATE: f64 = 1e9;

/// How long a raw clock tick is. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeBase {
    /// A unit is `2^-shift` ticks.
    shift: u32,
    /// The longest span, in ticks, that the fast path of [`Schedule::at`] takes.
    max_span: u64,
    /// Nanoseconds per unit, `0.56` fixed point, at most 1 (`2^56`).
    ns_per_unit: u64,
}

impl TimeBase {
    /// A unit of one nanosecond: the mock clock and the OS clock.
    #[cfg(test)]
    pub(crate) const NANOS: Self = Self { shift: 0, max_span: MAX_SPAN, ns_per_unit: 1 << RATIO_BITS };

    /// The time base of `clock`'s raw readings, from its own calibration: `delta_as_nanos` of
    /// a power-of-two tick count is exactly its scale factor (quanta multiplies by a factor and
    /// shifts right), and is the identity for the mock and the OS clock.
    pub(crate) fn of(clock: &Clock) -> Self {
        Self::from_nanos_in(|ticks| clock.delta_as_nanos(0, ticks))
    }

    /// The time base of a clock for which `ticks` ticks last `nanos_in(ticks)` nanoseconds.
    fn from_nanos_in(nanos_in: impl Fn(u64) -> u64) -> Self {
        // Nanoseconds in 2^32 ticks: ticks up to 2^32 ns long can be measured this way.
        let probe = nanos_in(1 << 32).max(1);
        let ns_per_tick_ceil = probe.div_ceil(1 << 32); // ≥ 1
                                                        // The least `shift` with `ns_per_tick ≤ 2^shift`.
        let shift = (u64::BITS - (ns_per_tick_ceil - 1).leading_zeros()).min(32);
        // ns per tick · 2^(56 - shift) = ns per unit · 2^56 ≤ 2^56.
        let ns_per_unit = nanos_in(1 << (RATIO_BITS - shift)).clamp(1, 1 << RATIO_BITS);
        Self { shift, max_span: MAX_SPAN >> shift, ns_per_unit }
    }

    /// The slope in tokens per unit for `per_ns` tokens per nanosecond, rounded up.
    fn per_unit(&self, per_ns: u64) -> u64 {
        let scaled = (u128::from(per_ns) * u128::from(self.ns_per_unit)).div_ceil(1 << RATIO_BITS);
        scaled.clamp(1, u128::from(u64::MAX)) as u64
    }
}

/// One straight piece of the "tokens earned" line. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Anchor time (a raw clock reading).
    pub(crate) t0: u64,
    /// Whole tokens earned at `t0` (biased).
    pub(crate) tokens0: u64,
    /// Fraction of a token earned at `t0`, in `[0, 2^63)`.
    pub(crate) frac0: u64,
    /// Tokens per time unit, 1.63 fixed point, rounded up; at least 1.
    pub(crate) per_unit: u64,
    /// Tokens per nanosecond, 1.63 fixed point, rounded up; at least 1. Waits use it.
    pub(crate) per_ns: u64,
}

impl Schedule {
    /// A line of `rate` tokens per second starting at clock reading `origin`.
    pub(crate) fn new(rate: f64, origin: u64, time: &TimeBase) -> Self {
        let per_ns = per_ns_fixed(rate);
        Self { t0: origin, tokens0: TOKEN_BIAS, frac0: 0, per_unit: time.per_unit(per_ns), per_ns }
    }

    /// Whole tokens earned by `t` (biased).
    #[inline]
    pub(crate) fn tokens_at(&self, t: u64, time: &TimeBase) -> u64 {
        self.at(t, time).0
    }

    /// Whole tokens earned by clock reading `t` (biased) and the fraction of the next one
    /// (fixed point).
    #[inline]
    pub(crate) fn at(&self, t: u64, time: &TimeBase) -> (u64, u64) {
        match self.at_fast(t, time) {
            Some((whole, low)) => (whole, frac(low)),
            None => self.at_slow(t, time),
        }
    }

    /// [`at`](Self::at) in the usual case, time at or after the anchor and within 146 years
    /// of it: one 64×64→128 multiplication. `None` otherwise. The second value holds the
    /// fraction in its low 63 bits, with a stray bit above them: [`frac`] clears it, when the
    /// fraction is needed at all.
    #[inline(always)]
    pub(crate) fn at_fast(&self, t: u64, time: &TimeBase) -> Option<(u64, u64)> {
        // Before the anchor the difference wraps to more than `max_span` (≤ 2^62): one test.
        let span = t.wrapping_sub(self.t0);
        if span > time.max_span {
            return None;
        }
        // span·2^shift ≤ 2^62, per_unit < 2^64, frac0 < 2^63: no overflow, and the whole part
        // is < 2^63.
        let position = u128::from(span << time.shift) * u128::from(self.per_unit) + u128::from(self.frac0);
        let whole = self.tokens0.saturating_add((position >> SHIFT) as u64);
        // The low word: the fraction below bit 63 (see `frac`).
        Some((whole, position as u64))
    }

    #[cold]
    fn at_slow(&self, t: u64, time: &TimeBase) -> (u64, u64) {
        // |t - t0| < 2^64 and shift ≤ 32: the span in units fits an i128 before the clamp.
        let span = ((i128::from(t) - i128::from(self.t0)) << time.shift).clamp(-(MAX_SPAN as i128), MAX_SPAN as i128);
        // |span| ≤ 2^62 and per_unit < 2^64: the product stays below 2^126.
        let position = i128::from(self.frac0) + span * i128::from(self.per_unit);
        // `>>` on a signed value floors, also before the anchor; the fraction is then ≥ 0.
        let whole = (i128::from(self.tokens0) + (position >> SHIFT)).clamp(0, i128::from(u64::MAX)) as u64;
        (whole, (position & (ONE - 1)) as u64)
    }

    /// Fixed-point tokens still to earn, from the point `(whole, frac)` returned by `at`,
    /// until `whole` reaches `target` (0 when it has). Divided by `per_ns`, rounding up, it is
    /// the wait: see [`wait_nanos`].
    #[inline]
    pub(crate) fn shortfall((whole, frac): (u64, u64), target: u64) -> u128 {
        match target.checked_sub(whole) {
            None | Some(0) => 0,
            // `missing` whole tokens minus the fraction of the next one we already have.
            Some(missing) => (u128::from(missing) << SHIFT) - u128::from(frac),
        }
    }

    /// Nanoseconds from `t` until `tokens_at` reaches `target`: the least `d` with
    /// `tokens_at(t + d) >= target` (0 when it already has), for a nanosecond time base.
    #[cfg(test)]
    fn nanos_until(&self, target: u64, t: u64) -> u128 {
        wait_nanos(Self::shortfall(self.at(t, &TimeBase::NANOS), target), self.per_ns)
    }

    /// The same position at clock reading `t`, continuing at `rate` from there.
    pub(crate) fn rebased(&self, t: u64, rate: f64, time: &TimeBase) -> Self {
        let (whole, frac) = self.at(t, time);
        let per_ns = per_ns_fixed(rate);
        Self { t0: t, tokens0: whole, frac0: frac, per_unit: time.per_unit(per_ns), per_ns }
    }

    /// Whole tokens earned in one millisecond, plus one: how far a clock may lag (cores whose
    /// counters differ, a sleeper woken a hair early) before the bucket treats it as a step back.
    pub(crate) fn slack(&self) -> u64 {
        ((u128::from(self.per_ns) * 1_000_000) >> SHIFT) as u64 + 1
    }
}

/// The fraction in the low word of a fixed-point position.
#[inline]
pub(crate) fn frac(low: u64) -> u64 {
    low & FRAC_MASK
}

/// Nanoseconds to earn `shortfall` (fixed point) at `per_ns`, rounded up.
#[inline]
pub(crate) fn wait_nanos(shortfall: u128, per_ns: u64) -> u128 {
    // One or two tokens short (the usual refusal) fits a 64-bit division.
    match u64::try_from(shortfall) {
        Ok(shortfall) => u128::from(shortfall.div_ceil(per_ns)),
        Err(_) => shortfall.div_ceil(u128::from(per_ns)),
    }
}

/// `rate` tokens per second as tokens per nanosecond in 1.63 fixed point, rounded up, computed
/// exactly from the `f64`'s bits (so 3/s is `ceil(3·2^63/10^9)`, not a float approximation).
/// `rate` must be within `[MIN_RATE, MAX_RATE]`.
pub(crate) fn per_ns_fixed(rate: f64) -> u64 {
    debug_assert!((MIN_RATE..=MAX_RATE).contains(&rate));
    let bits = rate.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    // rate = m · 2^e exactly (normal numbers only: MIN_RATE is far above the subnormals).
    let (m, e) = (u128::from(mantissa | (1 << 52)), exp_bits - 1075);
    let shift = e + SHIFT as i32; // per_ns = m · 2^shift / 10^9
    let value = if shift >= 0 {
        // m < 2^53 and rate ≤ 2^30, so m · 2^shift < 2^94.
        (m << shift).div_ceil(1_000_000_000)
    } else {
        m.div_ceil(1_000_000_000u128 << (-shift).min(64))
    };
    value.clamp(1, u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;
    /// The anchor of the test lines, far from 0 so that time can step back from it.
    const T0: u64 = 1 << 62;
    const NS: TimeBase = TimeBase::NANOS;

    fn line(rate: f64) -> Schedule {
        Schedule::new(rate, T0, &NS)
    }

    #[test]
    fn per_ns_is_exact_and_rounded_up() {
        assert_eq!(per_ns_fixed(1e9), 1 << 63);
        assert_eq!(per_ns_fixed(1.0), ((1u128 << 63).div_ceil(1_000_000_000)) as u64);
        assert_eq!(per_ns_fixed(3.0), ((3u128 << 63).div_ceil(1_000_000_000)) as u64);
        assert_eq!(per_ns_fixed(0.5), ((1u128 << 62).div_ceil(1_000_000_000)) as u64);
        assert!(per_ns_fixed(MIN_RATE) >= 9223);
    }

    #[test]
    fn the_mock_and_the_os_clock_tick_in_nanoseconds() {
        assert_eq!(TimeBase::of(&Clock::mock().0), NS);
        assert_eq!(TimeBase::from_nanos_in(|ticks| ticks), NS);
        for rate in [MIN_RATE, 1.0, 3.0, 1e7, MAX_RATE] {
            assert_eq!(line(rate).per_unit, line(rate).per_ns, "rate {rate}");
        }
    }

    /// A counter that quanta calibrated as `factor / 2^32` nanoseconds per tick.
    fn counter(factor: u64) -> impl Fn(u64) -> u64 {
        move |ticks| ((u128::from(ticks) * u128::from(factor)) >> 32) as u64
    }

    #[test]
    fn a_tsc_tick_scales_the_slope_by_the_calibration() {
        // 3 GHz: a hair over 1/3 ns per tick.
        let factor = (1u64 << 32).div_ceil(3);
        let time = TimeBase::from_nanos_in(counter(factor));
        assert_eq!((time.shift, time.ns_per_unit), (0, factor << (RATIO_BITS - 32)));
        let s = Schedule::new(3e6, 1000, &time); // one token per 1000 ticks, 333 ns
        for ticks in [0, 999, 1000, 1001, 2_999_999, 9_000_000_000, 10_800_000_000_000] {
            // Tokens at 3·10^6/s in the counter's exact (unrounded) nanoseconds.
            let exact = (u128::from(ticks) * u128::from(factor) * 3 / (1000 << 32)) as u64;
            let ours = s.tokens_at(1000 + ticks, &time) - TOKEN_BIAS;
            assert!(ours == exact || (ours == exact + 1 && ticks > 0), "{ticks} ticks: {ours}, not {exact}");
        }
        assert_eq!(s.tokens_at(1000 + 9_000_000_000, &time) - TOKEN_BIAS, 9_000_000);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // reads the real clock
    fn the_real_clock_earns_the_rate_in_its_own_nanoseconds() {
        let clock = Clock::new();
        let time = TimeBase::of(&clock);
        let s = Schedule::new(1000.0, 0, &time);
        let ticks_in_a_second = (0..).find(|&ticks| clock.delta_as_nanos(0, ticks << 10) >= SEC).unwrap() << 10;
        assert!((999..=1001).contains(&(s.tokens_at(ticks_in_a_second, &time) - TOKEN_BIAS)));
    }

    #[test]
    fn a_slow_counter_counts_in_sub_ticks() {
        // A 24 MHz counter (41.67 ns per tick) at 10^9/s earns 41.67 tokens per tick.
        let factor = (125u64 << 32).div_ceil(3);
        let time = TimeBase::from_nanos_in(counter(factor));
        assert_eq!(time.shift, 6);
        let s = Schedule::new(MAX_RATE, 0, &time);
        assert_eq!(s.tokens_at(3, &time) - TOKEN_BIAS, 125);
        assert_eq!(s.tokens_at(24_000_000, &time) - TOKEN_BIAS, 1_000_000_000);
        assert_eq!(s.at(24_000_000, &time), s.at_slow(24_000_000, &time));
        assert_eq!(s.at(5, &time), s.at_slow(5, &time));
    }

    #[test]
    fn three_per_second_for_an_hour_earns_exactly_10800() {
        let s = line(3.0);
        assert_eq!(s.tokens_at(T0 + 3600 * SEC, &NS) - TOKEN_BIAS, 10_800);
        // The slope is rounded up by < 2^-63 token/ns: after an hour the 10,800th token is due
        // a few tens of nanoseconds early, not a microsecond.
        assert_eq!(s.tokens_at(T0 + 3600 * SEC - 1000, &NS) - TOKEN_BIAS, 10_799);
    }

    #[test]
    fn ten_million_per_second_earns_one_token_per_100ns() {
        let s = line(1e7);
        assert_eq!(s.tokens_at(T0 + 3600 * SEC, &NS) - TOKEN_BIAS, 36_000_000_000);
        assert_eq!(s.tokens_at(T0 + 99, &NS) - TOKEN_BIAS, 0);
        assert_eq!(s.tokens_at(T0 + 100, &NS) - TOKEN_BIAS, 1);
    }

    #[test]
    fn nanos_until_is_the_least_sufficient_wait() {
        for rate in [1.0, 3.0, 7.0, 1000.0, 3e6, 1e7, 0.001] {
            let s = line(rate).rebased(T0 + 12_345, rate, &NS);
            for t in [T0 + 12_345, T0 + 99_999_999] {
                let target = s.tokens_at(t, &NS) + 5;
                let d = s.nanos_until(target, t) as u64;
                assert!(s.tokens_at(t + d, &NS) >= target, "rate {rate}");
                assert!(s.tokens_at(t + d - 1, &NS) < target, "rate {rate}");
            }
        }
    }

    #[test]
    fn the_fast_and_the_general_forms_agree() {
        for rate in [MIN_RATE, 1.0, 3.0, 7.5, 1e7, MAX_RATE] {
            let s = line(rate).rebased(T0 + 777, rate, &NS);
            for t in [T0 + 777, T0 + 778, T0 + 3600 * SEC + 5, u64::MAX / 2, u64::MAX] {
                assert_eq!(s.at(t, &NS), s.at_slow(t, &NS), "rate {rate}, t {t}");
            }
        }
    }

    #[test]
    fn rebasing_keeps_the_position_exactly() {
        let s = line(3.0);
        let t = T0 + SEC / 2; // 1.5 tokens earned
        let r = s.rebased(t, 3.0, &NS);
        assert_eq!(r.tokens_at(T0 + 3600 * SEC, &NS) - TOKEN_BIAS, 10_800);
        let slower = s.rebased(t, 1.0, &NS); // 0.5 token to go at 1/s
        assert_eq!(slower.tokens_at(t, &NS) - TOKEN_BIAS, 1);
        assert_eq!(slower.nanos_until(TOKEN_BIAS + 2, t), u128::from(SEC / 2));
    }

    #[test]
    fn time_before_the_anchor_counts_backwards() {
        let s = line(1.0);
        // The slope is rounded up, so stepping back may count a hair more than a token.
        assert!((TOKEN_BIAS - 2..TOKEN_BIAS).contains(&s.tokens_at(T0 - SEC, &NS)));
        assert_eq!(s.tokens_at(T0 - 1, &NS), TOKEN_BIAS - 1);
        assert!(s.tokens_at(0, &NS) < TOKEN_BIAS - T0 / SEC);
    }
}
