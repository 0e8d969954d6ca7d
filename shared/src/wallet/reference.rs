//! Amounts in the reference currency: limits, velocity and the age rule are
//! a person's, so every recharge is counted in one currency, converted at a
//! configured rate and rounded up (against the user).

use std::fmt;

const MILLION: i128 = 1_000_000;

/// Reference minor units per minor unit of a currency, in millionths
/// (`0.95` is 950 000). Always positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceRate {
    per_million: i64,
}

/// Why a rate could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rate is a positive decimal with at most six fractional digits")]
pub struct BadRate;

impl ReferenceRate {
    /// The rate of the reference currency itself.
    pub const ONE: ReferenceRate = ReferenceRate {
        per_million: 1_000_000,
    };

    /// Reads a decimal such as `1`, `0.95` or `1.234567`.
    pub fn parse(text: &str) -> Result<Self, BadRate> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 9 || !digits(whole) {
            return Err(BadRate);
        }
        if fraction.len() > 6 || !digits(fraction) || (text.contains('.') && fraction.is_empty()) {
            return Err(BadRate);
        }
        let whole: i64 = whole.parse().map_err(|_| BadRate)?;
        let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| BadRate)?;
        let per_million = whole * 1_000_000 + fraction;
        if per_million == 0 {
            return Err(BadRate);
        }
        Ok(Self { per_million })
    }

    /// `amount` minor units in reference minor units, rounded up; `None`
    /// when the result does not fit.
    pub fn to_reference(self, amount: i64) -> Option<i64> {
        let scaled = i128::from(amount) * i128::from(self.per_million);
        let rounded = scaled.div_euclid(MILLION) + i128::from(scaled.rem_euclid(MILLION) != 0);
        i64::try_from(rounded).ok()
    }
}

impl fmt::Display for ReferenceRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.per_million / 1_000_000,
            self.per_million % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_decimals() {
        assert_eq!(ReferenceRate::parse("1").unwrap(), ReferenceRate::ONE);
        assert_eq!(ReferenceRate::parse("0.95").unwrap().per_million, 950_000);
        assert_eq!(
            ReferenceRate::parse("1.234567").unwrap().per_million,
            1_234_567
        );
        for bad in [
            "",
            "0",
            "0.0",
            "-1",
            "1.",
            ".5",
            "1.2345678",
            "1,5",
            "1e3",
            "abc",
        ] {
            assert_eq!(ReferenceRate::parse(bad), Err(BadRate), "{bad:?}");
        }
    }

    #[test]
    fn conversion_rounds_against_the_user() {
        let rate = ReferenceRate::parse("0.95").unwrap();
        assert_eq!(rate.to_reference(100), Some(95));
        assert_eq!(rate.to_reference(105), Some(100), "99.75 rounds up");
        assert_eq!(rate.to_reference(106), Some(101), "100.7 rounds up");
        assert_eq!(ReferenceRate::ONE.to_reference(2_500), Some(2_500));
        let tiny = ReferenceRate::parse("0.000001").unwrap();
        assert_eq!(
            tiny.to_reference(1),
            Some(1),
            "never rounds a payment to nothing"
        );
    }

    #[test]
    fn amounts_that_do_not_fit_are_refused_instead_of_wrapping_or_clamping() {
        let rate = ReferenceRate::parse("999999999").unwrap();
        assert_eq!(rate.to_reference(i64::MAX), None);
        assert_eq!(ReferenceRate::ONE.to_reference(i64::MAX), Some(i64::MAX));
    }
}
