//! The arithmetic of the token schedule: clock time ↔ tokens, in exact fixed point.
//!
//! A [`Schedule`] is one straight line "tokens earned by time `t`" with slope `per_ns` (tokens
//! per nanosecond as a 1.63 fixed-point fraction, rounded *up*), anchored at `(t0, tokens0 +
//! frac0)`. `tokens_at(t)` is its floor. Because the line is anchored once and evaluated from
//! the anchor (never advanced step by step), rounding cannot accumulate: after any time `d`
//! since the anchor the error is below `d / 2^63` tokens, i.e. under one token in 292 years,
//! and it only ever makes a token due up to that much *earlier*, never later (slope rounded up).
//!
//! Changing the rate re-anchors the line at the change time with the exact position there
//! (whole tokens in `tokens0`, the fraction in `frac0`), so a change neither loses nor
//! invents partial progress.
//!
//! Time `t` is nanoseconds since the bucket's clock origin, offset by [`TIME_BIAS`] so that a
//! clock that steps back before the origin is still an ordinary `u64`; token counts are offset
//! by [`TOKEN_BIAS`] for the same reason.

/// Fraction bits of the fixed-point numbers.
pub(crate) const SHIFT: u32 = 63;
/// One token in fixed point.
const ONE: i128 = 1 << SHIFT;
/// `t` of the clock origin: time may step back 146 years before the origin and stay positive.
pub(crate) const TIME_BIAS: u64 = 1 << 62;
/// Tokens earned by the origin: keeps every token position positive under the same steps back.
pub(crate) const TOKEN_BIAS: u64 = 1 << 62;
/// Time differences are clamped to this many nanoseconds (146 years), so no product overflows.
const MAX_SPAN: i128 = 1 << 62;

/// Lowest accepted rate, tokens per second (one token per 11.6 days).
pub const MIN_RATE: f64 = 1e-6;
/// Highest accepted rate, tokens per second: one token per nanosecond, the clock's resolution.
pub const MAX_RATE: f64 = 1e9;

/// One straight piece of the "tokens earned" line. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Anchor time (biased nanoseconds).
    pub(crate) t0: u64,
    /// Whole tokens earned at `t0` (biased).
    pub(crate) tokens0: u64,
    /// Fraction of a token earned at `t0`, in `[0, 2^63)`.
    pub(crate) frac0: u64,
    /// Tokens per nanosecond, 1.63 fixed point, rounded up; at least 1.
    pub(crate) per_ns: u64,
    /// The `f64` rate (tokens per second) this line was built from, as bits.
    pub(crate) rate_bits: u64,
}

impl Schedule {
    /// A line of `rate` tokens per second starting at the origin.
    pub(crate) fn new(rate: f64) -> Self {
        Self { t0: TIME_BIAS, tokens0: TOKEN_BIAS, frac0: 0, per_ns: per_ns_fixed(rate), rate_bits: rate.to_bits() }
    }

    /// Fixed-point tokens earned between the anchor and `t` (negative before the anchor),
    /// plus the anchor's fraction.
    #[inline]
    fn since_anchor(&self, t: u64) -> i128 {
        let span = (i128::from(t) - i128::from(self.t0)).clamp(-MAX_SPAN, MAX_SPAN);
        // |span| ≤ 2^62 and per_ns < 2^64: the product stays below 2^126.
        i128::from(self.frac0) + span * i128::from(self.per_ns)
    }

    /// Whole tokens earned by `t` (biased).
    #[inline]
    pub(crate) fn tokens_at(&self, t: u64) -> u64 {
        self.at(t).0
    }

    /// Whole tokens earned by `t` (biased) and the fraction of the next one (fixed point).
    #[inline]
    pub(crate) fn at(&self, t: u64) -> (u64, u64) {
        // The usual case, time at or after the anchor and within 146 years of it, in one
        // 64×64→128 multiplication; the general signed form otherwise.
        if let Some(span) = t.checked_sub(self.t0).filter(|span| *span <= MAX_SPAN as u64) {
            // span ≤ 2^62, per_ns < 2^64, frac0 < 2^63: no overflow; the whole part is < 2^63.
            let position = u128::from(span) * u128::from(self.per_ns) + u128::from(self.frac0);
            let whole = self.tokens0.saturating_add((position >> SHIFT) as u64);
            return (whole, (position as u64) & (ONE as u64 - 1));
        }
        self.at_slow(t)
    }

    #[cold]
    fn at_slow(&self, t: u64) -> (u64, u64) {
        let position = self.since_anchor(t);
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
    /// `tokens_at(t + d) >= target` (0 when it already has).
    #[cfg(test)]
    fn nanos_until(&self, target: u64, t: u64) -> u128 {
        wait_nanos(Self::shortfall(self.at(t), target), self.per_ns)
    }

    /// The same position at `t`, continuing at `rate` from there.
    pub(crate) fn rebased(&self, t: u64, rate: f64) -> Self {
        let (whole, frac) = self.at(t);
        Self { t0: t, tokens0: whole, frac0: frac, per_ns: per_ns_fixed(rate), rate_bits: rate.to_bits() }
    }

    /// Whole tokens earned in one millisecond, plus one: how far a clock may lag (cores whose
    /// counters differ, a sleeper woken a hair early) before the bucket treats it as a step back.
    pub(crate) fn slack(&self) -> u64 {
        ((u128::from(self.per_ns) * 1_000_000) >> SHIFT) as u64 + 1
    }
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

    #[test]
    fn per_ns_is_exact_and_rounded_up() {
        assert_eq!(per_ns_fixed(1e9), 1 << 63);
        assert_eq!(per_ns_fixed(1.0), ((1u128 << 63).div_ceil(1_000_000_000)) as u64);
        assert_eq!(per_ns_fixed(3.0), ((3u128 << 63).div_ceil(1_000_000_000)) as u64);
        assert_eq!(per_ns_fixed(0.5), ((1u128 << 62).div_ceil(1_000_000_000)) as u64);
        assert!(per_ns_fixed(MIN_RATE) >= 9223);
    }

    #[test]
    fn three_per_second_for_an_hour_earns_exactly_10800() {
        let s = Schedule::new(3.0);
        assert_eq!(s.tokens_at(TIME_BIAS + 3600 * SEC) - TOKEN_BIAS, 10_800);
        // The slope is rounded up by < 2^-63 token/ns: after an hour the 10,800th token is due
        // a few tens of nanoseconds early, not a microsecond.
        assert_eq!(s.tokens_at(TIME_BIAS + 3600 * SEC - 1000) - TOKEN_BIAS, 10_799);
    }

    #[test]
    fn ten_million_per_second_earns_one_token_per_100ns() {
        let s = Schedule::new(1e7);
        assert_eq!(s.tokens_at(TIME_BIAS + 3600 * SEC) - TOKEN_BIAS, 36_000_000_000);
        assert_eq!(s.tokens_at(TIME_BIAS + 99) - TOKEN_BIAS, 0);
        assert_eq!(s.tokens_at(TIME_BIAS + 100) - TOKEN_BIAS, 1);
    }

    #[test]
    fn nanos_until_is_the_least_sufficient_wait() {
        for rate in [1.0, 3.0, 7.0, 1000.0, 3e6, 1e7, 0.001] {
            let s = Schedule::new(rate).rebased(TIME_BIAS + 12_345, rate);
            for t in [TIME_BIAS + 12_345, TIME_BIAS + 99_999_999] {
                let target = s.tokens_at(t) + 5;
                let d = s.nanos_until(target, t) as u64;
                assert!(s.tokens_at(t + d) >= target, "rate {rate}");
                assert!(s.tokens_at(t + d - 1) < target, "rate {rate}");
            }
        }
    }

    #[test]
    fn the_fast_and_the_general_forms_agree() {
        for rate in [MIN_RATE, 1.0, 3.0, 7.5, 1e7, MAX_RATE] {
            let s = Schedule::new(rate).rebased(TIME_BIAS + 777, rate);
            for t in [TIME_BIAS + 777, TIME_BIAS + 778, TIME_BIAS + 3600 * SEC + 5, u64::MAX / 2, u64::MAX] {
                assert_eq!(s.at(t), s.at_slow(t), "rate {rate}, t {t}");
            }
        }
    }

    #[test]
    fn rebasing_keeps_the_position_exactly() {
        let s = Schedule::new(3.0);
        let t = TIME_BIAS + SEC / 2; // 1.5 tokens earned
        let r = s.rebased(t, 3.0);
        assert_eq!(r.tokens_at(TIME_BIAS + 3600 * SEC) - TOKEN_BIAS, 10_800);
        let slower = s.rebased(t, 1.0); // 0.5 token to go at 1/s
        assert_eq!(slower.tokens_at(t) - TOKEN_BIAS, 1);
        assert_eq!(slower.nanos_until(TOKEN_BIAS + 2, t), u128::from(SEC / 2));
    }

    #[test]
    fn time_before_the_anchor_counts_backwards() {
        let s = Schedule::new(1.0);
        // The slope is rounded up, so stepping back may count a hair more than a token.
        assert!((TOKEN_BIAS - 2..TOKEN_BIAS).contains(&s.tokens_at(TIME_BIAS - SEC)));
        assert_eq!(s.tokens_at(TIME_BIAS - 1), TOKEN_BIAS - 1);
        assert!(s.tokens_at(0) < TOKEN_BIAS - TIME_BIAS / SEC);
    }
}
