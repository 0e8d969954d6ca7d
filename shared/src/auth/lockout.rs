//! Progressive lockout policy: after `max_failures` failures the account
//! locks for `base`, doubling per further lock up to `max`.
//!
//! Every attempt the store lets through counts one failure, and a success
//! clears its key (failures, level and lock) in the sign-in's own write, so
//! only failures stay counted. The decisions are pure functions of the
//! key's stored state, the policy and the time: whether an attempt is
//! refused as locked ([`refused_as_locked`], which the store applies
//! atomically with the count), what a failed check locks
//! ([`after_failure`]) and how long a refused caller waits ([`retry_after`]).
//!
//! A device that has signed in to the account before keeps its own counter,
//! so strangers failing on purpose cannot lock the owner out of the devices
//! they already use (the owner's recovery path); failures on a known device
//! lock that device alone.

use crate::auth::model::{AccountAttempt, LockoutState};
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

    /// The counter under `key` for an attempt at `now`: counted up to
    /// `max_failures`, remembered for `memory_seconds` after the attempt.
    pub fn attempt(&self, key: String, now: i64) -> AccountAttempt {
        AccountAttempt {
            key,
            max_failures: self.max_failures,
            expires_at: now + self.memory_seconds,
        }
    }
}

/// An attempt refused because its key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// When the lock in force ends; `None` when the failures are spent but
    /// no lock is set yet (the failure that reached the limit sets it).
    pub until: Option<i64>,
}

/// Whether an attempt at `now` on a key in `state` is refused: while a lock
/// is in force (it ends at `locked_until`, exclusive), or once the failures
/// reach `max_failures`.
pub fn refused_as_locked(state: &LockoutState, max_failures: u32, now: i64) -> Option<Locked> {
    let until = state.locked_until.filter(|until| *until > now);
    (until.is_some() || state.failures >= max_failures).then_some(Locked { until })
}

/// What a failed check does, decided on the key's state read after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureVerdict {
    /// Under the limit: nothing to lock; the lock in force, if any, stands.
    Counted { locked_until: Option<i64> },
    /// The limit is reached: lock the key.
    Lock(Lock),
}

/// A lock to set while the key still holds its failures at `level`: the
/// failures restart at zero, the level rises by one, the key stays locked
/// until `until` and is remembered until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub level: u32,
    pub until: i64,
    pub expires_at: i64,
}

/// What a failed check at `now` does to a key in `state`: once the failures
/// reach the limit, a lock as long as its level allows, kept in memory for
/// `memory_seconds` after it ends.
pub fn after_failure(state: &LockoutState, policy: &LockoutPolicy, now: i64) -> FailureVerdict {
    if state.failures < policy.max_failures {
        return FailureVerdict::Counted {
            locked_until: state.locked_until,
        };
    }
    let until = now + policy.lock_seconds(state.level);
    FailureVerdict::Lock(Lock {
        level: state.level,
        until,
        expires_at: until + policy.memory_seconds,
    })
}

/// Seconds a caller refused as locked is told to wait: until the lock ends
/// (at least one), or the first lock's length when no lock is known.
pub fn retry_after(locked_until: Option<i64>, policy: &LockoutPolicy, now: i64) -> u64 {
    locked_until
        .map_or(policy.base_lock_seconds, |until| until - now)
        .max(1) as u64
}

/// The lockout counter of an email, known account or not (so lockout
/// cannot reveal which accounts exist); the store gives it its key.
pub fn lockout_key(email: &str) -> String {
    digest("lockout", email)
}

/// The lockout counter of `email` on a device the account already knows
/// (`device_hash` as stored in the account).
pub fn known_device_lockout_key(email: &str, device_hash: &str) -> String {
    digest("lockout-device", &format!("{email}\n{device_hash}"))
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

    const NOW: i64 = 1_000_000;

    fn state(failures: u32, level: u32, locked_until: Option<i64>) -> LockoutState {
        LockoutState {
            failures,
            level,
            locked_until,
        }
    }

    #[test]
    fn attempts_are_refused_from_the_fifth_failure_on() {
        let refused = |failures| refused_as_locked(&state(failures, 0, None), 5, NOW);
        assert_eq!(refused(0), None);
        assert_eq!(refused(4), None);
        assert_eq!(refused(5), Some(Locked { until: None }));
        assert_eq!(refused(9), Some(Locked { until: None }));
    }

    #[test]
    fn a_lock_refuses_until_its_last_second() {
        let locked = state(0, 1, Some(NOW + 60));
        assert_eq!(
            refused_as_locked(&locked, 5, NOW + 59),
            Some(Locked {
                until: Some(NOW + 60)
            })
        );
        assert_eq!(refused_as_locked(&locked, 5, NOW + 60), None, "ended");
        let spent_after_an_old_lock = state(5, 1, Some(NOW - 1));
        assert_eq!(
            refused_as_locked(&spent_after_an_old_lock, 5, NOW),
            Some(Locked { until: None }),
            "an ended lock is not the one in force"
        );
    }

    #[test]
    fn failures_under_the_limit_lock_nothing() {
        let policy = LockoutPolicy::default();
        assert_eq!(
            after_failure(&state(4, 2, Some(NOW - 10)), &policy, NOW),
            FailureVerdict::Counted {
                locked_until: Some(NOW - 10)
            }
        );
        assert_eq!(
            after_failure(&LockoutState::default(), &policy, NOW),
            FailureVerdict::Counted { locked_until: None }
        );
    }

    #[test]
    fn the_failure_reaching_the_limit_locks_at_its_level() {
        let policy = LockoutPolicy::default();
        let lock =
            |failures, level| match after_failure(&state(failures, level, None), &policy, NOW) {
                FailureVerdict::Lock(lock) => lock,
                other => panic!("no lock: {other:?}"),
            };
        assert_eq!(
            lock(5, 0),
            Lock {
                level: 0,
                until: NOW + 60,
                expires_at: NOW + 60 + 24 * 3600
            }
        );
        assert_eq!(lock(5, 1).until, NOW + 120);
        assert_eq!(lock(7, 3).until, NOW + 480);
        assert_eq!(lock(5, 6).until, NOW + 3600, "capped at an hour");
        assert_eq!(lock(5, 40).level, 40, "the store raises the level it finds");
    }

    #[test]
    fn a_second_lock_follows_the_first_once_it_ends() {
        let policy = LockoutPolicy::default();
        let FailureVerdict::Lock(first) = after_failure(&state(5, 0, None), &policy, NOW) else {
            panic!("the fifth failure locks");
        };
        let after_first = state(0, first.level + 1, Some(first.until));
        assert!(refused_as_locked(&after_first, 5, first.until - 1).is_some());
        assert_eq!(refused_as_locked(&after_first, 5, first.until), None);
        let spent = LockoutState {
            failures: 5,
            ..after_first
        };
        assert_eq!(
            after_failure(&spent, &policy, first.until + 10),
            FailureVerdict::Lock(Lock {
                level: 1,
                until: first.until + 10 + 120,
                expires_at: first.until + 10 + 120 + 24 * 3600
            })
        );
    }

    #[test]
    fn a_refused_caller_waits_until_the_lock_ends_and_at_least_a_second() {
        let policy = LockoutPolicy::default();
        assert_eq!(retry_after(Some(NOW + 90), &policy, NOW), 90);
        assert_eq!(retry_after(Some(NOW), &policy, NOW), 1);
        assert_eq!(retry_after(Some(NOW - 30), &policy, NOW), 1);
        assert_eq!(
            retry_after(None, &policy, NOW),
            60,
            "the first lock's length"
        );
    }

    #[test]
    fn a_counter_is_remembered_for_a_day_after_the_attempt() {
        let attempt = LockoutPolicy::default().attempt("k".into(), NOW);
        assert_eq!(
            attempt,
            AccountAttempt {
                key: "k".into(),
                max_failures: 5,
                expires_at: NOW + 24 * 3600
            }
        );
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
        assert!(
            !phone.contains(&"ana@example.com"[..3]),
            "no address in a key"
        );
    }
}
