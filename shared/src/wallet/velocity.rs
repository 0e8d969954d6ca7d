//! Velocity windows and the counters kept per user, device and payment
//! fingerprint: count and amount per day, week and month (fixed windows).
//! Amounts are in the reference currency: a counter is a person's (or a
//! device's, or a card's), whatever currency each recharge was paid in.

use serde::{Deserialize, Serialize};

/// A counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    Day,
    Week,
    Month,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    pub fn seconds(self) -> i64 {
        match self {
            Window::Day => 86_400,
            Window::Week => 7 * 86_400,
            Window::Month => 30 * 86_400,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Window::Day => "D",
            Window::Week => "W",
            Window::Month => "M",
        }
    }
}

/// Whose recharges a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Device,
    Fingerprint,
}

impl Scope {
    fn tag(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Device => "device",
            Scope::Fingerprint => "card",
        }
    }
}

/// One counter: its name (the store gives it its key) and when it may be
/// forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterKey {
    pub key: String,
    pub window: Window,
    pub expires_at: i64,
}

/// How every counter name of `scope` begins.
pub fn scope_prefix(scope: Scope) -> String {
    format!("{}#", scope.tag())
}

/// The counter of `scope`/`id` for `window` at `now`.
pub fn counter_key(scope: Scope, id: &str, window: Window, now: i64) -> CounterKey {
    let length = window.seconds();
    let index = now.div_euclid(length);
    CounterKey {
        key: format!("{}{id}#{}#{index}", scope_prefix(scope), window.tag()),
        window,
        expires_at: (index + 2) * length,
    }
}

/// The three window counters of one scope.
pub fn counter_keys(scope: Scope, id: &str, now: i64) -> [CounterKey; 3] {
    Window::ALL.map(|w| counter_key(scope, id, w, now))
}

/// Count and amount (reference minor units) already recorded in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub count: u32,
    pub amount: i64,
}

/// Tallies per window (`Window::ALL` order) for each scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Velocity {
    pub user: [Tally; 3],
    pub device: [Tally; 3],
    pub fingerprint: [Tally; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_at_window_boundaries_and_expire_after_the_next() {
        let day = 86_400;
        let a = counter_key(Scope::User, "u1", Window::Day, 5 * day + day - 1);
        let b = counter_key(Scope::User, "u1", Window::Day, 6 * day);
        assert_ne!(a.key, b.key);
        assert_eq!(a.expires_at, 7 * day);
        let user = counter_key(Scope::User, "u1", Window::Day, 0);
        let dev = counter_key(Scope::Device, "u1", Window::Day, 0);
        assert_ne!(user.key, dev.key, "scopes count apart");
        let week = counter_key(Scope::User, "u1", Window::Week, 0);
        assert_ne!(user.key, week.key, "windows count apart");
    }
}
