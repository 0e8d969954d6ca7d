//! Progressive lockout policy: after `max_failures` failures the account
//! locks for `base`, doubling per further lock up to `max`.
//!
//! A device that has signed in to the account before keeps its own counter,
//! so strangers failing on purpose cannot lock the owner out of the devices
//! they already use (the owner's recovery path); failures on a known device
//! lock that device alone.

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

/// The counter key for `email` on a device the account already knows
/// (`device_hash` as stored in the account).
pub fn known_device_lockout_key(email: &str, device_hash: &str) -> String {
    format!(
        "LOCK#{}",
        digest("lockout-device", &format!("{email}\n{device_hash}"))
    )
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

    #[test]
    fn known_devices_count_apart_from_the_account_and_from_each_other() {
        let account = lockout_key("ana@example.com");
        let phone = known_device_lockout_key("ana@example.com", "hash-phone");
        let laptop = known_device_lockout_key("ana@example.com", "hash-laptop");
        let other = known_device_lockout_key("bo@example.com", "hash-phone");
        assert_ne!(account, phone);
        assert_ne!(phone, laptop);
        assert_ne!(phone, other);
        assert!(phone.starts_with("LOCK#"));
    }
}
