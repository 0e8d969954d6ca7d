//! Progressive lockout policy: after `max_failures` failures the account
//! locks for `base`, doubling per further lock up to `max`.

use crate::auth::secrets::digest;

/// The numbers of the lockout rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub base_lock_seconds: i64,
    pub max_lock_seconds: i64,
    /// How long a quiet account keeps its failure count and lock level.
    pub memory_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_lock_seconds: 60,
            max_lock_seconds: 3600,
            memory_seconds: 24 * 3600,
        }
    }
}

impl LockoutPolicy {
    /// How long the lock at `level` (0 for the first) lasts.
    pub fn lock_seconds(&self, level: u32) -> i64 {
        let doubled = self.base_lock_seconds.saturating_mul(1i64 << level.min(30));
        doubled.min(self.max_lock_seconds)
    }
}

/// The counter key for an email, known account or not (so lockout cannot
/// reveal which accounts exist).
pub fn lockout_key(email: &str) -> String {
    format!("LOCK#{}", digest("lockout", email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_from_one_minute_to_one_hour() {
        let policy = LockoutPolicy::default();
        let seconds: Vec<i64> = (0..9).map(|l| policy.lock_seconds(l)).collect();
        assert_eq!(
            seconds,
            vec![60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
        assert_eq!(policy.lock_seconds(u32::MAX), 3600);
    }
}
