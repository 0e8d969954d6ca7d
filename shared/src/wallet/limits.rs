//! Responsible-spending limits: lowering takes effect at once, raising only
//! after a cooling-off period.

use serde::{Deserialize, Serialize};

/// Cooling-off before a raised limit applies.
pub const COOLING_OFF_SECONDS: i64 = 24 * 3600;

/// Most a user may recharge per window, in minor units of the currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendingLimits {
    pub daily: i64,
    pub weekly: i64,
    pub monthly: i64,
}

impl SpendingLimits {
    /// The limit of each window, in `Window::ALL` order.
    pub fn as_array(&self) -> [i64; 3] {
        [self.daily, self.weekly, self.monthly]
    }

    fn min(&self, other: &Self) -> Self {
        Self {
            daily: self.daily.min(other.daily),
            weekly: self.weekly.min(other.weekly),
            monthly: self.monthly.min(other.monthly),
        }
    }
}

/// A user's limits and any raise still cooling off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsState {
    pub current: SpendingLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingLimits>,
}

/// Limits that apply from `effective_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLimits {
    pub limits: SpendingLimits,
    pub effective_at: i64,
}

impl LimitsState {
    pub fn new(limits: SpendingLimits) -> Self {
        Self {
            current: limits,
            pending: None,
        }
    }

    /// The limits in force at `now`.
    pub fn effective(&self, now: i64) -> SpendingLimits {
        match self.pending {
            Some(p) if now >= p.effective_at => p.limits,
            _ => self.current,
        }
    }

    /// The state after the user asks for `wanted` at `now`: every lowered
    /// window applies at once; raised windows wait out the cooling-off.
    pub fn request(&self, wanted: SpendingLimits, now: i64) -> Self {
        let in_force = self.effective(now);
        let immediate = in_force.min(&wanted);
        let pending = (wanted != immediate).then_some(PendingLimits {
            limits: wanted,
            effective_at: now + COOLING_OFF_SECONDS,
        });
        Self {
            current: immediate,
            pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: SpendingLimits = SpendingLimits {
        daily: 100,
        weekly: 500,
        monthly: 1000,
    };

    #[test]
    fn lowering_applies_at_once() {
        let lower = SpendingLimits { daily: 50, ..L };
        let state = LimitsState::new(L).request(lower, 1_000);
        assert_eq!(state.effective(1_000), lower);
        assert_eq!(state.pending, None);
    }

    #[test]
    fn raising_waits_24_hours_to_the_second() {
        let higher = SpendingLimits { daily: 200, ..L };
        let state = LimitsState::new(L).request(higher, 1_000);
        assert_eq!(state.effective(1_000), L);
        assert_eq!(state.effective(1_000 + COOLING_OFF_SECONDS - 1), L);
        assert_eq!(state.effective(1_000 + COOLING_OFF_SECONDS), higher);
    }

    #[test]
    fn a_mixed_request_lowers_now_and_raises_later() {
        let mixed = SpendingLimits {
            daily: 50,
            weekly: 900,
            monthly: 1000,
        };
        let state = LimitsState::new(L).request(mixed, 0);
        assert_eq!(
            state.effective(0),
            SpendingLimits {
                daily: 50,
                weekly: 500,
                monthly: 1000
            }
        );
        assert_eq!(state.effective(COOLING_OFF_SECONDS), mixed);
    }

    #[test]
    fn a_pending_raise_can_be_withdrawn_at_once() {
        let raised = LimitsState::new(L).request(SpendingLimits { daily: 300, ..L }, 0);
        let withdrawn = raised.request(L, 10);
        assert_eq!(withdrawn.effective(COOLING_OFF_SECONDS * 2), L);
    }
}
